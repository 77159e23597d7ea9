"""What a checkpoint holds beyond the weights, and how a resumed run takes it back.

Kept apart from the Runner so the list of saved parts lives in one place: meta, weights,
optimizer(s), schedulers, message hub, and every process's RNG states.
"""
from __future__ import annotations

import time
from typing import Any

from mmlite.logging import print_log

from .checkpoint import get_state_dict, to_plain, weights_to_cpu
from .env import get_rng_state


def _scheduler_states(schedulers: Any) -> Any:
    if isinstance(schedulers, dict):
        return {name: [s.state_dict() for s in group] for name, group in schedulers.items()}
    return [s.state_dict() for s in schedulers]


def _load_scheduler_states(schedulers: Any, states: Any) -> None:
    if isinstance(schedulers, dict) != isinstance(states, dict):
        raise ValueError('the checkpoint\'s param_schedulers do not match the config\'s: one is keyed '
                         'by optimizer name and the other is not')
    pairs = ([(schedulers[k], states[k]) for k in schedulers if k in states]
             if isinstance(schedulers, dict) else [(schedulers, states)])
    for group, group_states in pairs:
        if len(group) != len(group_states):
            print_log(f'the checkpoint has {len(group_states)} parameter schedulers and the config '
                      f'{len(group)}; restoring the first {min(len(group), len(group_states))}',
                      logger='current', level=30)
        for scheduler, state in zip(group, group_states):
            scheduler.load_state_dict(state)


def collect_training_state(runner, epoch: int, iteration: int, save_optimizer: bool,
                           save_param_scheduler: bool, meta: dict | None) -> dict:
    """The checkpoint dict of ``runner`` at (epoch, iteration) -- called on every rank."""
    from mmlite import __version__
    from mmlite.dist import all_gather_object, is_distributed
    meta = dict(meta or {})
    # A hook that saves after the counters moved on (e.g. a best checkpoint) passes its own.
    meta.setdefault('epoch', epoch)
    meta.setdefault('iter', iteration)
    meta.update(seed=runner.seed, experiment_name=runner.experiment_name,
                time=time.strftime('%Y%m%d_%H%M%S', time.localtime()), mmlite_version=__version__)
    if runner.cfg is not None and getattr(runner.cfg, 'filename', None) is not None:
        meta['cfg'] = runner.cfg.pretty_text
    dataset = getattr(runner._built_train_dataloader(), 'dataset', None)
    if hasattr(dataset, 'metainfo'):
        meta['dataset_meta'] = to_plain(dict(dataset.metainfo))
    checkpoint: dict[str, Any] = {
        'meta': meta,
        'state_dict': weights_to_cpu(get_state_dict(runner.model)),
        'message_hub': runner.message_hub.state_dict(packed=True),  # 2 tensors, not 2 per key
    }
    if save_optimizer and runner.optim_wrapper is not None and not isinstance(runner.optim_wrapper, dict):
        checkpoint['optimizer'] = runner.optim_wrapper.state_dict()
    if save_param_scheduler and runner.param_schedulers is not None and \
            not _is_unbuilt(runner.param_schedulers):
        checkpoint['param_schedulers'] = _scheduler_states(runner.param_schedulers)
    # Each process's RNG state, so every rank resumes with its own stream.
    state = get_rng_state()
    checkpoint['rng_state'] = all_gather_object(state) if is_distributed() else [state]
    return checkpoint


def _is_unbuilt(schedulers: Any) -> bool:
    items = schedulers.values() if isinstance(schedulers, dict) else [schedulers]
    return any(isinstance(s, dict) or (isinstance(s, list) and any(isinstance(x, dict) for x in s))
               for s in items)


def restore_training_state(runner, checkpoint: dict, resume_optimizer: bool,
                           resume_param_scheduler: bool) -> dict | None:
    """Load counters, hub, optimizer and schedulers; return this rank's RNG state to set last."""
    from mmlite.dist import get_rank, get_world_size
    meta = checkpoint.get('meta', {})
    loop = runner.train_loop
    loop._epoch = int(meta.get('epoch', 0))
    loop._iter = int(meta.get('iter', 0))
    saved_meta = meta.get('dataset_meta')
    dataset = getattr(loop.dataloader, 'dataset', None)
    if saved_meta is not None and hasattr(dataset, 'metainfo'):
        if to_plain(dict(dataset.metainfo)).keys() != saved_meta.keys():
            print_log('the dataset meta of the checkpoint differs from the current dataset\'s',
                      logger='current', level=30)
    if 'message_hub' in checkpoint:
        runner.message_hub.load_state_dict(checkpoint['message_hub'])
    if resume_optimizer and 'optimizer' in checkpoint and runner.optim_wrapper is not None:
        runner.optim_wrapper.load_state_dict(checkpoint['optimizer'])
    if resume_param_scheduler and 'param_schedulers' in checkpoint and runner.param_schedulers:
        _load_scheduler_states(runner.param_schedulers, checkpoint['param_schedulers'])
    states = checkpoint.get('rng_state')
    if not states:
        return None
    if len(states) != get_world_size():
        print_log(f'the checkpoint was written by {len(states)} processes and this run has '
                  f'{get_world_size()}; random streams restart from the seed', logger='current', level=30)
        return None
    return states[get_rank()]
