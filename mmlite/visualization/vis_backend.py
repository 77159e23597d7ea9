"""Visualization backends: where the Visualizer's scalars, configs and images end up.

A backend sets itself up (folders, writers) on its first ``add_*`` call, not when it
is built, so building a Runner creates no files until something is logged.
"""
from __future__ import annotations

import functools
import json
import os
import warnings
from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from mmlite.registry import VISBACKENDS


def force_init_env(method: Callable) -> Callable:
    """Decorate a backend method so the backend's ``_init_env`` runs once before it."""

    @functools.wraps(method)
    def wrapper(self: BaseVisBackend, *args: Any, **kwargs: Any) -> Any:
        if not self._env_initialized:
            self._init_env()
            self._env_initialized = True
        return method(self, *args, **kwargs)
    return wrapper


def check_image(image: Any, who: str) -> np.ndarray:
    """Return ``image`` if it is an HxW or HxWx{1,3,4} uint8 array, else raise naming ``who``."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f'{who} expects the image as a numpy array (HxWx3 uint8, RGB), '
                        f'got {type(image).__name__}')
    if image.dtype != np.uint8:
        raise TypeError(f'{who} expects a uint8 image, got dtype {image.dtype}; '
                        'convert with image.astype(np.uint8) after scaling to 0..255')
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4))):
        raise ValueError(f'{who} expects an HxW or HxWxC image with C in (1, 3, 4), '
                         f'got shape {image.shape}')
    return image


def _config_object(config: Any, who: str) -> Any:
    """A Config (anything with ``dump`` and ``pretty_text``); a plain dict is wrapped in one."""
    if hasattr(config, 'dump') and hasattr(config, 'pretty_text'):
        return config
    if isinstance(config, dict):
        from mmlite.config import Config
        return Config(config)
    raise TypeError(f'{who}.add_config expects an mmlite Config or a dict, got {type(config).__name__}')


def _plain_number(value: Any) -> Any:
    """Tensors and numpy values as Python numbers (or lists), so JSON can hold them."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, (np.generic, np.ndarray)):
        return value.item() if value.size == 1 else value.tolist()
    return value


class BaseVisBackend(metaclass=ABCMeta):
    """Base of all backends: every ``add_*`` is a no-op until a subclass overrides it.

    Args:
        save_dir: the folder the backend writes into.
    """

    def __init__(self, save_dir: str | None) -> None:
        self._save_dir = save_dir
        self._env_initialized = False

    @property
    @abstractmethod
    def experiment(self) -> Any:
        """The object that does the writing (e.g. the SummaryWriter), for custom logging."""

    @abstractmethod
    def _init_env(self) -> None:
        """Create folders and writers; called once, before the first write."""

    def add_config(self, config: Any, **kwargs: Any) -> None:
        """Record the experiment's config."""

    def add_graph(self, model: torch.nn.Module, data_batch: Any, **kwargs: Any) -> None:
        """Record the model graph."""

    def add_image(self, name: str, image: np.ndarray, step: int = 0, **kwargs: Any) -> None:
        """Record an RGB image."""

    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        """Record one scalar."""

    def add_scalars(self, scalar_dict: dict, step: int = 0, file_path: str | None = None,
                    **kwargs: Any) -> None:
        """Record several scalars at one step."""

    def close(self) -> None:
        """Flush and release whatever the backend holds open."""


