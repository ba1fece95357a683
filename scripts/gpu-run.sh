#!/usr/bin/env bash
# On a GPU machine without network (Python 3.12 with CUDA jax and torch preinstalled, no TensorFlow):
# the seed cases and the latency scenario for the `gpu` cells, in this interpreter, nothing installed.
# Keras comes from wheels/keras-<version>/ (scripts/fetch-gpu-wheels.sh). Results land in $OUT (or ./out)
# as one archive (results/<machine>/<cell>.jsonl and the seed step's logs) plus the log; unpack it and
# `python -m harness merge <unpacked>/results` into the repository's results/.
#
# Every step is `python -m harness matrix --wheels ...`: cells run in this interpreter, Keras unpacked.
#
#   scripts/gpu-run.sh            # every gpu cell (jax and torch)
#   scripts/gpu-run.sh jax        # only the jax cells
#   LIMIT=540 scripts/gpu-run.sh  # a device lent for minutes: no timing process starts that would end later
#
# 1. The seed cases (not timed) of every cell at once, one in-place run per cell.
# 2. The latency scenario over all cells together, one timing process at a time, rounds interleaved; with
#    LIMIT the rounds that do not fit are left out and those cells' rows say `complete: false`.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
WHEELS=${WHEELS:-wheels}
LIMIT=${LIMIT:-0}
SEED=${SEED:-1}  # 0: skip step 1 (the seed cases are current already)
mkdir -p "$OUT/seed-logs"
export PYTHONUNBUFFERED=1
# Several jax processes share the card in step 1; compiled programs are reused by later timing processes.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-/tmp/maskcompat-jax-cache}
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0
start=$(date +%s)
backend=""
if [ $# -gt 0 ] && [[ $1 != -* ]]; then backend=$1; shift; fi
log="$OUT/gpu-run.log"
{
  nvidia-smi -L || true
  cells=$(python3 -m harness cells --json | python3 -c '
import json, sys
print(" ".join(c["id"] for c in json.load(sys.stdin)["cells"]
               if "gpu" in c["roles"] and sys.argv[1] in ("", c["backend"])))' "$backend")
  if [ -z "$cells" ]; then echo "no gpu cell with backend '$backend'"; exit 2; fi
  echo "cells: $cells"
  echo "== seed cases, every cell at once ($(date -u +%H:%M:%S))"
  [ "$SEED" = 0 ] && cells_seed="" || cells_seed=$cells
  for c in $cells_seed; do
    timeout 300 python3 -m harness matrix --wheels "$WHEELS" --cell "$c" --case 'masking-lstm/*' --no-report \
      --device auto --jobs 1 --results "$OUT/results" --invoked-by "scripts/gpu-run.sh" "$@" \
      >"$OUT/seed-logs/$c.log" 2>&1 &
  done
  wait
  for c in $cells_seed; do echo "-- $c"; tail -n 4 "$OUT/seed-logs/$c.log"; done
  echo "== latency, one timing process at a time ($(date -u +%H:%M:%S), $(($(date +%s) - start)) s in)"
  limit=()
  if [ "$LIMIT" -gt 0 ]; then limit=(--time-limit "$((LIMIT - ($(date +%s) - start)))"); fi
  cell_args=()
  for c in $cells; do cell_args+=(--cell "$c"); done
  python3 -m harness matrix --wheels "$WHEELS" "${cell_args[@]}" --case 'latency/*' "${limit[@]}" --no-report \
    --device auto --results "$OUT/results" --invoked-by "scripts/gpu-run.sh" "$@"
  echo "== done in $(($(date +%s) - start)) s"
} 2>&1 | tee "$log"
[ "${PIPESTATUS[0]}" = 2 ] && exit 2  # no such cell: nothing to pack
tar -C "$OUT" -czf "$OUT/gpu-results.tgz" results seed-logs
rm -rf "$OUT/results" "$OUT/seed-logs"  # the archive carries them (the device tool returns at most 8 files)
