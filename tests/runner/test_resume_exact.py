"""Exact resume: a run that crashed and was resumed ends bit-identical to one that never stopped.

The toy run shuffles, draws dropout masks (global torch RNG) and augments every sample with
``random``, ``numpy.random`` and torch (dataloader worker RNG when num_workers > 0).
"""
import os
import os.path as osp
import sys

import pytest

sys.path.insert(0, osp.dirname(__file__))
import resume_toys as toys  # noqa: E402  (registers the toy parts)

from mmlite.runner import Runner  # noqa: E402

# (loop kind, sampler): the iteration-based loop with both an endless and an epoch sampler.
LOOPS = [('epoch', 'DefaultSampler'), ('iter', 'InfiniteSampler'), ('iter', 'DefaultSampler')]


def _train(**kwargs):
    runner = Runner(**toys.toy_cfg(**kwargs))
    runner.train()
    return runner


def _last_checkpoint(work_dir) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return osp.basename(f.read().strip())


@pytest.mark.parametrize('loop,sampler,num_workers', [
    (loop, sampler, workers) for loop, sampler in LOOPS for workers in (0, 2)
    if (loop, sampler, workers) != ('iter', 'DefaultSampler', 0)])  # the other five cover it
def test_crash_in_a_hook_then_resume_matches_an_uninterrupted_run(tmp_path, loop, sampler,
                                                                   num_workers):
    common = dict(by_epoch=loop == 'epoch', sampler=sampler, num_workers=num_workers)
    reference = _train(work_dir=tmp_path / 'reference', **common)

    work_dir = tmp_path / 'run'
    with pytest.raises(RuntimeError, match='simulated crash after iteration 10'):
        _train(work_dir=work_dir, crash_at=10, **common)
    # Iteration 8 is the 3rd of the 2nd epoch (6 per epoch): a checkpoint inside an epoch.
    assert _last_checkpoint(work_dir) == 'iter_8.pth'

    resumed = _train(work_dir=work_dir, resume=True, **common)
    assert resumed.iter == 18
    toys.assert_same_state(toys.state_of(reference), toys.state_of(resumed))
    # Every logged loss and lr, including the smoothed ones right after the resume.
    expected = toys.logged_train_scalars(tmp_path / 'reference')
    assert sorted(expected) == list(range(1, 19))
    assert toys.logged_train_scalars(work_dir) == expected


def test_resume_from_the_last_iteration_of_an_epoch(tmp_path):
    """A by-iteration checkpoint at an epoch's end: the resumed run finishes that epoch's
    epoch-end work (scheduler step, epoch checkpoint) before the next one, as the original did."""
    reference = _train(work_dir=tmp_path / 'reference', ckpt_interval=3)
    work_dir = tmp_path / 'run'
    with pytest.raises(RuntimeError, match='simulated crash'):
        _train(work_dir=work_dir, ckpt_interval=3, crash_at=8)
    assert _last_checkpoint(work_dir) == 'iter_6.pth'
    resumed = _train(work_dir=work_dir, ckpt_interval=3, resume=True)
    toys.assert_same_state(toys.state_of(reference), toys.state_of(resumed))
    assert toys.logged_train_scalars(work_dir) == toys.logged_train_scalars(tmp_path / 'reference')


def test_workers_augment_a_sample_the_same_whatever_worker_reads_it(tmp_path):
    """Per-sample seeding: with 1 or 2 workers, and after skipping into an epoch, a sample's
    augmentation depends only on the epoch seed and its index."""
    import torch

    from mmlite.runner.base_loop import skip_batches
    from mmlite.runner.builders import build_dataloader

    def batches(num_workers, skip=0):
        cfg = toys.toy_cfg(tmp_path)['train_dataloader']
        cfg.update(num_workers=num_workers, persistent_workers=False)
        loader = build_dataloader(cfg, seed=3)
        loader.sampler.set_epoch(1)
        skip_batches(loader, skip)
        return [batch['inputs'] for batch in loader]

    one_worker, two_workers, skipped = batches(1), batches(2), batches(2, skip=3)
    assert len(one_worker) == 6
    assert all(torch.equal(a, b) for a, b in zip(one_worker, two_workers, strict=True))
    # Started at batch 3, worker 0 reads what worker 1 read before: still the same samples.
    assert all(torch.equal(a, b) for a, b in zip(one_worker[3:], skipped, strict=True))


