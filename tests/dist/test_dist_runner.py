"""The Runner under torchrun: 2 CPU processes (gloo) train, validate, checkpoint and resume
as one process with the combined batch would.

One torchrun launch runs every distributed case (see dist_runner_worker.py: starting torch
costs far more than the toy runs); the single-process reference runs in this process.
"""
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import dist_runner_parts as parts  # noqa: E402
from torchrun_helpers import torchrun  # noqa: E402

from mmlite.runner import Runner  # noqa: E402

pytestmark = pytest.mark.dist


def tensors(weights: dict) -> dict:
    return {name: torch.tensor(value) for name, value in weights.items()}


def assert_weights_close(actual: dict, expected: dict, atol: float) -> None:
    assert actual.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(torch.tensor(actual[name]), torch.tensor(expected[name]),
                                   atol=atol, rtol=0, msg=lambda m, n=name: f'{n}: {m}')


@pytest.fixture(scope='module')
def launch(tmp_path_factory):
    """Run the worker on 2 processes once: the per-rank reports, the output folder, the output."""
    out_dir = tmp_path_factory.mktemp('dist_runner')
    done = torchrun([str(HERE / 'dist_runner_worker.py'), str(out_dir)])
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    reports = [json.loads((out_dir / f'report_rank{rank}.json').read_text()) for rank in range(2)]
    return SimpleNamespace(reports=reports, out_dir=out_dir, stdout=done.stdout, stderr=done.stderr)


@pytest.fixture(scope='module')
def reference(launch, tmp_path_factory):
    """One process, batch 4 (= 2 ranks x 2), from the weights and data order the ddp run used."""
    ddp = launch.reports[0]['ddp']
    model = parts.ToyRegressor()
    model.load_state_dict(tensors(ddp['initial']))
    report: dict = {}
    work_dir = tmp_path_factory.mktemp('reference')
    Runner(**parts.runner_kwargs(str(work_dir), 4, report, model=model,
                                 sampler_seed=ddp['sampler_seed'], randomness=dict(seed=7),
                                 name='reference')).train()
    return report


def test_two_ranks_train_like_one_process_with_the_double_batch(launch, reference):
    rank0, rank1 = (report['ddp'] for report in launch.reports)
    # diff_rank_seed drew a different init_cfg init on each rank: the runner made rank 0's win.
    assert rank0['initial'] == rank1['initial']
    assert rank0['final'] == rank1['final']  # bitwise: DDP applied the same averaged gradients
    assert_weights_close(rank0['final'], reference['final'], atol=1e-5)
    assert rank0['final'] != rank0['initial']
    for key in ('unused.weight', 'unused.bias'):  # never in the loss: no gradient, no update
        assert rank0['final'][key] == rank0['initial'][key]
    assert (rank0['iter'], rank0['epoch']) == (reference['iter'], reference['epoch']) == (6, 2)
    for dist_metrics, ref_metrics in zip(rank0['val_metrics'], reference['val_metrics']):
        assert dist_metrics['toy/mse'] == pytest.approx(ref_metrics['toy/mse'], rel=1e-4)


def test_odd_sized_validation_set_is_scored_on_exactly_its_samples(launch):
    rank0, rank1 = launch.reports
    for case in ('ddp', 'ddp_resume', 'fsdp', 'fsdp_resume'):
        assert rank0[case]['val_metrics'] == rank1[case]['val_metrics']  # same dict on every rank
        for metrics in rank0[case]['val_metrics']:
            # 7 samples on 2 ranks: the sampler pads one, which collect_results must drop.
            assert metrics['toy/count'] == metrics['toy/distinct'] == parts.VAL_SIZE
            assert metrics['toy/index_sum'] == sum(range(parts.VAL_SIZE))


def _files(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob('*') if path.is_file())


@pytest.mark.parametrize('case, saved', [('ddp', ['epoch_1.pth', 'epoch_2.pth']),
                                         ('ddp_resume', ['epoch_2.pth'])])
