"""BaseDataset: annotation loading, filtering, subsets and a worker-friendly packed data list.

The annotation file format (JSON, or YAML/pickle through ``mmlite.fileio``)::

    {"metainfo": {"classes": ["cat", "dog"]},
     "data_list": [{"img_path": "a.jpg", "gt_label": 0}, ...]}

With ``serialize_data`` the data list is pickled item by item into one numpy byte buffer
plus an offset array. Dataloader workers then share two numpy arrays instead of touching
(and so copying, through reference counts) thousands of small Python objects.
"""
from __future__ import annotations

import copy
import functools
import logging
import os
import pickle
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from mmlite.fileio import list_from_file, load

from .compose import Compose
from .sample_seed import fetch_seeded


def force_full_init(method: Callable) -> Callable:
    """Decorate a dataset method so it runs ``full_init()`` first when the dataset was
    built with ``lazy_init=True`` and nobody has initialised it yet."""

    @functools.wraps(method)
    def wrapper(obj: Any, *args: Any, **kwargs: Any) -> Any:
        if not hasattr(obj, 'full_init'):
            raise AttributeError(f'{type(obj).__name__} has no full_init(), which '
                                 f'@force_full_init on {method.__name__} needs')
        if not getattr(obj, '_fully_initialized', False):
            obj.full_init()
            obj._fully_initialized = True
        return method(obj, *args, **kwargs)

    return wrapper


def _warn(message: str) -> None:
    from mmlite.logging import print_log
    print_log(message, logger='current', level=logging.WARNING)


