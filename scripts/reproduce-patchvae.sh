#!/usr/bin/env bash
# Reproduces the PatchVAE table of docs/results.md (the paper's Table 1, on the embedded
# Fashion-MNIST at 32×32): β-VAE, β-VAE + L_w, PatchVAE, PatchVAE + L_w, each trained
# with the same seed and epochs, then scored by the Conv[1-5] probe (top-1 on the test
# split) and by PSNR/SSIM of test reconstructions. Prints the table as Markdown.
#
#   bash scripts/reproduce-patchvae.sh                      # defaults below
#   EPOCHS=30 DEVICE=gpu bash scripts/reproduce-patchvae.sh
#   PATCHWORK=./target/release/patchwork bash scripts/reproduce-patchvae.sh
set -euo pipefail

PATCHWORK=${PATCHWORK:-"cargo run --release --locked --quiet --"}
DEVICE=${DEVICE:-auto}
EPOCHS=${EPOCHS:-20}
PROBE_EPOCHS=${PROBE_EPOCHS:-90}
SEED=${SEED:-1}
DATA=${DATA:-fashion-mnist}
OUT=${OUT:-runs/reproduce-patchvae}

# name | model flags. The β-VAE is the paper's baseline: Resnet-9, a 96-d code (= N·d_p).
ROWS=(
  "beta-vae|--model beta-vae --arch resnet9 --latent 96 --beta 1"
  "beta-vae+Lw|--model beta-vae --arch resnet9 --latent 96 --beta 1 --weighted"
  "patchvae|--model patchvae"
  "patchvae+Lw|--model patchvae --weighted"
)

field() { # field NAME < json: the first numeric value of "NAME"
  grep -o "\"$1\": *[-0-9.eE+]*" | head -1 | sed 's/.*: *//'
}

mkdir -p "$OUT"
start=$(date +%s)
device_line=""
table="| model | probe Conv[1-5] top-1 (%) | PSNR (dB) | SSIM | train time (s) |
|---|---|---|---|---|"
for row in "${ROWS[@]}"; do
  name=${row%%|*}
  flags=${row#*|}
  run="$OUT/$name"
  rm -rf "$run"
  t0=$(date +%s)
  # shellcheck disable=SC2086
  $PATCHWORK train $flags --data "$DATA" --size 32 --epochs "$EPOCHS" --seed "$SEED" --out "$run" --device "$DEVICE" 2> "$OUT/$name.train.log"
  t1=$(date +%s)
  device_line=$(grep -m1 '^device:' "$OUT/$name.train.log" || true)
  $PATCHWORK eval recon --checkpoint "$run/checkpoint" --device "$DEVICE" --json > "$OUT/$name.recon.json"
  $PATCHWORK eval probe --checkpoint "$run/checkpoint" --regime conv1-5 --epochs "$PROBE_EPOCHS" --seed "$SEED" --device "$DEVICE" --json > "$OUT/$name.probe.json"
  top1=$(field top1 < "$OUT/$name.probe.json")
  psnr=$(field psnr < "$OUT/$name.recon.json")
  ssim=$(field ssim < "$OUT/$name.recon.json")
  table+=$'\n'"$(printf '| %s | %.2f | %.2f | %.4f | %d |' "$name" "$top1" "$psnr" "$ssim" $((t1 - t0)))"
  echo "$name done: top-1 $top1, PSNR $psnr, SSIM $ssim" >&2
done
end=$(date +%s)

{
  echo "$table"
  echo
  echo "Data $DATA (embedded subset, test split), 32×32, $EPOCHS epochs, seed $SEED, probe $PROBE_EPOCHS epochs."
  echo "${device_line:-device: unknown}; wall time $((end - start)) s."
} | tee "$OUT/table.md"
