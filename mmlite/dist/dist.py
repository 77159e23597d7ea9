"""Collectives with MMEngine's calling convention: results are returned, not passed in.

In a single process each one is the identity (``all_gather(x) == [x]``, ``all_reduce`` leaves
``x`` as is). Tensors are moved to the backend's device for the transfer and the results come
back on the caller's device, so CPU tensors work under nccl and CUDA tensors under gloo.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np
import torch
import torch.distributed as torch_dist
from torch.distributed import ProcessGroup

from .utils import get_backend, get_comm_device, get_rank, get_world_size

_REDUCE_OPS = {
    'sum': torch_dist.ReduceOp.SUM, 'mean': torch_dist.ReduceOp.SUM,
    'product': torch_dist.ReduceOp.PRODUCT, 'min': torch_dist.ReduceOp.MIN,
    'max': torch_dist.ReduceOp.MAX, 'band': torch_dist.ReduceOp.BAND,
    'bor': torch_dist.ReduceOp.BOR, 'bxor': torch_dist.ReduceOp.BXOR,
}


def _reduce_op(op: str, data: torch.Tensor) -> torch_dist.ReduceOp:
    key = op.lower() if isinstance(op, str) else op
    if key not in _REDUCE_OPS:
        raise ValueError(f'all_reduce: unknown op {op!r}; accepted: {list(_REDUCE_OPS)}')
    if key == 'mean' and not (data.is_floating_point() or data.is_complex()):
        raise TypeError(f"all_reduce(op='mean') needs a floating tensor, got {data.dtype}; "
                        f"cast it first or use op='sum'")
    return _REDUCE_OPS[key]


def _supports_gather(group: ProcessGroup | None) -> bool:
    # NCCL has no native gather; an all_gather serves the destination instead.
    return get_backend(group) != 'nccl'


def broadcast(data: torch.Tensor, src: int = 0, group: ProcessGroup | None = None) -> None:
    """Overwrite ``data`` in place with rank ``src``'s tensor (``src`` is a global rank)."""
    if get_world_size(group) == 1:
        return
    on_comm = data.to(get_comm_device(group))
    torch_dist.broadcast(on_comm, src, group)
    if on_comm is not data:
        data.copy_(on_comm)


def all_reduce(data: torch.Tensor, op: str = 'sum', group: ProcessGroup | None = None) -> None:
    """Reduce ``data`` across ranks in place; ``op`` is sum, mean, product, min, max, band,
    bor or bxor."""
    reduce_op = _reduce_op(op, data)
    world_size = get_world_size(group)
    if world_size == 1:
        return
    on_comm = data.to(get_comm_device(group))
    torch_dist.all_reduce(on_comm, reduce_op, group)
    if op.lower() == 'mean':
        on_comm.div_(world_size)
    if on_comm is not data:
        data.copy_(on_comm)


def all_gather(data: torch.Tensor, group: ProcessGroup | None = None) -> list[torch.Tensor]:
    """Every rank's ``data`` (same shape on all ranks), in rank order."""
    world_size = get_world_size(group)
    if world_size == 1:
        return [data]
    on_comm = data.to(get_comm_device(group))
    gathered = [torch.empty_like(on_comm) for _ in range(world_size)]
    torch_dist.all_gather(gathered, on_comm, group)
    return [tensor.to(data.device) for tensor in gathered]


def gather(data: torch.Tensor, dst: int = 0,
           group: ProcessGroup | None = None) -> list[torch.Tensor]:
    """Every rank's ``data`` on rank ``dst``, in rank order; ``[]`` on the other ranks."""
    world_size = get_world_size(group)
    if world_size == 1:
        return [data]
    if not _supports_gather(group):
        gathered = all_gather(data, group)
        return gathered if get_rank() == dst else []
    on_comm = data.to(get_comm_device(group))
    if get_rank() == dst:
        gathered = [torch.empty_like(on_comm) for _ in range(world_size)]
        torch_dist.gather(on_comm, gathered, dst, group)
        return [tensor.to(data.device) for tensor in gathered]
    torch_dist.gather(on_comm, None, dst, group)
    return []


def all_gather_object(data: Any, group: ProcessGroup | None = None) -> list[Any]:
    """Every rank's picklable ``data``, in rank order."""
    world_size = get_world_size(group)
    if world_size == 1:
        return [data]
    gathered: list[Any] = [None] * world_size
    torch_dist.all_gather_object(gathered, data, group)
    return gathered


def gather_object(data: Any, dst: int = 0, group: ProcessGroup | None = None) -> list[Any] | None:
    """Every rank's picklable ``data`` on rank ``dst``, in rank order; None on the other ranks."""
    world_size = get_world_size(group)
    if world_size == 1:
        return [data]
    if not _supports_gather(group):
        gathered = all_gather_object(data, group)
        return gathered if get_rank() == dst else None
    if get_rank() == dst:
        gathered: list[Any] = [None] * world_size
        torch_dist.gather_object(data, gathered, dst, group)
        return gathered
    torch_dist.gather_object(data, None, dst, group)
    return None


