#!/usr/bin/env bash
# Runs `make <stage>` for each stage in order, timing each, stopping at the
# first failure, and prints one summary line. Used by `make test`.
#   tools/run_stages.sh LABEL STAGE...
# A stage written bg:STAGE starts in the background (at nice 19, its output kept
# in a file) and the next stages run meanwhile: for a CPU-bound check beside a
# stage that mostly waits (lint-tidy beside the cluster tests). The run waits for
# it after the last stage, prints its output and time, and fails if it failed;
# a failing foreground stage stops it.
set -uo pipefail
label=$1
shift
MAKE=${MAKE:-make}
declare -a done_stages=()
declare -a bg_names=() bg_pids=() bg_logs=() bg_starts=()
total_start=$(date +%s.%N)
logdir=$(mktemp -d)

secs_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

stop_background() {
  local i
  for i in "${!bg_pids[@]}"; do
    kill -- "-${bg_pids[$i]}" 2>/dev/null && printf '==> [%s] %s stopped\n' "$label" "${bg_names[$i]}"
    wait "${bg_pids[$i]}" 2>/dev/null
  done
}
trap 'stop_background; rm -rf "$logdir"' EXIT

fail() {  # fail STAGE START
  printf '\n%s: FAILED at stage "%s" after %ss (passed: %s) (total %ss)\n' "$label" "$1" \
    "$(secs_since "$2")" "${done_stages[*]:-none}" "$(secs_since "$total_start")"
  exit 1
}

for stage in "$@"; do
  if [[ $stage == bg:* ]]; then
    name=${stage#bg:}
    printf '\n==> [%s] %s (in the background; output below when it ends)\n' "$label" "$name"
    bg_names+=("$name")
    bg_logs+=("$logdir/$name.log")
    bg_starts+=("$(date +%s.%N)")
    setsid nice -n 19 "$MAKE" --no-print-directory "$name" >"$logdir/$name.log" 2>&1 &
    bg_pids+=("$!")
    continue
  fi
  printf '\n==> [%s] %s\n' "$label" "$stage"
  start=$(date +%s.%N)
  "$MAKE" --no-print-directory "$stage" || fail "$stage" "$start"
  elapsed=$(secs_since "$start")
  done_stages+=("$stage=${elapsed}s")
  printf '==> [%s] %s ok (%ss)\n' "$label" "$stage" "$elapsed"
done

for i in "${!bg_pids[@]}"; do
  name=${bg_names[$i]}
  printf '\n==> [%s] %s (background): waiting\n' "$label" "$name"
  wait "${bg_pids[$i]}"
  rc=$?
  unset "bg_pids[$i]"
  cat "${bg_logs[$i]}"
  ((rc == 0)) || fail "$name" "${bg_starts[$i]}"
  elapsed=$(secs_since "${bg_starts[$i]}")
  done_stages+=("$name=${elapsed}s")
  printf '==> [%s] %s ok (%ss, in the background)\n' "$label" "$name" "$elapsed"
done
printf '\n%s: OK, all %d stages passed in %ss: %s\n' "$label" "$#" "$(secs_since "$total_start")" \
  "${done_stages[*]}"
