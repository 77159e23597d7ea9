"""Put the per-rank evaluation results back into dataset order on rank 0.

DefaultSampler gives rank r the indices r, r+W, r+2W, ... of the (padded) index list, so the
dataset order is the ranks' lists interleaved; the padding at the end is dropped to keep ``size``.
"""
from __future__ import annotations

import os
import pickle
import warnings

import torch

from .dist import all_gather, gather, gather_object
from .utils import barrier, get_comm_device, get_rank, get_world_size

_DEVICES = ('cpu', 'gpu')


def _interleave(parts: list[list], size: int) -> list:
    """``[[a0, a2], [a1, a3]] -> [a0, a1, a2, a3]``, cut to ``size``; ranks may differ by one item."""
    ordered = []
    longest = max(len(part) for part in parts)
    for index in range(longest):
        for part in parts:
            if index < len(part):
                ordered.append(part[index])
    if len(ordered) < size:
        warnings.warn(f'collect_results: expected {size} results but the {len(parts)} ranks '
                      f'produced {len(ordered)}; is the sampler covering the whole dataset?')
    return ordered[:size]


def collect_results(results: list, size: int, device: str = 'cpu',
                    tmpdir: str | None = None) -> list | None:
    """All ranks' ``results`` in dataset order on rank 0 (exactly ``size`` of them); None elsewhere.

    ``device='cpu'`` pickles through the process group (or through files in ``tmpdir``, which
    must be shared by all ranks); ``'gpu'`` sends byte tensors on the backend's device.
    """
    if device not in _DEVICES:
        raise ValueError(f'collect_results: device must be one of {list(_DEVICES)}, got {device!r}')
    if device == 'gpu':
        if tmpdir is not None:
            raise ValueError("collect_results: tmpdir is only used with device='cpu'")
        return collect_results_gpu(results, size)
    return collect_results_cpu(results, size, tmpdir)


def collect_results_cpu(result_part: list, size: int, tmpdir: str | None = None) -> list | None:
    """``collect_results`` through pickled objects (or ``tmpdir`` files when it is given)."""
    if get_world_size() == 1:
        return list(result_part[:size])
    if tmpdir is None:
        parts = gather_object(result_part, dst=0)
    else:
        parts = _gather_through_files(result_part, tmpdir)
    return _interleave(parts, size) if get_rank() == 0 else None


def _gather_through_files(result_part: list, tmpdir: str) -> list[list] | None:
    """Each rank writes ``part_<rank>.pkl`` into ``tmpdir``; rank 0 reads them all and removes
    them. The directory itself is the caller's and stays."""
    rank, world_size = get_rank(), get_world_size()
    os.makedirs(tmpdir, exist_ok=True)
    with open(os.path.join(tmpdir, f'part_{rank}.pkl'), 'wb') as file:
        pickle.dump(result_part, file, protocol=pickle.HIGHEST_PROTOCOL)
    barrier()
    parts = None
    if rank == 0:
        parts = []
        for other in range(world_size):
            path = os.path.join(tmpdir, f'part_{other}.pkl')
            with open(path, 'rb') as file:
                parts.append(pickle.load(file))
            os.remove(path)
    # Nobody may write the next round's files before rank 0 has read and removed these.
    barrier()
    return parts


def collect_results_gpu(result_part: list, size: int) -> list | None:
    """``collect_results`` through uint8 tensors on the communication device."""
    if get_world_size() == 1:
        return list(result_part[:size])
    device = get_comm_device()
    payload = torch.frombuffer(bytearray(pickle.dumps(result_part, pickle.HIGHEST_PROTOCOL)),
                               dtype=torch.uint8).to(device)
    length = torch.tensor([payload.numel()], dtype=torch.int64, device=device)
    lengths = [int(n.item()) for n in all_gather(length)]
    padded = torch.zeros(max(lengths), dtype=torch.uint8, device=device)
    padded[:payload.numel()] = payload
    gathered = gather(padded, dst=0)
    if get_rank() != 0:
        return None
    parts = [pickle.loads(tensor[:n].cpu().numpy().tobytes())
             for tensor, n in zip(gathered, lengths)]
    return _interleave(parts, size)
