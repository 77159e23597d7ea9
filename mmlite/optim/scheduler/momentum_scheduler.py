"""Momentum schedulers: ``momentum`` for SGD-style optimizers, ``betas[0]`` for Adam-style."""
from __future__ import annotations

from typing import Any

from mmlite.registry import PARAM_SCHEDULERS

from .base_scheduler import _check_optimizer, fixed_param_signature
from .param_scheduler import (ConstantParamScheduler, CosineAnnealingParamScheduler,
                              CosineRestartParamScheduler, ExponentialParamScheduler,
                              LinearParamScheduler, MultiStepParamScheduler, PolyParamScheduler,
                              ReduceOnPlateauParamScheduler, StepParamScheduler)


class MomentumSchedulerMixin:
    """Schedules ``'momentum'``; for optimizers with ``betas`` (Adam, AdamW...) it keeps a
    ``momentum`` key in each group mirroring ``betas[0]`` and writes changes back there."""

    def __init__(self, optimizer: Any, *args: Any, **kwargs: Any) -> None:
        defaults = _check_optimizer(optimizer, type(self).__name__).defaults
        if 'momentum' in defaults:
            self.use_betas = False
        elif 'betas' in defaults:
            self.use_betas = True
            for group in optimizer.param_groups:
                group['momentum'] = group['betas'][0]
        else:
            raise ValueError(f'{type(self).__name__} needs an optimizer with momentum or betas '
                             f'(SGD, RMSprop, Adam, AdamW...); {type(optimizer).__name__} has '
                             f'neither (defaults: {sorted(defaults)})')
        super().__init__(optimizer, 'momentum', *args, **kwargs)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__signature__ = fixed_param_signature(cls)

    def _write_values(self, values: list) -> None:
        super()._write_values(values)
        if self.use_betas:
            for group in self.optimizer.param_groups:
                group['betas'] = (group['momentum'], *group['betas'][1:])


@PARAM_SCHEDULERS.register_module()
class ConstantMomentum(MomentumSchedulerMixin, ConstantParamScheduler):
    """:class:`ConstantParamScheduler` on the momentum."""


@PARAM_SCHEDULERS.register_module()
class CosineAnnealingMomentum(MomentumSchedulerMixin, CosineAnnealingParamScheduler):
    """:class:`CosineAnnealingParamScheduler` on the momentum."""


@PARAM_SCHEDULERS.register_module()
class ExponentialMomentum(MomentumSchedulerMixin, ExponentialParamScheduler):
    """:class:`ExponentialParamScheduler` on the momentum."""


@PARAM_SCHEDULERS.register_module()
class LinearMomentum(MomentumSchedulerMixin, LinearParamScheduler):
    """:class:`LinearParamScheduler` on the momentum."""


@PARAM_SCHEDULERS.register_module()
class MultiStepMomentum(MomentumSchedulerMixin, MultiStepParamScheduler):
    """:class:`MultiStepParamScheduler` on the momentum."""


@PARAM_SCHEDULERS.register_module()
class StepMomentum(MomentumSchedulerMixin, StepParamScheduler):
    """:class:`StepParamScheduler` on the momentum."""


@PARAM_SCHEDULERS.register_module()
class PolyMomentum(MomentumSchedulerMixin, PolyParamScheduler):
    """:class:`PolyParamScheduler` on the momentum."""


@PARAM_SCHEDULERS.register_module()
class CosineRestartMomentum(MomentumSchedulerMixin, CosineRestartParamScheduler):
    """:class:`CosineRestartParamScheduler` on the momentum."""


@PARAM_SCHEDULERS.register_module()
class ReduceOnPlateauMomentum(MomentumSchedulerMixin, ReduceOnPlateauParamScheduler):
    """:class:`ReduceOnPlateauParamScheduler` on the momentum."""
