#!/usr/bin/env bash
# One short lease of a GPU machine, used in full: a time-boxed mixing-scenes training run
# (small preset, the shipped model's schedule: a plain-autoencoder warm-up with the collage
# term, then Algorithm 1's iterations with every term), then wgpu benchmarks. Figures and
# what the first lease taught: docs/benchmarks.md "GPU: wgpu (Vulkan) on an NVIDIA H200",
# docs/results.md "On a GPU".
#
#   PATCHWORK=target/debug/patchwork OUT=runs/gpu-session bash scripts/gpu-session.sh
#   BUDGET=540 WARMUP_SHARE=0.6 BATCH=64 DATA=scenes SEED=1 bash scripts/gpu-session.sh
#   RESUME=runs/x/checkpoint bash scripts/gpu-session.sh   # continue a run instead
#   INIT=checkpoints/mixing-scenes-small WARMUP_SHARE=1 bash scripts/gpu-session.sh
#                                                            # a new run from those weights, warm-up only
#   TRAIN=0 bash scripts/gpu-session.sh                      # benchmarks only
#   SIDE_BY_SIDE=1 bash scripts/gpu-session.sh               # Patchwork beside PyTorch CUDA, nothing else
#   SIDE_BY_SIDE=1 PATCHWORK_SPIRV=/tmp/patchwork-spirv bash scripts/gpu-session.sh # and SPIR-V
#
# SIDE_BY_SIDE=1: for PatchVAE, the Resnet-9 β-VAE, mixing scenes' full preset, the
# reference-based VAE and the cycle-consistent VAE, in that order, as the budget allows:
# PyTorch eager on CUDA (scripts/pytorch-bench.py, the same networks, the same parameter
# counts), then Patchwork on wgpu/Vulkan with WGSL kernels (the default build) twice — with
# an empty kernel cache (a cold start: the first step's time is compiling and autotuning)
# and again with what that run kept (warm: autotune results) — and, with PATCHWORK_SPIRV (a
# binary built by scripts/build-spirv-binary.sh), the same two on SPIR-V kernels (warm:
# compiled kernels too). Training images/s (median of timed runs after warm-up) and
# seconds to the first step, as a markdown table in $OUT/side-by-side.md (rows made by
# scripts/side-by-side-table.py from bench.jsonl). There is no CUDA build of Patchwork to
# put beside them: README, "Devices".
#
# The warm-up is a run of its own, stopped by time (`train --minutes`), so its last weights
# are kept; the same run is then resumed with `--rec-warmup` set to the step it reached,
# which ends the warm-up there, and runs mixing iterations until its own time is up. On a
# cold machine each of the two spends about 2 minutes compiling and autotuning kernels
# before its first step (first lease: 113 s, WGSL); cubecl keeps what it compiles (SPIR-V)
# and tunes in the kernel cache, here $OUT/kernels, which this script saves as
# kernel-cache.tar.gz and restores from KERNEL_CACHE_IN when given, so a later lease on the
# same kind of GPU starts warm.
#
# Everything lands in $OUT: log.txt (every command and what it printed), bench.jsonl (one
# benchmark report per line), kernel-cache.tar.gz, and run.tar.gz.00, .01, … (pieces of
# 15 MB: cat them together) holding run/ (the final checkpoint, optimizer included, so
# `patchwork train --resume run/checkpoint` continues it on a later lease; and
# metrics.jsonl) and run-warmup/ (weights at the end of the warm-up).
# With RESUME (a checkpoint with its optimizer: a run's checkpoint/, or run/checkpoint
# from an earlier lease's run.tar.gz), the whole training time continues that run at its
# own batch and schedule (no new warm-up; run-warmup/ is not made).
# With INIT (any mixing-scenes checkpoint), the new run starts from its weights, network,
# data and seed (`train --init`) at BATCH and LR. WARMUP_SHARE=1 spends the whole training
# time in the warm-up (no mixing iterations; run-warmup/ is not made).
# With TRAIN=0 there is no run: the benchmarks get the whole budget, with limits that leave
# room for each one's own kernel compilation (the thesis's batch, both presets, the GUI).
# BUDGET (seconds) bounds the whole script: each step gets at most what is left of it.
# Not -e: a benchmark that fails or runs out of time must not cost the training run.
set -uo pipefail

PW=${PATCHWORK:-target/debug/patchwork}
OUT=${OUT:-runs/gpu-session}
BUDGET=${BUDGET:-540}
BATCH=${BATCH:-64}
DATA=${DATA:-scenes}
SEED=${SEED:-1}
LR=${LR:-5e-4}
# Share of the training time spent in the warm-up; the rest runs mixing iterations.
WARMUP_SHARE=${WARMUP_SHARE:-0.6}
# Seconds kept for the benchmarks after training.
AFTER=${AFTER:-90}
DEVICE=${DEVICE:-gpu}

