#!/usr/bin/env bash
# The same binaries with two instruction sets, alternated (POWERPOST_ISA caps the one the
# kernels use; output bits are the same): training step (1 and 2 threads), score network
# and a posterior sample, wave forward and RTM on devito_bench.py's problem. Prints a
# table of medians over the rounds; the raw log goes to $OUT/isa_ab.log.
#
# Environment: ISAS (default "avx2 avx512"), ROUNDS (3), OUT (bench/out). Needs
# bench/out/model.npy (written by devito_bench.py, or any 128 × 256 float32 model).
set -euo pipefail
cd "$(dirname "$0")/.."
ISAS=${ISAS:-"avx2 avx512"}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-bench/out}
cargo build --release -p powerpost
cargo build --release -p powerpost-train --example bench_step
mkdir -p "$OUT"
LOG="$OUT/isa_ab.log"
: > "$LOG"
W="target/release/powerpost bench-wave --model $OUT/model.npy --spacing 12.5 --dt 0.002 --nt 1001
   --f0 15 --delay 0.0666667 --source 300 1600 --receiver-depth 300 --space-order 8 --threads 1
   --repeats 5"
for round in $(seq "$ROUNDS"); do
    for isa in $ISAS; do
        export POWERPOST_ISA=$isa
        {
            echo "== round $round $isa $(uptime | sed 's/.*average: //')"
            target/release/examples/bench_step 16 2 3 2>&1 | grep -E "^batch"
            target/release/examples/bench_step 16 1 2 2>&1 | grep -E "^batch"
            target/release/powerpost bench --weights weights/powerpost-edge.safetensors \
                --threads 1,2 --repeats 7 --sample 2>&1 | grep -vE "^\{|workspace|powerpost 0"
            $W --pml 40 --rtm 2>&1 | grep '^\['
            $W --pml 16 --rtm 2>&1 | grep '^\['
            $W --pml 0 2>&1 | grep '^\['
        } | tee -a "$LOG"
    done
done
python3 bench/summarize_isa_ab.py "$LOG"
