"""EmptyCacheHook: releases the accelerator's cached memory at chosen points."""
from __future__ import annotations

from typing import Any

from mmlite.registry import HOOKS

from .hook import DATA_BATCH, Hook

_MODES = ('train', 'val', 'test')


def empty_cache() -> None:
    """Release cached blocks of the CUDA (or MPS) allocator; nothing to do on the CPU."""
    import torch
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif getattr(torch.backends, 'mps', None) is not None and torch.backends.mps.is_available():
        torch.mps.empty_cache()


@HOOKS.register_module()
class EmptyCacheHook(Hook):
    """Call ``torch.cuda.empty_cache()`` before/after epochs and/or after iterations.

    Only the chosen points are hooked (as instance attributes), so with the default
    ``after_iter=False`` the runner never calls this hook inside an iteration.
    """

    priority = 'NORMAL'

    def __init__(self, before_epoch: bool = False, after_epoch: bool = True,
                 after_iter: bool = False) -> None:
        self._do_before_epoch = before_epoch
        self._do_after_epoch = after_epoch
        self._do_after_iter = after_iter
        for mode in _MODES:
            if before_epoch:
                setattr(self, f'before_{mode}_epoch', self._empty_before_epoch)
            if after_epoch:
                setattr(self, f'after_{mode}_epoch', self._empty_after_epoch)
            if after_iter:
                setattr(self, f'after_{mode}_iter', self._empty_after_iter)

    def _empty_before_epoch(self, runner) -> None:
        empty_cache()

    def _empty_after_epoch(self, runner, metrics: dict | None = None) -> None:
        empty_cache()

    def _empty_after_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                          outputs: Any = None) -> None:
        empty_cache()