mkdir -p "$OUT"
LOG="$OUT/log.txt"
BENCH="$OUT/bench.jsonl"
: > "$LOG"
: > "$BENCH"
start=$(date +%s)
left() { echo $((BUDGET - ($(date +%s) - start))); }

# run LIMIT CMD...: runs CMD under a time limit of LIMIT seconds (or what is left of the
# budget, if less), appending the command, its output and its exit status to the log.
run() {
  local limit=$1; shift
  local rest; rest=$(left)
  [ "$rest" -lt "$limit" ] && limit=$rest
  if [ "$limit" -le 5 ]; then
    echo "### skipped (budget spent): $*" >> "$LOG"
    return 124
  fi
  echo "### $* (limit ${limit}s, t=$(( $(date +%s) - start ))s)" >> "$LOG"
  local t0; t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$LOG.part"
  local rc=${PIPESTATUS[0]}
  cat "$LOG.part" >> "$LOG"; rm -f "$LOG.part"
  echo "### exit $rc after $(( $(date +%s) - t0 ))s" >> "$LOG"
  return "$rc"
}

# bench LIMIT ARGS...: one `patchwork bench --json`, its report(s) appended to bench.jsonl
# as single lines tagged with the arguments.
bench() {
  local limit=$1; shift
  run "$limit" "$PW" bench "$@" --device "$DEVICE" --json > "$OUT/bench.out" 2>/dev/null
  python3 - "$OUT/bench.out" "$*" >> "$BENCH" <<'PY'
import json, sys
text, args = open(sys.argv[1]).read(), sys.argv[2]
decoder, i = json.JSONDecoder(), 0
while True:
    while i < len(text) and text[i] != "{":
        i += 1
    if i >= len(text):
        break
    try:
        report, i = decoder.raw_decode(text, i)
    except ValueError:
        break
    report["args"] = args
    print(json.dumps(report))
PY
  rm -f "$OUT/bench.out"
}

# minutes SECONDS: `train --minutes` for a run that must end within SECONDS, its checkpoint
# written (a minute at least).
minutes() { python3 -c "print(round(max($1 - 10, 60) / 60, 2))"; }

# The kernel cache of this session: compiled SPIR-V kernels and autotune results.
export PATCHWORK_KERNEL_CACHE="$OUT/kernels"
if [ -n "${KERNEL_CACHE_IN:-}" ] && [ -f "$KERNEL_CACHE_IN" ] && [ "${SIDE_BY_SIDE:-0}" != 1 ]; then
  mkdir -p "$PATCHWORK_KERNEL_CACHE" && tar -xzf "$KERNEL_CACHE_IN" -C "$PATCHWORK_KERNEL_CACHE" && echo "### kernel cache restored from $KERNEL_CACHE_IN" >> "$LOG"
fi
run 30 "$PW" devices

# Saves the kernel cache for the next lease and ends the log.
finish() {
  [ -d "$PATCHWORK_KERNEL_CACHE" ] && tar -czf "$OUT/kernel-cache.tar.gz" -C "$PATCHWORK_KERNEL_CACHE" .
  echo "### done at t=$(( $(date +%s) - start ))s" >> "$LOG"
}

# torch LIMIT ARGS...: one scripts/pytorch-bench.py run, its JSON line appended to
# bench.jsonl tagged with the arguments.
torch() {
  local limit=$1; shift
  run "$limit" python3 scripts/pytorch-bench.py "$@" --device cuda > "$OUT/torch.out" 2>/dev/null
  python3 - "$OUT/torch.out" "$*" >> "$BENCH" <<'PY'
import json, sys
args = sys.argv[2]
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        report = json.loads(line)
        report["args"] = args
        print(json.dumps(report))
PY
  rm -f "$OUT/torch.out"
}

if [ "${SIDE_BY_SIDE:-0}" = 1 ]; then
  # model | Patchwork's bench flags | PyTorch's flags | limit (s) of each Patchwork run
  while IFS='|' read -r name ours theirs limit; do
    # shellcheck disable=SC2086
    torch 60 $theirs
    # Cold, then warm: each model starts from an empty cache of its own.
    rm -rf "$PATCHWORK_KERNEL_CACHE"
    # shellcheck disable=SC2086
    bench "$limit" $ours
    # shellcheck disable=SC2086
    bench "$limit" $ours
    if [ -n "${PATCHWORK_SPIRV:-}" ]; then
      rm -rf "$PATCHWORK_KERNEL_CACHE"
      # shellcheck disable=SC2086
      PW="$PATCHWORK_SPIRV" bench "$limit" $ours
      # shellcheck disable=SC2086
      PW="$PATCHWORK_SPIRV" bench "$limit" $ours
    fi
    echo "### $name done" >> "$LOG"
  done <<'MODELS'
