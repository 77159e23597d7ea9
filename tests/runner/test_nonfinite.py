"""A diverging run: CheckInvalidLossHook stops it by default (or skips the steps, or warns),
naming the first bad iteration and the loss keys, without a host-device sync per iteration."""
import os
import os.path as osp
import sys

import pytest
import torch

sys.path.insert(0, osp.dirname(__file__))
import resume_toys as toys  # noqa: E402

from mmlite.hooks import CheckInvalidLossHook, Hook  # noqa: E402
from mmlite.hooks.check_invalid_loss_hook import NonFiniteLossError  # noqa: E402
from mmlite.logging import history_buffer  # noqa: E402
from mmlite.registry import HOOKS  # noqa: E402
from mmlite.runner import Runner  # noqa: E402


def _diverging(work_dir, nan_from=7, check=None, **kwargs):
    """NaN losses from iteration ``nan_from`` on; checkpoints every 4 iterations."""
    hooks = dict(logger=dict(type='LoggerHook', interval=5),
                 checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4))
    if check is not None:
        hooks['check_invalid_loss'] = check
    hooks.update(kwargs.pop('default_hooks', {}))
    return Runner(**toys.toy_cfg(work_dir, model=dict(type='NaNAtIterNet', nan_from=nan_from),
                                 default_hooks=hooks, **kwargs))


def _finite(path) -> bool:
    state = torch.load(path, weights_only=True)['state_dict']
    return all(torch.isfinite(value).all() for value in state.values())


def _checkpoints(work_dir) -> list[str]:
    return sorted(name for name in os.listdir(work_dir) if name.endswith('.pth'))


def test_by_default_a_nan_loss_stops_training_before_the_next_checkpoint(tmp_path):
    runner = _diverging(tmp_path)
    assert any(isinstance(hook, CheckInvalidLossHook) for hook in runner.hooks)  # on by default
    with pytest.raises(NonFiniteLossError) as info:
        runner.train()
    message = str(info.value)
    # Found before iteration 8's checkpoint was written; iteration 7 was the first bad one.
    assert 'non-finite loss at iteration 7: loss=nan' in message
    assert 'loss_aux' not in message  # finite at iteration 7 (it turns NaN one step later)
    assert f"The last checkpoint, {osp.join(tmp_path, 'iter_4.pth')}, is from before it" in message
    assert 'check_invalid_loss.action' in message
    assert _checkpoints(tmp_path) == ['iter_4.pth'] and _finite(osp.join(tmp_path, 'iter_4.pth'))


def test_found_at_the_check_interval_with_the_first_bad_iteration(tmp_path):
    runner = _diverging(tmp_path, nan_from=3, check=dict(type='CheckInvalidLossHook', interval=2),
                        default_hooks=dict(checkpoint=None))
    with pytest.raises(NonFiniteLossError, match='iteration 3: loss=nan .*iterations 3-4'):
        runner.train()
    assert runner.iter == 3  # stopped in iteration 4, the first check after the NaN


def test_warn_trains_on_and_says_where(tmp_path):
    runner = _diverging(tmp_path, check=dict(type='CheckInvalidLossHook', action='warn'))
    runner.train()
    assert runner.iter == 18
    with open(next(osp.join(root, name) for root, _, files in os.walk(tmp_path)
                   for name in files if name.endswith('.log'))) as f:
        log = f.read()
    assert 'non-finite loss at iteration 7: loss=nan' in log
    assert 'non-finite loss at iteration 9: loss=nan, loss_aux=nan' in log


def test_skip_drops_the_bad_steps_and_keeps_the_weights_finite(tmp_path):
    runner = _diverging(tmp_path, check=dict(type='CheckInvalidLossHook', action='skip'))
    before = None

    class Snapshot(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            nonlocal before
            if runner.iter + 1 == 6:
                before = {k: v.clone() for k, v in runner.model.state_dict().items()}

    runner.register_hook(Snapshot())
    runner.train()
    assert runner.iter == 18 and runner.optim_wrapper.skip_nonfinite_loss
    assert all(_finite(osp.join(tmp_path, name)) for name in _checkpoints(tmp_path))
    # Every loss from iteration 7 on is NaN, so no step changed the weights after iteration 6.
    toys.assert_same_state(before, runner.model.state_dict())
    with open(next(osp.join(root, name) for root, _, files in os.walk(tmp_path)
                   for name in files if name.endswith('.log'))) as f:
        assert 'skipped the update of iteration(s) [7, 8]' in f.read()


def test_raise_and_warn_read_losses_in_one_batch_per_check(tmp_path, monkeypatch):
    """No host-device sync per iteration: the losses are read from the hub in one batched
    transfer per check (every 6 iterations here), and the logger reads none in between."""
    transfers = []
    real = history_buffer._tensors_to_floats

    def counting(tensors):
        transfers.append(len(tensors))
        return real(tensors)

    monkeypatch.setattr(history_buffer, '_tensors_to_floats', counting)
    runner = Runner(**toys.toy_cfg(tmp_path, ckpt_interval=100, default_hooks=dict(
        logger=dict(type='LoggerHook', interval=100),
        checkpoint=dict(type='CheckpointHook', interval=100, save_last=False),
        check_invalid_loss=dict(type='CheckInvalidLossHook', interval=6))))
    runner.train()
    # 3 checks at iterations 6, 12, 18; each converts the 6 pending losses of 'loss' at once.
    assert transfers == [6, 6, 6]


def test_mmengine_arguments_and_turning_it_off(tmp_path):
    hook = HOOKS.build(dict(type='CheckInvalidLossHook', interval=50))
    assert hook.interval == 50 and hook.action == 'raise'
    with pytest.raises(ValueError, match="action must be one of .*'skip'"):
        CheckInvalidLossHook(action='ignore')
    runner = _diverging(tmp_path, check=None, default_hooks=dict(check_invalid_loss=None))
    assert not any(isinstance(hook, CheckInvalidLossHook) for hook in runner.hooks)
    runner.train()  # nothing stops a diverging run when the user turned the check off
    assert not _finite(osp.join(tmp_path, 'iter_18.pth'))


def test_train_cli_reports_divergence_in_one_line(tmp_path, capsys):
    from mmlite.runner.cli import run_main

    def main(argv):
        _diverging(tmp_path).train()

    assert run_main(main, []) == 1
    errors = capsys.readouterr().err.splitlines()
    assert errors[0].startswith('error: non-finite loss at iteration 7: loss=nan')
    assert not any('Traceback' in line for line in errors)


def test_raise_mode_adds_no_device_to_host_read(tmp_path, monkeypatch):
    """Counting every tensor->Python read of a whole run: with the check on (interval 6, as
    the logger's lines fall at each epoch's end) there are exactly as many as without it."""
    counts = {}

    def count_reads(check):
        reads = {'n': 0}
        with monkeypatch.context() as patch:
            for name in ('item', 'tolist', '__float__', '__bool__', 'numpy'):
                real = getattr(torch.Tensor, name)

                def counting(self, *args, _real=real, **kwargs):
                    reads['n'] += 1
                    return _real(self, *args, **kwargs)
                patch.setattr(torch.Tensor, name, counting)
            Runner(**toys.toy_cfg(tmp_path / str(check), default_hooks=dict(
                logger=dict(type='LoggerHook', interval=100),
                checkpoint=dict(type='CheckpointHook', interval=100, save_last=False),
                check_invalid_loss=check))).train()
        return reads['n']

    counts['off'] = count_reads(None)
    counts['on'] = count_reads(dict(type='CheckInvalidLossHook', interval=6))
    assert counts['on'] == counts['off'], counts
