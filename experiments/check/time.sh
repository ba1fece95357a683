cd /work/main
for i in 1 2 3; do for f in seq-tensor.keras multi-mask.keras; do
  s=$(date +%s.%N); .nox/tests/bin/python -m harness check /tmp/ck/$f --out /tmp/ck/t.md >/dev/null 2>&1; e=$(date +%s.%N); echo "default $f $(echo "$e - $s" | bc)"; done; done
for i in 1 2; do s=$(date +%s.%N); .nox/tests/bin/python -m harness check /tmp/ck/seq-tensor.keras --all --out /tmp/ck/t.md --json /tmp/ck/all.json > /tmp/ck/all.log 2>&1; e=$(date +%s.%N); echo "all seq-tensor.keras $(echo "$e - $s" | bc)"; done
