"""Collate functions and the dataloader worker seeding, registered in FUNCTIONS."""
from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import torch
from torch.utils.data import default_collate as torch_default_collate
from torch.utils.data import get_worker_info

from mmlite.registry import FUNCTIONS
from mmlite.structures import BaseDataElement

# MMEngine's name for the same registry.
COLLATE_FUNCTIONS = FUNCTIONS


@FUNCTIONS.register_module()
def worker_init_fn(worker_id: int, num_workers: int, rank: int, seed: int,
                   disable_subprocess_warning: bool = False) -> None:
    """Seed python, numpy and torch in a dataloader worker so every worker on every rank
    draws different random augmentations, reproducibly: ``num_workers * rank + worker_id + seed``."""
    worker_seed = num_workers * rank + worker_id + seed
    random.seed(worker_seed)
    np.random.seed(worker_seed % 2**32)
    torch.manual_seed(worker_seed)
    if disable_subprocess_warning and worker_id != 0:
        warnings.simplefilter('ignore')


def _collate(batch: Sequence, leaf: Callable[[list], Any], keep_as_list: tuple[type, ...]) -> Any:
    """Transpose a batch of samples into one structure of the same shape.

    Mappings collate per key, namedtuples per field, other sequences per position (tuples
    become lists, as MMEngine does); ``leaf`` handles everything else.
    """
    if len(batch) == 0:
        raise ValueError('cannot collate an empty batch; check the dataset length and batch_size')
    first = batch[0]
    # Exact-type tests first: tensors and dicts are what batches are made of, and the ABC
    # checks below (Mapping, Sequence) cost several times more, per field of every batch.
    if type(first) is torch.Tensor:
        return leaf(list(batch))
    if isinstance(first, keep_as_list):
        return list(batch)
    if type(first) is dict or isinstance(first, Mapping):
        # map(itemgetter) gathers a key's column without a bytecode per sample.
        return type(first)({key: _collate(list(map(itemgetter(key), batch)), leaf, keep_as_list)
                            for key in first})
    if isinstance(first, tuple) and hasattr(first, '_fields'):
        return type(first)(*(_collate(list(field), leaf, keep_as_list) for field in zip(*batch)))
    if isinstance(first, Sequence):
        size = len(first)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError(f'cannot collate sequences of different lengths '
                               f'{sorted({len(sample) for sample in batch})}: each sample must '
                               'have the same number of elements')
        transposed = [_collate(list(column), leaf, keep_as_list) for column in zip(*batch)]
        if isinstance(first, tuple):
            return transposed
        try:
            return type(first)(transposed)
        except TypeError:  # sequence types that cannot be built from a list stay a list
            return transposed
    return leaf(list(batch))


@FUNCTIONS.register_module()
def pseudo_collate(data_batch: Sequence) -> Any:
    """Turn a list of samples into one sample of lists, recursively, without stacking.

    ``[dict(inputs=a, labels=x), dict(inputs=b, labels=y)]`` becomes
    ``dict(inputs=[a, b], labels=[x, y])``: the data preprocessor stacks on the device.
    """
    return _collate(data_batch, list, (str, bytes))


_KEPT_AS_LISTS = (BaseDataElement, str, bytes)


@FUNCTIONS.register_module()
def default_collate(data_batch: Sequence) -> Any:
    """Like :func:`pseudo_collate`, but stacks tensors, numpy arrays and numbers into
    tensors as ``torch.utils.data.default_collate`` does; data elements stay lists."""
    first = data_batch[0] if len(data_batch) else None
    if type(first) is not dict or get_worker_info() is not None:
        return _collate(data_batch, _stack_or_torch_collate, _KEPT_AS_LISTS)
    # The usual batch, a dict per sample, in the main process: each tensor column is
    # stacked here, one call per key instead of three, every iteration.
    batch = {}
    for key in first:
        column = list(map(itemgetter(key), data_batch))
        head = column[0]
        if type(head) is torch.Tensor and head.layout is torch.strided and not head.is_nested:
            batch[key] = torch.stack(column)
        else:
            batch[key] = _collate(column, _stack_or_torch_collate, _KEPT_AS_LISTS)
    return batch


def _stack_or_torch_collate(items: list) -> Any:
    """``torch.stack`` for plain dense tensors in the main process -- what torch's collate ends
    in there, without its chain of type dispatch; everything else (numbers, arrays, sparse or
    nested tensors, and tensors in a worker, which torch stacks into shared memory) goes to
    ``torch.utils.data.default_collate``."""
    first = items[0]
    if (type(first) is torch.Tensor and first.layout is torch.strided and not first.is_nested
            and get_worker_info() is None):
        return torch.stack(items)
    return torch_default_collate(items)
