"""A real run's scalar files: each log line is on disk when the next hook runs (the files stay
open between lines), DataLoader workers fork without duplicating lines, and the files are
closed once the run is over."""
import json
import os

import pytest

from mmlite.hooks import Hook
from mmlite.runner import Runner

from ..runner.test_runner_loops import PairDataset, Regressor


class ReadBack(Hook):
    """After the LoggerHook (lower priority), reads the scalar files of the run."""

    priority = 'LOWEST'

    def __init__(self):
        self.seen = []  # (iteration, steps in scalars.json, steps in <timestamp>.json)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        vis_data = os.path.join(runner.log_dir, 'vis_data')
        self.seen.append((runner.iter + 1,
                          _steps(os.path.join(vis_data, 'scalars.json')),
                          _steps(os.path.join(vis_data, f'{runner.timestamp}.json'))))


def _steps(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding='utf-8') as file:
        return [json.loads(line)['step'] for line in file]


def _open_files_under(folder):
    folder = os.path.realpath(str(folder))
    found = []
    for fd in os.listdir('/proc/self/fd'):
        try:
            target = os.readlink(f'/proc/self/fd/{fd}')
        except OSError:
            continue
        if target.startswith(folder + os.sep):
            found.append(target)
    return found


@pytest.mark.skipif(not os.path.isdir('/proc/self/fd'), reason='lists open files through /proc')
def test_lines_are_on_disk_mid_training_and_files_closed_after_the_run(tmp_path):
    read_back = ReadBack()
    runner = Runner(
        model=Regressor(), work_dir=str(tmp_path),
        train_dataloader=dict(dataset=PairDataset(24), batch_size=4, num_workers=1,
                              collate_fn=dict(type='default_collate'),
                              sampler=dict(type='DefaultSampler', shuffle=True)),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=2), checkpoint=None),
        custom_hooks=[read_back])
    runner.train()

    # 6 iterations per epoch, a line every 2: each line is readable by the very next hook,
    # in both files, and the worker processes of epoch 2 did not write any line again.
    for iteration, scalars, copy in read_back.seen:
        expected = list(range(2, iteration + 1, 2))
        assert scalars == expected and copy == expected, iteration
    assert read_back.seen[-1][0] == 12
    assert _open_files_under(os.path.join(runner.log_dir, 'vis_data')) == []
