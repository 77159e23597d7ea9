"""Every scheduler against torch's equivalent and against its own closed form."""
import math

import pytest
import torch
from torch.optim import lr_scheduler as T

import mmlite.optim as O

STEPS = 60


def _sgd(lrs=(0.1, 0.03), **kwargs):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    return torch.optim.SGD([dict(params=[p], lr=lr) for p, lr in zip(params, lrs)],
                           momentum=0.9, weight_decay=0.05, **kwargs)


# (name, mmlite factory, torch factory, steps): both schedule the same optimizer hyper-parameters.
CASES = [
    ('constant', lambda o: O.ConstantLR(o, factor=0.25, end=8),
     lambda o: T.ConstantLR(o, factor=0.25, total_iters=7), STEPS),
    ('linear', lambda o: O.LinearLR(o, start_factor=0.01, end_factor=0.9, end=21),
     lambda o: T.LinearLR(o, start_factor=0.01, end_factor=0.9, total_iters=20), STEPS),
    ('step', lambda o: O.StepLR(o, step_size=7, gamma=0.5),
     lambda o: T.StepLR(o, step_size=7, gamma=0.5), STEPS),
    ('multistep', lambda o: O.MultiStepLR(o, milestones=[5, 20, 20, 41], gamma=0.3),
     lambda o: T.MultiStepLR(o, milestones=[5, 20, 20, 41], gamma=0.3), STEPS),
    ('exponential', lambda o: O.ExponentialLR(o, gamma=0.95),
     lambda o: T.ExponentialLR(o, gamma=0.95), STEPS),
    ('cosine', lambda o: O.CosineAnnealingLR(o, T_max=25, eta_min=1e-3),
     lambda o: T.CosineAnnealingLR(o, T_max=25, eta_min=1e-3), STEPS),  # past T_max it rises again
    ('poly', lambda o: O.PolyLR(o, power=2.0, end=41),
     lambda o: T.PolynomialLR(o, total_iters=40, power=2.0), STEPS),
    ('onecycle', lambda o: O.OneCycleLR(o, eta_max=[1.0, 0.5], total_steps=STEPS),
     lambda o: T.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=STEPS, cycle_momentum=False), STEPS - 1),
    ('onecycle3', lambda o: O.OneCycleLR(o, eta_max=1.0, total_steps=STEPS, three_phase=True,
                                         anneal_strategy='linear', pct_start=0.25),
     lambda o: T.OneCycleLR(o, max_lr=1.0, total_steps=STEPS, three_phase=True, cycle_momentum=False,
                            anneal_strategy='linear', pct_start=0.25), STEPS - 1),
    ('restart', lambda o: O.CosineRestartLR(o, periods=[5, 10, 20, 40], restart_weights=[1] * 4,
                                            eta_min=1e-3),
     lambda o: T.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=1e-3), STEPS),
]


@pytest.mark.filterwarnings('ignore::UserWarning')  # torch: "lr_scheduler.step() before optimizer.step()"
@pytest.mark.parametrize('name,ours,theirs,steps', CASES, ids=[c[0] for c in CASES])
def test_matches_torch_and_closed_form(name, ours, theirs, steps):
    mine, reference = _sgd(), _sgd()
    scheduler, torch_scheduler = ours(mine), theirs(reference)
    lrs = set()
    for _ in range(steps):
        values = [g['lr'] for g in mine.param_groups]
        expected = [g['lr'] for g in reference.param_groups]
        assert values == pytest.approx(expected, abs=1e-7, rel=0)
        assert scheduler.get_last_value() == values
        if scheduler.begin <= scheduler._global_step < scheduler.end:
            assert scheduler._get_closed_form_value() == pytest.approx(values, abs=1e-7, rel=0)
        lrs.add(round(values[0], 9))
        scheduler.step()
        torch_scheduler.step()
    assert len(lrs) >= 2  # the schedule really moved


