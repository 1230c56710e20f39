"""Make Patroni find the ``dynamodb`` DCS without copying files into Patroni's package.

Patroni only discovers DCS modules inside its own ``patroni/dcs/`` directory. ``install()`` registers
``dynatroni.dynamodb`` as ``patroni.dcs.dynamodb`` and teaches Patroni's DCS lookup (4.x:
``iter_dcs_classes``; 3.0.x: ``dcs_modules``) and its config validator about it. The ``patroni-dynamodb``
and ``patronictl-dynamodb`` commands (and ``python -m dynatroni.patroni`` / ``python -m dynatroni.patronictl``
for Debian's system Python) call it before handing over to Patroni's own ``main``.
"""
from __future__ import annotations

import sys
from typing import Any, Iterator, Optional, Tuple

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    import patroni.dcs as pdcs

    from . import dynamodb as plugin

    sys.modules['patroni.dcs.dynamodb'] = plugin
    setattr(pdcs, 'dynamodb', plugin)

    original_modules = pdcs.dcs_modules

    def dcs_modules() -> list:
        mods = list(original_modules())
        if 'patroni.dcs.dynamodb' not in mods:
            mods.append('patroni.dcs.dynamodb')
        return sorted(mods)

    pdcs.dcs_modules = dcs_modules

    if hasattr(pdcs, 'iter_dcs_classes'):  # Patroni >= 3.1
        original_iter = pdcs.iter_dcs_classes

        def iter_dcs_classes(config: Optional[Any] = None) -> Iterator[Tuple[str, Any]]:
            if config is None or 'dynamodb' in config:
                yield 'dynamodb', plugin.DynamoDB
            yield from original_iter(config)

        pdcs.iter_dcs_classes = iter_dcs_classes
    _patch_validator()
    _installed = True


def _patch_validator() -> None:
    """Let ``patroni --validate-config`` accept (and check) a ``dynamodb:`` section."""
    try:
        import patroni.validator as v
    except Exception:  # pragma: no cover - validator import problems are Patroni's own
        return

    def validate_dynamodb(section: Any) -> bool:
        from . import _core
        if not isinstance(section, dict):
            raise v.ConfigParseError('dynamodb: expected a mapping')
        try:
            from .dynamodb import _section_strings  # the same conversion (and type check) the plugin applies
            _core.parse_config(_section_strings(section))
        except ValueError as e:
            raise v.ConfigParseError(str(e))
        return True

    for key, value in list(getattr(v.schema, 'validator', {}).items()):
        if isinstance(key, v.Or) and 'etcd' in key.args and isinstance(value, v.Case):
            if 'dynamodb' not in key.args:
                key.args = tuple(key.args) + ('dynamodb',)
            value._schema['dynamodb'] = validate_dynamodb
    if hasattr(v, 'available_dcs') and 'dynamodb' not in v.available_dcs:
        v.available_dcs.append('dynamodb')
