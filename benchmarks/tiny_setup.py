"""The tiny workload the overhead benchmarks share: the data, the network and their sizes.

Small enough that framework bookkeeping, not arithmetic, decides the time per iteration.
Imports only torch, so the MMEngine worker (another venv) can use it too.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

# overhead.py --hidden sets the width for its worker processes through the environment.
FEATURES, HIDDEN, CLASSES = 64, int(os.environ.get('MMLITE_BENCH_HIDDEN', '128')), 10
BATCH_SIZE = 8
LR, MOMENTUM = 0.01, 0.9


class TinyDataset(torch.utils.data.Dataset):
    """``num_samples`` random feature vectors with random labels, as MMEngine-style dicts."""

    def __init__(self, num_samples: int, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(num_samples, FEATURES, generator=generator)
        self.labels = torch.randint(0, CLASSES, (num_samples,), generator=generator)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=self.inputs[index], data_samples=self.labels[index])


def make_net() -> nn.Module:
    """The bare network: 64 -> HIDDEN (128 unless told) -> 10."""
    return nn.Sequential(nn.Linear(FEATURES, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES))


def make_bare_training(num_samples: int) -> tuple[nn.Module, torch.optim.Optimizer, torch.utils.data.DataLoader]:
    """The bare loop's network (seeded as the runners' is), SGD optimizer and shuffling loader."""
    torch.manual_seed(0)
    net = make_net()
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    loader = torch.utils.data.DataLoader(TinyDataset(num_samples), batch_size=BATCH_SIZE, shuffle=True)
    net.train()
    return net, optimizer, loader


def make_model_class(base_model: type) -> type:
    """The same network as a framework model (``base_model`` is mmlite's or MMEngine's BaseModel)."""

    class TinyClassifier(base_model):
        def __init__(self) -> None:
            super().__init__()
            self.net = make_net()

        def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
            logits = self.net(inputs)
            if mode == 'loss':
                return dict(loss=F.cross_entropy(logits, data_samples))
            return logits

    return TinyClassifier


def make_stopwatch_class(hook_base: type) -> type:
    """A hook that reads the clocks at ``before_train`` and ``after_train`` (no per-iteration
    cost); ``marks``, two callables, run just before the clock starts and after it stops."""

    class Stopwatch(hook_base):
        priority = 'LOWEST'

        def __init__(self, marks: tuple | None = None) -> None:
            self.started = self.stopped = (0.0, 0.0)
            self.marks = marks

        def before_train(self, runner) -> None:
            import time
            if self.marks:
                self.marks[0]()
            self.started = (time.perf_counter(), time.process_time())

        def after_train(self, runner) -> None:
            import time
            self.stopped = (time.perf_counter(), time.process_time())
            if self.marks:
                self.marks[1]()

        def elapsed(self) -> tuple[float, float]:
            """(wall, CPU) seconds between before_train and after_train."""
            return self.stopped[0] - self.started[0], self.stopped[1] - self.started[1]

    return Stopwatch
