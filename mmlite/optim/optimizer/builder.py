"""Register torch's optimizers, and build an optimizer wrapper from the ``optim_wrapper`` config."""
from __future__ import annotations

import copy
import inspect

import torch
from torch import nn

from mmlite.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIMIZERS

from .optimizer_wrapper import OptimWrapper


def register_torch_optimizers() -> list[str]:
    """Register every ``torch.optim`` optimizer class in OPTIMIZERS under its own name.

    torch's Adafactor goes in as ``'TorchAdafactor'``, as MMEngine does, leaving ``'Adafactor'``
    to the transformers implementation downstream repos register.
    """
    names = []
    for name in dir(torch.optim):
        optim_cls = getattr(torch.optim, name)
        if (not inspect.isclass(optim_cls) or not issubclass(optim_cls, torch.optim.Optimizer)
                or optim_cls is torch.optim.Optimizer):
            continue
        registered = 'TorchAdafactor' if name == 'Adafactor' else name
        if OPTIMIZERS.module_dict.get(registered) is not optim_cls:
            OPTIMIZERS.register_module(name=registered, module=optim_cls)
        names.append(registered)
    return names


TORCH_OPTIMIZERS = register_torch_optimizers()


def build_optim_wrapper(model: nn.Module, cfg: dict) -> OptimWrapper:
    """Build the wrapper ``cfg`` describes for ``model``.

    ``cfg`` is the ``optim_wrapper`` config: ``constructor`` (default
    ``'DefaultOptimWrapperConstructor'``) picks the class from OPTIM_WRAPPER_CONSTRUCTORS,
    ``paramwise_cfg`` goes to it, and the rest (``type``, ``optimizer``, ``clip_grad``...) is
    its ``optim_wrapper_cfg``.
    """
    optim_wrapper_cfg = copy.deepcopy(dict(cfg))
    constructor_type = optim_wrapper_cfg.pop('constructor', 'DefaultOptimWrapperConstructor')
    paramwise_cfg = optim_wrapper_cfg.pop('paramwise_cfg', None)
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=constructor_type, optim_wrapper_cfg=optim_wrapper_cfg,
             paramwise_cfg=paramwise_cfg))
    return constructor(model)
