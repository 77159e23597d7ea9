"""LoggerHook: lines at the right iterations, scalars to the visualizer, summaries, log copies."""
import json
import os
import os.path as osp

import pytest
import torch

from mmlite.hooks import IterTimerHook, LoggerHook, RuntimeInfoHook


def train_lines(runner):
    return [m for m in runner.log_handler.messages if m.startswith(('Epoch(train)', 'Iter(train)'))]


@pytest.mark.parametrize('ignore_last, expected', [(True, [10, 20]), (False, [10, 20, 25])])
def test_train_lines_every_interval(make_runner, ignore_last, expected):
    runner = make_runner(RuntimeInfoHook(), IterTimerHook(),
                         LoggerHook(interval=10, ignore_last=ignore_last),
                         n_batches=25, max_epochs=1)
    runner.call_hook('before_run')
    runner.call_hook('before_train')
    runner.train_epoch()
    lines = train_lines(runner)
    assert [int(line.split('[')[2].split('/')[0]) for line in lines] == expected
    assert all('loss: ' in line and 'eta: ' in line for line in lines)
    steps = [step for _, step, _ in runner.visualizer.scalars]
    assert steps == expected  # runner.iter + 1 at the logging iteration
    tag, _, file_path = runner.visualizer.scalars[0]
    assert file_path == '20240101_000000.json'
    assert {'loss', 'lr', 'time', 'data_time', 'epoch', 'iter'} <= set(tag)


def test_short_epoch_logs_its_end_even_with_ignore_last(make_runner):
    runner = make_runner(RuntimeInfoHook(), LoggerHook(interval=10), n_batches=4, max_epochs=2)
    runner.call_hook('before_run')
    runner.call_hook('before_train')
    runner.train_epoch()
    runner.train_epoch()
    assert len(train_lines(runner)) == 2
    assert [step for _, step, _ in runner.visualizer.scalars] == [4, 8]


def test_no_line_means_no_sync(make_runner, no_host_sync):
    runner = make_runner(RuntimeInfoHook(), IterTimerHook(), LoggerHook(interval=5),
                         n_batches=10, max_epochs=1)
    runner.call_hook('before_run')
    runner.call_hook('before_train')
    runner.call_hook('before_train_epoch')
    with no_host_sync():
        for idx in range(4):  # iterations 1-4 of interval 5: nothing is due
            runner.train_iter(idx, outputs={'loss': torch.tensor(1.0)})
    assert train_lines(runner) == []


def test_exp_name_interval(make_runner):
    runner = make_runner(RuntimeInfoHook(), LoggerHook(interval=100, interval_exp_name=3),
                         n_batches=7, max_epochs=1)
    runner.call_hook('before_run')
    runner.call_hook('before_train')
    runner.train_epoch()
    exp_lines = [m for m in runner.log_handler.messages if m.startswith('Exp name: ')]
    assert len(exp_lines) == 3  # iterations 3, 6 and the end of the epoch (7)


def test_val_summary_and_visualizer_step(make_runner):
    runner = make_runner(RuntimeInfoHook(), IterTimerHook(), LoggerHook(interval=2),
                         n_val_batches=4)
    runner.call_hook('before_run')
    runner.call_hook('before_train')
    runner.train_epoch()
    runner.val({'accuracy': 0.5})
    val_lines = [m for m in runner.log_handler.messages if m.startswith('Epoch(val)')]
    assert len(val_lines) == 3  # batches 2 and 4, then the summary
    assert val_lines[-1].startswith('Epoch(val) [1][4/4]  accuracy: 0.5000  data_time: ')
    tag, step, _ = runner.visualizer.scalars[-1]
    assert step == 1 and tag['accuracy'] == 0.5


def test_val_metrics_by_iter(make_runner):
    runner = make_runner(RuntimeInfoHook(), LoggerHook(log_metric_by_epoch=False))
    runner.call_hook('before_run')
    runner.call_hook('before_train')
    runner.train_epoch()
    runner.val({'accuracy': 0.5})
    assert runner.visualizer.scalars[-1][1] == 10


def test_test_results_written_as_json(make_runner):
    import numpy as np
    runner = make_runner(RuntimeInfoHook(), LoggerHook())
    runner.call_hook('before_run')
    runner.val({'accuracy': 0.25, 'per_class': np.array([0.5, 0.0])}, mode='test')
    with open(osp.join(runner.log_dir, '20240101_000000.json')) as f:
        saved = json.load(f)
    assert saved['accuracy'] == 0.25 and saved['per_class'] == [0.5, 0.0]
    summary = [m for m in runner.log_handler.messages if m.startswith('Epoch(test)')][-1]
    assert 'accuracy: 0.2500' in summary


def test_after_run_copies_logs_and_closes_visualizer(make_runner, tmp_path):
    out = tmp_path / 'shared'
    runner = make_runner(LoggerHook(out_dir=str(out), keep_local=False))
    for name in ('run.log', 'scalars.json', 'notes.txt'):
        with open(osp.join(runner.log_dir, name), 'w') as f:
            f.write(name)
    runner.call_hook('before_run')
    runner.call_hook('after_run')
    assert runner.visualizer.closed
    copied = out / 'exp'
    assert sorted(os.listdir(copied)) == ['run.log', 'scalars.json']
    assert (copied / 'run.log').read_text() == 'run.log'
    assert sorted(os.listdir(runner.log_dir)) == ['notes.txt']  # copies kept only remotely


@pytest.mark.parametrize('kwargs, error', [
    (dict(interval=0), ValueError), (dict(interval=1.5), ValueError),
    (dict(ignore_last=1), TypeError), (dict(interval_exp_name=0), ValueError),
    (dict(out_suffix=3), TypeError), (dict(keep_local='no'), TypeError),
    (dict(backend_args=dict(backend='petrel')), ValueError),
])
def test_argument_checks(kwargs, error):
    with pytest.raises(error):
        LoggerHook(**kwargs)
