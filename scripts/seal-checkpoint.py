#!/usr/bin/env python3
"""Adds to a checkpoint's state.json the checksums of its weights files (FNV-1a, 64 bits,
as `patchwork` writes them since checkpoints carry checksums), so that a damaged
model.bpk is refused by name instead of loading. For checkpoints saved before that, such
as the shipped ones in checkpoints/; the weights themselves are not changed.

    python3 scripts/seal-checkpoint.py checkpoints/*/
"""
import json
import os
import sys

FILES = ["model.bpk", "optimizer.bpk"]


def fnv1a64(path):
    h = 0xCBF29CE484222325
    with open(path, "rb") as f:
        for b in f.read():
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def seal(folder):
    path = os.path.join(folder, "state.json")
    state = json.load(open(path))
    sums = {name: fnv1a64(os.path.join(folder, name)) for name in FILES if os.path.isfile(os.path.join(folder, name))}
    old = state.get("checksums", {})
    if any(old.get(n) not in (None, s) for n, s in sums.items()):
        sys.exit(f"{path}: its checksums differ from the files': the weights changed since it was saved; not sealing")
    # Inserted as text before the history, so the rest of the file stays byte for byte as
    # patchwork wrote it.
    text = open(path).read()
    entries = ",\n".join(f'    "{n}": "{s}"' for n, s in sorted(sums.items()))
    block = '  "checksums": {\n' + entries + "\n  },\n"
    if "checksums" in state:
        start = text.index('  "checksums"')
        end = text.index('"history"', start)
        text = text[:start] + text[end - 2:]
    at = text.index('  "history"')
    text = text[:at] + block + text[at:]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    print(f"{folder}: {', '.join(f'{n} {s}' for n, s in sums.items())}")


for folder in sys.argv[1:]:
    seal(folder)
