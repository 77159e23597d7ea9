"""EarlyStoppingHook: patience, min_delta, threshold, non-finite scores, missing keys."""
import math

import pytest

from mmlite.hooks import EarlyStoppingHook


def run(make_runner, hook, scores, key='accuracy'):
    runner = make_runner(hook, n_batches=1, max_epochs=len(scores))
    runner.train(val_metrics=lambda epoch: {key: scores[epoch - 1]})
    return runner


def test_stops_after_patience_without_improvement(make_runner):
    hook = EarlyStoppingHook(monitor='accuracy', patience=2, min_delta=0.01)
    # 0.505 is not a 0.01 improvement over 0.5: two bad epochs -> stop after epoch 3
    runner = run(make_runner, hook, [0.5, 0.505, 0.49, 0.9, 0.95])
    assert runner.train_loop.stop_training and runner.epoch == 3
    assert hook.best_score == 0.5
    assert any('did not improve' in m for m in runner.log_handler.messages)


def test_improvement_resets_the_wait(make_runner):
    hook = EarlyStoppingHook(monitor='accuracy', patience=2, min_delta=0.0)
    runner = run(make_runner, hook, [0.5, 0.4, 0.6, 0.5, 0.7])
    assert not runner.train_loop.stop_training and runner.epoch == 5


def test_less_rule_inferred_for_loss(make_runner):
    hook = EarlyStoppingHook(monitor='loss', patience=1, min_delta=0.1)
    assert hook.rule == 'less'
    runner = run(make_runner, hook, [1.0, 0.95, 0.5], key='loss')
    assert runner.epoch == 2


def test_stopping_threshold(make_runner):
    hook = EarlyStoppingHook(monitor='accuracy', stopping_threshold=0.8)
    runner = run(make_runner, hook, [0.5, 0.85, 0.9])
    assert runner.epoch == 2 and hook.best_score == 0.85


def test_non_finite_stops(make_runner):
    hook = EarlyStoppingHook(monitor='loss')
    runner = run(make_runner, hook, [1.0, math.nan, 0.1], key='loss')
    assert runner.epoch == 2
    hook = EarlyStoppingHook(monitor='loss', check_finite=False, patience=5)
    runner = run(make_runner, hook, [1.0, math.nan, 0.1], key='loss')
    assert runner.epoch == 3


def test_missing_monitor(make_runner):
    runner = make_runner(EarlyStoppingHook(monitor='accuracy'))
    with pytest.warns(UserWarning, match='monitor'):
        runner.call_hook('after_val_epoch', metrics={'top1': 1.0})
    runner = make_runner(EarlyStoppingHook(monitor='accuracy', strict=True))
    with pytest.raises(RuntimeError, match='strict=False'):
        runner.call_hook('after_val_epoch', metrics={'top1': 1.0})


def test_rule_checks():
    with pytest.raises(ValueError, match='rule="greater"'):
        EarlyStoppingHook(monitor='f1')
    with pytest.raises(ValueError, match='greater'):
        EarlyStoppingHook(monitor='accuracy', rule='max')
    assert EarlyStoppingHook(monitor='f1', rule='greater').min_delta == 0.1
    assert EarlyStoppingHook(monitor='f1', rule='less').min_delta == -0.1
