"""Two real gloo processes on 127.0.0.1 started by torchrun exercise the collectives end to end."""
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.dist

REPO_ROOT = Path(__file__).resolve().parents[2]
DATASET_SIZE = 5  # not divisible by 2: DefaultSampler pads rank 1 with index 0

WORKER = textwrap.dedent('''
    import json
    import sys

    import torch

    from mmlite import dist
    from mmlite.logging import MMLogger

    out_dir = sys.argv[1]
    size = int(sys.argv[2])
    dist.init_dist('pytorch')
    rank, world_size = dist.get_dist_info()
    report = {'rank': rank, 'world_size': world_size, 'backend': dist.get_backend(),
              'local': [dist.get_local_rank(), dist.get_local_size()],
              'is_main': dist.is_main_process()}

    summed = torch.tensor([rank + 1.0, 10.0])
    dist.all_reduce(summed)
    averaged = torch.tensor(rank * 2.0)
    dist.all_reduce(averaged, op='mean')
    biggest = torch.tensor(rank + 7)
    dist.all_reduce(biggest, op='max')
    report['all_reduce'] = [summed.tolist(), averaged.item(), biggest.item()]

    report['all_gather'] = [t.tolist() for t in dist.all_gather(torch.tensor([rank, rank * 10]))]
    report['gather'] = [t.item() for t in dist.gather(torch.tensor(rank + 100), dst=0)]
    shared = torch.tensor([float(rank), -1.0])
    dist.broadcast(shared, src=1)
    report['broadcast'] = shared.tolist()

    losses = {'loss_b': torch.tensor(float(rank)), 'loss_a': torch.tensor([1.0, rank * 4.0])}
    dist.all_reduce_dict(losses, op='mean')
    report['all_reduce_dict'] = {k: v.tolist() for k, v in losses.items()}
    report['all_gather_object'] = dist.all_gather_object({'rank': rank})
    report['gather_object'] = dist.gather_object(f'r{rank}', dst=0)
    objects = [f'from{rank}', rank] if rank == 0 else [None, None]
    dist.broadcast_object_list(objects, src=0)
    report['broadcast_object_list'] = objects
    report['seeds'] = dist.all_gather_object(dist.sync_random_seed())

    # DefaultSampler: pad the index list to a multiple of world_size, rank r takes r, r+W, ...
    padded = list(range(size)) + list(range(size))[:(-size) % world_size]
    mine = [{'index': i, 'by': rank} for i in padded[rank::world_size]]
    report['collect_cpu'] = dist.collect_results(mine, size, device='cpu')
    report['collect_gpu'] = dist.collect_results(mine, size, device='gpu')
    report['collect_tmpdir'] = dist.collect_results(mine, size, device='cpu',
                                                    tmpdir=f'{out_dir}/collect_tmp')

    logger = MMLogger.get_instance('dist_test', log_file=f'{out_dir}/run.log', distributed=True)
    logger.info(f'hello from rank {rank}')
    quiet = MMLogger.get_instance('rank0_file', log_file=f'{out_dir}/main_only.log')
    quiet.info(f'main only from rank {rank}')
    for handler in logger.handlers + quiet.handlers:
        handler.flush()

    with open(f'{out_dir}/rank{rank}.json', 'w') as file:
        json.dump(report, file)
    dist.barrier()
''')


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def reports(tmp_path_factory):
    """Run the worker on 2 processes once; return each rank's report and the output folder."""
    out_dir = tmp_path_factory.mktemp('torchrun')
    script = out_dir / 'worker.py'
    script.write_text(WORKER)
    env = {**os.environ, 'PYTHONPATH': f'{REPO_ROOT}{os.pathsep}{os.environ.get("PYTHONPATH", "")}',
           'OMP_NUM_THREADS': '1', 'GLOO_SOCKET_IFNAME': 'lo', 'CUDA_VISIBLE_DEVICES': ''}
    command = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
               '--master_addr', '127.0.0.1', '--master_port', str(_free_port()),
               str(script), str(out_dir), str(DATASET_SIZE)]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    loaded = [json.loads((out_dir / f'rank{rank}.json').read_text()) for rank in range(2)]
    return loaded, out_dir


def test_process_group_identity(reports):
    (rank0, rank1), _ = reports
    assert (rank0['rank'], rank1['rank']) == (0, 1)
    assert rank0['world_size'] == rank1['world_size'] == 2
    assert rank0['backend'] == 'gloo'
    assert rank0['local'] == [0, 2] and rank1['local'] == [1, 2]
    assert rank0['is_main'] and not rank1['is_main']


def test_tensor_collectives(reports):
    for report in reports[0]:
        assert report['all_reduce'] == [[3.0, 20.0], 1.0, 8]
        assert report['all_gather'] == [[0, 0], [1, 10]]
        assert report['broadcast'] == [1.0, -1.0]
        assert report['all_reduce_dict'] == {'loss_a': [1.0, 2.0], 'loss_b': 0.5}
    rank0, rank1 = reports[0]
    assert rank0['gather'] == [100, 101] and rank1['gather'] == []


def test_object_collectives_and_seed(reports):
    rank0, rank1 = reports[0]
    for report in (rank0, rank1):
        assert report['all_gather_object'] == [{'rank': 0}, {'rank': 1}]
        assert report['broadcast_object_list'] == ['from0', 0]
        assert report['seeds'][0] == report['seeds'][1]
    assert rank0['gather_object'] == ['r0', 'r1'] and rank1['gather_object'] is None


@pytest.mark.parametrize('mode', ['collect_cpu', 'collect_gpu', 'collect_tmpdir'])
def test_collect_results_restores_dataset_order_without_padding(reports, mode):
    rank0, rank1 = reports[0]
    expected = [{'index': i, 'by': i % 2} for i in range(DATASET_SIZE)]
    assert rank0[mode] == expected
    assert rank1[mode] is None


def test_tmpdir_collection_cleans_its_files(reports):
    _, out_dir = reports
    assert list((out_dir / 'collect_tmp').iterdir()) == []


def test_logger_files_per_rank(reports):
    _, out_dir = reports
    assert 'hello from rank 0' in (out_dir / 'run.log').read_text()
    rank1_text = (out_dir / 'run_rank1.log').read_text()
    assert 'hello from rank 1' in rank1_text and 'rank 0' not in rank1_text
    main_only = (out_dir / 'main_only.log').read_text()
    assert 'main only from rank 0' in main_only and 'rank 1' not in main_only
