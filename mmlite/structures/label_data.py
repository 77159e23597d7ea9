"""LabelData: class labels or scores of a whole image, with one-hot conversions."""
from __future__ import annotations

import torch

from .base_data_element import BaseDataElement


class LabelData(BaseDataElement):
    """Image-level labels (``label``, ``score``, ...) of one sample."""

    @staticmethod
    def onehot_to_label(onehot: torch.Tensor) -> torch.Tensor:
        """The indices of the ones in a 1-D one-hot (or multi-hot) tensor."""
        if not isinstance(onehot, torch.Tensor) or onehot.ndim != 1:
            raise ValueError('onehot_to_label needs a 1-D tensor, got '
                             + (f'shape {tuple(onehot.shape)}' if isinstance(onehot, torch.Tensor)
                                else type(onehot).__name__))
        if onehot.numel() and (onehot.max() > 1 or onehot.min() < 0):
            raise ValueError('onehot_to_label needs values in {0, 1}, got range '
                             f'[{onehot.min().item()}, {onehot.max().item()}]')
        return onehot.nonzero().squeeze(-1)

    @staticmethod
    def label_to_onehot(label: torch.Tensor, num_classes: int) -> torch.Tensor:
        """A 1-D tensor of ``num_classes`` zeros with ones at ``label`` (same dtype as ``label``)."""
        if not isinstance(label, torch.Tensor):
            raise TypeError(f'label_to_onehot needs a tensor of labels, got {type(label).__name__}')
        onehot = label.new_zeros((num_classes,))
        if label.numel() and (label.max() >= num_classes or label.min() < -num_classes):
            raise ValueError(f'label {label.tolist()} is out of range for num_classes={num_classes}')
        onehot[label] = 1
        return onehot
