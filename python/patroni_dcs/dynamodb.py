"""Patroni's ``dynamodb`` DCS: installed by the dynatroni wheel as ``patroni/dcs/dynamodb.py``.

Patroni finds a DCS by listing the modules in the folder of its own ``patroni/dcs/__init__.py`` and taking the
class whose name is the module's name; this file puts ``dynamodb`` in that list and re-exports the plugin's
class. It belongs to the ``dynatroni`` distribution (its RECORD): ``pip uninstall dynatroni`` removes it, and
upgrading or reinstalling Patroni leaves it in place (docs/install.md).
"""
from dynatroni.dynamodb import DynamoDB

__all__ = ['DynamoDB']
