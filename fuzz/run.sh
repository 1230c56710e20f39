#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS seconds each (after replaying its
# whole corpus: fuzz/corpus/<target>/ plus what earlier runs found), one after
# the other. New interesting inputs go to $BUILD/fuzz-work/<target>/ (not the
# repository); a crash leaves $BUILD/fuzz-artifacts/<target>/crash-* and makes
# this script fail after running the remaining targets.
#   fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
set -uo pipefail
build=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(fuzz_dynamodb_response fuzz_attribute_value fuzz_sigv4 fuzz_profile_file fuzz_dcs_config
           fuzz_cluster_items fuzz_http1_response fuzz_cli)
fi
failed=()
for t in "${targets[@]}"; do
  work="$build/fuzz-work/$t"
  artifacts="$build/fuzz-artifacts/$t"
  mkdir -p "$work" "$artifacts"
  log="$artifacts/last-run.log"
  start=$(date +%s)
  "$build/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work" "$here/corpus/$t" >"$log" 2>&1
  rc=$?
  runs=$(grep -a -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  cov=$(grep -a -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if [ $rc -eq 0 ]; then
    printf 'fuzz: %-24s ok   %4ss %9s runs  %s\n' "$t" "$(($(date +%s) - start))" "${runs:-?}" "$cov"
  else
    printf 'fuzz: %-24s FAIL (exit %s) after %ss; log %s\n' "$t" "$rc" "$(($(date +%s) - start))" "$log"
    grep -a -E 'ERROR|INVARIANT|runtime error|SUMMARY|Test unit written' "$log" | head -8 | sed 's/^/    /'
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (reproduce: $build/fuzz/<target> <crash file>)"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ok (${seconds}s each)"
