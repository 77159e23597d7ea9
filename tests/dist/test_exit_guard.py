"""The exit guard: a process with a process group lets its runnable threads finish before the
interpreter finalizes (a gloo worker taking the GIL then aborts the process)."""
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mmlite.dist.exit_guard import _runnable_threads, settle_threads

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from torchrun_helpers import REPO_ROOT, free_port  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.isdir('/proc/self/task'),
                                reason='thread states are read from /proc')


def spinning_thread(seconds: float) -> threading.Thread:
    def spin() -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    return thread


def test_settle_waits_for_a_busy_thread_and_ignores_sleeping_ones():
    event = threading.Event()
    sleeper = threading.Thread(target=event.wait, daemon=True)
    sleeper.start()
    try:
        busy = spinning_thread(0.3)
        assert settle_threads(budget=10.0)
        assert not busy.is_alive()
        assert sleeper.native_id not in _runnable_threads() and sleeper.is_alive()
    finally:
        event.set()


def test_settle_gives_up_at_its_budget():
    busy = spinning_thread(5.0)
    start = time.monotonic()
    assert not settle_threads(budget=0.3)
    assert time.monotonic() - start < 2.0 and busy.is_alive()


JOB = '''
import sys, threading, time
import torch.distributed as dist
from mmlite.dist import init_dist

if sys.argv[1] == 'group':
    init_dist('pytorch')

def spin():
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass
    print('thread finished', flush=True)

threading.Thread(target=spin, daemon=True).start()
print('main done', flush=True)
'''


@pytest.mark.parametrize('mode, finished', [('group', True), ('plain', False)])
def test_a_process_with_a_group_lets_its_threads_finish_before_finalizing(tmp_path, mode,
                                                                          finished):
    """Without a process group the daemon thread is cut off at finalization, as Python does;
    with one, the exit waits for it (as it would for a gloo worker about to take the GIL)."""
    script = tmp_path / 'job.py'
    script.write_text(JOB)
    env = {**os.environ, 'RANK': '0', 'WORLD_SIZE': '1', 'LOCAL_RANK': '0',
           'MASTER_ADDR': '127.0.0.1', 'MASTER_PORT': str(free_port()), 'CUDA_VISIBLE_DEVICES': '',
           'PYTHONPATH': str(REPO_ROOT)}
    done = subprocess.run([sys.executable, str(script), mode], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == 'main done'
    assert ('thread finished' in lines) is finished
