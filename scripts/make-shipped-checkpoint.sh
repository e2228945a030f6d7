#!/usr/bin/env bash
# Makes checkpoints/patchvae-fashion-mnist: a PatchVAE (N = 16 parts, d_p = 6, β_app = 1,
# prior 1/N) trained on the embedded Fashion-MNIST at 32×32 long enough for the code's
# temperature schedule to reach its floor (τ = 0.1 from step ~12,000), kept weights-only
# (config.json, model.bpk, state.json; no optimizer state) so it stays small, with its
# command, its metrics and what its parts look like (eval parts, eval swap) in README.md
# beside it. The sampling and β_occ were chosen by measurement: docs/results.md, "Parts a
# person can see".
#
#   bash scripts/make-shipped-checkpoint.sh
#   SAMPLING=bernoulli EPOCHS=160 bash scripts/make-shipped-checkpoint.sh
#   RUN=runs/p29/c-categorical SKIP_TRAINING=1 bash scripts/make-shipped-checkpoint.sh   # ship a finished run
set -euo pipefail

PATCHWORK=${PATCHWORK:-"cargo run --locked --quiet --"}
DEVICE=${DEVICE:-auto}
EPOCHS=${EPOCHS:-160}
BETA_OCC=${BETA_OCC:-0.3}
SAMPLING=${SAMPLING:-categorical}
SEED=${SEED:-1}
RUN=${RUN:-runs/shipped-patchvae}
DEST=${DEST:-checkpoints/patchvae-fashion-mnist}

train_cmd="patchwork train --model patchvae --data fashion-mnist --size 32 --epochs $EPOCHS --beta-occ $BETA_OCC --sampling $SAMPLING --seed $SEED --out $RUN --device $DEVICE"
if [ -z "${SKIP_TRAINING:-}" ]; then
    rm -rf "$RUN"
    mkdir -p "$(dirname "$RUN")"
    t0=$(date +%s)
    # shellcheck disable=SC2086
    $PATCHWORK ${train_cmd#patchwork } 2> "$RUN.log" || { cat "$RUN.log" >&2; exit 1; }
    t1=$(date +%s)
    took="training took $((t1 - t0)) s"
else
    took="training took $(python3 -c 'import json,sys; print(round(json.loads(open(sys.argv[1]).read().splitlines()[-1])["elapsed"]))' "$RUN/metrics.jsonl") s of training time"
fi
device_line=$(grep -m1 '^device:' "$RUN.log" || true)

rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp"
cp "$RUN/checkpoint/config.json" "$RUN/checkpoint/model.bpk" "$RUN/checkpoint/state.json" "$DEST.tmp/"
recon=$($PATCHWORK eval recon --checkpoint "$DEST.tmp" --device "$DEVICE")
probe=$($PATCHWORK eval probe --checkpoint "$DEST.tmp" --regime conv1-5 --epochs 30 --seed "$SEED" --device "$DEVICE")
parts=$($PATCHWORK eval parts --checkpoint "$DEST.tmp" --device "$DEVICE")
swap=$($PATCHWORK eval swap --checkpoint "$DEST.tmp" --seed "$SEED" --device "$DEVICE" 2>/dev/null)
last=$(tail -1 "$RUN/metrics.jsonl")

cat > "$DEST.tmp/README.md" <<MD
# patchvae-fashion-mnist

A PatchVAE (16 parts, 6 appearance dimensions each, β_occ = $BETA_OCC, β_app = 1, prior
1/16, $SAMPLING occurrence sampling with the code's temperature schedule)
trained on the embedded Fashion-MNIST subset (10,000 training images) at 32×32, grey.
Weights only: resuming it starts a fresh optimizer.

Made by \`bash scripts/make-shipped-checkpoint.sh\` (EPOCHS=$EPOCHS, BETA_OCC=$BETA_OCC, SAMPLING=$SAMPLING, SEED=$SEED, DEVICE=$DEVICE), which ran:

    $train_cmd

${device_line:-device: unknown}; $took.

Last training step (metrics.jsonl):

    $last

Scores on the embedded test split (2,000 images):

    \$ patchwork eval recon --checkpoint $DEST
    ${recon//$DEST.tmp/$DEST}
    \$ patchwork eval probe --checkpoint $DEST --regime conv1-5 --epochs 30
    ${probe//$DEST.tmp/$DEST}

Its parts (dead: firing at < 0.1 % of locations, as the part browser says; a part fires
where its probability is above 0.5):

    \$ patchwork eval parts --checkpoint $DEST
$(sed 's/^/    /' <<< "${parts//$DEST.tmp/$DEST}")

    \$ patchwork eval swap --checkpoint $DEST
$(sed 's/^/    /' <<< "${swap//$DEST.tmp/$DEST}")
MD
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
du -sh "$DEST"
cat "$DEST/README.md"
