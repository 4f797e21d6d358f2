"""Medians per instruction set of bench/isa_ab.sh's log, as a Markdown table.

Usage: python3 bench/summarize_isa_ab.py bench/out/isa_ab.log
"""
import json
import re
import statistics
import sys

# Grid of a bench-wave run -> the absorbing layer it had (devito_bench.py's 128 x 256 model).
LAYER_BY_GRID = {(208, 336): "pml40", (168, 296): "pml20", (160, 288): "pml16", (128, 256): "pml0"}


def parse(path):
    """{isa: {metric: [value per round]}} in the order the log names them."""
    runs, isa = {}, None
    for line in open(path):
        head = re.match(r"== round \d+ (\w+)", line)
        if head:
            isa = head.group(1)
            runs.setdefault(isa, {})
            continue

        def add(metric, value):
            runs[isa].setdefault(metric, []).append(value)

        step = re.match(r"batch 16, threads (\d): forward ([\d.]+) s, .*step ([\d.]+) s, CPU ([\d.]+)", line)
        if step:
            threads = step.group(1)
            add(f"train step s, {threads} thread(s)", float(step.group(3)))
            add(f"train forward s, {threads} thread(s)", float(step.group(2)))
            add(f"train CPU s per step, {threads} thread(s)", float(step.group(4)))
            continue
        pair = re.match(r"\s+(\d)\s+([\d.]+)\s+[\d.]+", line)
        if pair:
            add(f"CFG pair ms, {pair.group(1)} thread(s)", float(pair.group(2)))
            continue
        sample = re.match(r"posterior sample λ = (\d).*: ([\d.]+) s", line)
        if sample:
            add(f"posterior sample s, lambda {sample.group(1)}", float(sample.group(2)))
            continue
        if line.startswith("[{"):
            row = json.loads(line)[0]
            layer = LAYER_BY_GRID.get(tuple(row["grid"]), str(row["grid"]))
            add(f"wave forward s, {layer}", row["forward_s"])
            add(f"wave GPts/s, {layer}", row["gpts"])
            if row["rtm_s"]:
                add(f"RTM shot s, {layer}", row["rtm_s"])
    return runs


def main():
    runs = parse(sys.argv[1])
    if len(runs) != 2:
        sys.exit(f"expected two instruction sets in the log, found {list(runs)}")
    first, second = runs
    print(f"| metric | {first} (median) | {second} (median) | {first} ÷ {second} | runs {first} | runs {second} |")
    print("|---|---|---|---|---|---|")
    for metric, a in runs[first].items():
        b = runs[second].get(metric)
        if not b:
            continue
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"| {metric} | {ma:.4g} | {mb:.4g} | {ma / mb:.2f} | "
              f"{' '.join(f'{v:.3g}' for v in a)} | {' '.join(f'{v:.3g}' for v in b)} |")


if __name__ == "__main__":
    main()
