"""The Hook base class: every point a loop calls, each a no-op until a subclass overrides it.

A training loop, seen from a hook::

    runner.call_hook('before_train')
    for epoch in epochs:
        runner.call_hook('before_train_epoch')
        for batch_idx, data_batch in enumerate(dataloader):
            runner.call_hook('before_train_iter', batch_idx=batch_idx, data_batch=data_batch)
            outputs = model.train_step(data_batch, optim_wrapper)
            runner.call_hook('after_train_iter', batch_idx=batch_idx, data_batch=data_batch, outputs=outputs)
        runner.call_hook('after_train_epoch')
    runner.call_hook('after_train')

The runner calls a hook only at the points it overrides (:meth:`Hook.triggered_points`), so a
hook costs nothing at the points it leaves alone.
"""
from __future__ import annotations

from typing import Any

DATA_BATCH = dict | tuple | list | None

# Points whose default body forwards to a mode-generic method; overriding the generic
# method (e.g. ``_after_iter``) therefore triggers all of them.
_GENERIC = {
    **{f'{w}_{m}_epoch': f'_{w}_epoch' for w in ('before', 'after') for m in ('train', 'val', 'test')},
    **{f'{w}_{m}_iter': f'_{w}_iter' for w in ('before', 'after') for m in ('train', 'val', 'test')},
}

# MMCV 1.x hooks (the OpenMMLab tutorials' MyHook) define before_epoch/after_epoch/
# before_iter/after_iter; they run at the train and val points, as MMCV ran them.
_LEGACY = {f'{w}_{m}_{unit}': f'{w}_{unit}'
           for w in ('before', 'after') for m in ('train', 'val') for unit in ('epoch', 'iter')}


class Hook:
    """Base class of hooks; ``priority`` orders hooks that share a point (lower runs first)."""

    priority = 'NORMAL'
    stages = ('before_run', 'after_load_checkpoint', 'before_train', 'before_train_epoch',
              'before_train_iter', 'after_train_iter', 'after_train_epoch', 'before_val',
              'before_val_epoch', 'before_val_iter', 'after_val_iter', 'after_val_epoch', 'after_val',
              'before_save_checkpoint', 'after_train', 'before_test', 'before_test_epoch',
              'before_test_iter', 'after_test_iter', 'after_test_epoch', 'after_test', 'after_run')

    def before_run(self, runner) -> None:
        """Before anything runs (after the runner is set up)."""

    def after_run(self, runner) -> None:
        """After a run finishes (not when a loop raises, as in MMEngine)."""

    def before_train(self, runner) -> None:
        """Before the first training epoch/iteration."""

    def after_train(self, runner) -> None:
        """After the last training epoch/iteration."""

    def before_val(self, runner) -> None:
        """Before a validation run."""

    def after_val(self, runner) -> None:
        """After a validation run."""

    def before_test(self, runner) -> None:
        """Before a test run."""

    def after_test(self, runner) -> None:
        """After a test run."""

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Add to or edit ``checkpoint`` before it is written."""

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Read what ``before_save_checkpoint`` added."""

    def before_train_epoch(self, runner) -> None:
        self._before_epoch(runner, mode='train')

    def before_val_epoch(self, runner) -> None:
        self._before_epoch(runner, mode='val')

    def before_test_epoch(self, runner) -> None:
        self._before_epoch(runner, mode='test')

    def after_train_epoch(self, runner) -> None:
        self._after_epoch(runner, mode='train')

    def after_val_epoch(self, runner, metrics: dict[str, float] | None = None) -> None:
        self._after_epoch(runner, mode='val')

    def after_test_epoch(self, runner, metrics: dict[str, float] | None = None) -> None:
        self._after_epoch(runner, mode='test')

    def before_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None) -> None:
        self._before_iter(runner, batch_idx=batch_idx, data_batch=data_batch, mode='train')

    def before_val_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None) -> None:
        self._before_iter(runner, batch_idx=batch_idx, data_batch=data_batch, mode='val')

    def before_test_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None) -> None:
        self._before_iter(runner, batch_idx=batch_idx, data_batch=data_batch, mode='test')

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: dict | None = None) -> None:
        self._after_iter(runner, batch_idx=batch_idx, data_batch=data_batch, outputs=outputs,
                         mode='train')

    def after_val_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                       outputs: Any = None) -> None:
        self._after_iter(runner, batch_idx=batch_idx, data_batch=data_batch, outputs=outputs,
                         mode='val')

    def after_test_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                        outputs: Any = None) -> None:
        self._after_iter(runner, batch_idx=batch_idx, data_batch=data_batch, outputs=outputs,
                         mode='test')

    def _before_epoch(self, runner, mode: str = 'train') -> None:
        """Shared by the three ``before_*_epoch`` points."""
        self._call_legacy('before_epoch', runner, mode)

    def _after_epoch(self, runner, mode: str = 'train') -> None:
        """Shared by the three ``after_*_epoch`` points."""
        self._call_legacy('after_epoch', runner, mode)

    def _before_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                     mode: str = 'train') -> None:
        """Shared by the three ``before_*_iter`` points."""
        self._call_legacy('before_iter', runner, mode)

    def _after_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                    outputs: Any = None, mode: str = 'train') -> None:
        """Shared by the three ``after_*_iter`` points."""
        self._call_legacy('after_iter', runner, mode)

    def _call_legacy(self, name: str, runner, mode: str) -> None:
        method = getattr(self, name, None) if mode != 'test' else None
        if method is not None:
            method(runner)

    # ---------------------------------------------------------------- helpers
    def every_n_epochs(self, runner, n: int, start: int = 0) -> bool:
        """True after every ``n``-th epoch counted from ``start``."""
        done = runner.epoch + 1 - start
        return n > 0 and done >= 0 and done % n == 0

    def every_n_inner_iters(self, batch_idx: int, n: int) -> bool:
        """True after every ``n``-th iteration of the current epoch."""
        return n > 0 and (batch_idx + 1) % n == 0

    def every_n_train_iters(self, runner, n: int, start: int = 0) -> bool:
        """True after every ``n``-th training iteration counted from ``start``."""
        done = runner.iter + 1 - start
        return n > 0 and done >= 0 and done % n == 0

    def end_of_epoch(self, dataloader, batch_idx: int) -> bool:
        """True at the last batch of ``dataloader``."""
        return batch_idx + 1 == len(dataloader)

    def is_last_train_epoch(self, runner) -> bool:
        return runner.epoch + 1 == runner.max_epochs

    def is_last_train_iter(self, runner) -> bool:
        return runner.iter + 1 == runner.max_iters

    def overrides(self, point: str) -> bool:
        """Whether this hook does something at ``point`` (a standard or a custom point)."""
        if point in vars(self):
            return True
        base = getattr(Hook, point, None)
        if base is None:
            return callable(getattr(self, point, None))
        if getattr(type(self), point) is not base:
            return True
        generic = _GENERIC.get(point)
        if generic is not None and getattr(type(self), generic) is not getattr(Hook, generic):
            return True
        legacy = _LEGACY.get(point)
        return legacy is not None and callable(getattr(type(self), legacy, None))

    def get_triggered_stages(self) -> list[str]:
        """The standard points this hook overrides, in loop order (shown in the hooks table)."""
        return [stage for stage in self.stages if self.overrides(stage)]

    def __repr__(self) -> str:
        return type(self).__name__
