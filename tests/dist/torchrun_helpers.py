"""Starting real torchrun jobs from tests: free ports, a CPU-only environment, bounded waits.

pytest imports tests with --import-mode=importlib, so the test files put this folder on
sys.path to import it (and ``dist_runner_parts``); the torchrun workers get it in PYTHONPATH.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
TIMEOUT = 300  # seconds; a hung rendezvous must fail the test, not the whole run
FAILED_PEER_GRACE = 20  # seconds the others get once one process has failed


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def cpu_env(**extra: str) -> dict[str, str]:
    """The environment for torchrun children: gloo on loopback, no GPU, one thread each."""
    pythonpath = os.pathsep.join(p for p in (str(REPO_ROOT), str(HERE),
                                             os.environ.get('PYTHONPATH', '')) if p)
    return {**os.environ, 'PYTHONPATH': pythonpath, 'OMP_NUM_THREADS': '1',
            'GLOO_SOCKET_IFNAME': 'lo', 'CUDA_VISIBLE_DEVICES': '', **extra}


def torchrun(args: list[str], nproc: int = 2, **env: str) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --nproc_per_node nproc <args>`` on 127.0.0.1."""
    command = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(nproc),
               '--master_addr', '127.0.0.1', '--master_port', str(free_port()), *args]
    return subprocess.run(command, env=cpu_env(**env), capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=REPO_ROOT)


def wait_all(processes: list[subprocess.Popen]) -> list[tuple[int, str]]:
    """Wait for every process (killing them all if one hangs); their exit codes and output.
    Start them with ``start_new_session=True`` so that a kill reaches their children too.

    The pipes are drained side by side: waiting on one process while another's pipe is left
    full would block that one in a write -- in the middle of a collective its peers wait on.
    Once one process has failed, the others get FAILED_PEER_GRACE seconds more: a torchrun
    whose peer node died waits out its exit barrier (300 s) before it gives up.
    """
    results: list[tuple[int, str] | None] = [None] * len(processes)

    def drain(index: int) -> None:
        output, _ = processes[index].communicate()
        results[index] = (processes[index].returncode, output)

    threads = [threading.Thread(target=drain, args=(i,), daemon=True) for i in range(len(processes))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + TIMEOUT
    try:
        while any(thread.is_alive() for thread in threads) and time.monotonic() < deadline:
            for thread in threads:
                thread.join(0.2)
            if any(result is not None and result[0] != 0 for result in results):
                deadline = min(deadline, time.monotonic() + FAILED_PEER_GRACE)
        hung = [i for i, thread in enumerate(threads) if thread.is_alive()]
    finally:
        for process in processes:
            if process.poll() is None:
                _kill_with_children(process)
        for thread in threads:
            thread.join()
    if hung:  # killed above: their output up to then says where they stood
        tails = '\n'.join(f'--- process {i} (exit {code}):\n{(output or "")[-3000:]}'
                          for i, (code, output) in enumerate(results))
        failed = [i for i, (code, _) in enumerate(results) if i not in hung and code != 0]
        why = (f'still running {FAILED_PEER_GRACE} s after processes {failed} failed' if failed
               else f'did not finish within {TIMEOUT} s')
        raise AssertionError(f'processes {hung} {why}\n{tails}')
    return results  # type: ignore[return-value]


def _kill_with_children(process: subprocess.Popen) -> None:
    """Kill ``process`` and, when it leads its own process group (``start_new_session=True``),
    everything it started: a torchrun left behind would hold the pipe open."""
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGKILL)
            return
    except ProcessLookupError:
        return
    process.kill()
