#!/usr/bin/env bash
# Makes checkpoints/mixing-scenes-small: the small preset of the mixing-scenes model
# trained on quadrant scenes (DATA, default 1,024 of them), kept weights-only (config.json, model.bpk,
# state.json, neighbours.bin; no optimizer state) with its command and metrics in
# README.md beside it. The first WARMUP steps train the plain autoencoder with the
# collage term at weight COLLAGE (not in the thesis: it teaches each chunk its own
# quadrant; COLLAGE=0 leaves it out); then Algorithm 1's iterations with every term,
# until MAX_STEPS.
#
#   bash scripts/make-mixing-checkpoint.sh             # train, then evaluate
#   EPOCHS=4 bash scripts/make-mixing-checkpoint.sh
#   REUSE_RUN=1 bash scripts/make-mixing-checkpoint.sh # evaluate the checkpoint of an
#                                                      # existing (e.g. stopped) run in $RUN
#   REUSE_RUN=1 NOTE="how the run went" …               # NOTE: a paragraph for the README
#   DATA=scenes WARMUP=24576 MAX_STEPS=26112 EPOCHS=26 WARMUP_COPY=runs/mix-warmup bash scripts/make-mixing-checkpoint.sh
#
# WARMUP_COPY: copy the run's checkpoint there when it is written at step WARMUP (the end of
# the warm-up: an epoch's end when WARMUP is a multiple of the steps per epoch), to score
# the warm-up alone afterwards.
#
# INIT: start from that checkpoint's weights (`train --init`: its network, data and seed; a
# fresh optimizer, steps counted from 0) instead of random ones, e.g. to train the shipped
# model on with WARMUP=MAX_STEPS (warm-up steps only). Its README.md is kept in the new one,
# under "Earlier training", so the whole history stays beside the weights:
#   INIT=checkpoints/mixing-scenes-small LR=2.5e-4 EPOCHS=16 WARMUP=16384 MAX_STEPS=16384 RUN=runs/mix-on bash scripts/make-mixing-checkpoint.sh
set -euo pipefail

PATCHWORK=${PATCHWORK:-"cargo run --release --locked --quiet --"}
DEVICE=${DEVICE:-cpu}
EPOCHS=${EPOCHS:-72}
WARMUP=${WARMUP:-8192}
MAX_STEPS=${MAX_STEPS:-8960}
COLLAGE=${COLLAGE:-1}
SEED=${SEED:-1}
DATA=${DATA:-scenes:1024}
BATCH=${BATCH:-8}
LR=${LR:-5e-4}
RUN=${RUN:-runs/shipped-mixing}
DEST=${DEST:-checkpoints/mixing-scenes-small}
PAIRS=${PAIRS:-500}

if [ -n "${INIT:-}" ]; then
  # The data and seed are the checkpoint's.
  DATA=$(python3 -c "import json; print(json.load(open('$INIT/config.json'))['data'])")
  SEED=$(python3 -c "import json; print(json.load(open('$INIT/config.json'))['seed'])")
  init_step=$(python3 -c "import json; print(json.load(open('$INIT/state.json'))['step'])")
  # Read now: INIT may be DEST, which is replaced at the end.
  init_readme=$(sed 's/^#/##/' "$INIT/README.md")
  train_cmd="patchwork train --init $INIT --batch $BATCH --lr $LR --epochs $EPOCHS --rec-warmup $WARMUP --warmup-collage $COLLAGE --max-steps $MAX_STEPS --out $RUN --device $DEVICE"
else
  train_cmd="patchwork train --model mixing-scenes --preset small --data $DATA --batch $BATCH --lr $LR --epochs $EPOCHS --rec-warmup $WARMUP --warmup-collage $COLLAGE --max-steps $MAX_STEPS --seed $SEED --out $RUN --device $DEVICE"
