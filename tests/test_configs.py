"""Every shipped config loads, and its model, optimizer and schedulers build (no data needed)."""
import glob
import os

import pytest
import torch

from mmlite.config import Config
from mmlite.optim import build_optim_wrapper
from mmlite.registry import MODELS, PARAM_SCHEDULERS

CONFIGS = sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(__file__)), 'configs', '*.py')))


def test_there_are_runnable_configs():
    names = {os.path.basename(c) for c in CONFIGS}
    assert {'digits_mlp.py', 'fashionmnist_mlp.py', 'cifar10_resnet18.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_config_builds_model_and_optimisation(path):
    cfg = Config.fromfile(path)
    for key in ('model', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'optim_wrapper',
                'param_scheduler', 'train_cfg', 'default_hooks', 'val_evaluator'):
        assert key in cfg, key
    model = MODELS.build(cfg.model)
    size = cfg.model.get('input_size', (32, 32))
    images = torch.randint(0, 256, (2, cfg.model.get('in_channels', 3), *size), dtype=torch.uint8)
    data = model.data_preprocessor(dict(inputs=images, labels=torch.tensor([1, 2])), training=True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['loss'])
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    for scheduler in cfg.param_scheduler:
        PARAM_SCHEDULERS.build(scheduler, default_args=dict(optimizer=wrapper, epoch_length=10))
