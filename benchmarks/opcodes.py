"""Python bytecodes executed per training iteration: the bare loop against ``Runner.train()``.

    python benchmarks/opcodes.py              # totals and the 25 functions mmlite adds most to
    python benchmarks/opcodes.py --top 60

Wall-clock ratios on a shared 2-core machine move by +-10% from run to run; the number of
bytecodes the interpreter executes does not move at all, so this script is the one to run
before and after a change to the hot path. It counts, with ``sys.settrace`` opcode events,
one steady-state epoch (the second) of the workload of overhead.py (checkpoints off, a log
line every 50 iterations) in the bare loop and in the Runner, and prints the per-iteration
totals, their ratio, and the functions whose counts differ most. Bytecodes are not time:
torch's C++ work, which dominates a step, is invisible here, so the time ratio is smaller.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from tiny_setup import BATCH_SIZE, LR, MOMENTUM, TinyDataset, make_net  # noqa: E402

PER_EPOCH = 100


class OpcodeCounter:
    """Counts opcode events per function while installed with :meth:`start`."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()

    def _trace(self, frame, event, arg):
        frame.f_trace_opcodes = True
        code = frame.f_code
        key = f'{_short(code.co_filename)}:{code.co_name}'
        counts = self.counts

        def local(frame, event, arg):
            if event == 'opcode':
                counts[key] += 1
            return local
        return local

    def start(self) -> None:
        sys.settrace(self._trace)

    @staticmethod
    def stop() -> None:
        sys.settrace(None)


def _short(path: str) -> str:
    for marker in ('site-packages/', os.path.dirname(HERE) + '/'):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def train_bare(epochs: int, start: Callable[[], None], stop: Callable[[], None]) -> None:
    """The bare loop of overhead.py for ``epochs`` epochs of PER_EPOCH batches; ``start`` and
    ``stop`` are called around the last epoch (where a count runs)."""
    net = make_net()
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    loader = torch.utils.data.DataLoader(TinyDataset(PER_EPOCH * BATCH_SIZE), batch_size=BATCH_SIZE,
                                         shuffle=True)
    for epoch in range(epochs):
        if epoch == epochs - 1:
            start()
        for batch in loader:
            loss = F.cross_entropy(net(batch['inputs']), batch['data_samples'])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    stop()


def train_runner(epochs: int, start: Callable[[], None], stop: Callable[[], None]) -> None:
    """``Runner.train()`` on the same workload (checkpoints off, a log line every 50
    iterations); a LOWEST-priority hook calls ``start`` and ``stop`` around the last epoch."""
    from mmlite.hooks import Hook
    from mmlite.model import BaseModel
    from mmlite.runner import Runner
    from tiny_setup import make_model_class

    class LastEpoch(Hook):
        priority = 'LOWEST'

        def before_train_epoch(self, runner) -> None:
            if runner.epoch == epochs - 1:
                start()

        def after_train_epoch(self, runner) -> None:
            if runner.epoch == epochs - 1:
                stop()

    with tempfile.TemporaryDirectory(prefix='counted_') as work_dir:
        Runner(model=make_model_class(BaseModel)(), work_dir=work_dir,
               train_dataloader=dict(dataset=TinyDataset(PER_EPOCH * BATCH_SIZE),
                                     sampler=dict(type='DefaultSampler', shuffle=True),
                                     batch_size=BATCH_SIZE, num_workers=0,
                                     collate_fn=dict(type='default_collate')),
               train_cfg=dict(by_epoch=True, max_epochs=epochs),
               optim_wrapper=dict(optimizer=dict(type='SGD', lr=LR, momentum=MOMENTUM)),
               default_hooks=dict(logger=dict(type='LoggerHook', interval=50), checkpoint=None),
               custom_hooks=[LastEpoch()], randomness=dict(seed=0), log_level='WARNING').train()


def count(train: Callable[[int, Callable, Callable], None]) -> Counter:
    """Bytecodes per function in the second (steady-state) epoch of ``train``."""
    counter = OpcodeCounter()
    train(2, counter.start, counter.stop)
    return counter.counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--top', type=int, default=25, help='functions to list')
    args = parser.parse_args()
    torch.set_num_threads(1)
    bare, mmlite = count(train_bare), count(train_runner)
    bare_total, mmlite_total = sum(bare.values()) / PER_EPOCH, sum(mmlite.values()) / PER_EPOCH
    print(f'Python bytecodes per iteration (one steady-state epoch of {PER_EPOCH} iterations)')
    print(f'bare loop {bare_total:8.0f}\nmmlite    {mmlite_total:8.0f}\nratio     {mmlite_total / bare_total:8.3f}')
    print(f'\n{"mmlite - bare":>13} {"mmlite":>8} {"bare":>8}  function')
    diffs = sorted(set(bare) | set(mmlite), key=lambda k: bare[k] - mmlite[k])
    for key in diffs[:args.top]:
        print(f'{(mmlite[key] - bare[key]) / PER_EPOCH:13.1f} {mmlite[key] / PER_EPOCH:8.1f} '
              f'{bare[key] / PER_EPOCH:8.1f}  {key}')


if __name__ == '__main__':
    main()
