"""BaseLoop, and the data-position helpers that make resumed runs continue exactly."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader

from mmlite.dataset.sample_seed import SeededBatchSampler
from mmlite.logging import print_log
from mmlite.registry import config_key_path

from .batch_iter import iter_batches


class BaseLoop:
    """A loop over ``dataloader`` driven by ``runner``; subclasses implement :meth:`run`.

    ``dataloader`` may be a built DataLoader or its config. ``evaluator`` is optional:
    loops that score results (the tutorials' custom validation loop) pass it along.
    """

    def __init__(self, runner, dataloader: DataLoader | dict, evaluator: Any = None) -> None:
        self._runner = runner
        if isinstance(dataloader, dict):
            diff_rank_seed = runner._randomness_cfg.get('diff_rank_seed', False)
            with config_key_path(_dataloader_key(runner, dataloader)):
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


def _dataloader_key(runner, dataloader: dict) -> str:
    """The config key ``dataloader`` came from, for error messages."""
    for kind in ('train', 'val', 'test'):
        if getattr(runner, f'_{kind}_dataloader', None) is dataloader:
            return f'{kind}_dataloader'
    return 'dataloader'


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

    Each new iterator draws its workers' base seed from this generator (so making one never
    touches the global torch RNG). Persistent workers keep the first base seed for the whole
    run, so exact augmentation after a resume rests on per-sample seeding instead (see
    ``mmlite/dataset/sample_seed.py``); this keeps other datasets' worker seeds per epoch.
    """
    seed = getattr(dataloader, '_mmlite_seed', None)
    if seed is not None and isinstance(dataloader.generator, torch.Generator):
        dataloader.generator.manual_seed(seed * 1_000_003 + epoch)


def _index_sampler(dataloader: DataLoader):
    """The sampler of single indices behind a loader whose batches are consecutive chunks."""
    batch_sampler = dataloader.batch_sampler
    if batch_sampler is not None and type(batch_sampler) in (BatchSampler, SeededBatchSampler):
        return batch_sampler.sampler, batch_sampler.batch_size
    if batch_sampler is None and dataloader.batch_size is None:
        return dataloader.sampler, 1
    return None, None


_EXHAUSTED = object()


def skip_batches(dataloader: DataLoader, num_batches: int) -> Iterator | None:
    """Arrange for the next iterator over ``dataloader`` to start after ``num_batches`` batches.

    When the sampler can skip (mmlite's samplers), nothing skipped is read from the dataset.
    Otherwise the batches are loaded and discarded, with a warning: returns that iterator.
    """
    if num_batches <= 0:
        return None
    sampler, batch_size = _index_sampler(dataloader)
    if sampler is not None and hasattr(sampler, 'skip'):
        num_samples = num_batches * batch_size
        if not _is_endless(dataloader):
            # A checkpoint of an epoch's last iteration skips the whole epoch, whose last
            # batch may be short.
            num_samples = min(num_samples, len(sampler))
        sampler.skip(num_samples)
        return None
    print_log(f'resuming: the sampler of this dataloader ({type(dataloader.sampler).__name__}) cannot '
              f'skip, so {num_batches} batches are loaded and discarded; use DefaultSampler or '
              'InfiniteSampler to skip them without reading', logger='current', level=30)
    iterator = iter_batches(dataloader)
    for _ in range(num_batches):
        if next(iterator, _EXHAUSTED) is _EXHAUSTED:  # the checkpoint ended the epoch
            break
    return iterator


def _is_endless(dataloader: DataLoader) -> bool:
    """Whether the loader's sampler never ends (its one stream spans every pass).

    Such a sampler still reports a length (the dataset's), but a resume must skip inside its
    single stream rather than restart a pass.
    """
    from mmlite.dataset import InfiniteSampler
    sampler, _ = _index_sampler(dataloader)
    return isinstance(sampler if sampler is not None else dataloader.sampler, InfiniteSampler)


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
            per_epoch = 0 if _is_endless(loader) else len(loader)
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
        return skipped if skipped is not None else iter_batches(loader)

    def _set_epoch(self) -> None:
        for obj in (self._dataloader.sampler, getattr(self._dataloader.batch_sampler, 'sampler', None)):
            if hasattr(obj, 'set_epoch'):
                obj.set_epoch(self._epoch)
        reseed_loader(self._dataloader, self._epoch)

    def __iter__(self) -> InfiniteDataloaderIterator:
        return self

    def close(self) -> None:
        """Stop the worker processes of the current pass; the iteration is over."""
        _stop_workers(self._iterator)
        self._iterator = None

    def __next__(self) -> Any:
        if self._iterator is None:
            self._iterator = self._open()
        try:
            return next(self._iterator)
        except StopIteration:
            self._epoch += 1
            self._set_epoch()
            self._iterator = iter_batches(self._dataloader)
            return next(self._iterator)


def _stop_workers(iterator: Any) -> None:
    stop = getattr(iterator, '_shutdown_workers', None)  # torch's multi-process iterator
    if stop is not None:
        stop()


def release_workers(*loops: Any) -> None:
    """Stop the dataloader worker processes these loops started, now rather than when they
    are garbage collected.

    A runner sits in reference cycles, so its loaders' iterators are freed by the cycle
    collector, whose finalization order leaves torch waiting 5 s per worker before killing
    it. Iterating the loader again later starts new workers.
    """
    for loop in loops:
        if not isinstance(loop, BaseLoop):
            continue
        if isinstance(getattr(loop, 'dataloader_iterator', None), InfiniteDataloaderIterator):
            loop.dataloader_iterator.close()
        loader = getattr(loop, 'dataloader', None)
        if isinstance(loader, DataLoader) and loader._iterator is not None:
            _stop_workers(loader._iterator)
            loader._iterator = None
