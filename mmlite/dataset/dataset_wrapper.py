"""Dataset wrappers: concatenate, repeat, or oversample rare classes of other datasets.

Each accepts built datasets or DATASETS configs and, like BaseDataset, defers the work
of its inner datasets to ``full_init`` when ``lazy_init=True``.
"""
from __future__ import annotations

import bisect
import copy
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from mmlite.registry import DATASETS

from .base_dataset import _warn, force_full_init
from .sample_seed import fetch_seeded


def _build_dataset(dataset: Any, wrapper: str) -> Any:
    """A built dataset from a config, or the dataset itself."""
    if isinstance(dataset, dict):
        return DATASETS.build(dataset)
    if not (hasattr(dataset, '__getitem__') and hasattr(dataset, '__len__')):
        raise TypeError(f'{wrapper} needs datasets or DATASETS config dicts, got '
                        f'{type(dataset).__name__}')
    return dataset


def _full_init(dataset: Any) -> None:
    if hasattr(dataset, 'full_init'):
        dataset.full_init()


def _metainfo_of(dataset: Any) -> dict:
    return copy.deepcopy(getattr(dataset, 'metainfo', {}))


def _no_subset(wrapper: str) -> NotImplementedError:
    return NotImplementedError(f'{wrapper} does not support get_subset/get_subset_: which items a '
                               'subset means is ambiguous once datasets are wrapped. Take the subset '
                               f'of the inner dataset first, then wrap it in {wrapper}.')


class _Wrapper:
    """Shared behaviour: metainfo, lazy initialisation, and indexing via the inner index."""

    _fully_initialized: bool = False
    _metainfo: dict

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def _ensure_init(self) -> None:
        if not self._fully_initialized:
            _warn(f'{type(self).__name__} was built with lazy_init=True; call full_init() before '
                  'iterating so every dataloader worker does not load the annotations itself')
            self.full_init()

    def __getitems__(self, indices: Sequence[int]) -> list:
        """One batch; in a worker each item is seeded from its place in the epoch, here at the
        outer level, so repeated inner items draw differently (see sample_seed.py)."""
        return fetch_seeded(self, indices)

    def get_subset_(self, indices: Any) -> None:
        raise _no_subset(type(self).__name__)

    def get_subset(self, indices: Any) -> Any:
        raise _no_subset(type(self).__name__)


@DATASETS.register_module()
class ConcatDataset(_Wrapper):
    """Datasets one after another. Metainfo comes from the first dataset; every other
    dataset must agree on each metainfo key, except ``ignore_keys``.

    Args:
        datasets: datasets or configs.
        lazy_init: defer ``full_init`` of the inner datasets.
        ignore_keys: metainfo keys allowed to differ between the datasets.
    """

    def __init__(self, datasets: Sequence[Any], lazy_init: bool = False,
                 ignore_keys: str | list[str] | None = None) -> None:
        self.datasets = [_build_dataset(dataset, 'ConcatDataset') for dataset in datasets]
        if not self.datasets:
            raise ValueError('ConcatDataset needs at least one dataset')
        if ignore_keys is None:
            self.ignore_keys: list[str] = []
        elif isinstance(ignore_keys, str):
            self.ignore_keys = [ignore_keys]
        elif isinstance(ignore_keys, list):
            self.ignore_keys = ignore_keys
        else:
            raise TypeError(f'ignore_keys must be a str or a list of str, got {type(ignore_keys).__name__}')
        self._metainfo = _metainfo_of(self.datasets[0])
        self._check_metainfo()
        self.cumulative_sizes: list[int] = []
        if not lazy_init:
            self.full_init()

    def _check_metainfo(self) -> None:
        metainfos = [_metainfo_of(dataset) for dataset in self.datasets]
        keys = set().union(*metainfos) - set(self.ignore_keys)
        first = self._metainfo
        for position, metainfo in enumerate(metainfos[1:], 1):
            for key in sorted(keys):
                if key not in metainfo or key not in first:
                    has = next(i for i, info in enumerate(metainfos) if key in info)
                    lacks = position if key in first else 0
                    raise ValueError(f'ConcatDataset: metainfo key {key!r} is in dataset {has} but not '
                                     f'in dataset {lacks}; add it there or list it in ignore_keys')
                ours, theirs = first[key], metainfo[key]
                if isinstance(ours, np.ndarray):
                    same = type(theirs) is np.ndarray and np.array_equal(ours, theirs)
                else:
                    same = type(ours) is type(theirs) and ours == theirs
                if not same:
                    raise ValueError(f'ConcatDataset: metainfo {key!r} of dataset {position} ({theirs!r}) '
                                     f'differs from dataset 0 ({ours!r}); make them match or list '
                                     f'{key!r} in ignore_keys')

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        for dataset in self.datasets:
            _full_init(dataset)
        self.cumulative_sizes = np.cumsum([len(dataset) for dataset in self.datasets]).tolist()
        self._fully_initialized = True

    @force_full_init
    def _get_ori_dataset_idx(self, idx: int) -> tuple[int, int]:
        """(which dataset, index inside it) of global index ``idx``."""
        length = len(self)
        if not -length <= idx < length:
            raise IndexError(f'index {idx} is out of range for ConcatDataset of {length} items')
        idx %= length
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        sample_idx = idx - (self.cumulative_sizes[dataset_idx - 1] if dataset_idx else 0)
        return dataset_idx, sample_idx

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        dataset_idx, sample_idx = self._get_ori_dataset_idx(idx)
        return self.datasets[dataset_idx].get_data_info(sample_idx)

    @force_full_init
    def get_cat_ids(self, idx: int) -> list[int]:
        dataset_idx, sample_idx = self._get_ori_dataset_idx(idx)
        return self.datasets[dataset_idx].get_cat_ids(sample_idx)

    @force_full_init
    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        self._ensure_init()
        dataset_idx, sample_idx = self._get_ori_dataset_idx(idx)
        return self.datasets[dataset_idx][sample_idx]


