"""Checkpoint files: written atomically, read with PyTorch's safe (weights-only) loader.

A checkpoint holds tensors and plain Python values only, so ``torch.load(path,
weights_only=True)`` reads every file mmlite writes and no code in a file runs on load.
"""
from __future__ import annotations

import importlib
import io
import os
import pickle
import re
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from mmlite.fileio.backend import atomic_write, write_bytes_atomic
from mmlite.logging import print_log

from . import checkpoint_writer
from .checkpoint_writer import deferred_writes, wait_for_checkpoint_writes  # noqa: F401 (re-exported)

_PLAIN = (str, bytes, int, float, bool, type(None), torch.Tensor, torch.Size, torch.dtype, torch.device)
_PLAIN_KEYS = (str, int, float, bool, type(None))
_LEAF_TYPES = frozenset(_PLAIN_KEYS + (bytes,))  # matched by exact type, no subclasses


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be written or read; the message says which file and why."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint refused because reading it would unpickle arbitrary objects (run code)."""


def to_plain(obj: Any) -> Any:
    """Turn numpy values into tensors or Python numbers, recursively; other values unchanged."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return type(obj)((k, to_plain(v)) for k, v in obj.items()) if isinstance(obj, OrderedDict) \
            else {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and not hasattr(obj, '_fields'):
        return type(obj)(to_plain(v) for v in obj)
    return obj


def check_plain(obj: Any, path: str = 'checkpoint') -> int:
    """Raise a CheckpointError naming the first value the safe loader would refuse; else return
    how many bytes the tensors in ``obj`` hold (save_checkpoint sizes the state in this walk)."""
    try:
        return _plain_tensor_bytes(obj)
    except _NotPlain as problem:
        where = path + ''.join(f'[{key!r}]' for key in reversed(problem.keys))
        if problem.is_key:
            raise CheckpointError(f'{where} has a key of type {type(problem.value).__name__}; '
                                  'use strings or numbers') from None
        raise CheckpointError(
            f'{where} is a {type(problem.value).__module__}.{type(problem.value).__qualname__}; '
            'checkpoints hold only tensors and plain Python values (dict, list, tuple, str, bytes, '
            'numbers, None) so that torch.load(weights_only=True) reads them. Convert it (e.g. to '
            'a tensor or a dict) in the code that adds it (a before_save_checkpoint hook or a '
            'state_dict method).') from None


class _NotPlain(Exception):
    """A value (or a dict key) the safe loader refuses, and the keys leading to it, innermost
    first: the path is only spelled out when there is an error to report."""

    def __init__(self, value: Any, is_key: bool = False) -> None:
        super().__init__()
        self.value, self.is_key, self.keys = value, is_key, []


def _plain_tensor_bytes(obj: Any) -> int:
    if isinstance(obj, torch.Tensor):
        return obj.untyped_storage().nbytes()
    if isinstance(obj, _PLAIN):
        return 0
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple, set)) and not hasattr(obj, '_fields'):
        items = enumerate(obj)
    else:
        raise _NotPlain(obj)
    total = 0
    for key, value in items:
        if not isinstance(key, _PLAIN_KEYS):
            raise _NotPlain(key, is_key=True)
        kind = type(value)
        # Most values of a checkpoint are leaves: settled here, without a call each.
        if kind in _LEAF_TYPES:
            continue
        if kind is torch.Tensor or kind is torch.nn.Parameter:
            total += value.untyped_storage().nbytes()
            continue
        try:
            total += _plain_tensor_bytes(value)
        except _NotPlain as problem:
            problem.keys.append(key)
            raise
    return total


def weights_to_cpu(state_dict: dict) -> OrderedDict:
    """A copy of ``state_dict`` with every tensor on the CPU (those there already are kept)."""
    return OrderedDict((k, v.cpu() if isinstance(v, torch.Tensor) and v.device.type != 'cpu' else v)
                       for k, v in state_dict.items())


def get_state_dict(module: nn.Module) -> OrderedDict:
    """The state dict of ``module`` without a model wrapper's ``module.`` prefix."""
    from mmlite.model import is_model_wrapper
    if is_model_wrapper(module):
        module = module.module
    return module.state_dict()


