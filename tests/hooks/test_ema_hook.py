"""EMAHook with mmlite's real ExponentialMovingAverage on a small model."""
import pytest
import torch
from torch import nn

from mmlite.hooks import EMAHook


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))


def train_steps(runner, n, lr=0.5):
    for idx in range(n):
        runner.call_hook('before_train_iter', batch_idx=idx, data_batch=None)
        with torch.no_grad():
            for p in runner.model.parameters():
                p.add_(lr)  # a deterministic "optimizer step"
        runner.call_hook('after_train_iter', batch_idx=idx, data_batch=None, outputs={})
        runner.iter += 1


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def test_ema_follows_with_momentum_and_swaps_for_val(make_runner):
    hook = EMAHook(momentum=0.5)
    runner = make_runner(hook, model=make_model())
    runner.call_hook('before_run')
    start = params(runner.model)
    train_steps(runner, 2)
    raw = params(runner.model)
    ema = params(hook.ema_model.module)
    # first update copies (start + 0.5), the second averages: 0.5 * (start+0.5) + 0.5 * (start+1)
    for s, e in zip(start, ema):
        assert torch.allclose(e, s + 0.75)
    runner.call_hook('before_val_epoch')
    for p, e in zip(runner.model.parameters(), ema):
        assert torch.equal(p, e)
    runner.call_hook('after_val_epoch', metrics={})
    for p, r in zip(runner.model.parameters(), raw):
        assert torch.equal(p, r)
    runner.call_hook('before_test_epoch')
    assert torch.equal(next(runner.model.parameters()), ema[0])
    runner.call_hook('after_test_epoch', metrics={})
    assert torch.equal(next(runner.model.parameters()), raw[0])


def test_checkpoint_holds_ema_weights_and_loading_restores_both(make_runner):
    hook = EMAHook(momentum=0.5)
    runner = make_runner(hook, model=make_model())
    runner.call_hook('before_run')
    train_steps(runner, 3)
    raw, ema = params(runner.model), params(hook.ema_model.module)
    path = runner.save_checkpoint(runner.work_dir, 'ckpt.pth')
    saved = torch.load(path, weights_only=True)
    assert torch.equal(saved['state_dict']['0.weight'], ema[0])  # deployable averaged weights
    assert torch.equal(saved['ema_state_dict']['module.0.weight'], raw[0])
    assert int(saved['ema_state_dict']['steps']) == 3
    assert torch.equal(runner.model[0].weight, raw[0])  # training weights untouched

    fresh_hook = EMAHook(momentum=0.5)
    fresh = make_runner(fresh_hook, model=make_model())
    fresh.call_hook('before_run')
    fresh.call_hook('after_load_checkpoint', checkpoint=saved)
    fresh.model.load_state_dict(saved['state_dict'])
    assert torch.equal(fresh.model[0].weight, raw[0])
    assert torch.equal(fresh_hook.ema_model.module[0].weight, ema[0])
    assert fresh_hook.ema_model._step_count == 3


def test_loading_a_checkpoint_without_ema(make_runner):
    hook = EMAHook()
    runner = make_runner(hook, model=make_model())
    runner.call_hook('before_run')
    state = {k: v + 1 for k, v in make_model().state_dict().items()}
    runner.call_hook('after_load_checkpoint', checkpoint={'state_dict': state})
    assert torch.equal(hook.ema_model.module[0].weight, state['0.weight'])
    assert any('ema_state_dict' in m for m in runner.log_handler.messages)


def test_begin_iter_mirrors_the_model_until_then(make_runner):
    hook = EMAHook(momentum=0.5, begin_iter=3)
    runner = make_runner(hook, model=make_model())
    runner.call_hook('before_run')
    runner.call_hook('before_train')
    train_steps(runner, 2)
    for p, e in zip(runner.model.parameters(), hook.ema_model.module.parameters()):
        assert torch.equal(p, e)
    train_steps(runner, 2)  # iteration 3 starts (copy), iteration 4 averages
    p, e = next(runner.model.parameters()), next(hook.ema_model.module.parameters())
    assert torch.allclose(e, p - 0.25)


def test_begin_epoch_and_checks(make_runner):
    with pytest.raises(ValueError, match='not both'):
        EMAHook(begin_iter=1, begin_epoch=1)
    with pytest.raises(ValueError, match='>= 0'):
        EMAHook(begin_iter=-1)
    hook = EMAHook(begin_epoch=5)
    runner = make_runner(hook, max_epochs=3)
    runner.call_hook('before_run')
    with pytest.raises(ValueError, match='max_epochs'):
        runner.call_hook('before_train')
