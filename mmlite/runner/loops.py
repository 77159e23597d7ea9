"""The four standard loops: epoch- and iteration-based training, validation and test.

Hook points are called in MMEngine's order. ``runner.iter`` counts finished training
iterations: inside ``before/after_train_iter`` it is the index of the current one, and it
increases right after ``after_train_iter``; ``runner.epoch`` likewise after ``after_train_epoch``.
"""
from __future__ import annotations

import bisect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.utils.data import DataLoader

from mmlite.registry import LOOPS

from .amp import autocast
from .base_loop import BaseLoop, InfiniteDataloaderIterator, check_not_empty, reseed_loader, skip_batches
from .batch_iter import iter_batches
from .checkpoint_writer import wait_for_checkpoint_writes
from .hook_dispatch import _TRAIN_ITER_PLAN, HookDispatch
from .run_safety import RunSafety


@contextmanager
def _checkpoints_settled_on_error() -> Iterator[None]:
    """If training fails, let checkpoints still being fsynced in the background land (and
    last_checkpoint move) before the error leaves the loop, so whoever handles it sees the disk
    as it will stay."""
    try:
        yield
    except BaseException as error:
        try:
            wait_for_checkpoint_writes()
        except Exception as write_error:  # noqa: BLE001 -- reported on the error in flight
            error.add_note(f'also, a checkpoint write failed: {write_error}')
        raise


def _dispatches_directly(runner: Any) -> bool:
    """Whether a loop may call ``runner.iter_callers(point)`` itself instead of
    ``runner.call_hook``: a Runner whose call_hook is HookDispatch's own (not overridden in a
    subclass or replaced on the instance)."""
    return (isinstance(runner, HookDispatch) and isinstance(runner, RunSafety)
            and type(runner).call_hook is HookDispatch.call_hook and 'call_hook' not in vars(runner))


def _dynamic_intervals(start_interval: int, dynamic_intervals: list[tuple[int, int]] | None):
    """Milestones and intervals for ``dynamic_intervals=[(milestone, interval), ...]``."""
    milestones, intervals = [0], [start_interval]
    for milestone, interval in sorted(dynamic_intervals or []):
        milestones.append(milestone)
        intervals.append(interval)
    return milestones, intervals


_NEVER = 2**62  # no hook with a gap acts again (in this epoch)


def _next_acting(gaps: list, runner: Any, batch_idx: int) -> int:
    """Iterations from ``batch_idx`` to the next one at which a hook with a gap acts."""
    nearest = _NEVER
    for gap in gaps:
        distance = gap(runner, batch_idx)
        if distance is not None:
            nearest = min(nearest, max(distance, 1))
    return nearest


