#!/usr/bin/env bash
# The full fuzz runs of docs/reliability.md; the README's test command runs a 300-case
# slice of the same harness (tests/tests/end_to_end/fuzz_images.rs) with seed 1.
#
#   bash scripts/fuzz.sh                       # 5,000 image cases with each of seeds 1 and 2
#   CASES=20000 SEEDS="1 2 3" bash scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for seed in ${SEEDS:-1 2}; do
  echo "## seed $seed"
  PATCHWORK_FUZZ_IMAGES=${CASES:-5000} PATCHWORK_FUZZ_SEED=$seed \
    cargo test --workspace --locked -q --test end_to_end -- fuzz_images --nocapture 2>&1 |
    grep -E "cases|as a folder|claiming|test result|panicked"
done