class _SingleWrapper(_Wrapper):
    """A wrapper of one dataset whose items are items of it, by ``_get_ori_dataset_idx``."""

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(self._get_ori_dataset_idx(idx))

    @force_full_init
    def get_cat_ids(self, idx: int) -> list[int]:
        return self.dataset.get_cat_ids(self._get_ori_dataset_idx(idx))

    def __getitem__(self, idx: int) -> Any:
        self._ensure_init()
        return self.dataset[self._get_ori_dataset_idx(idx)]


@DATASETS.register_module()
class RepeatDataset(_SingleWrapper):
    """A dataset ``times`` times over: shortens short epochs, where loading restarts cost.

    Args:
        dataset: a dataset or config.
        times: how many repetitions.
        lazy_init: defer ``full_init`` of the inner dataset.
    """

    def __init__(self, dataset: Any, times: int, lazy_init: bool = False) -> None:
        self.dataset = _build_dataset(dataset, 'RepeatDataset')
        if not isinstance(times, int) or times < 1:
            raise ValueError(f'RepeatDataset: times must be a positive int, got {times!r}')
        self.times = times
        self._metainfo = _metainfo_of(self.dataset)
        if not lazy_init:
            self.full_init()

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        _full_init(self.dataset)
        self._ori_len = len(self.dataset)
        self._fully_initialized = True

    @force_full_init
    def _get_ori_dataset_idx(self, idx: int) -> int:
        return idx % self._ori_len

    @force_full_init
    def __len__(self) -> int:
        return self.times * self._ori_len


@DATASETS.register_module()
class ClassBalancedDataset(_SingleWrapper):
    """Repeat items holding rare categories (repeat factor sampling, LVIS paper).

    With ``f(c)`` the fraction of items containing category ``c``, category ``c`` gets
    ``r(c) = max(1, sqrt(oversample_thr / f(c)))`` and an item the largest ``r`` of its
    categories, rounded up to a whole number of copies.

    Args:
        dataset: a dataset or config whose ``get_cat_ids(idx)`` lists each item's categories.
        oversample_thr: the frequency below which categories are oversampled.
        lazy_init: defer ``full_init`` of the inner dataset.
    """

    def __init__(self, dataset: Any, oversample_thr: float, lazy_init: bool = False) -> None:
        self.dataset = _build_dataset(dataset, 'ClassBalancedDataset')
        self.oversample_thr = oversample_thr
        self._metainfo = _metainfo_of(self.dataset)
        if not lazy_init:
            self.full_init()

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        _full_init(self.dataset)
        repeat_indices: list[int] = []
        for index, factor in enumerate(self._get_repeat_factors(self.dataset, self.oversample_thr)):
            repeat_indices.extend([index] * math.ceil(factor))
        self.repeat_indices = repeat_indices
        self._fully_initialized = True

    @staticmethod
    def _get_repeat_factors(dataset: Any, repeat_thr: float) -> list[float]:
        """The repeat factor of each item of ``dataset``."""
        num_items = len(dataset)
        if num_items == 0:
            return []
        cat_ids_per_item = [set(dataset.get_cat_ids(idx)) for idx in range(num_items)]
        item_count: dict[Any, int] = defaultdict(int)
        for cat_ids in cat_ids_per_item:
            for cat_id in cat_ids:
                item_count[cat_id] += 1
        category_repeat = {cat_id: max(1.0, math.sqrt(repeat_thr / (count / num_items)))
                           for cat_id, count in item_count.items()}
        return [max((category_repeat[c] for c in cat_ids), default=1.0) for cat_ids in cat_ids_per_item]

    @force_full_init
    def _get_ori_dataset_idx(self, idx: int) -> int:
        return self.repeat_indices[idx]

    @force_full_init
    def __len__(self) -> int:
        return len(self.repeat_indices)
