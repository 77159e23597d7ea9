"""BaseLoop, and the data-position helpers that make resumed runs continue exactly."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader

from mmlite.logging import print_log


class BaseLoop:
    """A loop over ``dataloader`` driven by ``runner``; subclasses implement :meth:`run`.

    ``dataloader`` may be a built DataLoader or its config. ``evaluator`` is optional:
    loops that score results (the tutorials' custom validation loop) pass it along.
    """

    def __init__(self, runner, dataloader: DataLoader | dict, evaluator: Any = None) -> None:
        self._runner = runner
        if isinstance(dataloader, dict):
            diff_rank_seed = runner._randomness_cfg.get('diff_rank_seed', False)
            dataloader = runner.build_dataloader(dataloader, seed=runner.seed,
                                                 diff_rank_seed=diff_rank_seed)
        self.dataloader = dataloader
        if evaluator is not None:
            self.evaluator = runner.build_evaluator(evaluator) \
                if isinstance(evaluator, (dict, list)) else evaluator

    @property
    def runner(self):
        return self._runner

    def run(self) -> Any:
        """Run the loop; return what the caller should get (the model, or metrics)."""
        raise NotImplementedError(f'{type(self).__name__} must implement run()')


def check_not_empty(dataloader: DataLoader, key: str) -> None:
    """Fail early, in a sentence, when a dataloader yields no batch at all."""
    try:
        length = len(dataloader)
    except TypeError:  # iterable-style datasets have no length
        return
    if length == 0:
        dataset = dataloader.dataset
        size = len(dataset) if hasattr(dataset, '__len__') else 'unknown'
        batch = getattr(dataloader.batch_sampler, 'batch_size', dataloader.batch_size)
        raise ValueError(f'{key} yields no batches: its dataset has {size} samples, batch_size is '
                         f'{batch}, drop_last is {getattr(dataloader.batch_sampler, "drop_last", None)}. '
                         f'Check the dataset ({key}.dataset) or lower the batch size.')


def reseed_loader(dataloader: DataLoader, epoch: int) -> None:
    """Seed the loader's own generator from (seed, epoch) before an iterator is made.

    Each new iterator draws its workers' base seed from this generator, so a run resumed in
    the middle of epoch ``epoch`` hands its workers the seeds the original run used, and the
    global torch RNG is left untouched.
    """
    seed = getattr(dataloader, '_mmlite_seed', None)
    if seed is not None and isinstance(dataloader.generator, torch.Generator):
        dataloader.generator.manual_seed(seed * 1_000_003 + epoch)


def _index_sampler(dataloader: DataLoader):
    """The sampler of single indices behind a loader whose batches are consecutive chunks."""
    batch_sampler = dataloader.batch_sampler
    if batch_sampler is not None and type(batch_sampler) is BatchSampler:
        return batch_sampler.sampler, batch_sampler.batch_size
    if batch_sampler is None and dataloader.batch_size is None:
        return dataloader.sampler, 1
    return None, None


def skip_batches(dataloader: DataLoader, num_batches: int) -> Iterator | None:
    """Arrange for the next iterator over ``dataloader`` to start after ``num_batches`` batches.

    When the sampler can skip (mmlite's samplers), nothing skipped is read from the dataset.
    Otherwise the batches are loaded and discarded, with a warning: returns that iterator.
    """
    if num_batches <= 0:
        return None
    sampler, batch_size = _index_sampler(dataloader)
    if sampler is not None and hasattr(sampler, 'skip'):
        sampler.skip(num_batches * batch_size)
        return None
    print_log(f'resuming: the sampler of this dataloader ({type(dataloader.sampler).__name__}) cannot '
              f'skip, so {num_batches} batches are loaded and discarded; use DefaultSampler or '
              'InfiniteSampler to skip them without reading', logger='current', level=30)
    iterator = iter(dataloader)
    for _ in range(num_batches):
        next(iterator)
    return iterator


class InfiniteDataloaderIterator:
    """Endless batches from a finite or infinite dataloader, restarting it with a new epoch."""

    def __init__(self, dataloader: DataLoader, start_batch: int = 0) -> None:
        self._dataloader = dataloader
        self._epoch = 0
        self._iterator: Iterator | None = None
        self._start = start_batch

    def _open(self) -> Iterator:
        loader = self._dataloader
        try:
            per_epoch = len(loader)
        except TypeError:
            per_epoch = 0
        skipped = None
        if self._start and per_epoch:
            self._epoch, within = divmod(self._start, per_epoch)
            self._set_epoch()
            skipped = skip_batches(loader, within)
        elif self._start:  # an endless sampler: skip inside its single stream
            self._set_epoch()
            skipped = skip_batches(loader, self._start)
        else:
            self._set_epoch()
        self._start = 0
        return skipped if skipped is not None else iter(loader)

    def _set_epoch(self) -> None:
        for obj in (self._dataloader.sampler, getattr(self._dataloader.batch_sampler, 'sampler', None)):
            if hasattr(obj, 'set_epoch'):
                obj.set_epoch(self._epoch)
        reseed_loader(self._dataloader, self._epoch)

    def __iter__(self) -> InfiniteDataloaderIterator:
        return self

    def __next__(self) -> Any:
        if self._iterator is None:
            self._iterator = self._open()
        try:
            return next(self._iterator)
        except StopIteration:
            self._epoch += 1
            self._set_epoch()
            self._iterator = iter(self._dataloader)
            return next(self._iterator)
