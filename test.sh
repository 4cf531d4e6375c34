#!/usr/bin/env bash
# The whole test suite: unit and integration tests, the loom models (with a
# bounded preemption count), every shipped scenario explored to
# completion, the library compared with the host kernel, and the book.
# Installs mdbook if it is missing.
#
# Every stage runs, whatever an earlier one did; a summary of all of them
# closes the output, and the exit status is non-zero if any failed.
# Everything the suite generates goes under target/ (target/suite/): the
# tracked tree is left as it was.
set -uo pipefail
cd "$(dirname "$0")"

out=target/suite
mkdir -p "$out"
names=()
results=()
failed=0

# stage NAME COMMAND...: run one stage, remember how it ended.
stage() {
  local name=$1
  shift
  echo
  echo "== $name"
  local t0=$SECONDS
  if "$@"; then
    results+=("ok      $name ($((SECONDS - t0)) s)")
  else
    results+=("FAILED  $name ($((SECONDS - t0)) s)")
    failed=$((failed + 1))
  fi
  names+=("$name")
}

cargo_tests() {
  cargo test --workspace --profile test-release
}

# Loom with a preemption bound of 2 (CI's budget); LOOM_MAX_PREEMPTIONS=N
# sets another bound, and LOOM_NO_PREEMPTION_BOUND=1 searches without one
# (complete, and much longer).
loom_models() {
  if [ -n "${LOOM_NO_PREEMPTION_BOUND:-}" ]; then
    echo "no preemption bound (LOOM_NO_PREEMPTION_BOUND=1)"
    env -u LOOM_MAX_PREEMPTIONS RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
      cargo test -p loom-tests --profile test-release
  else
    echo "LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:=2} (no bound: LOOM_NO_PREEMPTION_BOUND=1 ./test.sh)"
    LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
      cargo test -p loom-tests --profile test-release
  fi
}

build_ksim() {
  cargo build -q --release -p scenarios --bin ksim
}

explore_library() {
  [ -x target/release/ksim ] || { echo "no ksim binary (its build failed)"; return 1; }
  if ./target/release/ksim explore scenarios/library/*.scn >"$out/explore-library.txt"; then
    grep -c '^PASS' "$out/explore-library.txt" | sed 's/^/shipped scenarios explored and passed: /'
  else
    grep -B2 -A30 '^FAIL' "$out/explore-library.txt" | head -200
    echo "a shipped scenario failed under ksim explore (the whole report: $out/explore-library.txt)"
    return 1
  fi
}

conformance() {
  [ -x target/release/ksim ] || { echo "no ksim binary (its build failed)"; return 1; }
  # The table depends on the host (its kernel, CPU features, privileges):
  # it is written under target/, and the book keeps the copy of one host
  # (refresh it with: ./target/release/ksim conformance --markdown > book/src/conformance-table.md).
  if ./target/release/ksim conformance --markdown >"$out/conformance-table.md"; then
    sed -n '/^| \*\*all/p' "$out/conformance-table.md"
    sed -n '/^Why scenarios are skipped/,$p' "$out/conformance-table.md"
  else
    cat "$out/conformance-table.md"
    ./target/release/ksim conformance
    echo "ksim and the host kernel disagree"
    return 1
  fi
}

book() {
  command -v mdbook >/dev/null || cargo install mdbook --locked || return 1
  mdbook build book
}

# What git says of the tracked files before the suite, to check after it
# that no stage wrote into the tree.
tree_before=$(git status --porcelain --untracked-files=no 2>/dev/null || true)
tree_unchanged() {
  local now
  now=$(git status --porcelain --untracked-files=no 2>/dev/null || true)
  [ "$now" = "$tree_before" ] && { echo "the tracked files are as they were"; return 0; }
  echo "the suite changed tracked files:"
  diff <(echo "$tree_before") <(echo "$now")
  git --no-pager diff --stat
  return 1
}

stage "cargo test (workspace)" cargo_tests
stage "loom models" loom_models
stage "build ksim (release)" build_ksim
stage "ksim explore: every shipped scenario" explore_library
stage "ksim conformance: the library under ksim and on the host kernel" conformance
stage "the book" book
stage "the suite left the tracked tree as it was" tree_unchanged

echo
echo "== summary"
for r in "${results[@]}"; do echo "  $r"; done
total=${#names[@]}
echo "stages: $((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
