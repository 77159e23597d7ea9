"""Loops call every hook point in MMEngine's order, with consistent counters, by priority."""
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from mmlite.evaluator import BaseMetric
from mmlite.hooks import Hook
from mmlite.model import BaseModel
from mmlite.runner import Runner


class PairDataset(Dataset):
    def __init__(self, size=6):
        self.x = torch.arange(size * 2, dtype=torch.float32).reshape(size, 2) / size

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], labels=self.x[i].sum())


class Regressor(BaseModel):
    def __init__(self, data_preprocessor=None):
        super().__init__(data_preprocessor)
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.linear(inputs).squeeze(-1)
        if mode == 'loss':
            return dict(loss=((out - labels) ** 2).mean())
        return [dict(pred=o, gt=t) for o, t in zip(out, labels)]


class MSE(BaseMetric):
    default_prefix = 'val'

    def process(self, data_batch, data_samples):
        self.results.extend(float((s['pred'] - s['gt']) ** 2) for s in data_samples)

    def compute_metrics(self, results):
        return dict(mse=sum(results) / len(results), n=len(results))


class Recorder(Hook):
    """Overrides every standard point and records (point, epoch, iter, batch_idx)."""

    def __init__(self):
        self.events = []

    def _rec(self, point, runner, batch_idx=None):
        self.events.append((point, runner.epoch, runner.iter, batch_idx))


for _point in Hook.stages:
    def _make(point):
        def method(self, runner, batch_idx=None, data_batch=None, outputs=None, metrics=None,
                   checkpoint=None):
            self._rec(point, runner, batch_idx)
        return method
    setattr(Recorder, _point, _make(_point))


def loader(size, batch_size=2, shuffle=False):
    return dict(dataset=dict(type=PairDataset, size=size), batch_size=batch_size,
                sampler=dict(type='DefaultSampler', shuffle=shuffle),
                collate_fn=dict(type='default_collate'))


def make_runner(tmp_path, train_cfg, **kwargs):
    recorder = Recorder()
    runner = Runner(model=Regressor(), work_dir=str(tmp_path), train_dataloader=loader(6),
                    train_cfg=train_cfg, optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
                    val_dataloader=loader(4), val_cfg=dict(), val_evaluator=dict(type=MSE),
                    custom_hooks=[recorder], default_hooks=dict(checkpoint=None), **kwargs)
    return runner, recorder


def test_epoch_based_points_order_and_counters(tmp_path):
    runner, rec = make_runner(tmp_path, dict(by_epoch=True, max_epochs=2, val_interval=1))
    runner.train()
    expected = [('before_run', 0, 0, None), ('before_train', 0, 0, None)]
    for epoch in range(2):
        start = epoch * 3
        expected.append(('before_train_epoch', epoch, start, None))
        for i in range(3):
            expected += [('before_train_iter', epoch, start + i, i),
                         ('after_train_iter', epoch, start + i, i)]
        expected.append(('after_train_epoch', epoch, start + 3, None))
        expected += [('before_val', epoch + 1, start + 3, None), ('before_val_epoch', epoch + 1, start + 3, None)]
        for i in range(2):
            expected += [('before_val_iter', epoch + 1, start + 3, i),
                         ('after_val_iter', epoch + 1, start + 3, i)]
        expected += [('after_val_epoch', epoch + 1, start + 3, None), ('after_val', epoch + 1, start + 3, None)]
    expected += [('after_train', 2, 6, None), ('after_run', 2, 6, None)]
    assert rec.events == expected
    assert (runner.max_epochs, runner.max_iters) == (2, 6)


def test_iter_based_points_order_and_val_interval(tmp_path):
    runner, rec = make_runner(tmp_path, dict(by_epoch=False, max_iters=5, val_interval=2),
                              log_processor=dict(by_epoch=False))
    runner.train()
    points = [(p, it) for p, _, it, _ in rec.events if not p.endswith('val_iter')]
    assert points[:3] == [('before_run', 0), ('before_train', 0), ('before_train_epoch', 0)]
    vals = [it for p, it in points if p == 'before_val']
    assert vals == [2, 4, 5]  # every 2 iterations and at the end
    train_iters = [it for p, _, it, idx in rec.events if p == 'after_train_iter']
    assert train_iters == [0, 1, 2, 3, 4]
    assert points[-3:] == [('after_train_epoch', 5), ('after_train', 5), ('after_run', 5)]
    assert runner.max_iters == 5


def test_val_begin_and_dynamic_intervals(tmp_path):
    runner, rec = make_runner(tmp_path, dict(by_epoch=True, max_epochs=6, val_begin=2, val_interval=1,
                                             dynamic_intervals=[(4, 2)]))
    runner.train()
    assert [e for p, e, _, _ in rec.events if p == 'before_val'] == [2, 3, 4, 6]


def test_priorities_order_hooks_and_ties_keep_registration_order(tmp_path):
    order = []

    def make(name, priority):
        class Named(Hook):
            def before_train(self, runner):
                order.append(name)
        hook = Named()
        hook.priority = priority
        return hook

    hooks = [make('low', 'LOW'), make('highest', 0), make('normal_a', 'NORMAL'),
             make('very_high', 'VERY_HIGH'), make('normal_b', 50), make('lowest', 'LOWEST')]
    runner, _ = make_runner(tmp_path, dict(by_epoch=True, max_epochs=1), )
    for hook in hooks:
        runner.register_hook(hook)
    runner.register_hook(make('forced', 'LOW'), priority='HIGHEST')
    runner.train()
    assert order == ['highest', 'forced', 'very_high', 'normal_a', 'normal_b', 'low', 'lowest']
    info = runner.get_hooks_info()
    assert 'before_train:' in info and 'RuntimeInfoHook' in info


def test_hooks_are_not_called_at_points_they_leave_alone(tmp_path):
    touched = []

    class OnlyAfterIter(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            pass

        def __getattribute__(self, name):
            if name in Hook.stages:
                touched.append(name)
            return super().__getattribute__(name)

    runner, _ = make_runner(tmp_path, dict(by_epoch=True, max_epochs=1))
    runner.register_hook(OnlyAfterIter())
    runner.train()
    assert set(touched) == {'after_train_iter'}


def test_bad_priority_and_bad_hook_are_clear(tmp_path):
    runner, _ = make_runner(tmp_path, dict(by_epoch=True, max_epochs=1))
    with pytest.raises(ValueError, match='unknown priority'):
        runner.register_hook(Hook(), priority='URGENT')
    with pytest.raises(TypeError, match='derive it from mmlite.hooks.Hook'):
        runner.register_hook(object())
