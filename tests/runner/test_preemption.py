"""Preemption and crashes: SIGTERM/SIGUSR1 finish the iteration, save it and exit with status 75;
a SIGKILL loses only what came after the last checkpoint; ``--resume`` continues exactly."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

sys.path.insert(0, osp.dirname(__file__))
import resume_toys as toys  # noqa: E402

from mmlite.runner import EXIT_PREEMPTED, Runner, TrainingPreempted  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _log_text(work_dir) -> str:
    texts = []
    for root, _, files in os.walk(work_dir):
        texts += [open(osp.join(root, name)).read() for name in files if name.endswith('.log')]
    return '\n'.join(texts)


@pytest.mark.parametrize('signum,at_iter', [(signal.SIGTERM, 9), (signal.SIGUSR1, 6)])
def test_signal_saves_the_finished_iteration_and_resume_continues_exactly(tmp_path, signum, at_iter):
    """Iteration 9 is inside the second epoch; iteration 6 is the last of the first one."""
    reference = Runner(**toys.toy_cfg(tmp_path / 'reference', ckpt_interval=100))
    reference.train()
    work_dir = tmp_path / 'run'
    hook = dict(type='SignalAtIterHook', at_iter=at_iter, signum=int(signum))
    previous_handler = signal.getsignal(signum)
    with pytest.raises(TrainingPreempted) as info:
        Runner(**toys.toy_cfg(work_dir, ckpt_interval=100, hooks=[hook])).train()
    assert info.value.code == EXIT_PREEMPTED == 75
    assert signal.getsignal(signum) is previous_handler  # the runner put the handler back

    saved = osp.join(work_dir, f'iter_{at_iter}.pth')
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip() == saved
    checkpoint = torch.load(saved, weights_only=True)
    assert checkpoint['meta']['iter'] == at_iter and checkpoint['meta']['epoch'] == (at_iter - 1) // 6
    assert f'{signal.Signals(signum).name} received: stopped after iteration {at_iter}' in \
        _log_text(work_dir)

    resumed = Runner(**toys.toy_cfg(work_dir, ckpt_interval=100, resume=True))
    resumed.train()
    toys.assert_same_state(toys.state_of(reference), toys.state_of(resumed))
    assert toys.logged_train_scalars(work_dir) == toys.logged_train_scalars(tmp_path / 'reference')


# ------------------------------------------------------------ real subprocesses
def _write_config(path, work_dir, **kwargs) -> str:
    cfg = toys.toy_cfg(work_dir, num_workers=2, **kwargs)
    cfg.pop('experiment_name')
    lines = ["custom_imports = dict(imports=['resume_toys'])"]
    lines += [f'{key} = {value!r}' for key, value in cfg.items()]
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def _train(config, work_dir, *args) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [osp.dirname(osp.abspath(__file__)), os.environ.get('PYTHONPATH', '')]))
    return subprocess.Popen([sys.executable, 'tools/train.py', config, '--work-dir', str(work_dir),
                             *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(path, process, timeout=180.0) -> None:
    deadline = time.monotonic() + timeout
    while not osp.exists(path):
        if process.poll() is not None:
            raise AssertionError(f'training exited with {process.returncode} before {path}: '
                                 f'{process.stderr.read()}')
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f'{path} did not appear in {timeout} s')
        time.sleep(0.05)


def test_sigterm_then_sigkill_then_resume_a_train_subprocess(tmp_path):
    """tools/train.py with 2 dataloader workers: SIGTERM after iteration 6 (exit 75, iter_6.pth,
    logs flushed), --resume until a SIGKILL after iteration 13 (iter_12.pth survives),
    --resume to the end: the last checkpoint equals an uninterrupted run's bit for bit."""
    work_dir, ref_dir = tmp_path / 'run', tmp_path / 'reference'
    ready = tmp_path / 'ready'
    config = _write_config(tmp_path / 'toy.py', work_dir, hooks=[dict(
        type='WaitForSignalHook', at_iter=6, ready_file=str(ready), timeout=180.0)])
    first = _train(config, work_dir)
    # The uninterrupted run, in this process meanwhile (same seeds, same CPU kernels).
    Runner(**toys.toy_cfg(ref_dir, num_workers=2)).train()
    _wait_for(ready, first)
    first.send_signal(signal.SIGTERM)
    status, errors = first.wait(timeout=180), first.stderr.read()
    assert status == EXIT_PREEMPTED, errors
    assert 'Traceback' not in errors
    with open(work_dir / 'last_checkpoint') as f:
        assert osp.basename(f.read().strip()) == 'iter_6.pth'
    log = _log_text(work_dir)
    assert 'SIGTERM received: stopped after iteration 6' in log
    assert 'Epoch(train) [1][6/6]' in log  # the line of the finished iteration was written
    assert 6 in toys.logged_train_scalars(work_dir)

    ready.unlink()
    second = _train(config, work_dir, '--resume', '--cfg-options', 'custom_hooks.0.at_iter=13')
    _wait_for(ready, second)
    second.kill()
    assert second.wait(timeout=60) == -signal.SIGKILL
    with open(work_dir / 'last_checkpoint') as f:
        assert osp.basename(f.read().strip()) == 'iter_12.pth'

    third = _train(config, work_dir, '--resume', '--cfg-options', 'custom_hooks=[]')
    assert third.wait(timeout=300) == 0, third.stderr.read()
    final = torch.load(work_dir / 'iter_18.pth', weights_only=True)
    expected = torch.load(ref_dir / 'iter_18.pth', weights_only=True)
    toys.assert_same_state(expected['state_dict'], final['state_dict'])
    for key, state in expected['optimizer']['state'].items():
        toys.assert_same_state(state, final['optimizer']['state'][key])
    assert toys.logged_train_scalars(work_dir) == toys.logged_train_scalars(ref_dir)
