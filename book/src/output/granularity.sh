#!/usr/bin/env bash
# Regenerate book/src/output/granularity.md: for every shipped race scenario,
# the DPOR search at call and at lock granularity (executions, whether the
# search completed, the naive count where it is exact, executions per second
# on one thread).
# Usage: book/src/output/granularity.sh [KSIM] [SECONDS]
#   KSIM     the ksim binary (default: target/test-release/ksim)
#   SECONDS  time limit of each lock-granularity search (default 10)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
K=$(realpath "${1:-$root/target/test-release/ksim}")
T=${2:-10}
cd "$root" || exit 1
field() { sed -n "s/.*\"$1\":\\(\"\\?[^,\"}]*\"\\?\\).*/\\1/p" | tr -d '"' | head -1; }
now() { date +%s.%N; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { if (t <= 0) t = 0.001; printf "%d", n / t }'; }
sum_c=0; sum_l=0; n=0
{
  echo "| scenario | call: executions | call: naive schedules | call: executions/s | lock: executions | lock: naive schedules | lock: executions/s |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for f in scenarios/library/close_vs_signal.scn scenarios/library/race_*.scn scenarios/tests/granularity/*.scn; do
    name=$(basename "$f" .scn)
    # call: searches take milliseconds; repeat the file so the rate is
    # measured over about a second of searching.
    one=$("$K" explore "$f" --json --jobs 1 -q --granularity call 2>/dev/null)
    ce=$(echo "$one" | field executions)
    cn=$(echo "$one" | field naive_executions)
    reps=$(( 200000 / (ce > 0 ? ce : 1) )); [ "$reps" -gt 400 ] && reps=400; [ "$reps" -lt 1 ] && reps=1
    files=(); for _ in $(seq "$reps"); do files+=("$f"); done
    t0=$(now); "$K" explore "${files[@]}" --json --jobs 1 -q --granularity call >/dev/null 2>&1; t1=$(now)
    cr=$(rate $(( ce * reps )) "$(echo "$t1 - $t0" | bc)")
    t0=$(now); two=$("$K" explore "$f" --json --jobs 1 -q --granularity lock --time-limit "$T" 2>/dev/null); t1=$(now)
    le=$(echo "$two" | field executions)
    ln=$(echo "$two" | field naive_executions)
    lc=$(echo "$two" | field complete)
    el=$(echo "$t1 - $t0" | bc)
    if [ "$lc" = true ] && [ "$(echo "$el < 1" | bc)" = 1 ]; then
      # A short search: repeat it too, so that starting ksim does not
      # dominate the rate.
      reps=$(( 200000 / (le > 0 ? le : 1) )); [ "$reps" -gt 400 ] && reps=400; [ "$reps" -lt 1 ] && reps=1
      files=(); for _ in $(seq "$reps"); do files+=("$f"); done
      t0=$(now); "$K" explore "${files[@]}" --json --jobs 1 -q --granularity lock >/dev/null 2>&1; t1=$(now)
      lr=$(rate $(( le * reps )) "$(echo "$t1 - $t0" | bc)")
    else
      lr=$(rate "$le" "$el")
    fi
    [ "$lc" = true ] || le="> $le (stopped at ${T} s)"
    [ "$cn" = null ] && cn="unknown"; [ "$ln" = null ] && ln="unknown"
    echo "| \`$name\` | $ce | $cn | $cr | $le | $ln | $lr |"
    sum_c=$(echo "$sum_c + $cr" | bc); sum_l=$(echo "$sum_l + $lr" | bc); n=$((n + 1))
  done
  echo
  echo "Mean executions per second over these files: call $(rate "$sum_c" "$n"), lock $(rate "$sum_l" "$n")."
} > "$here/granularity.md"
