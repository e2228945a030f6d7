#!/usr/bin/env python3
"""Writes a checkpoint's state.json keeping every EVERY-th step of its metric history (and
the last), one step a line: what a shipped checkpoint keeps (the full history is megabytes).

    python3 scripts/trim-history.py RUN/checkpoint/state.json DEST/state.json EVERY
"""
import json
import sys

state = json.load(open(sys.argv[1]))
every = int(sys.argv[3])
rows = state["history"]
state["history"] = [r for i, r in enumerate(rows) if r["step"] % every == 0 or i == len(rows) - 1]
head = json.dumps({**state, "history": []}, indent=2, ensure_ascii=False)
lines = ",\n    ".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in state["history"])
open(sys.argv[2], "w").write(head.replace('"history": []', '"history": [\n    ' + lines + '\n  ]', 1))
