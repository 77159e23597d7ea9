"""DistSamplerSeedHook: tells the training sampler which epoch it is, so shuffling differs per
epoch but agrees across ranks."""
from __future__ import annotations

from mmlite.registry import HOOKS

from .hook import Hook


@HOOKS.register_module()
class DistSamplerSeedHook(Hook):
    """Call ``set_epoch(runner.epoch)`` on the train dataloader's sampler (or on its batch
    sampler's sampler) before every training epoch."""

    priority = 'NORMAL'

    def before_train_epoch(self, runner) -> None:
        loader = runner.train_loop.dataloader
        sampler = getattr(loader, 'sampler', None)
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(runner.epoch)
            return
        inner = getattr(getattr(loader, 'batch_sampler', None), 'sampler', None)
        if hasattr(inner, 'set_epoch'):
            inner.set_epoch(runner.epoch)
