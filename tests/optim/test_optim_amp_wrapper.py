"""AmpOptimWrapper on the CPU: real bfloat16 autocast training, float16 loss scaler state."""
import pytest
import torch
from torch import nn

from mmlite.optim import AmpOptimWrapper, build_optim_wrapper


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))


def test_bf16_on_cpu_autocasts_and_trains_to_lower_loss():
    model = _model()
    wrapper = AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.05))
    assert wrapper.cast_dtype == torch.bfloat16  # dtype=None on CPU
    assert wrapper.loss_scaler is None  # bfloat16 needs no loss scaling
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=gen)
    y = x.sum(dim=1, keepdim=True)
    losses = []
    for _ in range(60):
        with wrapper.optim_context(model):
            out = model(x)
            assert out.dtype == torch.bfloat16  # the forward pass really ran in bf16
            loss = ((out.float() - y) ** 2).mean()
        wrapper.update_params(loss)
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0]
    assert model[0].weight.dtype == torch.float32  # master weights stay fp32
    assert 'loss_scaler' not in wrapper.state_dict()


def test_fp16_scaler_state_round_trips_and_clipping_sees_unscaled_grads():
    model = _model()
    wrapper = AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
                              dtype='float16', loss_scale=dict(init_scale=1024.0, growth_interval=1),
                              clip_grad=dict(max_norm=1e6))
    assert wrapper.cast_dtype == torch.float16
    x = torch.randn(8, 4)
    for _ in range(3):
        with wrapper.optim_context(model):
            loss = model(x).float().pow(2).mean()
        wrapper.update_params(loss)
    state = wrapper.state_dict()
    scale = state['loss_scaler']['scale']
    assert scale == 1024.0 * 2 ** 3  # growth_interval=1: grows after each finite step
    assert 'state' in state and 'param_groups' in state

    fresh = AmpOptimWrapper(optimizer=torch.optim.SGD(_model().parameters(), lr=0.5),
                            dtype=torch.float16)
    fresh.load_state_dict(state)
    assert 'loss_scaler' in state  # the input is not consumed
    assert fresh.loss_scaler.get_scale() == scale
    assert fresh.loss_scaler.state_dict()['growth_interval'] == 1
    assert fresh.get_lr() == {'lr': [0.01]}


def test_static_loss_scale_stays_fixed():
    model = _model()
    wrapper = AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
                              dtype='float16', loss_scale=64.0)
    for _ in range(3):
        with wrapper.optim_context(model):
            loss = model(torch.randn(4, 4)).float().mean()
        wrapper.update_params(loss)
    assert wrapper.loss_scaler.get_scale() == 64.0


def test_invalid_arguments_name_the_accepted_values():
    params = _model().parameters()
    with pytest.raises(ValueError, match="'float16', 'bfloat16'"):
        AmpOptimWrapper(optimizer=torch.optim.SGD(params, lr=0.1), dtype='float8')
    with pytest.raises(TypeError, match='loss_scale'):
        AmpOptimWrapper(optimizer=torch.optim.SGD(_model().parameters(), lr=0.1),
                        dtype='float16', loss_scale='static')


def test_built_from_config_by_type():
    wrapper = build_optim_wrapper(_model(), dict(type='AmpOptimWrapper', dtype='bfloat16',
                                                 optimizer=dict(type='AdamW', lr=1e-3)))
    assert isinstance(wrapper, AmpOptimWrapper)
    assert isinstance(wrapper.optimizer, torch.optim.AdamW)
