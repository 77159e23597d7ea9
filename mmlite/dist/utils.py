"""Who am I in the process group, and which device do collectives use.

Every helper answers for a single process too (rank 0 of a world of 1), so code written
for distributed runs needs no ``if distributed`` branches.
"""
from __future__ import annotations

import functools
import os
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.distributed as torch_dist
from torch.distributed import ProcessGroup

_LOCAL_PROCESS_GROUP: ProcessGroup | None = None


def is_distributed() -> bool:
    """True once a default process group is initialised."""
    return torch_dist.is_available() and torch_dist.is_initialized()


def get_default_group() -> ProcessGroup | None:
    """The default (world) process group, or None in a single process."""
    return torch_dist.group.WORLD if is_distributed() else None


def get_rank(group: ProcessGroup | None = None) -> int:
    """Rank in ``group`` (default: world); 0 without a process group."""
    return torch_dist.get_rank(group) if is_distributed() else 0


def get_world_size(group: ProcessGroup | None = None) -> int:
    """Number of processes in ``group`` (default: world); 1 without a process group."""
    return torch_dist.get_world_size(group) if is_distributed() else 1


def get_dist_info(group: ProcessGroup | None = None) -> tuple[int, int]:
    """``(rank, world_size)`` of ``group``."""
    return get_rank(group), get_world_size(group)


def init_local_group(node_rank: int, num_gpus_per_node: int) -> None:
    """Create the group of the processes on this node (rank r is on node r // num_gpus_per_node).

    Every process must call it: ``new_group`` is collective, so all node groups are created
    everywhere and each process keeps its own.
    """
    global _LOCAL_PROCESS_GROUP
    if _LOCAL_PROCESS_GROUP is not None:
        raise RuntimeError('init_local_group was already called in this process')
    world_size = get_world_size()
    if num_gpus_per_node < 1 or world_size % num_gpus_per_node:
        raise ValueError(f'init_local_group: world size {world_size} is not a multiple of '
                         f'num_gpus_per_node={num_gpus_per_node}')
    for node in range(world_size // num_gpus_per_node):
        ranks = list(range(node * num_gpus_per_node, (node + 1) * num_gpus_per_node))
        group = torch_dist.new_group(ranks)
        if node == node_rank:
            _LOCAL_PROCESS_GROUP = group


def get_local_group() -> ProcessGroup | None:
    """The group made by ``init_local_group``, or None."""
    return _LOCAL_PROCESS_GROUP


def _local_from_env(variable: str, what: str) -> int:
    value = os.environ.get(variable)
    if value is None:
        raise RuntimeError(f'Cannot tell the {what} of this process: no local process group '
                           f'(see init_local_group) and no {variable} environment variable '
                           f'(torchrun and init_dist set it)')
    return int(value)


def get_local_rank() -> int:
    """Rank among the processes of this node; 0 without a process group."""
    if not is_distributed():
        return 0
    if _LOCAL_PROCESS_GROUP is not None:
        return torch_dist.get_rank(_LOCAL_PROCESS_GROUP)
    return _local_from_env('LOCAL_RANK', 'local rank')


def get_local_size() -> int:
    """Number of processes on this node; 1 without a process group."""
    if not is_distributed():
        return 1
    if _LOCAL_PROCESS_GROUP is not None:
        return torch_dist.get_world_size(_LOCAL_PROCESS_GROUP)
    return _local_from_env('LOCAL_WORLD_SIZE', 'local world size')


def is_main_process(group: ProcessGroup | None = None) -> bool:
    """True on rank 0 of ``group`` (and always in a single process)."""
    return get_rank(group) == 0


def master_only(func: Callable) -> Callable:
    """Decorator: run ``func`` on the main process only; other ranks get None."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if is_main_process():
            return func(*args, **kwargs)
        return None

    return wrapper


def barrier(group: ProcessGroup | None = None) -> None:
    """Wait for every process of ``group``; nothing to wait for in a single process."""
    if is_distributed():
        torch_dist.barrier(group)


def get_backend(group: ProcessGroup | None = None) -> str | None:
    """'gloo', 'nccl', ... of ``group``; None without a process group."""
    return torch_dist.get_backend(group) if is_distributed() else None


def get_comm_device(group: ProcessGroup | None = None) -> torch.device:
    """The device tensors must live on to be communicated by ``group``'s backend."""
    backend = get_backend(group)
    if backend in ('nccl', 'smddp'):
        return torch.device('cuda', torch.cuda.current_device())
    if backend == 'hccl':
        return torch.device('npu', torch.npu.current_device())  # type: ignore[attr-defined]
    if backend == 'cncl':
        return torch.device('mlu', torch.mlu.current_device())  # type: ignore[attr-defined]
    return torch.device('cpu')


def get_data_device(data: torch.Tensor | Sequence | Mapping) -> torch.device:
    """The one device all tensors in ``data`` (a tensor, or a list/tuple/dict of them) live on."""
    if isinstance(data, torch.Tensor):
        return data.device
    if isinstance(data, Mapping):
        items = list(data.values())
    elif isinstance(data, (list, tuple)):
        items = list(data)
    else:
        raise TypeError(f'get_data_device takes a tensor or a list/tuple/dict of tensors, got '
                        f'{type(data).__name__}')
    if not items:
        raise ValueError('get_data_device: data is empty, so it has no device')
    devices = {get_data_device(item) for item in items}
    if len(devices) > 1:
        raise ValueError(f'get_data_device: the tensors live on several devices: '
                         f'{sorted(map(str, devices))}; move them to one first')
    return devices.pop()


def cast_data_device(data: Any, device: torch.device, out: Any = None) -> Any:
    """``data`` (a tensor, or a list/tuple/dict of them) moved to ``device``.

    With ``out`` (same structure), values are copied into ``out``'s tensors, which are returned.
    """
    if isinstance(data, torch.Tensor):
        moved = data.to(device)
        if out is None:
            return moved
        if not isinstance(out, torch.Tensor):
            raise TypeError(f'cast_data_device: out must mirror data; got a tensor in data and '
                            f'{type(out).__name__} in out')
        return out.copy_(moved)
    if isinstance(data, Mapping):
        if out is None:
            return type(data)({k: cast_data_device(v, device) for k, v in data.items()})
        for key, value in data.items():
            cast_data_device(value, device, out[key])
        return out
    if isinstance(data, (list, tuple)):
        if out is None:
            moved = [cast_data_device(v, device) for v in data]
            return type(data)(*moved) if hasattr(data, '_fields') else type(data)(moved)
        if len(out) != len(data):
            raise ValueError(f'cast_data_device: out has {len(out)} items, data has {len(data)}')
        for value, target in zip(data, out):
            cast_data_device(value, device, target)
        return out
    raise TypeError(f'cast_data_device takes a tensor or a list/tuple/dict of tensors, got '
                    f'{type(data).__name__}')
