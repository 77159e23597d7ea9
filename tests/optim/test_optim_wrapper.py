"""OptimWrapper: accumulation equals one big batch, clipping, DDP no_sync, state and views."""
import contextlib
import copy

import pytest
import torch
from torch import nn

from mmlite.optim import OptimWrapper


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1)).double()


def _data(n, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, generator=gen, dtype=torch.float64), torch.randn(n, 1, generator=gen,
                                                                               dtype=torch.float64)


def _loss(model, x, y):
    return ((model(x) - y) ** 2).mean()


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_accumulating_four_small_batches_equals_one_big_batch():
    small, big = _model(), _model()
    wrapper = OptimWrapper(torch.optim.SGD(small.parameters(), lr=0.1, momentum=0.9),
                           accumulative_counts=4)
    reference = torch.optim.SGD(big.parameters(), lr=0.1, momentum=0.9)
    x, y = _data(64)
    for window in range(2):  # two updates, so momentum state matters too
        chunk = slice(window * 32, (window + 1) * 32)
        for i in range(4):
            part = slice(window * 32 + i * 8, window * 32 + (i + 1) * 8)
            before = _weights(small).clone()
            wrapper.update_params(_loss(small, x[part], y[part]))
            if i < 3:  # no update inside the window
                assert torch.equal(before, _weights(small))
        reference.zero_grad()
        _loss(big, x[chunk], y[chunk]).backward()
        reference.step()
        torch.testing.assert_close(_weights(small), _weights(big), rtol=0, atol=1e-12)
    assert wrapper.inner_count == 8
    assert all(p.grad is None for p in small.parameters())  # zero_grad(set_to_none=True)


def test_last_short_window_is_divided_by_its_own_length():
    small, big = _model(), _model()
    wrapper = OptimWrapper(torch.optim.SGD(small.parameters(), lr=0.1), accumulative_counts=4)
    wrapper.initialize_count_status(small, init_counts=0, max_counts=6)
    assert wrapper.max_counts == 6
    reference = torch.optim.SGD(big.parameters(), lr=0.1)
    x, y = _data(12)
    for i in range(6):
        wrapper.update_params(_loss(small, x[2 * i:2 * i + 2], y[2 * i:2 * i + 2]))
    for chunk in (slice(0, 8), slice(8, 12)):  # windows of 4 and then 2 iterations
        reference.zero_grad()
        _loss(big, x[chunk], y[chunk]).backward()
        reference.step()
    torch.testing.assert_close(_weights(small), _weights(big), rtol=0, atol=1e-12)
    exact = OptimWrapper(torch.optim.SGD(small.parameters(), lr=0.1), accumulative_counts=4)
    exact.initialize_count_status(small, init_counts=8, max_counts=8)
    with pytest.raises(RuntimeError, match='past max_counts=8'):
        exact.scale_loss(torch.tensor(1.0))


def test_should_update_and_sync_follow_the_window():
    model = _model()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), accumulative_counts=3)
    wrapper.initialize_count_status(model, 0, 7)
    updates, syncs = [], []
    for _ in range(7):
        syncs.append(wrapper.should_sync())
        wrapper.backward(model(torch.ones(1, 5, dtype=torch.float64)).sum())
        updates.append(wrapper.should_update())
    assert updates == [False, False, True, False, False, True, True]
    assert syncs == updates


class _FakeDDP(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(2, 1)
        self.no_sync_entered = 0

    @contextlib.contextmanager
    def no_sync(self):
        self.no_sync_entered += 1
        yield


def test_optim_context_skips_all_reduce_inside_a_window_only():
    model = _FakeDDP()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), accumulative_counts=2)
    entered = []
    for _ in range(4):
        before = model.no_sync_entered
        with wrapper.optim_context(model):
            loss = model.inner(torch.ones(1, 2)).sum()
        wrapper.update_params(loss)
        entered.append(model.no_sync_entered - before)
    assert entered == [1, 0, 1, 0]
    plain = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    with plain.optim_context(model):
        pass
    assert model.no_sync_entered == 2


