"""Checkpoints made durable in the background: the loop waits only for the write; the pointer
moves and old files go only once the new file is fsynced, and a failed fsync is reported."""
from __future__ import annotations

import os
import threading

import pytest
import torch

from mmlite.runner import checkpoint as checkpoint_module
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


def _eventually(condition) -> bool:
    for _ in range(200):
        if condition():
            return True
        threading.Event().wait(0.05)
    return False


@pytest.mark.parametrize('in_memory', [True, False], ids=['small state', 'large state'])
def test_deferred_save_returns_before_fsync_and_jobs_wait_for_it(tmp_path, held_fsync,
                                                                 monkeypatch, in_memory):
    release, synced = held_fsync
    if not in_memory:  # as if the state were over the limit: written here, not in the thread
        monkeypatch.setattr(checkpoint_module, '_IN_MEMORY_LIMIT', -1)
    writers = []

    def recording(name):  # which thread writes the file, through either writer
        real_write = getattr(checkpoint_module, name)

        def recording_write(*args, **kwargs):
            writers.append(threading.current_thread())
            real_write(*args, **kwargs)
        monkeypatch.setattr(checkpoint_module, name, recording_write)
    recording('atomic_write')
    recording('write_bytes_atomic')
    path = str(tmp_path / 'epoch_1.pth')
    ran = []
    with deferred_writes():
        save_checkpoint({'w': torch.arange(3)}, path)
    assert in_memory or os.path.exists(path)  # a large state is in place on return
    # A small state's file is created and written by the background thread too.
    assert _eventually(lambda: writers)
    assert (writers[0] is threading.main_thread()) is not in_memory
    # Written and in place (readable), but not yet fsynced; the pointer job waits.
    assert _eventually(lambda: os.path.exists(path))
    assert torch.load(path)['w'].tolist() == [0, 1, 2]
    checkpoint_writer.after_pending_writes(lambda: ran.append(os.path.exists(path)), 'pointer')
    assert synced == [] and ran == []
    release.set()
    wait_for_checkpoint_writes()
    assert synced == [path] and ran == [True]
    assert [n for n in os.listdir(tmp_path) if n.endswith('.tmp')] == []


def test_a_second_deferred_save_of_a_name_is_synced_before_it_replaces_the_first(tmp_path,
                                                                               monkeypatch):
    real_write, fsync_flags = checkpoint_module.write_bytes_atomic, []

    def recording_write(*args, fsync=True, **kwargs):
        fsync_flags.append(fsync)
        real_write(*args, fsync=fsync, **kwargs)
    monkeypatch.setattr(checkpoint_module, 'write_bytes_atomic', recording_write)
    path = str(tmp_path / 'epoch_1.pth')
    # The writer is held busy, so both saves are queued before the first file exists.
    busy = threading.Event()
    checkpoint_writer.submit(lambda: busy.wait(10), 'holding the writer')
    with deferred_writes():
        save_checkpoint({'v': torch.zeros(1)}, path)
        save_checkpoint({'v': torch.ones(1)}, path)
    busy.set()
    wait_for_checkpoint_writes()
    assert fsync_flags == [False, True]  # the first is a new name; the second replaces it
    assert torch.load(path)['v'].item() == 1.0
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


def test_one_writer_thread_serves_every_save(tmp_path):
    # Starting a thread per save would make the loop wait for it to be scheduled.
    threads = []
    for step in range(3):
        with deferred_writes():
            save_checkpoint({'w': torch.ones(1)}, str(tmp_path / f'epoch_{step}.pth'))
        checkpoint_writer.submit(lambda: threads.append(threading.current_thread()), 'pointer')
        wait_for_checkpoint_writes()
    assert len(threads) == 3 and len(set(threads)) == 1 and threads[0].daemon


_EXITS_RIGHT_AFTER_SAVING = '''
import sys, time
import torch
from mmlite.runner import checkpoint_writer
from mmlite.runner.checkpoint import deferred_writes, save_checkpoint
real = checkpoint_writer.fsync_path
def slow_fsync(path):
    time.sleep(0.5)
    real(path)
checkpoint_writer.fsync_path = slow_fsync
with deferred_writes():
    save_checkpoint({'w': torch.ones(1)}, sys.argv[1] + '/epoch_1.pth')
checkpoint_writer.after_pending_writes(
    lambda: open(sys.argv[1] + '/pointer', 'w').write('epoch_1.pth'), 'pointer')
'''