def test_reduce_on_plateau_matches_torch():
    metrics = [5, 4, 4.1, 4.0, 3.99, 4.2, 4.3, 2, 2.5, 2.6, 2.7, 2.8, 2.9, 3, 3, 3, 3, 3, 3, 3]
    for rule, mode, sign in (('less', 'min', 1), ('greater', 'max', -1)):
        mine, reference = _sgd(), _sgd()
        scheduler = O.ReduceOnPlateauLR(mine, monitor='loss', rule=rule, factor=0.5, patience=2,
                                        threshold=0.01, cooldown=1, min_value=[0.02, 0.001])
        torch_scheduler = T.ReduceLROnPlateau(reference, mode=mode, factor=0.5, patience=2,
                                              threshold=0.01, cooldown=1, min_lr=[0.02, 0.001])
        seen = set()
        for metric in metrics:
            scheduler.step()  # the epoch count
            scheduler.step({'loss': torch.tensor(sign * metric)})
            torch_scheduler.step(sign * metric)
            values = [g['lr'] for g in mine.param_groups]
            assert values == pytest.approx([g['lr'] for g in reference.param_groups], abs=1e-12)
            seen.add(values[0])
        assert min(seen) == 0.02 and len(seen) > 2  # reduced down to the floor
        state = scheduler.state_dict()
        assert isinstance(state['best'], float) and state['num_bad_epochs'] >= 0


def _closed_form_run(scheduler, optimizer, key, steps=30):
    for _ in range(steps):
        if scheduler.begin <= scheduler._global_step < scheduler.end:
            assert scheduler._get_closed_form_value() == pytest.approx(
                [g[key] for g in optimizer.param_groups], abs=1e-9)
        scheduler.step()


def test_param_scheduler_on_any_hyper_parameter():
    optimizer = _sgd()
    scheduler = O.CosineAnnealingParamScheduler(optimizer, param_name='weight_decay', T_max=10,
                                                eta_min_ratio=0.1, end=11)
    _closed_form_run(scheduler, optimizer, 'weight_decay')
    assert [g['weight_decay'] for g in optimizer.param_groups] == pytest.approx([0.005, 0.005])
    assert [g['lr'] for g in optimizer.param_groups] == [0.1, 0.03]


def test_momentum_schedulers_update_momentum_and_adam_betas():
    sgd = _sgd()
    scheduler = O.LinearMomentum(sgd, start_factor=0.5, end=11)
    assert [g['momentum'] for g in sgd.param_groups] == pytest.approx([0.45, 0.45])
    _closed_form_run(scheduler, sgd, 'momentum')
    assert [g['momentum'] for g in sgd.param_groups] == pytest.approx([0.9, 0.9])

    params = [torch.nn.Parameter(torch.zeros(1))]
    adam = O.OptimWrapper(torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999)))
    scheduler = O.CosineAnnealingMomentum(adam, T_max=10, eta_min=0.5, end=11)
    for step in range(12):
        beta1 = 0.5 + 0.4 * (1 + math.cos(math.pi * min(step, 10) / 10)) / 2
        assert adam.param_groups[0]['betas'] == pytest.approx((beta1, 0.999))
        assert adam.get_momentum() == {'momentum': [pytest.approx(beta1)]}
        scheduler.step()
    with pytest.raises(ValueError, match='momentum or betas'):
        O.StepMomentum(torch.optim.Adagrad(params, lr=0.1), step_size=2)


@pytest.mark.parametrize('cls', [O.ConstantParamScheduler, O.LinearParamScheduler,
                                 O.ExponentialParamScheduler, O.PolyParamScheduler,
                                 O.StepParamScheduler, O.MultiStepParamScheduler,
                                 O.CosineRestartParamScheduler])
def test_param_variants_follow_their_closed_form(cls):
    extra = {O.ExponentialParamScheduler: dict(gamma=0.9), O.StepParamScheduler: dict(step_size=4),
             O.MultiStepParamScheduler: dict(milestones=[3, 9]),
             O.CosineRestartParamScheduler: dict(periods=[6, 12], restart_weights=[1, 0.5],
                                                 eta_min=0.)}.get(cls, {})
    optimizer = _sgd()
    scheduler = cls(optimizer, param_name='lr', end=20, **extra)
    _closed_form_run(scheduler, optimizer, 'lr', steps=25)
