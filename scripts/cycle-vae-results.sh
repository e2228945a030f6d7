#!/usr/bin/env bash
# The cycle-consistent VAE's disentanglement probe for the report's loss variants (its
# Table 4.2 at z = s = 16): the code's model, no reverse cycle (the ablation), the
# Wasserstein reverse cycle (V3) and the reverse-cycle reconstruction (V1), each trained
# STEPS steps on the embedded MNIST subset, then `patchwork eval disentangle` on each.
# Prints the markdown table in docs/results.md ("Cycle-consistent VAE").
#
#   bash scripts/cycle-vae-results.sh                     # trains all four (~25 min each on one core)
#   REUSE=1 bash scripts/cycle-vae-results.sh             # only evaluates runs/cycle-vae-mnist*
#   STEPS=100000 DEVICE=gpu bash scripts/cycle-vae-results.sh
#
# THREADS sets the CPU threads of each run (RAYON_NUM_THREADS).
set -euo pipefail

PATCHWORK=${PATCHWORK:-"cargo run --release --locked --quiet --"}
DEVICE=${DEVICE:-cpu}
STEPS=${STEPS:-30000}
SEED=${SEED:-1}
THREADS=${THREADS:-1}

variants=(
  "cycle-vae-mnist|the code's (ℓ1 reverse cycle)|"
  "cycle-vae-mnist-no-reverse|no reverse cycle (ablation)|--reverse-cycle none"
  "cycle-vae-mnist-wasserstein|Wasserstein reverse cycle (V3)|--reverse-cycle wasserstein"
  "cycle-vae-mnist-reverse-recon|reverse-cycle reconstruction (V1)|--reverse-reconstruction"
)

echo "| variant | command | z train | z test | s train | s test |"
echo "|---|---|---|---|---|---|"
for v in "${variants[@]}"; do
  IFS='|' read -r name label flags <<< "$v"
  run="runs/$name"
  cmd="patchwork train --model cycle-vae --data mnist $flags --max-steps $STEPS --lr-schedule constant --seed $SEED --device $DEVICE --out $run"
  if [ "${REUSE:-0}" != 1 ]; then
    rm -rf "$run"
    # shellcheck disable=SC2086
    RAYON_NUM_THREADS=$THREADS $PATCHWORK ${cmd#patchwork } 2> "$run.log" || { cat "$run.log" >&2; exit 1; }
  fi
  json=$($PATCHWORK eval disentangle --checkpoint "$run" --device cpu --seed "$SEED" --json)
  row=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); u,s=r["unspecified"],r["specified"]; print("%.2f | %.2f | %.2f | %.2f" % (u["train"],u["test"],s["train"],s["test"]))' "$json")
  echo "| $label | \`${cmd//  / }\` | $row |"
done
