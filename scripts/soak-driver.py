"""The person in the soak test (scripts/soak.sh): once a second, one action on the window —
switch tabs, drop an image file on Swap's slots, exchange Swap's images (a new swap) —
while a PatchVAE trains; resident memory of the app sampled every 10 s. Then the report:
growth after the first five minutes, frame-time p95 per minute, a CSV and an SVG plot.

    python3 scripts/soak-driver.py drive --pid PID --window WID --minutes 60 --out DIR
    python3 scripts/soak-driver.py report --out DIR
"""
import argparse
import csv
import json
import os
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(__file__))
from xdnd import DropSource  # noqa: E402

# Window coordinates (1280 × 820 window at the screen's corner; the tab bar and the
# Swap view's slots as laid out by the app's default theme and font).
TABS = {"Data": (136, 12), "Train": (188, 12), "Parts": (241, 12), "Swap": (296, 12), "Traverse": (360, 12)}
START = (37, 492)
EPOCHS = (172, 369)
SWAP_SOURCE = (266, 165)
SWAP_TARGET = (396, 165)
EXCHANGE = (892, 254)


def png(path, w, h, seed):
    """A grey PNG with a pattern of its own (no imaging library needed)."""
    rows = b"".join(b"\x00" + bytes(((x * seed + y * 7 + (x ^ y)) * 3) % 256 for x in range(w)) for y in range(h))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def click(window, xy):
    subprocess.run(["xdotool", "mousemove", "--window", str(window), str(xy[0]), str(xy[1]), "click", "1"], check=False)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def drive(args):
    os.makedirs(args.out, exist_ok=True)
    drops = os.path.join(args.out, "drops")
    os.makedirs(drops, exist_ok=True)
    files = []
    for i, size in enumerate([(28, 28), (64, 48), (300, 200), (32, 32)]):
        path = os.path.join(drops, f"image {i}.png")
        png(path, *size, seed=i + 3)
        files.append(path)
    broken = os.path.join(drops, "broken.png")
    with open(broken, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\nnot really")
    files.append(broken)
    source = DropSource()
    # Start the default run (a PatchVAE) from the Train view, with epochs enough to train
    # for the whole soak (the default 5 take minutes).
    click(args.window, TABS["Train"])
    time.sleep(1)
    if not args.no_training:
        start_training(args.window)
    actions = ["Train", "Parts", "Swap", "drop-source", "exchange", "drop-target", "Traverse", "Swap", "exchange", "Data"]
    if args.no_actions:
        actions = []
    return run_actions(args, actions, files, source)


def start_training(window):
    # Keys go to the focused window (there is no window manager to give it focus).
    subprocess.run(["xdotool", "windowfocus", str(window)], check=False)
    click(window, EPOCHS)
    subprocess.run(["xdotool", "key", "ctrl+a", "type", "--delay", "50", "500"], check=False)
    subprocess.run(["xdotool", "key", "Return"], check=False)
    time.sleep(1)
    click(window, START)


def run_actions(args, actions, files, source):
    counts, outcomes = {}, {}
    start = time.time()
    end = start + args.minutes * 60
    with open(os.path.join(args.out, "rss.csv"), "w", newline="") as rss_file:
        rss = csv.writer(rss_file)
        rss.writerow(["seconds", "rss_mib"])
        next_sample, i = start, 0
        while time.time() < end:
            if not os.path.exists(f"/proc/{args.pid}"):
                print("the app has exited", file=sys.stderr)
                return 1
            now = time.time()
            if now >= next_sample:
                rss.writerow([round(now - start, 1), round(rss_kib(args.pid) / 1024, 1)])
                rss_file.flush()
                next_sample += 10
            action = actions[i % len(actions)] if actions else "none"
            if action == "none":
                pass
            elif action in TABS:
                click(args.window, TABS[action])
            elif action == "exchange":
                click(args.window, EXCHANGE)
            else:
                where = SWAP_SOURCE if action == "drop-source" else SWAP_TARGET
                dropped = files[(i // len(actions)) % len(files)]
                # The pointer goes where the file is dropped, as in a drag.
                subprocess.run(["xdotool", "mousemove", "--window", str(args.window), str(where[0]), str(where[1])], check=False)
                outcome = source.drop(args.window, where[0], where[1], [dropped])
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
            counts[action] = counts.get(action, 0) + 1
            i += 1
            time.sleep(max(0.0, start + i - time.time()))
    with open(os.path.join(args.out, "actions.json"), "w") as f:
        json.dump({"actions": counts, "drops": outcomes, "seconds": round(time.time() - start)}, f, indent=1)
    return 0


def percentile(sorted_values, q):
    return sorted_values[round((len(sorted_values) - 1) * q)] if sorted_values else float("nan")


def report(args):
    with open(os.path.join(args.out, "rss.csv")) as f:
        rss = [(float(r["seconds"]), float(r["rss_mib"])) for r in csv.DictReader(f)]
    frames = []
    with open(os.path.join(args.out, "frames.csv")) as f:
        for r in csv.DictReader(f):
            frames.append((float(r["seconds"]), float(r["frame_ms"])))
    # Frame times per minute of the app's clock, which starts a few seconds before the driver's.
    minutes = int(max(s for s, _ in frames) // 60) + 1 if frames else 0
    rows = []
    for m in range(minutes):
        times = sorted(ms for s, ms in frames if m * 60 <= s < (m + 1) * 60)
        at = [v for s, v in rss if m * 60 <= s < (m + 1) * 60]
        rows.append({"minute": m + 1, "rss_mib": at[-1] if at else "", "frames": len(times), "frame_p50_ms": round(percentile(times, 0.5), 2), "frame_p95_ms": round(percentile(times, 0.95), 2), "frame_max_ms": round(times[-1], 1) if times else ""})
    with open(os.path.join(args.out, "soak.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    after5 = [v for s, v in rss if s >= 300]
    all_times = sorted(ms for s, ms in frames)
    actions = json.load(open(os.path.join(args.out, "actions.json"))) if os.path.exists(os.path.join(args.out, "actions.json")) else {}
    summary = {
        "minutes": len(rows),
        "rss_mib_first": rss[0][1] if rss else None,
        "rss_mib_at_5_min": after5[0] if after5 else None,
        "rss_mib_last": rss[-1][1] if rss else None,
        "rss_mib_max": max(v for _, v in rss) if rss else None,
        "growth_after_5_min_percent": round(100 * (after5[-1] / after5[0] - 1), 2) if len(after5) > 1 else None,
        "frames": len(all_times),
        "frame_p50_ms": round(percentile(all_times, 0.5), 2),
        "frame_p95_ms": round(percentile(all_times, 0.95), 2),
        "frame_p99_ms": round(percentile(all_times, 0.99), 2),
        "worst_minute_p95_ms": max(r["frame_p95_ms"] for r in rows) if rows else None,
        **actions,
    }
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    svg(rows, os.path.join(args.out, "soak.svg"))
    print(json.dumps(summary, indent=1))
    return 0


def svg(rows, path):
    """Two panels over the minutes: resident memory, and the frame time's p50 and p95."""
    width, height, pad = 720, 460, 56
    panel = (height - 3 * pad // 2) // 2
    xs = [r["minute"] for r in rows]
    x_of = lambda m: pad + (m - 1) / max(1, max(xs) - 1) * (width - 1.5 * pad)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">', f'<rect width="{width}" height="{height}" fill="white"/>']

    def plot(top, series, label, limit=None):
        values = [v for _, vs, _ in series for v in vs if v != ""] + ([limit] if limit else [])
        hi = max(values) * 1.1 if values else 1
        y_of = lambda v: top + panel - v / hi * panel
        out.append(f'<line x1="{pad}" y1="{top + panel}" x2="{width - pad // 2}" y2="{top + panel}" stroke="black"/><line x1="{pad}" y1="{top}" x2="{pad}" y2="{top + panel}" stroke="black"/>')
        out.append(f'<text x="{pad}" y="{top - 6}">{label}</text>')
        for tick in (0, hi / 2, hi / 1.1):
            out.append(f'<text x="{pad - 6}" y="{y_of(tick) + 4}" text-anchor="end">{tick:.0f}</text>')
        if limit:
            out.append(f'<line x1="{pad}" y1="{y_of(limit)}" x2="{width - pad // 2}" y2="{y_of(limit)}" stroke="#c33" stroke-dasharray="4 3"/><text x="{width - pad // 2}" y="{y_of(limit) - 4}" text-anchor="end" fill="#c33">{limit:g} ms</text>')
        for name, vs, colour in series:
            points = " ".join(f"{x_of(m):.1f},{y_of(v):.1f}" for m, v in zip(xs, vs) if v != "")
            out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        legend = "   ".join(name for name, _, _ in series)
        out.append(f'<text x="{width - pad // 2}" y="{top - 6}" text-anchor="end">{legend}</text>')

    plot(pad // 2 + 10, [("resident memory (MiB)", [r["rss_mib"] for r in rows], "#2a6")], "resident memory, MiB")
    plot(pad + panel + 20, [("p50", [r["frame_p50_ms"] for r in rows], "#888"), ("p95", [r["frame_p95_ms"] for r in rows], "#26c")], "frame time per minute, ms (p50 grey, p95 blue)", limit=33)
    out.append(f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle">minute of the soak</text></svg>')
    with open(path, "w") as f:
        f.write("\n".join(out))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["drive", "report"])
    p.add_argument("--pid", type=int)
    p.add_argument("--window", type=int)
    p.add_argument("--minutes", type=float, default=60)
    p.add_argument("--out", required=True)
    p.add_argument("--no-training", action="store_true", help="the window only: no run is started")
    p.add_argument("--no-actions", action="store_true", help="the run only: no tab switches, drops or swaps")
    args = p.parse_args()
    sys.exit(drive(args) if args.mode == "drive" else report(args))


if __name__ == "__main__":
    main()
