"""Starting real torchrun jobs from tests: free ports, a CPU-only environment, bounded waits.

pytest imports tests with --import-mode=importlib, so the test files put this folder on
sys.path to import it (and ``dist_runner_parts``); the torchrun workers get it in PYTHONPATH.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
TIMEOUT = 300  # seconds; a hung rendezvous must fail the test, not the whole run


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
    """Wait for every process (killing the rest if one hangs); their exit codes and output."""
    results = []
    try:
        for process in processes:
            output, _ = process.communicate(timeout=TIMEOUT)
            results.append((process.returncode, output))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results
