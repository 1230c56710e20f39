"""The launchers' way to make Patroni find the ``dynamodb`` DCS when our wheel is not installed beside it.

Installed into the environment that has Patroni, the wheel puts ``patroni/dcs/dynamodb.py`` into Patroni's DCS
folder and plain ``patroni``/``patronictl`` find the plugin (docs/install.md); ``install()`` then only makes sure
the validator knows the section. Where our package is elsewhere (on ``PYTHONPATH``, or in another site-packages
than Patroni's, e.g. Debian's Patroni in /usr/lib/python3/dist-packages), ``install()`` registers
``dynatroni.dynamodb`` as ``patroni.dcs.dynamodb`` and teaches Patroni's DCS lookup (4.x:
``iter_dcs_classes``; 3.0.x: ``dcs_modules``) and its config validator about it. The ``patroni-dynamodb`` and
``patronictl-dynamodb`` commands (``python -m dynatroni.patroni`` / ``python -m dynatroni.patronictl``) call it
before handing over to Patroni's own ``main``.
"""
from __future__ import annotations

import sys
from typing import Any, Iterator, Optional, Tuple

from . import patroni_hook

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    import patroni.dcs as pdcs

    if 'patroni.dcs.dynamodb' not in pdcs.dcs_modules():  # our wheel is not in Patroni's site-packages
        _register_module(pdcs)
    import patroni.validator as v
    _add_to_validator(v)
    _installed = True


def _register_module(pdcs: Any) -> None:
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


def _add_to_validator(v: Any) -> None:
    """Let ``patroni --validate-config`` accept (and check) a ``dynamodb:`` section, also when Patroni's
    validator was imported before ``dcs_modules`` listed it."""
    for key, value in list(getattr(v.schema, 'validator', {}).items()):
        if isinstance(key, v.Or) and 'etcd' in key.args and isinstance(value, v.Case) and 'dynamodb' not in key.args:
            key.args = tuple(key.args) + ('dynamodb',)
    if hasattr(v, 'available_dcs') and 'dynamodb' not in v.available_dcs:
        v.available_dcs.append('dynamodb')
    patroni_hook.add_dynamodb_schema(v)
