"""MMCV 1.x-style hooks (before_epoch/after_iter...) from OpenMMLab tutorials still run."""
from types import SimpleNamespace

from mmlite.hooks import Hook


class MyHook(Hook):
    def __init__(self):
        self.calls = []

    def before_run(self, runner):
        self.calls.append('before_run')

    def before_epoch(self, runner):
        self.calls.append('before_epoch')

    def after_epoch(self, runner):
        self.calls.append('after_epoch')

    def before_iter(self, runner):
        self.calls.append('before_iter')

    def after_iter(self, runner):
        self.calls.append('after_iter')


def test_legacy_names_run_at_train_and_val_points_not_test():
    hook, runner = MyHook(), SimpleNamespace(epoch=0, iter=0)
    stages = hook.get_triggered_stages()
    assert {'before_train_epoch', 'after_val_iter', 'before_val_epoch', 'after_train_iter'} <= set(stages)
    assert 'before_test_iter' not in stages and 'after_test_epoch' not in stages
    hook.before_train_epoch(runner)
    hook.before_train_iter(runner, batch_idx=0)
    hook.after_train_iter(runner, batch_idx=0)
    hook.after_val_epoch(runner, metrics={})
    hook.after_test_iter(runner, batch_idx=0)
    assert hook.calls == ['before_epoch', 'before_iter', 'after_iter', 'after_epoch']


def test_plain_hook_triggers_nothing():
    assert Hook().get_triggered_stages() == []
