#!/usr/bin/env python3
"""The side-by-side table of `SIDE_BY_SIDE=1 bash scripts/gpu-session.sh`, as markdown, from
its bench.jsonl: per model, PyTorch eager on CUDA (scripts/pytorch-bench.py) beside
Patchwork on wgpu with WGSL kernels and, where it ran, the `spirv` build's SPIR-V kernels,
each with a cold and a warm kernel cache. Training images/s are medians of timed runs after
warm-up (the warm run's); "first step" is the seconds from building the model to the end
of its first training step.

    python3 scripts/side-by-side-table.py runs/gpu-session/bench.jsonl > side-by-side.md
"""
import json
import re
import sys


def model_of(report):
    found = re.search(r"--model (\S+)", report.get("args", ""))
    name = found.group(1) if found else report.get("model", "?")
    preset = re.search(r"--preset (\S+)", report.get("args", ""))
    return f"{name} ({preset.group(1)})" if preset else name


def main(path):
    rows = {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        report = json.loads(line)
        row = rows.setdefault(model_of(report), {})
        rate, first = report.get("train_images_per_sec"), report.get("first_step_seconds")
        if "framework" in report:
            row["torch"] = (rate, first, report["framework"])
            continue
        kernels = "spirv" if "SPIR-V kernels" in report.get("device", "") else "wgsl"
        cache = "cold" if report.get("kernel_cache_bytes_before") == 0 else "warm"
        row[f"{kernels} {cache}"] = (rate, first, report.get("device", ""))

    def num(value, digits=1, unit=""):
        return "–" if value is None else f"{value:,.{digits}f}{unit}"

    devices = sorted({entry[2] for row in rows.values() for entry in row.values()})
    print("Devices: " + "; ".join(devices) + "\n")
    print("| model | PyTorch CUDA img/s | WGSL img/s | WGSL / PyTorch | SPIR-V img/s | SPIR-V / PyTorch | first step: PyTorch | WGSL cold | WGSL warm | SPIR-V cold | SPIR-V warm |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    none = (None, None, "")
    for model, row in rows.items():
        torch = row.get("torch", none)

        def rate(kernels):
            return row.get(f"{kernels} warm", row.get(f"{kernels} cold", none))[0]

        def ratio(value):
            return f"{value / torch[0]:.2f}×" if value and torch[0] else "–"

        first = [row.get(key, none)[1] for key in ("wgsl cold", "wgsl warm", "spirv cold", "spirv warm")]
        cells = [num(torch[0]), num(rate("wgsl")), ratio(rate("wgsl")), num(rate("spirv")), ratio(rate("spirv")), num(torch[1], 2, " s")]
        cells += [num(f, 1, " s") for f in first]
        print(f"| {model} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