def test_extending_a_finished_run_continues_the_schedule_as_configured(tmp_path):
    """3 epochs with cosine over 3, then max_epochs and the cosine's end raised to 6: the lr
    of epochs 4-6 follows the cosine over 6 epochs, not the old end (where it would stay)."""
    work_dir = tmp_path / 'run'
    _train(work_dir=work_dir, length=3)
    assert _last_checkpoint(work_dir) == 'iter_18.pth'  # saved before the epoch-end lr step
    extended = _train(work_dir=work_dir, length=6, resume=True)
    assert extended.epoch == 6 and extended.iter == 36
    _train(work_dir=tmp_path / 'six_epochs', length=6)

    extended_lr = {step: entry['lr'] for step, entry in toys.logged_train_scalars(work_dir).items()}
    six_epochs_lr = {step: entry['lr']
                     for step, entry in toys.logged_train_scalars(tmp_path / 'six_epochs').items()}
    assert [extended_lr[s] for s in range(19, 37)] == [six_epochs_lr[s] for s in range(19, 37)]
    assert extended_lr[19] == pytest.approx(0.05)  # cos at 3/6 of the way: half of lr=0.1
    assert extended_lr[36] < extended_lr[30] < extended_lr[24]


def test_resume_true_in_an_empty_work_dir_starts_from_scratch(tmp_path):
    runner = _train(work_dir=tmp_path / 'fresh', resume=True, length=1)
    assert runner.iter == 6
    assert sorted(name for name in os.listdir(tmp_path / 'fresh') if name.endswith('.pth')) == \
        ['iter_4.pth', 'iter_6.pth']


@pytest.mark.parametrize('sampler_type', ['DefaultSampler', 'InfiniteSampler'])
def test_batches_carry_the_positions_of_their_indices(sampler_type):
    """What per-sample seeding rests on: a batch's (stream seed, first position, step) name
    each index's place in the epoch order (or the endless stream), on any rank, after a skip."""
    from mmlite.dataset import DefaultSampler, InfiniteSampler
    from mmlite.dataset.sample_seed import SeededBatchSampler
    from mmlite.dataset.sampler import _pass_order

    cls = DefaultSampler if sampler_type == 'DefaultSampler' else InfiniteSampler
    sampler = cls(list(range(23)), shuffle=True, seed=5)
    sampler.rank, sampler.world_size = 1, 2  # as rank 1 of 2 would see it
    sampler.set_epoch(3)
    sampler.skip(4)
    batches = SeededBatchSampler(sampler, batch_size=3, drop_last=False)
    seen = []
    for batch, _ in zip(batches, range(6), strict=False):  # the endless sampler never stops
        for k, index in enumerate(batch):
            position = batch.first_position + k * batch.position_step
            pass_index = 3 if cls is DefaultSampler else position // 23
            assert _pass_order(23, 5, pass_index, True)[position % 23] == index
            seen.append(position)
    # Rank 1's positions after skipping its first 4: 9, 11, 13, ... (and on into later passes).
    assert seen[:3] == [9, 11, 13] and len(set(seen)) == len(seen)


def test_a_checkpoint_in_the_earlier_layout_resumes_exactly(tmp_path):
    """Checkpoints written before the histories were packed and the RNG words became bytes:
    a history per key in log_scalars, the RNG states as int64 and uint8 tensors."""
    import numpy as np
    import torch

    from mmlite.logging import MessageHub
    reference = _train(work_dir=tmp_path / 'reference')
    work_dir = tmp_path / 'run'
    with pytest.raises(RuntimeError, match='simulated crash'):
        _train(work_dir=work_dir, crash_at=10)
    path = osp.join(work_dir, _last_checkpoint(work_dir))
    checkpoint = torch.load(path, weights_only=True)
    assert 'log_history' in checkpoint['message_hub']  # packed now
    unpacker = MessageHub('earlier-layout')
    unpacker.load_state_dict(checkpoint['message_hub'])
    checkpoint['message_hub'] = unpacker.state_dict()
    for state in checkpoint['rng_state']:
        state['python'][1] = torch.tensor(np.frombuffer(state['python'][1], '<u4'), dtype=torch.int64)
        state['numpy'][1] = torch.tensor(np.frombuffer(state['numpy'][1], '<u4'), dtype=torch.int64)
        state['torch'] = torch.frombuffer(bytearray(state['torch']), dtype=torch.uint8)
    torch.save(checkpoint, path)

    resumed = _train(work_dir=work_dir, resume=True)
    toys.assert_same_state(toys.state_of(reference), toys.state_of(resumed))
    assert toys.logged_train_scalars(work_dir) == toys.logged_train_scalars(tmp_path / 'reference')
