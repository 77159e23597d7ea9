"""InstanceData: per-instance annotations or predictions (boxes, labels, scores) of one image.

Every data field holds one entry per instance, so all share one length; indexing selects
instances across every field at once.
"""
from __future__ import annotations

import itertools
from collections.abc import Sized
from typing import Any, Union

import numpy as np
import torch

from .base_data_element import _FIELD_SETS, BaseDataElement

IndexType = Union[str, slice, int, list, torch.LongTensor, torch.BoolTensor, np.ndarray]


class InstanceData(BaseDataElement):
    """Data fields of equal length, one entry per instance.

    Values may be tensors, numpy arrays, lists, tuples, strings, or any sized object that
    supports slicing and has a ``cat`` class method. ``instances[mask]``,
    ``instances[[0, 2]]``, ``instances[1:]`` and ``instances[0]`` return new InstanceData
    holding the selected instances of every field; metainfo is shared.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FIELD_SETS:
            super().__setattr__(name, value)
            return
        if not isinstance(value, Sized):
            raise TypeError(f'InstanceData field {name!r} needs a value with a length '
                            f'(tensor, array, list, ...), got {type(value).__name__}')
        for key, other in self.items():
            if key != name:
                if len(value) != len(other):
                    raise ValueError(
                        f'InstanceData field {name!r} has length {len(value)}, but the instances '
                        f'already here have length {len(other)} (field {key!r}); every data field '
                        'holds one entry per instance')
                break
        super().__setattr__(name, value)

    __setitem__ = __setattr__

    def __len__(self) -> int:
        values = self.values()
        return len(values[0]) if values else 0

    def __getitem__(self, item: IndexType) -> InstanceData:
        if isinstance(item, str):
            return getattr(self, item)
        if isinstance(item, int) and not isinstance(item, bool):
            length = len(self)
            if not -length <= item < length:
                raise IndexError(f'instance index {item} is out of range for {length} instances')
            item = slice(item % length, item % length + 1)
        if isinstance(item, slice):
            selected = self.__class__(metainfo=self.metainfo)
            for key, value in self.items():
                setattr(selected, key, value[item])
            return selected
        return self._select(self._as_index_tensor(item))

    def _as_index_tensor(self, item: Any) -> torch.Tensor:
        """Lists and numpy arrays become a long or bool tensor; other types are refused."""
        if isinstance(item, list):
            item = np.asarray(item) if item else np.zeros(0, dtype=np.int64)
        if isinstance(item, np.ndarray):
            if item.dtype != np.bool_:
                if not np.issubdtype(item.dtype, np.integer):
                    raise TypeError(f'InstanceData index array must hold integers or bools, got {item.dtype}')
                item = item.astype(np.int64)
            item = torch.from_numpy(item)
        if not isinstance(item, torch.Tensor) or item.dtype not in (torch.int64, torch.bool):
            raise TypeError('InstanceData can be indexed by str, int, slice, list, numpy array, '
                            f'or a long/bool tensor; got {type(item).__name__}'
                            + (f' of dtype {item.dtype}' if isinstance(item, torch.Tensor) else ''))
        if item.dim() != 1:
            raise ValueError(f'InstanceData index tensor must be 1-D, got shape {tuple(item.shape)}')
        length = len(self)
        if item.dtype == torch.bool and len(item) != length:
            raise ValueError(f'boolean mask of length {len(item)} does not match the '
                             f'{length} instances')
        # Checking a device tensor would stall on a sync; torch reports those itself.
        if item.dtype == torch.int64 and item.numel() and item.device.type == 'cpu':
            low, high = int(item.min()), int(item.max())
            if low < -length or high >= length:
                bad = high if high >= length else low
                raise IndexError(f'instance index {bad} is out of range for {length} instances')
        return item

    def _select(self, index: torch.Tensor) -> InstanceData:
        selected = self.__class__(metainfo=self.metainfo)
        positions: list[int] | None = None
        for key, value in self.items():
            if isinstance(value, torch.Tensor):
                new_value = value[index.to(value.device)]
            elif isinstance(value, np.ndarray):
                new_value = value[index.cpu().numpy()]
            else:
                if positions is None:
                    positions = self._positions(index)
                new_value = self._gather(key, value, positions)
            setattr(selected, key, new_value)
        return selected

    def _positions(self, index: torch.Tensor) -> list[int]:
        """Non-negative positions an index tensor picks, bounds-checked."""
        if index.dtype == torch.bool:
            return torch.nonzero(index).view(-1).tolist()
        length = len(self)
        positions = index.tolist()
        for pos in positions:
            if not -length <= pos < length:
                raise IndexError(f'instance index {pos} is out of range for {length} instances')
        return [pos % length for pos in positions]

    @staticmethod
    def _gather(key: str, value: Any, positions: list[int]) -> Any:
        if isinstance(value, (list, tuple)):
            return type(value)(value[pos] for pos in positions)
        if isinstance(value, str):
            return ''.join(value[pos] for pos in positions)
        if hasattr(value, '__getitem__') and hasattr(value, 'cat'):
            if not positions:
                return value[0:0]
            return value.cat([value[pos:pos + 1] for pos in positions])
        raise TypeError(f'InstanceData field {key!r} ({type(value).__name__}) cannot be indexed by '
                        'a list or tensor; use tensors, arrays, lists, or a type with a cat method')

    @staticmethod
    def cat(instances_list: list[InstanceData]) -> InstanceData:
        """Concatenate InstanceData with the same data fields; metainfo comes from the first."""
        if not instances_list:
            raise ValueError('InstanceData.cat needs at least one InstanceData')
        for position, instances in enumerate(instances_list):
            if not isinstance(instances, InstanceData):
                raise TypeError(f'InstanceData.cat got a {type(instances).__name__} at position '
                                f'{position}; every item must be InstanceData')
        if len(instances_list) == 1:
            return instances_list[0]
        first = instances_list[0]
        keys = set(first.keys())
        for position, instances in enumerate(instances_list[1:], 1):
            if set(instances.keys()) != keys:
                raise ValueError(f'InstanceData.cat: item {position} has fields {sorted(instances.keys())}, '
                                 f'but item 0 has {sorted(keys)}')
        joined = first.__class__(metainfo=first.metainfo)
        for key in first.keys():
            values = [instances[key] for instances in instances_list]
            head = values[0]
            if isinstance(head, torch.Tensor):
                new_value: Any = torch.cat(values, dim=0)
            elif isinstance(head, np.ndarray):
                new_value = np.concatenate(values, axis=0)
            elif isinstance(head, str):
                new_value = ''.join(values)
            elif isinstance(head, (list, tuple)):
                new_value = type(head)(itertools.chain(*values))
            elif hasattr(head, 'cat'):
                new_value = head.cat(values)
            else:
                raise TypeError(f'InstanceData.cat cannot concatenate field {key!r} of type '
                                f'{type(head).__name__}; it needs a tensor, array, list or a cat method')
            setattr(joined, key, new_value)
        return joined
