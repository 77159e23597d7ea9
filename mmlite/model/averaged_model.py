"""Averaged copies of a model (EMA, SWA) updated from the training model as it trains."""
from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from copy import deepcopy
from typing import Any

import torch
from torch import nn

from mmlite.registry import MODELS

from .utils import log_current


class BaseAveragedModel(nn.Module, metaclass=ABCMeta):
    """A frozen deep copy of ``model`` whose parameters average the training model's.

    ``update_parameters(model)`` copies the source on its first call, then (every ``interval``-th
    call) applies :meth:`avg_func` to each floating-point parameter. Buffers are copied from the
    source each call, unless ``update_buffers`` is set: then buffers are averaged like parameters.
    The state dict holds ``module.*`` and ``steps``.

    The step count also lives as a Python int, so an update never waits on the device.

    Args:
        model: the model to average (its unwrapped module).
        interval: average every this many calls.
        device: keep the average here (e.g. ``'cpu'`` to save GPU memory); default: the model's.
        update_buffers: average the buffers too (e.g. BatchNorm statistics).
    """

    def __init__(self, model: nn.Module, interval: int = 1, device: torch.device | str | None = None,
                 update_buffers: bool = False) -> None:
        super().__init__()
        if int(interval) < 1:
            raise ValueError(f'{type(self).__name__}: interval must be >= 1, got {interval}')
        self.module = deepcopy(model).requires_grad_(False)
        self.interval = int(interval)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer('steps', torch.tensor(0, dtype=torch.long, device=device))
        self.update_buffers = update_buffers
        self._step_count = 0
        self._refresh_targets()

    def _refresh_targets(self) -> None:
        """Cache the (name, tensor) pairs to update; redone after ``.to()`` replaces tensors."""
        tensors = self.module.state_dict(keep_vars=True) if self.update_buffers \
            else dict(self.module.named_parameters())
        self.avg_parameters = {name: t for name, t in tensors.items() if isinstance(t, torch.Tensor)}

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> nn.Module:
        result = super()._apply(fn, *args, **kwargs)
        self._refresh_targets()
        return result

    @abstractmethod
    def avg_func(self, averaged_param: torch.Tensor, source_param: torch.Tensor, steps: int) -> None:
        """Update ``averaged_param`` in place from ``source_param`` at call number ``steps``."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Fold ``model``'s current weights into the average (see the class docstring)."""
        source = model.state_dict(keep_vars=True) if self.update_buffers \
            else dict(model.named_parameters())
        steps = self._step_count
        if steps == 0:
            for name, averaged in self.avg_parameters.items():
                averaged.data.copy_(source[name].data)
        elif steps % self.interval == 0:
            for name, averaged in self.avg_parameters.items():
                src = source[name].data.to(averaged.device)
                if averaged.dtype.is_floating_point:
                    self.avg_func(averaged.data, src, steps)
                else:  # integer buffers such as num_batches_tracked cannot be averaged
                    averaged.data.copy_(src)
        if not self.update_buffers:
            for averaged, src in zip(self.module.buffers(), model.buffers()):
                averaged.data.copy_(src.data.to(averaged.device))
        self.steps.add_(1)
        self._step_count += 1

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        steps = state_dict.get(prefix + 'steps')
        if steps is not None:
            self._step_count = int(steps)  # one sync, at load time only


@MODELS.register_module()
class StochasticWeightAverage(BaseAveragedModel):
    """Equal-weight running mean of the snapshots taken every ``interval`` calls (SWA)."""

    def avg_func(self, averaged_param: torch.Tensor, source_param: torch.Tensor, steps: int) -> None:
        averaged_param.add_(source_param - averaged_param, alpha=1 / float(steps // self.interval + 1))


@MODELS.register_module()
class ExponentialMovingAverage(BaseAveragedModel):
    """EMA: ``averaged = (1 - momentum) * averaged + momentum * source`` (MMEngine's convention:
    ``momentum`` is the weight of the NEW value, so it is small, e.g. 0.0002).

    Args:
        momentum: the weight of the source in each update, in (0, 1).
        interval, device, update_buffers: see :class:`BaseAveragedModel`.
    """

    def __init__(self, model: nn.Module, momentum: float = 0.0002, interval: int = 1,
                 device: torch.device | str | None = None, update_buffers: bool = False) -> None:
        super().__init__(model, interval, device, update_buffers)
        if not 0.0 < momentum < 1.0:
            raise ValueError(f'{type(self).__name__}: momentum must be in (0, 1), got {momentum}')
        if momentum > 0.5:
            log_current(f'{type(self).__name__}: momentum={momentum} weights the NEW value; it is usually '
                        'small (e.g. 0.0002). Did you mean 1 - momentum?', logging.WARNING)
        self.momentum = momentum

    def avg_func(self, averaged_param: torch.Tensor, source_param: torch.Tensor, steps: int) -> None:
        averaged_param.lerp_(source_param, self.momentum)


@MODELS.register_module()
class MomentumAnnealingEMA(ExponentialMovingAverage):
    """EMA whose momentum starts high and anneals: ``max(momentum, gamma / (gamma + steps))``.

    Args:
        gamma: how slowly the momentum anneals; larger keeps it high for longer.
    """

    def __init__(self, model: nn.Module, momentum: float = 0.0002, gamma: int = 100, interval: int = 1,
                 device: torch.device | str | None = None, update_buffers: bool = False) -> None:
        super().__init__(model, momentum, interval, device, update_buffers)
        if gamma <= 0:
            raise ValueError(f'{type(self).__name__}: gamma must be > 0, got {gamma}')
        self.gamma = gamma

    def avg_func(self, averaged_param: torch.Tensor, source_param: torch.Tensor, steps: int) -> None:
        momentum = max(self.momentum, self.gamma / (self.gamma + steps))
        averaged_param.lerp_(source_param, momentum)
