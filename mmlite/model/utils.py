"""Small model helpers: batch stacking, SyncBatchNorm conversion, graph checks, logging."""
from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import nn


def log_current(msg: str, level: int = logging.INFO) -> None:
    """Log through the current MMLogger (imported lazily: logging sits beside model, not under it)."""
    from mmlite.logging import print_log
    print_log(msg, logger='current', level=level)


def stack_batch(tensor_list: list[torch.Tensor], pad_size_divisor: int = 1,
                pad_value: int | float = 0) -> torch.Tensor:
    """Stack same-rank tensors into one batch, padding every dim but the first at its end.

    Each padded dim is the batch maximum rounded up to a multiple of ``pad_size_divisor``;
    the first dim (channels) is never padded. Sizes come from ``.shape``, so no device sync.
    """
    if not isinstance(tensor_list, list) or not tensor_list:
        raise TypeError(f'stack_batch expects a non-empty list of tensors, got {type(tensor_list).__name__}')
    ranks = {t.dim() for t in tensor_list}
    if len(ranks) != 1:
        raise ValueError(f'stack_batch expects tensors of one rank, got ranks {sorted(ranks)}')
    channels = {t.shape[0] for t in tensor_list}
    if len(channels) != 1:
        raise ValueError(f'stack_batch cannot pad the channel dim: got channel counts {sorted(channels)}')
    divisor = max(int(pad_size_divisor), 1)
    target = [max(t.shape[d] for t in tensor_list) for d in range(tensor_list[0].dim())]
    target[1:] = [math.ceil(size / divisor) * divisor for size in target[1:]]
    padded = []
    for tensor in tensor_list:
        if list(tensor.shape) == target:
            padded.append(tensor)
            continue
        # F.pad lists (before, after) pairs starting from the last dim.
        pad: list[int] = []
        for dim in range(tensor.dim() - 1, 0, -1):
            pad += [0, target[dim] - tensor.shape[dim]]
        padded.append(F.pad(tensor, pad, value=pad_value))
    return torch.stack(padded)


def merge_dict(*args: dict) -> dict:
    """Merge dicts left to right (later keys win); handy for loss dicts of several heads."""
    output: dict = {}
    for item in args:
        if not isinstance(item, dict):
            raise TypeError(f'merge_dict expects dicts, got {type(item).__name__}')
        output.update(item)
    return output


def detect_anomalous_params(loss: torch.Tensor, model: nn.Module) -> list[str]:
    """Log (at ERROR) and return the trainable parameters that ``loss`` does not depend on.

    Such parameters make DDP hang or complain unless ``find_unused_parameters=True``.
    """
    in_graph: set[int] = set()
    seen: set = set()
    stack = [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, 'variable', None)
        if variable is not None:
            in_graph.add(id(variable))
        stack.extend(parent for parent, _ in (node.next_functions or ()))
    missing = []
    for name, param in model.named_parameters():
        if param.requires_grad and id(param) not in in_graph:
            missing.append(name)
            log_current(f'{name} with shape {tuple(param.shape)} is not in the computational graph',
                        logging.ERROR)
    return missing


class _BatchNormXd(nn.modules.batchnorm._BatchNorm):
    """A BatchNorm for any input rank: what a SyncBatchNorm becomes off a process group."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        return


def revert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every ``nn.SyncBatchNorm`` with a plain BatchNorm sharing its parameters and stats.

    Lets a model trained with SyncBN run on a CPU or in one process.
    """
    result = module
    if isinstance(module, nn.SyncBatchNorm):
        result = _BatchNormXd(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
        if module.affine:
            result.weight = module.weight
            result.bias = module.bias
        result.running_mean = module.running_mean
        result.running_var = module.running_var
        result.num_batches_tracked = module.num_batches_tracked
        result.training = module.training
        if hasattr(module, 'qconfig'):
            result.qconfig = module.qconfig
    for name, child in module.named_children():
        result.add_module(name, revert_sync_batchnorm(child))
    return result


def convert_sync_batchnorm(module: nn.Module, implementation: str = 'torch') -> nn.Module:
    """Replace BatchNorm layers with ``nn.SyncBatchNorm`` (only the ``'torch'`` implementation)."""
    if implementation == 'torch':
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if implementation == 'mmcv':
        raise ValueError("convert_sync_batchnorm(implementation='mmcv') needs mmcv, which mmlite does not "
                         "use; pass implementation='torch'")
    raise ValueError(f"convert_sync_batchnorm: implementation must be 'torch', got {implementation!r}")