class _TrainLoopMixin:
    """What the two training loops share: counters, stopping, validation interval."""

    _direct_dispatch: bool | None = None  # see _dispatches_directly; worked out once
    # after_train_iter goes to every hook (runner.train_iter_plan()[1]) from this iteration
    # on, and to the every-iteration ones before it; an epoch's first iteration calls all.
    _all_hooks_from = 0
    _plan: tuple | None = None

    def _init_train_state(self, val_begin: int, val_interval: int, dynamic_intervals) -> None:
        self._epoch = 0
        self._iter = 0
        self.val_begin = val_begin
        self.val_interval = val_interval
        self.stop_training = False
        self.dynamic_milestones, self.dynamic_intervals = _dynamic_intervals(val_interval,
                                                                             dynamic_intervals)
        dataset = getattr(self.dataloader, 'dataset', None)
        if hasattr(dataset, 'metainfo') and getattr(self.runner, 'visualizer', None) is not None:
            self.runner.visualizer.dataset_meta = dataset.metainfo

    @property
    def max_epochs(self) -> int:
        return self._max_epochs

    @property
    def max_iters(self) -> int:
        return self._max_iters

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def iter(self) -> int:
        return self._iter

    def _decide_current_val_interval(self, progress: int) -> None:
        step = bisect.bisect(self.dynamic_milestones, progress)
        self.val_interval = self.dynamic_intervals[step - 1]

    def _should_validate(self, progress: int, last: int) -> bool:
        return (self.runner.val_loop is not None and progress >= self.val_begin
                and (progress % self.val_interval == 0 or progress == last))

    def run_iter(self, idx: int, data_batch: Any) -> None:
        """One training iteration between its two hook points."""
        runner = self._runner
        direct = self._direct_dispatch
        if direct is None:
            direct = self._direct_dispatch = _dispatches_directly(runner)
        if not direct:
            runner.call_hook('before_train_iter', batch_idx=idx, data_batch=data_batch)
            outputs = runner.model.train_step(data_batch, optim_wrapper=runner.optim_wrapper)
            runner.call_hook('after_train_iter', batch_idx=idx, data_batch=data_batch, outputs=outputs)
            self._iter += 1
            runner._check_preemption()
            return
        # What call_hook would do, with the arguments passed by position.
        callers = runner._iter_callers
        before = callers.get('before_train_iter')
        for call in before if before is not None else runner.iter_callers('before_train_iter'):
            call(runner, idx, data_batch)
        outputs = runner.model.train_step(data_batch, optim_wrapper=runner.optim_wrapper)
        plan = callers.get(_TRAIN_ITER_PLAN) or runner.train_iter_plan()
        if self._iter < self._all_hooks_from and plan is self._plan:
            for call in plan[0]:
                call(runner, idx, data_batch, outputs)
        else:  # a hook that acts only every so often is due (or the hooks changed)
            for call in plan[1]:
                call(runner, idx, data_batch, outputs)
            self._plan = plan
            self._all_hooks_from = self._iter + _next_acting(plan[2], runner, idx)
        self._iter += 1
        if runner._preempt_signal is not None or runner._distributed:  # else it would do nothing
            runner._check_preemption()


@LOOPS.register_module()
class EpochBasedTrainLoop(_TrainLoopMixin, BaseLoop):
    """Train for ``max_epochs`` passes over the data, validating every ``val_interval`` epochs.

    A run resumed from a checkpoint written in the middle of an epoch continues with the next
    batch of that epoch (the sampler skips what was trained; nothing is re-read).
    """

    def __init__(self, runner, dataloader: DataLoader | dict, max_epochs: int, val_begin: int = 1,
                 val_interval: int = 1, dynamic_intervals: list[tuple[int, int]] | None = None) -> None:
        super().__init__(runner, dataloader)
        check_not_empty(self.dataloader, 'train_dataloader')
        self._max_epochs = int(max_epochs)
        if self._max_epochs != max_epochs or self._max_epochs < 1:
            raise ValueError(f'train_cfg.max_epochs must be a positive integer, got {max_epochs!r}')
        self._max_iters = self._max_epochs * len(self.dataloader)
        self._init_train_state(val_begin, val_interval, dynamic_intervals)

    def run(self) -> torch.nn.Module:
        runner = self.runner
        with _checkpoints_settled_on_error():
            runner.call_hook('before_train')
            while self._epoch < self._max_epochs and not self.stop_training:
                self.run_epoch()
                self._decide_current_val_interval(self._epoch)
                if self._should_validate(self._epoch, self._max_epochs):
                    runner.val_loop.run()
            runner.call_hook('after_train')
        return runner.model

    def run_epoch(self) -> None:
        runner = self.runner
        runner.call_hook('before_train_epoch')
        runner.model.train()
        start = self._iter - self._epoch * len(self.dataloader)  # > 0 only when resumed mid-epoch
        reseed_loader(self.dataloader, self._epoch)
        iterator = skip_batches(self.dataloader, start) or iter_batches(self.dataloader)
        self._all_hooks_from = self._iter  # hooks' gaps count within an epoch
        for idx, data_batch in enumerate(iterator, start):
            self.run_iter(idx, data_batch)
            if self.stop_training:
                break
        runner.call_hook('after_train_epoch')
        self._epoch += 1


