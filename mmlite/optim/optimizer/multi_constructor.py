"""MultiOptimWrapperConstructor: one optimizer per submodule (GANs), as an OptimWrapperDict."""
from __future__ import annotations

import copy

from torch import nn

from mmlite.registry import OPTIM_WRAPPER_CONSTRUCTORS

from .optimizer_wrapper_dict import OptimWrapperDict


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MultiOptimWrapperConstructor:
    """Build an :class:`OptimWrapperDict` whose items optimise the model's submodules.

    Every key of ``optim_wrapper_cfg`` names a submodule (dotted paths work) and holds that
    item's config: ``optimizer``, and optionally the wrapper ``type``, ``clip_grad``,
    ``paramwise_cfg`` and ``constructor`` (default ``'DefaultOptimWrapperConstructor'``)::

        optim_wrapper = dict(
            constructor='MultiOptimWrapperConstructor',
            generator=dict(optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))),
            discriminator=dict(optimizer=dict(type='Adam', lr=2e-4),
                               paramwise_cfg=dict(norm_decay_mult=0.)))
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None) -> None:
        if not isinstance(optim_wrapper_cfg, dict):
            raise TypeError(f'optim_wrapper_cfg must be a dict, got {type(optim_wrapper_cfg).__name__}')
        if paramwise_cfg is not None:
            raise ValueError('MultiOptimWrapperConstructor: set paramwise_cfg inside each item '
                             '(optim_wrapper.generator.paramwise_cfg), not at the top level')
        if not optim_wrapper_cfg:
            raise ValueError('MultiOptimWrapperConstructor needs one config per submodule, e.g. '
                             'generator=dict(optimizer=...), discriminator=dict(optimizer=...)')
        self.constructors = {}
        for name, item_cfg in optim_wrapper_cfg.items():
            if not isinstance(item_cfg, dict) or 'optimizer' not in item_cfg:
                raise TypeError(f'optim_wrapper.{name} must be a dict with an "optimizer" key '
                                f'(one item per submodule), got {item_cfg!r}')
            item_cfg = copy.deepcopy(dict(item_cfg))
            constructor_type = item_cfg.pop('constructor', 'DefaultOptimWrapperConstructor')
            item_paramwise = item_cfg.pop('paramwise_cfg', None)
            self.constructors[name] = OPTIM_WRAPPER_CONSTRUCTORS.build(
                dict(type=constructor_type, optim_wrapper_cfg=item_cfg,
                     paramwise_cfg=item_paramwise))

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        while hasattr(model, 'module'):  # DDP and friends
            model = model.module
        wrappers = {}
        for name, constructor in self.constructors.items():
            try:
                submodule = model.get_submodule(name)
            except AttributeError:
                children = [child for child, _ in model.named_children()]
                raise AttributeError(
                    f'optim_wrapper.{name}: {type(model).__name__} has no submodule {name!r}; its '
                    f'children are {children}. Each key besides "constructor" must name the '
                    'submodule that item optimises.') from None
            wrappers[name] = constructor(submodule)
        return OptimWrapperDict(**wrappers)
