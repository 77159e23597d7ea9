"""MMSeparateDistributedDataParallel: one DDP per trainable child (GAN-style models).

(The file name keeps MMEngine's spelling so ``mmengine.model.wrappers.seperate_distributed``
imports port by renaming.)
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from torch import nn
from torch.nn.parallel import DistributedDataParallel

from mmlite.registry import MODEL_WRAPPERS

from .distributed import MMDistributedDataParallel, no_forward_buffer_sync


@MODEL_WRAPPERS.register_module()
class MMSeparateDistributedDataParallel(DistributedDataParallel):
    """Wrap each child with trainable parameters in its own :class:`MMDistributedDataParallel`.

    The model's own ``train_step`` drives the optimisation (e.g. generator and discriminator
    steps with an OptimWrapperDict); this wrapper only forwards the step calls.

    Args:
        module: the model whose children get wrapped.
        broadcast_buffers, find_unused_parameters, **kwargs: passed to each child's DDP; by
            default buffers are not synced before every forward (see ``no_forward_buffer_sync``).
    """

    def __init__(self, module: nn.Module, broadcast_buffers: bool | None = None,
                 find_unused_parameters: bool = False, **kwargs: Any) -> None:
        # Deliberately skip DDP.__init__: this object holds DDPs, it is not one.
        nn.Module.__init__(self)
        self.module = module
        if broadcast_buffers is not None:
            kwargs['broadcast_buffers'] = broadcast_buffers
        elif 'forward_sync_buffers' not in kwargs:
            kwargs.update(no_forward_buffer_sync())  # MMEngine's default: no per-forward sync
        for name, child in list(module._modules.items()):
            if child is None or not any(p.requires_grad for p in child.parameters()):
                continue
            module._modules[name] = MMDistributedDataParallel(
                module=child, find_unused_parameters=find_unused_parameters, **kwargs)

    def train_step(self, data: Any, optim_wrapper: Any) -> Any:
        return self.module.train_step(data, optim_wrapper)

    def val_step(self, data: Any) -> Any:
        return self.module.val_step(data)

    def test_step(self, data: Any) -> Any:
        return self.module.test_step(data)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Skip gradient sync in every wrapped child (gradient accumulation)."""
        with ExitStack() as stack:
            for child in self.module._modules.values():
                if isinstance(child, DistributedDataParallel):
                    stack.enter_context(child.no_sync())
            yield

    def train(self, mode: bool = True) -> MMSeparateDistributedDataParallel:
        self.training = mode
        self.module.train(mode)
        return self