@LOOPS.register_module()
class IterBasedTrainLoop(_TrainLoopMixin, BaseLoop):
    """Train for ``max_iters`` iterations over an endlessly repeated dataloader.

    Resuming skips trained iterations in the sampler instead of loading and discarding
    them, which is what takes minutes in MMEngine on long runs.
    """

    def __init__(self, runner, dataloader: DataLoader | dict, max_iters: int, val_begin: int = 1,
                 val_interval: int = 1000, dynamic_intervals: list[tuple[int, int]] | None = None) -> None:
        super().__init__(runner, dataloader)
        check_not_empty(self.dataloader, 'train_dataloader')
        self._max_iters = int(max_iters)
        if self._max_iters != max_iters or self._max_iters < 1:
            raise ValueError(f'train_cfg.max_iters must be a positive integer, got {max_iters!r}')
        self._max_epochs = 1
        self._init_train_state(val_begin, val_interval, dynamic_intervals)
        self.dataloader_iterator: InfiniteDataloaderIterator | None = None

    def run(self) -> torch.nn.Module:
        runner = self.runner
        with _checkpoints_settled_on_error():
            runner.call_hook('before_train')
            runner.call_hook('before_train_epoch')
            self.dataloader_iterator = InfiniteDataloaderIterator(self.dataloader,
                                                                  start_batch=self._iter)
            runner.model.train()
            self._all_hooks_from = self._iter
            while self._iter < self._max_iters and not self.stop_training:
                data_batch = next(self.dataloader_iterator)
                self.run_iter(self._iter, data_batch)
                self._decide_current_val_interval(self._iter)
                if self._should_validate(self._iter, self._max_iters):
                    runner.val_loop.run()
                    runner.model.train()
            runner.call_hook('after_train_epoch')
            runner.call_hook('after_train')
        return runner.model


class _EvalLoop(BaseLoop):
    """Validation and test share everything but their hook names and config keys."""

    mode = 'val'

    def __init__(self, runner, dataloader: DataLoader | dict, evaluator: Any, fp16: bool = False) -> None:
        super().__init__(runner, dataloader, evaluator)
        check_not_empty(self.dataloader, f'{self.mode}_dataloader')
        dataset = getattr(self.dataloader, 'dataset', None)
        if hasattr(dataset, 'metainfo'):
            self.evaluator.dataset_meta = dataset.metainfo
            if getattr(runner, 'visualizer', None) is not None:
                runner.visualizer.dataset_meta = dataset.metainfo
        self.fp16 = fp16

    def run(self) -> dict:
        runner, mode = self.runner, self.mode
        runner.call_hook(f'before_{mode}')
        runner.call_hook(f'before_{mode}_epoch')
        runner.model.eval()
        reseed_loader(self.dataloader, 0)
        with runner.progress(self.dataloader, mode) as batches:
            for idx, data_batch in enumerate(batches):
                self.run_iter(idx, data_batch)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        runner.call_hook(f'after_{mode}_epoch', metrics=metrics)
        runner.call_hook(f'after_{mode}')
        return metrics

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: Any) -> None:
        runner, mode = self.runner, self.mode
        runner.call_hook(f'before_{mode}_iter', batch_idx=idx, data_batch=data_batch)
        with autocast(device_type=runner.device_type, enabled=self.fp16):
            step = runner.model.val_step if mode == 'val' else runner.model.test_step
            outputs = step(data_batch)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        runner.call_hook(f'after_{mode}_iter', batch_idx=idx, data_batch=data_batch, outputs=outputs)


@LOOPS.register_module()
class ValLoop(_EvalLoop):
    """Score the model on ``val_dataloader`` with ``val_evaluator``; ``fp16`` runs it autocast."""

    mode = 'val'


@LOOPS.register_module()
class TestLoop(_EvalLoop):
    """Score the model on ``test_dataloader`` with ``test_evaluator``."""

    mode = 'test'
