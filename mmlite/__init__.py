"""mmlite: MMEngine's API, a smaller and faster engine underneath.

Submodules load on first use, so ``import mmlite`` costs almost nothing beyond Python;
``mmlite.Runner``, ``mmlite.Config`` and friends resolve lazily.
"""
import importlib

from .version import __version__, version_info

# Top-level names MMEngine users import from the package root.
_LAZY = {
    'Config': 'mmlite.config', 'ConfigDict': 'mmlite.config', 'DictAction': 'mmlite.config',
    'Registry': 'mmlite.registry', 'Runner': 'mmlite.runner',
    'MMLogger': 'mmlite.logging', 'MessageHub': 'mmlite.logging', 'print_log': 'mmlite.logging',
    'load': 'mmlite.fileio', 'dump': 'mmlite.fileio',
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f'module mmlite has no attribute {name!r}')
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = ['__version__', 'version_info', *_LAZY]
