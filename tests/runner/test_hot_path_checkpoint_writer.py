"""Checkpoints made durable in the background: the loop waits only for the write; the pointer
moves and old files go only once the new file is fsynced, and a failed fsync is reported."""
from __future__ import annotations

import os
import threading

import pytest
import torch

from mmlite.runner import checkpoint_writer
from mmlite.runner.checkpoint import (CheckpointError, deferred_writes, save_checkpoint,
                                      wait_for_checkpoint_writes)


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 1)

    def train_step(self, data, optim_wrapper):
        loss = self.fc(data).pow(2).mean()
        optim_wrapper.update_params(loss)
        return {'loss': loss.detach()}


@pytest.fixture
def held_fsync(monkeypatch):
    """fsync_path blocks until ``release.set()``; records the paths it synced."""
    release, synced = threading.Event(), []
    real = checkpoint_writer.fsync_path

    def slow_fsync(path):
        assert release.wait(10), 'the test never released the fsync'
        real(path)
        synced.append(path)
    monkeypatch.setattr(checkpoint_writer, 'fsync_path', slow_fsync)
    yield release, synced
    release.set()
    try:
        wait_for_checkpoint_writes()
    except CheckpointError:
        pass  # a test that made a write fail has checked the error already


def test_deferred_save_returns_before_fsync_and_jobs_wait_for_it(tmp_path, held_fsync):
    release, synced = held_fsync
    path = str(tmp_path / 'epoch_1.pth')
    ran = []
    with deferred_writes():
        save_checkpoint({'w': torch.arange(3)}, path)
    # Written and in place already (readable), but not yet fsynced; the pointer job waits.
    assert torch.load(path)['w'].tolist() == [0, 1, 2]
    checkpoint_writer.after_pending_writes(lambda: ran.append(os.path.exists(path)), 'pointer')
    assert synced == [] and ran == []
    release.set()
    wait_for_checkpoint_writes()
    assert synced == [path] and ran == [True]
    assert [n for n in os.listdir(tmp_path) if n.endswith('.tmp')] == []


def test_without_deferral_the_save_is_durable_on_return(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(os, 'fsync', lambda fd: synced.append(fd))
    save_checkpoint({'w': torch.ones(1)}, str(tmp_path / 'a.pth'))
    assert len(synced) >= 1  # the file (and its folder) before returning
    ran = []
    checkpoint_writer.after_pending_writes(lambda: ran.append(1), 'pointer')
    assert ran == [1]  # nothing pending: the job runs at once


def test_replacing_an_existing_file_is_never_deferred(tmp_path, held_fsync):
    release, synced = held_fsync
    path = str(tmp_path / 'iter_5.pth')
    save_checkpoint({'v': torch.zeros(1)}, path)
    with deferred_writes():
        save_checkpoint({'v': torch.ones(1)}, path)  # same name: fsync before the rename
    assert synced == [] and not checkpoint_writer._worker.busy()
    assert torch.load(path)['v'].item() == 1.0


def test_a_failed_fsync_drops_the_pointer_job_and_is_raised(tmp_path, monkeypatch):
    def broken(path):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(checkpoint_writer, 'fsync_path', broken)
    ran = []
    with deferred_writes():
        save_checkpoint({'w': torch.ones(1)}, str(tmp_path / 'epoch_2.pth'))
    # The failure surfaces at the next submit (if the fsync failed already) or at the wait.
    with pytest.raises(CheckpointError, match='epoch_2.pth.*No space left'):
        checkpoint_writer.submit(lambda: ran.append('pointer'), 'pointer')
        wait_for_checkpoint_writes()
    assert ran == []
    wait_for_checkpoint_writes()  # reported once


def test_checkpoint_hook_moves_the_pointer_after_the_fsync(tmp_path, held_fsync):
    from mmlite.runner import Runner
    release, synced = held_fsync
    work = tmp_path / 'work'
    runner = Runner(model=_Net(), work_dir=str(work), train_cfg=dict(by_epoch=True, max_epochs=2),
                    train_dataloader=torch.utils.data.DataLoader(torch.randn(4, 2), batch_size=2),
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)), log_level='WARNING')
    finished = threading.Event()

    def train():
        runner.train()
        finished.set()
    thread = threading.Thread(target=train)
    thread.start()
    # Epoch 1 is saved and renamed into place, but its fsync is held: no pointer yet, and
    # training does not finish (after_train waits for the writes).
    deadline = 100
    while not (work / 'epoch_1.pth').exists() and deadline:
        threading.Event().wait(0.05)
        deadline -= 1
    assert (work / 'epoch_1.pth').exists()
    assert not (work / 'last_checkpoint').exists()
    assert not finished.wait(0.3)
    release.set()
    thread.join(30)
    assert finished.is_set()
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_2.pth')
    assert synced == [str(work / 'epoch_1.pth'), str(work / 'epoch_2.pth')]


def test_a_failed_run_settles_pending_checkpoints_before_raising(tmp_path, held_fsync):
    from mmlite.hooks import Hook
    from mmlite.runner import Runner
    release, _ = held_fsync

    class CrashInEpoch2(Hook):
        def before_train_iter(self, runner, batch_idx, data_batch=None):
            if runner.epoch == 1:
                raise RuntimeError('simulated crash')

    work = tmp_path / 'work'
    runner = Runner(model=_Net(), work_dir=str(work), train_cfg=dict(by_epoch=True, max_epochs=2),
                    train_dataloader=torch.utils.data.DataLoader(torch.randn(4, 2), batch_size=2),
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                    custom_hooks=[CrashInEpoch2()], log_level='WARNING')
    threading.Timer(0.3, release.set).start()  # the epoch-1 fsync lands while the error unwinds
    with pytest.raises(RuntimeError, match='simulated crash'):
        runner.train()
    # Whoever catches the error (a test, a retry wrapper) sees the pointer already moved.
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_1.pth')
