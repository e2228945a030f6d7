#!/usr/bin/env bash
# One short lease of a GPU machine, used in full: wgpu benchmarks of the mixing-scenes
# presets, a time-boxed mixing-scenes training run (small preset, the shipped model's
# schedule: plain-autoencoder warm-up with the collage term, then Algorithm 1's iterations
# with every term) whose warm-up / mixing split is sized from the rates just measured, and
# then the other families' benchmarks. Figures: docs/benchmarks.md "GPU: wgpu (Vulkan) on an
# NVIDIA H200", docs/results.md "A time-boxed run on a GPU".
#
#   PATCHWORK=target/debug/patchwork OUT=runs/gpu-session bash scripts/gpu-session.sh
#   BUDGET=530 WARMUP_SHARE=0.7 BATCH=64 DATA=scenes SEED=1 bash scripts/gpu-session.sh
#
# Everything lands in $OUT: log.txt (every command and what it printed), bench.jsonl (one
# benchmark report per line) and run.tar.gz.00, .01, … (pieces of 15 MB: cat them together)
# holding run/ (the final checkpoint, weights only, and metrics.jsonl) and run-warmup/ (the
# checkpoint at the end of the warm-up).
# BUDGET (seconds) bounds the whole script: each step gets at most what is left of it.
# Not -e: a benchmark that fails or runs out of time must not cost the training run.
set -uo pipefail

PW=${PATCHWORK:-target/debug/patchwork}
OUT=${OUT:-runs/gpu-session}
BUDGET=${BUDGET:-530}
BATCH=${BATCH:-64}
DATA=${DATA:-scenes}
SEED=${SEED:-1}
LR=${LR:-5e-4}
# Share of the training time spent in the warm-up; the rest runs mixing iterations.
WARMUP_SHARE=${WARMUP_SHARE:-0.7}
# Seconds kept for the benchmarks that run after training.
AFTER=${AFTER:-130}
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

rate() { # rate FILTER: steps/s of the last bench.jsonl line whose args contain FILTER
  python3 - "$BENCH" "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows if sys.argv[2] in r["args"]]
print(rows[-1]["train_images_per_sec"] / rows[-1]["batch"] if rows else 0)
PY
}

run 30 "$PW" devices

# The rates the training schedule is sized from: a warm-up step and a mixing iteration at
# the training batch.
bench 90 --model mixing-scenes --preset small --batch "$BATCH" --rec-warmup 1000000 --warmup-collage 1 --runs 3 --steps 10 --warmup 3
bench 90 --model mixing-scenes --preset small --batch "$BATCH" --runs 3 --steps 2 --warmup 1
warm_rate=$(rate "--batch $BATCH --rec-warmup")
mix_rate=$(rate "--batch $BATCH --runs")

train_s=$(( $(left) - AFTER ))
read -r warmup max_steps warm_s < <(python3 -c "
w, m, t, share = float('$warm_rate'), float('$mix_rate'), $train_s, float('$WARMUP_SHARE')
# Each of the two runs spends time outside its steps (scenes, neighbour index, kernel
# compilation, checkpoints): plan the steps for 80 % of the time, less 15 s each.
warm_s = share * t
warm = max(int((warm_s * 0.8 - 15) * w), 1)
mix = max(int(((t - warm_s) * 0.8 - 15) * m), 1)
print(warm, warm + mix, int(warm_s))
")
echo "### schedule: warm-up $warm_rate steps/s, mixing $mix_rate it/s, ${train_s}s for training -> --rec-warmup $warmup --max-steps $max_steps" >> "$LOG"
minutes() { python3 -c "print(round(max($1, 60) / 60, 2))"; }
# The warm-up as a run of its own, so that its last weights are kept (run-warmup/); then
# the same run resumed (optimizer, neighbour index and all) through the mixing iterations.
run "$((warm_s + 30))" "$PW" train --model mixing-scenes --preset small --data "$DATA" --batch "$BATCH" --lr "$LR" \
  --epochs 100000 --rec-warmup "$warmup" --warmup-collage 1 --max-steps "$warmup" --seed "$SEED" \
  --out "$OUT/run" --device "$DEVICE" --minutes "$(minutes $((warm_s - 10)))" > /dev/null
mkdir -p "$OUT/run-warmup"
cp "$OUT"/run/checkpoint/{config.json,model.bpk,state.json,neighbours.bin} "$OUT/run-warmup/"
run "$(( $(left) - AFTER + 30 ))" "$PW" train --resume "$OUT/run/checkpoint" --epochs 100000 --max-steps "$max_steps" \
  --out "$OUT/run" --device "$DEVICE" --minutes "$(minutes $(( $(left) - AFTER - 10 )))" > /dev/null
# Weights only (the optimizer state would double the size), in pieces small enough to fetch.
rm -f "$OUT/run/checkpoint/optimizer.bpk"
tar -czf "$OUT/run.tar.gz" -C "$OUT" run run-warmup && rm -rf "$OUT/run" "$OUT/run-warmup"
split -b 15M -d "$OUT/run.tar.gz" "$OUT/run.tar.gz." && rm "$OUT/run.tar.gz"

# The rest, most wanted first, each in what the budget still allows.
bench 40 --model mixing-scenes --preset full --runs 3 --steps 1 --warmup 1
bench 30 --model patchvae --size 32 --batch 128 --runs 5 --steps 10 --warmup 5
run 30 "$PW" bench --ui --seconds 15 --device "$DEVICE" --json
bench 30 --model mixing-scenes --preset small --runs 3 --steps 2 --warmup 1
bench 30 --model beta-vae --arch resnet9 --size 32 --batch 128 --runs 5 --steps 10 --warmup 5
echo "### done at t=$(( $(date +%s) - start ))s" >> "$LOG"
