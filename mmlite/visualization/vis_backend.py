"""Visualization backends: where the Visualizer's scalars, configs and images end up.

A backend sets itself up (folders, writers) on its first ``add_*`` call, not when it
is built, so building a Runner creates no files until something is logged.
"""
from __future__ import annotations

import functools
import json
import math
import os
import warnings
import weakref
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
    """Tensors and numpy values as Python numbers (or lists), so JSON can hold them; the JSON
    encoder calls it only for values it cannot write itself."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, (np.generic, np.ndarray)):
        return value.item() if value.size == 1 else value.tolist()
    raise TypeError(f'{type(value).__name__} is not JSON serialisable')


# The encoder of lines _json_line does not write itself: ``default`` converts tensors and numpy
# values. numpy float64 is a float subclass and is written with float's repr, exactly as its
# ``.item()`` would be.
_JSON_ENCODER = json.JSONEncoder(default=_plain_number)
_json_string = json.encoder.encode_basestring_ascii  # how that encoder writes str keys


def _json_line(record: dict) -> str:
    """``record`` as one line of JSON, exactly as ``_JSON_ENCODER`` writes it, plus a newline.

    A training record is str keys with finite Python floats and ints; those are joined here
    with the encoder's separators, escaping and ``repr``s, because on a log line (caches cold
    after the iterations in between) the encoder's per-call setup costs more than the numbers.
    Anything else (tensors, numpy values, NaN, nested values) goes through the encoder.
    """
    parts = []
    for key, value in record.items():
        kind = type(value)
        if type(key) is not str or not (kind is int or (kind is float and math.isfinite(value))):
            return _JSON_ENCODER.encode(record) + '\n'
        parts.append(f'{_json_string(key)}: {value!r}')
    return '{' + ', '.join(parts) + '}\n'


def _encodes(value: Any) -> bool:
    """Whether ``value`` alone can be written as JSON (to name the culprits of a failed line)."""
    try:
        _JSON_ENCODER.encode(value)
    except (TypeError, ValueError):
        return False
    return True


# Backends holding open scalar files. A forked child (a DataLoader worker) closes its copies
# first thing, so it never holds or writes the parent's files; the files are unbuffered, so
# there is nothing for it to write twice either. (Done in the child: closing in the parent
# before a fork would race with a line being written if another thread forks.)
_BACKENDS_WITH_OPEN_FILES: weakref.WeakSet = weakref.WeakSet()


def _close_inherited_scalar_files() -> None:
    for backend in list(_BACKENDS_WITH_OPEN_FILES):
        backend._close_files()


if hasattr(os, 'register_at_fork'):  # POSIX only; Windows has no fork
    os.register_at_fork(after_in_child=_close_inherited_scalar_files)


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

    Each ``add_scalars`` appends one line ``{"key": value, ..., "step": step}`` with one
    unbuffered write, so a crash loses at most the line being written. The scalar files stay
    open between lines (an open and a close per line cost more than the rest of the write);
    :meth:`close` closes them, a later line reopens them, and forked children drop them.

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
        self._names = (img_save_dir, config_save_file, scalar_save_file)  # joined in _init_env
        self._img_save_dir = img_save_dir
        self._config_save_file = config_save_file
        self._scalar_save_file = scalar_save_file
        self._open_files: dict[str, Any] = {}  # path -> file object, appended to line by line
        self._extra_paths: dict[str, str] = {}  # add_scalars file_path -> its checked full path

    def _init_env(self) -> None:
        if self._save_dir is None:
            raise ValueError('LocalVisBackend needs a save_dir to write into; pass save_dir=... '
                             '(or give the Visualizer one)')
        self._close_files()  # a re-initialised backend may write elsewhere now
        os.makedirs(self._save_dir, exist_ok=True)
        img_save_dir, config_save_file, scalar_save_file = self._names
        self._img_save_dir = os.path.join(self._save_dir, img_save_dir)
        self._config_save_file = os.path.join(self._save_dir, config_save_file)
        self._scalar_save_file = os.path.join(self._save_dir, scalar_save_file)

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
        if file_path is None:
            self._append_line(record, self._scalar_save_file)
            return
        extra_path = self._extra_paths.get(file_path)
        if extra_path is None:
            extra_path = self._extra_paths[file_path] = self._checked_extra_path(file_path)
        line = self._append_line(record, extra_path)
        self._write_line(line, self._scalar_save_file)

    def _checked_extra_path(self, file_path: str) -> str:
        """The full path of ``add_scalars``' ``file_path``, refusing names that clash."""
        if not file_path.endswith('.json'):
            raise ValueError(f'add_scalars file_path must end in .json, got {file_path!r}')
        extra_path = os.path.join(self._save_dir, file_path)
        if os.path.abspath(extra_path) == os.path.abspath(self._scalar_save_file):
            raise ValueError(f'add_scalars file_path {file_path!r} is the scalar_save_file '
                             'itself; choose another name')
        return extra_path

    def _append_line(self, record: dict, path: str) -> str:
        """Write ``record`` as one JSON line to ``path``; return the line for other files."""
        try:
            line = _json_line(record)
        except TypeError as exc:
            bad = [key for key, value in record.items() if not _encodes(value)]
            raise TypeError(f'LocalVisBackend cannot write scalar(s) {bad} to {path}: values must be '
                            f'numbers, strings, tensors or numpy values ({exc})') from exc
        self._write_line(line, path)
        return line

    def _write_line(self, line: str, path: str) -> None:
        file = self._open_files.get(path)
        if file is None:
            # Unbuffered: each write is one system call that puts the whole line in the file,
            # so a crash or a kill loses no line already written, and no buffer is ever
            # copied into a forked child.
            file = self._open_files[path] = open(path, 'ab', buffering=0)
            _BACKENDS_WITH_OPEN_FILES.add(self)
        data = line.encode('utf-8')
        while data:  # a raw write may take only part of the bytes (e.g. a disk filling up)
            data = data[file.write(data):]

    def _close_files(self) -> None:
        files, self._open_files = self._open_files, {}
        for file in files.values():
            file.close()
        _BACKENDS_WITH_OPEN_FILES.discard(self)

    def close(self) -> None:
        """Close the scalar files; a later write reopens them (and re-creates the folder)."""
        self._close_files()
        self._extra_paths = {}
        self._env_initialized = False


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
