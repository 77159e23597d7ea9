"""PixelData: pixel-level maps of one image (segmentation masks, heat maps), shaped (C, H, W)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .base_data_element import _FIELD_SETS, BaseDataElement


def _keep_dim(index: int | slice) -> slice:
    """An int index as a one-wide slice, so cropping keeps (C, H, W)."""
    if isinstance(index, slice):
        return index
    return slice(index, index + 1 if index != -1 else None)


class PixelData(BaseDataElement):
    """Data fields are (C, H, W) tensors or arrays sharing one height and width.

    A (H, W) value gets a leading channel dimension. ``pixels[y0:y1, x0:x1]`` crops
    every field.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FIELD_SETS:
            super().__setattr__(name, value)
            return
        if not isinstance(value, (torch.Tensor, np.ndarray)):
            raise TypeError(f'PixelData field {name!r} must be a tensor or numpy array, '
                            f'got {type(value).__name__}')
        if value.ndim not in (2, 3):
            raise ValueError(f'PixelData field {name!r} must be (C, H, W) or (H, W), '
                             f'got shape {tuple(value.shape)}')
        if value.ndim == 2:
            value = value[None]
        for key, other in self.items():
            if key != name:
                if tuple(value.shape[-2:]) != tuple(other.shape[-2:]):
                    raise ValueError(
                        f'PixelData field {name!r} has height and width {tuple(value.shape[-2:])}, '
                        f'but field {key!r} has {tuple(other.shape[-2:])}; all fields share one size')
                break
        super().__setattr__(name, value)

    def __getitem__(self, item: tuple[int | slice, int | slice]) -> PixelData:
        """Crop every field: ``pixels[rows, cols]`` with ints or slices."""
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError(f'PixelData is indexed by (rows, cols), e.g. data[0:4, 2:6]; got {item!r}')
        rows, cols = (_keep_dim(i) for i in item)
        cropped = self.__class__(metainfo=self.metainfo)
        for key, value in self.items():
            setattr(cropped, key, value[:, rows, cols])
        return cropped

    @property
    def shape(self) -> tuple[int, int] | None:
        """(H, W) shared by the data fields, or None when there are none."""
        values = self.values()
        return tuple(values[0].shape[-2:]) if values else None
