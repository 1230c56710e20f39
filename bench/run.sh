#!/usr/bin/env bash
# `make bench`: runs the benchmarks and regenerates docs/benchmarks.md from bench/results/*.json.
#   BENCH=client   client CPU/RSS per operation vs boto3, and import cost (a few minutes)
#   BENCH=cluster  3-node Patroni clusters on etcd vs DynamoDB: failover, switchover, steady state (long)
#   BENCH=all      both (default)
# PY (the project's virtualenv python) and BUILD (the build tree with bench/dynatroni_client_bench) come
# from make. Cluster knobs (environment): ROUNDS (default 10), FAILOVER_TIMES ("15 60"), BLOCK (rounds per
# fresh cluster before the next backend, one per failover time: "5 2"), STEADY_SECONDS (120), BUDGET_MINUTES
# (0 = no limit: stop starting rounds after that long).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-/var/lib/dynatroni/venv/bin/python}
BUILD=${BUILD:-build}
BENCH=${BENCH:-all}
case "$BENCH" in
  client | cluster | all) ;;
  *) echo "bench: BENCH must be client, cluster or all; got '$BENCH'" >&2; exit 2 ;;
esac
cmd="make bench BENCH=$BENCH"
[ "$BUILD" = build ] || cmd="$cmd BUILD=$BUILD"
if [ "$BENCH" != client ]; then
  for v in ROUNDS FAILOVER_TIMES BLOCK STEADY_SECONDS BUDGET_MINUTES; do
    [ -z "${!v:-}" ] || cmd="$cmd $v='${!v}'"
  done
fi
if [ "$BENCH" != cluster ]; then
  "$PY" -m bench.client_overhead --bench-bin "$BUILD/bench/dynatroni_client_bench" --command "$cmd"
fi
if [ "$BENCH" != client ]; then
  "$PY" -m bench.cluster_bench --rounds "${ROUNDS:-10}" --failover-times "${FAILOVER_TIMES:-15 60}" \
    --block "${BLOCK:-5 2}" --steady-seconds "${STEADY_SECONDS:-120}" --budget-minutes "${BUDGET_MINUTES:-0}" \
    --command "$cmd"
fi
"$PY" -m bench.report