def test_the_interpreter_finishes_pending_writes_before_it_exits(tmp_path):
    import subprocess
    import sys
    subprocess.run([sys.executable, '-c', _EXITS_RIGHT_AFTER_SAVING, str(tmp_path)], check=True,
                   timeout=60)
    assert (tmp_path / 'pointer').read_text() == 'epoch_1.pth'


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs fork')
def test_a_forked_child_saves_with_its_own_writer_thread(tmp_path):
    with deferred_writes():  # the parent's thread exists now; a child does not inherit it
        save_checkpoint({'w': torch.ones(1)}, str(tmp_path / 'parent.pth'))
    pid = os.fork()
    if pid == 0:  # pragma: no cover (runs in the child)
        code = 1
        try:
            with deferred_writes():
                save_checkpoint({'w': torch.zeros(1)}, str(tmp_path / 'child.pth'))
            checkpoint_writer.after_pending_writes(
                lambda: (tmp_path / 'child_pointer').write_text('child.pth'), 'pointer')
            wait_for_checkpoint_writes()
            code = 0
        finally:
            os._exit(code)
    for _ in range(600):  # a child waiting for the parent's thread would never finish
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        threading.Event().wait(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail('the forked child hung waiting for its checkpoint writes')
    wait_for_checkpoint_writes()
    assert os.waitstatus_to_exitcode(status) == 0
    assert (tmp_path / 'child_pointer').read_text() == 'child.pth'


def test_the_pointer_is_written_off_the_training_thread_even_after_a_quick_fsync(tmp_path,
                                                                               monkeypatch):
    from mmlite.hooks import CheckpointHook
    from mmlite.runner import Runner
    from mmlite.runner import checkpoint as checkpoint_module
    real_save, real_write = CheckpointHook._save, checkpoint_module.write_text_atomic
    writers = []

    def save_then_settle(self, runner, filename, **kwargs):
        real_save(self, runner, filename, **kwargs)
        wait_for_checkpoint_writes()  # the fsync is done before the hook queues the pointer

    def recording_write(filename, text):
        writers.append(threading.current_thread())
        real_write(filename, text)
    monkeypatch.setattr(CheckpointHook, '_save', save_then_settle)
    monkeypatch.setattr(checkpoint_module, 'write_text_atomic', recording_write)
    work = tmp_path / 'work'
    Runner(model=_Net(), work_dir=str(work), train_cfg=dict(by_epoch=True, max_epochs=2),
           train_dataloader=torch.utils.data.DataLoader(torch.randn(4, 2), batch_size=2),
           optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)), log_level='WARNING').train()
    assert len(writers) == 2 and threading.main_thread() not in writers
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_2.pth')


def test_a_state_serialised_in_memory_is_written_whole_in_pieces(tmp_path):
    weights = torch.arange(700_000, dtype=torch.float32)  # 2.8 MB: three 1 MB pieces
    assert weights.nbytes <= checkpoint_module._IN_MEMORY_LIMIT
    path = str(tmp_path / 'epoch_1.pth')
    with deferred_writes():
        save_checkpoint({'w': weights}, path)
    wait_for_checkpoint_writes()
    assert torch.equal(torch.load(path, weights_only=True)['w'], weights)


def test_write_bytes_atomic_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / 'last_checkpoint'
    checkpoint_module.write_text_atomic(str(path), 'epoch_1.pth')
    data = bytes(range(256)) * 9000  # > 2 MB: several writes
    checkpoint_module.write_bytes_atomic(str(tmp_path / 'big.bin'), memoryview(data))
    assert (tmp_path / 'big.bin').read_bytes() == data
    # Short writes (os.write may take less than offered) still deliver every byte.
    real_write = os.write
    monkeypatch.setattr(os, 'write', lambda fd, chunk: real_write(fd, chunk[:1000]))
    checkpoint_module.write_bytes_atomic(str(tmp_path / 'short.bin'), data[:5000])
    assert (tmp_path / 'short.bin').read_bytes() == data[:5000]

    def full_disk(fd):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(os, 'fsync', full_disk)
    with pytest.raises(OSError, match='No space left'):
        checkpoint_module.write_text_atomic(str(path), 'epoch_2.pth')
    assert path.read_text() == 'epoch_1.pth'  # the old pointer, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ['big.bin', 'last_checkpoint', 'short.bin']


@pytest.mark.skipif(os.name != 'posix', reason='POSIX permission bits')
@pytest.mark.parametrize('deferred', [True, False], ids=['deferred', 'synchronous'])
def test_checkpoints_get_the_permissions_open_gives(tmp_path, deferred):
    # Not mkstemp's 0600: a checkpoint shared on a cluster is readable as torch.save's would be.
    umask = os.umask(0o022)
    os.umask(umask)
    path = tmp_path / 'epoch_1.pth'
    with deferred_writes(deferred):
        save_checkpoint({'w': torch.ones(1)}, str(path))
    wait_for_checkpoint_writes()
    checkpoint_module.write_text_atomic(str(tmp_path / 'last_checkpoint'), str(path))
    for written in (path, tmp_path / 'last_checkpoint'):
        assert written.stat().st_mode & 0o777 == 0o666 & ~umask
