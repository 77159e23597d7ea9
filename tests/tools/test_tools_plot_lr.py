"""tools/analysis/plot_lr.py and mmlite.runner.schedule_trace: a config's schedule without training."""
from __future__ import annotations

import math
import os.path as osp

import pytest

from mmlite.config import Config
from mmlite.runner.schedule_trace import trace_param_schedule
from mmlite.visualization.plot import load_scalars, plot_schedule

from .conftest import REPO, assert_drawn_png, load_tool

DIGITS = osp.join(REPO, 'configs', 'digits_mlp.py')


def digits_cfg(**options) -> Config:
    cfg = Config.fromfile(DIGITS)
    cfg.merge_from_dict(options)
    return cfg


def test_trace_matches_the_learning_rates_a_real_run_logged(digits_run):
    work_dir, cfg = digits_run
    trace = trace_param_schedule(cfg)  # epoch length from the real train dataloader
    assert (trace.epoch_length, trace.max_iters, trace.by_epoch) == (45, 90, True)
    logged = [row for row in load_scalars(work_dir) if 'iter' in row]
    assert len(logged) == 8
    for row in logged:
        # A log line at step s shows the lr RuntimeInfoHook read before iteration s - 1.
        assert trace.values['lr'][row['step'] - 1][0] == pytest.approx(row['lr'], rel=1e-9)


def test_warmup_by_iteration_then_cosine_by_epoch():
    trace = trace_param_schedule(digits_cfg(), epoch_length=10, dummy_model=True)
    lr = [values[0] for values in trace.values['lr']]
    assert len(lr) == 100 and trace.max_iters == 100
    assert lr[0] == pytest.approx(0.005)  # LinearLR start_factor 0.1 of 0.05
    assert lr[0] < lr[5] < lr[9]  # warm-up over the first 20 iterations, every iteration
    # The warm-up spans the first epoch end, where the cosine takes its first step (chained).
    assert lr[9] < lr[10] < lr[19] == pytest.approx(0.05 * (1 + math.cos(math.pi / 10)) / 2)
    # Epoch-based cosine: constant within an epoch after the warm-up, stepping at epoch ends.
    assert lr[30] == lr[39] != lr[40]
    assert lr[-1] == pytest.approx(0.05 * (1 + math.cos(math.pi * 9 / 10)) / 2)
    assert trace.values['momentum'][0] == [0.9] and trace.values['momentum'][-1] == [0.9]


def test_iteration_based_two_optimizers_with_a_dummy_model():
    cfg = Config(dict(
        optim_wrapper=dict(constructor='MultiOptimWrapperConstructor',
                           generator=dict(optimizer=dict(type='Adam', lr=1e-3, betas=(0.5, 0.999))),
                           discriminator=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9))),
        param_scheduler=dict(
            generator=[dict(type='LinearLR', start_factor=0.5, by_epoch=False, end=10)],
            discriminator=[dict(type='MultiStepLR', milestones=[1], by_epoch=True, gamma=0.1,
                                convert_to_iter_based=True)]),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=30)))
    trace = trace_param_schedule(cfg, epoch_length=20, dummy_model=True)
    assert not trace.by_epoch and trace.max_iters == 30
    assert set(trace.values) == {'generator.lr', 'discriminator.lr', 'generator.momentum',
                                 'discriminator.momentum'}
    gen = [v[0] for v in trace.values['generator.lr']]
    disc = [v[0] for v in trace.values['discriminator.lr']]
    assert gen[0] == pytest.approx(5e-4) and gen[10] == pytest.approx(1e-3) == gen[-1]
    # milestone at epoch 1 converted to iteration 20
    assert disc[19] == pytest.approx(0.1) and disc[20] == pytest.approx(0.01)
    assert trace.values['generator.momentum'][0] == [0.5]  # Adam's betas[0]


def test_paramwise_groups_of_the_real_model_are_traced_separately():
    cfg = digits_cfg(**{'optim_wrapper.paramwise_cfg': dict(bias_lr_mult=2.0)})
    trace = trace_param_schedule(cfg, epoch_length=5)
    first = trace.values['lr'][0]
    assert len(first) == 4 and sorted(set(first)) == pytest.approx([0.005, 0.01])


def test_plot_lr_cli_writes_a_png_and_a_summary(tmp_path, capsys):
    out = str(tmp_path / 'lr.png')
    load_tool('tools/analysis/plot_lr.py').main(
        [DIGITS, '--epoch-length', '15', '--out', out, '--cfg-options', 'train_cfg.max_epochs=4'])
    assert_drawn_png(out)
    printed = capsys.readouterr().out
    assert 'lr: start 0.005, min' in printed and '60 iterations (15 per epoch)' in printed


def test_plot_schedule_merges_identical_groups_and_skips_absent_momentum(tmp_path):
    values = {'lr': [[0.1, 0.1, 0.2]] * 3 + [[0.05, 0.05, 0.1]] * 3, 'momentum': [[0, 0, 0]] * 6}
    out = plot_schedule(values, str(tmp_path / 's.png'), epoch_length=3, title='t')
    pixels = assert_drawn_png(out)
    assert pixels.shape[0] < 450  # one panel only: the all-zero momentum is left out


def test_trace_errors_name_the_missing_setting():
    cfg = digits_cfg()
    cfg.train_cfg = dict(by_epoch=True)
    with pytest.raises(KeyError, match='train_cfg needs max_epochs'):
        trace_param_schedule(cfg, epoch_length=5, dummy_model=True)
    cfg = digits_cfg()
    del cfg['optim_wrapper']
    with pytest.raises(KeyError, match='no optim_wrapper'):
        trace_param_schedule(cfg, epoch_length=5)
    with pytest.raises(ValueError, match='epoch_length must be a positive int'):
        trace_param_schedule(digits_cfg(), epoch_length=0)
