#!/usr/bin/env bash
# Runs every test powerpost has. This is the README's test command and what CI calls.
#
# 0. The quick gates first: rustfmt's formatting and clippy's lints (warnings are errors;
#    each crate's `rust-version` is the MSRV it checks against) over every crate and target.
# 1. The whole workspace's tests (unit, integration, insta snapshots).
# 2. The no_std/no-alloc proof: a `#![no_std]` staticlib with its own panic handler and no
#    global allocator that calls the network's forward pass. It fails to build if the core
#    ever pulls in std or alloc.
# 3. The bit-exactness suites (network and wave physics) again under
#    `-C target-cpu=native` (wider SIMD, other
#    instruction selection): the snapshot digests must not change.
# 4. The API docs of every crate build without warnings (broken or ambiguous links).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== formatting (rustfmt)"
cargo fmt --all -- --check

echo "== lints (clippy, warnings are errors)"
cargo clippy --locked --workspace --all-targets -- -D warnings

echo "== workspace tests"
cargo test --workspace --locked

echo "== no_std / no-alloc build of the core"
cargo build --locked --release --manifest-path tests/nostd-check/Cargo.toml

echo "== bit-exactness under -C target-cpu=native"
RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=target/native \
  cargo test --locked -p powerpost-tests --test bitexact --test wave_snapshot

echo "== API docs (rustdoc, warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps
