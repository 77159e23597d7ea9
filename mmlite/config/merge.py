"""MMEngine's merge rules for ``_base_`` inheritance and ``--cfg-options`` overrides.

A child dict merges into the base dict key by key; any other child value replaces the
base value; ``_delete_=True`` in a child dict replaces the base dict whole. With
``allow_list_keys``, a digit key indexes into a list (``pipeline.0.type``).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config_dict import ConfigDict
from .errors import ConfigKeyError, ConfigTypeError

DELETE_KEY = '_delete_'
_MISSING = object()

__all__ = ['DELETE_KEY', 'merge_a_into_b', 'strip_delete_keys', 'options_to_tree']


def _join(path: str, key: Any) -> str:
    return f'{path}.{key}' if path else str(key)


def _list_index(key: Any) -> int | None:
    """``key`` as a list index if it is a non-negative int or a string of ASCII digits."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key if key >= 0 else None
    if isinstance(key, str) and key.isascii() and key.isdigit():
        return int(key)
    return None


def strip_delete_keys(value: Any) -> Any:
    """A copy of ``value`` with every ``_delete_`` key removed (dicts become ConfigDicts)."""
    if isinstance(value, Mapping):
        return ConfigDict({k: strip_delete_keys(v) for k, v in value.items() if k != DELETE_KEY})
    if isinstance(value, (list, tuple)) and any(isinstance(v, (Mapping, list, tuple)) for v in value):
        items = [strip_delete_keys(v) for v in value]
        return type(value)(*items) if hasattr(value, '_fields') else type(value)(items)
    return value


def _merge_value(child: Any, base: Any, allow_list_keys: bool, path: str) -> Any:
    if not isinstance(child, Mapping):
        return strip_delete_keys(child)
    if base is _MISSING or child.get(DELETE_KEY, False):
        return strip_delete_keys(child)
    if isinstance(base, Mapping) or (allow_list_keys and isinstance(base, list)):
        return _merge(child, base, allow_list_keys, path)
    raise ConfigTypeError(
        f'{path!r} is a dict in the child config but a {type(base).__name__} ({base!r}) in the base, '
        f'so the two cannot merge. Add {DELETE_KEY}=True to the child dict to replace the base value.')


def _merge(child: Mapping, base: Mapping | list, allow_list_keys: bool, path: str) -> Any:
    if isinstance(base, list):
        merged_list = list(base)
        for key, value in child.items():
            if key == DELETE_KEY:
                continue
            index = _list_index(key)
            where = path or 'the top level'
            if index is None:
                raise ConfigKeyError(
                    f'{_join(path, key)!r}: {where!r} is a list, so the key after it must be an '
                    f'index 0..{len(base) - 1}, got {key!r}')
            if index >= len(base):
                raise ConfigKeyError(
                    f'{_join(path, key)!r}: index {index} is out of range for the list at {where!r}, '
                    f'which has {len(base)} item(s) (valid indices 0..{len(base) - 1})')
            merged_list[index] = _merge_value(value, base[index], allow_list_keys, _join(path, key))
        return merged_list
    merged = ConfigDict()
    dict.update(merged, base)  # shallow: unchanged subtrees are shared, never mutated
    for key, value in child.items():
        if key == DELETE_KEY:
            continue
        merged[key] = _merge_value(value, base.get(key, _MISSING), allow_list_keys, _join(path, key))
    return merged


def merge_a_into_b(a: Mapping, b: Mapping, allow_list_keys: bool = False) -> ConfigDict:
    """Return ``b`` updated by ``a`` with the ``_base_`` rules; neither argument is modified.

    >>> merge_a_into_b(dict(model=dict(depth=50)), dict(model=dict(type='ResNet', depth=18)))
    {'model': {'type': 'ResNet', 'depth': 50}}
    """
    for name, value in (('a', a), ('b', b)):
        if not isinstance(value, Mapping):
            raise ConfigTypeError(f'merge_a_into_b needs two dicts; {name} is a {type(value).__name__}')
    return _merge(a, b, allow_list_keys, '')


def _walk_check(full_key: str, segments: list[str], cfg: Mapping, allow_list_keys: bool) -> None:
    """Check that list indices in an option key hit an existing list and are in range."""
    node: Any = cfg
    for depth, segment in enumerate(segments):
        where = '.'.join(segments[:depth]) or 'the top level'
        index = _list_index(segment)
        if isinstance(node, list) and allow_list_keys:
            if index is None:
                raise ConfigKeyError(f'option {full_key!r}: {where!r} is a list, so the key after it '
                                     f'must be an index 0..{len(node) - 1}, got {segment!r}')
            if index >= len(node):
                raise ConfigKeyError(f'option {full_key!r}: index {index} is out of range for the '
                                     f'list at {where!r}, which has {len(node)} item(s)')
            node = node[index]
        elif isinstance(node, Mapping):
            node = node.get(segment, _MISSING)
        elif node is _MISSING:
            if index is not None and allow_list_keys:
                raise ConfigKeyError(f'option {full_key!r}: index {index} needs a list at {where!r}, '
                                     f'but the config has no key {where!r}')
        else:
            shown = repr(node) if len(repr(node)) <= 60 else repr(node)[:57] + '...'
            raise ConfigTypeError(f'option {full_key!r}: {where!r} is a {type(node).__name__} ({shown}) '
                                  f'in the config, so it has no key {segment!r}; set {where!r} itself')


def options_to_tree(options: Mapping, cfg: Mapping, allow_list_keys: bool = True) -> dict:
    """Turn ``{'a.b.0.c': 1}`` into ``{'a': {'b': {'0': {'c': 1}}}}``, checking each key.

    Errors name the option: empty key parts, an option that is also the prefix of another,
    and (with ``allow_list_keys``) a list index that is out of range or has no list.
    """
    if not isinstance(options, Mapping):
        raise ConfigTypeError(f'options must be a dict of "dotted.key": value, got {type(options).__name__}')
    leaves: dict[tuple, str] = {}
    prefixes: dict[tuple, str] = {}
    tree: dict = {}
    for full_key, value in options.items():
        if not isinstance(full_key, str):
            raise ConfigKeyError(f'option key {full_key!r} must be a string such as "model.depth"')
        segments = full_key.split('.')
        if not all(segments):
            raise ConfigKeyError(f'option key {full_key!r} has an empty part; write keys like '
                                 '"model.backbone.depth" or "pipeline.0.type"')
        path = tuple(segments)
        for cut in range(1, len(path)):
            if path[:cut] in leaves:
                raise ConfigKeyError(f'options {leaves[path[:cut]]!r} and {full_key!r} clash: the first '
                                     'sets a value the second reaches into; combine them')
            prefixes.setdefault(path[:cut], full_key)
        if path in prefixes:
            raise ConfigKeyError(f'options {full_key!r} and {prefixes[path]!r} clash: the first sets a '
                                 'value the second reaches into; combine them')
        leaves[path] = full_key
        _walk_check(full_key, segments, cfg, allow_list_keys)
        node = tree
        for segment in segments[:-1]:
            node = node.setdefault(segment, {})
        node[segments[-1]] = ConfigDict._hook(value)
    return tree
