"""IterTimerHook: records data-loading and iteration times and the estimated time left."""
from __future__ import annotations

import time
from typing import Any

from mmlite.registry import HOOKS

from .hook import DATA_BATCH, Hook


# Hub keys per mode, made once: no string formatting per iteration.
_KEYS = {mode: (f'{mode}/data_time', f'{mode}/time') for mode in ('train', 'val', 'test')}


def _keys(mode: str) -> tuple[str, str]:
    """Keys of a mode other than train/val/test."""
    return f'{mode}/data_time', f'{mode}/time'


@HOOKS.register_module()
class IterTimerHook(Hook):
    """Put ``{mode}/data_time`` (waiting for the batch) and ``{mode}/time`` (the whole
    iteration) into the message hub, and ``eta`` (seconds left) into its runtime info.

    Per iteration this is two clock reads, two float updates and a little arithmetic.
    """

    priority = 'NORMAL'
    _max_iters: int | None = None  # constant during a run: read once in before_train

    def __init__(self) -> None:
        self.start_iter = 0
        self.time_sec_tot = 0.0       # training seconds since before_train
        self.time_sec_test_val = 0.0  # seconds of the current val/test epoch
        self._last = time.perf_counter()

    def before_train(self, runner) -> None:
        self.start_iter = runner.iter
        self.time_sec_tot = 0.0
        self._max_iters = runner.max_iters

    def _before_epoch(self, runner, mode: str = 'train') -> None:
        self.time_sec_test_val = 0.0
        self._last = time.perf_counter()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A subclass that overrides the generic methods keeps getting the training points
        # through them, as with any Hook.
        super().__init_subclass__(**kwargs)
        if '_before_iter' in vars(cls) and 'before_train_iter' not in vars(cls):
            cls.before_train_iter = Hook.before_train_iter
        if '_after_iter' in vars(cls) and 'after_train_iter' not in vars(cls):
            cls.after_train_iter = Hook.after_train_iter

    # The training points, the ones on the hot path, are spelled out rather than routed
    # through _before_iter/_after_iter: a call and a keyword dict less per iteration each.
    def before_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None) -> None:
        runner.message_hub.update_scalar('train/data_time', time.perf_counter() - self._last)

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: Any = None) -> None:
        now = time.perf_counter()
        iter_time = now - self._last
        self._last = now
        hub = runner.message_hub
        hub.update_scalar('train/time', iter_time)
        self.time_sec_tot += iter_time
        current = runner.iter
        max_iters = self._max_iters if self._max_iters is not None else runner.max_iters
        hub.update_info('eta', self.time_sec_tot / (current - self.start_iter + 1)
                        * (max_iters - current - 1))

    def _before_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                     mode: str = 'train') -> None:
        if mode == 'train':
            IterTimerHook.before_train_iter(self, runner, batch_idx, data_batch)
            return
        keys = _KEYS.get(mode) or _keys(mode)
        runner.message_hub.update_scalar(keys[0], time.perf_counter() - self._last)

    def _after_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                    outputs: Any = None, mode: str = 'train') -> None:
        if mode == 'train':  # named on the class: a subclass's _after_iter may land here
            IterTimerHook.after_train_iter(self, runner, batch_idx, data_batch, outputs)
            return
        now = time.perf_counter()
        iter_time = now - self._last
        self._last = now
        hub = runner.message_hub
        hub.update_scalar((_KEYS.get(mode) or _keys(mode))[1], iter_time)
        self.time_sec_test_val += iter_time
        loader = runner.val_dataloader if mode == 'val' else runner.test_dataloader
        hub.update_info('eta', self.time_sec_test_val / (batch_idx + 1)
                        * (len(loader) - batch_idx - 1))
