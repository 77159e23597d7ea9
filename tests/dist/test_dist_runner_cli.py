"""tools/dist_train.sh and tools/dist_test.sh: the multi-machine launch, exercised on one machine.

Two ``dist_train.sh`` calls with NNODES=2 and NODE_RANK 0 and 1 start one torchrun each (one
process per "node"); they meet at MASTER_ADDR:PORT and train one job of world size 2 through
``tools/train.py --launcher pytorch`` on the offline digits config.
"""
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from torchrun_helpers import REPO_ROOT, cpu_env, free_port, wait_all  # noqa: E402

TRAIN_SAMPLES = 1437  # the digits config's training split
BATCH_SIZE = 32


@pytest.mark.dist
def test_two_nodes_form_one_job_through_dist_train_sh(tmp_path):
    work_dir = tmp_path / 'work'
    port = str(free_port())
    nodes = [subprocess.Popen(
        ['bash', 'tools/dist_train.sh', 'configs/digits_mlp.py', '1', '--work-dir', str(work_dir),
         '--cfg-options', 'train_cfg.max_epochs=1', 'default_hooks.logger.interval=5'],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # wait_all kills a hung node with the torchrun it started
        env=cpu_env(NNODES='2', NODE_RANK=str(rank), PORT=port, MASTER_ADDR='127.0.0.1',
                    PYTHON=sys.executable)) for rank in (0, 1)]
    results = wait_all(nodes)
    for rank, (code, output) in enumerate(results):
        assert code == 0, f'node {rank}:\n{output[-4000:]}'

    logs = list(work_dir.glob('*/*.log'))
    assert len(logs) == 1, logs  # node 1 (rank 1) writes no log file
    log = logs[0].read_text()
    assert 'launcher: pytorch, world size: 2' in log
    iters_per_rank = math.ceil(math.ceil(TRAIN_SAMPLES / 2) / BATCH_SIZE)
    assert f'Epoch(train) [1][20/{iters_per_rank}]' in log  # each rank saw half the data
    checkpoint = torch.load(work_dir / 'epoch_1.pth', weights_only=True)
    assert (checkpoint['meta']['epoch'], checkpoint['meta']['iter']) == (1, iters_per_rank)
    assert len(checkpoint['rng_state']) == 2
    best, last = sorted(p.name for p in work_dir.glob('*.pth'))  # each written once
    assert best.startswith('best_accuracy_top1_') and last == 'epoch_1.pth'
    # Only rank 0 speaks at INFO: node 1's output holds no log lines of its own.
    assert 'Saving checkpoint' in results[0][1] and 'Saving checkpoint' not in results[1][1]


@pytest.mark.parametrize('script, args, entry', [
    ('dist_train.sh', ['cfg.py', '3', '--resume'], ['train.py', 'cfg.py']),
    ('dist_test.sh', ['cfg.py', 'model.pth', '3', '--work-dir', 'w'], ['test.py', 'cfg.py', 'model.pth']),
])
def test_dist_scripts_build_the_torchrun_command(tmp_path, script, args, entry):
    """Without torch: a stand-in PYTHON records the command the script runs."""
    record = tmp_path / 'argv.txt'
    fake_python = tmp_path / 'python'
    fake_python.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n'
                           f'printf "%s\\n" "$PYTHONPATH" >> {record}\n')
    fake_python.chmod(0o755)
    env = {'PATH': '/usr/bin:/bin', 'PYTHON': str(fake_python)}
    done = subprocess.run(['bash', str(REPO_ROOT / 'tools' / script), *args], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    *argv, pythonpath = record.read_text().splitlines()
    tools = str(REPO_ROOT / 'tools')
    assert argv == ['-m', 'torch.distributed.run', '--nnodes=1', '--node_rank=0',
                    '--master_addr=127.0.0.1', '--nproc_per_node=3', '--master_port=29500',
                    f'{tools}/{entry[0]}', *entry[1:], '--launcher', 'pytorch',
                    *args[len(entry):]]
    assert pythonpath == f'{tools}/..'

    usage = subprocess.run(['bash', str(REPO_ROOT / 'tools' / script), 'cfg.py'], env=env,
                           capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2 and re.search(r'usage: .*CONFIG', usage.stderr)
