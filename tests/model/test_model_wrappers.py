"""Model wrappers, SyncBatchNorm conversion, and real 2-process DDP on the CPU."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from mmlite.model import (BaseTTAModel, convert_sync_batchnorm, detect_anomalous_params, is_model_wrapper,
                          revert_sync_batchnorm)
from mmlite.registry import MODEL_WRAPPERS, Registry

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_is_model_wrapper_knows_torch_wrappers_and_child_registries():
    model = nn.Linear(2, 2)
    assert not is_model_wrapper(model)
    assert is_model_wrapper(nn.DataParallel(model))

    child = Registry('model_wrapper', parent=MODEL_WRAPPERS, scope='wrapper_test_scope')
    try:
        @child.register_module()
        class MyWrapper(nn.Module):
            def __init__(self, module):
                super().__init__()
                self.module = module

        assert is_model_wrapper(MyWrapper(model))
        assert not is_model_wrapper(MyWrapper(model), registry=Registry('other', scope='other_scope'))
    finally:
        MODEL_WRAPPERS.children.pop('wrapper_test_scope')


def test_revert_and_convert_sync_batchnorm_keep_parameters_and_stats():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Sequential(nn.BatchNorm1d(4)))
    model[1].running_mean.fill_(0.5)
    synced = convert_sync_batchnorm(model)
    assert isinstance(synced[1], nn.SyncBatchNorm) and isinstance(synced[2][0], nn.SyncBatchNorm)
    synced.eval()
    weight = synced[1].weight
    reverted = revert_sync_batchnorm(synced)
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in reverted.modules())
    assert isinstance(reverted[1], nn.modules.batchnorm._BatchNorm)
    assert reverted[1].weight is weight  # the same Parameter: optimizers keep working
    assert torch.all(reverted[1].running_mean == 0.5) and not reverted[1].training
    # Runs in one process on the CPU, with any input rank.
    reverted.train()
    assert reverted(torch.randn(2, 3, 5, 5)).shape == (2, 4, 5, 5)
    with pytest.raises(ValueError, match="implementation='torch'"):
        convert_sync_batchnorm(model, implementation='mmcv')


def test_detect_anomalous_params_lists_unused_trainable_params():
    model = nn.ModuleDict(dict(used=nn.Linear(2, 1), unused=nn.Linear(2, 1), frozen=nn.Linear(2, 1)))
    model['frozen'].requires_grad_(False)
    loss = model['used'](torch.randn(3, 2)).sum()
    assert detect_anomalous_params(loss, model) == ['unused.weight', 'unused.bias']


def test_tta_model_splits_views_and_merges():
    class Inner(nn.Module):
        def test_step(self, data):
            return [v * 10 for v in data['inputs']]

    class MeanTTA(BaseTTAModel):
        def merge_preds(self, data_samples_list):
            return [sum(views) / len(views) for views in data_samples_list]

    tta = MeanTTA(Inner())
    # Two views of a 2-sample batch.
    batch = dict(inputs=[[1.0, 2.0], [3.0, 4.0]])
    assert tta.test_step(batch) == [20.0, 30.0]


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.dist
def test_ddp_train_step_syncs_gradients_across_two_cpu_processes(tmp_path):
    # What torchrun sets up, without its elastic agent (one torch import fewer).
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''),
               GLOO_SOCKET_IFNAME='lo', OMP_NUM_THREADS='1', MASTER_ADDR='127.0.0.1',
               MASTER_PORT=str(_free_port()), WORLD_SIZE='2', LOCAL_WORLD_SIZE='2')
    cmd = [sys.executable, str(Path(__file__).with_name('dist_wrappers_worker.py')), str(tmp_path)]
    procs = [subprocess.Popen(cmd, env=dict(env, RANK=str(r), LOCAL_RANK=str(r)), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
    ranks = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in (0, 1)]
    for rank, result in enumerate(ranks):
        # w=[1,1], x=[r+1,0], loss=(w.x)^2: grads [2,0] and [8,0] average to [5,0]; lr 0.1.
        assert result['weight'] == pytest.approx([0.5, 1.0])
        assert result['loss'] == pytest.approx((rank + 1.0) ** 2)
        assert not result['loss_requires_grad']
        assert result['context_models'] == ['MMDistributedDataParallel']
        assert result['val'] == result['test'] == pytest.approx([0.5 * (rank + 1)])
        assert result['is_wrapper'] == [True, False]
        assert result['anomalous'] == ['module.spare.weight', 'module.spare.bias']
        assert result['separate'] == dict(data_preprocessor='BaseDataPreprocessor',
                                          gen='MMDistributedDataParallel', disc='MMDistributedDataParallel',
                                          frozen='Linear')
        assert result['separate_step'] == dict(gen_type='MMDistributedDataParallel')
        assert result['separate_is_wrapper']
    fsdp = ranks[0]['fsdp']
    if fsdp['ok']:
        assert fsdp['type'] == 'MMFullyShardedDataParallel' and fsdp['is_wrapper']
    else:
        # torch's FSDP refuses CPU-only machines; the wrapper was built up to that point.
        assert 'accelerator' in fsdp['error'] or 'cuda' in fsdp['error'].lower(), fsdp['error']


def test_fsdp_wrapper_is_registered_lazily():
    assert 'MMFullyShardedDataParallel' in MODEL_WRAPPERS.module_dict
    import mmlite.model as model_pkg
    cls = model_pkg.MMFullyShardedDataParallel
    assert MODEL_WRAPPERS.get('MMFullyShardedDataParallel') is cls
    from torch.distributed.fsdp import FullyShardedDataParallel
    assert issubclass(cls, FullyShardedDataParallel)
