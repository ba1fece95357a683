#!/usr/bin/env bash
# Whole-process wall time of `check` on one file, before (a checkout at BASE) and after (this checkout),
# alternating A B A B after one warm-up each. Usage: ab.sh BASE_CHECKOUT FILE [PAIRS]
set -euo pipefail
base=$1 file=$2 pairs=${3:-5}
here=$(cd "$(dirname "$0")/../.." && pwd)
py=$here/.nox/check/bin/python
run() {  # $1: checkout
  local s e
  s=$(date +%s.%N)
  (cd "$1" && MASKCOMPAT_ENVS=$here/.cache/envs PYTHONPATH=$1 "$py" -m harness check "$file" --out /tmp/ab.md \
    --json /tmp/ab.json >/dev/null 2>&1) || true
  e=$(date +%s.%N)
  echo "$e - $s" | bc
}
run "$here" >/dev/null; run "$base" >/dev/null
for _ in $(seq "$pairs"); do
  a=$(run "$here"); b=$(run "$base")
  echo "after $a before $b ratio $(echo "scale=4; $a / $b" | bc)"
done
