"""DigitsDataset: scikit-learn's bundled 8x8 handwritten digits, for offline examples and tests.

The 1797 images ship inside scikit-learn as ``sklearn/datasets/data/digits.csv.gz``; this
module reads that file with numpy and never imports scikit-learn itself (whose import
pulls in scipy and takes seconds) nor downloads anything.
"""
from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from mmlite.registry import DATASETS

from .base_dataset import BaseDataset

_SPLITS = ('train', 'val', 'test')


def digits_csv_path() -> str:
    """Where the installed scikit-learn keeps ``digits.csv.gz``."""
    spec = importlib.util.find_spec('sklearn')
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('DigitsDataset reads the digits data bundled with scikit-learn, which is '
                          "not installed: pip install scikit-learn (or mmlite's 'examples' extra)")
    path = os.path.join(list(spec.submodule_search_locations)[0], 'datasets', 'data', 'digits.csv.gz')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'scikit-learn is installed but {path} is missing; reinstall it with '
                                'pip install --force-reinstall scikit-learn')
    return path


@functools.lru_cache(maxsize=1)
def read_digits() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 images as uint8 (N, 1, 8, 8) scaled to 0..255, and their int64 labels.

    Cached (read-only) so the train and val datasets parse the file once.
    """
    table = np.loadtxt(digits_csv_path(), delimiter=',', dtype=np.float64)
    images = np.rint(table[:, :-1] * (255.0 / 16.0)).astype(np.uint8).reshape(-1, 1, 8, 8)
    labels = table[:, -1].astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def split_positions(labels: np.ndarray, split: str, test_ratio: float, seed: int) -> np.ndarray:
    """Sorted positions of ``split``: per class, a seeded shuffle puts ``test_ratio`` of the
    items in the held-out part ('val' and 'test' both name it) and the rest in 'train'."""
    rng = np.random.default_rng(seed)
    held_out = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        held_out.append(members[:round(len(members) * test_ratio)])
    held = np.zeros(len(labels), dtype=bool)
    held[np.concatenate(held_out)] = True
    return np.flatnonzero(held if split != 'train' else ~held)


@DATASETS.register_module()
class DigitsDataset(BaseDataset):
    """8x8 grey digits, 10 classes; samples are ``dict(inputs=uint8 (1, 8, 8), labels=int64 0-d)``.

    Pixel values (0..16 in the file) are scaled to 0..255 so an image data preprocessor
    normalises them like any other image. The split is stratified and fixed by ``seed``.

    Args:
        split: 'train', or 'val' / 'test' (the same held-out part).
        test_ratio: the held-out fraction of each class.
        seed: the split's seed (not the training seed).
        pipeline: transforms applied to each sample dict.
        Other arguments: as :class:`BaseDataset`.
    """

    METAINFO = dict(classes=tuple(str(digit) for digit in range(10)))

    def __init__(self, split: str = 'train', test_ratio: float = 0.2, seed: int = 0,
                 pipeline: Sequence[dict | Callable] = (), metainfo: dict | None = None,
                 indices: int | Sequence[int] | None = None, serialize_data: bool = True,
                 test_mode: bool = False, lazy_init: bool = False, max_refetch: int = 1000) -> None:
        if split not in _SPLITS:
            raise ValueError(f'DigitsDataset: split must be one of {_SPLITS}, got {split!r}')
        if not 0.0 < test_ratio < 1.0:
            raise ValueError(f'DigitsDataset: test_ratio must be between 0 and 1, got {test_ratio}')
        self.split = split
        self.test_ratio = test_ratio
        self.seed = seed
        super().__init__(metainfo=metainfo, data_prefix={}, indices=indices,
                         serialize_data=serialize_data, pipeline=list(pipeline), test_mode=test_mode,
                         lazy_init=lazy_init, max_refetch=max_refetch)

    def load_data_list(self) -> list[dict]:
        images, labels = read_digits()
        return [dict(img=images[pos], gt_label=int(labels[pos]), source_index=int(pos))
                for pos in split_positions(labels, self.split, self.test_ratio, self.seed)]

    def get_cat_ids(self, idx: int) -> list[int]:
        return [self.get_data_info(idx)['gt_label']]

    def prepare_data(self, idx: int) -> Any:
        info = self.get_data_info(idx)
        sample = dict(inputs=torch.from_numpy(info['img']),
                      labels=torch.tensor(info['gt_label'], dtype=torch.int64))
        return self.pipeline(sample)
