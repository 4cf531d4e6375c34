#!/bin/sh
# One shard of a ksim search per array task: task I runs
# `ksim explore --shard env/N --json FILE` (ksim reads I from
# SLURM_ARRAY_TASK_ID) into $OUT/shard-I.json.
#
# Parameters, from the environment (sbatch --export) or the defaults below:
#   N     the number of shards; the array must be 0-(N-1): pass
#         --array=0-$((N-1)) to sbatch (it overrides the line below).
#   FILE  the scenario, on a file system every node sees.
#   OUT   the directory of the shards' reports (shared, like FILE).
#   KSIM  the ksim binary (default: ksim on the PATH).
#
#SBATCH --job-name=ksim-explore
#SBATCH --array=0-7
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --output=ksim-explore-%A_%a.log
set -u
N=${N:-8}
FILE=${FILE:-scenarios/library/race_uffd_two_copies.scn}
OUT=${OUT:-ksim-out}
KSIM=${KSIM:-ksim}
mkdir -p "$OUT"
tmp="$OUT/.shard-$SLURM_ARRAY_TASK_ID.json.tmp"
"$KSIM" explore --json --shard "env/$N" "$FILE" > "$tmp"
rc=$?
# Exit 1 means this shard found a violation (a shard never fails on an
# `exists` it did not reach: the merge judges those over every shard): the
# report is written and the merge judges the whole search, so the task
# succeeds (and afterok releases the merge). Any other
# failure (2: bad arguments, 130: a signal, such as the time limit's) fails
# the task and holds the merge back.
case $rc in
  0|1) mv "$tmp" "$OUT/shard-$SLURM_ARRAY_TASK_ID.json" ;;
  *) echo "ksim explore exited $rc" >&2; exit "$rc" ;;
esac
