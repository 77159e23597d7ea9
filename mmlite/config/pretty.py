"""Render a config dict as Python source that reads back to the same dict.

``Config.pretty_text`` and ``Config.dump('x.py')`` use this. Dicts with identifier keys
print as ``dict(k=v)``, others as ``{'k': v}``; classes and functions print as their
import path, which the registry resolves back to the same object.
"""
from __future__ import annotations

import ast
import functools
import inspect
import keyword
import math
import os
from collections.abc import Mapping
from typing import Any

from .errors import ConfigKeyError, ConfigTypeError

__all__ = ['format_config', 'format_value']

_YAPF_STYLE = dict(based_on_style='pep8', blank_line_before_nested_class_or_def=True,
                   split_before_expression_after_opening_paren=True)


def _is_identifier(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


def format_value(value: Any, path: str = '', strict: bool = True) -> str:
    """Python source for one config value; ``path`` names it in errors.

    A live object with no source form is an error when ``strict``; otherwise it is shown
    as the string of its repr (readable in logs, but it does not read back the same).
    """
    if isinstance(value, Mapping):
        if all(_is_identifier(k) for k in value):
            inner = ', '.join(f'{k}={format_value(v, f"{path}.{k}", strict)}' for k, v in value.items())
            return f'dict({inner})'
        inner = ', '.join(f'{format_value(k, path, strict)}: {format_value(v, f"{path}.{k}", strict)}'
                          for k, v in value.items())
        return '{' + inner + '}'
    if isinstance(value, list):
        return '[' + ', '.join(format_value(v, f'{path}.{i}', strict) for i, v in enumerate(value)) + ']'
    if isinstance(value, tuple):
        items = [format_value(v, f'{path}.{i}', strict) for i, v in enumerate(value)]
        return '(' + ', '.join(items) + (',' if len(items) == 1 else '') + ')'
    if isinstance(value, (set, frozenset)):
        if not value:
            return f'{type(value).__name__}()'
        items = ', '.join(sorted(format_value(v, path, strict) for v in value))
        return f'frozenset({{{items}}})' if isinstance(value, frozenset) else '{' + items + '}'
    return _format_leaf(value, path, strict)


def _format_leaf(value: Any, path: str, strict: bool) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f"float('{value}')"
        return repr(float(value))  # float() so numpy float64 prints as a plain number
    for plain in (int, str, bytes, complex):
        if isinstance(value, plain):  # plain() drops subclass reprs such as IntEnum's
            return repr(plain(value))
    if type(value).__module__ == 'numpy' and hasattr(value, 'tolist'):
        return format_value(value.tolist(), path, strict)
    if isinstance(value, os.PathLike):
        return repr(os.fspath(value))
    if inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
        return repr(f'{value.__module__}.{value.__qualname__}')
    text = repr(value)
    try:
        ast.literal_eval(text)
        return text
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if not strict:
            return repr(text)
    raise ConfigTypeError(
        f'config key {path.lstrip(".")!r} holds a {type(value).__name__} ({text[:80]}), which has '
        'no Python source form; store a plain value (str, number, list, dict, ...) instead, or '
        'dump the config to .pkl')


def format_config(cfg: Mapping, use_yapf: bool = True, strict: bool = True) -> str:
    """The whole config as ``key = value`` lines, formatted with yapf unless ``use_yapf`` is False.

    ``strict=False`` shows live objects as strings instead of failing (for logs).
    """
    lines = []
    for key, value in cfg.items():
        if not _is_identifier(key):
            if not strict:  # valid Python that still sets the key when read back
                lines.append(f'globals()[{key!r}] = {format_value(value, str(key), strict)}')
                continue
            raise ConfigKeyError(
                f'top-level config key {key!r} is not a Python identifier, so the config cannot be '
                'written as a .py file; rename the key or dump to .json/.yaml')
        lines.append(f'{key} = {format_value(value, key, strict)}')
    text = '\n'.join(lines) + ('\n' if lines else '')
    if not use_yapf or not text:
        return text
    return _yapf_format(text)


@functools.lru_cache(maxsize=16)
def _yapf_format(text: str) -> str:
    """yapf takes ~0.1 s per config, and a run prints and saves the same config many times
    (log, work dir, every checkpoint's meta): format each distinct text once."""
    from yapf.yapflib.yapf_api import FormatCode  # a heavy import, paid only when printing
    formatted, _ = FormatCode(text, style_config=_YAPF_STYLE)
    return formatted