def broadcast_object_list(data: list[Any], src: int = 0,
                          group: ProcessGroup | None = None) -> None:
    """Overwrite the items of the list ``data`` in place with rank ``src``'s items."""
    if not isinstance(data, list):
        raise TypeError(f'broadcast_object_list takes a list (filled in place), got '
                        f'{type(data).__name__}')
    if get_world_size(group) == 1:
        return
    device = get_comm_device(group)
    torch_dist.broadcast_object_list(data, src, group,
                                     device=None if device.type == 'cpu' else device)


def all_reduce_dict(data: dict[str, torch.Tensor], op: str = 'sum',
                    group: ProcessGroup | None = None) -> None:
    """Reduce every tensor of ``data`` across ranks, replacing the dict's values.

    Tensors of one dtype and device travel in one flat buffer, so a dict of many small
    losses costs one collective per dtype, not one per key. All ranks need the same keys.
    """
    for key, value in data.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f'all_reduce_dict: data[{key!r}] is {type(value).__name__}, '
                            f'not a tensor')
        _reduce_op(op, value)
    if get_world_size(group) == 1:
        return
    buckets: dict[tuple, list[str]] = {}
    for key in sorted(data):
        buckets.setdefault((data[key].dtype, data[key].device), []).append(key)
    for keys in buckets.values():
        flat = torch.cat([data[key].reshape(-1) for key in keys])
        all_reduce(flat, op, group)
        for key, chunk in zip(keys, flat.split([data[key].numel() for key in keys])):
            data[key] = chunk.reshape(data[key].shape)


def _flat_buckets(tensors: list[torch.Tensor], bucket_size_mb: int) -> list[list[torch.Tensor]]:
    """Tensors grouped by dtype and device, each group cut into runs of at most
    ``bucket_size_mb`` (one run per group when -1), so one collective serves a whole run."""
    limit = bucket_size_mb * 1024 * 1024 if bucket_size_mb > 0 else None
    runs_by_kind: dict[tuple, list[list[torch.Tensor]]] = {}
    run_bytes: dict[tuple, int] = {}
    for tensor in tensors:
        kind = (tensor.dtype, tensor.device)
        runs = runs_by_kind.setdefault(kind, [[]])
        size = tensor.numel() * tensor.element_size()
        if limit is not None and runs[-1] and run_bytes[kind] + size > limit:
            runs.append([])
            run_bytes[kind] = 0
        runs[-1].append(tensor)
        run_bytes[kind] = run_bytes.get(kind, 0) + size
    return [run for runs in runs_by_kind.values() for run in runs]


def _through_flat(bucket: list[torch.Tensor], collective: Callable[[torch.Tensor], None]) -> None:
    """Run ``collective`` on the tensors of ``bucket`` concatenated, then copy the result back."""
    flat = torch.cat([t.reshape(-1) for t in bucket])
    collective(flat)
    for tensor, chunk in zip(bucket, flat.split([t.numel() for t in bucket])):
        tensor.copy_(chunk.view_as(tensor))


def all_reduce_params(params: Iterable[torch.Tensor], coalesce: bool = True,
                      bucket_size_mb: int = -1, op: str = 'sum',
                      group: ProcessGroup | None = None) -> None:
    """Reduce parameters or buffers in place (``op='mean'`` syncs them, e.g. BN statistics).

    With ``coalesce`` tensors go in flat buckets of ``bucket_size_mb`` (one bucket per dtype
    and device when -1) instead of one collective each.
    """
    params = [p.data if isinstance(p, torch.nn.Parameter) else p for p in params]
    if get_world_size(group) == 1 or not params:
        return
    if not coalesce:
        for tensor in params:
            all_reduce(tensor, op, group)
        return
    for bucket in _flat_buckets(params, bucket_size_mb):
        _through_flat(bucket, lambda flat: all_reduce(flat, op, group))


def broadcast_module_state(module: torch.nn.Module, src: int = 0,
                           group: ProcessGroup | None = None) -> None:
    """Give every rank rank ``src``'s parameters and buffers of ``module``, in flat buckets.

    The runner calls it after ``init_weights``, which runs on every rank after DDP copied rank
    0's weights and, with ``diff_rank_seed``, draws different values on each. DTensor shards
    (FSDP2) are left alone: each rank holds its own part of one consistent tensor.
    """
    if get_world_size(group) == 1:
        return
    tensors = [t.data if isinstance(t, torch.nn.Parameter) else t
               for t in list(module.parameters()) + list(module.buffers())]
    plain = [t for t in tensors if type(t) is torch.Tensor]
    for bucket in _flat_buckets(plain, -1):
        _through_flat(bucket, lambda flat: broadcast(flat, src, group))


def sync_random_seed(group: ProcessGroup | None = None) -> int:
    """A random seed drawn on rank 0 and shared with every rank (so samplers shuffle alike)."""
    seed = int(np.random.randint(2**31))
    if get_world_size(group) == 1:
        return seed
    rank_zero_seed = torch.tensor(seed if get_rank(group) == 0 else 0, dtype=torch.int64,
                                  device=get_comm_device(group))
    torch_dist.broadcast(rank_zero_seed, torch_dist.get_global_rank(group, 0)
                         if group is not None else 0, group)
    return int(rank_zero_seed.item())
