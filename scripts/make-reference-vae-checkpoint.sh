#!/usr/bin/env bash
# Makes checkpoints/reference-vae-mnist: an sRb-VAE (Ruiz et al.'s reference-based VAE, the
# paper's objective, Adam 1e-4 β = (0.5, 0.99), 36 images per pool) trained on the
# reference-style MNIST built from the embedded MNIST subset (10,000 unlabelled + 5,000
# reference images), kept weights-only (config.json, model.bpk, state.json) with its
# command, time and `patchwork eval factors` figures in README.md beside it.
#
#   bash scripts/make-reference-vae-checkpoint.sh
#   REUSE=1 RUN=runs/reference-vae-table/srb-vae bash scripts/make-reference-vae-checkpoint.sh   # ship the results table's sRb-VAE run
#
# EXTRA adds flags to the training command (and to the command written in the README).
#
# The default is the CPU budget (32×32, width 16: a quarter of the paper's channels, 4
# epochs); SIZE=64 WIDTH=32 EPOCHS=30 DATA=reference-style:idx:data/mnist is the paper's.
set -euo pipefail

PATCHWORK=${PATCHWORK:-"cargo run --release --locked --quiet --"}
DEVICE=${DEVICE:-cpu}
DATA=${DATA:-reference-style}
EPOCHS=${EPOCHS:-4}
SIZE=${SIZE:-32}
WIDTH=${WIDTH:-16}
SEED=${SEED:-1}
RUN=${RUN:-runs/reference-vae-mnist}
DEST=${DEST:-checkpoints/reference-vae-mnist}
EXTRA=${EXTRA:-}

train_cmd="patchwork train --model reference-vae --objective srb-vae --data $DATA --size $SIZE --width $WIDTH --epochs $EPOCHS --seed $SEED --device $DEVICE --out $RUN${EXTRA:+ $EXTRA}"
if [ "${REUSE:-0}" != 1 ]; then
  rm -rf "$RUN"
  # shellcheck disable=SC2086
  $PATCHWORK ${train_cmd#patchwork } 2> "$RUN.log" || { cat "$RUN.log" >&2; exit 1; }
fi
wall="$(python3 -c 'import json,sys; print("%.0f s of training" % json.loads(open(sys.argv[1]).readlines()[-1])["elapsed"])' "$RUN/metrics.jsonl")"

rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp"
cp "$RUN/checkpoint/config.json" "$RUN/checkpoint/model.bpk" "$DEST.tmp/"
EVERY=${EVERY:-20}
python3 scripts/trim-history.py "$RUN/checkpoint/state.json" "$DEST.tmp/state.json" "$EVERY"
on_e=$($PATCHWORK eval factors --checkpoint "$DEST.tmp" --features e --device cpu | sed "s#$DEST.tmp#$DEST#")
on_z=$($PATCHWORK eval factors --checkpoint "$DEST.tmp" --features z --device cpu | sed "s#$DEST.tmp#$DEST#")
recon=$($PATCHWORK eval recon --checkpoint "$DEST.tmp" --device cpu | sed "s#$DEST.tmp#$DEST#")
last=$(tail -1 "$RUN/metrics.jsonl")

cat > "$DEST.tmp/README.md" <<MD
# reference-vae-mnist

An sRb-VAE (Ruiz et al., "Learning disentangled representations with reference-based
variational autoencoders": the symmetric KL optimised adversarially with two
discriminators, plus the Eq. 10 reconstructions of images and latents; Laplace b = 0.01,
e and z of 32 dimensions, 36 images of each pool per step, Adam 1e-4 with β = (0.5, 0.99))
trained on the reference-style MNIST made from the embedded MNIST subset (10,000
unlabelled images in random width, colour and scale; 5,000 reference outlines) for $EPOCHS
epochs at ${SIZE}×${SIZE}, width $WIDTH (the paper: 64×64, width 32, 30 epochs on the full
MNIST), on $DEVICE: $wall. Weights only, with every ${EVERY}th step of the metric history;
\`train --resume\` continues it with a fresh optimizer.

Made by \`scripts/make-reference-vae-checkpoint.sh\`:

    $train_cmd

The paper's probe (linear regressors from e to each factor, fitted on one half of the test
split, mean absolute error on the other; targets on [0, 1]; the paper's sRb-VAE on the full
MNIST: average .060, and .189 from z):

    patchwork eval factors --checkpoint $DEST --features e
$(echo "$on_e" | sed 's/^/    /')

    patchwork eval factors --checkpoint $DEST --features z
$(echo "$on_z" | sed 's/^/    /')

Reconstructions (\`patchwork eval recon --checkpoint $DEST\`):

$(echo "$recon" | sed 's/^/    /')

Last training step:

    $last
MD

rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
echo "$DEST"
cat "$DEST/README.md"
