"""Start-up cost: what ``import mmlite`` adds to ``import torch``, and how long
``tools/train.py`` takes from process start to its first training iteration.

    python benchmarks/startup.py [--repeats 7] [--config configs/digits_mlp.py]

Every figure comes from fresh interpreters (nothing cached in the process), median of
``--repeats``. The import figures are measured inside the child, so the interpreter's own
start is left out; the train figure is measured from before the child is spawned.
"""
from __future__ import annotations

import argparse
import json
import os
import runpy
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Imports timed in the child after torch: the package itself, and what tools/train.py needs.
IMPORT_PROBE = r'''
import json, sys, time
start = time.perf_counter()
import torch
after_torch = time.perf_counter()
import mmlite
after_mmlite = time.perf_counter()
from mmlite.runner import Runner
after_runner = time.perf_counter()
print(json.dumps(dict(torch=after_torch - start, mmlite=after_mmlite - after_torch,
                      runner=after_runner - after_mmlite)))
'''
# import mmlite alone: lazy, it must not pull torch in.
ALONE_PROBE = r'''
import json, sys, time
start = time.perf_counter()
import mmlite
print(json.dumps(dict(alone=time.perf_counter() - start, torch_loaded='torch' in sys.modules)))
'''


# The floor for any PyTorch training script: import torch, build a model and an SGD optimizer
# (whose constructor imports torch._dynamo, seconds on its own), one step.
BARE_PROBE = r'''
import time, torch
net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
net(torch.randn(8, 64)).sum().backward()
optimizer.step()
print(repr(time.time()))
'''


def _bare_first_step() -> float:
    started = time.time()
    done = subprocess.run([sys.executable, '-c', BARE_PROBE], capture_output=True, text=True,
                          cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f'bare probe failed:\n{done.stderr[-2000:]}')
    return float(done.stdout.strip().splitlines()[-1]) - started


def _child_json(code: str) -> dict:
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f'import probe failed:\n{done.stderr[-2000:]}')
    return json.loads(done.stdout.strip().splitlines()[-1])


def _first_iteration_child(stamp_file: str, argv: list[str]) -> None:
    """Run tools/train.py with ``argv``; at the first training iteration write the wall clock
    to ``stamp_file`` and leave at once (the rest of training is not the point)."""
    from mmlite.runner import loops

    original = loops._TrainLoopMixin.run_iter

    def stamp_and_exit(self, idx, data_batch):
        with open(stamp_file, 'w') as f:
            f.write(repr(time.time()))
        os._exit(0)
    loops._TrainLoopMixin.run_iter = stamp_and_exit
    assert original is not None
    sys.argv = [os.path.join(ROOT, 'tools', 'train.py'), *argv]
    runpy.run_path(sys.argv[0], run_name='__main__')


def _time_to_first_iteration(config: str) -> float:
    with tempfile.TemporaryDirectory(prefix='startup_') as folder:
        stamp = os.path.join(folder, 'first_iter')
        argv = [config, '--work-dir', os.path.join(folder, 'work')]
        started = time.time()
        done = subprocess.run([sys.executable, os.path.abspath(__file__), '--first-iteration-child',
                               stamp, '--', *argv], capture_output=True, text=True, cwd=ROOT)
        if not os.path.exists(stamp):
            raise RuntimeError(f'tools/train.py never reached an iteration (exit {done.returncode}):\n'
                               f'{done.stderr[-3000:]}')
        with open(stamp) as f:
            return float(f.read()) - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--config', default='configs/digits_mlp.py')
    parser.add_argument('--first-iteration-child', metavar='STAMP_FILE', help=argparse.SUPPRESS)
    parser.add_argument('train_argv', nargs='*', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_iteration_child:
        _first_iteration_child(args.first_iteration_child, args.train_argv)
        return

    imports = [_child_json(IMPORT_PROBE) for _ in range(args.repeats)]
    alone = [_child_json(ALONE_PROBE) for _ in range(args.repeats)]
    first = [_time_to_first_iteration(args.config) for _ in range(args.repeats)]
    bare = [_bare_first_step() for _ in range(args.repeats)]

    def median(key: str, rows: list[dict]) -> float:
        return statistics.median(row[key] for row in rows)
    print(f'median of {args.repeats} fresh interpreters, seconds')
    print(f'import torch                                  {median("torch", imports):7.3f}')
    print(f'import mmlite, after torch                    {median("mmlite", imports):7.3f}')
    print(f'from mmlite.runner import Runner, after that  {median("runner", imports):7.3f}')
    print(f'import mmlite alone (torch loaded: {alone[0]["torch_loaded"]!s:<5})      '
          f'{median("alone", alone):7.3f}')
    print(f'tools/train.py {args.config}: start to first iteration  {statistics.median(first):7.3f}')
    print(f'bare PyTorch script: start to first step (the floor)       {statistics.median(bare):7.3f}')


if __name__ == '__main__':
    main()
