#!/usr/bin/env bash
# On a GPU machine without network (Python 3.12 with CUDA jax and torch preinstalled, no TensorFlow): the latency
# sweep (scenarios/latency-sweep.toml) for the newest Keras 3's gpu cells, jax and torch, in this interpreter,
# nothing installed, as one prepared run that fits a device lent for 15 minutes. Keras comes from
# wheels/keras-<version>/ (scripts/fetch-gpu-wheels.sh). Results land in $OUT (or ./out) as one archive
# (results/<machine>/<cell>.jsonl) plus the log; unpack it and `python -m harness merge <unpacked>/results`
# into the repository's results/. Rows carry the device (`gpu:...`), so the report keeps them apart from CPU rows.
#
#   scripts/gpu-sweep.sh             # both cells, rounds interleaved, no process starting after LIMIT seconds
#   LIMIT=600 scripts/gpu-sweep.sh   # another budget (default 720 s: 15 minutes less the machine's start)
#   PLAN=1 scripts/gpu-sweep.sh      # print the cells, the cases and the limit it would run with; measure nothing
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
WHEELS=${WHEELS:-wheels}
LIMIT=${LIMIT:-720}
PLAN=${PLAN:-0}
CELLS=(gpu-jax0.11.2-keras3.15.1 gpu-torch2.11.0-keras3.15.1)
export PYTHONUNBUFFERED=1
export XLA_PYTHON_CLIENT_PREALLOCATE=false
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-/tmp/maskcompat-jax-cache}
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0
cell_args=()
for c in "${CELLS[@]}"; do cell_args+=(--cell "$c"); done
args=(matrix "${cell_args[@]}" --part sweep --time-limit "$LIMIT" --no-report --device auto
      --results "$OUT/results" --invoked-by "scripts/gpu-sweep.sh")
if [ "$PLAN" = 1 ]; then
  echo "limit: $LIMIT s"
  echo "command: python3 -m harness ${args[*]} --wheels $WHEELS"
  exec python3 -m harness "${args[@]}" --plan
fi
mkdir -p "$OUT"
start=$(date +%s)
{
  nvidia-smi -L || true
  echo "== latency sweep: ${CELLS[*]} ($(date -u +%H:%M:%S))"
  python3 -m harness "${args[@]}" --wheels "$WHEELS" --fresh
  echo "== done in $(($(date +%s) - start)) s"
} 2>&1 | tee "$OUT/gpu-sweep.log"
tar -C "$OUT" -czf "$OUT/gpu-sweep-results.tgz" results
rm -rf "$OUT/results"
