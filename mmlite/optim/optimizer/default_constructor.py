"""DefaultOptimWrapperConstructor: an optimizer with per-parameter settings, in its wrapper."""
from __future__ import annotations

import difflib
import inspect
import logging
from typing import Any

import torch
from torch import nn

from mmlite.logging import print_log
from mmlite.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS

from .optimizer_wrapper import OptimWrapper

_NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm,
               nn.GroupNorm, nn.LayerNorm)
_PARAMWISE_KEYS = ('custom_keys', 'bias_lr_mult', 'bias_decay_mult', 'norm_decay_mult',
                   'dwconv_decay_mult', 'flat_decay_mult', 'bypass_duplicate')
_DECAY_MULTS = ('bias_decay_mult', 'norm_decay_mult', 'dwconv_decay_mult', 'flat_decay_mult')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DefaultOptimWrapperConstructor:
    """Build ``optim_wrapper_cfg['optimizer']`` over a model's parameters, with per-parameter
    learning rate and weight decay from ``paramwise_cfg``, and wrap it.

    ``paramwise_cfg`` keys (multipliers apply to the optimizer's ``lr`` / ``weight_decay``):

    - ``custom_keys``: ``{substring: dict(lr_mult=.., decay_mult=.., **extra)}``. A key matches
      a parameter whose full name (``backbone.layer1.0.conv.weight``) contains it; the longest
      matching key wins and the rules below are skipped; extra keys go into the param group.
    - ``bias_lr_mult``: biases, except those of norm layers.
    - ``norm_decay_mult``, then ``bias_decay_mult``, then ``dwconv_decay_mult`` (Conv2d with
      ``groups == in_channels``), then ``flat_decay_mult`` (any 1-D parameter): the first
      rule that applies sets the weight decay.
    - ``bypass_duplicate``: a parameter shared by several modules goes in once (otherwise a
      shared parameter is an error, as torch refuses it in two groups).

    ``paramwise_cfg`` may also sit inside ``optim_wrapper_cfg``. The wrapper ``type``
    defaults to ``'OptimWrapper'``.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None) -> None:
        if not isinstance(optim_wrapper_cfg, dict):
            raise TypeError(f'optim_wrapper_cfg must be a dict, got {type(optim_wrapper_cfg).__name__}')
        if 'optimizer' not in optim_wrapper_cfg:
            raise KeyError('optim_wrapper config needs an "optimizer" key, e.g. '
                           f'optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01)); got keys '
                           f'{list(optim_wrapper_cfg)}')
        self.optim_wrapper_cfg = dict(optim_wrapper_cfg)
        inner_paramwise = self.optim_wrapper_cfg.pop('paramwise_cfg', None)
        if paramwise_cfg is not None and inner_paramwise is not None:
            raise ValueError('paramwise_cfg is given both as an argument and inside '
                             'optim_wrapper_cfg; keep one')
        self.optimizer_cfg = dict(self.optim_wrapper_cfg.pop('optimizer'))
        if self.optimizer_cfg.get('type') is None:
            raise KeyError('optim_wrapper.optimizer needs a "type" naming the optimizer, e.g. '
                           f'dict(type="SGD", lr=0.01); got {self.optimizer_cfg}')
        self.paramwise_cfg = dict(paramwise_cfg if paramwise_cfg is not None
                                  else inner_paramwise if inner_paramwise is not None else {})
        self.base_lr = self.optimizer_cfg.get('lr', None)
        self.base_wd = self.optimizer_cfg.get('weight_decay', None)
        self._validate_cfg()

    def _validate_cfg(self) -> None:
        cfg = self.paramwise_cfg
        # Subclasses (downstream constructors) may read keys of their own.
        if type(self) is DefaultOptimWrapperConstructor:
            for key in cfg:
                if key not in _PARAMWISE_KEYS:
                    hint = difflib.get_close_matches(key, _PARAMWISE_KEYS, n=1)
                    raise KeyError(f'paramwise_cfg key {key!r} is unknown'
                                   + (f'; did you mean {hint[0]!r}?' if hint else '')
                                   + f' Accepted keys: {", ".join(_PARAMWISE_KEYS)}')
        custom_keys = cfg.get('custom_keys', {})
        if not isinstance(custom_keys, dict):
            raise TypeError(f'paramwise_cfg.custom_keys must be a dict of {{name: dict(lr_mult=.., '
                            f'decay_mult=..)}}, got {type(custom_keys).__name__}')
        for key, options in custom_keys.items():
            if not isinstance(options, dict):
                raise TypeError(f'paramwise_cfg.custom_keys[{key!r}] must be a dict, got {options!r}')
            if 'lr_mult' in options and self.base_lr is None:
                raise ValueError(f'paramwise_cfg.custom_keys[{key!r}] sets lr_mult, which needs '
                                 'optim_wrapper.optimizer.lr set explicitly')
            if 'decay_mult' in options and self.base_wd is None:
                raise ValueError(f'paramwise_cfg.custom_keys[{key!r}] sets decay_mult, which needs '
                                 'optim_wrapper.optimizer.weight_decay set explicitly')
        if 'bias_lr_mult' in cfg and self.base_lr is None:
            raise ValueError('paramwise_cfg.bias_lr_mult needs optim_wrapper.optimizer.lr set explicitly')
        for key in _DECAY_MULTS:
            if key in cfg and self.base_wd is None:
                raise ValueError(f'paramwise_cfg.{key} needs optim_wrapper.optimizer.weight_decay '
                                 'set explicitly')

    # ------------------------------------------------------------ param groups
    def add_params(self, params: list[dict], module: nn.Module, prefix: str = '',
                   seen: set[int] | None = None) -> None:
        """Append one param group per parameter of ``module`` and its children to ``params``."""
        if seen is None:
            seen = {id(p) for group in params for p in group['params']}
        cfg = self.paramwise_cfg
        custom_keys = cfg.get('custom_keys', {})
        # Longest first; alphabetical among equals, so the choice does not depend on dict order.
        sorted_keys = sorted(sorted(custom_keys), key=len, reverse=True)
        is_norm = isinstance(module, _NORM_TYPES)
        is_dwconv = isinstance(module, nn.Conv2d) and module.in_channels == module.groups

        for name, param in module.named_parameters(recurse=False):
            full_name = f'{prefix}.{name}' if prefix else name
            if id(param) in seen:
                if cfg.get('bypass_duplicate', False):
                    print_log(f'{full_name} is shared with an earlier module; it is optimised once '
                              '(bypass_duplicate=True)', logger='current', level=logging.WARNING)
                    continue
                raise ValueError(f'parameter {full_name} is shared with an earlier module, and torch '
                                 'refuses a parameter in two groups; set '
                                 'paramwise_cfg=dict(bypass_duplicate=True)')
            seen.add(id(param))
            group: dict[str, Any] = {'params': [param]}
            if param.requires_grad:
                self._apply_rules(group, full_name, name, param, sorted_keys, is_norm, is_dwconv)
            params.append(group)
            settings = ', '.join(f'{k}={v}' for k, v in group.items() if k != 'params')
            if settings:
                print_log(f'paramwise_options -- {full_name}: {settings}', logger='current',
                          level=logging.DEBUG)

        for child_name, child in module.named_children():
            child_prefix = f'{prefix}.{child_name}' if prefix else child_name
            self.add_params(params, child, prefix=child_prefix, seen=seen)

    def _apply_rules(self, group: dict, full_name: str, name: str, param: nn.Parameter,
                     sorted_keys: list[str], is_norm: bool, is_dwconv: bool) -> None:
        cfg = self.paramwise_cfg
        for key in sorted_keys:
            if key in full_name:
                options = cfg['custom_keys'][key]
                if 'lr_mult' in options:
                    group['lr'] = self.base_lr * options['lr_mult']
                if self.base_wd is not None:
                    group['weight_decay'] = self.base_wd * options.get('decay_mult', 1.)
                group.update(options)
                return
        if name == 'bias' and not is_norm and cfg.get('bias_lr_mult') is not None:
            group['lr'] = self.base_lr * cfg['bias_lr_mult']
        if self.base_wd is None:
            return
        if is_norm and cfg.get('norm_decay_mult') is not None:
            group['weight_decay'] = self.base_wd * cfg['norm_decay_mult']
        elif name == 'bias' and cfg.get('bias_decay_mult') is not None:
            group['weight_decay'] = self.base_wd * cfg['bias_decay_mult']
        elif is_dwconv and cfg.get('dwconv_decay_mult') is not None:
            group['weight_decay'] = self.base_wd * cfg['dwconv_decay_mult']
        elif param.ndim == 1 and cfg.get('flat_decay_mult') is not None:
            group['weight_decay'] = self.base_wd * cfg['flat_decay_mult']

    # ------------------------------------------------------------------ build
    def __call__(self, model: nn.Module) -> OptimWrapper:
        """Build the optimizer over ``model`` (unwrapped from DDP) and its wrapper."""
        if hasattr(model, 'module'):
            model = model.module
        optimizer_cfg = dict(self.optimizer_cfg)
        optimizer_cls = optimizer_cfg.get('type')
        if isinstance(optimizer_cls, str):
            with OPTIMIZERS.switch_scope_and_registry(None) as registry:
                optimizer_cls = registry.get(optimizer_cls)
                if optimizer_cls is None:
                    raise registry.not_found_error(optimizer_cfg['type'])
        # Some optimizers (ColossalAI's HybridAdam) call their first argument model_params.
        first_arg = next(iter(inspect.signature(optimizer_cls).parameters))
        if self.paramwise_cfg:
            params: list[dict] = []
            self.add_params(params, model)
            optimizer_cfg[first_arg] = params
        else:
            optimizer_cfg[first_arg] = model.parameters()
        optimizer: torch.optim.Optimizer = OPTIMIZERS.build(optimizer_cfg)
        wrapper_cfg = dict(self.optim_wrapper_cfg)
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(wrapper_cfg, default_args=dict(optimizer=optimizer))
