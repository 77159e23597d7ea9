"""``autocast`` that works on every device type, the CPU included."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import torch

from mmlite.utils.device import autocast_dtype, get_device


@contextmanager
def autocast(device_type: str | None = None, dtype: torch.dtype | str | None = None,
             enabled: bool = True, cache_enabled: bool | None = None) -> Iterator[None]:
    """Mixed precision on ``device_type`` (default: the device mmlite trains on).

    MMEngine's version only autocasts on CUDA; here the CPU uses bfloat16 and MPS float16.
    """
    if not enabled:
        with nullcontext():
            yield
        return
    device_type = device_type or get_device()
    kwargs = {} if cache_enabled is None else {'cache_enabled': cache_enabled}
    with torch.autocast(device_type=device_type, dtype=autocast_dtype(device_type, dtype), **kwargs):
        yield
