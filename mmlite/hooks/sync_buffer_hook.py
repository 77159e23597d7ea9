"""SyncBuffersHook: averages model buffers (e.g. BatchNorm statistics) across ranks."""
from __future__ import annotations

from mmlite.registry import HOOKS

from .hook import Hook


@HOOKS.register_module()
class SyncBuffersHook(Hook):
    """All-reduce (mean) the model's floating-point buffers after every training epoch, and
    before validation when the last epoch end did not (iteration-based training).

    Integer buffers (``num_batches_tracked``) are counts, equal on every rank; they are left
    alone. A no-op when not distributed.
    """

    priority = 'NORMAL'

    def __init__(self) -> None:
        self.called_in_train = False  # synced at the end of the epoch just before validation

    def before_val_epoch(self, runner) -> None:
        if not self.called_in_train:
            self._sync(runner)
        self.called_in_train = False

    def after_train_epoch(self, runner) -> None:
        self._sync(runner)
        self.called_in_train = True

    @staticmethod
    def _sync(runner) -> None:
        if not runner.distributed:
            return
        from mmlite.dist import all_reduce_params
        buffers = [b for b in runner.model.buffers() if b.is_floating_point()]
        all_reduce_params(buffers, op='mean')
