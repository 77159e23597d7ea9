"""tools/analysis/plot_logs.py and mmlite.visualization.plot: scalars.json to PNG curves."""
from __future__ import annotations

import json
import os
import os.path as osp
import sys

import pytest

from mmlite.visualization.plot import (find_scalar_files, load_scalars, plot_scalar_curves,
                                       read_scalars, scalar_keys, scalar_series, stitch_runs)

from .conftest import assert_drawn_png, load_tool


def write_lines(path, rows, tail=''):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(json.dumps(row) + '\n' for row in rows) + tail)
    return str(path)


def train_row(step, loss, epoch=1):
    return dict(lr=0.1, loss=loss, time=0.01, epoch=epoch, iter=step, step=step)


def test_plot_logs_draws_loss_lr_and_metric_of_a_real_run(digits_run, tmp_path, capsys):
    work_dir, _ = digits_run
    out = str(tmp_path / 'curves.png')
    load_tool('tools/analysis/plot_logs.py').main(
        [work_dir, '--keys', 'loss', 'lr', 'accuracy/top1', '--out', out, '--title', 'digits'])
    pixels = assert_drawn_png(out)
    assert pixels.shape[0] > 700  # three panels stacked
    assert 'saved loss, lr, accuracy/top1 of 1 log(s)' in capsys.readouterr().out


def test_the_run_logged_what_the_plot_reads(digits_run):
    rows = load_scalars(digits_run[0])
    steps, losses, label = scalar_series(rows, 'loss')
    assert label == 'iteration' and steps[:4] == [10, 20, 30, 40] and len(steps) == 8
    epochs, accuracy, label = scalar_series(rows, 'accuracy/top1')
    assert label == 'epoch' and epochs == [1, 2] and all(50 < a <= 100 for a in accuracy)
    assert {'loss', 'lr', 'accuracy/top1', 'time', 'data_time'} <= set(scalar_keys(rows))


def test_several_runs_with_legends_and_a_style(digits_run, tmp_path):
    other = write_lines(tmp_path / 'other' / 'scalars.json',
                        [train_row(10 * i, 2.0 / i) for i in range(1, 9)])
    out = str(tmp_path / 'two.png')
    load_tool('tools/analysis/plot_logs.py').main(
        [digits_run[0], other, '--keys', 'loss', '--legend', 'digits', 'synthetic',
         '--style', 'ggplot', '--out', out])
    assert_drawn_png(out)


def test_plot_logs_errors_name_the_fix(digits_run, tmp_path, capsys):
    tool = load_tool('tools/analysis/plot_logs.py')
    from mmlite.runner.cli import run_main
    out = str(tmp_path / 'x.png')
    assert run_main(tool.main, [digits_run[0], '--keys', 'acc', '--out', out]) == 1
    err = capsys.readouterr().err
    assert "no scalar 'acc'" in err and 'accuracy/top1' in err and 'loss' in err
    assert run_main(tool.main, [digits_run[0], '--legend', 'a', 'b', '--out', out]) == 1
    assert 'one per log' in capsys.readouterr().err
    assert run_main(tool.main, [str(tmp_path / 'nowhere'), '--out', out]) == 1
    assert 'does not exist' in capsys.readouterr().err
    assert not osp.exists(out)


def test_list_keys(digits_run, capsys):
    load_tool('tools/analysis/plot_logs.py').main([digits_run[0], '--list-keys'])
    out = capsys.readouterr().out
    assert out.startswith(osp.basename(digits_run[0]) + ': ') and 'accuracy/top1' in out


def test_find_scalar_files_accepts_work_run_and_vis_dirs(tmp_path):
    first = write_lines(tmp_path / 'w' / '20240101_000000' / 'vis_data' / 'scalars.json', [])
    second = write_lines(tmp_path / 'w' / '20240102_000000' / 'vis_data' / 'scalars.json', [])
    assert find_scalar_files(str(tmp_path / 'w')) == [first, second]
    assert find_scalar_files(str(tmp_path / 'w' / '20240102_000000')) == [second]
    assert find_scalar_files(osp.dirname(first)) == [first]
    assert find_scalar_files(first) == [first]
    os.makedirs(tmp_path / 'empty')
    with pytest.raises(FileNotFoundError, match='LocalVisBackend'):
        find_scalar_files(str(tmp_path / 'empty'))


def test_a_line_cut_by_a_crash_is_skipped_but_a_bad_line_is_an_error(tmp_path):
    good = write_lines(tmp_path / 'a.json', [train_row(10, 1.0)], tail='{"loss": 0.5, "st')
    assert [row['step'] for row in read_scalars(good)] == [10]
    bad = write_lines(tmp_path / 'b.json', [train_row(10, 1.0)],
                      tail='oops\n' + json.dumps(train_row(20, 1)) + '\n')
    with pytest.raises(ValueError, match=r'b.json:2 is not a JSON line'):
        read_scalars(bad)


def test_stitching_a_resumed_run_keeps_what_came_before_the_resume_point():
    first = [train_row(20, 1.0), train_row(40, 0.8), dict(acc=50, step=1),
             train_row(65, 0.6, 2), train_row(85, 0.5, 2), dict(acc=60, step=2),
             train_row(110, 0.45, 3)]  # the run died in epoch 3, resumed from epoch_2.pth
    resumed = [train_row(110, 0.4, 3), train_row(130, 0.3, 3), dict(acc=70, step=3)]
    rows = stitch_runs([first, resumed])
    assert scalar_series(rows, 'loss')[0] == [20, 40, 65, 85, 110, 130]
    assert scalar_series(rows, 'loss')[1][-2:] == [0.4, 0.3]
    assert scalar_series(rows, 'acc')[:2] == ([1, 2, 3], [50, 60, 70])
    # A restart from scratch replaces the old history; a lone runner.val() is left out.
    restart = [train_row(20, 2.0), dict(acc=10, step=1)]
    assert stitch_runs([first, restart, [dict(acc=99, step=0)]]) == restart


def test_series_prefer_training_rows_and_label_metrics_by_iteration_when_logged_so():
    rows = [train_row(10, 1.0), dict(time=5.0, acc=1, step=1), train_row(20, 0.5)]
    assert scalar_series(rows, 'time') == ([10, 20], [0.01, 0.01], 'iteration')
    by_iter = [train_row(10, 1.0), dict(acc=1, step=10)]  # log_metric_by_epoch=False
    assert scalar_series(by_iter, 'acc')[2] == 'iteration'


def test_missing_matplotlib_says_how_to_install_it(monkeypatch, tmp_path):
    for name in ('matplotlib', 'matplotlib.figure', 'matplotlib.backends.backend_agg'):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r'mmlite\[plot\]'):
        plot_scalar_curves([('a', [train_row(10, 1.0)])], ['loss'], str(tmp_path / 'x.png'))
