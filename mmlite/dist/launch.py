"""Start the default process group from what torchrun, SLURM or Open MPI put in the environment.

Each launcher turns its own variables into the ``RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR /
MASTER_PORT`` set that ``init_process_group``'s ``env://`` rendezvous reads. The derivations are
pure functions of an environment mapping, so they are testable without a cluster.
"""
from __future__ import annotations

import datetime
import os
import subprocess
from typing import Any, Callable, Mapping

import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

LAUNCHERS = ('pytorch', 'slurm', 'mpi')
DEFAULT_MASTER_PORT = '29500'


def infer_launcher() -> str:
    """'pytorch', 'slurm' or 'mpi' from the environment variables each launcher sets; else 'none'."""
    if 'WORLD_SIZE' in os.environ:
        return 'pytorch'
    if 'SLURM_NTASKS' in os.environ:
        return 'slurm'
    if 'OMPI_COMM_WORLD_LOCAL_RANK' in os.environ:
        return 'mpi'
    return 'none'


def _require(environ: Mapping[str, str], names: tuple[str, ...], launcher: str, hint: str) -> None:
    missing = [name for name in names if name not in environ]
    if missing:
        raise KeyError(f"init_dist('{launcher}') needs the environment variables {missing}, "
                       f'which are not set; {hint}')


def _master_port(environ: Mapping[str, str], port: int | str | None) -> dict[str, str]:
    """The port kwarg wins, then an existing MASTER_PORT, then 29500."""
    if port is not None:
        return {'MASTER_PORT': str(port)}
    if 'MASTER_PORT' in environ:
        return {}
    return {'MASTER_PORT': DEFAULT_MASTER_PORT}


def first_slurm_host(node_list: str) -> str:
    """First host name of a SLURM node list such as ``node[01-04]``, via ``scontrol``."""
    command = ['scontrol', 'show', 'hostnames', node_list]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise RuntimeError(f'init_dist(\'slurm\') runs `{" ".join(command)}` to find the master '
                           f'host, but scontrol is not installed here; set MASTER_ADDR '
                           f'yourself') from error
    hosts = result.stdout.split()
    if result.returncode != 0 or not hosts:
        raise RuntimeError(f'`{" ".join(command)}` failed (exit {result.returncode}): '
                           f'{result.stderr.strip() or "no host printed"}; set MASTER_ADDR yourself')
    return hosts[0]


def slurm_env(environ: Mapping[str, str], port: int | str | None = None,
              host_lookup: Callable[[str], str] | None = None) -> dict[str, str]:
    """The torch.distributed variables for a process started by ``srun``.

    ``host_lookup`` turns the node list into the master host (default: ``first_slurm_host``).
    """
    _require(environ, ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID', 'SLURM_NODELIST'),
             'slurm', 'start the job with srun')
    env = {'RANK': environ['SLURM_PROCID'], 'WORLD_SIZE': environ['SLURM_NTASKS'],
           'LOCAL_RANK': environ['SLURM_LOCALID']}
    tasks_per_node = environ.get('SLURM_NTASKS_PER_NODE', '')
    if tasks_per_node.isdigit():
        env['LOCAL_WORLD_SIZE'] = tasks_per_node
    env.update(_master_port(environ, port))
    if 'MASTER_ADDR' not in environ:
        lookup = host_lookup if host_lookup is not None else first_slurm_host
        env['MASTER_ADDR'] = lookup(environ['SLURM_NODELIST'])
    return env


def mpi_env(environ: Mapping[str, str], port: int | str | None = None) -> dict[str, str]:
    """The torch.distributed variables for a process started by Open MPI's ``mpirun``."""
    _require(environ, ('OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE',
                       'OMPI_COMM_WORLD_LOCAL_RANK'), 'mpi', 'start the job with mpirun (Open MPI)')
    _require(environ, ('MASTER_ADDR',), 'mpi',
             'export MASTER_ADDR=<host of rank 0> (e.g. mpirun -x MASTER_ADDR=...)')
    env = {'RANK': environ['OMPI_COMM_WORLD_RANK'], 'WORLD_SIZE': environ['OMPI_COMM_WORLD_SIZE'],
           'LOCAL_RANK': environ['OMPI_COMM_WORLD_LOCAL_RANK']}
    if 'OMPI_COMM_WORLD_LOCAL_SIZE' in environ:
        env['LOCAL_WORLD_SIZE'] = environ['OMPI_COMM_WORLD_LOCAL_SIZE']
    env.update(_master_port(environ, port))
    return env


def pytorch_env(environ: Mapping[str, str]) -> dict[str, str]:
    """Nothing to derive for torchrun; only check that it set what env:// reads."""
    _require(environ, ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'),
             'pytorch', 'start the script with torchrun (python -m torch.distributed.run)')
    return {}


def _default_backend(backend: str | None) -> str:
    if backend is None:
        return 'nccl' if torch.cuda.is_available() else 'gloo'
    if backend == 'nccl' and not torch.cuda.is_available():
        raise ValueError("init_dist: backend='nccl' needs CUDA, which is not available here; "
                         "use backend='gloo' (or leave backend unset) on CPU")
    return backend


def init_dist(launcher: str, backend: str | None = None, init_backend: str = 'torch',
              **kwargs: Any) -> None:
    """Initialise the default process group for ``launcher`` ('pytorch', 'slurm' or 'mpi').

    ``backend`` defaults to nccl with CUDA and gloo without. ``timeout`` is in seconds.
    ``port`` (slurm, mpi) sets MASTER_PORT. Other kwargs go to ``init_process_group``.
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f'init_dist: unknown launcher {launcher!r}; accepted: {list(LAUNCHERS)}')
    if init_backend != 'torch':
        raise NotImplementedError(f"init_dist: init_backend={init_backend!r} is not supported by "
                                  f"mmlite; use init_backend='torch'")
    backend = _default_backend(backend)
    timeout = kwargs.get('timeout')
    if timeout is not None and not isinstance(timeout, datetime.timedelta):
        kwargs['timeout'] = datetime.timedelta(seconds=timeout)
    # CUDA cannot be re-initialised in forked children; CPU runs keep the cheaper fork.
    if torch.cuda.is_available() and mp.get_start_method(allow_none=True) is None:
        mp.set_start_method('spawn')

    port = kwargs.pop('port', None)
    if launcher == 'pytorch':
        if port is not None:
            raise ValueError("init_dist('pytorch') takes no port: torchrun sets MASTER_PORT; "
                             'pass --master_port to torchrun instead')
        derived = pytorch_env(os.environ)
    elif launcher == 'slurm':
        derived = slurm_env(os.environ, port)
    else:
        derived = mpi_env(os.environ, port)
    os.environ.update(derived)

    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ['LOCAL_RANK']))
    torch_dist.init_process_group(backend=backend, **kwargs)
