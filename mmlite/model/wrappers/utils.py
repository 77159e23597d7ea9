"""Recognise model wrappers (DDP and friends) so callers can reach the model inside."""
from __future__ import annotations

import sys

from torch import nn

from mmlite.registry import MODEL_WRAPPERS, Registry


def is_model_wrapper(model: nn.Module, registry: Registry = MODEL_WRAPPERS) -> bool:
    """True if ``model`` is an instance of a class registered in MODEL_WRAPPERS (or a child registry).

    torch's DataParallel, DistributedDataParallel and FullyShardedDataParallel count too.
    """
    wrapper_classes = tuple(obj for obj in registry.module_dict.values() if isinstance(obj, type))
    if wrapper_classes and isinstance(model, wrapper_classes):
        return True
    if registry is MODEL_WRAPPERS and 'torch.distributed.fsdp' in sys.modules:
        # FSDP is imported lazily (it costs ~1 s); a model can only be one once it is imported.
        from torch.distributed.fsdp import FullyShardedDataParallel
        if isinstance(model, FullyShardedDataParallel):
            return True
    return any(is_model_wrapper(model, child) for child in registry.children.values())
