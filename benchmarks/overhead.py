"""Framework overhead: the same tiny MLP and data through a bare PyTorch loop and through
``Runner.train()`` with the default hooks (and MMEngine's Runner when it can be imported).

    python benchmarks/overhead.py                       # 3000 iterations, 5 rounds
    python benchmarks/overhead.py --mmengine-python /work/bench-venv/bin/python

Each measurement runs in a fresh subprocess; a round runs every contender once, in a rotating
order, and the table reports the median over rounds. Timed is the training loop only (from
``before_train`` to ``after_train``: data loading, steps, hooks, logging every 50 iterations
and the default checkpoint at every epoch end), not imports or building the runner. Every
contender uses one torch thread (``--threads``): at this size more threads only add noise.
Besides wall time the table shows the process CPU time, which a busy machine disturbs less,
and below it the wall ratio by two more estimators: their spread shows how noisy the run was.
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
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from tiny_setup import BATCH_SIZE, LR, MOMENTUM, TinyDataset  # noqa: E402

DEFAULT_MMENGINE_PYTHON = '/work/bench-venv/bin/python'


def _loader_cfg(num_samples: int) -> dict:
    return dict(dataset=TinyDataset(num_samples), sampler=dict(type='DefaultSampler', shuffle=True),
                batch_size=BATCH_SIZE, num_workers=0, collate_fn=dict(type='default_collate'))


def run_bare(epochs: int, per_epoch: int, work_dir: str,
             marks: tuple[Callable, Callable] | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of the plain loop: DataLoader + forward + loss + backward + step +
    zero_grad. ``marks``: two callables run where the timing starts and stops."""
    import torch.nn.functional as F

    from tiny_setup import make_bare_training
    net, optimizer, loader = make_bare_training(per_epoch * BATCH_SIZE)
    if marks:
        marks[0]()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        for batch in loader:
            loss = F.cross_entropy(net(batch['inputs']), batch['data_samples'])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    elapsed = time.perf_counter() - start, time.process_time() - cpu_start
    if marks:
        marks[1]()
    return elapsed


def _runner_kwargs(epochs: int, per_epoch: int, work_dir: str, model_cls: type, stopwatch) -> dict:
    return dict(model=model_cls(), work_dir=work_dir,
                train_dataloader=_loader_cfg(per_epoch * BATCH_SIZE),
                train_cfg=dict(by_epoch=True, max_epochs=epochs),
                optim_wrapper=dict(optimizer=dict(type='SGD', lr=LR, momentum=MOMENTUM)),
                default_hooks=dict(logger=dict(type='LoggerHook', interval=50)),
                custom_hooks=[stopwatch], randomness=dict(seed=0))


