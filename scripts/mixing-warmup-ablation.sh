#!/usr/bin/env bash
# What makes the small mixing-scenes preset's warm-up learn faster? Trains the shipped
# schedule's first STEPS warm-up steps (plain autoencoder + collage term, batch 8, seed 1,
# scenes:1024) under variants of the model and the learning rate, and prints for each the
# window means of `recon_direct` over WINDOW steps, the training time and
# `patchwork eval recon` on the test scenes. Produces the table in docs/results.md
# "What the warm-up's pace does not depend on".
#
# The architecture variants are switches that are not settings of the app (they take the
# model away from the thesis and did not pay off): scripts/mixing-warmup-ablation.patch
# adds them as environment variables to a build made in a clone of HEAD.
#
#   bash scripts/mixing-warmup-ablation.sh                       # every variant, ~40 min on 2 cores
#   VARIANTS="base no-sn" STEPS=600 bash scripts/mixing-warmup-ablation.sh
#   CARGO_TARGET_DIR=/work/main/target bash scripts/mixing-warmup-ablation.sh  # reuse a build's dependencies
set -euo pipefail

STEPS=${STEPS:-1200}
WINDOW=${WINDOW:-200}
VARIANTS=${VARIANTS:-"base no-sn no-in no-sn-no-in lr-2.5e-4 no-sn-lr-2.5e-4 lr-1e-3 lr-2e-3 wide-decoder decoder-coords"}
root=$(git rev-parse --show-toplevel)
work=${WORK:-$(mktemp -d)}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work/xdg}
mkdir -p "$XDG_RUNTIME_DIR"

git clone -q "$root" "$work/tree"
git -C "$work/tree" apply "$root/scripts/mixing-warmup-ablation.patch"
(cd "$work/tree" && cargo build --locked --quiet)
# A shared CARGO_TARGET_DIR gets the next build of the main tree: keep this binary aside.
cp "${CARGO_TARGET_DIR:-$work/tree/target}/debug/patchwork" "$work/patchwork-ablation"

for variant in $VARIANTS; do
  lr=5e-4
  switches=()
  case $variant in
    base) ;;
    no-sn) switches=(PATCHWORK_ABLATE_NO_SN=1) ;;
    no-in) switches=(PATCHWORK_ABLATE_NO_IN=1) ;;
    no-sn-no-in) switches=(PATCHWORK_ABLATE_NO_SN=1 PATCHWORK_ABLATE_NO_IN=1) ;;
    lr-*) lr=${variant#lr-} ;;
    no-sn-lr-*) switches=(PATCHWORK_ABLATE_NO_SN=1); lr=${variant#no-sn-lr-} ;;
    wide-decoder) switches=(PATCHWORK_ABLATE_WIDE_DECODER=1) ;;
    decoder-coords) switches=(PATCHWORK_ABLATE_DECODER_COORDS=1) ;;
    *) echo "unknown variant: $variant" >&2; exit 2 ;;
  esac
  out="$work/$variant"
  t0=$(date +%s)
  env "${switches[@]}" "$work/patchwork-ablation" train --model mixing-scenes --preset small --data scenes:1024 \
    --batch 8 --lr "$lr" --epochs 72 --rec-warmup 8192 --warmup-collage 1 --max-steps "$STEPS" --seed 1 \
    --out "$out" --device cpu 2> "$out.log" || { cat "$out.log" >&2; exit 1; }
  t1=$(date +%s)
  recon=$(env "${switches[@]}" "$work/patchwork-ablation" eval recon --checkpoint "$out/checkpoint" --device cpu)
  windows=$(python3 - "$out/metrics.jsonl" "$WINDOW" <<'PY'
import json, sys
sums = {}
for line in open(sys.argv[1]):
    if not line.startswith('{"step"'):
        continue
    row = json.loads(line)
    terms = dict(row["terms"])
    if "recon_direct" in terms:
        # Steps count from 1: window k holds steps k·W + 1 … (k + 1)·W.
        sums.setdefault((row["step"] - 1) // int(sys.argv[2]), []).append(terms["recon_direct"])
print(" ".join(f"{sum(v) / len(v):.3f}" for _, v in sorted(sums.items())))
PY
)
  psnr=$(echo "$recon" | grep -o 'PSNR [0-9.]* dB, SSIM [0-9.]*')
  echo "$variant (lr $lr): recon_direct per $WINDOW steps: $windows; training $((t1 - t0)) s; $psnr"
done
