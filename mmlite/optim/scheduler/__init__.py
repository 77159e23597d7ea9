"""Parameter schedulers: learning rate, momentum, or any optimizer hyper-parameter."""
from .base_scheduler import INF, _ParamScheduler
from .lr_scheduler import (ConstantLR, CosineAnnealingLR, CosineRestartLR, ExponentialLR, LinearLR,
                           MultiStepLR, OneCycleLR, PolyLR, ReduceOnPlateauLR, StepLR)
from .momentum_scheduler import (ConstantMomentum, CosineAnnealingMomentum, CosineRestartMomentum,
                                 ExponentialMomentum, LinearMomentum, MultiStepMomentum,
                                 PolyMomentum, ReduceOnPlateauMomentum, StepMomentum)
from .param_scheduler import (ConstantParamScheduler, CosineAnnealingParamScheduler,
                              CosineRestartParamScheduler, ExponentialParamScheduler,
                              LinearParamScheduler, MultiStepParamScheduler, OneCycleParamScheduler,
                              PolyParamScheduler, ReduceOnPlateauParamScheduler, StepParamScheduler)

__all__ = [
    'INF', '_ParamScheduler',
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