@VISBACKENDS.register_module()
class LocalVisBackend(BaseVisBackend):
    """Write scalars as JSON lines, the config as a file and images as PNGs under ``save_dir``.

    Each ``add_scalars`` appends one line ``{"key": value, ..., "step": step}`` and
    closes the file, so a crash loses at most the line being written.

    Args:
        save_dir: the folder to write into.
        img_save_dir: subfolder for images.
        config_save_file: file name of the config, ending in ``.py``.
        scalar_save_file: file name of the scalars, ending in ``.json``.
    """

    def __init__(self, save_dir: str, img_save_dir: str = 'vis_image',
                 config_save_file: str = 'config.py', scalar_save_file: str = 'scalars.json') -> None:
        if not config_save_file.endswith('.py'):
            raise ValueError(f'LocalVisBackend config_save_file must end in .py, '
                             f'got {config_save_file!r}')
        if not scalar_save_file.endswith('.json'):
            raise ValueError(f'LocalVisBackend scalar_save_file must end in .json, '
                             f'got {scalar_save_file!r}')
        super().__init__(save_dir)
        self._img_save_dir = img_save_dir
        self._config_save_file = config_save_file
        self._scalar_save_file = scalar_save_file

    def _init_env(self) -> None:
        if self._save_dir is None:
            raise ValueError('LocalVisBackend needs a save_dir to write into; pass save_dir=... '
                             '(or give the Visualizer one)')
        os.makedirs(self._save_dir, exist_ok=True)
        self._img_save_dir = os.path.join(self._save_dir, self._img_save_dir)
        self._config_save_file = os.path.join(self._save_dir, self._config_save_file)
        self._scalar_save_file = os.path.join(self._save_dir, self._scalar_save_file)

    @property
    @force_init_env
    def experiment(self) -> LocalVisBackend:
        return self

    @force_init_env
    def add_config(self, config: Any, **kwargs: Any) -> None:
        _config_object(config, 'LocalVisBackend').dump(self._config_save_file)

    @force_init_env
    def add_image(self, name: str, image: np.ndarray, step: int = 0, **kwargs: Any) -> None:
        from PIL import Image
        image = check_image(image, 'LocalVisBackend.add_image')
        path = os.path.join(self._img_save_dir, f'{name}_{step}.png')
        os.makedirs(os.path.dirname(path), exist_ok=True)  # names like 'val/sample' make subfolders
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        Image.fromarray(image).save(path)

    @force_init_env
    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        self._append_line({name: value, 'step': step}, self._scalar_save_file)

    @force_init_env
    def add_scalars(self, scalar_dict: dict, step: int = 0, file_path: str | None = None,
                    **kwargs: Any) -> None:
        if not isinstance(scalar_dict, dict):
            raise TypeError(f'add_scalars expects a dict of name -> value, '
                            f'got {type(scalar_dict).__name__}')
        record = dict(scalar_dict)
        record.setdefault('step', step)
        if file_path is not None:
            if not file_path.endswith('.json'):
                raise ValueError(f'add_scalars file_path must end in .json, got {file_path!r}')
            extra_path = os.path.join(self._save_dir, file_path)
            if os.path.abspath(extra_path) == os.path.abspath(self._scalar_save_file):
                raise ValueError(f'add_scalars file_path {file_path!r} is the scalar_save_file '
                                 'itself; choose another name')
            self._append_line(record, extra_path)
        self._append_line(record, self._scalar_save_file)

    @staticmethod
    def _append_line(record: dict, path: str) -> None:
        plain = {key: _plain_number(value) for key, value in record.items()}
        try:
            line = json.dumps(plain)
        except TypeError as exc:
            bad = [key for key, value in plain.items()
                   if not isinstance(value, (int, float, str, bool, list, type(None)))]
            raise TypeError(f'LocalVisBackend cannot write scalar(s) {bad} to {path}: values must be '
                            f'numbers, strings, tensors or numpy values ({exc})') from exc
        with open(path, 'a', encoding='utf-8') as file:
            file.write(line + '\n')


@VISBACKENDS.register_module()
class TensorboardVisBackend(BaseVisBackend):
    """Write scalars, the config (as text) and images to TensorBoard event files in ``save_dir``."""

    def __init__(self, save_dir: str) -> None:
        super().__init__(save_dir)
        self._tensorboard = None

    def _init_env(self) -> None:
        if self._save_dir is None:
            raise ValueError('TensorboardVisBackend needs a save_dir for its event files; pass '
                             'save_dir=... (or give the Visualizer one)')
        from torch.utils.tensorboard import SummaryWriter
        os.makedirs(self._save_dir, exist_ok=True)
        self._tensorboard = SummaryWriter(self._save_dir)

    @property
    @force_init_env
    def experiment(self) -> Any:
        return self._tensorboard

    @force_init_env
    def add_config(self, config: Any, **kwargs: Any) -> None:
        self._tensorboard.add_text('config', _config_object(config, 'TensorboardVisBackend').pretty_text)

    @force_init_env
    def add_image(self, name: str, image: np.ndarray, step: int = 0, **kwargs: Any) -> None:
        image = check_image(image, 'TensorboardVisBackend.add_image')
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        self._tensorboard.add_image(name, image, step, dataformats='HWC' if image.ndim == 3 else 'HW')

    @force_init_env
    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        if isinstance(value, (int, float, torch.Tensor, np.ndarray, np.number)):
            self._tensorboard.add_scalar(name, value, step)
        else:
            warnings.warn(f'TensorboardVisBackend skipped scalar {name!r}: got {type(value).__name__}, '
                          'expected a number, tensor or numpy value')

    @force_init_env
    def add_scalars(self, scalar_dict: dict, step: int = 0, file_path: str | None = None,
                    **kwargs: Any) -> None:
        if not isinstance(scalar_dict, dict):
            raise TypeError(f'add_scalars expects a dict of name -> value, '
                            f'got {type(scalar_dict).__name__}')
        if 'step' in scalar_dict:
            raise ValueError('TensorboardVisBackend.add_scalars got a "step" key in scalar_dict; '
                             'pass the step as the step argument instead')
        for name, value in scalar_dict.items():
            self.add_scalar(name, value, step)

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None
            self._env_initialized = False
