"""MMDistributedDataParallel: torch DDP that speaks the train_step/val_step/test_step contract."""
from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DataParallel, DistributedDataParallel

from mmlite.registry import MODEL_WRAPPERS

from ..base_model.base_model import run_forward
from ..utils import detect_anomalous_params

MODEL_WRAPPERS.register_module(module=DistributedDataParallel)
MODEL_WRAPPERS.register_module(module=DataParallel)


def no_forward_buffer_sync() -> dict[str, bool]:
    """DDP's keyword to skip the buffer broadcast before every forward (SyncBuffersHook syncs
    them per epoch instead). torch 2.14 renamed ``broadcast_buffers=False`` (deprecated, and it
    also skipped the sync at construction) to ``forward_sync_buffers=False``."""
    if 'forward_sync_buffers' in inspect.signature(DistributedDataParallel.__init__).parameters:
        return {'forward_sync_buffers': False}
    return {'broadcast_buffers': False}


def _on_cpu(module: nn.Module) -> bool:
    tensors = list(module.parameters()) + list(module.buffers())
    return bool(tensors) and all(t.device.type == 'cpu' for t in tensors)


@MODEL_WRAPPERS.register_module()
class MMDistributedDataParallel(DistributedDataParallel):
    """DDP whose ``train_step`` runs the inner model's preprocessor, then the forward THROUGH DDP
    (so the gradient all-reduce hooks fire), then ``parse_losses`` and ``update_params``.

    ``val_step``/``test_step`` go straight to the inner model (no gradients to sync). A module on
    the CPU (gloo) drops ``device_ids``/``output_device``, which torch only accepts for GPU modules,
    so the same wrapper config works on both.

    Args:
        module: the model (a :class:`BaseModel`), already on its device.
        detect_anomalous_params: after each step, log parameters the loss does not depend on
            (slow; for debugging "unused parameter" errors).
        **kwargs: passed to ``DistributedDataParallel``.
    """

    def __init__(self, module: nn.Module, detect_anomalous_params: bool = False, **kwargs: Any) -> None:
        if _on_cpu(module):
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        super().__init__(module=module, **kwargs)
        self.detect_anomalous_params = detect_anomalous_params

    def train_step(self, data: Any, optim_wrapper: Any) -> dict[str, torch.Tensor]:
        with optim_wrapper.optim_context(self):
            data = self.module.data_preprocessor(data, training=True)
            losses = self._run_forward(data, mode='loss')
            parsed_loss, log_vars = self.module.parse_losses(losses)
        optim_wrapper.update_params(parsed_loss)
        if self.detect_anomalous_params:
            detect_anomalous_params(parsed_loss, model=self)
        return log_vars

    def val_step(self, data: Any) -> Any:
        return self.module.val_step(data)

    def test_step(self, data: Any) -> Any:
        return self.module.test_step(data)

    def _run_forward(self, data: Any, mode: str) -> Any:
        return run_forward(self, data, mode)
