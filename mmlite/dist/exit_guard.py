"""Keep a finished distributed process from aborting while the interpreter shuts down.

A gloo worker thread drops its reference to a collective's work object just after the caller
has been told the collective is done. Tensors made in Python carry a Python object, so that last
drop takes the GIL; if the main thread has meanwhile reached interpreter finalization, Python
3.11 ends the worker thread from inside a C++ destructor and the process dies with
``terminate called without an active exception`` (SIGABRT) after a successful run -- and a
torchrun agent on another machine then waits out its exit barrier. (On this project's 2-core
machine, 13 of 60 two-process jobs that exit right after an ``all_gather_object`` aborted so;
0 of 50 with this guard.)
``destroy_process_group`` does not help: the worker threads are joined only when the group object
is freed, and a DDP model, for one, holds it until finalization.

So before the interpreter finalizes, the main thread sleeps -- which releases the GIL -- until no
other thread of the process is runnable, within a bounded time.
"""
from __future__ import annotations

import atexit
import os
import threading
import time

import torch.distributed as torch_dist

SETTLE_BUDGET = 1.0  # seconds an exit may wait for runnable threads
_STEP = 0.002
_QUIET_CHECKS = 2  # consecutive checks with nothing runnable
_TASKS = '/proc/self/task'


def _runnable_threads() -> list[int]:
    """Ids of this process's threads, other than the calling one, that the kernel counts as
    runnable; [] where /proc is not there to tell."""
    own = threading.get_native_id()
    runnable = []
    try:
        tids = os.listdir(_TASKS)
    except OSError:
        return []
    for tid in tids:
        if int(tid) == own:
            continue
        try:
            with open(f'{_TASKS}/{tid}/stat', 'rb') as stat:
                fields = stat.read()
        except OSError:  # the thread ended meanwhile
            continue
        # "pid (comm) state ...": comm may hold spaces and parentheses; state follows the last ')'.
        state_at = fields.rindex(b')') + 2
        if fields[state_at:state_at + 1] == b'R':
            runnable.append(int(tid))
    return runnable


def settle_threads(budget: float = SETTLE_BUDGET) -> bool:
    """Sleep until no other thread has been runnable for two checks in a row, at most ``budget``
    seconds. True if they settled. Without /proc (not Linux) it sleeps one step per check."""
    deadline = time.monotonic() + budget
    quiet = 0
    while quiet < _QUIET_CHECKS:
        if time.monotonic() >= deadline:
            return False
        time.sleep(_STEP)
        quiet = 0 if _runnable_threads() else quiet + 1
    return True


@atexit.register
def _settle_if_distributed() -> None:
    # Registered on import, so it runs after the atexit hooks registered later (LIFO), close
    # to finalization; a no-op in a process without a process group.
    if torch_dist.is_available() and torch_dist.is_initialized():
        settle_threads()
