#!/usr/bin/env bash
# Makes checkpoints/patchvae-fashion-mnist: a PatchVAE (N = 16 parts, d_p = 6, β_app = 1,
# prior 1/N, β_occ = 0.3 as in the paper's Table 6 — the official code's default of 10
# kept the occurrence maps at the prior in short runs, every part "dead") trained on the
# embedded Fashion-MNIST at
# 32×32, kept weights-only (config.json, model.bpk, state.json; no optimizer state) so it
# stays small, with its command and metrics in README.md beside it.
#
#   bash scripts/make-shipped-checkpoint.sh
#   EPOCHS=10 DEVICE=gpu bash scripts/make-shipped-checkpoint.sh
set -euo pipefail

PATCHWORK=${PATCHWORK:-"cargo run --release --locked --quiet --"}
DEVICE=${DEVICE:-auto}
EPOCHS=${EPOCHS:-5}
BETA_OCC=${BETA_OCC:-0.3}
SEED=${SEED:-1}
RUN=${RUN:-runs/shipped-patchvae}
DEST=${DEST:-checkpoints/patchvae-fashion-mnist}

train_cmd="patchwork train --model patchvae --data fashion-mnist --size 32 --epochs $EPOCHS --beta-occ $BETA_OCC --seed $SEED --out $RUN --device $DEVICE"
rm -rf "$RUN"
t0=$(date +%s)
# shellcheck disable=SC2086
$PATCHWORK ${train_cmd#patchwork } 2> "$RUN.log" || { cat "$RUN.log" >&2; exit 1; }
t1=$(date +%s)
device_line=$(grep -m1 '^device:' "$RUN.log" || true)

rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp"
cp "$RUN/checkpoint/config.json" "$RUN/checkpoint/model.bpk" "$RUN/checkpoint/state.json" "$DEST.tmp/"
recon=$($PATCHWORK eval recon --checkpoint "$DEST.tmp" --device "$DEVICE")
probe=$($PATCHWORK eval probe --checkpoint "$DEST.tmp" --regime conv1-5 --epochs 30 --seed "$SEED" --device "$DEVICE")
last=$(tail -1 "$RUN/metrics.jsonl")

cat > "$DEST.tmp/README.md" <<MD
# patchvae-fashion-mnist

A PatchVAE (16 parts, 6 appearance dimensions each, β_occ = $BETA_OCC, β_app = 1, prior
1/16, relaxed-Bernoulli occurrences with the code's temperature schedule)
trained on the embedded Fashion-MNIST subset (10,000 training images) at 32×32, grey.
Weights only: resuming it starts a fresh optimizer.

Made by \`bash scripts/make-shipped-checkpoint.sh\` (EPOCHS=$EPOCHS, BETA_OCC=$BETA_OCC, SEED=$SEED, DEVICE=$DEVICE), which ran:

    $train_cmd

${device_line:-device: unknown}; training took $((t1 - t0)) s.

Last training step (metrics.jsonl):

    $last

Scores on the embedded test split (2,000 images):

    \$ patchwork eval recon --checkpoint $DEST
    ${recon//$DEST.tmp/$DEST}
    \$ patchwork eval probe --checkpoint $DEST --regime conv1-5 --epochs 30
    ${probe//$DEST.tmp/$DEST}
MD
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
du -sh "$DEST"
cat "$DEST/README.md"
