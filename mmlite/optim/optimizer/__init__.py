"""Optimizer wrappers, their constructors, and torch's optimizers in the OPTIMIZERS registry."""
from mmlite.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS

from .amp_optimizer_wrapper import AmpOptimWrapper
from .base import BaseOptimWrapper
from .builder import TORCH_OPTIMIZERS, build_optim_wrapper, register_torch_optimizers
from .default_constructor import DefaultOptimWrapperConstructor
from .multi_constructor import MultiOptimWrapperConstructor
from .optimizer_wrapper import OptimWrapper
from .optimizer_wrapper_dict import OptimWrapperDict

__all__ = [
    'OPTIM_WRAPPER_CONSTRUCTORS', 'OPTIM_WRAPPERS', 'OPTIMIZERS', 'AmpOptimWrapper',
    'BaseOptimWrapper', 'TORCH_OPTIMIZERS', 'build_optim_wrapper', 'register_torch_optimizers',
    'DefaultOptimWrapperConstructor', 'MultiOptimWrapperConstructor', 'OptimWrapper',
    'OptimWrapperDict',
]
