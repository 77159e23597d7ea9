"""BaseDataElement: the container that carries data and its meta information between modules.

Two kinds of fields live on one object as plain attributes: *metainfo* (image size, scale
factor, ... set once, copied along) and *data* (tensors, arrays, nested elements, moved and
converted by ``to``/``cpu``/``numpy``). Assigning an attribute creates a data field.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

_FIELD_SETS = ('_metainfo_fields', '_data_fields')


class BaseDataElement:
    """Data and meta information of one sample (or one prediction).

    ``BaseDataElement(metainfo=dict(img_shape=(4, 4)), scores=torch.rand(3))`` keeps
    ``img_shape`` as metainfo and ``scores`` as data; ``element.labels = t`` adds a data
    field. Subclasses may expose a field through a property that stores ``_name``;
    ``keys()`` then reports ``name`` and hides ``_name``.
    """

    def __init__(self, *, metainfo: dict | None = None, **kwargs: Any) -> None:
        self._metainfo_fields: set[str] = set()
        self._data_fields: set[str] = set()
        if metainfo is not None:
            self.set_metainfo(metainfo=metainfo)
        if kwargs:
            self.set_data(kwargs)

    # ------------------------------------------------------------- setting
    def set_metainfo(self, metainfo: dict) -> None:
        """Add or replace metainfo fields (deep-copied so the caller's dict stays its own)."""
        if not isinstance(metainfo, dict):
            raise TypeError(f'metainfo must be a dict, got {type(metainfo).__name__}: {metainfo!r}')
        for key, value in copy.deepcopy(metainfo).items():
            self.set_field(name=key, value=value, field_type='metainfo')

    def set_data(self, data: dict) -> None:
        """Add or replace data fields, exactly as attribute assignment would."""
        if not isinstance(data, dict):
            raise TypeError(f'data must be a dict, got {type(data).__name__}: {data!r}')
        for key, value in data.items():
            setattr(self, key, value)

    def update(self, instance: BaseDataElement) -> None:
        """Copy every metainfo and data field of ``instance`` (same class) into this one."""
        if not isinstance(instance, type(self)):
            raise TypeError(f'{type(self).__name__}.update needs a {type(self).__name__}, '
                            f'got {type(instance).__name__}')
        self.set_metainfo(dict(instance.metainfo_items()))
        self.set_data(dict(instance.items()))

    def set_field(self, value: Any, name: str, dtype: type | tuple[type, ...] | None = None,
                  field_type: str = 'data') -> None:
        """Store ``value`` under ``name`` as a ``'metainfo'`` or ``'data'`` field.

        A name belongs to one kind only; ``dtype`` optionally checks the value's type.
        """
        if field_type not in ('metainfo', 'data'):
            raise ValueError(f"field_type must be 'metainfo' or 'data', got {field_type!r}")
        if dtype is not None and not isinstance(value, dtype):
            raise TypeError(f'field {name!r} of {type(self).__name__} must be {dtype}, '
                            f'got {type(value).__name__}')
        if field_type == 'metainfo':
            if name in self._data_fields:
                raise AttributeError(f'cannot set {name!r} as metainfo of {type(self).__name__}: '
                                     f'it is already a data field; delete it first')
            self._metainfo_fields.add(name)
        else:
            if name in self._metainfo_fields:
                raise AttributeError(f'cannot set {name!r} as data of {type(self).__name__}: '
                                     f'it is already a metainfo field; use set_metainfo to change it')
            self._data_fields.add(name)
        object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FIELD_SETS:
            if hasattr(self, name):
                raise AttributeError(f'{name} is private bookkeeping of {type(self).__name__} '
                                     'and cannot be reassigned')
            object.__setattr__(self, name, value)
        else:
            self.set_field(name=name, value=value, field_type='data')

    def __delattr__(self, item: str) -> None:
        if item in _FIELD_SETS:
            raise AttributeError(f'{item} is private bookkeeping of {type(self).__name__} '
                                 'and cannot be deleted')
        object.__delattr__(self, item)
        self._metainfo_fields.discard(item)
        self._data_fields.discard(item)

    __delitem__ = __delattr__

    def get(self, key: str, default: Any = None) -> Any:
        """The field ``key``, or ``default`` when there is none."""
        return getattr(self, key, default)

    def pop(self, *args: Any) -> Any:
        """Remove a field and return its value: ``pop(name)`` or ``pop(name, default)``."""
        if not 1 <= len(args) <= 2:
            raise TypeError(f'pop expects a name and an optional default, got {len(args)} arguments')
        name = args[0]
        for fields in (self._metainfo_fields, self._data_fields):
            if name in fields:
                fields.remove(name)
                return self.__dict__.pop(name)
        if len(args) == 2:
            return args[1]
        raise KeyError(f'{name!r} is neither a metainfo nor a data field of {type(self).__name__}; '
                       f'fields are {self.all_keys()}')

    def __contains__(self, item: str) -> bool:
        return item in self._data_fields or item in self._metainfo_fields

    # ------------------------------------------------------------ reading
    def _property_backing_names(self) -> set[str]:
        """``_x`` fields that a class property ``x`` exposes; ``keys()`` shows ``x`` instead."""
        cls = type(self)
        return {'_' + key for key in self._data_fields
                if isinstance(getattr(cls, key, None), property)}

    def keys(self) -> list[str]:
        """Names of the data fields."""
        return list(self._data_fields - self._property_backing_names())

    def values(self) -> list[Any]:
        return [getattr(self, key) for key in self.keys()]

    def items(self) -> Iterator[tuple[str, Any]]:
        for key in self.keys():
            yield key, getattr(self, key)

    def metainfo_keys(self) -> list[str]:
        return list(self._metainfo_fields)

    def metainfo_values(self) -> list[Any]:
        return [getattr(self, key) for key in self.metainfo_keys()]

    def metainfo_items(self) -> Iterator[tuple[str, Any]]:
        for key in self.metainfo_keys():
            yield key, getattr(self, key)

    def all_keys(self) -> list[str]:
        return self.metainfo_keys() + self.keys()

    def all_values(self) -> list[Any]:
        return self.metainfo_values() + self.values()

    def all_items(self) -> Iterator[tuple[str, Any]]:
        yield from self.metainfo_items()
        yield from self.items()

    @property
    def metainfo(self) -> dict:
        """The metainfo fields as a new dict."""
        return dict(self.metainfo_items())

    # ------------------------------------------------------------ copying
    def new(self, *, metainfo: dict | None = None, **kwargs: Any) -> BaseDataElement:
        """A new element of this class: given metainfo/data replace this one's, the rest is
        shared (not copied) with this element."""
        element = self.__class__()
        element.set_metainfo(dict(self.metainfo_items()) if metainfo is None else metainfo)
        element.set_data(kwargs if kwargs else dict(self.items()))
        return element

    def clone(self) -> BaseDataElement:
        """A shallow copy: new containers, the same field values."""
        element = self.__class__()
        element.set_metainfo(dict(self.metainfo_items()))
        element.set_data(dict(self.items()))
        return element

    def _map_data(self, convert: Callable[[Any], Any]) -> BaseDataElement:
        """A new element whose data fields are ``convert(value)``; metainfo is kept."""
        element = self.__class__()
        element.set_metainfo(dict(self.metainfo_items()))
        element.set_data({key: convert(value) for key, value in self.items()})
        return element

    def to(self, *args: Any, **kwargs: Any) -> BaseDataElement:
        """Apply ``.to(*args, **kwargs)`` to every data value that has it (tensors, elements)."""
        return self._map_data(lambda v: v.to(*args, **kwargs) if hasattr(v, 'to') else v)

    def cpu(self) -> BaseDataElement:
        return self._map_data(lambda v: v.cpu() if isinstance(v, (torch.Tensor, BaseDataElement)) else v)

    def cuda(self) -> BaseDataElement:
        return self._map_data(lambda v: v.cuda() if isinstance(v, (torch.Tensor, BaseDataElement)) else v)

    def detach(self) -> BaseDataElement:
        return self._map_data(
            lambda v: v.detach() if isinstance(v, (torch.Tensor, BaseDataElement)) else v)

    def numpy(self) -> BaseDataElement:
        """Tensors become numpy arrays (detached, on the CPU); nested elements recurse."""
        def convert(value: Any) -> Any:
            if isinstance(value, torch.Tensor):
                return value.detach().cpu().numpy()
            if isinstance(value, BaseDataElement):
                return value.numpy()
            return value
        return self._map_data(convert)

    def to_tensor(self) -> BaseDataElement:
        """Numpy arrays become tensors (sharing memory); nested elements recurse."""
        def convert(value: Any) -> Any:
            if isinstance(value, np.ndarray):
                return torch.from_numpy(value)
            if isinstance(value, BaseDataElement):
                return value.to_tensor()
            return value
        return self._map_data(convert)

    def to_dict(self) -> dict:
        """All fields (metainfo and data) as a plain dict; nested elements become dicts."""
        return {key: value.to_dict() if isinstance(value, BaseDataElement) else value
                for key, value in self.all_items()}

    # ------------------------------------------------------------ display
    def __repr__(self) -> str:
        def block(title: str, pairs: list[tuple[str, Any]]) -> list[str]:
            lines = ['', f'    {title}']
            for key, value in sorted(pairs, key=lambda kv: kv[0]):
                text = repr(value).replace('\n', '\n    ')
                lines.append(f'    {key}: {text}')
            return lines

        lines = [f'<{type(self).__name__}(']
        lines += block('META INFORMATION', list(self.metainfo_items()))
        lines += block('DATA FIELDS', list(self.items()))
        lines.append(f') at {hex(id(self))}>')
        return '\n'.join(lines)
