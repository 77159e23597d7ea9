"""A small stand-in for the Runner: exactly the attributes hooks may use, real MessageHub,
real LogProcessor, a visualizer that records calls, and a save_checkpoint that writes files."""
from __future__ import annotations

import itertools
import logging
import os
import os.path as osp
import types

import pytest
import torch
from torch import nn

from mmlite.logging import MessageHub
from mmlite.runner.log_processor import LogProcessor

_ids = itertools.count()


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class RecordingVisualizer:
    def __init__(self) -> None:
        self.scalars: list[tuple[dict, int, str]] = []
        self.closed = False

    def add_scalars(self, scalar_dict: dict, step: int = 0, file_path: str | None = None) -> None:
        self.scalars.append((dict(scalar_dict), step, file_path))

    def close(self) -> None:
        self.closed = True


class FakeOptimWrapper:
    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def get_lr(self) -> dict:
        return {'lr': [self.lr]}


class FakeRunner:
    """Drives hooks the way the loops do; ``iter``/``epoch`` move after the after_* points."""

    def __init__(self, tmp_path, hooks=(), n_batches: int = 10, max_epochs: int = 3,
                 by_epoch: bool = True, max_iters: int | None = None, n_val_batches: int = 4,
                 model: nn.Module | None = None) -> None:
        self.work_dir = str(tmp_path / 'work_dirs' / 'exp')
        self.timestamp = '20240101_000000'
        self.log_dir = osp.join(self.work_dir, self.timestamp)
        os.makedirs(self.log_dir, exist_ok=True)
        self.experiment_name = 'exp_20240101_000000'
        self.cfg = types.SimpleNamespace(pretty_text="model = dict(type='Toy')")
        self.seed = 42
        self.rank, self.world_size, self.distributed = 0, 1, False
        self.model = model if model is not None else nn.Linear(2, 1)
        self.optim_wrapper = FakeOptimWrapper()
        self.param_schedulers = None
        self.train_dataloader = list(range(n_batches))
        self.val_dataloader = list(range(n_val_batches))
        self.test_dataloader = list(range(n_val_batches))
        self.max_epochs = max_epochs if by_epoch else 1
        self.max_iters = max_iters if max_iters is not None else max_epochs * n_batches
        self.train_loop = types.SimpleNamespace(dataloader=self.train_dataloader,
                                                max_epochs=self.max_epochs,
                                                max_iters=self.max_iters, stop_training=False)
        self.val_loop = types.SimpleNamespace(dataloader=self.val_dataloader)
        self.test_loop = types.SimpleNamespace(dataloader=self.test_dataloader)
        self.epoch = 0
        self.iter = 0
        self.message_hub = MessageHub.get_instance(f'hooks-test-{next(_ids)}')
        self.logger = logging.getLogger(f'hooks-test-{next(_ids)}')
        self.logger.propagate = False
        self.log_handler = ListHandler()
        self.logger.addHandler(self.log_handler)
        self.logger.setLevel(logging.INFO)
        self.visualizer = RecordingVisualizer()
        self.log_processor = LogProcessor(by_epoch=by_epoch)
        self.hooks = list(hooks)
        self.saved: list[str] = []

    # -- what the Runner offers hooks
    def call_hook(self, name: str, **kwargs) -> None:
        for hook in self.hooks:
            if hook.overrides(name):
                getattr(hook, name)(self, **kwargs)

    def save_checkpoint(self, out_dir, filename, save_optimizer=True, save_param_scheduler=True,
                        meta=None, by_epoch=True) -> str:
        from mmlite.runner.checkpoint import save_checkpoint
        checkpoint = {'meta': dict(meta or {}), 'state_dict': self.model.state_dict(),
                      'message_hub': self.message_hub.state_dict()}
        if save_optimizer:
            checkpoint['optimizer'] = {'lr': self.optim_wrapper.lr}
        self.call_hook('before_save_checkpoint', checkpoint=checkpoint)
        path = save_checkpoint(checkpoint, osp.join(out_dir, filename))
        self.saved.append(path)
        return path

    # -- loop drivers (MMEngine's order of points)
    def train_epoch(self, outputs=lambda i: {'loss': torch.tensor(1.0 / (i + 1))}) -> None:
        self.call_hook('before_train_epoch')
        for idx, batch in enumerate(self.train_dataloader):
            self.train_iter(idx, batch, outputs(self.iter))
            if self.train_loop.stop_training:
                break
        self.call_hook('after_train_epoch')
        self.epoch += 1

    def train_iter(self, idx: int, batch=None, outputs=None) -> None:
        self.call_hook('before_train_iter', batch_idx=idx, data_batch=batch)
        self.call_hook('after_train_iter', batch_idx=idx, data_batch=batch, outputs=outputs)
        self.iter += 1

    def val(self, metrics: dict, mode: str = 'val') -> None:
        self.call_hook(f'before_{mode}')
        self.call_hook(f'before_{mode}_epoch')
        for idx, batch in enumerate(self.val_dataloader):
            self.call_hook(f'before_{mode}_iter', batch_idx=idx, data_batch=batch)
            self.call_hook(f'after_{mode}_iter', batch_idx=idx, data_batch=batch, outputs=[])
        self.call_hook(f'after_{mode}_epoch', metrics=metrics)
        self.call_hook(f'after_{mode}')

    def train(self, epochs: int | None = None, val_metrics=None) -> None:
        """Epoch-based run; ``val_metrics(epoch)`` gives the metrics after each epoch."""
        self.call_hook('before_run')
        self.call_hook('before_train')
        while self.epoch < (epochs or self.max_epochs) and not self.train_loop.stop_training:
            self.train_epoch()
            if val_metrics is not None:
                self.val(val_metrics(self.epoch))
        self.call_hook('after_train')
        self.call_hook('after_run')


@pytest.fixture
def make_runner(tmp_path):
    def make(*hooks, **kwargs) -> FakeRunner:
        return FakeRunner(tmp_path, hooks=hooks, **kwargs)
    return make


@pytest.fixture
def no_host_sync(monkeypatch):
    """Inside ``with no_host_sync():`` any tensor->host read raises (the hot-path contract)."""
    import contextlib

    @contextlib.contextmanager
    def guard():
        def refuse(*args, **kwargs):
            raise AssertionError('host-device sync on the training hot path')
        with monkeypatch.context() as patch:
            for name in ('item', 'tolist', 'cpu', '__float__', '__bool__', 'numpy'):
                patch.setattr(torch.Tensor, name, refuse)
            yield
    return guard
