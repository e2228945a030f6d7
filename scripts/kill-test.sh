#!/usr/bin/env bash
# kill -9 during training, N times at seeded random moments (docs/reliability.md): a β-VAE
# run that checkpoints every epoch, killed, then checked — the run folder's
# checkpoint must load (`eval recon`) — and resumed from it by the next round, so every kill
# after the first lands in a resumed run. Prints one line per round and a summary: kills,
# checkpoints that loaded, resumes that continued from a later step, temporary folders left.
#
#   bash scripts/kill-test.sh                 # 20 rounds
#   N=50 PATCHWORK=target/debug/patchwork OUT=/tmp/kills bash scripts/kill-test.sh
set -uo pipefail
PW=${PATCHWORK:-target/debug/patchwork}
N=${N:-20}
OUT=${OUT:-/tmp/patchwork-kill-test}
rm -rf "$OUT"; mkdir -p "$OUT"
run="$OUT/run"
# A checkpoint every epoch: the embedded Fashion-MNIST's 10,000 images at batch 250, 40 steps,
# a few seconds on 2 cores.
fresh=(--model beta-vae --arch mlp --size 28 --latent 8 --batch 250 --epochs 100000 --seed 1)
loaded=0; continued=0; last_step=-1
for i in $(seq 1 "$N"); do
  if [ -f "$run/checkpoint/state.json" ]; then
    args=(--resume "$run/checkpoint" --out "$run")
  else
    args=("${fresh[@]}" --out "$run")
  fi
  "$PW" train "${args[@]}" --device cpu > "$OUT/train-$i.log" 2>&1 &
  pid=$!
  wait_s=$(python3 -c "import random; random.seed($i); print(round(random.uniform(3, 12), 2))")
  sleep "$wait_s"
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  step=$(python3 -c "import json,sys; print(json.load(open('$run/checkpoint/state.json'))['step'])" 2>/dev/null || echo none)
  if "$PW" eval recon --checkpoint "$run" --device cpu > "$OUT/eval-$i.log" 2>&1; then
    loaded=$((loaded + 1)); verdict="loads"
  else
    verdict="DOES NOT LOAD: $(tail -1 "$OUT/eval-$i.log")"
  fi
  if [ "$step" != none ] && [ "$step" -gt "$last_step" ]; then continued=$((continued + 1)); fi
  [ "$step" != none ] && last_step=$step
  echo "round $i: killed after ${wait_s}s; checkpoint at step $step $verdict"
done
left=$(find "$run" -maxdepth 1 -name '.*' | wc -l)
echo "$N kills: $loaded checkpoints loaded, $continued rounds ended further than the round before, $left temporary entries left in the run folder"

# A resumed run's metrics against an uninterrupted run's: the same 160 steps trained
# straight through (a) and killed once past its first checkpoint, then resumed (b).
eq="$OUT/equal"; mkdir -p "$eq"
"$PW" train "${fresh[@]}" --max-steps 160 --device cpu --out "$eq/a" > "$eq/a.log" 2>&1
"$PW" train "${fresh[@]}" --max-steps 160 --device cpu --out "$eq/b" > "$eq/b.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q "checkpoint saved" "$eq/b.log" && break; sleep 0.1; done
sleep 1.5
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
"$PW" train --resume "$eq/b/checkpoint" --max-steps 160 --device cpu --out "$eq/b" > "$eq/b-resumed.log" 2>&1
python3 - "$eq" <<'PY'
import json, sys
eq = sys.argv[1]
rows = lambda path: {m["step"]: m for m in map(json.loads, open(path))}
a, b = rows(f"{eq}/a/metrics.jsonl"), rows(f"{eq}/b/metrics.jsonl")
import os, re
saved = [int(s) for s in re.findall(r"step (\d+): checkpoint saved", open(f"{eq}/b.log").read())]
steps = sorted(set(a) & set(b))
values = lambda m: [(k, v) for field in ("losses", "schedules", "hyper", "measures") for k, v in m.get(field, [])] + [("lr", m["lr"])]
differ = [s for s in steps if values(a[s]) != values(b[s])]
discarded = sum(1 for _ in open(f"{eq}/b/metrics.discarded.jsonl")) if os.path.exists(f"{eq}/b/metrics.discarded.jsonl") else 0
print(f"killed after the checkpoint of step {saved[-1] if saved else '?'}, resumed from it to 160: {len(steps)} of 160 steps in both logs, {len(differ)} differ in any loss, schedule, setting or lr"
      f"{' (first: step %d)' % differ[0] if differ else ''}; {discarded} rows the killed run logged past its checkpoint set aside")
PY
