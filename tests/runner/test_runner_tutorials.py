"""The usages MMEngine's runner and model tutorials show, with mmlite imports."""
import os
import subprocess
import sys
import textwrap

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mmlite.evaluator import BaseMetric
from mmlite.hooks import Hook
from mmlite.model import BaseModel
from mmlite.registry import HOOKS, LOOPS, RUNNERS
from mmlite.runner import BaseLoop, Runner


class FakeFashionMNIST(Dataset):
    """(img, label) tuples shaped like FashionMNIST, learnable: the label is in the pixels."""

    def __init__(self, size: int, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, 10, (size,), generator=g)
        self.images = torch.rand(size, 1, 28, 28, generator=g) * 0.1
        for i, label in enumerate(self.labels):
            self.images[i, 0, label, :] += 1.0

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]


class NeuralNetwork(BaseModel):
    def __init__(self, data_preprocessor=None):
        super(NeuralNetwork, self).__init__(data_preprocessor)
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 64), nn.ReLU(), nn.Linear(64, 10))
        self.loss = nn.CrossEntropyLoss()

    def forward(self, img, label, mode='tensor'):
        x = self.flatten(img)
        pred = self.linear_relu_stack(x)
        loss = self.loss(pred, label)
        if mode == 'loss':
            return dict(loss=loss)
        elif mode == 'predict':
            return pred.argmax(1), loss.item()
        else:
            return pred


class FashionMnistMetric(BaseMetric):
    def process(self, data, preds) -> None:
        self.results.append(((data[1] == preds[0].cpu()).sum(), preds[1], len(preds[0])))

    def compute_metrics(self, results):
        correct, loss, batch_size = zip(*results)
        test_loss, correct = sum(loss) / len(self.results), sum(correct) / sum(batch_size)
        return dict(Accuracy=correct, Avg_loss=test_loss)


def test_model_tutorial_runner_with_objects_trains_and_validates_in_fp16(tmp_path):
    train_dataloader = DataLoader(dataset=FakeFashionMNIST(256), batch_size=64)
    test_dataloader = DataLoader(dataset=FakeFashionMNIST(128, seed=1), batch_size=64)
    runner = Runner(
        model=NeuralNetwork(),
        work_dir=str(tmp_path),
        train_dataloader=train_dataloader,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.5)),
        train_cfg=dict(by_epoch=True, max_epochs=3, val_interval=1),
        val_cfg=dict(fp16=True),
        val_dataloader=test_dataloader,
        val_evaluator=dict(metrics=FashionMnistMetric()),
        default_hooks=dict(checkpoint=None))
    runner.train()
    assert runner.epoch == 3 and runner.iter == 12
    metrics = runner.val()
    assert float(metrics['Accuracy']) > 0.9
    # validation ran in bfloat16 autocast on the CPU: the loss is still a finite number
    assert metrics['Avg_loss'] == metrics['Avg_loss']


class CountingDataset(Dataset):
    def __init__(self, size=8, offset=0.0, **kwargs):
        self.data = [torch.tensor([float(i) + offset, 1.0]) for i in range(size)]

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return dict(inputs=self.data[i], labels=self.data[i].sum())


class Regressor(BaseModel):
    def __init__(self, data_preprocessor=None):
        super().__init__(data_preprocessor)
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.linear(inputs).squeeze(-1)
        if mode == 'loss':
            labels = torch.stack(labels) if isinstance(labels, list) else labels
            return dict(loss=((out - labels) ** 2).mean())
        return [dict(pred=o) for o in out]


class CountMetric(BaseMetric):
    default_prefix = 'count'

    def process(self, data_batch, data_samples):
        self.results.extend(1 for _ in data_samples)

    def compute_metrics(self, results):
        return dict(n=len(results))


