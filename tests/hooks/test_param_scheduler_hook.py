"""ParamSchedulerHook steps each scheduler at the point its by_epoch / need_val_args says."""
import pytest
import torch
from torch import nn

from mmlite.hooks import ParamSchedulerHook, RuntimeInfoHook
from mmlite.optim import MultiStepLR, OptimWrapper, ReduceOnPlateauLR


class CountingScheduler:
    def __init__(self, by_epoch, need_val_args=False):
        self.by_epoch = by_epoch
        self.need_val_args = need_val_args
        self.calls = []

    def step(self, metrics=None):
        self.calls.append(metrics)


def test_real_schedulers_step_by_epoch_and_by_iter(make_runner):
    model = nn.Linear(2, 1)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.0))
    per_epoch = MultiStepLR(optim, milestones=[2], gamma=0.1, by_epoch=True)
    runner = make_runner(ParamSchedulerHook(), RuntimeInfoHook(), n_batches=3, max_epochs=3,
                         model=model)
    runner.optim_wrapper = optim
    runner.param_schedulers = [per_epoch]
    lrs = []
    runner.call_hook('before_train')
    for _ in range(3):
        runner.train_epoch()
        lrs.append(optim.get_lr()['lr'][0])
    assert lrs == pytest.approx([1.0, 0.1, 0.1])  # milestone reached after epoch 2

    optim2 = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.0))
    per_iter = MultiStepLR(optim2, milestones=[4], gamma=0.5, by_epoch=False)
    runner.param_schedulers = [per_iter]
    runner.optim_wrapper = optim2
    runner.train_epoch()  # iterations 1..3: not yet
    assert optim2.get_lr()['lr'][0] == 1.0
    runner.train_iter(0)  # the 4th iteration step reaches the milestone
    assert optim2.get_lr()['lr'][0] == 0.5


def test_dict_of_scheduler_lists_and_val_metrics(make_runner):
    epoch_s, iter_s = CountingScheduler(True), CountingScheduler(False)
    plateau = CountingScheduler(True, need_val_args=True)
    runner = make_runner(ParamSchedulerHook(), n_batches=2, max_epochs=1)
    runner.param_schedulers = {'gen': [epoch_s, plateau], 'disc': [iter_s]}
    runner.train_epoch()
    runner.val({'loss': 0.3})
    assert iter_s.calls == [None, None]
    assert epoch_s.calls == [None]
    assert plateau.calls == [None, {'loss': 0.3}]  # counted after the epoch, judged after val


def test_reduce_on_plateau_lowers_lr_after_patience(make_runner):
    model = nn.Linear(2, 1)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.0))
    plateau = ReduceOnPlateauLR(optim, monitor='loss', patience=1, factor=0.5)
    runner = make_runner(ParamSchedulerHook(), n_batches=1, max_epochs=4, model=model)
    runner.param_schedulers = [plateau]
    for loss in (1.0, 1.0, 1.0):
        runner.train_epoch()
        runner.val({'loss': loss})
    assert optim.get_lr()['lr'][0] == 0.5


def test_val_before_training_skips_unbuilt_schedulers(make_runner):
    runner = make_runner(ParamSchedulerHook())
    runner.param_schedulers = dict(type='MultiStepLR', milestones=[1])
    runner.val({'loss': 1.0})  # no error, nothing stepped
    runner.param_schedulers = [dict(type='MultiStepLR', milestones=[1])]
    runner.val({'loss': 1.0})
    runner.param_schedulers = None
    runner.train_epoch()


def test_metrics_none_does_not_step(make_runner):
    plateau = CountingScheduler(True, need_val_args=True)
    runner = make_runner(ParamSchedulerHook())
    runner.param_schedulers = [plateau]
    runner.call_hook('after_val_epoch', metrics=None)
    assert plateau.calls == []


def test_training_with_a_config_instead_of_schedulers_is_an_error(make_runner):
    runner = make_runner(ParamSchedulerHook())
    runner.param_schedulers = {'gen': dict(type='MultiStepLR')}
    with pytest.raises(TypeError, match='param_schedulers'):
        runner.train_epoch()


def test_iterations_do_not_sync(make_runner, no_host_sync):
    runner = make_runner(ParamSchedulerHook(), n_batches=3, max_epochs=1)
    model = runner.model
    runner.optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.0))
    runner.param_schedulers = [MultiStepLR(runner.optim_wrapper, milestones=[1], by_epoch=False)]
    with no_host_sync():
        runner.train_epoch()
    assert runner.optim_wrapper.get_lr()['lr'][0] == pytest.approx(0.1)
