"""Priorities and triggered points of the built-in hooks (what the runner's dispatch sees)."""
import pytest

import mmlite.hooks as hooks
from mmlite.registry import HOOKS
from mmlite.runner.priority import get_priority

PRIORITIES = {
    'RuntimeInfoHook': 'VERY_HIGH', 'IterTimerHook': 'NORMAL', 'DistSamplerSeedHook': 'NORMAL',
    'LoggerHook': 'BELOW_NORMAL', 'ParamSchedulerHook': 'LOW', 'CheckpointHook': 'VERY_LOW',
    'EMAHook': 'NORMAL', 'EarlyStoppingHook': 'LOWEST', 'EmptyCacheHook': 'NORMAL',
    'SyncBuffersHook': 'NORMAL', 'ProfilerHook': 'VERY_LOW',
    'CheckInvalidLossHook': 'NORMAL',
    'ProgressBarHook': 'VERY_LOW',  # mmlite's; after LoggerHook, whose reduced losses it shows
}

STAGES = {
    'RuntimeInfoHook': ['before_run', 'before_train', 'before_train_epoch', 'before_train_iter',
                        'after_train_iter', 'before_val', 'after_val_epoch', 'after_val',
                        'after_train', 'before_test', 'after_test_epoch', 'after_test'],
    'IterTimerHook': ['before_train', 'before_train_epoch', 'before_train_iter',
                      'after_train_iter', 'before_val_epoch', 'before_val_iter', 'after_val_iter',
                      'before_test_epoch', 'before_test_iter', 'after_test_iter'],
    'DistSamplerSeedHook': ['before_train_epoch'],
    'LoggerHook': ['before_run', 'after_train_iter', 'after_val_iter', 'after_val_epoch',
                   'after_test_iter', 'after_test_epoch', 'after_run'],
    'ParamSchedulerHook': ['after_train_iter', 'after_train_epoch', 'after_val_epoch'],
    'CheckpointHook': ['before_train', 'after_train_iter', 'after_train_epoch', 'after_val_epoch',
                       'after_train'],
    'EMAHook': ['before_run', 'after_load_checkpoint', 'before_train', 'after_train_iter',
                'before_val_epoch', 'after_val_epoch', 'before_save_checkpoint',
                'before_test_epoch', 'after_test_epoch'],
    'EarlyStoppingHook': ['before_train', 'after_val_epoch'],
    'EmptyCacheHook': ['after_train_epoch', 'after_val_epoch', 'after_test_epoch'],
    'SyncBuffersHook': ['after_train_epoch', 'before_val_epoch'],
    'ProfilerHook': ['before_run', 'after_train_iter', 'after_train_epoch', 'after_run'],
    'CheckInvalidLossHook': ['before_train', 'after_train_iter', 'before_save_checkpoint',
                             'after_train'],
}

ARGS = {'EarlyStoppingHook': dict(monitor='accuracy')}


def test_every_builtin_is_exported_and_registered():
    assert set(hooks.__all__) == set(PRIORITIES) | {'Hook'}
    for name in PRIORITIES:
        assert HOOKS.get(name) is getattr(hooks, name)


@pytest.mark.parametrize('name', sorted(PRIORITIES))
def test_priority_matches_mmengine(name):
    hook = HOOKS.build(dict(type=name, **ARGS.get(name, {})))
    assert get_priority(hook.priority) == get_priority(PRIORITIES[name])


@pytest.mark.parametrize('name', sorted(STAGES))
def test_triggered_stages(name):
    hook = HOOKS.build(dict(type=name, **ARGS.get(name, {})))
    assert sorted(hook.get_triggered_stages()) == sorted(STAGES[name])


def test_empty_cache_hook_hooks_only_the_chosen_points():
    hook = hooks.EmptyCacheHook(before_epoch=True, after_epoch=False, after_iter=True)
    assert sorted(hook.get_triggered_stages()) == sorted(
        ['before_train_epoch', 'before_val_epoch', 'before_test_epoch',
         'after_train_iter', 'after_val_iter', 'after_test_iter'])
    # Calls with the loop's keyword arguments work (a no-op on the CPU).
    hook.after_train_iter(None, batch_idx=0, data_batch=None, outputs={})
    hook.before_val_epoch(None)