def run_mmlite(epochs: int, per_epoch: int, work_dir: str, profile: bool = False,
               marks: tuple[Callable, Callable] | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of ``Runner.train()`` from ``before_train`` to ``after_train``;
    ``marks`` as in :func:`run_bare`."""
    from mmlite.hooks import Hook
    from mmlite.model import BaseModel
    from mmlite.runner import Runner
    from tiny_setup import make_model_class, make_stopwatch_class
    stopwatch = make_stopwatch_class(Hook)(marks)
    runner = Runner(**_runner_kwargs(epochs, per_epoch, work_dir, make_model_class(BaseModel),
                                     stopwatch))
    if profile:
        import cProfile
        import pstats
        profiler = cProfile.Profile()
        profiler.runcall(runner.train)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats('tottime').print_stats(30)
    else:
        runner.train()
    return stopwatch.elapsed()


def run_mmengine(epochs: int, per_epoch: int, work_dir: str) -> tuple[float, float]:
    from mmengine.hooks import Hook
    from mmengine.model import BaseModel
    from mmengine.runner import Runner
    from tiny_setup import make_model_class, make_stopwatch_class
    stopwatch = make_stopwatch_class(Hook)()
    Runner(**_runner_kwargs(epochs, per_epoch, work_dir, make_model_class(BaseModel),
                            stopwatch)).train()
    return stopwatch.elapsed()


WORKERS = {'bare': run_bare, 'mmlite': run_mmlite, 'mmengine': run_mmengine}


def _worker_main(args: argparse.Namespace) -> None:
    import torch
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix=f'overhead_{args.worker}_', dir=args.work_root) as work_dir:
        kwargs = dict(profile=True) if args.profile else {}
        wall, cpu = WORKERS[args.worker](args.epochs, args.per_epoch, work_dir, **kwargs)
    with open(args.result, 'w') as f:
        json.dump(dict(wall=wall, cpu=cpu), f)


def _measure(python: str, worker: str, args: argparse.Namespace) -> tuple[float, float]:
    """Per-iteration (wall, CPU) microseconds of one fresh-process run of ``worker``."""
    with tempfile.NamedTemporaryFile(suffix='.json', delete=False) as result:
        path = result.name
    try:
        cmd = [python, os.path.abspath(__file__), '--worker', worker, '--result', path,
               '--epochs', str(args.epochs), '--per-epoch', str(args.per_epoch),
               '--threads', str(args.threads), '--work-root', args.work_root]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f'the {worker} worker failed ({python}):\n{done.stderr[-3000:]}')
        with open(path) as f:
            result = json.load(f)
    finally:
        os.unlink(path)
    iters = args.epochs * args.per_epoch
    return result['wall'] / iters * 1e6, result['cpu'] / iters * 1e6


def _cpu_ticks() -> tuple[int, int] | None:
    """(steal, total) CPU ticks of the machine so far, from /proc/stat; None elsewhere."""
    try:
        with open('/proc/stat') as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice, already in user]
    return (fields[7], sum(fields[:8])) if len(fields) >= 8 else None


def _steal_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> str:
    """The share of the machine's CPU time its hypervisor gave to others in between."""
    if before is None or after is None or after[1] == before[1]:
        return ''
    return f'  (steal {100 * (after[0] - before[0]) / (after[1] - before[1]):.0f}%)'


def _find_mmengine_python(explicit: str | None) -> str | None:
    """The first interpreter that can import mmengine, or None (the comparison is skipped)."""
    candidates = [explicit] if explicit else [sys.executable, DEFAULT_MMENGINE_PYTHON]
    for python in candidates:
        if python and os.path.exists(python) and subprocess.run(
                [python, '-c', 'import mmengine.runner'], capture_output=True).returncode == 0:
            return python
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iters', type=int, default=3000, help='training iterations per run')
    parser.add_argument('--epochs', type=int, default=10, help='epochs the iterations are split into')
    parser.add_argument('--repeats', type=int, default=5, help='rounds (the median is reported)')
    parser.add_argument('--mmengine-python', help='interpreter with mmengine installed')
    parser.add_argument('--no-mmengine', action='store_true', help='skip MMEngine')
    parser.add_argument('--threads', type=int, default=1, help='torch threads of every contender')
    parser.add_argument('--hidden', type=int, default=128,
                        help='hidden width of the MLP: larger models show how the overhead shrinks')
    parser.add_argument('--work-root', default=os.getcwd(),
                        help='where the runs put their work dirs (the disk checkpoints go to)')
    parser.add_argument('--worker', choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument('--result', help=argparse.SUPPRESS)
    parser.add_argument('--per-epoch', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--profile', action='store_true',
                        help='with --worker mmlite: print the cProfile top 30 to stderr')
    args = parser.parse_args()
    if args.worker:
        _worker_main(args)
        return
    if args.iters % args.epochs:
        parser.error(f'--iters ({args.iters}) must be a multiple of --epochs ({args.epochs})')
    args.per_epoch = args.iters // args.epochs
    os.makedirs(args.work_root, exist_ok=True)
    os.environ['MMLITE_BENCH_HIDDEN'] = str(args.hidden)  # read by tiny_setup in every worker
    contenders = {'bare': sys.executable, 'mmlite': sys.executable}
    mmengine_python = None if args.no_mmengine else _find_mmengine_python(args.mmengine_python)
    if mmengine_python:
        contenders['mmengine'] = mmengine_python
    else:
        print('mmengine is not importable: its column is skipped (see benchmarks/README.md)')
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    run_ticks = _cpu_ticks()
    for round_index in range(args.repeats):
        ticks = _cpu_ticks()
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            run_wall, run_cpu = _measure(contenders[name], name, args)
            wall[name].append(run_wall)
            cpu[name].append(run_cpu)
        print(f'round {round_index + 1}/{args.repeats}: ' + '  '.join(
            f'{name} {wall[name][-1]:.1f} us/iter' for name in names)
              + _steal_share(ticks, _cpu_ticks()), flush=True)
    print(f'\n{args.iters} iterations ({args.epochs} epochs x {args.per_epoch}), batch {BATCH_SIZE}, '
          f'MLP 64-{args.hidden}-10, '
          f'{args.threads} torch thread(s), median of {args.repeats} fresh-process runs'
          + _steal_share(run_ticks, _cpu_ticks()))
    bare_wall, bare_cpu = statistics.median(wall['bare']), statistics.median(cpu['bare'])
    print(f'{"contender":<10} {"wall us/iter":>13} {"ratio":>7} {"cpu us/iter":>12} {"ratio":>7}')
    for name in names:
        median_wall, median_cpu = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f'{name:<10} {median_wall:13.1f} {median_wall / bare_wall:7.3f} '
              f'{median_cpu:12.1f} {median_cpu / bare_cpu:7.3f}')
    print('\nthe wall ratio by other estimators (how far apart they are shows the noise):')
    for name in names[1:]:
        print(f'{name:<10} ' + _other_estimators(wall[name], wall['bare']))


def _other_estimators(times: list[float], bare: list[float]) -> str:
    """The median of the per-round ratios with its quartiles (a round's two runs are back to
    back, so a slow spell of the machine tends to hit both), and the ratio of the fastest
    runs (noise only ever adds time)."""
    ratios = sorted(t / b for t, b in zip(times, bare))
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return (f'median of per-round ratios {statistics.median(ratios):.3f} (quartiles '
            f'{quartiles[0]:.3f}-{quartiles[2]:.3f}), fastest run / fastest run '
            f'{min(times) / min(bare):.3f}')


if __name__ == '__main__':
    main()
