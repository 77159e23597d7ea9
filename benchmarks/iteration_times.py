"""Where a run's time goes, iteration by iteration: the workload of overhead.py in fresh
processes, with a timestamp at the end of every training iteration.

    python benchmarks/iteration_times.py                      # 4 runs each, ~1 minute
    python benchmarks/iteration_times.py --without checkpoint,check_invalid_loss

overhead.py gives one ratio per run; this splits each run's time into its steady iterations
(the run's median iteration, times the iterations), the iterations that write a log line and
the one after each (whose caches the line evicted), and the first three iterations of every
epoch after the first (the checkpoint, the background writer and the next epoch's start land
there). Each part is reported as its excess over the run's own median iteration, so the
machine's speed of the moment cancels out of it, which it does not out of a wall-clock ratio.
``--without`` turns default hooks off to see what each costs. The mmlite run stamps from a
LOWEST-priority hook called every iteration: its steady iteration carries that hook's call.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

EPOCHS, PER_EPOCH, LOG_INTERVAL = 10, 300, 50  # overhead.py's workload
# Default hooks --without may turn off (the logger needs runtime_info and timer).
OPTIONAL_HOOKS = ('logger', 'checkpoint', 'check_invalid_loss', 'param_scheduler', 'runtime_info',
                  'timer', 'sampler_seed')


def _stamps_bare() -> list[float]:
    import torch.nn.functional as F

    from tiny_setup import BATCH_SIZE, make_bare_training
    net, optimizer, loader = make_bare_training(PER_EPOCH * BATCH_SIZE)
    stamps = [time.perf_counter()]
    for _ in range(EPOCHS):
        for batch in loader:
            loss = F.cross_entropy(net(batch['inputs']), batch['data_samples'])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            stamps.append(time.perf_counter())
    return stamps


def _stamps_mmlite(without: list[str]) -> list[float]:
    from mmlite.hooks import Hook
    from mmlite.model import BaseModel
    from mmlite.runner import Runner
    from overhead import _runner_kwargs
    from tiny_setup import make_model_class
    stamps: list[float] = []

    class Clock(Hook):
        priority = 'LOWEST'

        def before_train(self, runner) -> None:
            stamps.append(time.perf_counter())

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory(prefix='iteration_times_') as work_dir:
        kwargs = _runner_kwargs(EPOCHS, PER_EPOCH, work_dir, make_model_class(BaseModel), Clock())
        for name in without:
            kwargs['default_hooks'][name] = None
        Runner(**kwargs).train()
    return stamps


def _parts(times: list[float]) -> dict[str, float]:
    """Split one run's iteration times (us) into steady iterations and the excess of the
    special ones over the run's median iteration, all in us per iteration of the run."""
    count = len(times)
    median = statistics.median(times)
    logs = list(range(LOG_INTERVAL - 1, count, LOG_INTERVAL))
    after_logs = [i + 1 for i in logs if (i + 1) % PER_EPOCH and i + 1 < count]
    starts = [i for i in range(PER_EPOCH, count) if i % PER_EPOCH < 3]

    def excess(indices: list[int]) -> float:
        return sum(times[i] - median for i in indices) / count

    special = set(logs) | set(after_logs) | set(starts)
    rest = [times[i] - median for i in range(count) if i not in special]
    return {'total': sum(times) / count, 'median iteration': median,
            'log lines': excess(logs), 'iteration after a line': excess(after_logs),
            'epoch starts (3 it.)': excess(starts), 'other iterations': sum(rest) / count}


def _run(worker: str, without: list[str]) -> dict[str, float]:
    cmd = [sys.executable, os.path.abspath(__file__), '--worker', worker,
           '--without', ','.join(without)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f'the {worker} worker failed:\n{done.stderr[-3000:]}')
    stamps = json.loads(done.stdout.strip().splitlines()[-1])
    return _parts([(b - a) * 1e6 for a, b in zip(stamps, stamps[1:])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=4, help='fresh-process runs per contender')
    parser.add_argument('--without', default='',
                        help=f'comma-separated default hooks to turn off: {", ".join(OPTIONAL_HOOKS)}')
    parser.add_argument('--threads', type=int, default=1, help='torch threads')
    parser.add_argument('--worker', choices=('bare', 'mmlite'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    without = [name for name in args.without.split(',') if name]
    unknown = sorted(set(without) - set(OPTIONAL_HOOKS))
    if unknown:
        parser.error(f'--without: unknown hook(s) {unknown}; choose from {", ".join(OPTIONAL_HOOKS)}')
    if args.worker:
        import torch
        torch.set_num_threads(args.threads)
        stamps = _stamps_bare() if args.worker == 'bare' else _stamps_mmlite(without)
        print(json.dumps(stamps))
        return
    results: dict[str, list[dict[str, float]]] = {'bare': [], 'mmlite': []}
    for index in range(args.runs):
        for worker in (('bare', 'mmlite') if index % 2 == 0 else ('mmlite', 'bare')):
            results[worker].append(_run(worker, without))
            print(f'run {index + 1}/{args.runs} {worker:<6} '
                  f'{results[worker][-1]["total"]:7.1f} us/iteration', flush=True)
    print(f'\n{EPOCHS * PER_EPOCH} iterations ({EPOCHS} epochs x {PER_EPOCH}), a log line every '
          f'{LOG_INTERVAL}; mmlite without: {", ".join(without) or "nothing"}; us per iteration '
          f'of the run, median of {args.runs} fresh-process runs')
    print(f'{"":<24}' + ''.join(f'{name:>10}' for name in results) + f'{"mmlite-bare":>13}')
    for part in results['bare'][0]:
        values = [statistics.median(run[part] for run in results[name]) for name in results]
        print(f'{part:<24}' + ''.join(f'{value:10.1f}' for value in values)
              + f'{values[1] - values[0]:13.1f}')


if __name__ == '__main__':
    main()
