#!/usr/bin/env bash
# On a GPU machine without network (Python 3.12 with CUDA jax and torch preinstalled, no TensorFlow):
# the seed cases and the latency scenario for the `gpu` cells, in this interpreter, nothing installed.
# Keras comes from wheels/keras-<version>/ (scripts/fetch-gpu-wheels.sh). Results land in $OUT (or ./out)
# as one archive of results/<machine>/<cell>.jsonl plus the log; unpack it into the repository root.
#
#   scripts/gpu-run.sh          # every gpu cell (jax and torch)
#   scripts/gpu-run.sh jax      # only the jax cells (a device session too short for all: jax, then torch)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
tags=(--tag gpu)
if [ $# -gt 0 ]; then tags+=(--tag "$1"); shift; fi
nvidia-smi -L || true
python3 -m harness inplace --wheels "${WHEELS:-wheels}" "${tags[@]}" --case 'masking-lstm/*' --case 'latency/*' \
  --results "$OUT/results" --invoked-by "scripts/gpu-run.sh" "$@" 2>&1 | tee "$OUT/gpu-run.log"
tar -C "$OUT" -czf "$OUT/gpu-results.tgz" results
rm -rf "$OUT/results"  # the archive carries them (the device tool returns at most 8 files)
