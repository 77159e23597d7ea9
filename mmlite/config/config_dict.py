"""``ConfigDict``: a dict whose keys read like attributes, and whose missing keys are errors."""
from __future__ import annotations

import copy
from typing import Any

from addict import Dict


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(value, '_fields')


class ConfigDict(Dict):
    """A dict with attribute access (``cfg.model.type``), as in MMEngine.

    Unlike addict's ``Dict``, reading a missing key raises (KeyError for ``cfg['x']``,
    AttributeError naming the key for ``cfg.x``) rather than returning an empty dict.
    Dicts stored inside it, also inside lists and tuples, become ConfigDicts.
    """

    @classmethod
    def _hook(cls, item: Any) -> Any:
        """Convert plain dicts (also inside lists/tuples) to ConfigDicts; keep everything else."""
        if isinstance(item, ConfigDict):
            return item
        if isinstance(item, dict):
            return cls(item)
        if isinstance(item, (list, tuple)):
            converted = [cls._hook(elem) for elem in item]
            if all(new is old for new, old in zip(converted, item, strict=True)):
                return item  # nothing to convert: keep the caller's object
            if _is_namedtuple(item):
                return type(item)(*converted)
            return type(item)(converted)
        return item

    def __missing__(self, name: Any) -> Any:
        raise KeyError(name)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'"
                                 f'{_key_hint(self)}') from None

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(type(self), name):
            raise AttributeError(f"'{type(self).__name__}' attribute '{name}' is a dict method and "
                                 f"cannot be reassigned; set the key with cfg['{name}'] = ...")
        self[name] = value

    def __setitem__(self, name: Any, value: Any) -> None:
        dict.__setitem__(self, name, self._hook(value))

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]  # the stored (converted) value, so edits to it stick

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'"
                                 f'{_key_hint(self)}') from None

    def __copy__(self) -> ConfigDict:
        return type(self)(self)

    def copy(self) -> ConfigDict:
        """A shallow copy (nested values are shared)."""
        return self.__copy__()

    def __deepcopy__(self, memo: dict) -> ConfigDict:
        other = type(self)()
        memo[id(self)] = other
        for key, value in self.items():
            dict.__setitem__(other, copy.deepcopy(key, memo), copy.deepcopy(value, memo))
        return other

    def __reduce__(self) -> tuple:
        return type(self), (dict(self),)

    def __or__(self, other: Any) -> Any:
        if not isinstance(other, dict):
            return NotImplemented
        new = type(self)(self)
        new.update(other)
        return new

    def __ror__(self, other: Any) -> Any:
        if not isinstance(other, dict):
            return NotImplemented
        new = type(self)(other)
        new.update(self)
        return new

    def to_dict(self) -> dict:
        """A plain-dict copy, converting nested ConfigDicts (also inside lists/tuples)."""
        return _to_plain(self)

    def merge(self, other: dict) -> None:
        """Merge ``other`` into this dict in place with the ``_base_`` rules (see ``merge_a_into_b``)."""
        from .merge import merge_a_into_b
        merged = merge_a_into_b(other, self)
        dict.clear(self)
        dict.update(self, merged)


def _key_hint(cfg: dict) -> str:
    keys = [str(k) for k in cfg]
    if not keys:
        return ' (the dict is empty)'
    shown = ', '.join(keys[:20]) + (', ...' if len(keys) > 20 else '')
    return f' (its keys are: {shown})'


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _to_plain(item) for key, item in value.items()}
    if _is_namedtuple(value):
        return type(value)(*(_to_plain(item) for item in value))
    if isinstance(value, (list, tuple)):
        return type(value)(_to_plain(item) for item in value)
    return value
