#!/usr/bin/env bash
# Runs examples/client_demo against a local DynamoDB (moto in server mode),
# started and stopped by tools/local_dynamodb.py. Used by `make demo`.
#   tools/demo_client.sh [BUILD_DIR]     (default: build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
py=${PY:-.venv/bin/python}
demo="$build/examples/dynatroni_client_demo"
if [[ ! -x "$demo" ]]; then
  echo "demo_client.sh: $demo not built: run make build" >&2
  exit 1
fi
if ! "$py" -c 'import moto.server' 2>/dev/null; then
  echo "demo_client.sh: moto is not installed for $py: run make deps" >&2
  exit 1
fi
echo "Dynatroni client demo: the leader-lease primitives against a local DynamoDB (moto)"
# local_dynamodb.py exports DYNATRONI_TEST_ENDPOINTS=moto=http://127.0.0.1:PORT and dummy credentials.
exec "$py" -m tools.local_dynamodb run --only moto -- \
  bash -c 'exec "$0" --endpoint "${DYNATRONI_TEST_ENDPOINTS#moto=}"' "$demo"
