"""Weight initialisation: functions for one module, and config-driven initialisers for a module tree.

``initialize(model, dict(type='Kaiming', layer='Conv2d', override=dict(name='head', type='Normal')))``
builds the initialiser from WEIGHT_INITIALIZERS, applies it to every submodule whose class (or direct
base class) is named in ``layer``, then applies each ``override`` to the named child as a whole.
"""
from __future__ import annotations

import copy
import difflib
import logging
import math
import os
import pickle
from typing import Any

import torch
from torch import nn

from mmlite.registry import WEIGHT_INITIALIZERS


# --------------------------------------------------------------------------- functions
def _tensor_attr(module: nn.Module, name: str) -> torch.Tensor | None:
    value = getattr(module, name, None)
    return value if isinstance(value, torch.Tensor) else None


def _fill_bias(module: nn.Module, bias: float) -> None:
    tensor = _tensor_attr(module, 'bias')
    if tensor is not None:
        nn.init.constant_(tensor, bias)


def constant_init(module: nn.Module, val: float, bias: float = 0) -> None:
    """Fill ``module.weight`` with ``val`` and ``module.bias`` with ``bias`` (where present)."""
    weight = _tensor_attr(module, 'weight')
    if weight is not None:
        nn.init.constant_(weight, val)
    _fill_bias(module, bias)


def xavier_init(module: nn.Module, gain: float = 1, bias: float = 0,
                distribution: str = 'normal') -> None:
    """Xavier (Glorot) init of the weight, ``distribution`` 'normal' or 'uniform'; constant bias."""
    _check_distribution(distribution)
    weight = _tensor_attr(module, 'weight')
    if weight is not None:
        if distribution == 'uniform':
            nn.init.xavier_uniform_(weight, gain=gain)
        else:
            nn.init.xavier_normal_(weight, gain=gain)
    _fill_bias(module, bias)


def normal_init(module: nn.Module, mean: float = 0, std: float = 1, bias: float = 0) -> None:
    """Weight from N(mean, std^2); constant bias."""
    weight = _tensor_attr(module, 'weight')
    if weight is not None:
        nn.init.normal_(weight, mean, std)
    _fill_bias(module, bias)


def trunc_normal_init(module: nn.Module, mean: float = 0, std: float = 1, a: float = -2,
                      b: float = 2, bias: float = 0) -> None:
    """Weight from N(mean, std^2) truncated to [a, b] (absolute bounds); constant bias."""
    weight = _tensor_attr(module, 'weight')
    if weight is not None:
        nn.init.trunc_normal_(weight, mean, std, a, b)
    _fill_bias(module, bias)


def uniform_init(module: nn.Module, a: float = 0, b: float = 1, bias: float = 0) -> None:
    """Weight from U(a, b); constant bias."""
    weight = _tensor_attr(module, 'weight')
    if weight is not None:
        nn.init.uniform_(weight, a, b)
    _fill_bias(module, bias)


def kaiming_init(module: nn.Module, a: float = 0, mode: str = 'fan_out', nonlinearity: str = 'relu',
                 bias: float = 0, distribution: str = 'normal') -> None:
    """Kaiming (He) init of the weight, ``distribution`` 'normal' or 'uniform'; constant bias."""
    _check_distribution(distribution)
    weight = _tensor_attr(module, 'weight')
    if weight is not None:
        if distribution == 'uniform':
            nn.init.kaiming_uniform_(weight, a=a, mode=mode, nonlinearity=nonlinearity)
        else:
            nn.init.kaiming_normal_(weight, a=a, mode=mode, nonlinearity=nonlinearity)
    _fill_bias(module, bias)


def caffe2_xavier_init(module: nn.Module, bias: float = 0) -> None:
    """Caffe2's XavierFill, which is PyTorch's kaiming_uniform_ with a=1 and fan_in."""
    kaiming_init(module, a=1, mode='fan_in', nonlinearity='leaky_relu', bias=bias,
                 distribution='uniform')


