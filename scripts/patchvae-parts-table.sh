#!/usr/bin/env bash
# One markdown row per PatchVAE checkpoint (or run folder) of what a person sees of its
# parts, on the embedded Fashion-MNIST test split: dead parts, the temperature reached, the
# share of occurrence probabilities in [0.1, 0.9], the live parts' area where they fire,
# part swaps (share of the change inside the part's region beside the region's share of
# the image; the target's class kept by a judge), reconstruction PSNR and, unless
# PROBE=0, the Conv[1-5] probe. docs/results.md's "Parts a person can see" table.
#
#   bash scripts/patchvae-parts-table.sh checkpoints/patchvae-fashion-mnist runs/p29/a-bernoulli
set -euo pipefail

PATCHWORK=${PATCHWORK:-"cargo run --locked --quiet --"}
DEVICE=${DEVICE:-cpu}
PROBE=${PROBE:-1}

echo "| checkpoint | dead parts | τ reached | p in [0.1, 0.9] | live parts' area where firing | swap: change inside the part | the part's share of the image | class kept by the judge (on reconstructions) | PSNR | Conv[1-5] |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for checkpoint in "$@"; do
    parts=$($PATCHWORK eval parts --checkpoint "$checkpoint" --device "$DEVICE" --json)
    swap=$($PATCHWORK eval swap --checkpoint "$checkpoint" --device "$DEVICE" --json 2>/dev/null)
    recon=$($PATCHWORK eval recon --checkpoint "$checkpoint" --device "$DEVICE" --json)
    probe="—"
    if [ "$PROBE" != 0 ]; then
        probe=$($PATCHWORK eval probe --checkpoint "$checkpoint" --regime conv1-5 --epochs 30 --seed 1 --device "$DEVICE" --json | python3 -c 'import json,sys; print("%.2f %%" % json.load(sys.stdin)["top1"])')
    fi
    python3 - "$checkpoint" "$parts" "$swap" "$recon" "$probe" <<'PY'
import json, sys
name, parts, swap, recon, probe = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]
t = parts["temperature"]
print(f"| `{name}` | {len(parts['dead'])} of {len(parts['parts'])} | {'—' if t is None else f'{t:.3f}'} | {100 * parts['uncertain_share']:.1f} % | {100 * parts['mean_live_area']:.1f} % | "
      f"{100 * swap['inside_share']:.1f} % | {100 * swap['region_share']:.1f} % | {swap['class_kept']:.1f} % ({swap['class_of_reconstruction']:.1f} %) | {recon['psnr']:.2f} dB | {probe} |")
PY
done