# A deferred save of a state up to this size is serialised into memory, and the background
# thread creates and writes the file too: for a small model, making the file costs the loop as
# much as serialising (0.5 of 3 ms). A larger state goes straight to the file: there the data
# dominates, and a second copy in memory saved the loop nothing (measured up to 16 MB).
_IN_MEMORY_LIMIT = 4 * 2**20


def prepare_torch_save() -> None:
    """Import what ``torch.save`` imports on its first call: its config module, which parses
    its own source (~2 ms here). Done before training, the first save costs what the others do."""
    try:
        importlib.import_module('torch.utils.serialization.config')
    except ImportError:  # another torch version, another layout: the first save imports it
        pass


def save_checkpoint(checkpoint: dict, filename: str) -> str:
    """Write ``checkpoint`` to ``filename`` atomically: a temporary file, fsync, then rename.

    A crash at any moment leaves either the previous file or the complete new one. Inside
    ``deferred_writes()`` (CheckpointHook's default) a new file name is renamed into place
    before its fsync, which a background thread does (see checkpoint_writer.py): the caller
    waits only for ``torch.save`` -- into memory for a state under 4 MB, whose file the
    thread writes as well.
    """
    tensor_bytes = check_plain(checkpoint)
    filename = os.path.abspath(filename)
    folder = os.path.dirname(filename)
    os.makedirs(folder, exist_ok=True)
    # Replacing an existing file keeps the fsync-before-rename order: the old one stays whole.
    if not checkpoint_writer.deferring() or os.path.exists(filename):
        checkpoint_writer.wait_for_checkpoint_writes()  # files become durable in save order
        atomic_write(filename, lambda f: torch.save(checkpoint, f), binary=True)
        _fsync_dir(folder)
        return filename
    if tensor_bytes <= _IN_MEMORY_LIMIT:
        serialised = io.BytesIO()
        torch.save(checkpoint, serialised)
        data = serialised.getbuffer()
    else:
        atomic_write(filename, lambda f: torch.save(checkpoint, f), binary=True, fsync=False)
        data = None

    def make_durable() -> None:
        if data is not None:
            # If an earlier queued save of this name made the file exist, fsync before the rename.
            write_bytes_atomic(filename, data, fsync=os.path.exists(filename))
        checkpoint_writer.fsync_path(filename)
        _fsync_dir(folder)
    checkpoint_writer.submit(make_durable, f'writing checkpoint {filename}')
    return filename


