#!/usr/bin/env bash
# An hour's soak of the window (docs/reliability.md): the GUI under Xvfb trains the Train
# view's default PatchVAE while scripts/soak-driver.py switches tabs, drops image files on
# Swap's slots (XDND, as a file manager does) and exchanges Swap's images (a new swap) once
# a second. Resident memory is sampled every 10 s, every frame's time is logged by the app
# (PATCHWORK_FRAME_LOG); the report writes soak.csv (per minute), summary.json and soak.svg.
#
#   bash scripts/soak.sh                         # 60 minutes, into /tmp/patchwork-soak
#   MINUTES=5 OUT=/tmp/soak bash scripts/soak.sh
#   DRIVER_ARGS=--no-actions bash scripts/soak.sh      # the run alone (or --no-training)
# Needs Xvfb, xdotool and python-xlib (apt-get install xvfb xdotool; pip install python-xlib).
set -euo pipefail
cd "$(dirname "$0")/.."
PW=${PATCHWORK:-target/debug/patchwork}
MINUTES=${MINUTES:-60}
OUT=${OUT:-/tmp/patchwork-soak}
SCREEN=${SCREEN_NUMBER:-:98}
rm -rf "$OUT"; mkdir -p "$OUT/home" "$OUT/xdg"; chmod 700 "$OUT/xdg"
Xvfb "$SCREEN" -screen 0 1600x1000x24 >"$OUT/xvfb.log" 2>&1 &
xvfb=$!
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
sleep 2
export DISPLAY=$SCREEN HOME=$OUT/home XDG_RUNTIME_DIR=$OUT/xdg PATCHWORK_FILE_DIALOG=off PATCHWORK_FRAME_LOG=$OUT/frames.csv
PW=$(realpath "$PW")
# From the soak's home, so the run folder (runs/) lands there too.
(cd "$OUT/home" && exec "$PW") >"$OUT/app.log" 2>&1 &
app=$!
window=""
for _ in $(seq 1 60); do
  window=$(xdotool search --name '^Patchwork$' 2>/dev/null | head -1 || true)
  [ -n "$window" ] && break
  sleep 1
done
[ -n "$window" ] || { echo "no Patchwork window after 60 s"; cat "$OUT/app.log"; exit 1; }
xdotool windowsize "$window" 1280 820 windowmove "$window" 0 0
sleep 5
python3 scripts/soak-driver.py drive --pid "$app" --window "$window" --minutes "$MINUTES" --out "$OUT" ${DRIVER_ARGS:-}
import -window root -crop 1280x820+0+0 "$OUT/last.png" 2>/dev/null || true
kill "$app"; wait "$app" 2>/dev/null || true
python3 scripts/soak-driver.py report --out "$OUT"
