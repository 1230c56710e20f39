# packaging/phase.sh - the phase timer of the packaging scripts (packaging/wheels/build.sh, build-arm64.sh,
# check.sh and packaging/source/check.sh), sourced by them after they set PHASE_PREFIX (e.g. "[wheels]") and
# PHASE_WIDTH (the width of the phase-name column).
#
# `phase NAME TEXT...` ends the running phase, printing "PREFIX NAME done in N s (total M s)", and starts NAME,
# printing "PREFIX NAME TEXT..."; `phase ""` only ends it. T0 is the start of the script, PHASE the running phase.
T0=$(date +%s)
PHASE="" PHASE_T=$T0
phase() {
  local now
  now=$(date +%s)
  [[ -n $PHASE ]] && printf '%s %-*s done in %4d s (total %d s)\n' "$PHASE_PREFIX" "$PHASE_WIDTH" "$PHASE" \
    $((now - PHASE_T)) $((now - T0))
  PHASE=$1 PHASE_T=$now
  [[ -n $1 ]] && printf '%s %-*s %s\n' "$PHASE_PREFIX" "$PHASE_WIDTH" "$1" "${*:2}"
  return 0
}
