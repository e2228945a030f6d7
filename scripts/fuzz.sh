#!/usr/bin/env bash
# The full fuzz runs of docs/reliability.md; the README's test command runs a slice of the
# same harnesses with seed 1: 300 image cases (tests/tests/end_to_end/fuzz_images.rs) and
# 60 checkpoint cases (fuzz_checkpoints.rs).
#
#   bash scripts/fuzz.sh      # per seed (1 and 2): 5,000 image cases, 400 checkpoint cases
#   CASES=20000 CHECKPOINTS=1000 SEEDS="1 2 3" bash scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for seed in ${SEEDS:-1 2}; do
  echo "## seed $seed"
  PATCHWORK_FUZZ_IMAGES=${CASES:-5000} PATCHWORK_FUZZ_CHECKPOINTS=${CHECKPOINTS:-400} PATCHWORK_FUZZ_SEED=$seed \
    cargo test --workspace --locked -q --test end_to_end -- fuzz_ --nocapture --test-threads 1 2>&1 |
    grep -E "cases|as a folder|claiming|test result|panicked"
done

# Unreadable files and folders: the tests run as root, which reads everything, so this
# part trains one step as the unprivileged user "nobody" (setpriv) on a folder holding
# 4 images, one unreadable image and one unreadable sub-folder (with an image inside).
echo "## unreadable permissions"
PW=${PATCHWORK:-target/debug/patchwork}
perm=$(mktemp -d); chmod 755 "$perm"
mkdir -p "$perm/data/a" "$perm/data/locked" "$perm/out"
python3 - "$perm/data" <<'PY'
import struct, sys, zlib
def png(path, seed):
    rows = b"".join(b"\0" + bytes((x * seed + y) % 256 for x in range(28)) for y in range(28))
    chunk = lambda k, d: struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
for i in range(4):
    png(f"{sys.argv[1]}/a/{i}.png", i + 2)
png(f"{sys.argv[1]}/a/secret.png", 9)
png(f"{sys.argv[1]}/locked/inside.png", 11)
PY
chmod 000 "$perm/data/a/secret.png" "$perm/data/locked"
chmod 777 "$perm/out"
if setpriv --reuid=65534 --regid=65534 --clear-groups "$PW" train --model beta-vae --arch mlp --size 28 --batch 2 --max-steps 1 --device cpu \
    --data "folder:$perm/data" --out "$perm/out/run" > "$perm/log" 2>&1; then
  grep -E "training images|unreadable|secret|locked" "$perm/log" | sed 's/^/  /'
else
  echo "  the run failed as nobody:"; tail -5 "$perm/log" | sed 's/^/  /'
fi
chmod -R 755 "$perm"; rm -rf "$perm"
