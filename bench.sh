#!/usr/bin/env bash
# The benchmark suite (issue 7): builds ksim, the bench binary and the loom
# models, then measures every target row against its baseline in the same
# run and prints the table of ratios. Arguments go to ksim-bench:
#   --quick            smaller sizes (a smoke run, minutes less)
#   --reps N           repetitions per throughput row (best of N; default 3)
#   --no-loom          skip the loom comparison
#   --markdown FILE    also write the report (./bench.sh --markdown BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")"
cargo build -q --release -p scenarios -p bench --bin ksim --bin ksim-bench
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
  cargo test -q -p loom-tests --release --test scenario_models --no-run
exec ./target/release/ksim-bench "$@"
