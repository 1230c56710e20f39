"""The ``dynamodb:`` section in Patroni's config validator, for every Python that has our wheel.

Patroni finds the DCS by itself: the wheel installs ``patroni/dcs/dynamodb.py`` into Patroni's DCS folder
(python/patroni_dcs/dynamodb.py). Patroni's validator lists that folder too (``patroni --validate-config``; Patroni
3.0 validates at every start), but keeps a fixed schema per DCS and stops with ``KeyError: 'dynamodb'`` on a
section it has none for. ``dynatroni-patroni.pth`` (site-packages) imports this module at interpreter start:
it adds one finder to ``sys.meta_path`` which, right after Patroni's ``patroni.validator`` module has run, adds
the ``dynamodb`` schema (``add_dynamodb_schema``: the plugin's own parser). Nothing else of Patroni is changed,
and nothing is imported before Patroni imports its validator. Kept small: it runs in every process of the
environment.
"""
from __future__ import annotations

import sys
from typing import Any

_VALIDATOR = 'patroni.validator'


def validate_section(section: Any) -> bool:
    """Patroni's validator callback for the ``dynamodb:`` section: the conversion and parser the plugin uses."""
    import patroni.validator as v

    from . import _core
    from .dynamodb import _section_strings
    if not isinstance(section, dict):
        raise v.ConfigParseError('dynamodb: expected a mapping')
    try:
        _core.parse_config(_section_strings(section))
    except ValueError as e:
        raise v.ConfigParseError(str(e))
    return True


def add_dynamodb_schema(validator: Any) -> bool:
    """Give the DCS choice of Patroni's schema (``Or('consul', 'etcd', ...): Case({...})``) a ``dynamodb`` case.
    Returns whether Patroni itself lists ``dynamodb`` among its DCS (it does when ``patroni/dcs/dynamodb.py``
    is in its DCS folder); when not, says so on stderr in one line."""
    v = validator
    for key, value in list(getattr(v.schema, 'validator', {}).items()):
        if isinstance(key, v.Or) and 'etcd' in key.args and isinstance(value, v.Case):
            value._schema.setdefault('dynamodb', validate_section)
            if 'dynamodb' in key.args:
                return True
            import patroni.dcs
            folder = patroni.dcs.__file__.rpartition('/')[0]
            print(f'dynatroni: Patroni {folder} has no dynamodb.py, so it cannot find the dynamodb DCS: our wheel '
                  f'was installed into another site-packages than this Patroni; install it into the environment '
                  f'that has Patroni (docs/install.md)', file=sys.stderr)
            return False
    return False


class _Loader:
    """Runs the real loader of ``patroni.validator``, then adds our schema."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        try:
            add_dynamodb_schema(module)
        except Exception as e:  # never break Patroni's import over our schema
            print(f'dynatroni: could not add the dynamodb section to Patroni\'s config validator: {e}',
                  file=sys.stderr)


class _ValidatorFinder:
    """A ``sys.meta_path`` finder that only wraps the loader of ``patroni.validator``."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != _VALIDATOR:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, 'exec_module'):
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


def install() -> None:
    """Add the finder (once); if Patroni's validator is already imported, add the schema now."""
    if any(isinstance(f, _ValidatorFinder) for f in sys.meta_path):
        return
    if _VALIDATOR in sys.modules:
        add_dynamodb_schema(sys.modules[_VALIDATOR])
    else:
        sys.meta_path.insert(0, _ValidatorFinder())


install()