@LOOPS.register_module(force=True)
class CustomValLoop(BaseLoop):
    """The runner tutorial's loop: a second validation set with its own hook points."""

    def __init__(self, runner, dataloader, evaluator, dataloader2):
        super().__init__(runner, dataloader, evaluator)
        self.dataloader2 = runner.build_dataloader(dataloader2)

    def run(self):
        self.runner.call_hooks('before_val_epoch')
        for idx, data_batch in enumerate(self.dataloader):
            self.runner.call_hooks('before_val_iter', batch_idx=idx, data_batch=data_batch)
            outputs = self.run_iter(idx, data_batch)
            self.runner.call_hooks('after_val_iter', batch_idx=idx, data_batch=data_batch,
                                   outputs=outputs)
        metric = self.evaluator.evaluate()
        for idx, data_batch in enumerate(self.dataloader2):
            self.runner.call_hooks('before_valloader2_iter', batch_idx=idx, data_batch=data_batch)
            outputs = self.run_iter(idx, data_batch)
            self.runner.call_hooks('after_valloader2_iter', batch_idx=idx, data_batch=data_batch,
                                   outputs=outputs)
        metric2 = self.evaluator.evaluate()
        self.runner.call_hooks('after_val_epoch', metrics=metric)
        self.metrics = (metric, metric2)
        return metric

    def run_iter(self, idx, data_batch):
        with torch.no_grad():
            outputs = self.runner.model.val_step(data_batch)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        return outputs


@HOOKS.register_module(force=True)
class CustomValHook(Hook):
    calls = []

    def before_valloader2_iter(self, batch_idx, data_batch):
        self.calls.append(('before', batch_idx))

    def after_valloader2_iter(self, batch_idx, data_batch, outputs):
        self.calls.append(('after', batch_idx, len(outputs)))


def _loader(dataset_cfg, batch_size=4):
    return dict(dataset=dataset_cfg, batch_size=batch_size, sampler=dict(type='DefaultSampler',
                shuffle=False), collate_fn=dict(type='default_collate'))


def test_custom_val_loop_with_extra_hook_points_from_config(tmp_path):
    CustomValHook.calls = []
    runner = Runner(
        model=Regressor(), work_dir=str(tmp_path),
        val_dataloader=_loader(dict(type=CountingDataset, size=8)),
        val_cfg=dict(type='CustomValLoop', dataloader2=_loader(dict(type=CountingDataset, size=6), 3)),
        val_evaluator=dict(type=CountMetric),
        custom_hooks=[dict(type='CustomValHook')], default_hooks=dict(checkpoint=None))
    metrics = runner.val()
    assert metrics == {'count/n': 8}
    assert runner.val_loop.metrics[1] == {'count/n': 6}
    assert CustomValHook.calls == [('before', 0), ('after', 0, 3), ('before', 1), ('after', 1, 3)]


CUSTOM_RUNNER_PLUGIN = '''
from mmlite.registry import RUNNERS
from mmlite.runner import Runner

@RUNNERS.register_module()
class CustomRunner(Runner):
    def setup_env(self, env_cfg):
        super().setup_env(env_cfg)
        print('CUSTOM SETUP ENV CALLED')
'''


def test_custom_runner_through_runner_type_in_tools_train(tmp_path):
    (tmp_path / 'my_runner_plugin.py').write_text(CUSTOM_RUNNER_PLUGIN)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    config = tmp_path / 'cfg.py'
    config.write_text(textwrap.dedent(f'''
        _base_ = ['{repo}/configs/digits_mlp.py']
        custom_imports = dict(imports=['my_runner_plugin'], allow_failed_imports=False)
        runner_type = 'CustomRunner'
        train_cfg = dict(max_epochs=1)
        default_hooks = dict(logger=dict(type='LoggerHook', interval=100))
    '''))
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    result = subprocess.run([sys.executable, os.path.join(repo, 'tools/train.py'), str(config),
                             '--work-dir', str(tmp_path / 'wd')], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'CUSTOM SETUP ENV CALLED' in result.stdout
    assert 'accuracy/top1' in result.stdout + result.stderr
    assert (tmp_path / 'wd' / 'epoch_1.pth').exists()


def test_runner_type_builds_the_registered_class(tmp_path):
    @RUNNERS.register_module(force=True)
    class RecordingRunner(Runner):
        pass

    from mmlite.runner.cli import build_runner
    from mmlite.config import Config
    cfg = Config(dict(model=dict(type=Regressor), work_dir=str(tmp_path), runner_type='RecordingRunner',
                      default_hooks=dict(checkpoint=None)))
    assert type(build_runner(cfg)).__name__ == 'RecordingRunner'
