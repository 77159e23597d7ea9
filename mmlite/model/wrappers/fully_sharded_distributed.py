"""MMFullyShardedDataParallel: torch FSDP with the train_step/val_step/test_step contract.

Imported lazily (``torch.distributed.fsdp`` costs about a second to import); the name is
registered in MODEL_WRAPPERS up front by ``mmlite.model.wrappers``.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import nn
from torch.distributed.fsdp import (BackwardPrefetch, CPUOffload, FullyShardedDataParallel,
                                    MixedPrecision, ShardingStrategy)

from mmlite.registry import FUNCTIONS, MODEL_WRAPPERS

from ..base_model.base_model import run_forward


def _enum(enum_cls: type, value: Any, key: str) -> Any:
    if value is None or isinstance(value, enum_cls):
        return value
    if isinstance(value, str) and value.upper() in enum_cls.__members__:
        return enum_cls[value.upper()]
    raise ValueError(f'MMFullyShardedDataParallel: {key} must be one of {list(enum_cls.__members__)}, '
                     f'got {value!r}')


def _dtype(value: Any, key: str) -> torch.dtype | None:
    if value is None or isinstance(value, torch.dtype):
        return value
    dtype = getattr(torch, str(value), None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f'MMFullyShardedDataParallel: mixed_precision.{key} must be a dtype name such as '
                         f"'float16' or 'bfloat16', got {value!r}")
    return dtype


def _wrap_policy(policy: Any) -> Any:
    """A config ``dict(type='size_based_auto_wrap_policy', min_num_params=...)`` becomes a partial."""
    if not isinstance(policy, dict):
        return policy
    policy = dict(policy)
    func = policy.pop('type')
    if isinstance(func, str):
        name = func
        func = FUNCTIONS.get(name) or FUNCTIONS.get(f'torch.distributed.fsdp.wrap.{name}')
        if func is None:
            raise ValueError(f'MMFullyShardedDataParallel: auto_wrap_policy type {name!r} is neither in the '
                             'FUNCTIONS registry nor in torch.distributed.fsdp.wrap')
    return partial(func, **policy)


def _accelerator_available() -> bool:
    accelerator = getattr(torch, 'accelerator', None)
    if accelerator is not None and hasattr(accelerator, 'is_available'):
        return accelerator.is_available()
    return torch.cuda.is_available()


@MODEL_WRAPPERS.register_module(force=True)  # replaces the lazy stub registered by the package
class MMFullyShardedDataParallel(FullyShardedDataParallel):
    """FSDP taking config-friendly arguments (strings, dicts) and running the step contract.

    ``sharding_strategy``/``backward_prefetch`` may be enum names, ``cpu_offload`` a bool or dict,
    ``mixed_precision`` a dict of dtype names, ``auto_wrap_policy`` a dict naming a function.
    Unlike DDP, validation also runs through the wrapper: the parameters are sharded.
    torch's FSDP1 needs an accelerator; on CPU-only machines use :class:`MMFullyShard` (FSDP2).
    """

    def __init__(self, module: nn.Module, sharding_strategy: Any = None, cpu_offload: Any = None,
                 auto_wrap_policy: Any = None, backward_prefetch: Any = None,
                 mixed_precision: Any = None, use_orig_params: bool = True, **kwargs: Any) -> None:
        if isinstance(cpu_offload, bool):
            cpu_offload = CPUOffload(offload_params=cpu_offload)
        elif isinstance(cpu_offload, dict):
            cpu_offload = CPUOffload(**cpu_offload)
        if isinstance(mixed_precision, dict):
            mixed_precision = MixedPrecision(**{
                key: (_dtype(value, key) if key.endswith('dtype') else value)
                for key, value in mixed_precision.items()})
        try:
            super().__init__(
                module=module,
                sharding_strategy=_enum(ShardingStrategy, sharding_strategy, 'sharding_strategy'),
                cpu_offload=cpu_offload,
                auto_wrap_policy=_wrap_policy(auto_wrap_policy),
                backward_prefetch=_enum(BackwardPrefetch, backward_prefetch, 'backward_prefetch'),
                mixed_precision=mixed_precision, use_orig_params=use_orig_params, **kwargs)
        except RuntimeError as exc:
            if _accelerator_available():
                raise
            raise RuntimeError(f"MMFullyShardedDataParallel is torch's FSDP1, which needs a GPU (or "
                               f'another accelerator) and refused this machine: {exc} For CPU '
                               f"training use FSDP2: model_wrapper_cfg=dict(type='MMFullyShard', "
                               f'...)') from exc

    def train_step(self, data: Any, optim_wrapper: Any) -> dict[str, torch.Tensor]:
        with optim_wrapper.optim_context(self):
            data = self.module.data_preprocessor(data, training=True)
            losses = run_forward(self, data, 'loss')
            parsed_loss, log_vars = self.module.parse_losses(losses)
        optim_wrapper.update_params(parsed_loss)
        return log_vars

    def val_step(self, data: Any) -> Any:
        data = self.module.data_preprocessor(data, False)
        return run_forward(self, data, 'predict')

    def test_step(self, data: Any) -> Any:
        data = self.module.data_preprocessor(data, False)
        return run_forward(self, data, 'predict')
