"""Example image classifiers used by the runnable configs.

Batches are ``dict(inputs=<Tensor B,C,H,W>, labels=<Tensor B>)`` after the data preprocessor
(with ``pseudo_collate`` both arrive as lists and are stacked here). ``forward`` modes:
``'loss'`` -> ``dict(loss=cross_entropy)``; ``'predict'`` -> one
``dict(pred_score=<softmax (C,)>, pred_label=<0-d>, gt_label=<0-d>)`` per sample (``gt_label``
only when labels are given), which the ``Accuracy`` metric reads; ``'tensor'`` -> logits.
"""
from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mmlite.registry import MODELS

from .base_model import BaseModel


def _as_batch(values: Any, device: torch.device | None = None) -> torch.Tensor | None:
    """A tensor as is; a list of tensors or numbers (``pseudo_collate``) stacked into one."""
    if values is None or isinstance(values, torch.Tensor):
        return values
    if isinstance(values, (list, tuple)) and values:
        if all(isinstance(v, torch.Tensor) for v in values):
            return torch.stack(list(values))
        return torch.as_tensor(values, device=device)
    raise TypeError(f'expected a tensor or a non-empty list of tensors/numbers, got {type(values).__name__}')


class _ImageClassifier(BaseModel):
    """Shared forward: subclasses build ``self.network`` mapping (B, C, H, W) images to logits."""

    network: nn.Module

    def __init__(self, data_preprocessor: dict | nn.Module | None, init_cfg: dict | list[dict] | None,
                 channels_last: bool) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.channels_last = channels_last

    def _finish_build(self) -> None:
        if self.channels_last:
            self.network.to(memory_format=torch.channels_last)

    def forward(self, inputs: Any, labels: Any = None, mode: str = 'tensor',
                data_samples: Any = None) -> Any:
        inputs = _as_batch(inputs)
        if self.channels_last and inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        logits = self.network(inputs)
        if mode == 'tensor':
            return logits
        labels = _as_batch(labels, device=logits.device)
        if mode == 'loss':
            if labels is None:
                raise ValueError(f'{type(self).__name__}.forward(mode="loss") needs labels: the batch has no '
                                 '"labels" key')
            return dict(loss=F.cross_entropy(logits, labels))
        if mode == 'predict':
            scores = logits.softmax(dim=1)
            pred_labels = scores.argmax(dim=1)
            if labels is None:
                return [dict(pred_score=s, pred_label=p) for s, p in zip(scores, pred_labels)]
            return [dict(pred_score=s, pred_label=p, gt_label=g)
                    for s, p, g in zip(scores, pred_labels, labels)]
        raise ValueError(f"{type(self).__name__}.forward: mode must be 'loss', 'predict' or 'tensor', "
                         f'got {mode!r}')


@MODELS.register_module()
class MLPClassifier(_ImageClassifier):
    """Flatten -> [Linear -> ReLU -> Dropout] per hidden width -> Linear.

    Args:
        in_channels: image channels.
        num_classes: number of classes.
        hidden_channels: widths of the hidden layers.
        input_size: image (height, width).
        dropout: dropout probability after each hidden layer.
        channels_last: use the channels_last memory format.
    """

    def __init__(self, in_channels: int, num_classes: int, hidden_channels: Sequence[int] = (128,),
                 input_size: Sequence[int] = (8, 8), dropout: float = 0.0,
                 data_preprocessor: dict | nn.Module | None = None,
                 init_cfg: dict | list[dict] | None = None, channels_last: bool = False) -> None:
        super().__init__(data_preprocessor, init_cfg, channels_last)
        if len(input_size) != 2:
            raise ValueError(f'MLPClassifier: input_size must be (height, width), got {input_size!r}')
        width = in_channels * int(input_size[0]) * int(input_size[1])
        layers: list[nn.Module] = [nn.Flatten()]
        for hidden in hidden_channels:
            layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.network = nn.Sequential(*layers)
        self._finish_build()


@MODELS.register_module()
class TorchvisionClassifier(_ImageClassifier):
    """A ``torchvision.models.<arch>`` network built with random weights (never downloads).

    Args:
        arch: a torchvision model builder name, e.g. ``'resnet18'``.
        num_classes: number of classes.
        in_channels: image channels; the first convolution is rebuilt when not 3.
        pretrained: must stay False (mmlite never downloads); use
            ``init_cfg=dict(type='Pretrained', checkpoint=<local file>)`` instead.
        **arch_kwargs: passed to the torchvision builder.
    """

    def __init__(self, arch: str = 'resnet18', num_classes: int = 10, in_channels: int = 3,
                 pretrained: bool = False, data_preprocessor: dict | nn.Module | None = None,
                 init_cfg: dict | list[dict] | None = None, channels_last: bool = False,
                 **arch_kwargs: Any) -> None:
        super().__init__(data_preprocessor, init_cfg, channels_last)
        if pretrained:
            raise ValueError('TorchvisionClassifier: pretrained=True would download weights, which mmlite never '
                             'does. Download them yourself and set init_cfg=dict(type="Pretrained", '
                             'checkpoint=<local file>, prefix=...).')
        import torchvision  # ~1 s to import: only when this model is built
        builder = getattr(torchvision.models, arch, None)
        if builder is None or not callable(builder) or arch.startswith('_'):
            names = torchvision.models.list_models(module=torchvision.models)
            hint = difflib.get_close_matches(arch, names, n=3)
            raise ValueError(f'TorchvisionClassifier: arch {arch!r} is not a torchvision classification '
                             f'model.' + (f' Did you mean: {", ".join(hint)}?' if hint else ''))
        self.network = builder(weights=None, num_classes=num_classes, **arch_kwargs)
        if in_channels != 3:
            _replace_first_conv(self.network, in_channels)
        self._finish_build()


def _replace_first_conv(network: nn.Module, in_channels: int) -> None:
    """Rebuild the first Conv2d for ``in_channels`` inputs, keeping its other settings."""
    for name, module in network.named_modules():
        if isinstance(module, nn.Conv2d):
            parent_name, _, attr = name.rpartition('.')
            parent = network.get_submodule(parent_name) if parent_name else network
            setattr(parent, attr, nn.Conv2d(
                in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                module.dilation, module.groups, module.bias is not None, module.padding_mode))
            return
    raise ValueError(f'TorchvisionClassifier: found no Conv2d in {type(network).__name__} to adapt to '
                     f'in_channels={in_channels}')
