"""ProgressBarHook on a fake terminal: registered only there, draws epoch/iter, ETA and the logged
loss, keeps the log lines, honours NO_COLOR, and costs nothing when inactive."""
from __future__ import annotations

import io
import itertools
import logging
import re
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mmlite.dataset import default_collate
from mmlite.hooks import Hook, ProgressBarHook
from mmlite.model import BaseModel
from mmlite.runner import Runner

_ids = itertools.count()
COLOUR = re.compile(r'\x1b\[(?:3[0-7]|9[0-7]|38;5;\d+)m')


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class Points(Dataset):
    def __init__(self, size: int = 32) -> None:
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(size, 4, generator=generator)
        self.y = (self.x[:, 0] > 0).long()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], labels=self.y[i])


class Toy(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, inputs, labels=None, mode='tensor', data_samples=None):
        logits = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=F.cross_entropy(logits, labels))
        return [dict(pred_score=s, gt_label=g) for s, g in zip(logits.softmax(1), labels)]


def make_runner(tmp_path, interval: int = 4, **kwargs) -> Runner:
    # A name of its own: runners started in the same second would share one logger.
    kwargs.setdefault('experiment_name', f'progress-test-{next(_ids)}')
    loader = DataLoader(Points(), batch_size=4, collate_fn=default_collate)  # 8 batches
    val_loader = DataLoader(Points(8), batch_size=4, collate_fn=default_collate)
    return Runner(model=Toy(), work_dir=str(tmp_path), train_dataloader=loader,
                  train_cfg=dict(by_epoch=True, max_epochs=2),
                  optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                  val_dataloader=val_loader, val_cfg=dict(), val_evaluator=dict(type='Accuracy'),
                  default_hooks=dict(logger=dict(type='LoggerHook', interval=interval),
                                     checkpoint=None), **kwargs)


def use_terminal(monkeypatch) -> FakeTTY:
    """Make stdout a terminal (a fake one to read back). Called in the test body: pytest's
    output capture resets sys.stdout between a fixture's setup and the test."""
    fake = FakeTTY()
    monkeypatch.setattr(sys, 'stdout', fake)
    monkeypatch.setenv('TERM', 'xterm-256color')
    monkeypatch.delenv('NO_COLOR', raising=False)
    return fake


def hook_names(runner) -> list[str]:
    return [type(hook).__name__ for hook in runner.hooks]


def test_registered_by_default_only_on_an_interactive_stdout(tmp_path, monkeypatch):
    use_terminal(monkeypatch)
    assert 'ProgressBarHook' in hook_names(make_runner(tmp_path / 'tty'))
    assert 'ProgressBarHook' not in hook_names(make_runner(tmp_path / 'off', cfg=dict(progress=False)))
    monkeypatch.setenv('TERM', 'dumb')
    assert 'ProgressBarHook' not in hook_names(make_runner(tmp_path / 'dumb'))
    monkeypatch.setattr(sys, 'stdout', io.StringIO())
    monkeypatch.setenv('TERM', 'xterm-256color')
    assert 'ProgressBarHook' not in hook_names(make_runner(tmp_path / 'pipe'))


def test_inactive_hook_claims_no_point():
    assert ProgressBarHook(enabled=False).get_triggered_stages() == []
    active = ProgressBarHook(enabled=True).get_triggered_stages()
    assert {'before_train', 'after_train_iter', 'before_val', 'after_val', 'after_run'} <= set(active)
    with pytest.raises(ValueError, match='interval'):
        ProgressBarHook(interval=0)


def _console_handlers(logger) -> list[logging.StreamHandler]:
    return [h for h in logger.handlers
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]


class StreamSpy(Hook):
    """Records the console handlers' stream types while training runs."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.seen.update(type(h.stream).__name__ for h in _console_handlers(runner.logger))


def test_bar_shows_epoch_iterations_eta_and_the_logged_loss(tmp_path, monkeypatch):
    terminal = use_terminal(monkeypatch)
    spy = StreamSpy()
    runner = make_runner(tmp_path, custom_hooks=[spy])
    runner.train()
    # While the bar is up, log lines go through its console (so they print above it).
    assert spy.seen == {'_ConsoleStream'}
    out = terminal.getvalue()
    assert 'epoch 1/2' in out and 'epoch 2/2' in out
    assert '16/16' in out and 'eta ' in out
    # The loss on the bar is the one the log line reduced at the last interval.
    last_logged = re.findall(r'Epoch\(train\) \[2\]\[8/8\].*loss: (\d+\.\d{4})', out)
    assert last_logged and f'loss: {last_logged[-1]}' in re.sub(r'\x1b\[[0-9;?]*[a-zA-Z]', '', out)
    assert 'Epoch(val) [2][2/2]' in out  # log lines still print
    assert COLOUR.search(out)
    assert out.rfind('\x1b[?25h') > out.rfind('\x1b[?25l')  # the cursor is shown again
    # The logger writes straight to the terminal again.
    consoles = _console_handlers(runner.logger)
    assert consoles and all(h.stream is terminal for h in consoles)


def test_no_color_keeps_the_bar_but_drops_colours(tmp_path, monkeypatch):
    terminal = use_terminal(monkeypatch)
    monkeypatch.setenv('NO_COLOR', '1')
    make_runner(tmp_path).train()
    out = terminal.getvalue()
    assert '16/16' in out and not COLOUR.search(out)


def test_losses_are_read_only_where_log_lines_are_due(tmp_path, monkeypatch):
    use_terminal(monkeypatch)
    reads = []
    original = ProgressBarHook._read_losses

    def counting(self, runner):
        reads.append(runner.iter + 1)
        return original(self, runner)

    monkeypatch.setattr(ProgressBarHook, '_read_losses', counting)
    make_runner(tmp_path, interval=3).train()
    # interval 3 in 8-batch epochs: batches 3, 6 and the epoch's last (8)
    assert reads == [3, 6, 8, 11, 14, 16]
