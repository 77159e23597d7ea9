"""Run by tests/dist/test_dist_runner.py under torchrun (2 CPU processes, gloo, 127.0.0.1).

One launch runs several Runners in turn (a torchrun start costs far more than a toy run) and
each rank writes ``<out_dir>/report_rank<k>.json`` with one report per case:

- ``ddp``: batch 2 per rank, a random ``init_cfg`` with ``diff_rank_seed``, ``dist_cfg.backend
  = 'nccl'`` (no CUDA here: the runner must fall back to gloo), ``find_unused_parameters``
  through ``model_wrapper_cfg``, an odd-sized validation set, a checkpoint every epoch.
- ``ddp_resume``: resume from the ``ddp`` run's first-epoch checkpoint in a new work dir.
- ``fsdp``: the same training through FSDP2 (``MMFullyShard``) and ``AmpOptimWrapper(use_fsdp=
  True)`` in float16 (so the sharded gradient scaler is used), from the ``ddp`` run's start.
- ``fsdp_resume``: resume the ``fsdp`` run from its first-epoch checkpoint.
- ``fsdp1_error``: what MMFullyShardedDataParallel (torch's FSDP1) says on a CPU-only machine.
"""
import json
import os.path as osp
import sys

import torch
from torch import nn

from dist_runner_parts import ToyRegressor, runner_kwargs
from mmlite import dist
from mmlite.registry import MODEL_WRAPPERS
from mmlite.runner import Runner

out_dir = sys.argv[1]
reports: dict = {}


def run(case: str, batch_size: int = 2, **kwargs) -> dict:
    report = reports.setdefault(case, {})
    Runner(**runner_kwargs(osp.join(out_dir, case), batch_size, report, launcher='pytorch',
                           name=case, **kwargs)).train()
    return report


ddp_wrapper = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
ddp = run('ddp', model=ToyRegressor(init_std=0.5), model_wrapper_cfg=ddp_wrapper,
          randomness=dict(seed=7, diff_rank_seed=True),
          env_cfg=dict(dist_cfg=dict(backend='nccl')))
ddp['backend'] = dist.get_backend()
ddp['world_size'] = dist.get_world_size()

run('ddp_resume', model=ToyRegressor(), model_wrapper_cfg=ddp_wrapper,
    randomness=dict(seed=7, diff_rank_seed=True),
    load_from=osp.join(out_dir, 'ddp', 'epoch_1.pth'))


def ddp_start() -> ToyRegressor:
    """A model holding the weights the ddp run started from."""
    model = ToyRegressor()
    model.load_state_dict({k: torch.tensor(v) for k, v in ddp['initial'].items()})
    return model


fsdp_kwargs = dict(
    model_wrapper_cfg=dict(type='MMFullyShard'), sampler_seed=ddp['sampler_seed'],
    optim_wrapper=dict(type='AmpOptimWrapper', use_fsdp=True, dtype='float16', loss_scale=256.0,
                       optimizer=dict(type='SGD', lr=0.05, momentum=0.9)))
run('fsdp', model=ddp_start(), **fsdp_kwargs)
run('fsdp_resume', model=ToyRegressor(), load_from=osp.join(out_dir, 'fsdp', 'epoch_1.pth'),
    **fsdp_kwargs)

try:
    MODEL_WRAPPERS.build(dict(type='MMFullyShardedDataParallel', module=nn.Linear(2, 2)))
    reports['fsdp1_error'] = None
except RuntimeError as exc:
    reports['fsdp1_error'] = str(exc)

with open(osp.join(out_dir, f'report_rank{dist.get_rank()}.json'), 'w') as file:
    json.dump(reports, file)
dist.barrier()
