#!/usr/bin/env bash
# The cycle-consistent VAE report's few-shot setting (its Fig. 4.14): the digits 7, 8 and 9
# held out of training with 0, 1 or 10 images of each let in, each run with the official
# code's schedule (100 epochs, Adam 1e-4, ×0.1 at epoch 80) on the embedded MNIST subset.
# Then for each run: `patchwork eval disentangle` (whose report has the held-out classes' own
# test accuracy) and `patchwork swap-grid` with the held-out classes' test digits giving
# s (columns) to seen digits' z (rows), into docs/few-shot-*.png. Prints the markdown table
# in docs/results.md.
#
#   bash scripts/cycle-vae-few-shot.sh                 # trains all three (~12 min each on one core)
#   REUSE=1 bash scripts/cycle-vae-few-shot.sh         # only probes and draws runs/cycle-vae-few-shot-*
#
# TRAIN_ONLY=1 trains without probing. THREADS sets the CPU threads of each run (RAYON_NUM_THREADS).
set -euo pipefail

PATCHWORK=${PATCHWORK:-"cargo run --release --locked --quiet --"}
DEVICE=${DEVICE:-cpu}
EPOCHS=${EPOCHS:-100}
SEED=${SEED:-1}
THREADS=${THREADS:-1}
HELD_OUT=${HELD_OUT:-7,8,9}
EXAMPLES=${EXAMPLES:-"0 1 10"}

echo "| images of each held-out class in training | command | z test (all) | s test (all) | z test (held-out) | s test (held-out) | s test (seen) |"
echo "|---|---|---|---|---|---|---|"
for n in $EXAMPLES; do
  run="runs/cycle-vae-few-shot-$n"
  cmd="patchwork train --model cycle-vae --data mnist --holdout-classes $HELD_OUT --holdout-examples $n --epochs $EPOCHS --seed $SEED --device $DEVICE --out $run"
  if [ "${REUSE:-0}" != 1 ]; then
    rm -rf "$run"
    # shellcheck disable=SC2086
    RAYON_NUM_THREADS=$THREADS $PATCHWORK ${cmd#patchwork } 2> "$run.log" || { cat "$run.log" >&2; exit 1; }
  fi
  # TRAIN_ONLY=1 trains and leaves the probing for a later REUSE=1.
  [ "${TRAIN_ONLY:-0}" = 1 ] && continue
  json=$($PATCHWORK eval disentangle --checkpoint "$run" --device cpu --seed "$SEED" --json)
  row=$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
h = r["held_out"]
print("%.2f | %.2f | %.2f | %.2f | %.2f" % (r["unspecified"]["test"], r["specified"]["test"], h["unspecified_test"], h["specified_test"], h["specified_test_seen"]))' "$json")
  echo "| $n | \`$cmd\` | $row |"
  $PATCHWORK swap-grid --checkpoint "$run" --columns-from "$HELD_OUT" --per-class 2 --rows 6 --seed "$SEED" --out "docs/few-shot-$n.png" >&2
done
