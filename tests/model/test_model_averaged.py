"""Averaged models checked against their closed forms."""
import pytest
import torch
from torch import nn

from mmlite.model import (BaseAveragedModel, ExponentialMovingAverage, MomentumAnnealingEMA,
                          StochasticWeightAverage)
from mmlite.registry import MODELS


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))


def _set_weights(model, value):
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)


def test_ema_matches_the_closed_form():
    model, momentum, steps = _net(), 0.1, 7
    ema = ExponentialMovingAverage(model, momentum=momentum)
    for k in range(steps):
        _set_weights(model, float(k))
        ema.update_parameters(model)
    # avg_0 = p_0; avg_k = (1-m) avg_{k-1} + m p_k  =>  sum_k m (1-m)^(n-k) p_k for p_0 = 0.
    n = steps - 1
    expected = sum(momentum * (1 - momentum) ** (n - k) * k for k in range(1, steps))
    for p in ema.module.parameters():
        assert torch.allclose(p, torch.full_like(p, expected))
    assert ema.steps.item() == steps
    assert all(not p.requires_grad for p in ema.module.parameters())


def test_ema_interval_skips_updates_between_multiples():
    model = _net()
    ema = ExponentialMovingAverage(model, momentum=0.5, interval=3)
    values = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    for v in values:
        _set_weights(model, v)
        ema.update_parameters(model)
    # Copied at step 0 (0), averaged at steps 3 (30) and 6 (60).
    expected = 0.5 * (0.5 * 0 + 0.5 * 30) + 0.5 * 60
    assert torch.allclose(ema.module[0].weight, torch.full((2, 2), expected))


def test_swa_is_the_mean_of_the_snapshots():
    model = _net()
    swa = StochasticWeightAverage(model, interval=2)
    for v in [1.0, 100.0, 3.0, 100.0, 8.0]:
        _set_weights(model, v)
        swa.update_parameters(model)
    assert torch.allclose(swa.module[0].bias, torch.full((2,), (1.0 + 3.0 + 8.0) / 3))


def test_momentum_annealing_ema_uses_max_of_momentum_and_gamma_ratio():
    model = _net()
    ema = MomentumAnnealingEMA(model, momentum=0.01, gamma=2)
    avg = 0.0
    for k, v in enumerate([0.0, 4.0, 8.0, 2.0, 5.0]):
        _set_weights(model, v)
        ema.update_parameters(model)
        if k:
            m = max(0.01, 2 / (2 + k))
            avg = (1 - m) * avg + m * v
    assert torch.allclose(ema.module[0].weight, torch.full((2, 2), avg))


def test_buffers_copied_by_default_and_averaged_with_update_buffers():
    model = _net()
    copied = ExponentialMovingAverage(model, momentum=0.5)
    averaged = ExponentialMovingAverage(model, momentum=0.5, update_buffers=True)
    for value in (2.0, 6.0):
        model[1].running_mean.fill_(value)
        model[1].num_batches_tracked.fill_(int(value))
        copied.update_parameters(model)
        averaged.update_parameters(model)
    assert torch.all(copied.module[1].running_mean == 6.0)
    assert torch.all(averaged.module[1].running_mean == 4.0)
    assert averaged.module[1].num_batches_tracked.item() == 6  # integers are copied, not averaged


def test_update_after_dtype_move_reaches_the_new_buffers():
    model = _net()
    ema = ExponentialMovingAverage(model, momentum=0.5, update_buffers=True).to(torch.float64)
    model.double()
    model[1].running_var.fill_(3.0)
    ema.update_parameters(model)
    assert ema.module[1].running_var.dtype == torch.float64
    assert torch.all(ema.module[1].running_var == 3.0)


def test_state_dict_keys_and_resume_continue_averaging():
    model = _net()
    ema = ExponentialMovingAverage(model, momentum=0.5)
    _set_weights(model, 2.0)
    ema.update_parameters(model)
    state = ema.state_dict()
    assert 'steps' in state and all(k == 'steps' or k.startswith('module.') for k in state)
    assert 'module.0.weight' in state and 'module.1.running_mean' in state

    resumed = ExponentialMovingAverage(_net(), momentum=0.5)
    resumed.load_state_dict(state)
    _set_weights(model, 4.0)
    resumed.update_parameters(model)  # steps=1 after loading: an average, not a first copy
    assert torch.all(resumed.module[0].weight == 3.0)
    assert resumed.steps.item() == 2


def test_device_and_validation():
    model = _net()
    ema = ExponentialMovingAverage(model, device='cpu')
    assert ema.steps.device.type == 'cpu'
    x = torch.randn(3, 2)
    model.eval()
    ema.eval()
    assert torch.allclose(ema(x), model(x))
    with pytest.raises(ValueError, match=r'momentum must be in \(0, 1\)'):
        ExponentialMovingAverage(model, momentum=1.5)
    with pytest.raises(TypeError):
        BaseAveragedModel(model)  # abstract avg_func
    built = MODELS.build(dict(type='ExponentialMovingAverage', model=model, momentum=0.001))
    assert isinstance(built, ExponentialMovingAverage) and built.momentum == 0.001
