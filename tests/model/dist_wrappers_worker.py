"""Run by tests/model/test_model_wrappers.py under torchrun (2 CPU processes, gloo).

Each rank trains on different data through the wrappers and writes what it saw to
``<out_dir>/rank<k>.json`` for the test to check.
"""
import json
import os
import sys
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import nn

from mmlite.model import (BaseModel, MMDistributedDataParallel, MMSeparateDistributedDataParallel,
                          is_model_wrapper)
from mmlite.registry import MODEL_WRAPPERS


class Toy(BaseModel):
    def __init__(self, unused=False):
        super().__init__()
        self.fc = nn.Linear(2, 1, bias=False)
        nn.init.constant_(self.fc.weight, 1.0)
        if unused:
            self.spare = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, data_samples=None, mode='tensor'):
        out = self.fc(inputs).squeeze(1)
        if mode == 'loss':
            return dict(loss=((out - labels) ** 2).mean())
        return out


class Wrapper:
    def __init__(self, params, lr=0.1):
        self.optimizer = torch.optim.SGD(params, lr=lr)
        self.context_models = []

    @contextmanager
    def optim_context(self, model):
        self.context_models.append(type(model).__name__)
        yield

    def update_params(self, loss):
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()


class TwoPart(BaseModel):
    def __init__(self):
        super().__init__()
        self.gen = nn.Linear(2, 2)
        self.disc = nn.Linear(2, 1)
        self.frozen = nn.Linear(2, 2).requires_grad_(False)

    def forward(self, inputs, mode='tensor'):
        return self.disc(self.gen(inputs))

    def train_step(self, data, optim_wrapper):
        return dict(gen_type=type(self.gen).__name__)


def main(out_dir):
    dist.init_process_group('gloo')
    rank = dist.get_rank()
    results = {}
    # Different data per rank: the update is right only if the gradients were averaged.
    x = torch.tensor([[float(rank + 1), 0.0]])
    batch = dict(inputs=x, labels=torch.tensor([0.0]))

    model = Toy()
    ddp = MODEL_WRAPPERS.build(dict(type='MMDistributedDataParallel', module=model, device_ids=[rank]))
    wrapper = Wrapper(ddp.parameters())
    log_vars = ddp.train_step(batch, wrapper)
    results['weight'] = model.fc.weight.detach().view(-1).tolist()
    results['loss'] = log_vars['loss'].item()
    results['loss_requires_grad'] = log_vars['loss'].requires_grad
    results['context_models'] = wrapper.context_models
    results['val'] = ddp.val_step(batch).tolist()
    results['test'] = ddp.test_step(batch).tolist()
    results['is_wrapper'] = [is_model_wrapper(ddp), is_model_wrapper(model)]

    anomalous = MMDistributedDataParallel(Toy(unused=True), detect_anomalous_params=True,
                                          find_unused_parameters=True)
    from mmlite.model import detect_anomalous_params
    loss = anomalous.module.parse_losses(anomalous(**batch, mode='loss'))[0]
    results['anomalous'] = detect_anomalous_params(loss, anomalous)
    anomalous.train_step(batch, Wrapper(anomalous.parameters()))

    two = TwoPart()
    sep = MMSeparateDistributedDataParallel(two)
    results['separate'] = {name: type(child).__name__ for name, child in two._modules.items()}
    results['separate_step'] = sep.train_step(batch, None)
    results['separate_is_wrapper'] = is_model_wrapper(sep)
    with sep.no_sync():
        pass

    results['fsdp'] = run_fsdp(batch)
    with open(os.path.join(out_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(results, f)
    dist.destroy_process_group()


def run_fsdp(batch):
    """FSDP on the CPU with gloo is best-effort in torch: record the outcome, do not hide it."""
    try:
        model = Toy()
        fsdp = MODEL_WRAPPERS.build(dict(type='MMFullyShardedDataParallel', module=model,
                                         sharding_strategy='NO_SHARD'))
        wrapper = Wrapper(fsdp.parameters())
        fsdp.train_step(batch, wrapper)
        with torch.no_grad():
            prediction = fsdp.val_step(batch).tolist()
        return dict(ok=True, prediction=prediction, is_wrapper=is_model_wrapper(fsdp),
                    type=type(fsdp).__name__)
    except Exception as exc:  # reported to the test, which prints it
        return dict(ok=False, error=f'{type(exc).__name__}: {exc}'[:500])


if __name__ == '__main__':
    main(sys.argv[1])
