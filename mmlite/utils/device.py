"""Which device to train on: CUDA if present, else Apple's MPS, else the CPU."""
from __future__ import annotations


def is_cuda_available() -> bool:
    import torch
    return torch.cuda.is_available()


def is_mps_available() -> bool:
    import torch
    mps = getattr(torch.backends, 'mps', None)
    return bool(mps is not None and mps.is_available())


def get_device() -> str:
    """'cuda', 'mps' or 'cpu', in that order of preference."""
    if is_cuda_available():
        return 'cuda'
    if is_mps_available():
        return 'mps'
    return 'cpu'


def autocast_dtype(device_type: str, dtype=None):
    """The dtype mixed precision uses on ``device_type`` when none is asked for.

    float16 needs a GPU to pay off; on the CPU bfloat16 is the one PyTorch computes fast.
    """
    import torch
    if dtype is not None:
        return getattr(torch, dtype) if isinstance(dtype, str) else dtype
    return torch.bfloat16 if device_type == 'cpu' else torch.float16
