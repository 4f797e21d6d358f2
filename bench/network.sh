#!/usr/bin/env bash
# Network benchmark: powerpost's score network side by side with its peers (candle,
# ONNX Runtime) and the machine's peak f32 throughput, in one run. Results: one JSON line
# per measurement in bench/out/network.jsonl. See bench/README.md.
#
# Environment: REPEATS (default 10), THREADS (default "1 2"), SEED (2024), HEIGHT (64),
# WIDTH (128), OUT (bench/out), PYTHON (bench/.venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."

REPEATS=${REPEATS:-10}
THREADS=${THREADS:-"1 2"}
SEED=${SEED:-2024}
HEIGHT=${HEIGHT:-64}
WIDTH=${WIDTH:-128}
OUT=${OUT:-bench/out}
PYTHON=${PYTHON:-bench/.venv/bin/python}
PEERS=bench/peers/target/release/peers

if [ ! -x "$PYTHON" ]; then
    echo "network.sh: $PYTHON not found; create it with:" >&2
    echo "  python3 -m venv bench/.venv && bench/.venv/bin/pip install -r bench/requirements.txt" >&2
    exit 2
fi

cargo build --release --manifest-path bench/peers/Cargo.toml
cargo build --release -p powerpost
mkdir -p "$OUT"
"$PEERS" export --out "$OUT" --seed "$SEED" --height "$HEIGHT" --width "$WIDTH"

RESULTS="$OUT/network.jsonl"
: > "$RESULTS.tmp"
for n in $THREADS; do
    # powerpost: the same weights, portable build (runtime ISA dispatch).
    target/release/powerpost bench --weights "$OUT/weights.safetensors" --height "$HEIGHT" --width "$WIDTH" \
        --threads "$n" --repeats "$REPEATS" --json "$RESULTS.tmp"
    "$PEERS" candle --dir "$OUT" --threads "$n" --repeats "$REPEATS" | tee -a "$RESULTS.tmp"
    "$PYTHON" bench/onnx_peer.py --dir "$OUT" --threads "$n" --repeats "$REPEATS" | tee -a "$RESULTS.tmp"
    "$PEERS" peak --threads "$n" | tee -a "$RESULTS.tmp"
done
mv "$RESULTS.tmp" "$RESULTS"
echo "network.sh: results in $RESULTS" >&2
python3 bench/summarize_network.py "$RESULTS"
