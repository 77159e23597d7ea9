"""Cosine-shaped parameter schedulers: cosine annealing, cosine with restarts, one-cycle."""
from __future__ import annotations

import math
from typing import Any

from mmlite.registry import PARAM_SCHEDULERS

from .base_scheduler import INF, _ParamScheduler


def _eta_min_from(eta_min: float | None, eta_min_ratio: float | None, base: float) -> float:
    return eta_min if eta_min_ratio is None else base * eta_min_ratio


def _cosine_point(start: float, stop: float, step: float, period: float) -> float:
    """``stop + (start - stop) * (1 + cos(pi * step / period)) / 2``."""
    return stop + (start - stop) * (1 + math.cos(math.pi * step / period)) / 2


@PARAM_SCHEDULERS.register_module()
class CosineAnnealingParamScheduler(_ParamScheduler):
    """Anneal the value along a half cosine from its current value to ``eta_min`` over
    ``T_max`` steps (default: the range length); past ``T_max`` it rises again, like torch's.

    Args:
        T_max: steps of the half cosine; defaults to ``end - begin``.
        eta_min: the final value; or ``eta_min_ratio``, the final value as a fraction of the
            base value (give at most one; neither means 0).
    """

    _epoch_valued_args = ('T_max',)

    def __init__(self, optimizer: Any, param_name: str, T_max: int | None = None,
                 eta_min: float | None = None, begin: int = 0, end: int = INF,
                 last_step: int = -1, by_epoch: bool = True, verbose: bool = False,
                 eta_min_ratio: float | None = None) -> None:
        if eta_min is not None and eta_min_ratio is not None:
            raise ValueError(f'{type(self).__name__}: give eta_min or eta_min_ratio, not both')
        self.T_max = T_max or (end - begin)
        self.eta_min = 0. if eta_min is None and eta_min_ratio is None else eta_min
        self.eta_min_ratio = eta_min_ratio
        super().__init__(optimizer, param_name, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    def _get_value(self) -> list:
        groups = self.optimizer.param_groups
        name, t, period = self.param_name, self.last_step, self.T_max
        if t == 0:
            return [group[name] for group in groups]
        values = []
        for base, group in zip(self.base_values, groups):
            eta_min = _eta_min_from(self.eta_min, self.eta_min_ratio, base)
            if (t - 1 - period) % (2 * period) == 0:
                # Leaving a trough, where the ratio below would divide by zero.
                values.append(group[name] + (base - eta_min) * (1 - math.cos(math.pi / period)) / 2)
            else:
                ratio = (1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
                values.append((group[name] - eta_min) * ratio + eta_min)
        return values

    def _get_closed_form_value(self) -> list:
        return [_cosine_point(base, _eta_min_from(self.eta_min, self.eta_min_ratio, base),
                              self.last_step, self.T_max) for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class CosineRestartParamScheduler(_ParamScheduler):
    """Cosine annealing restarted at the end of each period (SGDR).

    Args:
        periods: the length of each cycle, in steps.
        restart_weights: each cycle starts at ``base value * weight``.
        eta_min, eta_min_ratio: the value each cycle anneals to, absolute or as a fraction of
            the base value; give exactly one.

    After the last period the value stays where the last cycle ended.
    """

    _epoch_valued_args = ('periods',)

    def __init__(self, optimizer: Any, param_name: str, periods: list[int],
                 restart_weights: list[float] = (1,), eta_min: float | None = None,
                 eta_min_ratio: float | None = None, begin: int = 0, end: int = INF,
                 last_step: int = -1, by_epoch: bool = True, verbose: bool = False) -> None:
        if (eta_min is None) == (eta_min_ratio is None):
            raise ValueError(f'{type(self).__name__}: give exactly one of eta_min and eta_min_ratio')
        self.periods = list(periods)
        self.restart_weights = list(restart_weights)
        if len(self.periods) != len(self.restart_weights):
            raise ValueError(f'{type(self).__name__}: periods ({len(self.periods)}) and '
                             f'restart_weights ({len(self.restart_weights)}) need the same length')
        self.eta_min = eta_min
        self.eta_min_ratio = eta_min_ratio
        self.cumulative_periods = [sum(self.periods[:i + 1]) for i in range(len(self.periods))]
        super().__init__(optimizer, param_name, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    def _cycle(self, t: int) -> tuple[int, int] | None:
        """(cycle index, step inside it) for step ``t``, or None past the last period."""
        for index, cumulative in enumerate(self.cumulative_periods):
            if t < cumulative:
                return index, t - (cumulative - self.periods[index])
        return None

    def _get_value(self) -> list:
        groups = self.optimizer.param_groups
        position = self._cycle(self.last_step)
        if position is None:
            return [group[self.param_name] for group in groups]
        index, step = position
        period = self.periods[index]
        values = []
        for base, group in zip(self.base_values, groups):
            eta_max = base * self.restart_weights[index]
            eta_min = _eta_min_from(self.eta_min, self.eta_min_ratio, base)
            if step == 0:
                values.append(eta_max)
            else:
                ratio = ((1 + math.cos(math.pi * step / period))
                         / (1 + math.cos(math.pi * (step - 1) / period)))
                values.append((group[self.param_name] - eta_min) * ratio + eta_min)
        return values

    def _get_closed_form_value(self) -> list:
        position = self._cycle(self.last_step)
        if position is None:
            position = len(self.periods) - 1, self.periods[-1] - 1
        index, step = position
        return [_cosine_point(base * self.restart_weights[index],
                              _eta_min_from(self.eta_min, self.eta_min_ratio, base),
                              step, self.periods[index]) for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class OneCycleParamScheduler(_ParamScheduler):
    """The 1cycle policy: rise from ``eta_max / div_factor`` to ``eta_max`` over
    ``pct_start`` of ``total_steps``, then fall to ``initial / final_div_factor``
    (``three_phase``: back to the initial value first). Not relative to the current value,
    so it does not chain with other schedulers of the same parameter.

    Args:
        eta_max: the peak, one number or one per param group.
        total_steps: the cycle length; defaults to ``end - begin``.
        anneal_strategy: ``'cos'`` or ``'linear'``.
    """

    _epoch_valued_args = ('total_steps',)

    def __init__(self, optimizer: Any, param_name: str, eta_max: float | list[float] = 0,
                 total_steps: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = 'cos', div_factor: float = 25.,
                 final_div_factor: float = 1e4, three_phase: bool = False, begin: int = 0,
                 end: int = INF, last_step: int = -1, by_epoch: bool = True,
                 verbose: bool = False) -> None:
        owner = type(self).__name__
        if total_steps is None:
            if end == INF:
                raise ValueError(f'{owner}: give total_steps or a finite end')
            total_steps = end - begin
        if not isinstance(total_steps, int) or total_steps <= 0:
            raise ValueError(f'{owner}: total_steps must be a positive int, got {total_steps!r}')
        if not 0 <= pct_start <= 1:
            raise ValueError(f'{owner}: pct_start must be in [0, 1], got {pct_start}')
        if anneal_strategy not in ('cos', 'linear'):
            raise ValueError(f'{owner}: anneal_strategy must be "cos" or "linear", got '
                             f'{anneal_strategy!r}')
        self.total_steps = total_steps
        self.eta_max = eta_max
        self.pct_start = pct_start
        self.anneal_strategy = anneal_strategy
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor
        self.three_phase = three_phase
        self._keys = {k: f'{k}_{param_name}' for k in ('initial', 'max', 'min')}
        rise_end = float(pct_start * total_steps) - 1
        if three_phase:
            self._phases = [(rise_end, 'initial', 'max'),
                            (float(2 * pct_start * total_steps) - 2, 'max', 'initial'),
                            (total_steps - 1, 'initial', 'min')]
        else:
            self._phases = [(rise_end, 'initial', 'max'), (total_steps - 1, 'max', 'min')]
        groups = optimizer.param_groups
        peaks = list(eta_max) if isinstance(eta_max, (list, tuple)) else [eta_max] * len(groups)
        if len(peaks) != len(groups):
            raise ValueError(f'{owner}: eta_max has {len(peaks)} values for {len(groups)} param groups')
        if last_step == -1:
            for peak, group in zip(peaks, groups):
                group[self._keys['initial']] = peak / div_factor
                group[self._keys['max']] = peak
                group[self._keys['min']] = group[self._keys['initial']] / final_div_factor
        super().__init__(optimizer, param_name, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    def _anneal(self, start: float, stop: float, pct: float) -> float:
        if self.anneal_strategy == 'cos':
            return _cosine_point(start, stop, pct, 1.0)
        return (stop - start) * pct + start

    def _get_value(self) -> list:
        t = self.last_step
        if t > self.total_steps:
            raise ValueError(f'{type(self).__name__} stepped {t} times, past total_steps='
                             f'{self.total_steps}; raise total_steps or set end')
        values = []
        for group in self.optimizer.param_groups:
            phase_start = 0.
            for index, (phase_end, start_key, stop_key) in enumerate(self._phases):
                if t <= phase_end or index == len(self._phases) - 1:
                    pct = (t - phase_start) / (phase_end - phase_start)
                    values.append(self._anneal(group[self._keys[start_key]],
                                               group[self._keys[stop_key]], pct))
                    break
                phase_start = phase_end
        return values

    def _get_closed_form_value(self) -> list:
        return self._get_value()
