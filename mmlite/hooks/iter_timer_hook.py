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

    Per training iteration this is two clock reads and two list appends: the times reach the
    hub in bulk when someone reads it (see MessageHub.add_deferred_writer).
    """

    priority = 'NORMAL'
    _max_iters: int | None = None  # constant during a run: read once in before_train

    def __init__(self) -> None:
        self.start_iter = 0
        self.time_sec_tot = 0.0       # training seconds since before_train
        self.time_sec_test_val = 0.0  # seconds of the current val/test epoch
        self._last = time.perf_counter()
        # Training times held back from the hub until someone reads it (see MessageHub),
        # from the second iteration on; the ETA is worked out then from the iterations done.
        self._deferring = False
        self._hub: Any = None
        self._held_data_times: list[float] = []
        self._held_times: list[float] = []
        self._iters_done = 0  # training iterations since before_train

    def before_train(self, runner) -> None:
        self.start_iter = runner.iter
        self.time_sec_tot = 0.0
        self._max_iters = runner.max_iters
        self._iters_done = 0
        self._deferring = False
        # Stays registered after training (no after_train point, as in MMEngine): a flush with
        # nothing held back costs a call, and a hub read after training still gets everything.
        self._hub = runner.message_hub
        self._hub.add_deferred_writer(self._flush)

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
        if self._deferring:
            self._held_data_times.append(time.perf_counter() - self._last)
            return
        runner.message_hub.update_scalar('train/data_time', time.perf_counter() - self._last)

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: Any = None) -> None:
        now = time.perf_counter()
        iter_time = now - self._last
        self._last = now
        self.time_sec_tot += iter_time
        self._iters_done += 1
        if self._deferring:
            self._held_times.append(iter_time)
            return
        self._deferring = self._hub is not None  # held back only once the hub runs _flush
        hub = runner.message_hub
        hub.update_scalar('train/time', iter_time)
        hub.update_info('eta', self._eta(runner))

    def _eta(self, runner) -> float:
        """Seconds left at the current pace, after ``self._iters_done`` iterations."""
        max_iters = self._max_iters if self._max_iters is not None else runner.max_iters
        return self.time_sec_tot / self._iters_done * (max_iters - self.start_iter - self._iters_done)

    def _flush(self) -> None:
        """Hand the held-back times and the ETA to the hub (MessageHub runs this before anyone
        reads it)."""
        hub = self._hub
        if self._held_data_times:
            data_times, self._held_data_times = self._held_data_times, []
            hub.extend_scalar('train/data_time', data_times)
        if self._held_times:  # iterations ended since the last flush: the ETA moved too
            times, self._held_times = self._held_times, []
            hub.extend_scalar('train/time', times)
            hub.update_info('eta', self._eta(None))  # _max_iters is set in before_train

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
