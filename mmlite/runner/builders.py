"""Building the runner's parts from configs: dataloaders, loops, optimisation, evaluation, wrappers.

Each function takes a config (or an already built object, returned as is) and says which config
key to fix when something is wrong.
"""
from __future__ import annotations

import copy
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader

from mmlite.dataset.sample_seed import SeededBatchSampler
from mmlite.logging import print_log
from mmlite.registry import (DATA_SAMPLERS, DATASETS, EVALUATOR, FUNCTIONS, LOOPS, MODEL_WRAPPERS,
                             PARAM_SCHEDULERS, config_key_path)


def build_dataloader(dataloader: DataLoader | dict, seed: int | None = None, diff_rank_seed: bool = False,
                     key: str | None = None) -> DataLoader:
    """A DataLoader from ``dict(dataset=..., sampler=..., batch_size=..., collate_fn=..., ...)``.

    ``pin_memory`` defaults to True when CUDA is there and ``persistent_workers`` to True when
    workers are used. The loader gets its own seeded generator so making an iterator never
    draws from (and so never shifts) the global torch RNG.
    """
    if isinstance(dataloader, DataLoader):
        return dataloader
    from mmlite.dist import get_dist_info
    from mmlite.registry.build_functions import current_key_path
    # Errors name the caller's key (e.g. 'train_dataloader', see BaseLoop) when none is given.
    key = key or current_key_path(dataloader) or 'dataloader'
    if not isinstance(dataloader, dict):
        raise TypeError(f'{key} must be a DataLoader or a dict config, got {type(dataloader).__name__}')
    cfg = copy.deepcopy(dict(dataloader))
    if 'dataset' not in cfg:
        raise KeyError(f'{key} has no "dataset": add {key}.dataset=dict(type=..., ...)')
    dataset_cfg = cfg.pop('dataset')
    if isinstance(dataset_cfg, dict):
        with config_key_path(f'{key}.dataset'):
            dataset = DATASETS.build(dataset_cfg)
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
    elif isinstance(dataset_cfg, (str, bytes, list, tuple)):  # e.g. an override left as text
        raise TypeError(f'{key}.dataset must be a config dict or a dataset object, got '
                        f'{type(dataset_cfg).__name__} {dataset_cfg!r}')
    else:
        dataset = dataset_cfg

    sampler_cfg = cfg.pop('sampler', None)
    if sampler_cfg is None:
        raise KeyError(f'{key} has no "sampler": add {key}.sampler=dict(type="DefaultSampler", '
                       'shuffle=True) (shuffle=False for validation and test)')
    if isinstance(sampler_cfg, dict):
        with config_key_path(f'{key}.sampler'):
            sampler = DATA_SAMPLERS.build(sampler_cfg, default_args=dict(
                dataset=dataset, seed=None if diff_rank_seed else seed))
    else:
        sampler = sampler_cfg

    batch_sampler_cfg = cfg.pop('batch_sampler', None)
    batch_sampler = None
    if batch_sampler_cfg is not None:
        if 'batch_size' not in cfg:
            raise KeyError(f'{key}.batch_sampler needs {key}.batch_size')
        with config_key_path(f'{key}.batch_sampler'):
            batch_sampler = DATA_SAMPLERS.build(batch_sampler_cfg, default_args=dict(
                sampler=sampler, batch_size=cfg.pop('batch_size')))

    rank, _ = get_dist_info()
    num_workers = cfg.get('num_workers', 0)
    init_fn = None
    if seed is not None:
        worker_init = FUNCTIONS.get('worker_init_fn')
        init_fn = partial(worker_init, num_workers=num_workers, rank=rank, seed=seed)
    collate_cfg = dict(cfg.pop('collate_fn', None) or dict(type='pseudo_collate'))
    collate_type = collate_cfg.pop('type')
    collate_fn = FUNCTIONS.get(collate_type) if isinstance(collate_type, str) else collate_type
    if collate_fn is None:
        raise FUNCTIONS.not_found_error(collate_type)
    if collate_cfg:
        collate_fn = partial(collate_fn, **collate_cfg)
    cfg.setdefault('pin_memory', torch.cuda.is_available())
    if num_workers > 0:
        cfg.setdefault('persistent_workers', True)
    else:  # DataLoader refuses persistent workers without workers
        cfg.pop('persistent_workers', None)
    generator = torch.Generator()
    generator.manual_seed(seed if seed is not None else 0)
    try:
        loader = DataLoader(dataset=dataset, sampler=None if batch_sampler else sampler,
                            batch_sampler=batch_sampler, collate_fn=collate_fn, worker_init_fn=init_fn,
                            generator=generator, **cfg)
    except TypeError as exc:
        raise TypeError(f'{key}: {exc}. DataLoader accepts batch_size, num_workers, drop_last, '
                        'pin_memory, persistent_workers, prefetch_factor, timeout besides dataset, '
                        'sampler, batch_sampler and collate_fn') from None
    loader._mmlite_seed = seed
    if type(loader.batch_sampler) is BatchSampler and num_workers > 0:
        # Batches that carry their sampler's seed and positions, for per-sample seeding in
        # workers (mmlite/dataset/sample_seed.py); without workers nothing is reseeded. Set
        # past DataLoader's guard so loader.sampler and loader.batch_size stay as configured.
        object.__setattr__(loader, 'batch_sampler', SeededBatchSampler(
            loader.sampler, loader.batch_size, loader.drop_last))
    return loader


