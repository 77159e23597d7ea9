"""Optimizer wrappers and their constructors, and parameter schedulers (MMEngine's mmengine.optim)."""
from .optimizer import (OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS, TORCH_OPTIMIZERS,
                        AmpOptimWrapper, BaseOptimWrapper, DefaultOptimWrapperConstructor,
                        MultiOptimWrapperConstructor, OptimWrapper, OptimWrapperDict,
                        build_optim_wrapper, register_torch_optimizers)
from .scheduler import (INF, ConstantLR, ConstantMomentum, ConstantParamScheduler,
                        CosineAnnealingLR, CosineAnnealingMomentum, CosineAnnealingParamScheduler,
                        CosineRestartLR, CosineRestartMomentum, CosineRestartParamScheduler,
                        ExponentialLR, ExponentialMomentum, ExponentialParamScheduler, LinearLR,
                        LinearMomentum, LinearParamScheduler, MultiStepLR, MultiStepMomentum,
                        MultiStepParamScheduler, OneCycleLR, OneCycleParamScheduler, PolyLR,
                        PolyMomentum, PolyParamScheduler, ReduceOnPlateauLR,
                        ReduceOnPlateauMomentum, ReduceOnPlateauParamScheduler, StepLR,
                        StepMomentum, StepParamScheduler, _ParamScheduler)

__all__ = [
    'OPTIM_WRAPPER_CONSTRUCTORS', 'OPTIM_WRAPPERS', 'OPTIMIZERS', 'TORCH_OPTIMIZERS',
    'AmpOptimWrapper', 'BaseOptimWrapper', 'DefaultOptimWrapperConstructor',
    'MultiOptimWrapperConstructor', 'OptimWrapper', 'OptimWrapperDict', 'build_optim_wrapper',
    'register_torch_optimizers', 'INF', '_ParamScheduler',
    'ConstantLR', 'CosineAnnealingLR', 'CosineRestartLR', 'ExponentialLR', 'LinearLR',
    'MultiStepLR', 'OneCycleLR', 'PolyLR', 'ReduceOnPlateauLR', 'StepLR',
    'ConstantMomentum', 'CosineAnnealingMomentum', 'CosineRestartMomentum',
    'ExponentialMomentum', 'LinearMomentum', 'MultiStepMomentum', 'PolyMomentum',
    'ReduceOnPlateauMomentum', 'StepMomentum',
    'ConstantParamScheduler', 'CosineAnnealingParamScheduler', 'CosineRestartParamScheduler',
    'ExponentialParamScheduler', 'LinearParamScheduler', 'MultiStepParamScheduler',
    'OneCycleParamScheduler', 'PolyParamScheduler', 'ReduceOnPlateauParamScheduler',
    'StepParamScheduler',
]
