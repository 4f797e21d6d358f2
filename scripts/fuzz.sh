#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of user-supplied bytes (a manual or nightly job,
# NOT part of CI: it needs a nightly toolchain and cargo-fuzz).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Runs each fuzz target of fuzz/ (all of them unless named) for SECONDS (default 60) with
# libFuzzer, one job at a time at low priority. Each target starts from the committed seed
# corpus (fuzz/corpus/<target>/, read only) and the crash regressions
# (fuzz/regressions/<target>/); what libFuzzer finds grows fuzz/work/<target>/ (ignored by
# git). A crash stops that target, leaves the input under fuzz/artifacts/<target>/ and
# makes the script exit 1 at the end. Then:
#   cargo +nightly fuzz tmin <target> fuzz/artifacts/<target>/crash-...   # minimise
#   cp the minimised input to fuzz/regressions/<target>/<what-it-was>, fix the parser,
#   and `cargo test -p powerpost-fuzz-bodies` replays it on stable from then on.
#
# Needs: rustup's nightly toolchain and `cargo install cargo-fuzz`. Environment:
#   FUZZ_JOBS   parallel libFuzzer jobs (default 1: one process, output on the terminal;
#               more: -jobs/-workers, output in fuzz/fuzz-N.log)
#   FUZZ_NICE   niceness (default 10)
#   FUZZ_ARGS   extra libFuzzer flags (e.g. "-max_len=65536")
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz.sh: no nightly toolchain (rustup toolchain install nightly)" >&2
  exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: cargo-fuzz is missing (cargo install cargo-fuzz)" >&2
  exit 2
fi
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi
jobs="${FUZZ_JOBS:-1}"
niceness="${FUZZ_NICE:-10}"

(cd fuzz && nice -n "$niceness" cargo +nightly fuzz build)
failed=()
for t in "${targets[@]}"; do
  echo "== $t: ${seconds} s"
  mkdir -p "fuzz/work/$t" "fuzz/artifacts/$t"
  seeds=("fuzz/corpus/$t")
  [ -d "fuzz/regressions/$t" ] && seeds+=("fuzz/regressions/$t")
  parallel=()
  [ "$jobs" -gt 1 ] && parallel=(-jobs="$jobs" -workers="$jobs")
  # shellcheck disable=SC2086
  if ! (cd fuzz && nice -n "$niceness" cargo +nightly fuzz run "$t" \
      "work/$t" "${seeds[@]/#fuzz\//}" -- \
      -max_total_time="$seconds" "${parallel[@]}" \
      -artifact_prefix="artifacts/$t/" -print_final_stats=1 ${FUZZ_ARGS:-}); then
    failed+=("$t")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: no findings in ${#targets[@]} targets"