def _fsync_dir(folder: str) -> None:
    """Make a rename durable; not every platform lets a directory be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text_atomic(filename: str, text: str) -> None:
    """Replace a small text file (such as ``last_checkpoint``) in one step, fsynced first."""
    os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
    write_bytes_atomic(filename, text.encode('utf-8'))


def _load_checkpoint(filename: str, map_location: Any = 'cpu', weights_only: bool = True) -> dict:
    """``torch.load`` with errors that name the file and the fix.

    ``weights_only=False`` runs arbitrary code from the file: only for files you trust.
    """
    if '://' in str(filename):
        raise ValueError(f'checkpoint {filename!r} is a URL; mmlite never downloads. Download it '
                         'yourself and give the local file (load_from or load_checkpoint)')
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint file {filename!r} does not exist')
    try:
        return torch.load(filename, map_location=map_location, weights_only=weights_only)
    except pickle.UnpicklingError as exc:
        # The safe loader names the global a file needs; damaged files fail in other ways.
        needed = re.search(r'GLOBAL ([\w.]+)', str(exc)) if weights_only else None
        if needed:
            raise UnsafeCheckpointError(
                f'refused to load {filename!r}: it holds Python objects that only full unpickling can '
                f'rebuild (it needs {needed.group(1)}), and unpickling can run any code the file '
                'contains. mmlite loads checkpoints with torch.load(weights_only=True). If you trust '
                'where this file came from, opt in with load_checkpoint(..., weights_only=False) or '
                'allow_unsafe_checkpoint=True in the config.') from None
        detail = re.search(r'WeightsUnpickler error:\s*(.+)', str(exc))
        raise CheckpointError(f'checkpoint {filename!r} is corrupt or truncated (UnpicklingError: '
                              f'{detail.group(1) if detail else _first_line(exc)})') from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f'checkpoint {filename!r} is corrupt or truncated '
                              f'({type(exc).__name__}: {_first_line(exc)})') from None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else 'no details'


def _revise(state_dict: dict, revise_keys: Iterable[tuple[str, str]]) -> OrderedDict:
    for pattern, replacement in revise_keys:
        state_dict = OrderedDict((re.sub(pattern, replacement, k), v) for k, v in state_dict.items())
    return state_dict


def load_state_dict(module: nn.Module, state_dict: dict, strict: bool = False,
                    logger: Any = 'current') -> None:
    """Load ``state_dict`` into ``module``, listing missing, unexpected and mis-shaped keys.

    With ``strict=True`` any of the three is an error; otherwise they are skipped with a warning.
    """
    from mmlite.model import is_model_wrapper
    if is_model_wrapper(module):
        module = module.module
    own = module.state_dict()
    wrong_shape = {k for k, v in state_dict.items()
                   if k in own and isinstance(v, torch.Tensor) and v.shape != own[k].shape}
    mismatched = [f'{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}'
                  for k in state_dict if k in wrong_shape]
    compatible = OrderedDict((k, v) for k, v in state_dict.items() if k not in wrong_shape)
    result = module.load_state_dict(compatible, strict=False)
    missing = [k for k in result.missing_keys if k not in wrong_shape]  # listed as mismatched
    problems = []
    if result.unexpected_keys:
        problems.append('unexpected keys in the checkpoint: ' + ', '.join(result.unexpected_keys))
    if missing:
        problems.append('keys the checkpoint lacks: ' + ', '.join(missing))
    if mismatched:
        problems.append('shape mismatch: ' + '; '.join(mismatched))
    if not problems:
        return
    text = f'the checkpoint does not fit {type(module).__name__}: ' + ' | '.join(problems)
    if strict:
        raise CheckpointError(text + ' (pass strict=False to load what fits)')
    print_log(text, logger=logger, level=30)


def load_checkpoint(model: nn.Module, filename: str, map_location: Any = 'cpu', strict: bool = False,
                    logger: Any = 'current', revise_keys: Iterable[tuple[str, str]] = ((r'^module\.', ''),),
                    weights_only: bool = True) -> dict:
    """Load the weights in ``filename`` into ``model`` and return the whole checkpoint."""
    checkpoint = _load_checkpoint(filename, map_location, weights_only)
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'{filename!r} holds a {type(checkpoint).__name__}, not a checkpoint dict')
    state_dict = checkpoint.get('state_dict', checkpoint)
    load_state_dict(model, _revise(state_dict, revise_keys), strict=strict, logger=logger)
    return checkpoint


def find_latest_checkpoint(work_dir: str) -> str | None:
    """The checkpoint ``work_dir/last_checkpoint`` points to, or None."""
    checkpoint_writer.wait_for_checkpoint_writes()  # the pointer moves once a save is durable
    pointer = os.path.join(work_dir, 'last_checkpoint')
    if not os.path.exists(pointer):
        return None
    with open(pointer) as f:
        path = f.read().strip()
    return path or None


def resume_candidates(work_dir: str) -> list[str]:
    """Checkpoints to try on auto-resume, newest first: the pointer's target, then the rest by time."""
    latest = find_latest_checkpoint(work_dir)
    others = []
    for root, _, files in os.walk(work_dir):
        for name in files:
            if name.endswith('.pth') and not name.startswith('.'):
                others.append(os.path.join(root, name))
    others.sort(key=lambda p: os.path.getmtime(p), reverse=True)
    ordered = [latest] if latest else []
    ordered += [p for p in others if not latest or os.path.abspath(p) != os.path.abspath(latest)]
    return ordered
