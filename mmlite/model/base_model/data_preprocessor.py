"""Data preprocessors: move a collated batch to the model's device, then prepare it there."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mmlite.registry import MODELS

from ..utils import stack_batch


@MODELS.register_module()
class BaseDataPreprocessor(nn.Module):
    """Move every tensor of a batch to the model's device; the default ``data_preprocessor``.

    Tensors anywhere inside dicts, lists, tuples and namedtuples are moved, as is any object with a
    ``.to`` method (data elements); strings and other values pass through. The device follows the
    owning model's ``.to()/.cuda()/.cpu()/.mps()``.

    Args:
        non_blocking: pass ``non_blocking=True`` to the host-to-device copies, so a copy from a
            pinned-memory loader overlaps the work already queued. ``None`` (the default) turns
            it on for CUDA, where kernels on the same stream wait for the copy anyway, and off
            elsewhere. MMEngine's default is False.

    ``channels_last`` (set by the runner's ``channels_last=True`` through
    :func:`use_channels_last`) hands 4-D ``inputs`` on in the channels-last memory format.
    """

    channels_last = False

    def __init__(self, non_blocking: bool | None = None) -> None:
        super().__init__()
        self._non_blocking = non_blocking
        self._device = torch.device('cpu')

    def _non_blocking_for(self, device: torch.device) -> bool:
        return device.type == 'cuda' if self._non_blocking is None else bool(self._non_blocking)

    def cast_data(self, data: Any) -> Any:
        """Return ``data`` with every tensor (and ``.to``-able object) on ``self.device``."""
        if type(data) is dict:  # the usual batch: tensors already in place are kept without a call
            device, tensor = self._device, torch.Tensor
            if device.type == 'cpu':  # is_cpu: no torch.device made per tensor to compare
                return {key: value if type(value) is tensor and value.is_cpu
                        else self.cast_data(value) for key, value in data.items()}
            return {key: value if type(value) is tensor and value.device == device
                    else self.cast_data(value) for key, value in data.items()}
        if isinstance(data, torch.Tensor):
            # Already there (always, on a CPU run): skip the .to() call, a few us per tensor.
            if data.device == self._device:
                return data
            return data.to(self._device, non_blocking=self._non_blocking_for(self._device))
        if isinstance(data, Mapping):
            return {key: self.cast_data(value) for key, value in data.items()}
        if data is None or isinstance(data, (str, bytes)):
            return data
        if isinstance(data, tuple) and hasattr(data, '_fields'):  # namedtuple
            return type(data)(*(self.cast_data(item) for item in data))
        if isinstance(data, (list, tuple)):
            return type(data)(self.cast_data(item) for item in data)
        move = getattr(data, 'to', None)
        if callable(move):
            return move(self._device, non_blocking=self._non_blocking_for(self._device))
        return data

    def forward(self, data: Any, training: bool = False) -> Any:
        """Return the batch moved to the device; subclasses add normalisation, batch augmentation..."""
        if (type(self) is BaseDataPreprocessor and type(data) is dict and not self.channels_last
                and self._device.type == 'cpu'):
            # The default preprocessor on a CPU run, every training iteration: a dict of CPU
            # tensors needs no move, so no cast_data and comprehension frames (see train_step).
            for value in data.values():
                if type(value) is not torch.Tensor or not value.is_cpu:
                    break
            else:
                return dict(data)
        data = self.cast_data(data)
        if not self.channels_last:
            return data
        if isinstance(data, dict) and isinstance(data.get('inputs'), torch.Tensor):
            data['inputs'] = self._memory_format(data['inputs'])
        elif isinstance(data, (list, tuple)) and data and isinstance(data[0], torch.Tensor):
            images = self._memory_format(data[0])
            if isinstance(data, tuple) and hasattr(data, '_fields'):  # namedtuple
                return type(data)(images, *data[1:])
            return type(data)([images, *data[1:]])
        return data

    def _memory_format(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` in channels-last layout when asked for and 4-D; else unchanged."""
        if self.channels_last and images.dim() == 4:
            return images.contiguous(memory_format=torch.channels_last)
        return images

    @property
    def device(self) -> torch.device:
        return self._device

    def to(self, *args: Any, **kwargs: Any) -> nn.Module:
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        result = super().to(*args, **kwargs)
        if device is not None:
            self._device = torch.device(device)
        return result

    def cuda(self, device: int | torch.device | None = None) -> nn.Module:
        result = super().cuda(device)
        self._device = torch.device('cuda', device) if isinstance(device, int) else torch.device(device or 'cuda')
        return result

    def mps(self) -> nn.Module:
        result = super().to('mps')
        self._device = torch.device('mps')
        return result

    def cpu(self) -> nn.Module:
        result = super().cpu()
        self._device = torch.device('cpu')
        return result


