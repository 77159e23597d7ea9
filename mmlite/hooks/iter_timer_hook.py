"""IterTimerHook: records data-loading and iteration times and the estimated time left."""
from __future__ import annotations

import time
from typing import Any

from mmlite.registry import HOOKS

from .hook import DATA_BATCH, Hook


@HOOKS.register_module()
class IterTimerHook(Hook):
    """Put ``{mode}/data_time`` (waiting for the batch) and ``{mode}/time`` (the whole
    iteration) into the message hub, and ``eta`` (seconds left) into its runtime info.

    Per iteration this is two clock reads, two float updates and a little arithmetic.
    """

    priority = 'NORMAL'

    def __init__(self) -> None:
        self.start_iter = 0
        self.time_sec_tot = 0.0       # training seconds since before_train
        self.time_sec_test_val = 0.0  # seconds of the current val/test epoch
        self._last = time.perf_counter()

    def before_train(self, runner) -> None:
        self.start_iter = runner.iter
        self.time_sec_tot = 0.0

    def _before_epoch(self, runner, mode: str = 'train') -> None:
        self.time_sec_test_val = 0.0
        self._last = time.perf_counter()

    def _before_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                     mode: str = 'train') -> None:
        runner.message_hub.update_scalar(f'{mode}/data_time', time.perf_counter() - self._last)

    def _after_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                    outputs: Any = None, mode: str = 'train') -> None:
        now = time.perf_counter()
        iter_time = now - self._last
        self._last = now
        hub = runner.message_hub
        hub.update_scalar(f'{mode}/time', iter_time)
        if mode == 'train':
            self.time_sec_tot += iter_time
            spent, done = self.time_sec_tot, runner.iter - self.start_iter + 1
            left = runner.max_iters - runner.iter - 1
        else:
            self.time_sec_test_val += iter_time
            loader = runner.val_dataloader if mode == 'val' else runner.test_dataloader
            spent, done = self.time_sec_test_val, batch_idx + 1
            left = len(loader) - batch_idx - 1
        hub.update_info('eta', spent / done * left)
