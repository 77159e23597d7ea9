"""Runner.train_iter_plan: stock hooks that act only every so often (LoggerHook, ParamSchedulerHook
without iteration-based schedulers, a by-epoch CheckpointHook) are left out of after_train_iter
between the iterations at which they act, with exactly the effects of calling them every time."""
from __future__ import annotations

import glob
import os
import re

import pytest
import torch

from mmlite.hooks import Hook, LoggerHook
from mmlite.runner import Runner

from .test_hot_path_options import Linear3, Points


class EveryPointRunner(Runner):
    """Overrides call_hook, so the loops call every hook at every iteration (no plan)."""

    def call_hook(self, fn_name, **kwargs):
        super().call_hook(fn_name, **kwargs)


def _train(runner_cls, tmp_path, name, *, batch_size, train_cfg, logger, scheduler=None,
           custom_hooks=()):
    torch.manual_seed(0)  # the same initial weights in every run compared
    runner = runner_cls(
        model=Linear3(), work_dir=str(tmp_path / name),
        train_dataloader=dict(dataset=Points(), batch_size=batch_size,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='default_collate')),
        train_cfg=train_cfg, optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        param_scheduler=scheduler, default_hooks=dict(logger=logger, checkpoint=None),
        custom_hooks=list(custom_hooks), log_level='INFO', randomness=dict(seed=0))
    runner.train()
    return runner


def _logged(runner) -> list[str]:
    """The log file's lines without their time stamps and timings (which differ per run)."""
    (log_file,) = glob.glob(os.path.join(runner.work_dir, '*', '*.log'))
    with open(log_file) as f:
        lines = [line.split(' - ', 3)[-1].strip() for line in f if ' - mmlite - ' in line]
    kept = [line for line in lines if line.startswith(('Epoch(train)', 'Iter(train)', 'Exp name'))]
    return [re.sub(r'(eta|time|data_time|Exp name): \S+', r'\1', line) for line in kept]


@pytest.mark.parametrize('train_cfg, batch_size, logger', [
    # 16 samples in batches of 3: 6 batches per epoch, the last one short
    (dict(by_epoch=True, max_epochs=3), 3,
     dict(type='LoggerHook', interval=4, interval_exp_name=5, ignore_last=False)),
    (dict(by_epoch=True, max_epochs=2), 2, dict(type='LoggerHook', interval=3)),
    (dict(by_epoch=False, max_iters=17), 3,
     dict(type='LoggerHook', interval=4, interval_exp_name=7)),
])
def test_log_lines_match_calling_every_hook_every_iteration(tmp_path, train_cfg, batch_size, logger):
    planned = _train(Runner, tmp_path, 'planned', batch_size=batch_size, train_cfg=train_cfg,
                     logger=logger)
    every = _train(EveryPointRunner, tmp_path, 'every', batch_size=batch_size,
                   train_cfg=train_cfg, logger=logger)
    assert _logged(planned) == _logged(every)
    assert any(line.startswith('Exp name') for line in _logged(planned))
    assert len(_logged(planned)) >= 4


def test_hooks_that_act_rarely_are_left_out_between_their_iterations(tmp_path):
    calls = []

    class CountingLogger(LoggerHook):
        """A stock LoggerHook, seen from outside: counts the calls the loop makes to it."""

    original = LoggerHook.after_train_iter

    def counting(self, runner, batch_idx, data_batch=None, outputs=None):
        calls.append(batch_idx)
        original(self, runner, batch_idx, data_batch, outputs)

    CountingLogger.after_train_iter = counting
    CountingLogger._after_train_iter_gap = LoggerHook._after_train_iter_gap  # the same promise
    # 16 samples in batches of 2: 8 per epoch; lines after 3 and 6 and at the epoch end (8).
    _train(Runner, tmp_path, 'w', batch_size=2, train_cfg=dict(by_epoch=True, max_epochs=2),
           logger=CountingLogger(interval=3))
    assert calls == [0, 2, 5, 7] * 2  # each epoch's first iteration, then only where it acts


def test_a_subclass_with_its_own_after_train_iter_is_called_every_iteration(tmp_path):
    seen = []

    class Chatty(LoggerHook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            seen.append(batch_idx)
            super().after_train_iter(runner, batch_idx, data_batch, outputs)

    _train(Runner, tmp_path, 'w', batch_size=4, train_cfg=dict(by_epoch=True, max_epochs=2),
           logger=Chatty(interval=50))
    assert seen == [0, 1, 2, 3] * 2


def test_iteration_based_schedulers_still_step_every_iteration(tmp_path):
    def lrs_seen(runner_cls, name):
        lrs = []

        class LrProbe(Hook):
            priority = 'LOWEST'

            def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
                lrs.append(runner.optim_wrapper.get_lr()['lr'][0])

        scheduler = dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=4)
        _train(runner_cls, tmp_path, name, batch_size=4, train_cfg=dict(by_epoch=True, max_epochs=2),
               logger=dict(type='LoggerHook', interval=50), scheduler=scheduler,
               custom_hooks=[LrProbe()])
        return lrs

    planned = lrs_seen(Runner, 'planned')
    assert planned == lrs_seen(EveryPointRunner, 'every')
    assert planned[0] < planned[1] < planned[2] and planned[2:] == pytest.approx([0.1] * 6)


def test_an_after_train_iter_set_on_the_instance_is_called_every_iteration(tmp_path):
    seen = []
    logger = LoggerHook(interval=50)
    logger.after_train_iter = lambda runner, batch_idx, data_batch=None, outputs=None: seen.append(batch_idx)
    _train(Runner, tmp_path, 'w', batch_size=4, train_cfg=dict(by_epoch=True, max_epochs=2), logger=logger)
    assert seen == [0, 1, 2, 3] * 2
