#!/usr/bin/env bash
# Regenerate the outputs of the chapter "Modelling your own kernel code"
# (book/src/modelling-kernel-code.md): the tutorial mailbox's scenarios
# searched at call and at lock granularity, with and without the tutorial
# toggle. Run from the repository root, so that the reports name the files
# as the chapter does. regen.sh calls it.
# Usage: book/src/output/tutorial.sh [KSIM]   (default: target/test-release/ksim)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
K=$(realpath "${1:-$root/target/test-release/ksim}")
cd "$root" || exit 1
r() { name=$1; shift; { echo "\$ ksim $*"; "$K" "$@"; echo "[exit status $?]"; } > "$here/$name.txt" 2>&1; }
bug=scenarios/tests/fail/bug_tutorial_mailbox_lost_wakeup.scn
fixed=scenarios/library/race_mailbox_read_vs_post.scn
r tutorial_bug_call explore --granularity call --no-named-yield-points "$bug"
r tutorial_bug_lock explore --granularity lock --no-named-yield-points "$bug"
r tutorial_fixed_lock explore --granularity lock --no-named-yield-points "$fixed"
r tutorial_close explore --granularity lock --no-named-yield-points scenarios/library/race_mailbox_close_vs_post.scn
