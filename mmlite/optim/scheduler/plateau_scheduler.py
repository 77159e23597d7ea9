"""ReduceOnPlateauParamScheduler: lower a parameter when a validation metric stops improving."""
from __future__ import annotations

import math
from typing import Any

from mmlite.registry import PARAM_SCHEDULERS

from .base_scheduler import _PROGRESS_KEYS, INF, _base_values, _check_optimizer, _ParamScheduler


@PARAM_SCHEDULERS.register_module()
class ReduceOnPlateauParamScheduler(_ParamScheduler):
    """Multiply the value by ``factor`` when ``metrics[monitor]`` has not improved for
    ``patience`` evaluations.

    ``step()`` without metrics only counts training steps (epochs or iterations), which
    ``begin``/``end`` refer to; ``step(metrics)`` after a validation judges the metric. The
    ParamSchedulerHook calls it with the validation results because ``need_val_args``.

    Args:
        monitor: the metric key to watch.
        rule: ``'less'`` (a loss) or ``'greater'`` (an accuracy) is better.
        factor: the multiplier, < 1.
        patience: evaluations without improvement tolerated before lowering.
        threshold, threshold_rule: improvement means beating the best by ``threshold``,
            relatively (``'rel'``) or absolutely (``'abs'``).
        cooldown: evaluations to wait after a reduction before counting again.
        min_value: the floor, one number or one per param group.
        eps: changes smaller than this are skipped.
    """

    need_val_args = True
    _progress_keys = _PROGRESS_KEYS + ('best', 'num_bad_epochs', 'cooldown_counter')

    def __init__(self, optimizer: Any, param_name: str, monitor: str = 'loss', rule: str = 'less',
                 factor: float = 0.1, patience: int = 10, threshold: float = 1e-4,
                 threshold_rule: str = 'rel', cooldown: int = 0,
                 min_value: float | list[float] = 0., eps: float = 1e-8, begin: int = 0,
                 end: int = INF, last_step: int = -1, by_epoch: bool = True,
                 verbose: bool = False) -> None:
        owner = type(self).__name__
        # No _ParamScheduler.__init__: this scheduler does not step on construction.
        self.optimizer = _check_optimizer(optimizer, owner)
        self.param_name = param_name
        if end <= begin:
            raise ValueError(f'{owner}: begin ({begin}) must be smaller than end ({end})')
        self.begin, self.end, self.by_epoch, self.verbose = begin, end, by_epoch, verbose
        if not isinstance(last_step, int) or last_step < -1:
            raise ValueError(f'{owner}: last_step must be an int >= -1, got {last_step!r}')
        self.base_values = _base_values(self.optimizer, param_name, last_step, owner)
        self.last_step = last_step
        self._global_step = 0
        if not factor < 1.0:
            raise ValueError(f'{owner}: factor must be < 1, got {factor}')
        if rule not in ('less', 'greater'):
            raise ValueError(f'{owner}: rule must be "less" or "greater", got {rule!r}')
        if threshold_rule not in ('rel', 'abs'):
            raise ValueError(f'{owner}: threshold_rule must be "rel" or "abs", got {threshold_rule!r}')
        groups = self.optimizer.param_groups
        if isinstance(min_value, (list, tuple)):
            if len(min_value) != len(groups):
                raise ValueError(f'{owner}: min_value has {len(min_value)} values for '
                                 f'{len(groups)} param groups')
            self.min_values = list(min_value)
        else:
            self.min_values = [min_value] * len(groups)
        self.monitor, self.rule, self.factor, self.patience = monitor, rule, factor, patience
        self.threshold, self.threshold_rule = threshold, threshold_rule
        self.cooldown, self.eps = cooldown, eps
        self.best = math.inf if rule == 'less' else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._last_value = [group[param_name] for group in groups]

    def _is_better(self, value: float, best: float) -> bool:
        if self.rule == 'less':
            bound = best * (1. - self.threshold) if self.threshold_rule == 'rel' else best - self.threshold
            return value < bound
        bound = best * (1. + self.threshold) if self.threshold_rule == 'rel' else best + self.threshold
        return value > bound

    def step(self, metrics: dict | None = None) -> None:
        """Count a training step (no metrics), or judge ``metrics[monitor]`` inside the range."""
        if metrics is None:
            self._global_step += 1
            return
        if not isinstance(metrics, dict):
            raise TypeError(f'{type(self).__name__}.step takes a dict of metrics, got '
                            f'{type(metrics).__name__}')
        if self.begin <= self._global_step < self.end:
            if self.monitor not in metrics:
                raise KeyError(f'{type(self).__name__} monitors {self.monitor!r}, which the '
                               f'metrics do not hold; they hold {list(metrics)}. Set monitor= '
                               'to one of them.')
            self.last_step += 1
            value = float(metrics[self.monitor])  # once per validation: a sync is fine here
            if self._is_better(value, self.best):
                self.best = value
                self.num_bad_epochs = 0
            else:
                self.num_bad_epochs += 1
            if self.cooldown_counter > 0:
                self.cooldown_counter -= 1
                self.num_bad_epochs = 0
            if self.num_bad_epochs > self.patience:
                self._reduce()
                self.cooldown_counter = self.cooldown
                self.num_bad_epochs = 0
        self._last_value = [group[self.param_name] for group in self.optimizer.param_groups]

    def _reduce(self) -> None:
        groups = self.optimizer.param_groups
        values = []
        for group, floor in zip(groups, self.min_values):
            old = group[self.param_name]
            new = max(old * self.factor, floor)
            values.append(new if old - new > self.eps else old)
        self._write_values(values)

    def _get_value(self) -> list:
        return [max(group[self.param_name] * self.factor, floor)
                for group, floor in zip(self.optimizer.param_groups, self.min_values)]

    def _catch_up(self, saved_closed_form: list | None = None) -> None:
        """Nothing to catch up: the value depends on metrics, not on the step."""
