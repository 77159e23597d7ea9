"""Machine instructions per training iteration, bare loop against ``Runner.train()``, counted
by valgrind's callgrind: deterministic, however busy the machine is.

    python benchmarks/instructions.py               # needs valgrind and a C compiler; ~2 minutes

Wall-clock ratios on a shared 2-core machine move by +-10%; bytecode counts (opcodes.py) do
not, but they weigh a dict lookup like an addition. This counts what the CPU executes: C,
Python and torch alike. A tiny shared library issues callgrind's client requests; each worker
runs the workload of opcodes.py (checkpoints off, a log line every 50 iterations) under
``valgrind --tool=callgrind --instr-atstart=no`` and switches counting on for its third epoch
only, so imports and start-up cost nothing but time. The two workers run side by side.

    python benchmarks/instructions.py --whole-run   # ~4 minutes

counts overhead.py's measured run instead (10 epochs of 300 iterations, log lines at INFO, the
per-epoch checkpoint and its background writer thread), from where its clock starts to where
it stops: the repeatable twin of the wall-clock ratio. Time spent inside system calls (the
writes, the fsyncs) is not counted.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from opcodes import PER_EPOCH, train_bare, train_runner  # noqa: E402 (the same workload)

WHOLE_EPOCHS, WHOLE_PER_EPOCH = 10, 300  # overhead.py's defaults
_CONTROL_C = '''
#include <valgrind/callgrind.h>
void count_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void count_stop(void) { CALLGRIND_DUMP_STATS_AT("measured"); CALLGRIND_STOP_INSTRUMENTATION; }
'''


def _build_control(folder: str) -> str:
    source, library = os.path.join(folder, 'count.c'), os.path.join(folder, 'count.so')
    with open(source, 'w') as f:
        f.write(_CONTROL_C)
    done = subprocess.run(['cc', '-shared', '-fPIC', '-O2', '-o', library, source],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f'cannot build the callgrind control library (needs a C compiler and '
                         f'valgrind/callgrind.h):\n{done.stderr}')
    return library


def _whole_run(which: str, control: Any) -> None:
    """overhead.py's measured run (10 epochs of 300 iterations, INFO log lines, a checkpoint
    per epoch), counted from where its timing starts to where it stops."""
    from overhead import run_bare, run_mmlite
    run = run_bare if which == 'bare' else run_mmlite
    with tempfile.TemporaryDirectory(prefix='counted_') as work_dir:
        run(WHOLE_EPOCHS, WHOLE_PER_EPOCH, work_dir, marks=(control.count_start, control.count_stop))


def _worker(which: str, library: str, whole_run: bool) -> None:
    """Train three epochs of opcodes.py's workload; count the third (or overhead.py's run)."""
    import ctypes

    import torch
    torch.set_num_threads(1)
    control = ctypes.CDLL(library)
    if whole_run:
        _whole_run(which, control)
        return
    train = train_bare if which == 'bare' else train_runner
    train(3, control.count_start, control.count_stop)  # the third epoch is counted


def _start(which: str, library: str, folder: str, whole_run: bool) -> tuple[subprocess.Popen, str]:
    out = os.path.join(folder, f'callgrind.{which}')
    cmd = ['valgrind', '--tool=callgrind', '--instr-atstart=no', '--dump-instr=no',
           f'--callgrind-out-file={out}', sys.executable, os.path.abspath(__file__),
           '--worker', which, '--library', library] + (['--whole-run'] if whole_run else [])
    env = dict(os.environ, PYTHONHASHSEED='0')
    with open(os.path.join(folder, f'{which}.log'), 'w') as log:  # the child keeps its own copy
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder), out


def _measured_total(out: str) -> int:
    """Instructions of the dump made at count_stop (callgrind numbers dumps ``.1``, ``.2``...)."""
    with open(f'{out}.1') as f:
        for line in f:
            if line.startswith('totals:'):
                return int(line.split()[1])
    raise RuntimeError(f'no totals in {out}.1')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--worker', choices=('bare', 'mmlite'), help=argparse.SUPPRESS)
    parser.add_argument('--library', help=argparse.SUPPRESS)
    parser.add_argument('--whole-run', action='store_true',
                        help="count overhead.py's whole measured run instead (checkpoints and "
                             'log lines included; about 4 minutes)')
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.library, args.whole_run)
        return
    if shutil.which('valgrind') is None:
        raise SystemExit('valgrind is not installed: this benchmark needs it (apt install valgrind)')
    with tempfile.TemporaryDirectory(prefix='instructions_') as folder:
        library = _build_control(folder)
        runs = {which: _start(which, library, folder, args.whole_run) for which in ('bare', 'mmlite')}
        totals = {}
        for which, (process, out) in runs.items():
            if process.wait() != 0:
                with open(os.path.join(folder, f'{which}.log')) as f:
                    raise SystemExit(f'the {which} worker failed:\n{f.read()[-3000:]}')
            totals[which] = _measured_total(out) / (WHOLE_EPOCHS * WHOLE_PER_EPOCH if args.whole_run
                                                    else PER_EPOCH)
    print('machine instructions per iteration (' + (
        f"overhead.py's whole run of {WHOLE_EPOCHS * WHOLE_PER_EPOCH} iterations" if args.whole_run
        else f'one steady-state epoch of {PER_EPOCH} iterations') + ')')
    print(f'bare loop {totals["bare"]:12,.0f}\nmmlite    {totals["mmlite"]:12,.0f}\n'
          f'ratio     {totals["mmlite"] / totals["bare"]:12.3f}')


if __name__ == '__main__':
    main()
