"""Device queries under MMEngine's module path ``mmengine.device`` (the code lives in mmlite.utils)."""
from __future__ import annotations

from mmlite.utils.device import get_device, is_cuda_available, is_mps_available


def get_max_cuda_memory(device=None) -> int:
    """Peak CUDA memory allocated on ``device``, in MB, since the last call (which resets it)."""
    import torch
    memory = torch.cuda.max_memory_allocated(device=device) // (1024 * 1024)
    torch.cuda.reset_peak_memory_stats(device=device)
    return int(memory)


def _torch_backend_available(name: str) -> bool:
    """Whether an out-of-tree backend (``torch.npu`` from torch_npu, ...) is loaded and has a device."""
    import torch
    backend = getattr(torch, name, None)
    return bool(backend is not None and hasattr(backend, 'is_available') and backend.is_available())


def is_npu_available() -> bool:
    return _torch_backend_available('npu')


def is_mlu_available() -> bool:
    return _torch_backend_available('mlu')


def is_musa_available() -> bool:
    return _torch_backend_available('musa')


__all__ = ['get_device', 'get_max_cuda_memory', 'is_cuda_available', 'is_mlu_available', 'is_mps_available',
           'is_musa_available', 'is_npu_available']
