#!/usr/bin/env bash
# Old-against-new A/B of the wave kernels and the training-data build: two powerpost
# binaries run alternately, round after round, on the same problems; prints the median and
# the fastest run of each side and their change. See bench/README.md ("Session 12").
#
# Usage: bench/wave_ab.sh OLD_BINARY NEW_BINARY [ROUNDS]   (from the repository root)
#
# Build each commit into its own copy first (e.g. `cargo build --release -p powerpost &&
# cp target/release/powerpost /tmp/pp_new`). Problems: an `edge`-sized grid (127 × 255,
# whose rows end in 15-point tails) with AVX-512 and with POWERPOST_ISA=avx2; Devito's
# problem (bench/out/model.npy, written by bench/devito_bench.py; skipped if absent) with
# its 40-point layer and our 16-point one; a 512 × 1024 grid on 2 threads; and
# `powerpost dataset` for 2 pairs on 1 thread (user CPU seconds).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
    echo "usage: bench/wave_ab.sh OLD_BINARY NEW_BINARY [ROUNDS] (two executable powerpost builds)" >&2
    exit 2
fi
OLD=$(realpath "$1")
NEW=$(realpath "$2")
ROUNDS=${3:-5}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
LOG="$WORK/ab.log"

# Two-layer models (1.5 km/s over 2.5 km/s), written without numpy.
model() {
    python3 - "$1" "$2" "$3" "$4" <<'PY'
import struct, sys
nz, nx, water, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (nz, nx)
hdr += " " * (64 - (10 + len(hdr) + 1) % 64) + "\n"
with open(out, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    for iz in range(nz):
        f.write(struct.pack("<%df" % nx, *([1500.0 if iz < water else 2500.0] * nx)))
PY
}
model 127 255 24 "$WORK/m255.npy"
model 512 1024 32 "$WORK/m512.npy"
DEVITO=bench/out/model.npy

times() { grep -o '"forward_s": [0-9.]*\|"rtm_s": [0-9.]*' | awk '{print $2}' | tr '\n' ' '; }

echo "load before: $(uptime)" >&2
for r in $(seq 1 "$ROUNDS"); do
    for side in old new; do
        if [ $side = old ]; then B=$OLD; else B=$NEW; fi
        for isa in avx512 avx2; do
            t=$(POWERPOST_ISA=$isa "$B" bench-wave --model "$WORK/m255.npy" --spacing 12.5 \
                --dt 0.001 --nt 1001 --delay 0.1 --pml 16 --source 100 1500 \
                --receiver-depth 100 --threads 1 --repeats 5 --rtm 2>&1 | times)
            echo "edge-$isa $side $t" >> "$LOG"
        done
        if [ -f "$DEVITO" ]; then
            for pml in 40 16; do
                t=$("$B" bench-wave --model "$DEVITO" --spacing 12.5 --dt 0.002 --nt 1001 \
                    --f0 15 --delay 0.0666667 --pml $pml --space-order 8 --source 300 1600 \
                    --receiver-depth 300 --threads 1 --repeats 5 --rtm 2>&1 | times)
                echo "devito-pml$pml $side $t" >> "$LOG"
            done
        fi
        t=$("$B" bench-wave --model "$WORK/m512.npy" --spacing 12.5 --dt 0.002 --nt 301 \
            --delay 0.0666667 --pml 20 --source 300 6400 --receiver-depth 300 --threads 2 \
            --repeats 3 --rtm 2>&1 | times)
        echo "m512-2threads $side $t" >> "$LOG"
        rm -rf "$WORK/d"
        /usr/bin/time -f "%U" -o "$WORK/t" "$B" dataset --out "$WORK/d" --pairs 2 \
            --held-out 1 --threads 1 -q > /dev/null 2>&1
        echo "dataset-2pairs $side $(cat "$WORK/t")" >> "$LOG"
        echo "round $r $side done" >&2
    done
done
echo "load after: $(uptime)" >&2
python3 - "$LOG" <<'PY'
import collections, statistics as st, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    v = line.split()
    if v[0].startswith("dataset"):
        d[(v[0], "user CPU-s", v[1])].append(float(v[2]))
    else:
        d[(v[0], "forward s", v[1])].append(float(v[2]))
        d[(v[0], "RTM s", v[1])].append(float(v[3]))
print("| problem | measure | old: median / fastest | new: median / fastest | change: median / fastest |")
print("|---|---|---|---|---|")
for prob, what in dict.fromkeys((p, w) for p, w, _ in d):
    o, n = d[(prob, what, "old")], d[(prob, what, "new")]
    mo, mn, fo, fn = st.median(o), st.median(n), min(o), min(n)
    print(f"| {prob} | {what} | {mo:.4f} / {fo:.4f} | {mn:.4f} / {fn:.4f} | "
          f"{100 * (mn / mo - 1):+.1f} % / {100 * (fn / fo - 1):+.1f} % |")
PY
