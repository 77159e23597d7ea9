"""The training loops call the iteration hooks themselves, with positional arguments
(Runner.iter_callers); every way MMEngine lets a hook or runner be written still works."""
from __future__ import annotations

import torch
from torch import nn

from mmlite.hooks import Hook
from mmlite.optim import OptimWrapper
from mmlite.registry import OPTIM_WRAPPERS
from mmlite.runner import Runner

from .test_hot_path_options import Linear3, Points, make_runner

BATCHES = 4  # Points() holds 16 samples, batch_size 4


def test_hooks_written_with_keywords_or_other_orders_get_the_right_arguments(tmp_path):
    got = []

    class KeywordsOnly(Hook):
        def after_train_iter(self, runner, **kwargs):
            got.append(('kw', kwargs['batch_idx'], sorted(kwargs), 'loss' in kwargs['outputs']))

    class Reordered(Hook):
        def before_train_iter(self, runner, data_batch=None, batch_idx=None):
            got.append(('re', batch_idx, isinstance(data_batch, dict)))

    class Standard(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            got.append(('std', batch_idx, set(data_batch), sorted(outputs)))

    runner = make_runner(tmp_path, Linear3(), custom_hooks=[KeywordsOnly(), Reordered(), Standard()])
    runner.train()
    assert [g for g in got if g[0] == 'kw'] == [
        ('kw', i, ['batch_idx', 'data_batch', 'outputs'], True) for i in range(BATCHES)]
    assert [g for g in got if g[0] == 're'] == [('re', i, True) for i in range(BATCHES)]
    assert [g for g in got if g[0] == 'std'] == [
        ('std', i, {'inputs', 'data_samples'}, ['loss']) for i in range(BATCHES)]
    # The method itself is called when its parameters fit; the others through a keyword shim.
    callers = runner.iter_callers('after_train_iter')
    assert any(getattr(c, '__self__', None).__class__ is Standard for c in callers)


def test_a_runner_that_overrides_call_hook_sees_every_iteration_point(tmp_path):
    class CountingRunner(Runner):
        def call_hook(self, fn_name, **kwargs):
            self.points = getattr(self, 'points', [])
            self.points.append(fn_name)
            super().call_hook(fn_name, **kwargs)

    runner = CountingRunner(model=Linear3(), work_dir=str(tmp_path / 'w'),
                            train_dataloader=dict(dataset=Points(), batch_size=4,
                                                  sampler=dict(type='DefaultSampler', shuffle=False),
                                                  collate_fn=dict(type='default_collate')),
                            train_cfg=dict(by_epoch=True, max_epochs=1),
                            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                            default_hooks=dict(checkpoint=None), log_level='WARNING')
    runner.train()
    assert runner.points.count('before_train_iter') == runner.points.count('after_train_iter') == BATCHES


def test_a_hook_registered_during_training_is_called_from_the_next_iteration(tmp_path):
    late_calls = []

    class Late(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            late_calls.append(batch_idx)

    class Registrar(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if batch_idx == 1:
                runner.register_hook(Late())

    make_runner(tmp_path, Linear3(), custom_hooks=[Registrar()]).train()
    assert late_calls == [2, 3]


def test_an_optim_wrapper_overriding_its_steps_is_still_called(tmp_path):
    @OPTIM_WRAPPERS.register_module(force=True)
    class CountingWrapper(OptimWrapper):
        steps = 0

        def step(self, **kwargs):
            CountingWrapper.steps += 1
            super().step(**kwargs)

    runner = make_runner(tmp_path, Linear3())
    runner.optim_wrapper = dict(type='CountingWrapper', optimizer=dict(type='SGD', lr=0.1))
    before = [p.detach().clone() for p in runner.model.parameters()]
    runner.train()
    assert CountingWrapper.steps == BATCHES
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, runner.model.parameters()))


def test_plain_wrapper_steps_match_the_spelled_out_path():
    """OptimWrapper's inlined update equals backward -> step -> zero_grad done by hand."""
    torch.manual_seed(0)
    fast, slow = nn.Linear(3, 2), nn.Linear(3, 2)
    slow.load_state_dict(fast.state_dict())
    wrapper = OptimWrapper(torch.optim.SGD(fast.parameters(), lr=0.1, momentum=0.9))
    optimizer = torch.optim.SGD(slow.parameters(), lr=0.1, momentum=0.9)
    for step in range(3):
        x = torch.randn(5, 3)
        wrapper.update_params(fast(x).pow(2).mean())
        slow(x).pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    assert all(torch.equal(a, b) for a, b in zip(fast.parameters(), slow.parameters()))
    assert wrapper.inner_count == 3 and all(p.grad is None for p in fast.parameters())