def build_loop(loop: Any, kind: str, runner, dataloader: Any, evaluator: Any = None):
    """A loop from ``train_cfg``/``val_cfg``/``test_cfg``; ``type`` picks a custom one from LOOPS."""
    from .base_loop import BaseLoop
    from .loops import EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop, ValLoop
    if isinstance(loop, BaseLoop):
        return loop
    key = f'{kind}_cfg'
    if not isinstance(loop, dict):
        raise TypeError(f'{key} must be a dict or a loop object, got {type(loop).__name__}')
    cfg = copy.deepcopy(dict(loop))
    defaults: dict[str, Any] = dict(runner=runner, dataloader=dataloader)
    if kind != 'train':
        defaults['evaluator'] = evaluator
    if 'type' in cfg:
        if 'by_epoch' in cfg:
            raise ValueError(f'{key} has both "type" and "by_epoch"; keep one of them')
        with config_key_path(key):
            return LOOPS.build(cfg, default_args=defaults)
    if kind == 'train':
        by_epoch = cfg.pop('by_epoch', None)
        if by_epoch is None:
            raise KeyError(f'{key} needs "by_epoch" (True with max_epochs, False with max_iters) or a '
                           '"type" naming a loop')
        loop_cls = EpochBasedTrainLoop if by_epoch else IterBasedTrainLoop
    else:
        loop_cls = ValLoop if kind == 'val' else TestLoop
    with config_key_path(key):
        from mmlite.registry import build_from_cfg
        return build_from_cfg(dict(type=loop_cls, **cfg), LOOPS, default_args=defaults)


def build_evaluator(evaluator: Any):
    """An Evaluator from a config, a metric config, a list of them, or a metric object."""
    from mmlite.evaluator import Evaluator
    if isinstance(evaluator, Evaluator):
        return evaluator
    if isinstance(evaluator, dict):
        if 'metrics' in evaluator:
            cfg = dict(evaluator)
            cfg.setdefault('type', 'Evaluator')
            return EVALUATOR.build(cfg)
        return Evaluator(evaluator)
    if isinstance(evaluator, list) or hasattr(evaluator, 'process'):
        return Evaluator(evaluator)
    raise TypeError(f'an evaluator must be an Evaluator, a metric, a config or a list of them; got '
                    f'{type(evaluator).__name__}')


def build_param_schedulers(scheduler: Any, optim_wrapper: Any, epoch_length: int | None) -> Any:
    """A list of schedulers (or a dict of lists, one per optimizer of an OptimWrapperDict)."""
    from mmlite.optim import OptimWrapperDict

    def build_list(cfgs, wrapper, key):
        cfgs = cfgs if isinstance(cfgs, (list, tuple)) else [cfgs]
        built = []
        for i, cfg in enumerate(cfgs):
            if not isinstance(cfg, dict):
                if not callable(getattr(cfg, 'step', None)):
                    raise TypeError(f'{key}.{i} must be a scheduler config dict (with a type) or a '
                                    f'built scheduler, got {type(cfg).__name__}: {cfg!r}')
                built.append(cfg)
                continue
            with config_key_path(f'{key}.{i}'):
                built.append(PARAM_SCHEDULERS.build(
                    cfg, default_args=dict(optimizer=wrapper, epoch_length=epoch_length)))
        return built

    if isinstance(optim_wrapper, OptimWrapperDict):
        if isinstance(scheduler, dict) and 'type' not in scheduler:
            unknown = set(scheduler) - set(optim_wrapper.keys())
            if unknown:
                raise KeyError(f'param_scheduler names {sorted(unknown)}, which are not optimizers of '
                               f'the optim_wrapper ({sorted(optim_wrapper.keys())})')
            return {name: build_list(cfgs, optim_wrapper[name], f'param_scheduler.{name}')
                    for name, cfgs in scheduler.items()}
        return {name: build_list(copy.deepcopy(scheduler), wrapper, 'param_scheduler')
                for name, wrapper in optim_wrapper.items()}
    return build_list(scheduler, optim_wrapper, 'param_scheduler')


