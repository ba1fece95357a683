#!/usr/bin/env bash
# Time the compatibility part of `nox -s matrix -- --fresh` in a checkout:  compat.sh CHECKOUT RESULTS LOG
#
# Before the restructuring (8b0606c) `nox -s matrix` ran one `matrix(<cell>)` session per cell and then the
# notified `bench` session: the clock stops when `bench` starts. After it, `--part compat` runs the cases
# alone. Both write their rows into RESULTS (emptied first), never into the checkout's results/.
set -u
checkout=$1 results=$2 log=$3
cd "$checkout" || exit 2
rm -rf "$results"
export MASKCOMPAT_RESULTS=$results
start=$(date +%s.%N)
if grep -q "session.notify(\"bench\"" noxfile.py; then
  nox -s matrix -- --fresh >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null && ! grep -q "Running session bench" "$log"; do sleep 0.5; done
  end=$(date +%s.%N)
  pkill -P "$pid"; kill "$pid" 2>/dev/null; sleep 1; pkill -f "harness bench"
else
  nox -s matrix -- --fresh --part compat --no-report >"$log" 2>&1
  end=$(date +%s.%N)
fi
echo "compat wall: $(echo "$end - $start" | bc) s" | tee -a "$log"
