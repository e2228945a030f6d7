#!/usr/bin/env bash
# A full disk while saving (docs/reliability.md): a β-VAE run checkpointing every epoch
# into a small tmpfs; once its first checkpoint is saved the disk is filled, so the next
# save fails. Checked: the run says so and waits with its weights in memory; the previous
# checkpoint still loads (from another process, while the run waits); no temporary folder
# is left; once space is freed the run's next try saves, it goes on, and its last
# checkpoint loads. Needs root (mount).
#
#   bash scripts/full-disk-test.sh
#   PATCHWORK=target/debug/patchwork OUT=/tmp/full-disk bash scripts/full-disk-test.sh
set -uo pipefail
PW=${PATCHWORK:-target/debug/patchwork}
OUT=${OUT:-/tmp/patchwork-full-disk}
disk="$OUT/disk"
umount "$disk" 2>/dev/null
rm -rf "$OUT"; mkdir -p "$disk"
mount -t tmpfs -o size=24m tmpfs "$disk" || { echo "cannot mount a tmpfs (needs root)"; exit 2; }
trap 'umount "$disk" 2>/dev/null' EXIT
run="$disk/run"
# 40 steps an epoch (10,000 images at batch 250), a 7.5 MB checkpoint.
"$PW" train --model beta-vae --arch mlp --size 28 --latent 8 --batch 250 --max-steps 200 --seed 1 --device cpu --out "$run" > "$OUT/train.log" 2>&1 &
pid=$!
fail() { echo "FAILED: $*"; kill "$pid" 2>/dev/null; tail -20 "$OUT/train.log"; exit 1; }
for _ in $(seq 1 600); do grep -q "checkpoint saved" "$OUT/train.log" && break; sleep 0.2; done
grep -q "checkpoint saved" "$OUT/train.log" || fail "no first checkpoint"
first=$(python3 -c "import json; print(json.load(open('$run/checkpoint/state.json'))['step'])")
# Fill the disk.
dd if=/dev/zero of="$disk/filler" bs=1M 2>/dev/null
echo "disk filled after the checkpoint of step $first: $(df -h "$disk" | tail -1 | awk '{print $3" used, "$4" free"}')"
for _ in $(seq 1 600); do grep -q "failed" "$OUT/train.log" && break; sleep 0.2; done
grep -q "saving .* failed" "$OUT/train.log" || fail "the failed save was not reported"
echo "reported: $(grep -o 'step [0-9]*: saving .* failed: [^.]*' "$OUT/train.log" | head -1)"
kill -0 "$pid" 2>/dev/null || fail "the run ended instead of waiting"
"$PW" eval recon --checkpoint "$run" --device cpu > "$OUT/eval-during.log" 2>&1 || fail "the previous checkpoint does not load: $(tail -1 "$OUT/eval-during.log")"
still=$(python3 -c "import json; print(json.load(open('$run/checkpoint/state.json'))['step'])")
[ "$still" = "$first" ] || fail "the checkpoint changed from step $first to $still"
left=$(find "$run" -maxdepth 1 -name '.*' | wc -l)
echo "while full: the run waits, the checkpoint of step $first loads, $left temporary entries in the run folder"
rm -f "$disk/filler"
for _ in $(seq 1 300); do [ "$(grep -c 'checkpoint saved' "$OUT/train.log")" -ge 2 ] && break; sleep 0.2; done
[ "$(grep -c 'checkpoint saved' "$OUT/train.log")" -ge 2 ] || fail "no save after space was freed"
echo "space freed: $(grep 'checkpoint saved' "$OUT/train.log" | sed -n 2p | sed 's/.*\(step [0-9]*\).*/\1/') saved on the next try"
wait "$pid"; rc=$?
[ "$rc" = 0 ] || fail "the run exited with $rc"
"$PW" eval recon --checkpoint "$run" --device cpu > "$OUT/eval-after.log" 2>&1 || fail "the last checkpoint does not load"
last=$(python3 -c "import json; print(json.load(open('$run/checkpoint/state.json'))['step'])")
left=$(find "$run" -maxdepth 1 -name '.*' | wc -l)
echo "finished: last checkpoint at step $last loads; $left temporary entries left; run exit code $rc"
