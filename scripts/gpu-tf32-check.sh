#!/usr/bin/env bash
# Is a GPU mismatch a masking fault or TF32 arithmetic? Reruns one cell's seed cases and its floor check with
# NVIDIA_TF32_OVERRIDE=0 (cuBLAS and cuDNN keep float32) into $OUT/tf32-off, for comparison with a default run.
#
#   scripts/gpu-tf32-check.sh [CELL]    # default: gpu-torch2.11.0-keras3.15.1
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
CELL=${1:-gpu-torch2.11.0-keras3.15.1}
mkdir -p "$OUT/tf32-off"
export PYTHONUNBUFFERED=1 NVIDIA_TF32_OVERRIDE=0
python3 -m harness matrix --wheels "${WHEELS:-wheels}" --cell "$CELL" --case 'masking-lstm/*' --no-report \
  --case 'latency/lstm:floor:direct' --case 'latency/lstm:unmasked:predict_on_batch' --device auto \
  --results "$OUT/tf32-off/results" --invoked-by "NVIDIA_TF32_OVERRIDE=0 scripts/gpu-tf32-check.sh $CELL" 2>&1 \
  | tee "$OUT/tf32-off/log"
tar -C "$OUT/tf32-off" -czf "$OUT/tf32-off.tgz" results log && rm -rf "$OUT/tf32-off"
