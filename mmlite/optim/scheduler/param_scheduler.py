"""Step-based parameter schedulers with simple shapes: constant, linear, step, exponential, poly.

The cosine-shaped ones live in ``cosine_scheduler.py`` and the metric-driven one in
``plateau_scheduler.py``; all are re-exported here, where MMEngine keeps them.
"""
from __future__ import annotations

import bisect
from collections import Counter
from typing import Any

from mmlite.registry import PARAM_SCHEDULERS

from .base_scheduler import INF, _ParamScheduler


def _group_values(scheduler: _ParamScheduler) -> list:
    return [group[scheduler.param_name] for group in scheduler.optimizer.param_groups]


@PARAM_SCHEDULERS.register_module()
class ConstantParamScheduler(_ParamScheduler):
    """Multiply the value by ``factor`` (0 < factor <= 1) until the last step of the range,
    where the original value comes back."""

    def __init__(self, optimizer: Any, param_name: str, factor: float = 1.0 / 3, begin: int = 0,
                 end: int = INF, last_step: int = -1, by_epoch: bool = True,
                 verbose: bool = False) -> None:
        if not 0 < factor <= 1.0:
            raise ValueError(f'{type(self).__name__}: factor must be in (0, 1], got {factor}')
        self.factor = factor
        self.total_iters = end - begin - 1
        super().__init__(optimizer, param_name, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    def _get_value(self) -> list:
        values = _group_values(self)
        if self.last_step == 0:
            return [v * self.factor for v in values]
        if self.last_step != self.total_iters:
            return values
        return [v * (1.0 / self.factor) for v in values]

    def _get_closed_form_value(self) -> list:
        factor = self.factor if self.last_step < self.total_iters else 1.0
        return [base * factor for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class LinearParamScheduler(_ParamScheduler):
    """Move the factor applied to the value linearly from ``start_factor`` to ``end_factor``
    over the range (the classic warm-up: ``LinearLR(start_factor=0.001, end=500)``)."""

    def __init__(self, optimizer: Any, param_name: str, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, begin: int = 0, end: int = INF, last_step: int = -1,
                 by_epoch: bool = True, verbose: bool = False) -> None:
        if not 0 < start_factor <= 1.0:
            raise ValueError(f'{type(self).__name__}: start_factor must be in (0, 1], got {start_factor}')
        if not 0 <= end_factor <= 1.0:
            raise ValueError(f'{type(self).__name__}: end_factor must be in [0, 1], got {end_factor}')
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = end - begin - 1
        super().__init__(optimizer, param_name, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    def _get_value(self) -> list:
        values = _group_values(self)
        if self.last_step == 0:
            return [v * self.start_factor for v in values]
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_step - 1) * delta)
        return [v * ratio for v in values]

    def _get_closed_form_value(self) -> list:
        if self.total_iters <= 0:
            factor = self.start_factor
        else:
            progress = min(self.last_step, self.total_iters) / self.total_iters
            factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base * factor for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class StepParamScheduler(_ParamScheduler):
    """Multiply the value by ``gamma`` every ``step_size`` steps."""

    _epoch_valued_args = ('step_size',)

    def __init__(self, optimizer: Any, param_name: str, step_size: int, gamma: float = 0.1,
                 begin: int = 0, end: int = INF, last_step: int = -1, by_epoch: bool = True,
                 verbose: bool = False) -> None:
        if step_size <= 0:
            raise ValueError(f'{type(self).__name__}: step_size must be positive, got {step_size}')
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, param_name, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    def _get_value(self) -> list:
        values = _group_values(self)
        if self.last_step == 0 or self.last_step % self.step_size != 0:
            return values
        return [v * self.gamma for v in values]

    def _get_closed_form_value(self) -> list:
        factor = self.gamma ** (self.last_step // self.step_size)
        return [base * factor for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class MultiStepParamScheduler(_ParamScheduler):
    """Multiply the value by ``gamma`` at each milestone (counted from ``begin``; a
    milestone listed twice multiplies twice)."""

    _epoch_valued_args = ('milestones',)

    def __init__(self, optimizer: Any, param_name: str, milestones: list[int], gamma: float = 0.1,
                 begin: int = 0, end: int = INF, last_step: int = -1, by_epoch: bool = True,
                 verbose: bool = False) -> None:
        self.milestones = Counter(milestones)
        self._sorted_milestones = sorted(milestones)
        self.gamma = gamma
        super().__init__(optimizer, param_name, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    def _get_value(self) -> list:
        values = _group_values(self)
        count = self.milestones.get(self.last_step, 0)
        if count == 0:
            return values
        return [v * self.gamma ** count for v in values]

    def _get_closed_form_value(self) -> list:
        factor = self.gamma ** bisect.bisect_right(self._sorted_milestones, self.last_step)
        return [base * factor for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class ExponentialParamScheduler(_ParamScheduler):
    """Multiply the value by ``gamma`` every step."""

    def __init__(self, optimizer: Any, param_name: str, gamma: float, begin: int = 0,
                 end: int = INF, last_step: int = -1, by_epoch: bool = True,
                 verbose: bool = False) -> None:
        self.gamma = gamma
        super().__init__(optimizer, param_name, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    def _get_value(self) -> list:
        values = _group_values(self)
        if self.last_step == 0:
            return values
        return [v * self.gamma for v in values]

    def _get_closed_form_value(self) -> list:
        return [base * self.gamma ** self.last_step for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class PolyParamScheduler(_ParamScheduler):
    """Decay the value polynomially (``power``) to ``eta_min`` at the last step of the range."""

    def __init__(self, optimizer: Any, param_name: str, eta_min: float = 0, power: float = 1.0,
                 begin: int = 0, end: int = INF, last_step: int = -1, by_epoch: bool = True,
                 verbose: bool = False) -> None:
        self.eta_min = eta_min
        self.power = power
        self.total_iters = end - begin - 1
        super().__init__(optimizer, param_name, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    def _get_value(self) -> list:
        values = _group_values(self)
        if self.last_step == 0:
            return values
        ratio = (1 - 1 / (self.total_iters - self.last_step + 1)) ** self.power
        return [(v - self.eta_min) * ratio + self.eta_min for v in values]

    def _get_closed_form_value(self) -> list:
        if self.total_iters <= 0:
            return list(self.base_values)
        factor = (1 - min(self.last_step, self.total_iters) / self.total_iters) ** self.power
        return [(base - self.eta_min) * factor + self.eta_min for base in self.base_values]


# Re-exported so MMEngine's module paths (``...scheduler.param_scheduler.X``) keep working.
from .cosine_scheduler import (CosineAnnealingParamScheduler, CosineRestartParamScheduler,
                               OneCycleParamScheduler)
from .plateau_scheduler import ReduceOnPlateauParamScheduler

__all__ = [
    'INF', '_ParamScheduler', 'ConstantParamScheduler', 'LinearParamScheduler',
    'StepParamScheduler', 'MultiStepParamScheduler', 'ExponentialParamScheduler',
    'PolyParamScheduler', 'CosineAnnealingParamScheduler', 'CosineRestartParamScheduler',
    'OneCycleParamScheduler', 'ReduceOnPlateauParamScheduler',
]