def bias_init_with_prob(prior_prob: float) -> float:
    """The bias whose sigmoid is ``prior_prob`` (focal-loss style classifier init)."""
    if not 0 < prior_prob < 1:
        raise ValueError(f'bias_init_with_prob: prior_prob must be in (0, 1), got {prior_prob}')
    return float(-math.log((1 - prior_prob) / prior_prob))


def _check_distribution(distribution: str) -> None:
    if distribution not in ('normal', 'uniform'):
        raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")


# ----------------------------------------------------------------------- init tracking
def param_means(params: list[torch.Tensor]) -> list[float]:
    """The mean of each parameter, in one stacked transfer instead of one sync per parameter.

    FSDP2 parameters are DTensors (one shard per rank): their means are made whole first, a
    collective that every rank runs, as every rank initialises the model.
    """
    means = [p.detach().float().mean() for p in params]
    means = [m.full_tensor() if hasattr(m, 'full_tensor') else m for m in means]
    return torch.stack(means).cpu().tolist() if means else []


def update_init_info(module: nn.Module, init_info: str) -> None:
    """Record ``init_info`` for every parameter of ``module`` whose values changed since last seen.

    Works during ``BaseModule.init_weights``, which sets up ``module._params_init_info``.
    """
    info = getattr(module, '_params_init_info', None)
    if info is None:
        raise AttributeError(f'{type(module).__name__} has no _params_init_info: update_init_info only '
                             'works inside BaseModule.init_weights')
    params = [p for _, p in module.named_parameters()]
    if not params:
        return
    means = param_means(params)
    for param, mean in zip(params, means):
        entry = info.get(param)
        if entry is None:
            raise RuntimeError(f'a parameter of {type(module).__name__} was added after init_weights began; '
                           'create parameters in __init__')
        if entry['tmp_mean_value'] != mean:
            entry['init_info'] = init_info
            entry['tmp_mean_value'] = mean


# ------------------------------------------------------------------------ initialisers
_KNOWN_LAYER_NAMES: set[str] | None = None


def _all_module_class_names() -> set[str]:
    """Names of every nn.Module subclass defined so far (torch's, mmlite's, the user's)."""
    names: set[str] = set()
    stack = [nn.Module]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub.__name__ not in names:
                names.add(sub.__name__)
                stack.append(sub)
    return names


def _layer_names(module: nn.Module) -> list[str]:
    cls = type(module)
    return [cls.__name__] + [base.__name__ for base in cls.__bases__]


