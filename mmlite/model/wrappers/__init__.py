"""Model wrappers for distributed training, and ``is_model_wrapper``."""
from typing import Any

from mmlite.dist import exit_guard  # noqa: F401  (wrapped models run with a process group)
from mmlite.registry import MODEL_WRAPPERS

from .distributed import MMDistributedDataParallel
from .fully_shard import MMFullyShard
from .seperate_distributed import MMSeparateDistributedDataParallel
from .utils import is_model_wrapper


def _build_fsdp_wrapper(*args: Any, **kwargs: Any) -> Any:
    """Stand-in for MMFullyShardedDataParallel until first use: importing FSDP costs ~1 s."""
    from .fully_sharded_distributed import MMFullyShardedDataParallel
    return MMFullyShardedDataParallel(*args, **kwargs)


MODEL_WRAPPERS.register_module(name='MMFullyShardedDataParallel', module=_build_fsdp_wrapper)


def __getattr__(name: str) -> Any:
    if name == 'MMFullyShardedDataParallel':
        from .fully_sharded_distributed import MMFullyShardedDataParallel
        return MMFullyShardedDataParallel
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['MMDistributedDataParallel', 'MMSeparateDistributedDataParallel', 'MMFullyShardedDataParallel',
           'MMFullyShard', 'is_model_wrapper']
