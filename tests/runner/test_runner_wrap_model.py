"""Runner.wrap_model: MMEngine's top-level ``find_unused_parameters`` and ``sync_bn`` keys."""
import socket

import pytest
import torch.distributed as torch_dist
from torch import nn

from mmlite.registry import MODEL_WRAPPERS
from mmlite.runner import builders


@pytest.fixture
def world_of_one():
    """A real one-process gloo group on 127.0.0.1, torn down after the test."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    torch_dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=0, world_size=1)
    try:
        yield
    finally:
        torch_dist.destroy_process_group()


def _net():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_find_unused_parameters_configures_the_default_ddp(world_of_one):
    wrapped = builders.wrap_model(_net(), None, distributed=True, device='cpu',
                                  find_unused_parameters=True)
    assert type(wrapped).__name__ == 'MMDistributedDataParallel'
    assert wrapped.find_unused_parameters is True
    plain = builders.wrap_model(_net(), None, distributed=True, device='cpu')
    assert plain.find_unused_parameters is False


def test_an_explicit_model_wrapper_cfg_wins_over_the_top_level_key(world_of_one):
    cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=False)
    wrapped = builders.wrap_model(_net(), cfg, distributed=True, device='cpu', find_unused_parameters=True)
    assert wrapped.find_unused_parameters is False


def test_sync_bn_converts_batch_norm_before_wrapping():
    seen = {}

    @MODEL_WRAPPERS.register_module(force=True)
    class RecordingWrapper(nn.Module):
        def __init__(self, module):
            super().__init__()
            seen['module'] = module
            self.module = module

    try:
        # 'meta' stands for an accelerator here: the conversion path is the one CUDA takes.
        builders.wrap_model(_net(), dict(type='RecordingWrapper'), distributed=True, device='meta',
                            sync_bn='torch')
    finally:
        MODEL_WRAPPERS._module_dict.pop('RecordingWrapper')
    assert isinstance(seen['module'][1], nn.SyncBatchNorm)


def test_sync_bn_on_the_cpu_is_refused_up_front():
    for device in ('cpu', 'mps'):
        with pytest.raises(ValueError, match=rf"sync_bn='torch'.*not run on {device}.*remove sync_bn"):
            builders.wrap_model(_net(), None, distributed=True, device=device, sync_bn='torch')
    with pytest.raises(ValueError, match=r'config key sync_bn: .*implementation'):
        builders.wrap_model(_net(), dict(type='MMDistributedDataParallel'), distributed=True,
                            device='meta', sync_bn='apex')


def test_keys_are_ignored_without_distribution():
    model = _net()
    assert builders.wrap_model(model, None, distributed=False, device='cpu', sync_bn='torch',
                               find_unused_parameters=True) is model
    assert isinstance(model[1], nn.BatchNorm1d)


def test_runner_passes_the_top_level_keys(tmp_path, monkeypatch):
    from mmlite.model import BaseModel
    from mmlite.runner import Runner

    class Net(BaseModel):
        def forward(self, inputs, data_samples=None, mode='tensor'):
            return inputs

    received = {}

    def fake_wrap(model, model_wrapper_cfg, distributed, device, **keys):
        received.update(keys)
        return model

    monkeypatch.setattr(builders, 'wrap_model', fake_wrap)
    Runner(model=Net(), work_dir=str(tmp_path), cfg=dict(find_unused_parameters=True, sync_bn='torch'))
    assert received == dict(find_unused_parameters=True, sync_bn='torch')
