#!/usr/bin/env bash
# The full fuzz runs of docs/reliability.md; the README's test command runs a slice of the
# same harnesses with seed 1: 300 image cases (tests/tests/end_to_end/fuzz_images.rs) and
# 60 checkpoint cases (fuzz_checkpoints.rs).
#
#   bash scripts/fuzz.sh      # per seed (1 and 2): 5,000 image cases, 400 checkpoint cases
#   CASES=20000 CHECKPOINTS=1000 SEEDS="1 2 3" bash scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for seed in ${SEEDS:-1 2}; do
  echo "## seed $seed"
  PATCHWORK_FUZZ_IMAGES=${CASES:-5000} PATCHWORK_FUZZ_CHECKPOINTS=${CHECKPOINTS:-400} PATCHWORK_FUZZ_SEED=$seed \
    cargo test --workspace --locked -q --test end_to_end -- fuzz_ --nocapture --test-threads 1 2>&1 |
    grep -E "cases|as a folder|claiming|test result|panicked"
done
