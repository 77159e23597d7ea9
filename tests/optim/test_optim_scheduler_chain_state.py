"""Chained schedulers, epoch-to-iteration conversion, and progress-only state dicts."""
import math

import pytest
import torch

import mmlite.optim as O
from mmlite.registry import PARAM_SCHEDULERS

BASE = 0.1


def _sgd(lr=BASE):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)


def _lr(optimizer):
    return optimizer.param_groups[0]['lr']


def _cosine(t, period, base=BASE, eta_min=0.):
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / period)) / 2


def test_linear_warmup_then_cosine_annealing():
    optimizer = O.OptimWrapper(_sgd())
    warmup = O.LinearLR(optimizer, start_factor=0.1, begin=0, end=5, by_epoch=False)
    cosine = O.CosineAnnealingLR(optimizer, T_max=20, begin=5, end=25, by_epoch=False)
    for step in range(30):
        if step < 5:
            expected = BASE * (0.1 + 0.9 * step / 4)
        else:  # the cosine starts at its begin, from where the warm-up left off
            expected = _cosine(min(step, 24) - 5, 20)
        assert _lr(optimizer) == pytest.approx(expected, abs=1e-9), step
        warmup.step()
        cosine.step()


def test_concurrent_schedulers_multiply():
    optimizer = _sgd()
    warmup = O.LinearLR(optimizer, start_factor=0.2, end=6, by_epoch=False)
    decay = O.MultiStepLR(optimizer, milestones=[3, 8], gamma=0.5, by_epoch=False)
    for step in range(12):
        factor = 0.2 + 0.8 * min(step, 5) / 5
        expected = BASE * factor * 0.5 ** sum(step >= m for m in (3, 8))
        assert _lr(optimizer) == pytest.approx(expected, abs=1e-12), step
        warmup.step()
        decay.step()


def test_convert_to_iter_based_through_the_registry():
    optimizer = _sgd()
    cosine = PARAM_SCHEDULERS.build(
        dict(type='CosineAnnealingLR', T_max=2, begin=0, end=2, convert_to_iter_based=True),
        default_args=dict(optimizer=optimizer, epoch_length=5))
    assert (cosine.by_epoch, cosine.begin, cosine.end, cosine.T_max) == (False, 0, 10, 10)
    multistep = O.MultiStepLR.build_iter_from_epoch(optimizer, milestones=[1, 3], begin=1, end=4,
                                                    epoch_length=10)
    assert (multistep.begin, multistep.end, sorted(multistep.milestones)) == (10, 40, [10, 30])
    assert O.StepLR.build_iter_from_epoch(optimizer, step_size=2, epoch_length=3).step_size == 6
    restart = O.CosineRestartLR.build_iter_from_epoch(optimizer, periods=[1, 2], eta_min=0.,
                                                      restart_weights=[1, 1], epoch_length=4)
    assert restart.periods == [4, 8]
    onecycle = O.OneCycleLR.build_iter_from_epoch(_sgd(), eta_max=1., total_steps=3, epoch_length=7)
    assert onecycle.total_steps == 21
    with pytest.raises(ValueError, match='by_epoch=True'):
        O.LinearLR.build_iter_from_epoch(optimizer, by_epoch=False, epoch_length=3)


def _run(scheduler, steps):
    values = []
    for _ in range(steps):
        scheduler.step()
        values.append(_lr(scheduler.optimizer))
    return values


def test_state_dict_is_plain_progress_only_and_round_trips(tmp_path):
    optimizer = _sgd()
    warmup = O.LinearLR(optimizer, start_factor=0.1, end=4, by_epoch=False)
    cosine = O.CosineAnnealingLR(optimizer, T_max=12, eta_min=1e-3, begin=4, end=16, by_epoch=False)
    for _ in range(6):
        warmup.step()
        cosine.step()
    for scheduler in (warmup, cosine):
        state = scheduler.state_dict()
        # closed_form_value only detects a changed config on resume (see _catch_up)
        assert set(state) - {'closed_form_value'} == {'last_step', '_global_step', 'base_values',
                                                      '_last_value'}
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(optimizer=optimizer.state_dict(), schedulers=[warmup.state_dict(),
                                                                  cosine.state_dict()]), path)
    checkpoint = torch.load(path, weights_only=True)  # plain values only

    # The runner's resume order: build everything, then load the optimizer, then schedulers.
    restored = _sgd(lr=7.0)
    new_warmup = O.LinearLR(restored, start_factor=0.1, end=4, by_epoch=False)
    new_cosine = O.CosineAnnealingLR(restored, T_max=12, eta_min=1e-3, begin=4, end=16,
                                     by_epoch=False)
    restored.load_state_dict(checkpoint['optimizer'])
    new_warmup.load_state_dict(checkpoint['schedulers'][0])
    new_cosine.load_state_dict(checkpoint['schedulers'][1])
    assert _lr(restored) == _lr(optimizer)
    for _ in range(14):
        for old, new in ((warmup, new_warmup), (cosine, new_cosine)):
            old.step()
            new.step()
        assert _lr(restored) == pytest.approx(_lr(optimizer), abs=1e-12)


