"""DistSamplerSeedHook, SyncBuffersHook (real gloo processes) and ProfilerHook (CPU trace)."""
import json
import os
import os.path as osp
import socket
import types

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from mmlite.hooks import DistSamplerSeedHook, ProfilerHook, SyncBuffersHook


class EpochSampler:
    def __init__(self):
        self.epochs = []

    def set_epoch(self, epoch):
        self.epochs.append(epoch)


def test_sampler_seed_sets_the_epoch(make_runner):
    runner = make_runner(DistSamplerSeedHook(), n_batches=1)
    sampler = EpochSampler()
    runner.train_loop.dataloader = types.SimpleNamespace(sampler=sampler)
    runner.train_dataloader = runner.train_loop.dataloader.__dict__.setdefault('items', [0])
    runner.call_hook('before_train_epoch')
    runner.epoch = 4
    runner.call_hook('before_train_epoch')
    assert sampler.epochs == [0, 4]


def test_sampler_seed_reaches_the_batch_samplers_sampler(make_runner):
    runner = make_runner(DistSamplerSeedHook())
    inner = EpochSampler()
    runner.train_loop.dataloader = types.SimpleNamespace(
        sampler=object(), batch_sampler=types.SimpleNamespace(sampler=inner))
    runner.epoch = 2
    runner.call_hook('before_train_epoch')
    assert inner.epochs == [2]


def test_sync_buffers_is_a_noop_when_not_distributed(make_runner):
    model = nn.BatchNorm1d(2)
    runner = make_runner(SyncBuffersHook(), model=model)
    model.running_mean.fill_(3.0)
    runner.call_hook('after_train_epoch')
    runner.call_hook('before_val_epoch')
    assert torch.equal(model.running_mean, torch.full((2,), 3.0))


def _sync_worker(rank, port, out_dir):
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=2)
    model = nn.BatchNorm1d(2)
    model.running_mean.fill_(float(rank * 2))  # 0 and 2 -> mean 1
    model.num_batches_tracked.fill_(5)
    runner = types.SimpleNamespace(distributed=True, model=model)
    hook = SyncBuffersHook()
    hook.after_train_epoch(runner)
    first = model.running_mean.clone()
    model.running_mean.fill_(float(rank * 4))  # not synced again: val follows the epoch sync
    hook.before_val_epoch(runner)
    second = model.running_mean.clone()
    hook.before_val_epoch(runner)  # iteration-based: no epoch end before this val -> sync
    torch.save({'first': first, 'second': second, 'third': model.running_mean.clone(),
                'count': model.num_batches_tracked.clone()}, osp.join(out_dir, f'{rank}.pt'))
    dist.destroy_process_group()


@pytest.mark.dist
def test_sync_buffers_averages_float_buffers_across_ranks(tmp_path):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    # fork: the children need not re-import torch and this module (spawn takes ~10 s here)
    mp.start_processes(_sync_worker, args=(port, str(tmp_path)), nprocs=2, join=True,
                       start_method='fork')
    for rank in range(2):
        result = torch.load(tmp_path / f'{rank}.pt', weights_only=True)
        assert torch.equal(result['first'], torch.ones(2))
        assert torch.equal(result['second'], torch.full((2,), float(rank * 4)))
        assert torch.equal(result['third'], torch.full((2,), 2.0))
        assert int(result['count']) == 5


def test_profiler_writes_a_chrome_trace_after_n_iterations(make_runner):
    hook = ProfilerHook(by_epoch=False, profile_times=2)
    runner = make_runner(hook, n_batches=4, max_epochs=1)
    runner.call_hook('before_run')
    for idx in range(3):
        runner.call_hook('before_train_iter', batch_idx=idx, data_batch=None)
        runner.model(torch.randn(4, 2)).sum()
        runner.call_hook('after_train_iter', batch_idx=idx, data_batch=None, outputs={})
        runner.iter += 1
    path = osp.join(runner.log_dir, 'profiler_trace.json')
    with open(path) as f:
        trace = json.load(f)
    assert any('linear' in event.get('name', '').lower() for event in trace['traceEvents'])
    mtime = os.path.getmtime(path)
    runner.call_hook('after_run')  # closed already: nothing rewritten
    assert os.path.getmtime(path) == mtime


def test_profiler_by_epoch_with_a_relative_trace_path(make_runner):
    hook = ProfilerHook(json_trace_path='prof/trace.json')
    runner = make_runner(hook, n_batches=2, max_epochs=2)
    runner.call_hook('before_run')
    runner.train_epoch()
    assert osp.isfile(osp.join(runner.log_dir, 'prof', 'trace.json'))


def test_profiler_closes_on_an_early_end(make_runner):
    hook = ProfilerHook(by_epoch=False, profile_times=5)
    runner = make_runner(hook, n_batches=5, max_epochs=1)
    runner.call_hook('before_run')
    runner.train_iter(0)
    runner.call_hook('after_run')
    assert osp.isfile(osp.join(runner.log_dir, 'profiler_trace.json'))


def test_profiler_checks(make_runner):
    with pytest.raises(ValueError, match='at most 1 epoch'):
        ProfilerHook(profile_times=2)
    with pytest.raises(ValueError, match='>= 1'):
        ProfilerHook(by_epoch=False, profile_times=0)
    hook = ProfilerHook(by_epoch=False, profile_times=100)
    with pytest.raises(ValueError, match='exceeds'):
        make_runner(hook, n_batches=2, max_epochs=1).call_hook('before_run')
    hook = ProfilerHook(on_trace_ready=dict(type='nope'))
    with pytest.raises(ValueError, match='log_trace'):
        make_runner(hook).call_hook('before_run')
