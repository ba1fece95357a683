#!/usr/bin/env bash
# Download, where pip works, the wheels the GPU machine lacks: for every Keras release of the `gpu` cells
# one folder wheels/keras-<version>/ with keras, namex and optree for CPython 3.12 on manylinux x86-64.
# The GPU machine (no network) gets them with the device tool's `carry: ["wheels"]`.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-wheels}
versions=$(python3 -m harness cells --json | python3 -c '
import json, sys
cells = json.load(sys.stdin)["cells"]
print(" ".join(sorted({p.split("==")[1] for c in cells if "gpu" in c["roles"] for p in c["pins"] if p.startswith("keras==")})))')
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64; do
  platforms+=(--platform "$p")
done
for v in $versions; do
  mkdir -p "$DEST/keras-$v"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d "$DEST/keras-$v" "keras==$v" "namex==0.1.0" "optree==0.20.0"
  echo "$DEST/keras-$v: $(ls "$DEST/keras-$v" | tr '\n' ' ')"
done
