#!/usr/bin/env bash
# Regenerate every command output the book includes from book/src/output/.
# Usage: book/src/output/regen.sh [KSIM]   (default: target/debug/ksim)
# Each NAME.txt holds "$ ksim ARGS", the output, and "[exit status N]",
# produced by running ksim in book/src/scenarios/.
set -u
here=$(cd "$(dirname "$0")" && pwd)
K=$(realpath "${1:-$here/../../../target/debug/ksim}")
cd "$here/../scenarios" || exit 1
r() { name=$1; shift; { echo "\$ ksim $*"; "$K" "$@"; echo "[exit status $?]"; } > "$here/$name.txt" 2>&1; }
r intro_s7 run close_vs_signal.scn --seed 7 -v
r intro_s1 run close_vs_signal.scn --seed 1 -v
r replay_s1 replay close_vs_signal.scn v1:1.2.2
r replay_empty replay close_vs_signal.scn v1:
r replay_bad replay close_vs_signal.scn v1:0.x
r replay_range replay close_vs_signal.scn v1:7
r replay_mismatch replay close_vs_signal.scn v1:2.2.2
r counter run counter.scn -v
r semaphore run semaphore.scn --seed 2 -v
r irqfd run irqfd_hup.scn -v
r underflow_bug run underflow_bug.scn --seed 1 -v
r underflow_fixed replay underflow.scn v1:1.1 -v
r install_bug run install_race_bug.scn --seed 4 -v
r install_fixed replay install_race.scn v1:0.1 -v
r ctx_bug_s1 run close_vs_signal_bug.scn --seed 1 -v
r ctx_bug_s0 run close_vs_signal_bug.scn --seed 0 -v
r ctx_fixed_s1 replay close_vs_signal.scn v1:1.2.2 -v
r deadlock run deadlock.scn -v
r may_block run may_block.scn -v
r leak run leak.scn
r detach run detach.scn
r clock run clock.scn -v
r processes run processes.scn -v
r typos check typos.scn
r check_ok check close_vs_signal.scn counter.scn
r bugs bugs
r pattern run pattern.scn
r failures_s0 run failures.scn --seed 0
r failures_s1 run failures.scn --seed 1
r explore_install explore install_race_bug.scn install_race.scn
r pipe_loss run ../../../scenarios/library/wqueue_loss_mid_read.scn -v
r pipe_read_close explore ../../../scenarios/library/race_pipe_read_vs_close.scn
r wqueue_teardown explore ../../../scenarios/library/race_wqueue_post_vs_teardown.scn
r wqueue_teardown_bug explore ../../../scenarios/tests/fail/bug_watch_queue_post_vs_clear.scn
r wqueue_filter_bug run ../../../scenarios/tests/fail/bug_watch_queue_filter_oob.scn
r uffd_fault run uffd_fault.scn --seed 3 -v
r uffd_close explore uffd_close.scn
r uffd_api_bug run uffd_api_bug.scn --seed 0
# The tutorial chapter runs its files from the repository root.
"$here/tutorial.sh" "$K"
