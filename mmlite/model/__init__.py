"""Models: BaseModule and weight init, BaseModel, data preprocessors, wrappers, averaged models.

Importing this package registers every model, initialiser and wrapper in the root registries.
"""
from typing import Any

from .averaged_model import (BaseAveragedModel, ExponentialMovingAverage, MomentumAnnealingEMA,
                             StochasticWeightAverage)
from .base_model import BaseDataPreprocessor, BaseModel, ImgDataPreprocessor
from .base_module import BaseModule, ModuleDict, ModuleList, Sequential
from .classifiers import MLPClassifier, TorchvisionClassifier
from .test_time_aug import BaseTTAModel
from .utils import (convert_sync_batchnorm, detect_anomalous_params, merge_dict, revert_sync_batchnorm,
                    stack_batch)
from .weight_init import (BaseInit, Caffe2XavierInit, ConstantInit, KaimingInit, NormalInit, PretrainedInit,
                          TruncNormalInit, UniformInit, XavierInit, bias_init_with_prob, caffe2_xavier_init,
                          constant_init, initialize, kaiming_init, normal_init, trunc_normal_init,
                          uniform_init, update_init_info, xavier_init)
from .wrappers import (MMDistributedDataParallel, MMFullyShard, MMSeparateDistributedDataParallel,
                       is_model_wrapper)


def __getattr__(name: str) -> Any:
    if name == 'MMFullyShardedDataParallel':  # torch's FSDP costs ~1 s to import: load on first use
        from .wrappers.fully_sharded_distributed import MMFullyShardedDataParallel
        return MMFullyShardedDataParallel
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = [
    'BaseModule', 'ModuleList', 'ModuleDict', 'Sequential', 'BaseModel', 'BaseDataPreprocessor',
    'ImgDataPreprocessor', 'MMDistributedDataParallel', 'MMSeparateDistributedDataParallel',
    'MMFullyShardedDataParallel', 'MMFullyShard', 'is_model_wrapper', 'revert_sync_batchnorm', 'convert_sync_batchnorm',
    'stack_batch', 'merge_dict', 'detect_anomalous_params', 'BaseAveragedModel',
    'ExponentialMovingAverage', 'StochasticWeightAverage', 'MomentumAnnealingEMA', 'BaseTTAModel',
    'update_init_info', 'initialize', 'bias_init_with_prob', 'constant_init', 'xavier_init', 'normal_init',
    'trunc_normal_init', 'uniform_init', 'kaiming_init', 'caffe2_xavier_init', 'BaseInit', 'ConstantInit',
    'XavierInit', 'NormalInit', 'TruncNormalInit', 'UniformInit', 'KaimingInit', 'Caffe2XavierInit',
    'PretrainedInit', 'MLPClassifier', 'TorchvisionClassifier',
]