patchvae|--model patchvae --size 32 --batch 128 --runs 5 --steps 10 --warmup 5|--model patchvae --size 32 --batch 128 --runs 5 --steps 10 --warmup 5|120
beta-vae|--model beta-vae --arch resnet9 --size 32 --batch 128 --runs 5 --steps 10 --warmup 5|--model beta-vae --size 32 --batch 128 --runs 5 --steps 10 --warmup 5|120
mixing-scenes|--model mixing-scenes --preset full --runs 3 --steps 1 --warmup 1|--model mixing-scenes --preset full --runs 3 --steps 1 --warmup 1|200
reference-vae|--model reference-vae --runs 5 --steps 10 --warmup 5|--model reference-vae --runs 5 --steps 10 --warmup 5|120
cycle-vae|--model cycle-vae --runs 5 --steps 10 --warmup 5|--model cycle-vae --runs 5 --steps 10 --warmup 5|120
MODELS
  python3 scripts/side-by-side-table.py "$BENCH" > "$OUT/side-by-side.md"
  cat "$OUT/side-by-side.md" >> "$LOG"
  rm -rf "$PATCHWORK_KERNEL_CACHE"
  finish
  exit 0
fi

if [ "${TRAIN:-1}" = 0 ]; then
  bench 170 --model mixing-scenes --preset small --runs 3 --steps 2 --warmup 1
  bench 60 --model mixing-scenes --preset small --rec-warmup 1000000 --warmup-collage 1 --runs 3 --steps 10 --warmup 3
  bench 200 --model mixing-scenes --preset full --runs 3 --steps 1 --warmup 1
  run 100 "$PW" bench --ui --seconds 15 --device "$DEVICE" --json
  finish
  exit 0
fi

train_s=$(( $(left) - AFTER ))
if [ -n "${RESUME:-}" ]; then
  BATCH=$(python3 -c "import json; print(json.load(open('$RESUME/config.json'))['batch_size'])")
  run "$((train_s + 20))" "$PW" train --resume "$RESUME" --epochs 100000 --max-steps 1000000000 \
    --out "$OUT/run" --device "$DEVICE" --minutes "$(minutes "$train_s")" > /dev/null
  kept=run
else
  if [ -n "${INIT:-}" ]; then
    # The checkpoint's network, data and seed; its weights.
    start_from=(--init "$INIT")
  else
    start_from=(--model mixing-scenes --preset small --data "$DATA" --seed "$SEED")
  fi
  warm_s=$(python3 -c "print(int($train_s * min(1.0, float('$WARMUP_SHARE'))))")
  run "$((warm_s + 20))" "$PW" train "${start_from[@]}" --batch "$BATCH" --lr "$LR" \
    --epochs 100000 --rec-warmup 1000000000 --warmup-collage 1 \
    --out "$OUT/run" --device "$DEVICE" --minutes "$(minutes "$warm_s")" > /dev/null
  kept=run
  if python3 -c "import sys; sys.exit(float('$WARMUP_SHARE') >= 1)"; then
    warmup=$(python3 -c "import json; print(json.load(open('$OUT/run/checkpoint/state.json'))['step'])")
    mkdir -p "$OUT/run-warmup"
    cp "$OUT"/run/checkpoint/{config.json,model.bpk,state.json,neighbours.bin} "$OUT/run-warmup/"
    mix_s=$(( $(left) - AFTER ))
    run "$((mix_s + 20))" "$PW" train --resume "$OUT/run/checkpoint" --rec-warmup "$warmup" --epochs 100000 \
      --out "$OUT/run" --device "$DEVICE" --minutes "$(minutes "$mix_s")" > /dev/null
    kept="run run-warmup"
  fi
fi
# With the optimizer state, so that a later lease can resume the run; in pieces small
# enough to fetch.
# shellcheck disable=SC2086
tar -czf "$OUT/run.tar.gz" -C "$OUT" $kept && rm -rf "$OUT/run" "$OUT/run-warmup"
split -b 15M -d "$OUT/run.tar.gz" "$OUT/run.tar.gz." && rm "$OUT/run.tar.gz"

# The steady rates at the training batch (its kernels are compiled by now), then the
# thesis's batch for both presets and the GUI's frame time, as the budget allows.
bench 40 --model mixing-scenes --preset small --batch "$BATCH" --rec-warmup 1000000 --warmup-collage 1 --runs 3 --steps 10 --warmup 3
bench 40 --model mixing-scenes --preset small --batch "$BATCH" --runs 3 --steps 2 --warmup 1
bench 60 --model mixing-scenes --preset small --runs 3 --steps 2 --warmup 1
bench 60 --model mixing-scenes --preset full --runs 3 --steps 1 --warmup 1
run 60 "$PW" bench --ui --seconds 15 --device "$DEVICE" --json
finish
