"""Dynatroni: a DynamoDB-backed DCS for Patroni, with a C++ core.

``dynatroni._core`` carries the C++ core (the shared library ``libdynatroni_capi.so``, loaded with ctypes);
this package re-exports what Python callers use. It is loaded on first use: ``dynatroni-patroni.pth`` imports
``dynatroni.patroni_hook`` at every interpreter start of the environment, which must not load the core.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["__version__", "sign_dynamodb_request"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("._core", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
