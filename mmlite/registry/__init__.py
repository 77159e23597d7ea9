"""Registries: the one way objects come from configs."""
from .build_functions import (build_from_cfg, build_model_from_cfg, build_runner_from_cfg,
                              build_scheduler_from_cfg, config_key_path)
from .default_scope import DefaultScope, init_default_scope
from .registry import Registry, RegistryError
from .root import (DATA_SAMPLERS, DATASETS, EVALUATOR, FUNCTIONS, HOOKS, INFERENCERS, LOG_PROCESSORS,
                   LOOPS, METRICS, MODEL_WRAPPERS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                   OPTIMIZERS, PARAM_SCHEDULERS, RUNNER_CONSTRUCTORS, RUNNERS, STRATEGIES, TASK_UTILS,
                   TRANSFORMS, VISBACKENDS, VISUALIZERS, WEIGHT_INITIALIZERS)

__all__ = [
    'Registry', 'RegistryError', 'build_from_cfg', 'build_model_from_cfg', 'build_runner_from_cfg',
    'build_scheduler_from_cfg', 'config_key_path', 'DefaultScope', 'init_default_scope',
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'STRATEGIES', 'DATASETS', 'DATA_SAMPLERS',
    'TRANSFORMS', 'MODELS', 'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'METRICS', 'EVALUATOR', 'TASK_UTILS',
    'VISUALIZERS', 'VISBACKENDS', 'LOG_PROCESSORS', 'INFERENCERS', 'FUNCTIONS',
]
