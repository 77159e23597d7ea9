"""BaseModel: the train/val/test step contract between the runner's loops and a network."""
from __future__ import annotations

from abc import abstractmethod
from collections import OrderedDict
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

from mmlite.registry import MODELS

from ..base_module import BaseModule
from .data_preprocessor import BaseDataPreprocessor
from .direct_call import plain_forward


def run_forward(model: nn.Module, data: Any, mode: str) -> Any:
    """Call ``model`` on a preprocessed batch: a dict unpacks as keywords, a tuple/list as arguments."""
    if isinstance(data, dict):
        return model(**data, mode=mode)
    if isinstance(data, (list, tuple)):
        return model(*data, mode=mode)
    raise TypeError(f'the data preprocessor of {type(model).__name__} must return a dict, tuple or list '
                    f'(unpacked into forward), got {type(data).__name__}')


class BaseModel(BaseModule):
    """Base of the models a Runner trains: implement ``forward(..., mode)``; the steps are ready.

    ``train_step`` = preprocess -> ``forward(mode='loss')`` -> :meth:`parse_losses` ->
    ``optim_wrapper.update_params``; ``val_step``/``test_step`` = preprocess -> ``forward(mode='predict')``.

    Args:
        data_preprocessor: a module, or a config built from MODELS; defaults to
            ``dict(type='BaseDataPreprocessor')``, which only moves data to the model's device.
        init_cfg: see :class:`BaseModule`.
    """

    def __init__(self, data_preprocessor: dict | nn.Module | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(init_cfg)
        if data_preprocessor is None:
            data_preprocessor = dict(type='BaseDataPreprocessor')
        if isinstance(data_preprocessor, nn.Module):
            self.data_preprocessor = data_preprocessor
        elif isinstance(data_preprocessor, dict):
            self.data_preprocessor = MODELS.build(data_preprocessor)
        else:
            raise TypeError(f'{type(self).__name__}: data_preprocessor must be a config dict or an nn.Module, '
                            f'got {type(data_preprocessor).__name__}')

    def train_step(self, data: Any, optim_wrapper: Any) -> dict[str, torch.Tensor]:
        """One optimisation step; returns the log variables (detached 0-d tensors, no device sync)."""
        # Read from _modules, where nn.Module keeps it: self.data_preprocessor would first miss
        # in the instance dict and then go through Module.__getattr__, every iteration.
        preprocessor = self._modules.get('data_preprocessor')
        if preprocessor is None:
            preprocessor = self.data_preprocessor
        # Hook-free modules are run through their forward directly (see direct_call.py).
        preprocess = plain_forward(preprocessor) or preprocessor
        # Every Python call per iteration costs the loop several times its own time (the torch
        # work around it runs colder): when optim_context() could only return the no-op context,
        # neither it nor should_sync() is called.
        context = (None if getattr(optim_wrapper, 'forward_needs_no_context', False)
                   else optim_wrapper.optim_context(self))
        if context is None or type(context) is nullcontext:  # no __enter__/__exit__ for nothing
            losses = self._run_forward(preprocess(data, True), mode='loss')
        else:  # as in MMEngine, the preprocessor runs inside the context too (autocast, no_sync)
            with context:
                losses = self._run_forward(preprocess(data, True), mode='loss')
        parsed_loss, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(parsed_loss)
        return log_vars

    def val_step(self, data: Any) -> Any:
        """Predictions for a validation batch (``forward(mode='predict')``)."""
        data = self.data_preprocessor(data, False)
        return self._run_forward(data, mode='predict')

    def test_step(self, data: Any) -> Any:
        """Predictions for a test batch (``forward(mode='predict')``)."""
        data = self.data_preprocessor(data, False)
        return self._run_forward(data, mode='predict')

    def _run_forward(self, data: Any, mode: str) -> Any:
        if type(data) is dict:  # the usual batch, without the call below
            return (plain_forward(self) or self)(**data, mode=mode)
        return run_forward(self, data, mode)

    def parse_losses(self, losses: dict[str, Any]) -> tuple[torch.Tensor, OrderedDict]:
        """Sum the entries whose key contains ``'loss'``; log every entry.

        A tensor entry counts as its mean, a list of tensors as the sum of their means. Returns
        ``(loss, log_vars)`` with ``log_vars = OrderedDict(loss=..., **entries)`` holding DETACHED
        tensors: no ``.item()`` here, the logger reduces them when a log line is due.
        """
        if not isinstance(losses, dict):
            raise TypeError(f'{type(self).__name__}.forward(mode="loss") must return a dict of losses, '
                            f'got {type(losses).__name__}')
        if len(losses) == 1:  # a single 0-d loss tensor, the usual case: nothing to sum
            (name, value), = losses.items()
            if type(value) is torch.Tensor and not value.dim() and 'loss' in name:
                detached = value.detach()
                log_vars = OrderedDict(loss=detached)
                log_vars[name] = detached
                return value, log_vars
        # One pass: every entry reduced and logged, the 'loss' ones summed as they come.
        log_vars: OrderedDict = OrderedDict(loss=None)  # 'loss' (the total) is the first key
        loss = None
        for name, value in losses.items():
            if isinstance(value, torch.Tensor):
                # A 0-d loss is its own mean: skipping .mean() saves an op and an autograd node.
                if value.dim():
                    value = value.mean()
            elif (isinstance(value, (list, tuple)) and value
                  and all(isinstance(item, torch.Tensor) for item in value)):
                value = sum(item.mean() for item in value)
            else:
                raise TypeError(f'loss entry {name!r} returned by {type(self).__name__}.forward(mode="loss") '
                                f'must be a tensor or a list of tensors, got {type(value).__name__}')
            log_vars[name] = value
            if 'loss' in name:
                loss = value if loss is None else loss + value
        if loss is None:
            raise ValueError(f'{type(self).__name__}.forward(mode="loss") returned no key containing "loss" '
                             f'(keys: {list(losses)}); name at least one entry e.g. "loss_cls"')
        detached = loss.detach()
        for name, value in log_vars.items():
            log_vars[name] = detached if value is loss or value is None else value.detach()
        return loss, log_vars

    @abstractmethod
    def forward(self, inputs: Any, data_samples: Any = None, mode: str = 'tensor') -> Any:
        """``mode='loss'`` -> dict of losses; ``'predict'`` -> predictions; ``'tensor'`` -> raw outputs."""

    # The data preprocessor keeps its own device: keep it in step with the model's.
    def to(self, *args: Any, **kwargs: Any) -> nn.Module:
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        result = super().to(*args, **kwargs)
        if device is not None:
            self._set_device(torch.device(device))
        return result

    def cuda(self, device: int | torch.device | None = None) -> nn.Module:
        result = super().cuda(device)
        self._set_device(torch.device('cuda', device) if isinstance(device, int)
                         else torch.device(device or 'cuda'))
        return result

    def mps(self) -> nn.Module:
        result = super().to('mps')
        self._set_device(torch.device('mps'))
        return result

    def cpu(self) -> nn.Module:
        result = super().cpu()
        self._set_device(torch.device('cpu'))
        return result

    def _set_device(self, device: torch.device) -> None:
        """Point every BaseDataPreprocessor inside this model at ``device``."""
        for module in self.modules():
            if isinstance(module, BaseDataPreprocessor):
                module._device = device
