"""MMFullyShard: FSDP2 (``torch.distributed.fsdp.fully_shard``) with the step contract.

torch's FSDP1 (:class:`MMFullyShardedDataParallel`) refuses machines without an accelerator;
FSDP2 shards over any process group, so this wrapper trains sharded models on the CPU with gloo
as well as on GPUs. Choose it with ``model_wrapper_cfg=dict(type='MMFullyShard', ...)``.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mmlite.registry import MODEL_WRAPPERS

from ..base_model.base_model import run_forward


def _module_types(names: Any) -> tuple:
    """Classes from ``shard_module_types``: classes as they are, names matched on class names."""
    if names is None:
        return ()
    names = [names] if isinstance(names, (str, type)) else list(names)
    for name in names:
        if not isinstance(name, (str, type)):
            raise TypeError(f'MMFullyShard: shard_module_types holds class names or classes, got '
                            f'{name!r}')
    return tuple(names)


def _matches(module: nn.Module, types: tuple) -> bool:
    return any(isinstance(module, t) if isinstance(t, type) else type(module).__name__ == t
               for t in types)


def _mixed_precision_policy(cfg: Any) -> Any:
    from torch.distributed.fsdp import MixedPrecisionPolicy
    if cfg is None or isinstance(cfg, MixedPrecisionPolicy):
        return cfg
    if not isinstance(cfg, dict):
        raise TypeError(f'MMFullyShard: mixed_precision must be a dict such as '
                        f"dict(param_dtype='bfloat16', reduce_dtype='float32'), got {cfg!r}")
    policy = {}
    for key, value in cfg.items():
        if key.endswith('dtype') and isinstance(value, str):
            dtype = getattr(torch, value, None)
            if not isinstance(dtype, torch.dtype):
                raise ValueError(f"MMFullyShard: mixed_precision.{key}={value!r} is not a dtype name "
                                 f"such as 'float16', 'bfloat16' or 'float32'")
            value = dtype
        policy[key] = value
    return MixedPrecisionPolicy(**policy)


@MODEL_WRAPPERS.register_module()
class MMFullyShard(nn.Module):
    """Shard ``module`` across the ranks with FSDP2 and run ``train_step``/``val_step``/``test_step``.

    FSDP2 changes the model in place (its parameters become DTensors, one shard per rank) and
    gathers them around each forward and backward; the model stays reachable as ``.module``.
    Gradients are averaged over ranks, as with DDP. Checkpoints get whole tensors (see
    :mod:`mmlite.dist.full_state`), so they load anywhere, sharded or not.

    Args:
        module: the model (a :class:`BaseModel`), already on its device.
        shard_module_types: class names (or classes) of submodules sharded on their own, e.g.
            transformer blocks: their parameters are gathered only while they run. The rest of
            the model forms one group, gathered for the whole forward.
        reshard_after_forward: free gathered parameters after forward and gather them again for
            backward (saves memory, costs communication).
        mixed_precision: ``MixedPrecisionPolicy`` arguments, dtypes by name, e.g.
            ``dict(param_dtype='bfloat16', reduce_dtype='float32')``.
        cpu_offload: keep the shards (and optimizer step) on the CPU between uses.
        **kwargs: passed to every ``fully_shard`` call (e.g. ``mesh``).
    """

    def __init__(self, module: nn.Module, shard_module_types: Any = None,
                 reshard_after_forward: bool = True, mixed_precision: Any = None,
                 cpu_offload: bool = False, **kwargs: Any) -> None:
        from torch.distributed.fsdp import CPUOffloadPolicy, fully_shard

        from mmlite.dist import is_distributed
        from mmlite.dist.full_state import attach_module_hooks
        if not is_distributed():
            raise RuntimeError('MMFullyShard shards over a process group, and none is initialised: '
                               "launch with torchrun and launcher='pytorch' (or call init_dist first)")
        super().__init__()
        options = dict(kwargs, reshard_after_forward=reshard_after_forward)
        policy = _mixed_precision_policy(mixed_precision)
        if policy is not None:
            options['mp_policy'] = policy
        if cpu_offload:
            options['offload_policy'] = CPUOffloadPolicy()
        types = _module_types(shard_module_types)
        # Innermost first: a parent's fully_shard leaves the parameters its children own.
        for sub in reversed(list(module.modules())[1:]):
            if types and _matches(sub, types):
                fully_shard(sub, **options)
        fully_shard(module, **options)
        attach_module_hooks(module)
        self.module = module

    def train_step(self, data: Any, optim_wrapper: Any) -> dict[str, torch.Tensor]:
        with optim_wrapper.optim_context(self.module):
            data = self.module.data_preprocessor(data, training=True)
            losses = run_forward(self.module, data, 'loss')
            parsed_loss, log_vars = self.module.parse_losses(losses)
        # FSDP2 decides at backward time whether to reduce-scatter: inside a gradient
        # accumulation window only the last backward needs to.
        should_sync = getattr(optim_wrapper, 'should_sync', None)
        self.module.set_requires_gradient_sync(should_sync() if should_sync else True)
        optim_wrapper.update_params(parsed_loss)
        return log_vars

    def val_step(self, data: Any) -> Any:
        # FSDP2's hooks sit on the model itself: its own forward gathers the shards.
        return self.module.val_step(data)

    def test_step(self, data: Any) -> Any:
        return self.module.test_step(data)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)
