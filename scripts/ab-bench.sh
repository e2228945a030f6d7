#!/usr/bin/env bash
# Runs `patchwork bench` with two binaries alternately and prints each run's training
# throughput: the median and best of its timed runs, then the runs. On a noisy machine
# only figures taken side by side like this compare.
#
#   scripts/ab-bench.sh ROUNDS BINARY_A BINARY_B -- BENCH_ARGS...
#   scripts/ab-bench.sh 3 /tmp/patchwork-before target/debug/patchwork -- \
#       --model patchvae --size 32 --batch 128 --device cpu --runs 8 --steps 3 --warmup 2
set -euo pipefail
if [ $# -lt 4 ] || [ "$4" != "--" ]; then
  sed -n 2,8p "$0" >&2
  exit 2
fi
rounds=$1 a=$2 b=$3
shift 4
for _ in $(seq "$rounds"); do
  for bin in "$a" "$b"; do
    "$bin" bench "$@" --json 2>/dev/null | BIN="$bin" python3 -c '
import json, os, statistics, sys
runs = json.load(sys.stdin)["train_images_per_sec_runs"]
print(os.environ["BIN"], "median %.1f best %.1f" % (statistics.median(runs), max(runs)), [round(r, 1) for r in runs])
'
  done
done
