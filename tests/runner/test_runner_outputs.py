"""What a run leaves behind (work_dir layout, logs, TensorBoard events, checkpoints) and
what the next run does with it (resume, test), from the command line and from Python."""
import json
import os
import subprocess
import sys

import pytest
import torch

from mmlite.config import Config
from mmlite.runner import Runner
from mmlite.utils import device as device_utils

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(REPO, 'configs', 'digits_mlp.py')


def digits_cfg(work_dir, max_epochs=2, **overrides):
    cfg = Config.fromfile(DIGITS)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_epochs = max_epochs
    cfg.default_hooks.logger.interval = 10
    cfg.merge_from_dict(overrides)
    return cfg


def run_dirs(work_dir):
    return sorted(d for d in os.listdir(work_dir) if os.path.isdir(os.path.join(work_dir, d)))


def test_work_dir_layout_logs_and_checkpoint_contents(tmp_path):
    runner = Runner.from_cfg(digits_cfg(tmp_path))
    runner.train()
    (stamp,) = run_dirs(tmp_path)
    log = (tmp_path / stamp / f'{stamp}.log').read_text()
    assert 'Epoch(train) [1][10/45]' in log and 'Epoch(val) [2]' in log and 'accuracy/top1' in log
    assert 'Environment:' in log and 'Hooks will be executed' in log
    scalars = [json.loads(line) for line in (tmp_path / stamp / 'vis_data' / 'scalars.json').open()]
    train_lines = [s for s in scalars if 'loss' in s]
    assert [s['step'] for s in train_lines][:2] == [10, 20] and all('lr' in s for s in train_lines)
    assert any('accuracy/top1' in s for s in scalars)
    assert (tmp_path / stamp / 'vis_data' / 'config.py').exists()
    assert Config.fromfile(str(tmp_path / 'digits_mlp.py')).train_cfg.max_epochs == 2

    pointer = (tmp_path / 'last_checkpoint').read_text().strip()
    assert pointer == str(tmp_path / 'epoch_2.pth')
    ckpt = torch.load(pointer, weights_only=True)
    assert {'meta', 'state_dict', 'optimizer', 'param_schedulers', 'message_hub', 'rng_state'} <= set(ckpt)
    meta = ckpt['meta']
    assert (meta['epoch'], meta['iter'], meta['seed']) == (2, 90, 0)
    assert meta['experiment_name'] == runner.experiment_name and 'mmlite_version' in meta
    assert meta['dataset_meta']['classes'][0] == '0'
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]


def test_resume_from_last_checkpoint_continues_where_the_run_stopped(tmp_path):
    first = Runner.from_cfg(digits_cfg(tmp_path, max_epochs=2))
    first.train()
    weights = {k: v.clone() for k, v in first.model.state_dict().items()}
    second = Runner.from_cfg(digits_cfg(tmp_path, max_epochs=3, resume=True))
    loaded = {}

    from mmlite.hooks import Hook

    class Peek(Hook):
        def before_train(self, runner):
            loaded.update(epoch=runner.epoch, iter=runner.iter,
                          equal=all(torch.equal(v, runner.model.state_dict()[k]) for k, v in weights.items()))
    second.register_hook(Peek())
    second.train()
    assert loaded == dict(epoch=2, iter=90, equal=True)
    assert (second.epoch, second.iter) == (3, 135)
    assert (tmp_path / 'last_checkpoint').read_text().strip().endswith('epoch_3.pth')


def test_tensorboard_backend_writes_event_files_that_read_back(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    cfg = digits_cfg(tmp_path, max_epochs=1)
    cfg.visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend'),
                                                           dict(type='TensorboardVisBackend')])
    runner = Runner.from_cfg(cfg)
    runner.train()
    runner.visualizer.close()
    (stamp,) = run_dirs(tmp_path)
    acc = EventAccumulator(str(tmp_path / stamp / 'vis_data'))
    acc.Reload()
    tags = acc.Tags()['scalars']
    assert 'loss' in tags and 'accuracy/top1' in tags
    losses = acc.Scalars('loss')
    assert [e.step for e in losses] == [10, 20, 30, 40]
    assert losses[-1].value < losses[0].value
    assert acc.Scalars('accuracy/top1')[0].value > 50


def test_lazy_building_and_missing_parts_name_the_config_keys(tmp_path):
    cfg = digits_cfg(tmp_path)
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler', 'val_dataloader',
                'val_cfg', 'val_evaluator'):
        cfg.pop(key)
    runner = Runner.from_cfg(cfg)  # test parts only: nothing else is needed
    assert runner._train_loop is None
    metrics = runner.test()
    assert 'accuracy/top1' in metrics
    with pytest.raises(RuntimeError, match='train_dataloader, train_cfg and optim_wrapper'):
        runner.train()
    bad = digits_cfg(tmp_path / 'b')
    bad.pop('optim_wrapper')
    with pytest.raises(ValueError, match='lacks optim_wrapper'):
        Runner.from_cfg(bad)


def test_tools_train_then_tools_test_print_accuracy(tmp_path):
    work_dir = tmp_path / 'wd'
    train = subprocess.run([sys.executable, os.path.join(REPO, 'tools/train.py'), DIGITS, '--work-dir',
                            str(work_dir), '--cfg-options', 'train_cfg.max_epochs=2'],
                           capture_output=True, text=True, timeout=300)
    assert train.returncode == 0, train.stderr[-2000:]
    assert 'Epoch(val) [2]' in train.stdout + train.stderr
    test = subprocess.run([sys.executable, os.path.join(REPO, 'tools/test.py'), DIGITS,
                           str(work_dir / 'epoch_2.pth'), '--work-dir', str(work_dir)],
                          capture_output=True, text=True, timeout=300)
    assert test.returncode == 0, test.stderr[-2000:]
    out = test.stdout + test.stderr
    assert 'Epoch(test)' in out and 'accuracy/top1' in out


@pytest.mark.parametrize('cuda, mps, expected', [(True, True, 'cuda'), (False, True, 'mps'),
                                                 (False, False, 'cpu')])
def test_device_preference(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(device_utils, 'is_cuda_available', lambda: cuda)
    monkeypatch.setattr(device_utils, 'is_mps_available', lambda: mps)
    assert device_utils.get_device() == expected


def test_autocast_dtype_per_device():
    assert device_utils.autocast_dtype('cpu') is torch.bfloat16
    assert device_utils.autocast_dtype('cuda') is torch.float16
    assert device_utils.autocast_dtype('cpu', 'float16') is torch.float16


def test_mmcv_1x_keys_get_a_migration_hint(tmp_path, monkeypatch):
    import mmlite.runner.runner as runner_module
    said = []
    monkeypatch.setattr(runner_module, 'print_log', lambda msg, **kw: said.append(msg))
    cfg = digits_cfg(tmp_path)
    cfg.lr_config = dict(policy='step', step=[15])
    cfg.optimizer = dict(type='SGD', lr=0.1)
    Runner.from_cfg(cfg)
    text = ' '.join(said)
    assert 'MMCV 1.x keys' in text and 'lr_config -> param_scheduler' in text
    assert 'optimizer -> optim_wrapper=dict(optimizer=...)' in text
