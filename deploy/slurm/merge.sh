#!/bin/sh
# The merge, once every task of explore.sh has succeeded
# (sbatch --dependency=afterok:JOBID): joins $OUT/shard-*.json into
# $OUT/merged.json and $OUT/merged.txt and prints the report. Its exit
# status is the whole search's: 0 passed, 1 a violation or an `exists` no
# shard saw.
#
# N, OUT and KSIM as in explore.sh.
#
#SBATCH --job-name=ksim-merge
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --output=ksim-merge-%j.log
set -u
N=${N:-8}
OUT=${OUT:-ksim-out}
KSIM=${KSIM:-ksim}
found=$(ls "$OUT"/shard-*.json 2>/dev/null | wc -l)
if [ "$found" -ne "$N" ]; then
  echo "warning: $found shard reports in $OUT, expected $N: the merged report will say complete: false" >&2
fi
"$KSIM" merge --json "$OUT"/shard-*.json > "$OUT/merged.json"
"$KSIM" merge "$OUT"/shard-*.json > "$OUT/merged.txt"
rc=$?
cat "$OUT/merged.txt"
exit "$rc"