fi
if [ "${REUSE_RUN:-0}" != 1 ]; then
  rm -rf "$RUN" "$RUN.done"
  if [ -n "${WARMUP_COPY:-}" ]; then
    # Watches the run's checkpoint for the step the warm-up ends at; stops with the run.
    (
      while [ ! -f "$RUN.done" ]; do
        step=$(python3 -c "import json; print(json.load(open('$RUN/checkpoint/state.json'))['step'])" 2>/dev/null || echo 0)
        if [ "$step" = "$WARMUP" ]; then
          rm -rf "$WARMUP_COPY" && cp -r "$RUN/checkpoint" "$WARMUP_COPY" && rm -f "$WARMUP_COPY/optimizer.bpk"
          echo "warm-up checkpoint (step $WARMUP) copied to $WARMUP_COPY" >&2
          break
        fi
        sleep 15
      done
    ) &
  fi
  t0=$(date +%s)
  # shellcheck disable=SC2086
  $PATCHWORK ${train_cmd#patchwork } 2> "$RUN.log" || { touch "$RUN.done"; cat "$RUN.log" >&2; exit 1; }
  touch "$RUN.done"
  t1=$(date +%s)
  took="training took $((t1 - t0)) s"
else
  took="training time: see the note below"
fi
device_line=$(grep -m1 '^device:' "$RUN.log" || true)

rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp"
cp "$RUN/checkpoint/config.json" "$RUN/checkpoint/model.bpk" "$RUN/checkpoint/state.json" "$RUN/checkpoint/neighbours.bin" "$DEST.tmp/"
step=$(python3 -c "import json,sys; print(json.load(open('$DEST.tmp/state.json'))['step'])")
recon=$($PATCHWORK eval recon --checkpoint "$DEST.tmp" --device "$DEVICE")
transfer=$($PATCHWORK eval transfer --checkpoint "$DEST.tmp" --pairs "$PAIRS" --seed "$SEED" --device "$DEVICE" 2>/dev/null)
last=$(grep "\"step\":$step," "$RUN/metrics.jsonl" | tail -1)

if [ -n "${INIT:-}" ]; then
  start="started from the weights of the model described under \"Earlier training\" below
(step $init_step of its run; \`train --init\`, a fresh optimizer) and trained"
else
  start="trained"
fi
if [ "$WARMUP" -ge "$MAX_STEPS" ]; then
  schedule="the plain autoencoder for all $MAX_STEPS steps"
  then_mix=""
else
  schedule="the plain autoencoder for the first $WARMUP steps"
  then_mix=", then
every term with Algorithm 1 over the scenes' per-quadrant neighbour lists"
fi
cat > "$DEST.tmp/README.md" <<MD
# mixing-scenes-small

The mixing-scenes model ("Learning Object Representations by Mixing Scenes") in its
small preset (fewer, wider layers than the thesis's: 48-d quadrant chunks, a 192-d
latent), $start on quadrant scenes (\`$DATA\`: 64×64, at most one Fashion-MNIST object per
quadrant over CC0 backgrounds): $schedule (with
the collage term at weight $COLLAGE: the batch's codes mixed chunk-wise under random masks,
decoded and pulled towards the pixel collages — not in the thesis)$then_mix. The scenes'
per-quadrant neighbour lists (\`neighbours.bin\`) are kept here for the Auto-mix and
Neighbours views. Weights only: resuming it starts a fresh optimizer.

Made by \`bash scripts/make-mixing-checkpoint.sh\` (${INIT:+INIT=$INIT, }DATA=$DATA, BATCH=$BATCH, LR=$LR, EPOCHS=$EPOCHS, WARMUP=$WARMUP, COLLAGE=$COLLAGE, MAX_STEPS=$MAX_STEPS, SEED=$SEED, DEVICE=$DEVICE${REUSE_RUN:+, REUSE_RUN=$REUSE_RUN}), which ran:

    $train_cmd

${device_line:-device: unknown}; $took. This checkpoint is step $step.
${NOTE:+
$NOTE
}
Training step $step (metrics.jsonl):

    $last

Scores on held-out scenes:

    \$ patchwork eval recon --checkpoint $DEST
    ${recon//$DEST.tmp/$DEST}
    \$ patchwork eval transfer --checkpoint $DEST --pairs $PAIRS
$(echo "${transfer//$DEST.tmp/$DEST}" | sed 's/^/    /')
${INIT:+
# Earlier training

The README.md of \`$INIT\` when this run started from it:

$init_readme
}
MD
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
du -sh "$DEST"
cat "$DEST/README.md"
