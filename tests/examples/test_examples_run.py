"""Every script in examples/ runs offline in seconds and does what its docstring says.

The four scripts start together (one thread each) in a module fixture; each test then checks
what one of them printed and wrote.
"""
from __future__ import annotations

import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EXAMPLES = {
    'gan': ['examples/gan_two_optimizers.py'],
    'custom_val': ['examples/custom_val_loop.py'],
    'mixup': ['examples/mixup_data_preprocessor.py'],
    'resume': ['examples/resume_and_finetune.py'],
}
TIMEOUT = 240  # generous: a busy 2-core machine; each takes a few seconds when idle


class Finished:
    def __init__(self, work_dir: str, process: subprocess.Popen) -> None:
        self.work_dir = work_dir
        try:
            self.stdout, self.stderr = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        self.returncode = process.returncode

    def line(self, prefix: str) -> str:
        lines = [line for line in self.stdout.splitlines() if line.startswith(prefix)]
        assert lines, f'no line starting with {prefix!r} in:\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}'
        return lines[-1]


@pytest.fixture(scope='module')
def examples(tmp_path_factory):
    env = dict(os.environ, OMP_NUM_THREADS='1', NO_COLOR='1')
    started = {}
    for name, script in EXAMPLES.items():
        work_dir = str(tmp_path_factory.mktemp(f'example_{name}'))
        started[name] = (work_dir, subprocess.Popen(
            [sys.executable, osp.join(REPO, *script), '--work-dir', work_dir], cwd=REPO, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = {}
    try:
        for name, (work_dir, process) in started.items():
            results[name] = Finished(work_dir, process)
    finally:
        for _, process in started.values():
            if process.poll() is None:
                process.kill()
    return results


def finished(examples, name) -> Finished:
    result = examples[name]
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def numbers(line: str) -> list[float]:
    return [float(x) for x in re.findall(r'-?\d+\.\d+|-?\d+', line)]


def last_scalars(work_dir: str) -> list[dict]:
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_every_example_has_a_docstring_saying_what_it_shows():
    for script in glob.glob(osp.join(REPO, 'examples', '*.py')):
        with open(script) as f:
            source = f.read()
        assert source.startswith('"""') and 'What it shows' in source, script
    assert len(glob.glob(osp.join(REPO, 'examples', '*.py'))) == len(EXAMPLES)


def test_gan_moves_the_generator_onto_the_data(examples):
    result = finished(examples, 'gan')
    before = numbers(result.line('generated mean before training'))
    after = numbers(result.line('generated mean after training'))[:2]
    assert abs(before[0] - 2.0) + abs(before[1] + 1.0) > 2.0
    assert abs(after[0] - 2.0) < 0.5 and abs(after[1] + 1.0) < 0.5, after
    assert result.line('optimizers in the checkpoint').endswith("['discriminator', 'generator']")
    checkpoint = torch.load(osp.join(result.work_dir, 'iter_400.pth'), weights_only=True)
    assert set(checkpoint['param_schedulers']) == {'generator', 'discriminator'}
    rows = [row for row in last_scalars(result.work_dir) if 'iter' in row]
    assert {'loss_gen', 'loss_disc', 'generator.lr', 'discriminator.lr'} <= set(rows[-1])
    # The generator warmed up (LinearLR from 0.2x over 50 iterations); the discriminator did not.
    assert rows[0]['generator.lr'] < rows[0]['discriminator.lr'] == pytest.approx(2e-3)
    assert rows[-1]['generator.lr'] == pytest.approx(2e-3)


def test_custom_val_loop_scores_both_sets_and_fires_the_new_points(examples):
    result = finished(examples, 'custom_val')
    clean = numbers(result.line('clean accuracy'))[0]
    noisy = numbers(result.line('noisy accuracy'))[0]
    assert 85 < clean <= 100 and noisy < clean
    assert result.line('CustomValHook counted') == \
        'CustomValHook counted 3 batches and 359 samples of the noisy set'
    assert 'CustomValHook: the noisy set had 3 batches, 359 samples' in result.stdout
    val_rows = [row for row in last_scalars(result.work_dir) if 'iter' not in row]
    assert [row['step'] for row in val_rows] == [1, 2]
    assert val_rows[-1]['noisy/accuracy/top1'] == pytest.approx(noisy, abs=0.01)
    assert osp.isfile(osp.join(result.work_dir, 'best_accuracy_top1_epoch_2.pth'))


def test_mixup_mixes_training_batches_only(examples):
    result = finished(examples, 'mixup')
    soft = result.line('training labels: soft, shape (128, 10), rows sum to 1.000')
    assert 0.5 <= numbers(soft.split('largest share')[1])[0] < 1.0
    assert result.line('validation labels') == 'validation labels: torch.int64, shape (128,) (unchanged)'
    assert numbers(result.line('validation accuracy after 3 epochs'))[-1] > 80


def test_resume_continues_the_run_and_load_from_only_loads_weights(examples):
    result = finished(examples, 'resume')
    first = result.line('first run')
    resumed = result.line('resumed:')
    tuned = result.line('fine-tuned')
    assert 'started at epoch 0, iter 0' in first and 'ended at epoch 2, iter 90' in first
    assert 'started at epoch 2, iter 90 with lr 0.04523 and 4 momentum buffers' in resumed
    assert 'ended at epoch 3, iter 135' in resumed
    assert 'started at epoch 0, iter 0 with lr 0.005 and 0 momentum buffers' in tuned
    assert 'ended at epoch 1, iter 45' in tuned
    # Fine-tuning starts from the trained weights: one epoch at a small lr keeps them good.
    assert numbers(tuned.split('accuracy')[1])[0] > 85
    pretrain, finetune = osp.join(result.work_dir, 'pretrain'), osp.join(result.work_dir, 'finetune')
    assert sorted(osp.basename(p) for p in glob.glob(osp.join(pretrain, 'epoch_*.pth'))) == \
        ['epoch_1.pth', 'epoch_2.pth', 'epoch_3.pth']
    assert len(glob.glob(osp.join(pretrain, '2*', 'vis_data'))) == 2  # two runs, one work dir
    assert osp.isfile(osp.join(finetune, 'epoch_1.pth'))
