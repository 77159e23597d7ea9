"""Hooks: the Hook base class and the built-in hooks (importing this registers them in HOOKS)."""
from .check_invalid_loss_hook import CheckInvalidLossHook
from .check_invalid_loss_hook import NonFiniteLossError as NonFiniteLossError  # for except clauses
from .checkpoint_hook import CheckpointHook
from .early_stopping_hook import EarlyStoppingHook
from .ema_hook import EMAHook
from .empty_cache_hook import EmptyCacheHook
from .hook import Hook
from .iter_timer_hook import IterTimerHook
from .logger_hook import LoggerHook
from .param_scheduler_hook import ParamSchedulerHook
from .profiler_hook import ProfilerHook
from .progress_hook import ProgressBarHook
from .runtime_info_hook import RuntimeInfoHook
from .sampler_seed_hook import DistSamplerSeedHook
from .sync_buffer_hook import SyncBuffersHook

__all__ = [
    'Hook', 'CheckpointHook', 'EarlyStoppingHook', 'EMAHook', 'EmptyCacheHook', 'IterTimerHook',
    'LoggerHook', 'ParamSchedulerHook', 'ProfilerHook', 'RuntimeInfoHook', 'DistSamplerSeedHook',
    'SyncBuffersHook', 'ProgressBarHook',
    'CheckInvalidLossHook',
]