def _hub_recorder(monkeypatch):
    from mmlite.logging import MessageHub
    hub = MessageHub.get_instance('test_optim_wrapper_hub')
    seen = []
    original = hub.update_scalar

    def record(key, value, *args, **kwargs):
        seen.append((key, value))
        original(key, value, *args, **kwargs)
    monkeypatch.setattr(hub, 'update_scalar', record)
    return hub, seen


def test_clip_by_norm_clips_and_records_the_norm_as_a_tensor(monkeypatch):
    hub, seen = _hub_recorder(monkeypatch)
    model = _model()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0),
                           clip_grad=dict(max_norm=0.01, norm_type=2))
    x, y = _data(8)
    _loss(model, x, y).backward()
    true_norm = torch.cat([p.grad.flatten() for p in model.parameters()]).norm()
    assert true_norm > 0.01
    wrapper.step()
    clipped = torch.cat([p.grad.flatten() for p in model.parameters()]).norm()
    assert clipped == pytest.approx(0.01, rel=1e-5)
    assert [key for key, _ in seen] == ['train/grad_norm']
    assert isinstance(seen[0][1], torch.Tensor)
    assert seen[0][1].item() == pytest.approx(true_norm.item())
    assert hub.get_scalar('train/grad_norm').current() == pytest.approx(true_norm.item())


def test_clip_by_value_bounds_each_gradient(monkeypatch):
    _, seen = _hub_recorder(monkeypatch)
    model = _model()
    clip_cfg = dict(type='value', clip_value=1e-3)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0), clip_grad=clip_cfg)
    assert clip_cfg == dict(type='value', clip_value=1e-3)  # the config is not consumed
    x, y = _data(8)
    _loss(model, x, y).backward()
    assert max(p.grad.abs().max() for p in model.parameters()) > 1e-3
    wrapper.step()
    assert max(p.grad.abs().max() for p in model.parameters()) <= 1e-3
    assert seen == []  # clip_grad_value_ has no norm to record


def test_clip_grad_errors_name_the_fix():
    params = _model().parameters()
    with pytest.raises(ValueError, match="'norm', 'value'"):
        OptimWrapper(torch.optim.SGD(params, lr=0.1), clip_grad=dict(type='l2', max_norm=1))
    with pytest.raises(TypeError, match='max_norm'):
        OptimWrapper(torch.optim.SGD(_model().parameters(), lr=0.1), clip_grad=dict(norm_type=2))
    with pytest.raises(TypeError, match='non-empty dict'):
        OptimWrapper(torch.optim.SGD(_model().parameters(), lr=0.1), clip_grad={})
    with pytest.raises(ValueError, match='accumulative_counts'):
        OptimWrapper(torch.optim.SGD(_model().parameters(), lr=0.1), accumulative_counts=0)
    with pytest.raises(TypeError, match='param_groups'):
        OptimWrapper(object())


def test_views_state_dict_round_trip_and_repr():
    model = _model()
    sgd = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.8))
    assert sgd.get_lr() == {'lr': [0.1]}
    assert sgd.get_momentum() == {'momentum': [0.8]}
    assert sgd.param_groups is sgd.optimizer.param_groups
    assert sgd.defaults['lr'] == 0.1
    adam = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.7, 0.99)))
    assert adam.get_momentum() == {'momentum': [0.7]}
    assert 'accumulative_counts: 1' in repr(sgd) and 'SGD' in repr(sgd)

    x, y = _data(8)
    for _ in range(3):
        adam.update_params(_loss(model, x, y))
    state = copy.deepcopy(adam.state_dict())
    other = _model()
    restored = OptimWrapper(torch.optim.Adam(other.parameters(), lr=5.0))
    restored.load_state_dict(state)
    assert restored.get_lr() == {'lr': [1e-3]}
    for a, b in zip(adam.optimizer.state.values(), restored.optimizer.state.values()):
        torch.testing.assert_close(a['exp_avg'], b['exp_avg'])
        torch.testing.assert_close(a['step'], b['step'])
