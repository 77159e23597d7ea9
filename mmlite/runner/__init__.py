"""The Runner, its loops, checkpoint I/O and log processing."""
from .amp import autocast
from .base_loop import BaseLoop
from .checkpoint import (CheckpointError, UnsafeCheckpointError, find_latest_checkpoint, get_state_dict,
                         load_checkpoint, load_state_dict, save_checkpoint, weights_to_cpu)
from .env import collect_env, get_rng_state, set_random_seed, set_rng_state
from .log_processor import LogProcessor
from .loops import EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop, ValLoop
from .priority import Priority, get_priority
from .run_safety import EXIT_PREEMPTED, TrainingPreempted
from .runner import Runner

__all__ = [
    'Runner', 'TrainingPreempted', 'EXIT_PREEMPTED', 'BaseLoop', 'EpochBasedTrainLoop',
    'IterBasedTrainLoop', 'ValLoop', 'TestLoop', 'LogProcessor', 'Priority', 'get_priority',
    'autocast', 'CheckpointError', 'find_latest_checkpoint', 'get_state_dict', 'load_checkpoint',
    'load_state_dict', 'save_checkpoint', 'weights_to_cpu', 'collect_env', 'get_rng_state',
    'set_random_seed', 'set_rng_state', 'UnsafeCheckpointError',
]
