"""OptimWrapper: backward, gradient accumulation, clipping and the optimizer step in one call."""
from __future__ import annotations

import inspect
import logging
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import nn

from mmlite.logging import MessageHub, print_log
from mmlite.registry import OPTIM_WRAPPERS

from .base import BaseOptimWrapper

_NO_CONTEXT = nullcontext()  # reusable: nullcontext keeps no state between uses
_CLIP_FUNCS = {
    'norm': (torch.nn.utils.clip_grad_norm_, 'grad_norm'),
    'value': (torch.nn.utils.clip_grad_value_, 'grad_value'),
}


def _has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


_STEP_METHODS = ('scale_loss', 'backward', 'should_update', 'step', 'zero_grad')
_PLAIN_STEPS: dict[type, bool] = {}


def _plain_steps(cls: type) -> bool:
    """Whether ``cls`` keeps OptimWrapper's own step methods (then update_params may inline
    them); a subclass that overrides any of them (AMP, custom wrappers) goes through them."""
    plain = _PLAIN_STEPS.get(cls)
    if plain is None:
        plain = _PLAIN_STEPS[cls] = all(getattr(cls, name) is getattr(OptimWrapper, name)
                                        for name in _STEP_METHODS)
    return plain


@OPTIM_WRAPPERS.register_module()
class OptimWrapper(BaseOptimWrapper):
    """The default optimizer wrapper: ``update_params(loss)`` does backward, then steps and
    zeroes the gradients every ``accumulative_counts`` calls.

    Args:
        optimizer: the torch optimizer to drive.
        accumulative_counts: how many calls accumulate gradients before one update. The loss
            is divided by it, so 4 calls on batches of 8 update like one call on 32.
        clip_grad: ``dict(max_norm=.., norm_type=2)`` (``torch.nn.utils.clip_grad_norm_``
            arguments) or ``dict(type='value', clip_value=..)`` (``clip_grad_value_``). The
            total norm goes to the current MessageHub as ``train/grad_norm``, kept a tensor so
            recording it costs no host-device sync.
        skip_nonfinite_loss: a NaN or infinite loss is not back-propagated (and a window it
            ends does not step); its count is appended to ``skipped_counts``. Checking costs one
            host-device sync per call on a GPU. ``CheckInvalidLossHook(action='skip')`` sets it.

    Example::

        for data in loader:
            with optim_wrapper.optim_context(model):
                loss = model(data)
            optim_wrapper.update_params(loss)
    """

    def __init__(self, optimizer: torch.optim.Optimizer, accumulative_counts: int = 1,
                 clip_grad: dict | None = None, skip_nonfinite_loss: bool = False) -> None:
        super().__init__(optimizer)
        self.skip_nonfinite_loss = skip_nonfinite_loss
        self.skipped_counts: list[int] = []
        if not isinstance(accumulative_counts, int) or accumulative_counts < 1:
            raise ValueError(f'accumulative_counts must be a positive int, got {accumulative_counts!r}')
        self._accumulative_counts = accumulative_counts
        # Every backward ends a window, so optim_context() can only return the no-op context:
        # BaseModel.train_step then skips the call (and should_sync's), every iteration.
        self.forward_needs_no_context = (accumulative_counts == 1 and
                                         type(self).optim_context is OptimWrapper.optim_context)
        self.clip_grad_kwargs: dict = {}
        self.clip_func = None
        self.grad_name = None
        if clip_grad is not None:
            self._set_clip_grad(clip_grad)
        self._inner_count = 0
        # Total number of backward calls in the run (-1: unknown). With it, the last window
        # that is shorter than accumulative_counts divides the loss by its own length.
        self._max_counts = -1
        self._remainder_counts = -1

    def _set_clip_grad(self, clip_grad: dict) -> None:
        if not isinstance(clip_grad, dict) or not clip_grad:
            raise TypeError('clip_grad must be None or a non-empty dict such as dict(max_norm=1.0) '
                            f'or dict(type="value", clip_value=0.5), got {clip_grad!r}')
        kwargs = dict(clip_grad)
        clip_type = kwargs.pop('type', 'norm')
        if clip_type not in _CLIP_FUNCS:
            raise ValueError(f'clip_grad type {clip_type!r} is unknown; accepted types: '
                             f'{", ".join(map(repr, _CLIP_FUNCS))}')
        func, grad_name = _CLIP_FUNCS[clip_type]
        try:
            inspect.signature(func).bind([], **kwargs)
        except TypeError as exc:
            accepted = [p for p in inspect.signature(func).parameters if p != 'parameters']
            raise TypeError(f'clip_grad={clip_grad!r} does not fit {func.__name__} ({exc}); it '
                            f'accepts {", ".join(accepted)}') from exc
        self.clip_func, self.grad_name, self.clip_grad_kwargs = func, grad_name, kwargs

    # ----------------------------------------------------------------- updating
    def update_params(self, loss: torch.Tensor, step_kwargs: dict | None = None,
                      zero_kwargs: dict | None = None) -> None:
        """Backward ``loss`` (scaled for accumulation); step and zero grads when a window ends."""
        if (self._accumulative_counts == 1 and self.clip_func is None and not self.skip_nonfinite_loss
                and step_kwargs is None and zero_kwargs is None
                and (_PLAIN_STEPS.get(type(self)) or _plain_steps(type(self)))):
            # The usual case, spelled out: what the calls below do, without five of them.
            loss.backward()
            self._inner_count += 1
            self.optimizer.step()
            self.optimizer.zero_grad()
            return
        if self.skip_nonfinite_loss and not torch.isfinite(loss).all():
            self._inner_count += 1  # still counted, so accumulation windows stay aligned
            self.skipped_counts.append(self._inner_count)
            if self.should_update():
                self.zero_grad()
            return
        loss = self.scale_loss(loss)
        self.backward(loss)
        if self.should_update():
            # No {} defaults: nothing allocated per call on the hot path.
            if step_kwargs is None:
                self.step()
            else:
                self.step(**step_kwargs)
            if zero_kwargs is None:
                self.zero_grad()
            else:
                self.zero_grad(**zero_kwargs)

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """``loss.backward(**kwargs)`` and count the call."""
        loss.backward(**kwargs)
        self._inner_count += 1

    def zero_grad(self, **kwargs: Any) -> None:
        """Clear gradients (``set_to_none=True`` unless told otherwise, torch's default)."""
        self.optimizer.zero_grad(**kwargs)

    def step(self, **kwargs: Any) -> None:
        """Clip gradients if configured, then step the optimizer."""
        if self.clip_func is not None:
            self._clip_grad()
        self.optimizer.step(**kwargs)

    def _clip_grad(self) -> None:
        params = [p for group in self.optimizer.param_groups for p in group['params']
                  if p.requires_grad and p.grad is not None]
        if not params:
            return
        grad = self.clip_func(params, **self.clip_grad_kwargs)
        if grad is not None:  # clip_grad_value_ returns None
            # A tensor, not float(grad): the hub converts it when a log line is due.
            MessageHub.get_current_instance().update_scalar(f'train/{self.grad_name}', grad)

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """Divide ``loss`` by the length of the accumulation window it belongs to."""
        if self._accumulative_counts == 1:
            return loss
        if self._max_counts == -1 or self._inner_count < self._max_counts - self._remainder_counts:
            return loss / self._accumulative_counts
        if self._remainder_counts <= 0:
            raise RuntimeError(
                f'{type(self).__name__}: backward call {self._inner_count + 1} is past max_counts='
                f'{self._max_counts}; initialize_count_status(model, init_counts, max_counts) was '
                'given counts that do not match the training length')
        return loss / self._remainder_counts

    # ------------------------------------------------------- accumulation state
    def initialize_count_status(self, model: nn.Module, init_counts: int, max_counts: int) -> None:
        """Tell the wrapper where training starts (``init_counts``, e.g. on resume) and ends
        (``max_counts`` backward calls), so the last short window is scaled right."""
        self._inner_count = init_counts
        self._max_counts = max_counts
        if self._inner_count % self._accumulative_counts != 0:
            print_log(f'Resumed at iteration {init_counts}, which is not a multiple of '
                      f'accumulative_counts={self._accumulative_counts}: the gradients of the '
                      'interrupted window were lost, which may change results slightly.',
                      logger='current', level=logging.WARNING)
        if self._accumulative_counts > 1 and _has_batch_norm(model):
            print_log('Gradient accumulation with BatchNorm layers: the statistics see the small '
                      'batches, which may lower accuracy slightly.',
                      logger='current', level=logging.WARNING)
        self._remainder_counts = self._max_counts % self._accumulative_counts

    def should_update(self) -> bool:
        """Whether the backward just done ends an accumulation window."""
        return (self._inner_count % self._accumulative_counts == 0
                or self._inner_count == self._max_counts)

    def should_sync(self) -> bool:
        """Whether the next backward ends a window, so DDP must all-reduce its gradients."""
        return ((self._inner_count + 1) % self._accumulative_counts == 0
                or (self._inner_count + 1) == self._max_counts)

    @property
    def inner_count(self) -> int:
        """Backward calls so far."""
        return self._inner_count

    @property
    def max_counts(self) -> int:
        """Backward calls in the whole run, or -1 when not told."""
        return self._max_counts

    def optim_context(self, model: nn.Module) -> AbstractContextManager:
        """Enter around the forward pass: skips DDP's gradient all-reduce (``model.no_sync()``)
        inside an accumulation window, where only the last backward needs it.

        A plain method returning a context manager (a shared no-op one when there is nothing
        to do), not a generator: entering it costs a tenth as much, every iteration.
        """
        if not self.should_sync() and hasattr(model, 'no_sync'):
            return model.no_sync()
        return _NO_CONTEXT

    def __repr__(self) -> str:
        return (f'Type: {type(self).__name__}\n_accumulative_counts: {self._accumulative_counts}\n'
                f'optimizer: \n{self.optimizer!r}\n')
