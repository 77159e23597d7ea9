"""Checkpoint files: written atomically, readable by the weights-only loader, and loaded with
errors that list what does not fit."""
import os
import os.path as osp
import random
import re
import sys

import numpy as np
import pytest
import torch
from torch import nn

sys.path.insert(0, osp.dirname(__file__))
import resume_toys as toys  # noqa: E402

from mmlite.hooks import Hook  # noqa: E402
from mmlite.runner import (CheckpointError, Runner, get_rng_state, load_checkpoint,  # noqa: E402
                           save_checkpoint, set_rng_state)
from mmlite.runner import checkpoint as checkpoint_module  # noqa: E402


class Small(nn.Module):
    def __init__(self, hidden=4):
        super().__init__()
        self.fc1 = nn.Linear(3, hidden)
        self.fc2 = nn.Linear(hidden, 2)


def test_strict_load_lists_mismatched_missing_and_unexpected_keys(tmp_path):
    path = str(tmp_path / 'small.pth')
    state = Small(hidden=4).state_dict()
    state['extra.weight'] = torch.zeros(1)
    del state['fc2.bias']
    save_checkpoint({'state_dict': state}, path)

    with pytest.raises(CheckpointError) as info:
        load_checkpoint(Small(hidden=5), path, strict=True)
    message = str(info.value)
    assert 'the checkpoint does not fit Small' in message
    assert 'unexpected keys in the checkpoint: extra.weight' in message
    assert 'keys the checkpoint lacks: fc2.bias' in message
    assert 'fc1.weight: checkpoint (4, 3) vs model (5, 3)' in message
    assert 'fc2.weight: checkpoint (2, 4) vs model (2, 5)' in message
    assert 'strict=False' in message

    model = Small(hidden=4)
    load_checkpoint(model, path, strict=False)  # loads what fits
    assert torch.equal(model.fc1.weight, state['fc1.weight'])


def test_an_interrupted_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = str(tmp_path / 'ckpt.pth')
    save_checkpoint({'state_dict': {'w': torch.ones(3)}}, path)
    before = open(path, 'rb').read()

    def dies_halfway(obj, f, *args, **kwargs):
        f.write(b'half a checkpoint')
        raise KeyboardInterrupt  # e.g. the job is killed while writing

    monkeypatch.setattr(checkpoint_module.torch, 'save', dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({'state_dict': {'w': torch.zeros(3)}}, path)
    assert open(path, 'rb').read() == before
    assert os.listdir(tmp_path) == ['ckpt.pth']  # no temporary file left behind


def test_last_checkpoint_moves_only_after_the_file_is_complete(tmp_path, monkeypatch):
    real_save = checkpoint_module.torch.save
    saves = []

    def fails_on_the_second_interval_save(obj, f, *args, **kwargs):
        saves.append(obj['meta']['iter'])
        if obj['meta']['iter'] == 8:
            raise OSError('disk full')
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module.torch, 'save', fails_on_the_second_interval_save)
    with pytest.raises(OSError, match='disk full'):
        Runner(**toys.toy_cfg(tmp_path)).train()
    assert saves == [4, 8]
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read().strip() == osp.join(tmp_path, 'iter_4.pth')
    assert sorted(n for n in os.listdir(tmp_path) if 'pth' in n) == ['iter_4.pth']


def test_every_file_the_runner_writes_loads_weights_only(tmp_path):
    Runner(**toys.toy_cfg(tmp_path, length=1)).train()
    names = sorted(n for n in os.listdir(tmp_path) if n.endswith('.pth'))
    assert names == ['iter_4.pth', 'iter_6.pth']
    for name in names:
        checkpoint = torch.load(tmp_path / name, weights_only=True)
        assert {'meta', 'state_dict', 'message_hub', 'optimizer', 'param_schedulers',
                'rng_state'} <= set(checkpoint)
        assert checkpoint['meta']['seed'] == 7


class _AddsAnArray(Hook):
    """A hook that puts a non-plain object in the checkpoint."""

    def before_save_checkpoint(self, runner, checkpoint):
        checkpoint['meta']['rng'] = np.random.RandomState(0)


def test_a_value_the_safe_loader_refuses_is_named_before_writing(tmp_path):
    runner = Runner(**toys.toy_cfg(tmp_path, length=1))
    runner.register_hook(_AddsAnArray())
    with pytest.raises(CheckpointError) as info:
        runner.train()
    message = str(info.value)
    assert "checkpoint['meta']['rng'] is a numpy.random.mtrand.RandomState" in message
    assert 'before_save_checkpoint' in message
    assert not [n for n in os.listdir(tmp_path) if n.endswith('.pth') or n.endswith('.tmp')]


def _draws() -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_rng_states_round_trip_weights_only_and_older_tensor_states_still_restore(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    state = get_rng_state()
    expected = _draws()
    path = str(tmp_path / 'rng.pth')
    save_checkpoint({'rng_state': [state]}, path)
    set_rng_state(torch.load(path, weights_only=True)['rng_state'][0])
    assert _draws() == expected

    # Checkpoints written before the states became bytes hold int64 and uint8 tensors.
    version, words, gauss = state['python']
    name, keys, pos, has_gauss, cached = state['numpy']
    older = {'python': [version, torch.tensor(np.frombuffer(words, '<u4'), dtype=torch.int64), gauss],
             'numpy': [name, torch.tensor(np.frombuffer(keys, '<u4'), dtype=torch.int64), pos,
                       has_gauss, cached],
             'torch': torch.frombuffer(bytearray(state['torch']), dtype=torch.uint8)}
    set_rng_state(older)
    assert _draws() == expected


@pytest.mark.parametrize('state,message', [
    ({'meta': {'runs': [1, {'table': np.zeros(2)}]}},
     "checkpoint['meta']['runs'][1]['table'] is a numpy.ndarray"),
    ({'meta': {'shape': {(1, 2): 3}}}, "checkpoint['meta']['shape'] has a key of type tuple"),
])
def test_a_refused_value_or_key_is_named_by_its_path_and_nothing_is_written(tmp_path, state,
                                                                           message):
    with pytest.raises(CheckpointError, match=re.escape(message)):
        save_checkpoint(state, str(tmp_path / 'bad.pth'))
    assert os.listdir(tmp_path) == []
