"""Datasets, samplers, collate functions and transforms composition.

Importing this package registers its samplers (DATA_SAMPLERS), collate and worker
functions (FUNCTIONS), Compose (TRANSFORMS) and datasets (DATASETS).
"""
from .base_dataset import BaseDataset, force_full_init
from .compose import Compose
from .dataset_wrapper import ClassBalancedDataset, ConcatDataset, RepeatDataset
from .digits_dataset import DigitsDataset
from .sampler import DefaultSampler, InfiniteSampler
from .torchvision_dataset import TorchvisionDataset
from .utils import COLLATE_FUNCTIONS, default_collate, pseudo_collate, worker_init_fn

__all__ = [
    'BaseDataset', 'force_full_init', 'Compose', 'ClassBalancedDataset', 'ConcatDataset',
    'RepeatDataset', 'DefaultSampler', 'InfiniteSampler', 'COLLATE_FUNCTIONS', 'default_collate',
    'pseudo_collate', 'worker_init_fn', 'DigitsDataset', 'TorchvisionDataset',
]