class BaseInit:
    """Base of the config-driven initialisers.

    Args:
        bias: value the bias of each initialised layer is filled with.
        bias_prob: if given, the bias is ``bias_init_with_prob(bias_prob)`` instead.
        layer: class name(s) of the layers to initialise, e.g. ``'Conv2d'`` or ``['_BatchNorm']``;
            a layer matches by its class name or a direct base class name.
    """

    def __init__(self, *, bias: float = 0, bias_prob: float | None = None,
                 layer: str | list[str] | None = None) -> None:
        self.wholemodule = False
        if not isinstance(bias, (int, float)):
            raise TypeError(f'{type(self).__name__}: bias must be a number, got {type(bias).__name__}')
        if bias_prob is not None and not isinstance(bias_prob, float):
            raise TypeError(f'{type(self).__name__}: bias_prob must be a float, got {bias_prob!r}')
        if layer is None:
            layer = []
        elif isinstance(layer, str):
            layer = [layer]
        elif not (isinstance(layer, (list, tuple)) and all(isinstance(n, str) for n in layer)):
            raise TypeError(f'{type(self).__name__}: layer must be a class name or a list of them, '
                            f'got {layer!r}')
        self.bias = bias_init_with_prob(bias_prob) if bias_prob is not None else bias
        self.layer = list(layer)

    def __call__(self, module: nn.Module) -> None:
        for target in self._targets(module):
            self.init_layer(target)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def init_layer(self, module: nn.Module) -> None:
        """Initialise one selected layer; subclasses implement this."""
        raise NotImplementedError(f'{type(self).__name__} must implement init_layer(module)')

    def _targets(self, module: nn.Module) -> list[nn.Module]:
        if self.wholemodule:
            return list(module.modules())
        wanted = set(self.layer)
        targets, present = [], set()
        for sub in module.modules():
            names = _layer_names(sub)
            present.update(names)
            if wanted.intersection(names):
                targets.append(sub)
        self._check_layer_names(module, wanted - present, present)
        return targets

    def _check_layer_names(self, module: nn.Module, absent: set[str], present: set[str]) -> None:
        """A layer name absent here is fine (configs list e.g. GroupNorm for BN models) unless no
        nn.Module class has that name at all: then it is a typo."""
        global _KNOWN_LAYER_NAMES
        if not absent:
            return
        if _KNOWN_LAYER_NAMES is None or not absent <= _KNOWN_LAYER_NAMES:
            _KNOWN_LAYER_NAMES = _all_module_class_names()
        unknown = sorted(absent - _KNOWN_LAYER_NAMES)
        if unknown:
            hints = {n: difflib.get_close_matches(n, sorted(present), n=1) for n in unknown}
            hint = ''.join(f' Did you mean {h[0]!r} for {n!r}?' for n, h in hints.items() if h)
            raise ValueError(
                f'init_cfg key "layer" of {type(self).__name__} applied to {type(module).__name__} names '
                f'{", ".join(map(repr, unknown))}, which is no nn.Module class.{hint} Layer names in '
                f'{type(module).__name__}: {", ".join(sorted(present))}')

    def _get_init_info(self) -> str:
        return f'{type(self).__name__}: bias={self.bias}'


