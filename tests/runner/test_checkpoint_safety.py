"""Damaged and malicious checkpoints: auto-resume falls back past a truncated file (or fails
naming it), and a checkpoint that needs arbitrary unpickling is refused unless opted in."""
import io
import os
import os.path as osp
import sys

import pytest
import torch
from torch import nn

sys.path.insert(0, osp.dirname(__file__))
import resume_toys as toys  # noqa: E402

from mmlite.runner import CheckpointError, Runner, UnsafeCheckpointError, load_checkpoint  # noqa: E402


def _truncate(path) -> None:
    size = os.path.getsize(path)
    with open(path, 'r+b') as f:
        f.truncate(size // 2)


def _log_text(work_dir) -> str:
    texts = []
    for root, _, files in os.walk(work_dir):
        texts += [open(osp.join(root, name)).read() for name in files if name.endswith('.log')]
    return '\n'.join(texts)


def _crashed_run(work_dir, crash_at=14):
    """A run that wrote iter_4, iter_8 and iter_12 and then crashed."""
    with pytest.raises(RuntimeError, match='simulated crash'):
        Runner(**toys.toy_cfg(work_dir, crash_at=crash_at)).train()


def test_truncated_latest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    reference = Runner(**toys.toy_cfg(tmp_path / 'reference'))
    reference.train()
    work_dir = tmp_path / 'run'
    _crashed_run(work_dir)
    latest = osp.join(work_dir, 'iter_12.pth')
    _truncate(latest)

    resumed = Runner(**toys.toy_cfg(work_dir, resume=True))
    resumed.train()
    log = _log_text(work_dir)
    assert f"checkpoint '{latest}' is corrupt or truncated" in log
    assert f"resumed from {osp.join(work_dir, 'iter_8.pth')} at epoch 1, iter 8" in log
    # Redoing iterations 9-12 from iter_8 still ends exactly where the uninterrupted run did.
    toys.assert_same_state(toys.state_of(reference), toys.state_of(resumed))


def test_no_readable_checkpoint_is_an_error_naming_the_files(tmp_path):
    work_dir = tmp_path / 'run'
    _crashed_run(work_dir)
    for name in ('iter_4.pth', 'iter_8.pth', 'iter_12.pth'):
        _truncate(osp.join(work_dir, name))
    with pytest.raises(CheckpointError) as info:
        Runner(**toys.toy_cfg(work_dir, resume=True)).train()
    message = str(info.value)
    assert all(osp.join(work_dir, name) in message for name in ('iter_4.pth', 'iter_12.pth'))
    assert 'corrupt or truncated' in message and '--resume PATH' in message


def test_explicit_truncated_checkpoint_names_the_file(tmp_path):
    work_dir = tmp_path / 'run'
    _crashed_run(work_dir, crash_at=6)
    path = osp.join(work_dir, 'iter_4.pth')
    _truncate(path)
    with pytest.raises(CheckpointError, match=f"checkpoint '{path}' is corrupt or truncated"):
        Runner(**toys.toy_cfg(tmp_path / 'other', resume=True, load_from=path)).train()
    with pytest.raises(CheckpointError, match='corrupt or truncated'):
        load_checkpoint(nn.Linear(2, 2), path)


def test_missing_file_and_url_get_a_sentence_not_a_traceback(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint file '.*nope.pth' does not exist"):
        load_checkpoint(nn.Linear(2, 2), str(tmp_path / 'nope.pth'))
    with pytest.raises(ValueError, match='is a URL; mmlite never downloads'):
        load_checkpoint(nn.Linear(2, 2), 'https://example.invalid/weights.pth')


class _WritesAMarker:
    """Unpickling this calls open(marker, 'w'): code from a checkpoint would have run."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return io.open, (self.marker, 'w')


def _plant_malicious(checkpoint_path, marker) -> None:
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    checkpoint['meta']['note'] = _WritesAMarker(str(marker))
    torch.save(checkpoint, checkpoint_path)


def test_malicious_checkpoint_is_refused_and_runs_nothing_unless_opted_in(tmp_path):
    work_dir = tmp_path / 'run'
    _crashed_run(work_dir, crash_at=6)
    path = osp.join(work_dir, 'iter_4.pth')
    marker = tmp_path / 'code_ran'
    _plant_malicious(path, marker)
    model = toys.DropoutToyNet()

    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint(model, path)
    message = str(info.value)
    assert 'io.open' in message and 'weights_only=False' in message
    assert 'allow_unsafe_checkpoint=True' in message and 'run any code' in message
    assert not marker.exists()

    # Auto-resume does not quietly fall back past it: the user has to decide.
    with pytest.raises(UnsafeCheckpointError):
        Runner(**toys.toy_cfg(work_dir, resume=True)).train()
    assert not marker.exists()

    checkpoint = load_checkpoint(model, path, weights_only=False)  # the explicit opt-in
    assert marker.exists()
    assert torch.equal(model.fc1.weight, checkpoint['state_dict']['fc1.weight'])


def test_runner_opt_in_resumes_from_an_unsafe_checkpoint(tmp_path):
    work_dir = tmp_path / 'run'
    _crashed_run(work_dir, crash_at=6)
    marker = tmp_path / 'code_ran'
    _plant_malicious(osp.join(work_dir, 'iter_4.pth'), marker)
    runner = Runner(**toys.toy_cfg(work_dir, resume=True, length=1,
                                   cfg=dict(allow_unsafe_checkpoint=True)))
    runner.train()
    assert marker.exists() and runner.iter == 6
