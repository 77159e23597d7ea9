"""The training hot path reads no tensor back to the host outside log intervals.

A real Runner trains with the default hooks (plus gradient clipping and an iteration-based
scheduler, two more places a sync could hide) while every tensor-to-host read is counted:
``.item()``, ``.tolist()``, ``.cpu()``, ``.numpy()``, ``float()``, ``int()``, ``bool()`` and
``torch.cuda.synchronize``. On a GPU each of these waits for the device; on this CPU-only
machine they are counted all the same. An iteration spans its ``before_train_iter`` and
``after_train_iter`` points and the step between them; only iterations whose log line is due
may read anything.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmlite.hooks import Hook
from mmlite.model import BaseModel
from mmlite.runner import Runner

LOG_INTERVAL = 5
PER_EPOCH = 10
SYNC_METHODS = ('item', 'tolist', 'cpu', 'numpy', '__float__', '__int__', '__bool__')


class TinyNet(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        logits = self.fc(inputs)
        if mode == 'loss':
            # Two entries: parse_losses sums them and logs both.
            return dict(loss_cls=F.cross_entropy(logits, data_samples), loss_reg=logits.pow(2).mean())
        return logits


class Samples(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 4, generator=generator)
        self.y = torch.randint(0, 3, (n,), generator=generator)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=self.x[i], data_samples=self.y[i])


class SyncLedger:
    """Records (phase, iteration, batch_idx, method) for every host read while installed."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, int, str]] = []
        self.where: tuple[int, int] | None = None  # (runner.iter, batch_idx) inside an iteration
        self.training = False

    def record(self, method: str) -> None:
        if not self.training:
            return
        if self.where is None:
            self.events.append(('between', -1, -1, method))
        else:
            self.events.append(('iteration', *self.where, method))

    def install(self, monkeypatch) -> None:
        for name in SYNC_METHODS:
            original = getattr(torch.Tensor, name)

            def counting(tensor, *args, _original=original, _name=name, **kwargs):
                self.record(_name)
                return _original(tensor, *args, **kwargs)
            monkeypatch.setattr(torch.Tensor, name, counting)
        real_sync = torch.cuda.synchronize

        def counting_sync(*args, **kwargs):
            self.record('torch.cuda.synchronize')
            if torch.cuda.is_available():
                real_sync(*args, **kwargs)
        monkeypatch.setattr(torch.cuda, 'synchronize', counting_sync)


class IterationOpens(Hook):
    priority = 'HIGHEST'  # before every other before_train_iter

    def __init__(self, ledger: SyncLedger) -> None:
        self.ledger = ledger

    def before_train(self, runner) -> None:
        self.ledger.training = True

    def after_train(self, runner) -> None:
        self.ledger.training = False

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.ledger.where = (runner.iter, batch_idx)


class IterationCloses(Hook):
    priority = 'LOWEST'  # after every other after_train_iter

    def __init__(self, ledger: SyncLedger) -> None:
        self.ledger = ledger

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.ledger.where = None


def train_and_count(tmp_path, monkeypatch, by_epoch: bool, epochs: int = 2) -> SyncLedger:
    ledger = SyncLedger()
    train_cfg = dict(by_epoch=True, max_epochs=epochs) if by_epoch else \
        dict(by_epoch=False, max_iters=epochs * PER_EPOCH, val_interval=10**6)
    runner = Runner(
        model=TinyNet(), work_dir=str(tmp_path / 'work'),
        train_dataloader=dict(dataset=Samples(PER_EPOCH * 4), batch_size=4,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              collate_fn=dict(type='default_collate')),
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9),
                           clip_grad=dict(max_norm=1.0)),
        param_scheduler=[dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0,
                              end=PER_EPOCH)],
        default_hooks=dict(logger=dict(type='LoggerHook', interval=LOG_INTERVAL),
                           # Saves (which read the state) fall on log iterations here too.
                           checkpoint=dict(type='CheckpointHook', by_epoch=by_epoch,
                                           interval=1 if by_epoch else PER_EPOCH)),
        custom_hooks=[IterationOpens(ledger), IterationCloses(ledger)],
        log_level='WARNING', randomness=dict(seed=0))
    ledger.install(monkeypatch)
    runner.train()
    monkeypatch.undo()
    return ledger


def _is_log_iteration(batch_idx: int) -> bool:
    return (batch_idx + 1) % LOG_INTERVAL == 0


@pytest.mark.parametrize('by_epoch', [True, False], ids=['epoch-based', 'iteration-based'])
def test_no_host_read_outside_log_iterations(tmp_path, monkeypatch, by_epoch):
    ledger = train_and_count(tmp_path, monkeypatch, by_epoch)
    inside = [event for event in ledger.events if event[0] == 'iteration']
    off_interval = [event for event in inside if not _is_log_iteration(event[2])]
    assert off_interval == [], f'host reads in iterations with no log line due: {off_interval}'
    # The counting sees real reads: the log lines reduce the losses (a float() per value on
    # the CPU; on a GPU one batched .tolist(), see test_history_buffer).
    logged = {event[1] for event in inside}
    assert logged and all(_is_log_iteration(it % PER_EPOCH if by_epoch else it) for it in logged)
    assert any(event[3] == '__float__' for event in inside)


def test_between_iterations_reads_are_per_epoch_not_per_iteration(tmp_path, monkeypatch):
    """Data loading, epoch ends and checkpoints may read (the sampler draws its order, the
    loss check runs before a save), but a fixed few times per epoch, not once per batch."""
    epochs = 3
    ledger = train_and_count(tmp_path, monkeypatch, by_epoch=True, epochs=epochs)
    between = [event for event in ledger.events if event[0] == 'between']
    assert len(between) <= 4 * epochs < PER_EPOCH * epochs, between
