"""Tiny registered parts for the fault-tolerance tests, importable in-process and by a
``tools/train.py`` subprocess (``custom_imports=dict(imports=['resume_toys'])`` with this
folder on PYTHONPATH).

- ``AugToyDataset``: 8-feature samples whose augmentation draws from ``random``, ``numpy.random``
  and ``torch`` (so worker RNG matters); with ``read_log`` it appends every index it reads to a
  file, which counts reads across dataloader workers and processes.
- ``DropoutToyNet``: a two-layer net with dropout (so the global torch RNG matters).
- ``CrashAtIterHook``: raises after a chosen iteration, as a crash would.
- ``NaNAtIterNet``: returns a non-finite loss from a chosen iteration on.
- ``toy_cfg`` and friends: Runner arguments for a short run, and ways to compare two runs.
"""
from __future__ import annotations

import glob
import itertools
import json
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mmlite.dataset import BaseDataset
from mmlite.hooks import Hook
from mmlite.model import BaseModel
from mmlite.registry import DATASETS, HOOKS, MODELS


@DATASETS.register_module(force=True)
class AugToyDataset(BaseDataset):
    """``size`` samples ``dict(inputs=float (8,), labels=int64 0-d)`` with random jitter."""

    def __init__(self, size: int = 22, read_log: str | None = None, **kwargs) -> None:
        self.size = size
        self.read_log = read_log
        super().__init__(**kwargs)

    def load_data_list(self) -> list[dict]:
        generator = torch.Generator().manual_seed(1234)
        features = torch.randn(self.size, 8, generator=generator)
        labels = torch.randint(0, 3, (self.size,), generator=generator)
        return [dict(x=features[i].tolist(), label=int(labels[i])) for i in range(self.size)]

    def prepare_data(self, idx: int) -> dict:
        info = self.get_data_info(idx)
        if self.read_log is not None:
            with open(self.read_log, 'a') as f:
                f.write(f'{int(idx)}\n')
        jitter = random.random() * 0.1 + float(np.random.rand()) * 0.1
        inputs = torch.tensor(info['x']) + jitter + torch.rand(8) * 0.1
        return dict(inputs=inputs, labels=torch.tensor(info['label']))


@MODELS.register_module(force=True)
class DropoutToyNet(BaseModel):
    """8 -> 16 -> dropout -> 3 logits; ``mode='loss'`` gives ``dict(loss=cross_entropy)``."""

    def __init__(self, p: float = 0.3, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fc1 = nn.Linear(8, 16)
        self.drop = nn.Dropout(p)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, inputs, labels=None, mode: str = 'tensor'):
        logits = self.fc2(self.drop(torch.relu(self.fc1(inputs))))
        if mode == 'loss':
            return dict(loss=F.cross_entropy(logits, labels))
        if mode == 'predict':
            return [dict(pred_label=p, gt_label=g) for p, g in zip(logits.argmax(1), labels, strict=True)]
        return logits


@MODELS.register_module(force=True)
class NaNAtIterNet(DropoutToyNet):
    """From the ``nan_from``-th forward in loss mode on, the loss is NaN (a diverging run)."""

    def __init__(self, nan_from: int = 5, **kwargs) -> None:
        super().__init__(**kwargs)
        self.nan_from = nan_from
        self.calls = 0

    def forward(self, inputs, labels=None, mode: str = 'tensor'):
        out = super().forward(inputs, labels, mode)
        if mode == 'loss':
            self.calls += 1
            if self.calls >= self.nan_from:
                out = dict(loss=out['loss'] * float('nan'), loss_aux=out['loss'].detach() * 0)
            else:
                out = dict(loss=out['loss'], loss_aux=out['loss'].detach() * 0)
        return out


@HOOKS.register_module(force=True)
class CrashAtIterHook(Hook):
    """Raise RuntimeError after training iteration ``at_iter`` (1-based) finished."""

    def __init__(self, at_iter: int) -> None:
        self.at_iter = at_iter

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.at_iter:
            raise RuntimeError(f'simulated crash after iteration {self.at_iter}')


@HOOKS.register_module(force=True)
class SignalAtIterHook(Hook):
    """Send this process ``signum`` during iteration ``at_iter`` (1-based), as a scheduler would."""

    def __init__(self, at_iter: int, signum: int = 15) -> None:
        self.at_iter = at_iter
        self.signum = signum

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.at_iter:
            os.kill(os.getpid(), self.signum)


