#!/usr/bin/env bash
# Runs `make <stage>` for each stage in order, timing each, stopping at the
# first failure, and prints one summary line. Used by `make test`.
#   tools/run_stages.sh LABEL STAGE...
set -uo pipefail
label=$1
shift
MAKE=${MAKE:-make}
declare -a done_stages=()
total_start=$(date +%s.%N)

secs_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

for stage in "$@"; do
  printf '\n==> [%s] %s\n' "$label" "$stage"
  start=$(date +%s.%N)
  if ! "$MAKE" --no-print-directory "$stage"; then
    printf '\n%s: FAILED at stage "%s" after %ss (passed: %s) (total %ss)\n' "$label" "$stage" \
      "$(secs_since "$start")" "${done_stages[*]:-none}" "$(secs_since "$total_start")"
    exit 1
  fi
  elapsed=$(secs_since "$start")
  done_stages+=("$stage=${elapsed}s")
  printf '==> [%s] %s ok (%ss)\n' "$label" "$stage" "$elapsed"
done
printf '\n%s: OK, all %d stages passed in %ss: %s\n' "$label" "$#" "$(secs_since "$total_start")" \
  "${done_stages[*]}"
