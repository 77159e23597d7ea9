"""TorchvisionDataset: torchvision's MNIST-style and CIFAR data sets as mmlite samples.

For users who already have the files (or pass ``download=True``). Images come straight
from the data set's in-memory array as uint8 (C, H, W) tensors, skipping the PIL round
trip torchvision's ``__getitem__`` makes.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from mmlite.registry import DATASETS

from .base_dataset import BaseDataset

# The folder, under data_root, where torchvision looks for each data set's files.
_DATA_FOLDERS = {
    'MNIST': os.path.join('MNIST', 'raw'),
    'FashionMNIST': os.path.join('FashionMNIST', 'raw'),
    'KMNIST': os.path.join('KMNIST', 'raw'),
    'CIFAR10': 'cifar-10-batches-py',
    'CIFAR100': 'cifar-100-python',
}


def _as_chw_uint8(image: Any) -> torch.Tensor:
    """(H, W) or (H, W, C) image array/tensor -> uint8 (C, H, W) tensor."""
    tensor = image if isinstance(image, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(image))
    if tensor.ndim == 2:
        return tensor.unsqueeze(0).contiguous()
    return tensor.permute(2, 0, 1).contiguous()


@DATASETS.register_module()
class TorchvisionDataset(BaseDataset):
    """A torchvision classification data set; samples are
    ``dict(inputs=uint8 (C, H, W), labels=int64 0-d)``.

    Args:
        name: one of MNIST, FashionMNIST, KMNIST, CIFAR10, CIFAR100.
        data_root: the ``root`` torchvision reads from (and downloads to).
        split: 'train', or 'val' / 'test' (the data set's test part).
        train: torchvision's own switch; give ``split`` or ``train``, not both.
        download: let torchvision download missing files.
        pipeline: transforms applied to each sample dict.
        Other arguments: as :class:`BaseDataset`.
    """

    def __init__(self, name: str = 'FashionMNIST', data_root: str = 'data', split: str | None = None,
                 train: bool | None = None, download: bool = False,
                 pipeline: Sequence[dict | Callable] = (), metainfo: dict | None = None,
                 indices: int | Sequence[int] | None = None, serialize_data: bool = True,
                 test_mode: bool = False, lazy_init: bool = False, max_refetch: int = 1000) -> None:
        if name not in _DATA_FOLDERS:
            raise ValueError(f'TorchvisionDataset: name must be one of {sorted(_DATA_FOLDERS)}, got {name!r}')
        if split is not None and split not in ('train', 'val', 'test'):
            raise ValueError(f"TorchvisionDataset: split must be 'train', 'val' or 'test', got {split!r}")
        if split is not None and train is not None and train != (split == 'train'):
            raise ValueError(f'TorchvisionDataset: split={split!r} contradicts train={train}; give one')
        self.name = name
        self.train = train if train is not None else split in (None, 'train')
        self.download = download
        self._source: Any = None
        super().__init__(metainfo=metainfo, data_root=data_root, data_prefix={}, indices=indices,
                         serialize_data=serialize_data, pipeline=list(pipeline), test_mode=test_mode,
                         lazy_init=lazy_init, max_refetch=max_refetch)

    def _open_source(self) -> Any:
        folder = os.path.join(self.data_root, _DATA_FOLDERS[self.name])
        if not self.download and not os.path.isdir(folder):
            raise FileNotFoundError(
                f'TorchvisionDataset found no {self.name} data: looked in {folder} '
                f'(config key data_root={self.data_root!r}). Put the files there, or set '
                'download=True to let torchvision fetch them.')
        import torchvision.datasets
        return getattr(torchvision.datasets, self.name)(root=self.data_root, train=self.train,
                                                        download=self.download)

    def load_data_list(self) -> list[dict]:
        self._source = self._open_source()
        self._metainfo.setdefault('classes', tuple(self._source.classes))
        return [dict(source_index=pos, gt_label=int(label))
                for pos, label in enumerate(self._source.targets)]

    def _copy_without_annotation(self, memo: dict | None = None) -> BaseDataset:
        # Subsets share the (large, read-only) torchvision data set rather than copy it.
        return super()._copy_without_annotation({**(memo or {}), id(self._source): self._source})

    def get_cat_ids(self, idx: int) -> list[int]:
        return [self.get_data_info(idx)['gt_label']]

    def prepare_data(self, idx: int) -> Any:
        info = self.get_data_info(idx)
        sample = dict(inputs=_as_chw_uint8(self._source.data[info['source_index']]),
                      labels=torch.tensor(info['gt_label'], dtype=torch.int64))
        return self.pipeline(sample)
