#!/usr/bin/env bash
# Training-step benchmark: powerpost's training step (train/examples/bench_step.rs) side by
# side with stock candle's (bench/peers, `peers candle-train`), same architecture
# (UNetConfig::DEFAULT), batch, image size and machine, in one run, with the machine's
# peak f32 throughput at each thread count (`peers peak`: separate multiplies and adds,
# and FMA). Prints the load average, one JSON line per measurement (also in
# $OUT/train_step.jsonl) and a table of medians, ratios and the step's convolution
# throughput against those peaks. See bench/README.md ("Training step").
#
# Environment: REPEATS (timed steps after one warm-up, default 3), THREADS (default "1 2"),
# BATCH (16), OUT (bench/out), PEERS_TARGET (cargo target dir of bench/peers, default
# bench/peers/target).
set -euo pipefail
cd "$(dirname "$0")/.."

REPEATS=${REPEATS:-3}
THREADS=${THREADS:-"1 2"}
BATCH=${BATCH:-16}
OUT=${OUT:-bench/out}
PEERS_TARGET=${PEERS_TARGET:-bench/peers/target}

CARGO_TARGET_DIR="$PEERS_TARGET" cargo build --release --manifest-path bench/peers/Cargo.toml
cargo build --release -p powerpost-train --example bench_step
mkdir -p "$OUT"
RESULTS="$OUT/train_step.jsonl"
: > "$RESULTS.tmp"
echo "load before: $(uptime)" >&2
for n in $THREADS; do
    target/release/examples/bench_step "$BATCH" "$n" "$REPEATS" | tee /dev/stderr | grep '^{' >> "$RESULTS.tmp"
    "$PEERS_TARGET/release/peers" candle-train --threads "$n" --repeats "$REPEATS" --batch "$BATCH" | tee -a "$RESULTS.tmp"
    "$PEERS_TARGET/release/peers" peak --threads "$n" | tee -a "$RESULTS.tmp"
done
echo "load after: $(uptime)" >&2
mv "$RESULTS.tmp" "$RESULTS"
python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {(r["peer"], r["threads"]): r for r in rows}
print("| threads | powerpost step s (fwd / bwd / update) | candle step s (fwd / bwd / update) | candle ÷ powerpost | CPU s per step (powerpost / candle) | peak MiB (powerpost / candle) | conv GFLOP/s (% of mul+add / FMA peak) | step at the mul+add / FMA peak |")
print("|---|---|---|---|---|---|---|---|")
for t in sorted({r["threads"] for r in rows}):
    p, c, k = by.get(("powerpost", t)), by.get(("candle", t)), by.get(("peak", t))
    if not (p and c):
        continue
    parts = lambda r: f'{r["median_step_s"]:.3f} ({r["median_forward_s"]:.3f} / {r["median_backward_s"]:.3f} / {r["median_update_s"]:.3f})'
    line = f'| {t} | {parts(p)} | {parts(c)} | {c["median_step_s"] / p["median_step_s"]:.2f} | {p["median_cpu_s"]:.2f} / {c["median_cpu_s"]:.2f} | {p["peak_mib"]:.0f} / {c["peak_mib"]:.0f} |'
    if k and "conv_gflop" in p:
        rate = p["conv_gflop"] / p["median_step_s"]
        ma, fma = k["peak_mul_add_gflops"], k["peak_fma_gflops"]
        line += f' {rate:.1f} ({100 * rate / ma:.0f} % / {100 * rate / fma:.0f} %) | {p["conv_gflop"] / ma:.2f} / {p["conv_gflop"] / fma:.2f} s |'
    else:
        line += " | |"
    print(line)
PY
