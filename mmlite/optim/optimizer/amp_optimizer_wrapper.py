"""AmpOptimWrapper: mixed precision (autocast + loss scaling) on CUDA, CPU and MPS."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from mmlite.logging import print_log
from mmlite.registry import OPTIM_WRAPPERS

from .optimizer_wrapper import OptimWrapper

# What dtype=None means on each device: bfloat16 is the fast and safe choice on CPU.
_DEFAULT_DTYPES = {'cuda': torch.float16, 'cpu': torch.bfloat16, 'mps': torch.float16}


def _params_device_type(optimizer: torch.optim.Optimizer) -> str:
    for group in optimizer.param_groups:
        for param in group['params']:
            return param.device.type
    return 'cuda' if torch.cuda.is_available() else 'cpu'


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(OptimWrapper):
    """An :class:`OptimWrapper` whose ``optim_context`` runs the forward pass under
    ``torch.autocast`` and whose ``backward`` scales the loss when float16 needs it.

    Unlike MMEngine's, which requires a GPU, this works on whatever device the parameters are
    on: CUDA, CPU (bfloat16 autocast is real there) and MPS.

    Args:
        loss_scale: ``'dynamic'`` (GradScaler's growing/backing-off scale), a float (a static
            scale) or a dict of GradScaler arguments. Used for float16 only: bfloat16 has
            float32's range and needs no scaling, so no scaler is made for it.
        dtype: ``None``, ``'float16'``, ``'bfloat16'`` or a ``torch.dtype``. ``None`` picks
            float16 on CUDA and MPS, bfloat16 on CPU.
        use_fsdp: use FSDP's ShardedGradScaler, which knows gradients are sharded.
        **kwargs: :class:`OptimWrapper` arguments (optimizer, accumulative_counts, clip_grad).
    """

    valid_dtypes = ('float16', 'bfloat16', None)

    def __init__(self, loss_scale: str | float | dict = 'dynamic',
                 dtype: str | torch.dtype | None = None, use_fsdp: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._device_type = _params_device_type(self.optimizer)
        self.cast_dtype = self._resolve_dtype(dtype)
        self._scale_update_param: float | None = None
        self.loss_scaler = None
        if isinstance(loss_scale, int) and not isinstance(loss_scale, bool):
            loss_scale = float(loss_scale)
        if not (loss_scale == 'dynamic' or isinstance(loss_scale, (float, dict))):
            raise TypeError(f'loss_scale must be "dynamic", a float or a dict of GradScaler '
                            f'arguments, got {loss_scale!r}')
        if self.cast_dtype == torch.float16:
            self.loss_scaler = self._build_scaler(loss_scale, use_fsdp)
        elif loss_scale != 'dynamic':
            print_log(f'AmpOptimWrapper: loss_scale={loss_scale!r} is ignored with dtype '
                      f'{self.cast_dtype}, which needs no loss scaling.',
                      logger='current', level=logging.WARNING)

    def _resolve_dtype(self, dtype: str | torch.dtype | None) -> torch.dtype:
        if dtype is None:
            return _DEFAULT_DTYPES.get(self._device_type, torch.float16)
        if isinstance(dtype, str):
            if dtype not in self.valid_dtypes:
                raise ValueError(f'AmpOptimWrapper dtype {dtype!r} is not supported; use one of '
                                 f'{self.valid_dtypes} or a torch.dtype')
            return getattr(torch, dtype)
        if not isinstance(dtype, torch.dtype):
            raise TypeError(f'AmpOptimWrapper dtype must be None, a string or a torch.dtype, '
                            f'got {type(dtype).__name__}')
        return dtype

    def _build_scaler(self, loss_scale: str | float | dict, use_fsdp: bool) -> Any:
        scaler_type = torch.amp.GradScaler
        if use_fsdp:
            try:
                from torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler
            except ImportError as exc:
                print_log(f'AmpOptimWrapper(use_fsdp=True): ShardedGradScaler is not importable '
                          f'({exc}); using torch.amp.GradScaler, which is wrong for sharded '
                          'gradients across ranks.', logger='current', level=logging.WARNING)
            else:
                scaler_type = ShardedGradScaler
        if loss_scale == 'dynamic':
            return scaler_type(self._device_type)
        if isinstance(loss_scale, float):
            self._scale_update_param = loss_scale
            return scaler_type(self._device_type, init_scale=loss_scale)
        return scaler_type(self._device_type, **loss_scale)

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """Backward the loss, multiplied by the loss scale when one is in use."""
        if self.loss_scaler is not None:
            loss = self.loss_scaler.scale(loss)
        loss.backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs: Any) -> None:
        """Unscale the gradients (so clipping sees true values), clip, then step through the
        scaler, which skips steps whose gradients overflowed."""
        if self.loss_scaler is None:
            super().step(**kwargs)
            return
        if self.clip_func is not None:
            self.loss_scaler.unscale_(self.optimizer)
            self._clip_grad()
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update(self._scale_update_param)

    def state_dict(self) -> dict:
        """The optimizer's state, plus the scaler's under ``'loss_scaler'`` for float16."""
        state_dict = self.optimizer.state_dict()
        if self.loss_scaler is not None:
            state_dict['loss_scaler'] = self.loss_scaler.state_dict()
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the optimizer and, if saved, the loss scaler (the input is not modified)."""
        state_dict = dict(state_dict)
        scaler_state = state_dict.pop('loss_scaler', None)
        state_dict.pop('base_param_settings', None)  # written by some MMEngine versions
        if scaler_state is not None:
            if self.loss_scaler is None:
                print_log(f'AmpOptimWrapper: the checkpoint has a loss scaler state, which dtype '
                          f'{self.cast_dtype} does not use; it is dropped.',
                          logger='current', level=logging.WARNING)
            else:
                self.loss_scaler.load_state_dict(scaler_state)
        self.optimizer.load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """DDP's no_sync during accumulation, and autocast on the model's device."""
        param = next(model.parameters(), None)
        device_type = param.device.type if param is not None else self._device_type
        with super().optim_context(model), torch.autocast(device_type=device_type,
                                                          dtype=self.cast_dtype):
            yield