@MODELS.register_module()
class ImgDataPreprocessor(BaseDataPreprocessor):
    """Move images to the device (still uint8), then cast to float, flip channels, normalise, pad.

    The batch is a dict whose ``'inputs'`` are the images (other keys pass through, and
    ``'data_samples'`` defaults to None), or a tuple/list whose first item is the images. Images
    are a stacked ``(B, C, H, W)`` tensor or a list of ``(C, H, W)`` tensors of any sizes, padded
    at the bottom/right to the largest size rounded up to ``pad_size_divisor``.

    Args:
        mean, std: per-channel values (1 value broadcasts); both or neither.
        pad_size_divisor: padded height and width are multiples of this.
        pad_value: value of the padding (applied after normalisation).
        bgr_to_rgb / rgb_to_bgr: swap the first and third channel.
        non_blocking: see :class:`BaseDataPreprocessor`.
    """

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 pad_size_divisor: int = 1, pad_value: int | float = 0, bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False, non_blocking: bool | None = None) -> None:
        super().__init__(non_blocking)
        if bgr_to_rgb and rgb_to_bgr:
            raise ValueError('ImgDataPreprocessor: set at most one of bgr_to_rgb and rgb_to_bgr')
        if (mean is None) != (std is None):
            raise ValueError(f'ImgDataPreprocessor: give both mean and std or neither; got mean={mean}, '
                             f'std={std}')
        self._enable_normalize = mean is not None
        if mean is not None:
            mean, std = list(mean), list(std)
            if len(mean) != len(std) and 1 not in (len(mean), len(std)):
                raise ValueError(f'ImgDataPreprocessor: mean has {len(mean)} values and std has {len(std)}; '
                                 'give one value per channel to both (or a single value to either)')
            self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), False)
            self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), False)
        self._channel_conversion = bgr_to_rgb or rgb_to_bgr
        if int(pad_size_divisor) < 1:
            raise ValueError(f'ImgDataPreprocessor: pad_size_divisor must be >= 1, got {pad_size_divisor}')
        self.pad_size_divisor = int(pad_size_divisor)
        self.pad_value = pad_value

    def forward(self, data: Any, training: bool = False) -> Any:
        data = self.cast_data(data)
        if isinstance(data, dict):
            if 'inputs' not in data:
                raise KeyError(f"ImgDataPreprocessor: a dict batch needs an 'inputs' key, got keys {list(data)}")
            data['inputs'] = self._memory_format(self.process_images(data['inputs']))
            data.setdefault('data_samples', None)
            return data
        if isinstance(data, (list, tuple)) and len(data) > 0:
            images = self._memory_format(self.process_images(data[0]))
            if isinstance(data, tuple) and hasattr(data, '_fields'):
                return type(data)(images, *data[1:])
            return type(data)([images, *data[1:]])
        raise TypeError(f'ImgDataPreprocessor: a batch must be a dict with "inputs" or a non-empty '
                        f'tuple/list whose first item is the images, got {type(data).__name__}')

    def process_images(self, images: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        """Float cast, channel swap, normalisation and padding of images already on the device."""
        if isinstance(images, torch.Tensor):
            if images.dim() != 4:
                raise ValueError(f'ImgDataPreprocessor: stacked inputs must be (B, C, H, W), got shape '
                                 f'{tuple(images.shape)}')
            return self._pad(self._prepare(images, channel_dim=1))
        if (isinstance(images, (list, tuple)) and images
                and all(isinstance(img, torch.Tensor) for img in images)):
            if len({tuple(img.shape) for img in images}) == 1:
                return self.process_images(torch.stack(list(images)))
            prepared = [self._prepare(img, channel_dim=0) for img in images]
            return stack_batch(prepared, self.pad_size_divisor, self.pad_value)
        raise TypeError(f'ImgDataPreprocessor: inputs must be a (B, C, H, W) tensor or a list of (C, H, W) '
                        f'tensors, got {type(images).__name__}')

    def _prepare(self, images: torch.Tensor, channel_dim: int) -> torch.Tensor:
        channels = images.shape[channel_dim]
        if self._channel_conversion:
            if channels == 3:
                images = images.flip(channel_dim)
            elif channels != 1:
                raise ValueError(f'ImgDataPreprocessor: bgr_to_rgb/rgb_to_bgr need 3-channel images, got '
                                 f'{channels} channels (shape {tuple(images.shape)})')
        images = images.float()
        if self._enable_normalize:
            if self.mean.shape[0] != 1 and self.mean.shape[0] != channels:
                raise ValueError(f'ImgDataPreprocessor: mean/std have {self.mean.shape[0]} values but the '
                                 f'images have {channels} channels (shape {tuple(images.shape)})')
            if self.std.shape[0] != 1 and self.std.shape[0] != channels:
                raise ValueError(f'ImgDataPreprocessor: std has {self.std.shape[0]} values but the images '
                                 f'have {channels} channels (shape {tuple(images.shape)})')
            images = (images - self.mean) / self.std
        return images

    def _pad(self, images: torch.Tensor) -> torch.Tensor:
        height, width = images.shape[-2:]
        pad_h = math.ceil(height / self.pad_size_divisor) * self.pad_size_divisor - height
        pad_w = math.ceil(width / self.pad_size_divisor) * self.pad_size_divisor - width
        if pad_h == 0 and pad_w == 0:
            return images
        return F.pad(images, (0, pad_w, 0, pad_h), 'constant', self.pad_value)


def use_channels_last(model: nn.Module) -> int:
    """Put ``model``'s 4-D weights in channels-last layout and make its data preprocessors
    hand images over in the same layout, which convolutions on GPUs (and oneDNN on CPUs) run
    faster on. Returns how many preprocessors were switched."""
    model.to(memory_format=torch.channels_last)
    switched = 0
    for module in model.modules():
        if isinstance(module, BaseDataPreprocessor):
            module.channels_last = True
            switched += 1
    return switched
