"""init_dist: environment derivation for slurm and mpi, and what reaches init_process_group."""
import datetime
import os

import pytest
import torch

from mmlite.dist import init_dist, launch

_DIST_VARS = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')


@pytest.fixture
def clean_env(monkeypatch):
    """No torch.distributed variables set; whatever init_dist writes is undone afterwards."""
    for name in _DIST_VARS:
        monkeypatch.setenv(name, 'placeholder')
        monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def fake_init(monkeypatch):
    """Record init_process_group calls instead of starting a process group."""
    calls = []
    monkeypatch.setattr(torch.distributed, 'init_process_group',
                        lambda **kwargs: calls.append(kwargs))
    return calls


SLURM = {'SLURM_PROCID': '5', 'SLURM_NTASKS': '8', 'SLURM_LOCALID': '1',
         'SLURM_NODELIST': 'node[03-04]', 'SLURM_NTASKS_PER_NODE': '4'}


def test_slurm_env_derivation():
    hosts_asked = []

    def lookup(node_list):
        hosts_asked.append(node_list)
        return 'node03'

    env = launch.slurm_env(SLURM, host_lookup=lookup)
    assert env == {'RANK': '5', 'WORLD_SIZE': '8', 'LOCAL_RANK': '1', 'LOCAL_WORLD_SIZE': '4',
                   'MASTER_PORT': '29500', 'MASTER_ADDR': 'node03'}
    assert hosts_asked == ['node[03-04]']


def test_slurm_port_precedence_and_existing_master_addr():
    env = launch.slurm_env({**SLURM, 'MASTER_PORT': '1234', 'MASTER_ADDR': 'head'},
                           host_lookup=pytest.fail)
    assert 'MASTER_PORT' not in env and 'MASTER_ADDR' not in env  # kept from the environment
    env = launch.slurm_env({**SLURM, 'MASTER_PORT': '1234', 'MASTER_ADDR': 'head'}, port=4321)
    assert env['MASTER_PORT'] == '4321'


def test_slurm_missing_variables_are_named():
    with pytest.raises(KeyError, match=r"\['SLURM_LOCALID', 'SLURM_NODELIST'\].*srun"):
        launch.slurm_env({'SLURM_PROCID': '0', 'SLURM_NTASKS': '1'})


def test_first_slurm_host_without_scontrol_says_what_to_do(monkeypatch):
    monkeypatch.setenv('PATH', '')
    with pytest.raises(RuntimeError, match='set MASTER_ADDR'):
        launch.first_slurm_host('node[1-2]')


def test_mpi_env_derivation():
    environ = {'OMPI_COMM_WORLD_RANK': '3', 'OMPI_COMM_WORLD_SIZE': '4',
               'OMPI_COMM_WORLD_LOCAL_RANK': '1', 'OMPI_COMM_WORLD_LOCAL_SIZE': '2',
               'MASTER_ADDR': '10.0.0.1'}
    assert launch.mpi_env(environ) == {'RANK': '3', 'WORLD_SIZE': '4', 'LOCAL_RANK': '1',
                                       'LOCAL_WORLD_SIZE': '2', 'MASTER_PORT': '29500'}
    assert launch.mpi_env(environ, port=777)['MASTER_PORT'] == '777'
    without_addr = {k: v for k, v in environ.items() if k != 'MASTER_ADDR'}
    with pytest.raises(KeyError, match='export MASTER_ADDR'):
        launch.mpi_env(without_addr)


def test_init_dist_slurm_sets_env_and_passes_backend_and_timeout(clean_env, fake_init):
    for name, value in SLURM.items():
        clean_env.setenv(name, value)
    clean_env.setattr(launch, 'first_slurm_host', lambda node_list: 'node03')
    init_dist('slurm', port=29999, timeout=90)
    assert fake_init == [{'backend': 'gloo', 'timeout': datetime.timedelta(seconds=90)}]
    assert os.environ['RANK'] == '5' and os.environ['WORLD_SIZE'] == '8'
    assert os.environ['LOCAL_RANK'] == '1' and os.environ['MASTER_ADDR'] == 'node03'
    assert os.environ['MASTER_PORT'] == '29999'


def test_init_dist_mpi(clean_env, fake_init):
    for name, value in {'OMPI_COMM_WORLD_RANK': '1', 'OMPI_COMM_WORLD_SIZE': '2',
                        'OMPI_COMM_WORLD_LOCAL_RANK': '1', 'MASTER_ADDR': '127.0.0.1'}.items():
        clean_env.setenv(name, value)
    init_dist('mpi', backend='gloo')
    assert fake_init == [{'backend': 'gloo'}]
    assert (os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['MASTER_PORT']) == \
        ('1', '2', '29500')


def test_init_dist_pytorch_checks_torchrun_variables(clean_env, fake_init):
    with pytest.raises(KeyError, match='torchrun'):
        init_dist('pytorch')
    for name, value in {'RANK': '0', 'WORLD_SIZE': '1', 'LOCAL_RANK': '0',
                        'MASTER_ADDR': '127.0.0.1', 'MASTER_PORT': '29500'}.items():
        clean_env.setenv(name, value)
    init_dist('pytorch', timeout=datetime.timedelta(seconds=5))
    assert fake_init == [{'backend': 'gloo', 'timeout': datetime.timedelta(seconds=5)}]
    with pytest.raises(ValueError, match='--master_port'):
        init_dist('pytorch', port=1)


def test_init_dist_rejects_unknown_launcher_and_backends(fake_init):
    with pytest.raises(ValueError, match=r"unknown launcher 'ray'.*\['pytorch', 'slurm', 'mpi'\]"):
        init_dist('ray')
    with pytest.raises(NotImplementedError, match='init_backend'):
        init_dist('pytorch', init_backend='deepspeed')
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="backend='gloo'"):
            init_dist('pytorch', backend='nccl')
    assert fake_init == []
