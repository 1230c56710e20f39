"""The benchmarks (bench/run.sh runs them as ``python -m bench.x`` from the repository root)."""
