#!/usr/bin/env bash
# The whole test suite: unit and integration tests, the loom models (with a
# bounded preemption count), every shipped scenario explored to
# completion, and the book. Installs mdbook if it is missing.
set -euo pipefail
cd "$(dirname "$0")"

echo "== cargo test (workspace)"
cargo test --workspace --profile test-release

echo "== loom models (LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:=2})"
LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
  cargo test -p loom-tests --profile test-release

echo "== ksim explore: every shipped scenario"
cargo build -q --release -p scenarios --bin ksim
./target/release/ksim explore scenarios/library/*.scn > target/explore-library.txt \
  || { cat target/explore-library.txt; echo "a shipped scenario failed under ksim explore"; exit 1; }
grep -c '^PASS' target/explore-library.txt | sed 's/^/shipped scenarios explored and passed: /'

echo "== ksim conformance: the library under ksim and on the host kernel"
./target/release/ksim conformance --markdown > book/src/conformance-table.md \
  || { cat book/src/conformance-table.md; ./target/release/ksim conformance; echo "ksim and the host kernel disagree"; exit 1; }
sed -n '/^| \*\*all/p' book/src/conformance-table.md

echo "== the book"
command -v mdbook >/dev/null || cargo install mdbook --locked
mdbook build book
