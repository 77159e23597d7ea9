"""Toy parts shared by the distributed runner worker (run under torchrun) and the in-process
single-process reference in tests/dist/test_dist_runner.py.

Nothing here is registered: the Runner gets built objects, so importing this module twice (the
worker and the test process) cannot clash in the registries.

- ``PointsDataset``: ``size`` fixed samples ``dict(inputs=(4,), target=(), index=())``.
- ``ToyRegressor``: 4 -> 8 -> 1 with a mean squared loss (so DDP's gradient average over ranks
  equals one process's gradient over the union batch), plus a layer the loss never uses.
- ``CountingMetric``: counts the samples it scored and which ones, and their mean squared error.
- ``ReportHook``: records what the test asserts on (weights, counters, seeds, metrics).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from mmlite.evaluator import BaseMetric
from mmlite.hooks import Hook
from mmlite.model import BaseModel

TRAIN_SIZE = 12
VAL_SIZE = 7  # odd: with 2 ranks the sampler pads one sample, which must not be scored
MAX_EPOCHS = 2


class PointsDataset(Dataset):
    """Deterministic regression samples; ``seed`` picks the split."""

    def __init__(self, size: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(size, 4, generator=generator)
        self.targets = self.inputs @ torch.tensor([0.5, -1.0, 2.0, 0.3]) + 0.1

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=self.inputs[index], target=self.targets[index],
                    index=torch.tensor(index))


class ToyRegressor(BaseModel):
    """A two-layer regressor; ``init_std`` adds a random Normal init_cfg run by ``init_weights``."""

    def __init__(self, init_std: float | None = None) -> None:
        init_cfg = dict(type='Normal', layer='Linear', std=init_std) if init_std else None
        super().__init__(init_cfg=init_cfg)
        self.hidden = nn.Linear(4, 8)
        self.head = nn.Linear(8, 1)
        self.unused = nn.Linear(4, 1)  # DDP needs find_unused_parameters=True for this one

    def forward(self, inputs, target=None, index=None, mode: str = 'tensor'):
        pred = self.head(torch.tanh(self.hidden(inputs))).squeeze(1)
        if mode == 'loss':
            return dict(loss=((pred.float() - target) ** 2).mean())
        if mode == 'predict':
            return [dict(index=int(i), pred=float(p), target=float(t))
                    for i, p, t in zip(index, pred, target)]
        return pred


class CountingMetric(BaseMetric):
    """How many samples were scored, which ones, and their mean squared error."""

    default_prefix = 'toy'

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(data_samples)

    def compute_metrics(self, results: list) -> dict:
        indices = [r['index'] for r in results]
        return dict(count=len(results), distinct=len(set(indices)), index_sum=sum(indices),
                    mse=sum((r['pred'] - r['target']) ** 2 for r in results) / len(results))


def weights(module: nn.Module) -> dict[str, list]:
    """The model's parameters as nested lists (a wrapper's ``module.`` prefix dropped)."""
    inner = getattr(module, 'module', module)
    return {name: tensor.detach().tolist() for name, tensor in inner.state_dict().items()}


class ReportHook(Hook):
    """Fill ``report`` with the run's observable state for the test to compare."""

    priority = 'LOWEST'

    def __init__(self, report: dict) -> None:
        self.report = report
        report['val_metrics'] = []

    def before_train(self, runner) -> None:
        sampler = runner.train_dataloader.sampler
        scaler = getattr(runner.optim_wrapper, 'loss_scaler', None)
        self.report.update(start_iter=runner.iter, start_epoch=runner.epoch, seed=runner.seed,
                           sampler_seed=sampler.seed, initial=weights(runner.model),
                           wrapper=type(runner.model).__name__, loss_scaler=type(scaler).__name__,
                           find_unused_parameters=getattr(runner.model, 'find_unused_parameters',
                                                          None))

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.report['val_metrics'].append(dict(metrics))

    def after_train(self, runner) -> None:
        self.report.update(final=weights(runner.model), iter=runner.iter, epoch=runner.epoch)


def runner_kwargs(work_dir: str, batch_size: int, report: dict, *, launcher: str = 'none',
                  model: nn.Module | None = None, sampler_seed: int | None = None,
                  randomness: dict | None = None, model_wrapper_cfg: dict | None = None,
                  optim_wrapper: dict | None = None, load_from: str | None = None,
                  env_cfg: dict | None = None, name: str = 'toy') -> dict:
    """Runner arguments of the toy run: 2 epochs of SGD, validation after each, checkpoints."""
    sampler = dict(type='DefaultSampler', shuffle=True)
    if sampler_seed is not None:
        sampler['seed'] = sampler_seed
    loader = dict(num_workers=0, collate_fn=dict(type='default_collate'))
    return dict(
        model=model if model is not None else ToyRegressor(),
        work_dir=work_dir,
        train_dataloader=dict(loader, dataset=PointsDataset(TRAIN_SIZE, seed=1), sampler=sampler,
                              batch_size=batch_size),
        val_dataloader=dict(loader, dataset=PointsDataset(VAL_SIZE, seed=2), batch_size=2,
                            sampler=dict(type='DefaultSampler', shuffle=False)),
        val_evaluator=CountingMetric(),
        val_cfg=dict(),
        train_cfg=dict(by_epoch=True, max_epochs=MAX_EPOCHS, val_interval=1),
        optim_wrapper=optim_wrapper or dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[ReportHook(report)],
        launcher=launcher, env_cfg=env_cfg, randomness=randomness or dict(seed=0),
        load_from=load_from, resume=load_from is not None, experiment_name=name,
        cfg=dict(model_wrapper_cfg=model_wrapper_cfg) if model_wrapper_cfg else None)
