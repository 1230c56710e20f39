"""The project's test and operations tooling: local DynamoDB servers, the fault-injecting proxy, the cluster
harness, chaos runs and their checkers. A package: modules import each other as ``from tools import x`` and run
from the repository root as ``python -m tools.x`` (the tests put the root on sys.path through pyproject.toml)."""
