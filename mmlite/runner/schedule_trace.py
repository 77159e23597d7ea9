"""Trace a config's learning-rate and momentum schedule without training (tools/analysis/plot_lr.py).

The optimizer wrapper and schedulers are built from the config as the Runner builds them,
and stepped by the ParamSchedulerHook itself, so the trace is what a run would see.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from torch import nn

from mmlite.registry import MODELS, DefaultScope, config_key_path

from . import builders


@dataclass
class ScheduleTrace:
    """What each iteration of a run would see.

    Attributes:
        values: ``'lr'``/``'momentum'`` (``'<name>.lr'`` for an OptimWrapperDict) -> one list
            of param-group values per iteration, read where RuntimeInfoHook reads them
            (before the iteration).
        epoch_length: iterations per epoch.
        max_iters: iterations in the run.
        by_epoch: whether the run counts epochs (else iterations, with one epoch at the end).
    """

    values: dict[str, list[list[float]]]
    epoch_length: int
    max_iters: int
    by_epoch: bool


def _run_length(train_cfg: Any, epoch_length: int) -> tuple[bool, int]:
    """(by_epoch, max_iters) from ``train_cfg``."""
    if not isinstance(train_cfg, dict):
        raise KeyError('the config has no train_cfg: add train_cfg=dict(by_epoch=True, max_epochs=...) '
                       'or dict(by_epoch=False, max_iters=...)')
    loop_type = train_cfg.get('type')
    by_epoch = train_cfg.get('by_epoch')
    if loop_type == 'IterBasedTrainLoop' or by_epoch is False:
        by_epoch = False
    elif loop_type == 'EpochBasedTrainLoop' or by_epoch is True:
        by_epoch = True
    else:  # a custom loop: go by the length it is given
        by_epoch = 'max_epochs' in train_cfg
    key = 'max_epochs' if by_epoch else 'max_iters'
    if key not in train_cfg:
        raise KeyError(f'train_cfg needs {key} to know how long the schedule runs (it has '
                       f'{sorted(train_cfg)})')
    length = int(train_cfg[key])
    return by_epoch, length * epoch_length if by_epoch else length


def _dummy_model(optim_wrapper_cfg: dict) -> nn.Module:
    """One parameter per optimizer: enough param groups for the schedule, nothing to compute."""
    if optim_wrapper_cfg.get('constructor') != 'MultiOptimWrapperConstructor':
        return nn.Linear(1, 1, bias=False)
    model = nn.Module()
    for name in optim_wrapper_cfg:
        if name in ('constructor', 'paramwise_cfg'):
            continue
        if '.' in name:
            raise ValueError(f'optim_wrapper.{name} names a nested submodule, which a dummy model '
                             'cannot mimic; trace with the real model (drop --dummy-model)')
        setattr(model, name, nn.Linear(1, 1, bias=False))
    return model


def _build_model(cfg: Any) -> nn.Module:
    model_cfg = copy.deepcopy(dict(cfg['model']))
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg['data_preprocessor'])
    with config_key_path('model'):
        return MODELS.build(model_cfg)


def train_epoch_length(cfg: Any) -> int:
    """Batches per epoch of ``cfg.train_dataloader`` (builds the dataset to count them)."""
    if cfg.get('train_dataloader') is None:
        raise KeyError('the config has no train_dataloader to measure an epoch with; give the '
                       'epoch length yourself (plot_lr.py --epoch-length N)')
    seed = (cfg.get('randomness') or {}).get('seed')
    loader = builders.build_dataloader(cfg['train_dataloader'], seed=seed, key='train_dataloader')
    return len(loader)


def trace_param_schedule(cfg: Any, epoch_length: int | None = None,
                         dummy_model: bool = False) -> ScheduleTrace:
    """Step ``cfg``'s param schedulers through a whole run and record lr and momentum.

    Args:
        cfg: a full config (``Config.fromfile``) with model, optim_wrapper, param_scheduler,
            train_cfg and (unless ``epoch_length`` is given) train_dataloader.
        epoch_length: iterations per epoch; by default the length of the train dataloader.
        dummy_model: build the optimizer for one dummy parameter (per optimizer of a
            MultiOptimWrapperConstructor) instead of the real model, which may be slow to
            build. paramwise_cfg rules then have nothing to match: every group follows the
            base schedule.

    ReduceOnPlateau schedulers need validation metrics and stay flat here.
    """
    from mmlite.hooks import ParamSchedulerHook
    from mmlite.optim import build_optim_wrapper
    if cfg.get('optim_wrapper') is None:
        raise KeyError('the config has no optim_wrapper: the schedule acts on its optimizer')
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        if epoch_length is None:
            epoch_length = train_epoch_length(cfg)
        if not isinstance(epoch_length, int) or epoch_length < 1:
            raise ValueError(f'epoch_length must be a positive int, got {epoch_length!r}')
        by_epoch, max_iters = _run_length(cfg.get('train_cfg'), epoch_length)
        optim_cfg = cfg['optim_wrapper']
        model = _dummy_model(optim_cfg) if dummy_model else _build_model(cfg)
        with config_key_path('optim_wrapper'):
            optim_wrapper = build_optim_wrapper(model, optim_cfg)
        auto_scale_lr = cfg.get('auto_scale_lr')
        if auto_scale_lr and auto_scale_lr.get('enable', False):
            batch_size = (cfg.get('train_dataloader') or {}).get('batch_size', 1)
            builders.scale_lr(optim_wrapper, auto_scale_lr, batch_size, world_size=1)
        schedulers = []
        if cfg.get('param_scheduler') is not None:
            schedulers = builders.build_param_schedulers(copy.deepcopy(cfg['param_scheduler']),
                                                         optim_wrapper, epoch_length)
    # The hook only reads runner.param_schedulers: step exactly as training would.
    hook, runner = ParamSchedulerHook(), SimpleNamespace(param_schedulers=schedulers)
    values: dict[str, list[list[float]]] = {}
    for iteration in range(max_iters):
        for name, group_values in {**optim_wrapper.get_lr(), **optim_wrapper.get_momentum()}.items():
            values.setdefault(name, []).append([float(v) for v in group_values])
        hook.after_train_iter(runner, batch_idx=iteration % epoch_length)
        if by_epoch and (iteration + 1) % epoch_length == 0:
            hook.after_train_epoch(runner)
    return ScheduleTrace(values=values, epoch_length=epoch_length, max_iters=max_iters,
                         by_epoch=by_epoch)
