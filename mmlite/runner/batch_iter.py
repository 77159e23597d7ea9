"""Iterating a DataLoader in the main process without torch's per-batch wrapper frames.

For a loader without workers, torch's iterator runs ``__next__`` -> ``_next_data`` ->
``_next_index`` -> ``fetch`` per batch inside a ``record_function`` scope that it opens even
when no profiler runs: about 15 us per batch, 3% of a step of benchmarks/overhead.py's tiny
model. For a plain ``DataLoader`` over a map-style dataset, :func:`iter_batches` yields the
same batches from a generator (the scope is opened only while a profiler records, so traces
keep their label).
Everything else -- workers, pinned memory, iterable datasets, DataLoader subclasses -- goes
through ``iter(loader)``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import repeat
from operator import getitem
from typing import Any

import torch
from torch.utils.data import DataLoader, IterableDataset
from torch.utils.data import dataloader as torch_dataloader

# The label torch's single-process iterator gives each batch in profiler traces.
PROFILE_NAME = 'enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__'
# Datapipes get sharding and seeding from torch's iterator: they keep it.
_DATAPIPES = tuple(kind for kind in (getattr(torch_dataloader, 'IterDataPipe', None),
                                     getattr(torch_dataloader, 'MapDataPipe', None)) if kind)
_profiler_enabled = torch.autograd._profiler_enabled


def _pins_memory(loader: DataLoader) -> bool:
    accelerator = getattr(torch, 'accelerator', None)  # torch >= 2.6; CUDA before that
    available = accelerator.is_available() if accelerator is not None else torch.cuda.is_available()
    return bool(loader.pin_memory) and available


def lean_iterable(loader: Any) -> bool:
    """Whether :func:`iter_batches` can iterate ``loader`` without torch's iterator."""
    return (type(loader) is DataLoader and loader.num_workers == 0 and loader.timeout == 0
            and loader.batch_sampler is not None  # batches collated from single samples
            and not isinstance(loader.dataset, (IterableDataset, *_DATAPIPES))
            and not _pins_memory(loader))


def iter_batches(loader: Iterable) -> Iterator:
    """``iter(loader)``, with the same batches as a lean generator where :func:`lean_iterable`."""
    if not lean_iterable(loader):
        return iter(loader)
    # What torch's iterator does when made: draw its workers' base seed from the loader's
    # generator, so a sampler sharing that generator sees the same random stream either way.
    torch.empty((), dtype=torch.int64).random_(generator=loader.generator)
    dataset = loader.dataset
    getitems = getattr(dataset, '__getitems__', None)
    return _batches(dataset, getitems or None, loader.batch_sampler, loader.collate_fn)


def _read(dataset: Any, getitems: Callable | None, indices: list) -> list:
    """The samples of one batch, as torch's map-style fetcher reads them: ``__getitems__``
    when the dataset has one, else ``dataset[i]`` each."""
    if getitems is not None:
        return getitems(indices)
    return list(map(getitem, repeat(dataset), indices))


def _batches(dataset: Any, getitems: Callable | None, batch_sampler: Iterable,
             collate_fn: Callable) -> Iterator:
    for indices in batch_sampler:
        if _profiler_enabled():
            with torch.autograd.profiler.record_function(PROFILE_NAME):
                batch = collate_fn(_read(dataset, getitems, indices))
            yield batch
        else:  # _read spelled out: a call per batch costs the loop more than its own time
            yield collate_fn(getitems(indices) if getitems is not None
                             else list(map(getitem, repeat(dataset), indices)))
