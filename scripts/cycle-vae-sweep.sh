#!/usr/bin/env bash
# The cycle-consistent VAE report's Table 4.1 (MNIST rows): z = s ∈ {16, 32, 64, 128, 256,
# 512}, each trained with the official code's schedule (100 epochs, Adam 1e-4, ×0.1 at epoch
# 80, batch 64, its coefficients) on the embedded MNIST subset, then probed with
# `patchwork eval disentangle`. Prints the markdown table in docs/results.md.
#
#   bash scripts/cycle-vae-sweep.sh                    # trains all six (~15 min each on one core)
#   DIMS="16 32" bash scripts/cycle-vae-sweep.sh       # some of them (run two lists side by side on two cores)
#   REUSE=1 bash scripts/cycle-vae-sweep.sh            # only probes runs/cycle-vae-mnist-d*
#   DATA=idx:data/mnist EPOCHS=100 DEVICE=gpu bash scripts/cycle-vae-sweep.sh   # the full MNIST
#
# TRAIN_ONLY=1 trains without probing. THREADS sets the CPU threads of each run (RAYON_NUM_THREADS).
set -euo pipefail

PATCHWORK=${PATCHWORK:-"cargo run --release --locked --quiet --"}
DEVICE=${DEVICE:-cpu}
DATA=${DATA:-mnist}
EPOCHS=${EPOCHS:-100}
SEED=${SEED:-1}
THREADS=${THREADS:-1}
DIMS=${DIMS:-"16 32 64 128 256 512"}

# The report's Table 4.1 (MNIST, 100,000 iterations): z test and s test, beside ours.
declare -A REPORT=([16]="18.06 / 98.29" [32]="16.96 / 98.62" [64]="17.36 / 98.58" [128]="18.89 / 98.52" [256]="18.75 / 98.39" [512]="20.22 / 98.27")

echo "| z = s | command | z train | z test | s train | s test | report: z test / s test | training time |"
echo "|---|---|---|---|---|---|---|---|"
for d in $DIMS; do
  run="runs/cycle-vae-mnist-d$d"
  cmd="patchwork train --model cycle-vae --data $DATA --z-dim $d --s-dim $d --epochs $EPOCHS --seed $SEED --device $DEVICE --out $run"
  if [ "${REUSE:-0}" != 1 ]; then
    rm -rf "$run"
    # shellcheck disable=SC2086
    RAYON_NUM_THREADS=$THREADS $PATCHWORK ${cmd#patchwork } 2> "$run.log" || { cat "$run.log" >&2; exit 1; }
  fi
  # TRAIN_ONLY=1 trains and leaves the probing for a later REUSE=1.
  [ "${TRAIN_ONLY:-0}" = 1 ] && continue
  json=$($PATCHWORK eval disentangle --checkpoint "$run" --device cpu --seed "$SEED" --json)
  row=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); u,s=r["unspecified"],r["specified"]; print("%.2f | %.2f | %.2f | %.2f" % (u["train"],u["test"],s["train"],s["test"]))' "$json")
  elapsed=$(python3 -c 'import json,sys; print("%.0f s" % json.load(open(sys.argv[1]))["history"][-1]["elapsed"])' "$run/checkpoint/state.json" 2>/dev/null || echo "?")
  echo "| $d | \`$cmd\` | $row | ${REPORT[$d]:-} | $elapsed |"
done