def test_only_rank_zero_writes_checkpoints_and_logs(launch, case, saved):
    work_dir = launch.out_dir / case
    files = _files(work_dir)
    stamp = re.fullmatch(r'(\d{8}_\d{6})\.py', next(f for f in files if f.endswith('.py'))).group(1)
    assert files == sorted(saved + ['last_checkpoint', f'{stamp}.py', f'{stamp}/{stamp}.log',
                                    f'{stamp}/vis_data/{stamp}.json', f'{stamp}/vis_data/config.py',
                                    f'{stamp}/vis_data/scalars.json'])
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'epoch_2.pth')
    # Rank 1 neither logs at INFO nor saves: each save is announced once in the joint output.
    assert launch.stdout.count('Saving checkpoint at 1 epochs') == 2  # the ddp and fsdp runs
    assert launch.stdout.count('Saving checkpoint at 2 epochs') == 4


def test_checkpoints_hold_the_final_weights_and_load_safely(launch):
    for case in ('ddp', 'fsdp'):
        checkpoint = torch.load(launch.out_dir / case / 'epoch_2.pth', weights_only=True)
        assert (checkpoint['meta']['epoch'], checkpoint['meta']['iter']) == (2, 6)
        state = checkpoint['state_dict']
        assert all(type(value) is torch.Tensor for value in state.values())  # whole, not DTensor
        assert_weights_close({k: v.tolist() for k, v in state.items()}, launch.reports[0][case]['final'],
                             atol=0)
        assert len(checkpoint['rng_state']) == 2  # one per rank, so each resumes its own stream
        momentum = [s['momentum_buffer'] for s in checkpoint['optimizer']['state'].values()]
        assert sorted(tuple(m.shape) for m in momentum) == sorted(
            tuple(v.shape) for k, v in state.items() if not k.startswith('unused'))


@pytest.mark.parametrize('case', ['ddp', 'fsdp'])
def test_resume_under_two_processes_continues_the_run(launch, case):
    for report in launch.reports:
        uninterrupted, resumed = report[case], report[f'{case}_resume']
        assert (resumed['start_epoch'], resumed['start_iter']) == (1, 3)  # after epoch 1
        assert (resumed['iter'], resumed['epoch']) == (6, 2)
        assert resumed['final'] == uninterrupted['final']
        assert resumed['val_metrics'] == uninterrupted['val_metrics'][1:]
    assert launch.reports[0][f'{case}_resume']['seed'] == launch.reports[0][case]['seed']


def test_seeds_backend_and_wrapper_options(launch):
    rank0, rank1 = (report['ddp'] for report in launch.reports)
    assert (rank0['seed'], rank1['seed']) == (7, 8)  # diff_rank_seed: seed + rank
    assert rank0['sampler_seed'] == rank1['sampler_seed']  # but one shared data order
    assert rank0['backend'] == 'gloo' and rank0['world_size'] == 2
    assert launch.stdout.count('dist_cfg.backend is nccl but CUDA is not available: using gloo') == 1
    assert rank0['wrapper'] == 'MMDistributedDataParallel'
    assert rank0['find_unused_parameters'] is True  # from model_wrapper_cfg
    # The runner's default skips per-forward buffer syncs with the keyword this torch wants.
    assert 'broadcast_buffers` is deprecated' not in launch.stderr


def test_fsdp2_trains_sharded_on_cpu(launch):
    rank0, rank1 = (report['fsdp'] for report in launch.reports)
    assert rank0['wrapper'] == 'MMFullyShard'
    assert rank0['loss_scaler'] == 'ShardedGradScaler'  # AmpOptimWrapper(use_fsdp=True), float16
    assert rank0['final'] == rank1['final']  # gathered whole from the shards
    assert rank0['initial'] == launch.reports[0]['ddp']['initial']
    # Same data and start as the float32 DDP run; float16 autocast costs a little precision.
    assert_weights_close(rank0['final'], launch.reports[0]['ddp']['final'], atol=5e-3)


@pytest.mark.skipif(torch.cuda.is_available(), reason='FSDP1 runs where there is a GPU')
def test_fsdp1_on_cpu_points_to_fsdp2(launch):
    message = launch.reports[0]['fsdp1_error']
    assert 'accelerator' in message  # torch's own words are kept
    assert "model_wrapper_cfg=dict(type='MMFullyShard'" in message