@HOOKS.register_module(force=True)
class WaitForSignalHook(Hook):
    """After iteration ``at_iter`` (1-based), create ``ready_file`` and wait up to ``timeout`` s
    for a preemption signal (or to be killed): a test process then signals at a known point."""

    def __init__(self, at_iter: int, ready_file: str, timeout: float = 60.0) -> None:
        self.at_iter = at_iter
        self.ready_file = ready_file
        self.timeout = timeout

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 != self.at_iter:
            return
        # Checkpoints may become durable (and last_checkpoint move) in the background: let the
        # signal come once they have, so the test knows which checkpoint survives it.
        from mmlite.runner import checkpoint
        wait = getattr(checkpoint, 'wait_for_checkpoint_writes', None)
        if wait is not None:
            wait()
        with open(self.ready_file, 'w') as f:
            f.write(str(os.getpid()))
        deadline = time.monotonic() + self.timeout
        while runner._preempt_signal is None and time.monotonic() < deadline:
            time.sleep(0.01)


@DATASETS.register_module(force=True)
class AnnToyDataset(BaseDataset):
    """A BaseDataset read from an annotation file (for the missing-file error)."""


# ----------------------------------------------------------------- test helpers
_names = itertools.count()


def toy_cfg(work_dir: str, by_epoch: bool = True, sampler: str = 'DefaultSampler',
            num_workers: int = 0, crash_at: int | None = None, resume: bool = False,
            ckpt_interval: int = 4, length: int = 3, read_log: str | None = None,
            hooks: list | None = None, **overrides) -> dict:
    """Runner arguments for a short shuffled run of DropoutToyNet on AugToyDataset.

    22 samples in batches of 4 make 6 iterations per epoch (the last batch holds 2);
    ``length`` is epochs (``by_epoch``) or 6 * ``length`` iterations. Checkpoints are written
    every ``ckpt_interval`` iterations (also inside epochs); every iteration is logged.
    """
    iters = 6 * length
    schedule_end = dict(by_epoch=True, T_max=length, begin=0, end=length) if by_epoch else \
        dict(by_epoch=False, T_max=iters, begin=0, end=iters)
    cfg = dict(
        model=dict(type='DropoutToyNet'), work_dir=str(work_dir),
        experiment_name=f'toy{next(_names)}',
        train_dataloader=dict(
            batch_size=4, num_workers=num_workers, sampler=dict(type=sampler, shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(type='AugToyDataset', size=22, read_log=read_log)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=[dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=5),
                         dict(type='CosineAnnealingLR', **schedule_end)],
        train_cfg=dict(by_epoch=True, max_epochs=length) if by_epoch else
        dict(by_epoch=False, max_iters=iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=ckpt_interval),
                           logger=dict(type='LoggerHook', interval=1)),
        log_processor=dict(by_epoch=by_epoch), randomness=dict(seed=7), resume=resume,
        custom_hooks=list(hooks or []) + ([dict(type='CrashAtIterHook', at_iter=crash_at)]
                                          if crash_at else []))
    cfg.update(overrides)
    return cfg


def logged_train_scalars(work_dir: str) -> dict[int, dict]:
    """step -> the logged training scalars (without timings) of every run in ``work_dir``;
    a resumed run's lines replace the ones the interrupted run logged for the same step."""
    logged: dict[int, dict] = {}
    for path in sorted(glob.glob(os.path.join(str(work_dir), '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                entry = json.loads(line)
                if 'loss' in entry:
                    logged[entry['step']] = {k: v for k, v in entry.items() if 'time' not in k}
    return logged


def state_of(runner) -> dict:
    """Copies of the model weights and the optimizer state tensors, keyed by name."""
    state = {f'model.{k}': v.detach().clone() for k, v in runner.model.state_dict().items()}
    for pid, slot in runner.optim_wrapper.optimizer.state_dict()['state'].items():
        state.update({f'optim.{pid}.{k}': v.clone() for k, v in slot.items()
                      if isinstance(v, torch.Tensor)})
    return state


def assert_same_state(expected: dict, actual: dict) -> None:
    assert expected.keys() == actual.keys()
    differing = [k for k in expected if not torch.equal(expected[k], actual[k])]
    assert not differing, f'tensors differ: {differing}'
