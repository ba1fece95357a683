#!/usr/bin/env bash
# On a GPU machine without network (Python 3.12 with CUDA jax and torch preinstalled, no TensorFlow):
# the seed cases and the latency scenario for every `gpu` cell, in this interpreter, nothing installed.
# Keras comes from wheels/keras-<version>/ (scripts/fetch-gpu-wheels.sh). Results land in $OUT (or ./out)
# as results/<machine>/<cell>.jsonl, plus one archive of them and the log.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi -L || true
python3 -m harness inplace --wheels "${WHEELS:-wheels}" --case 'masking-lstm/*' --case 'latency/*' \
  --results "$OUT/results" --invoked-by "scripts/gpu-run.sh" "$@" 2>&1 | tee "$OUT/gpu-run.log"
tar -C "$OUT" -czf "$OUT/gpu-results.tgz" results
