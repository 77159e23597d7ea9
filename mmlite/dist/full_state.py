"""Whole tensors in and out of checkpoints for models sharded with FSDP2 (``fully_shard``).

FSDP2 turns parameters (and so the optimizer's per-parameter state) into DTensors: each rank
holds one shard. A checkpoint written by rank 0 must hold whole tensors, readable by
``torch.load(weights_only=True)`` in any process, sharded or not. The hooks here make
``state_dict()`` gather every DTensor into a whole tensor (a collective: every rank calls
``state_dict()`` together, as the runner's checkpointing does) and make ``load_state_dict()``
cut whole tensors back into this rank's shard (local work, no communication).
"""
from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn


def _dtensor_type() -> type | None:
    # A DTensor can only exist once torch.distributed.tensor is imported: do not import it here.
    module = sys.modules.get('torch.distributed.tensor')
    return getattr(module, 'DTensor', None)


def has_dtensors(tensors: Iterable[torch.Tensor]) -> bool:
    """True if any of ``tensors`` (e.g. a model's or an optimizer's parameters) is a DTensor."""
    dtensor = _dtensor_type()
    return dtensor is not None and any(isinstance(t, dtensor) for t in tensors)


def _whole(value: Any) -> Any:
    dtensor = _dtensor_type()
    if dtensor is not None and isinstance(value, dtensor):
        return value.detach().full_tensor()
    return value


def _shard_like(value: Any, reference: torch.Tensor) -> Any:
    """``value`` cut like the DTensor ``reference`` when it is a whole tensor of its shape."""
    dtensor = _dtensor_type()
    if dtensor is None or not isinstance(reference, dtensor) or isinstance(value, dtensor):
        return value
    if not isinstance(value, torch.Tensor) or value.shape != reference.shape:
        return value  # a mismatch is reported by the loader, which names the key
    from torch.distributed.tensor import distribute_tensor
    local = value.detach().to(device=reference.device, dtype=reference.dtype)
    # src_data_rank=None: every rank read the same file, so each takes its shard locally.
    return distribute_tensor(local, reference.device_mesh, reference.placements, src_data_rank=None)


def _module_state_to_whole(module: nn.Module, state_dict: dict, prefix: str,
                           local_metadata: dict) -> None:
    for key, value in state_dict.items():
        state_dict[key] = _whole(value)


def _module_state_to_shards(module: nn.Module, state_dict: dict, prefix: str, *args: Any) -> None:
    for name, tensor in list(module.named_parameters(prefix=prefix.rstrip('.'))) + \
            list(module.named_buffers(prefix=prefix.rstrip('.'))):
        if name in state_dict:
            state_dict[name] = _shard_like(state_dict[name], tensor)


def attach_module_hooks(module: nn.Module) -> None:
    """Make ``module.state_dict()`` return whole tensors and ``load_state_dict`` take them."""
    module.register_state_dict_post_hook(_module_state_to_whole)
    module.register_load_state_dict_pre_hook(_module_state_to_shards)


def _optimizer_state_to_whole(optimizer: torch.optim.Optimizer, state_dict: dict) -> dict:
    # The per-parameter dicts are the optimizer's live state: build new ones, never edit them.
    state_dict['state'] = {index: {key: _whole(value) for key, value in per_param.items()}
                           for index, per_param in state_dict['state'].items()}
    return state_dict


def _optimizer_state_to_shards(optimizer: torch.optim.Optimizer, state_dict: dict) -> dict:
    params = {}
    for saved_group, group in zip(state_dict.get('param_groups', []), optimizer.param_groups):
        params.update(zip(saved_group['params'], group['params']))
    state_dict = dict(state_dict)  # the caller's dict stays as it was
    state_dict['state'] = {
        index: ({key: _shard_like(value, params[index]) for key, value in per_param.items()}
                if index in params else per_param)
        for index, per_param in state_dict.get('state', {}).items()}
    return state_dict


def attach_optimizer_hooks(optimizer: torch.optim.Optimizer) -> bool:
    """The same for an optimizer over DTensor parameters; a no-op (False) for any other."""
    params = [p for group in optimizer.param_groups for p in group['params']]
    if not has_dtensors(params):
        return False
    optimizer.register_state_dict_post_hook(_optimizer_state_to_whole)
    optimizer.register_load_state_dict_pre_hook(_optimizer_state_to_shards)
    return True
