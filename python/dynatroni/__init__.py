"""Dynatroni: a DynamoDB-backed DCS for Patroni, with a C++ core.

The compiled extension ``dynatroni._core`` carries the C++ core; this package
re-exports what Python callers use.
"""
from ._core import __version__, sign_dynamodb_request

__all__ = ["__version__", "sign_dynamodb_request"]
