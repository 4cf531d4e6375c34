#!/usr/bin/env bash
# ksim's loom engine: `./loom.sh explore FILE...` builds ksim with
# `--cfg loom` (its own target directory, target/loom, so that the normal
# build is not evicted) and runs `ksim explore --engine loom FILE...`: the
# scenario's actors as loom threads over the same kernel code.
#
#   ./loom.sh explore scenarios/library/close_vs_signal.scn
#   LOOM_MAX_PREEMPTIONS=2 ./loom.sh explore FILE   # bounded, as CI runs it
#   ./loom.sh build                                  # only build; prints the binary's path
#
# With LOOM_MAX_PREEMPTIONS unset, loom's search has no preemption bound
# (complete, and can be long). Options after `explore`: --preemptions N,
# --max-executions N, --time-limit S. Exit status as ksim explore: 0 pass,
# 1 a violation, 2 a usage error or a scenario loom cannot run.
set -euo pipefail
cd "$(dirname "$0")"
bin=target/loom/test-release/ksim
build() {
  RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
    cargo build -q --profile test-release -p scenarios --bin ksim
}
case "${1:-}" in
  build)
    build
    echo "$bin"
    ;;
  explore)
    build
    exec "$bin" "$@"
    ;;
  *)
    echo "usage: ./loom.sh explore [--preemptions N] [--max-executions N] [--time-limit S] FILE... | ./loom.sh build" >&2
    exit 2
    ;;
esac