@WEIGHT_INITIALIZERS.register_module(name='Constant')
class ConstantInit(BaseInit):
    """Fill the weights of the selected layers with ``val``."""

    def __init__(self, val: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.val = val

    def init_layer(self, module: nn.Module) -> None:
        constant_init(module, self.val, self.bias)

    def _get_init_info(self) -> str:
        return f'{type(self).__name__}: val={self.val}, bias={self.bias}'


@WEIGHT_INITIALIZERS.register_module(name='Xavier')
class XavierInit(BaseInit):
    """Xavier init of the selected layers (``distribution`` 'normal' or 'uniform')."""

    def __init__(self, gain: float = 1, distribution: str = 'normal', **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _check_distribution(distribution)
        self.gain = gain
        self.distribution = distribution

    def init_layer(self, module: nn.Module) -> None:
        xavier_init(module, self.gain, self.bias, self.distribution)

    def _get_init_info(self) -> str:
        return (f'{type(self).__name__}: gain={self.gain}, distribution={self.distribution}, '
                f'bias={self.bias}')


@WEIGHT_INITIALIZERS.register_module(name='Normal')
class NormalInit(BaseInit):
    """Normal init of the selected layers."""

    def __init__(self, mean: float = 0, std: float = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mean = mean
        self.std = std

    def init_layer(self, module: nn.Module) -> None:
        normal_init(module, self.mean, self.std, self.bias)

    def _get_init_info(self) -> str:
        return f'{type(self).__name__}: mean={self.mean}, std={self.std}, bias={self.bias}'


@WEIGHT_INITIALIZERS.register_module(name='TruncNormal')
class TruncNormalInit(BaseInit):
    """Truncated normal init of the selected layers (bounds ``a``, ``b`` are absolute values)."""

    def __init__(self, mean: float = 0, std: float = 1, a: float = -2, b: float = 2,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mean, self.std, self.a, self.b = mean, std, a, b

    def init_layer(self, module: nn.Module) -> None:
        trunc_normal_init(module, self.mean, self.std, self.a, self.b, self.bias)

    def _get_init_info(self) -> str:
        return (f'{type(self).__name__}: a={self.a}, b={self.b}, mean={self.mean}, std={self.std}, '
                f'bias={self.bias}')


@WEIGHT_INITIALIZERS.register_module(name='Uniform')
class UniformInit(BaseInit):
    """Uniform init of the selected layers on [a, b)."""

    def __init__(self, a: float = 0, b: float = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.a, self.b = a, b

    def init_layer(self, module: nn.Module) -> None:
        uniform_init(module, self.a, self.b, self.bias)

    def _get_init_info(self) -> str:
        return f'{type(self).__name__}: a={self.a}, b={self.b}, bias={self.bias}'


@WEIGHT_INITIALIZERS.register_module(name='Kaiming')
class KaimingInit(BaseInit):
    """Kaiming init of the selected layers."""

    def __init__(self, a: float = 0, mode: str = 'fan_out', nonlinearity: str = 'relu',
                 distribution: str = 'normal', **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _check_distribution(distribution)
        self.a, self.mode, self.nonlinearity, self.distribution = a, mode, nonlinearity, distribution

    def init_layer(self, module: nn.Module) -> None:
        kaiming_init(module, self.a, self.mode, self.nonlinearity, self.bias, self.distribution)

    def _get_init_info(self) -> str:
        return (f'{type(self).__name__}: a={self.a}, mode={self.mode}, nonlinearity={self.nonlinearity}, '
                f'distribution={self.distribution}, bias={self.bias}')


@WEIGHT_INITIALIZERS.register_module(name='Caffe2Xavier')
class Caffe2XavierInit(KaimingInit):
    """Caffe2's XavierFill: Kaiming uniform with a=1, fan_in, leaky_relu."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(a=1, mode='fan_in', nonlinearity='leaky_relu', distribution='uniform',
                         **kwargs)


# -------------------------------------------------------------------------- initialize
def _apply_initializer(module: nn.Module, cfg: dict, wholemodule: bool = False) -> None:
    initializer = WEIGHT_INITIALIZERS.build(cfg)
    initializer.wholemodule = wholemodule
    initializer(module)


def _apply_overrides(module: nn.Module, override: dict | list[dict], cfg: dict) -> None:
    overrides = [override] if isinstance(override, dict) else override
    if not isinstance(overrides, (list, tuple)):
        raise TypeError(f'init_cfg key "override" of {type(module).__name__} must be a dict or a list of '
                        f'dicts, got {type(override).__name__}')
    for item in overrides:
        item = dict(copy.deepcopy(item))
        name = item.pop('name', None)
        if name is None:
            raise ValueError(f'init_cfg key "override" of {type(module).__name__} needs a "name" key '
                             f'naming the submodule to initialise, got {item}')
        if not item:
            item.update(cfg)  # only a name: reuse the enclosing initialiser
        elif 'type' not in item:
            raise ValueError(f'init_cfg key "override" (name={name!r}) of {type(module).__name__} needs a '
                             f'"type" key, got {item}')
        target = getattr(module, name, None)
        if not isinstance(target, nn.Module):
            children = ', '.join(module._modules) or 'none'
            raise RuntimeError(f'init_cfg key "override" names {name!r}, which is not a submodule of '
                               f'{type(module).__name__} (its children: {children})')
        _apply_initializer(target, item, wholemodule=True)


def initialize(module: nn.Module, init_cfg: dict | list[dict]) -> None:
    """Initialise ``module`` with one init config or a list of them (see the module docstring)."""
    if not isinstance(init_cfg, (dict, list, tuple)):
        raise TypeError(f'init_cfg must be a dict or a list of dicts, got {type(init_cfg).__name__}')
    for cfg in ([init_cfg] if isinstance(init_cfg, dict) else init_cfg):
        cfg = dict(copy.deepcopy(cfg))
        override = cfg.pop('override', None)
        _apply_initializer(module, cfg)
        if override is not None:
            cfg.pop('layer', None)
            _apply_overrides(module, override, cfg)


# --------------------------------------------------------------------------- pretrained
def _read_state_dict(checkpoint: str, map_location: Any) -> dict[str, torch.Tensor]:
    """Read a local checkpoint safely (``weights_only=True``): its ``state_dict`` or the bare dict."""
    if '://' in str(checkpoint):
        raise ValueError(f'Pretrained init: checkpoint {checkpoint!r} is a URL; mmlite never downloads. '
                         'Download it yourself and set init_cfg.checkpoint to the local file.')
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(f'Pretrained init: checkpoint file {checkpoint!r} (init_cfg key '
                                '"checkpoint") does not exist')
    try:
        loaded = torch.load(checkpoint, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise RuntimeError(f'Pretrained init: {checkpoint!r} holds objects other than tensors and plain '
                           'values, so the safe loader refuses it. Re-save just its state_dict.') from exc
    state_dict = loaded.get('state_dict', loaded) if isinstance(loaded, dict) else loaded
    if not isinstance(state_dict, dict):
        raise TypeError(f'Pretrained init: {checkpoint!r} holds a {type(loaded).__name__}, not a state dict '
                        'or a dict with a "state_dict" key')
    # Checkpoints saved from a DDP-wrapped model carry a "module." prefix.
    return {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in state_dict.items()}


def load_state_dict_lenient(module: nn.Module, state_dict: dict[str, torch.Tensor],
                            source: str = 'the checkpoint') -> dict[str, list[str]]:
    """Load what fits (strict=False); skip shape mismatches; log what was missing or left over.

    Returns the ``missing``, ``unexpected`` and ``mismatched`` key lists.
    """
    from .utils import log_current
    own = module.state_dict()
    mismatched = [k for k, v in state_dict.items()
                  if k in own and isinstance(v, torch.Tensor) and v.shape != own[k].shape]
    fitting = {k: v for k, v in state_dict.items() if k not in mismatched}
    result = module.load_state_dict(fitting, strict=False)
    report = dict(missing=list(result.missing_keys), unexpected=list(result.unexpected_keys),
                  mismatched=mismatched)
    lines = [f'{what} keys: {", ".join(keys)}' for what, keys in report.items() if keys]
    for key in mismatched:
        lines.append(f'size mismatch for {key}: {tuple(state_dict[key].shape)} in {source}, '
                     f'{tuple(own[key].shape)} in {type(module).__name__}')
    if lines:
        log_current(f'loading {source} into {type(module).__name__}:\n' + '\n'.join(lines), logging.WARNING)
    return report


@WEIGHT_INITIALIZERS.register_module(name='Pretrained')
class PretrainedInit:
    """Load a local checkpoint into the module (strict=False).

    Args:
        checkpoint: path of the checkpoint (a state dict, or a dict holding ``state_dict``).
        prefix: load only the keys under this prefix (e.g. ``'backbone.'``), with it stripped.
        map_location: where tensors are loaded; defaults to the CPU.
    """

    def __init__(self, checkpoint: str, prefix: str | None = None, map_location: Any = 'cpu') -> None:
        self.checkpoint = checkpoint
        self.prefix = prefix
        self.map_location = map_location
        self.wholemodule = False

    def __call__(self, module: nn.Module) -> None:
        from .utils import log_current
        state_dict = _read_state_dict(self.checkpoint, self.map_location)
        if self.prefix is not None:
            prefix = self.prefix if self.prefix.endswith('.') else self.prefix + '.'
            selected = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
            if not selected:
                heads = ', '.join(sorted({k.split('.')[0] + '.' for k in state_dict}))
                raise ValueError(f'Pretrained init: no key of {self.checkpoint!r} starts with prefix '
                               f'{prefix!r} (init_cfg key "prefix"); its top-level prefixes: {heads}')
            state_dict = selected
        log_current(f'load {self.prefix or "model"} from {self.checkpoint}')
        load_state_dict_lenient(module, state_dict, source=self.checkpoint)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return f'{type(self).__name__}: load from {self.checkpoint}'