class BaseDataset(Dataset):
    """A dataset described by an annotation file, with a transform pipeline.

    Subclasses usually override :meth:`load_data_list` (other annotation formats) or
    :meth:`parse_data_info` (per-item fixes), and :meth:`get_cat_ids` when class-balanced
    sampling needs it.

    Args:
        ann_file: annotation file, relative to ``data_root`` unless absolute.
        metainfo: extra or overriding meta information (e.g. ``classes``); a string
            value naming an existing file is read as a list of lines.
        data_root: the folder ``ann_file`` and ``data_prefix`` are relative to.
        data_prefix: folder per path key of a data item, joined onto that key's value.
        filter_cfg: options for :meth:`filter_data`.
        indices: keep only these items (an int keeps the first n, or the last -n).
        serialize_data: pack the data list into one byte buffer (see the module doc).
        pipeline: transforms (callables or TRANSFORMS configs) applied to each item.
        test_mode: a pipeline returning None is an error instead of a refetch.
        lazy_init: defer loading annotations to :meth:`full_init`.
        max_refetch: how many random other items to try when the pipeline drops one.

    In a dataloader worker, a batch from an mmlite sampler reseeds ``random``,
    ``numpy.random`` and torch before each item from (the epoch's seed, the item's position
    in the epoch), so random augmentation does not depend on which worker reads the item and
    a resumed run repeats it exactly (see ``sample_seed.py``; about 12 us per item).
    """

    METAINFO: dict = dict()
    _fully_initialized: bool = False

    def __init__(self, ann_file: str = '', metainfo: dict | None = None, data_root: str = '',
                 data_prefix: dict = dict(img_path=''), filter_cfg: dict | None = None,
                 indices: int | Sequence[int] | None = None, serialize_data: bool = True,
                 pipeline: Sequence[dict | Callable] = [], test_mode: bool = False,
                 lazy_init: bool = False, max_refetch: int = 1000) -> None:
        self.ann_file = ann_file
        self._metainfo = self._load_metainfo(copy.deepcopy(metainfo))
        self.data_root = data_root
        self.data_prefix = copy.copy(data_prefix)
        self.filter_cfg = copy.deepcopy(filter_cfg)
        self._indices = indices
        self.serialize_data = serialize_data
        self.test_mode = test_mode
        self.max_refetch = max_refetch
        self.data_list: list[dict] = []
        self.data_bytes: np.ndarray
        self.data_address: np.ndarray
        self._join_prefix()
        self.pipeline = Compose(pipeline)
        if not lazy_init:
            self.full_init()

    # ------------------------------------------------------------ metainfo
    @classmethod
    def _load_metainfo(cls, metainfo: dict | None = None) -> dict:
        """The class-level METAINFO, updated with ``metainfo``."""
        merged = copy.deepcopy(cls.METAINFO)
        if metainfo is None:
            return merged
        if not isinstance(metainfo, dict):
            raise TypeError(f'{cls.__name__}: metainfo must be a dict, got {type(metainfo).__name__}')
        for key, value in metainfo.items():
            if isinstance(value, str) and os.path.isfile(value):
                value = list_from_file(value)
            merged[key] = value
        return merged

    @property
    def metainfo(self) -> dict:
        """A copy of the meta information (class METAINFO, argument, then annotation file)."""
        return copy.deepcopy(self._metainfo)

    def _join_prefix(self) -> None:
        if self.ann_file and not os.path.isabs(self.ann_file) and self.data_root:
            self.ann_file = os.path.join(self.data_root, self.ann_file)
        for key, prefix in self.data_prefix.items():
            if not isinstance(prefix, str):
                raise TypeError(f'{type(self).__name__}: data_prefix[{key!r}] must be a string, '
                                f'got {type(prefix).__name__}')
            if self.data_root and not os.path.isabs(prefix):
                self.data_prefix[key] = os.path.join(self.data_root, prefix)

    # -------------------------------------------------------------- loading
    def full_init(self) -> None:
        """Load, filter, subset and pack the annotations (once)."""
        if self._fully_initialized:
            return
        self.data_list = self.load_data_list()
        if not self.data_list:
            raise ValueError(f'{type(self).__name__}: the annotations ({self.ann_file or "load_data_list"}) '
                             'hold no data items; check "data_list" in the annotation file')
        self.data_list = self.filter_data()
        if self._indices is not None:
            self.data_list = self._select_unserialized(self._positions(self._indices, len(self.data_list)))
        if self.serialize_data:
            self.data_bytes, self.data_address = self._serialize_data()
        self._fully_initialized = True

    def load_data_list(self) -> list[dict]:
        """Read ``ann_file`` and return its data items after :meth:`parse_data_info`.

        The file's ``metainfo`` fills keys the class and the ``metainfo`` argument leave out.
        """
        if not self.ann_file:
            raise FileNotFoundError(f'{type(self).__name__} has no annotation file: set the config key '
                                    '"ann_file" (relative to data_root), or override load_data_list')
        if not os.path.isfile(self.ann_file):
            raise FileNotFoundError(f'{type(self).__name__}: annotation file {self.ann_file!r} does not '
                                    'exist; check the config keys "ann_file" and "data_root"')
        annotations = load(self.ann_file)
        if not isinstance(annotations, dict) or 'data_list' not in annotations \
                or 'metainfo' not in annotations:
            raise ValueError(f'annotation file {self.ann_file!r} must hold a dict with keys "metainfo" '
                             f'and "data_list", got {type(annotations).__name__}'
                             + (f' with keys {sorted(annotations)}' if isinstance(annotations, dict) else ''))
        if not isinstance(annotations['metainfo'], dict):
            raise TypeError(f'"metainfo" in {self.ann_file!r} must be a dict, '
                            f'got {type(annotations["metainfo"]).__name__}')
        for key, value in annotations['metainfo'].items():
            self._metainfo.setdefault(key, value)
        data_list: list[dict] = []
        for position, raw_info in enumerate(annotations['data_list']):
            parsed = self.parse_data_info(raw_info)
            items = parsed if isinstance(parsed, list) else [parsed]
            for item in items:
                if not isinstance(item, dict):
                    raise TypeError(f'{type(self).__name__}.parse_data_info must return a dict or a '
                                    f'list of dicts, got {type(item).__name__} for data_list[{position}] '
                                    f'of {self.ann_file!r}')
            data_list.extend(items)
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> dict | list[dict]:
        """Join each ``data_prefix`` folder onto the item's path under the same key."""
        for key, prefix in self.data_prefix.items():
            if key not in raw_data_info:
                raise KeyError(f'data item {raw_data_info} has no key {key!r}, which data_prefix names; '
                               'fix data_prefix in the dataset config or the annotation file')
            raw_data_info[key] = os.path.join(prefix, raw_data_info[key])
        return raw_data_info

    def filter_data(self) -> list[dict]:
        """The data items to keep; the base class keeps all (``filter_cfg`` is for subclasses)."""
        return self.data_list

    def get_cat_ids(self, idx: int) -> list[int]:
        """The category ids in item ``idx``; ClassBalancedDataset needs subclasses to say."""
        raise NotImplementedError(f'{type(self).__name__} does not implement get_cat_ids(idx), '
                                  'which ClassBalancedDataset needs')

    # ------------------------------------------------------------ packing
    def _serialize_data(self) -> tuple[np.ndarray, np.ndarray]:
        """One uint8 buffer of pickled items and the end offset of each item."""
        chunks = [np.frombuffer(pickle.dumps(info, protocol=4), dtype=np.uint8) for info in self.data_list]
        data_address = np.cumsum([len(chunk) for chunk in chunks], dtype=np.int64)
        data_bytes = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint8)
        self.data_list.clear()
        return data_bytes, data_address

    @staticmethod
    def _positions(indices: int | Sequence[int], length: int) -> list[int]:
        """Non-negative positions: an int n keeps the first n (or the last -n)."""
        if isinstance(indices, int):
            if abs(indices) > length:
                raise IndexError(f'indices={indices} asks for more items than the {length} there are')
            return list(range(indices)) if indices >= 0 else list(range(length + indices, length))
        positions = []
        for index in indices:
            if not -length <= index < length:
                raise IndexError(f'index {index} is out of range for a dataset of {length} items')
            positions.append(index % length)
        return positions

    def _select_unserialized(self, positions: list[int]) -> list[dict]:
        return [self.data_list[pos] for pos in positions]

    def _select_serialized(self, positions: list[int]) -> tuple[np.ndarray, np.ndarray]:
        starts = np.concatenate([[0], self.data_address[:-1]])
        pieces = [self.data_bytes[starts[pos]:self.data_address[pos]] for pos in positions]
        sizes = [len(piece) for piece in pieces]
        data_bytes = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.uint8)
        return data_bytes, np.cumsum(sizes, dtype=np.int64)

    @force_full_init
    def get_subset_(self, indices: int | Sequence[int]) -> None:
        """Keep only ``indices`` (an int keeps the first n, or the last -n), in place."""
        positions = self._positions(indices, len(self))
        if self.serialize_data:
            self.data_bytes, self.data_address = self._select_serialized(positions)
        else:
            self.data_list = self._select_unserialized(positions)

    @force_full_init
    def get_subset(self, indices: int | Sequence[int]) -> BaseDataset:
        """A copy of this dataset holding only ``indices``; this one is unchanged."""
        positions = self._positions(indices, len(self))
        subset = self._copy_without_annotation()
        if self.serialize_data:
            subset.data_bytes, subset.data_address = self._select_serialized(positions)
        else:
            subset.data_list = copy.deepcopy(self._select_unserialized(positions))
        return subset

    def _copy_without_annotation(self, memo: dict | None = None) -> BaseDataset:
        """A deep copy of everything but the (possibly large) annotations; objects already
        in ``memo`` (``id -> object``) are shared instead of copied."""
        cls = self.__class__
        other = cls.__new__(cls)
        memo = dict(memo or {})
        memo[id(self)] = other
        for key, value in self.__dict__.items():
            if key not in ('data_list', 'data_bytes', 'data_address'):
                other.__dict__[key] = copy.deepcopy(value, memo)
        other.data_list = []
        return other

    # ------------------------------------------------------------- access
    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """A fresh copy of item ``idx`` with ``sample_idx`` set to its non-negative index."""
        length = len(self)
        if not -length <= idx < length:
            raise IndexError(f'index {idx} is out of range for {type(self).__name__} of {length} items')
        idx %= length
        if self.serialize_data:
            start = int(self.data_address[idx - 1]) if idx > 0 else 0
            data_info = pickle.loads(memoryview(self.data_bytes[start:int(self.data_address[idx])]))
        else:
            data_info = copy.deepcopy(self.data_list[idx])
        data_info['sample_idx'] = idx
        return data_info

    def prepare_data(self, idx: int) -> Any:
        """Item ``idx`` through the pipeline (None when a transform drops it)."""
        return self.pipeline(self.get_data_info(idx))

    def __getitems__(self, indices: Sequence[int]) -> list:
        """The items of one batch (the DataLoader's fetcher calls this), each seeded from its
        place in the epoch when built in a worker (see the class docstring)."""
        return fetch_seeded(self, indices)

    def __getitem__(self, idx: int) -> Any:
        if not self._fully_initialized:
            _warn(f'{type(self).__name__} was built with lazy_init=True; call full_init() before '
                  'iterating so every dataloader worker does not load the annotations itself')
            self.full_init()
        if self.test_mode:
            data = self.prepare_data(idx)
            if data is None:
                raise RuntimeError(f'the test pipeline of {type(self).__name__} dropped item {idx} '
                                   '(a transform returned None); test pipelines must keep every item')
            return data
        tried = idx
        for _ in range(self.max_refetch + 1):
            data = self.prepare_data(tried)
            if data is not None:
                return data
            tried = self._rand_another()
        raise RuntimeError(f'{type(self).__name__}: the pipeline dropped item {idx} and '
                           f'{self.max_refetch} random replacements; check the data paths and the '
                           'pipeline, or raise max_refetch')

    def _rand_another(self) -> int:
        return int(np.random.randint(0, len(self)))

    @force_full_init
    def __len__(self) -> int:
        return len(self.data_address) if self.serialize_data else len(self.data_list)