def scale_lr(optim_wrapper: Any, auto_scale_lr: dict | None, batch_size: int, world_size: int) -> None:
    """Scale every learning rate by (real batch size / ``auto_scale_lr.base_batch_size``)."""
    if not auto_scale_lr or not auto_scale_lr.get('enable', False):
        return
    if 'base_batch_size' not in auto_scale_lr:
        raise KeyError('auto_scale_lr needs base_batch_size: the total batch size the learning rate '
                       'in the config was tuned for')
    ratio = batch_size * world_size / auto_scale_lr['base_batch_size']
    wrappers = optim_wrapper.values() if hasattr(optim_wrapper, 'values') else [optim_wrapper]
    for wrapper in wrappers:
        for group in wrapper.param_groups:
            group['lr'] = group['lr'] * ratio
            if 'initial_lr' in group:
                group['initial_lr'] = group['initial_lr'] * ratio
    print_log(f'auto_scale_lr: learning rates scaled by {ratio:g} ({world_size} x {batch_size} / '
              f'{auto_scale_lr["base_batch_size"]})', logger='current')


def wrap_model(model: nn.Module, model_wrapper_cfg: dict | None, distributed: bool, device: str,
               find_unused_parameters: bool = False, sync_bn: str | None = None) -> nn.Module:
    """Move ``model`` to ``device`` and, when distributed, wrap it (DDP by default).

    ``find_unused_parameters`` and ``sync_bn`` are the top-level config keys of MMEngine's
    runner: the first configures the default DDP, the second converts BatchNorm layers.
    """
    from mmlite.model import is_model_wrapper
    if is_model_wrapper(model):
        if model_wrapper_cfg is not None:
            raise ValueError('model is already wrapped; drop model_wrapper_cfg from the config')
        return model
    if distributed and sync_bn is not None and device in ('cpu', 'mps'):
        # SyncBatchNorm's forward takes CUDA/XPU tensors only: say so before anything moves.
        raise ValueError(f'sync_bn={sync_bn!r}: torch\'s SyncBatchNorm does not run on {device}, '
                         'the device of this run; remove sync_bn from the config here')
    model = model.to(device)
    if not distributed:
        if model_wrapper_cfg is not None:
            print_log('model_wrapper_cfg is ignored: this run is not distributed', logger='current',
                      level=30)
        return model
    if sync_bn is not None:
        from mmlite.model import convert_sync_batchnorm
        try:
            model = convert_sync_batchnorm(model, sync_bn)
        except ValueError as exc:
            raise ValueError(f'config key sync_bn: {exc}') from None
    cfg = dict(model_wrapper_cfg or dict(type='MMDistributedDataParallel',
                                         find_unused_parameters=bool(find_unused_parameters)))
    cfg.setdefault('type', 'MMDistributedDataParallel')
    wrapper_name = cfg['type'] if isinstance(cfg['type'], str) else getattr(cfg['type'], '__name__', '')
    is_ddp = wrapper_name in ('MMDistributedDataParallel', 'DistributedDataParallel')
    if device == 'cuda' and is_ddp:
        cfg.setdefault('device_ids', [torch.cuda.current_device()])
    if is_ddp and 'broadcast_buffers' not in cfg and 'forward_sync_buffers' not in cfg:
        from mmlite.model.wrappers.distributed import no_forward_buffer_sync
        cfg.update(no_forward_buffer_sync())  # SyncBuffersHook syncs them once per epoch
    with config_key_path('model_wrapper_cfg'):
        return MODEL_WRAPPERS.build(cfg, default_args=dict(module=model))