def test_plateau_state_round_trips():
    optimizer = _sgd()
    plateau = O.ReduceOnPlateauLR(optimizer, monitor='acc', rule='greater', patience=1)
    for acc in (0.5, 0.6, 0.6):
        plateau.step()
        plateau.step({'acc': acc})
    state = plateau.state_dict()
    assert state['best'] == 0.6 and state['num_bad_epochs'] == 1 and state['_global_step'] == 3
    fresh = O.ReduceOnPlateauLR(_sgd(), monitor='acc', rule='greater', patience=1)
    fresh.load_state_dict(state)
    fresh.step()
    fresh.step({'acc': 0.55})  # second bad evaluation: patience exceeded
    assert _lr(fresh.optimizer) == pytest.approx(BASE * 0.1)
    with pytest.raises(KeyError, match="monitors 'acc'.*\\['loss'\\]"):
        fresh.step({'loss': 1.0})


def test_extending_a_finished_run_continues_the_new_schedule():
    optimizer = _sgd()
    cosine = O.CosineAnnealingLR(optimizer, begin=0, end=10, by_epoch=False)
    _run(cosine, 12)  # finished: frozen near 0
    assert _lr(optimizer) == pytest.approx(_cosine(9, 10))
    # An MMEngine-style state (configuration included) loads too; the configuration is ignored.
    state = dict(cosine.state_dict(), end=10, T_max=10, begin=0, by_epoch=False)

    extended = O.CosineAnnealingLR(optimizer, begin=0, end=20, by_epoch=False)
    extended.load_state_dict(state)
    assert (extended.end, extended.T_max) == (20, 20)
    assert _lr(optimizer) == pytest.approx(_cosine(12, 20))  # jumped onto the new curve
    fresh = _sgd()
    reference = O.CosineAnnealingLR(fresh, begin=0, end=20, by_epoch=False)
    _run(reference, 12)
    assert _run(extended, 10) == pytest.approx(_run(reference, 10), abs=1e-9)

    # A milestone added after the old end takes effect.
    optimizer = _sgd()
    multistep = O.MultiStepLR(optimizer, milestones=[2], end=4, by_epoch=True)
    _run(multistep, 5)
    longer = O.MultiStepLR(optimizer, milestones=[2, 6], end=10, by_epoch=True)
    longer.load_state_dict(multistep.state_dict())
    assert _lr(optimizer) == pytest.approx(BASE * 0.1)
    assert _run(longer, 3) == pytest.approx([BASE * 0.01] * 3)


def test_resume_mid_run_with_unchanged_config_keeps_concurrent_factors():
    optimizer = _sgd()
    warmup = O.LinearLR(optimizer, start_factor=0.1, end=10, by_epoch=False)
    cosine = O.CosineAnnealingLR(optimizer, T_max=30, end=30, by_epoch=False)
    for _ in range(4):
        warmup.step()
        cosine.step()
    states = [warmup.state_dict(), cosine.state_dict()]
    expected_lr = _lr(optimizer)
    resumed = _sgd()
    schedulers = [O.LinearLR(resumed, start_factor=0.1, end=10, by_epoch=False),
                  O.CosineAnnealingLR(resumed, T_max=30, end=30, by_epoch=False)]
    resumed.load_state_dict(optimizer.state_dict())
    for scheduler, state in zip(schedulers, states):
        scheduler.load_state_dict(state)
    assert _lr(resumed) == expected_lr  # no jump: nothing changed


def test_schedulers_accept_wrappers_and_refuse_dicts_and_bad_ranges():
    wrapper = O.OptimWrapper(_sgd())
    scheduler = O.ExponentialLR(wrapper, gamma=0.5)
    scheduler.step()
    assert wrapper.get_lr() == {'lr': [BASE * 0.5]}
    gan = O.OptimWrapperDict(generator=O.OptimWrapper(_sgd()))
    with pytest.raises(TypeError, match="one scheduler per item.*'generator'"):
        O.StepLR(gan, step_size=1)
    with pytest.raises(ValueError, match='begin \\(5\\) must be smaller than end \\(5\\)'):
        O.StepLR(_sgd(), step_size=1, begin=5, end=5)
    with pytest.raises(ValueError, match='eta_min or eta_min_ratio'):
        O.CosineAnnealingLR(_sgd(), eta_min=0., eta_min_ratio=0.1)
    with pytest.raises(KeyError, match='missing'):
        O.StepLR(_sgd(), step_size=1).load_state_dict({'last_step': 3})


def test_config_typos_are_reported_against_the_real_arguments():
    with pytest.raises(TypeError, match="Did you mean 'T_max' for 'T_maxx'"):
        PARAM_SCHEDULERS.build(dict(type='CosineAnnealingLR', T_maxx=3),
                               default_args=dict(optimizer=_sgd()))
    with pytest.raises(TypeError, match="missing required argument\\(s\\) 'milestones'"):
        PARAM_SCHEDULERS.build(dict(type='MultiStepMomentum'), default_args=dict(optimizer=_sgd()))
