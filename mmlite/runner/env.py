"""The process environment a run needs: seeds, RNG snapshots, multiprocessing, and a report."""
from __future__ import annotations

import importlib.metadata
import os
import platform
import random
import sys
from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from mmlite.logging import print_log


def set_random_seed(seed: int | None = None, deterministic: bool = False,
                    diff_rank_seed: bool = False) -> int:
    """Seed Python, NumPy and torch (all devices) and return the seed used.

    ``seed=None`` draws one on rank 0 and shares it; ``diff_rank_seed`` adds the rank so each
    process samples differently (e.g. different augmentations).
    """
    from mmlite.dist import get_rank, sync_random_seed
    if seed is None:
        seed = sync_random_seed()
    if diff_rank_seed:
        seed = seed + get_rank()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        if torch.backends.cudnn.benchmark:
            print_log('deterministic=True turns off torch.backends.cudnn.benchmark', logger='current',
                      level=30)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    return seed


_WORD = '<u4'  # the Mersenne Twister state words of random and numpy, stored little-endian


def get_rng_state() -> dict:
    """Every global RNG state, as bytes and plain values (safe for weights-only checkpoints).

    Each generator's state is one ``bytes`` object: as a list of 625 Python ints the words of
    ``random`` cost ~1 ms per checkpoint to pickle, and as a tensor ~20 pickled objects. The
    CUDA states, when there are any, stay the tensors torch returns.
    """
    py_version, py_state, py_gauss = random.getstate()
    np_state = np.random.get_state()
    state = {
        'python': [py_version, np.array(py_state, dtype=_WORD).tobytes(), py_gauss],
        'numpy': [np_state[0], np_state[1].astype(_WORD).tobytes(), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        'torch': torch.get_rng_state().numpy().tobytes(),  # a CPU tensor: no device sync
    }
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _words(saved: Any) -> np.ndarray:
    """State words as saved: bytes, or the int64 tensor (or list) of older checkpoints."""
    if isinstance(saved, bytes):
        return np.frombuffer(saved, dtype=_WORD).astype(np.uint32)
    if isinstance(saved, torch.Tensor):
        saved = saved.numpy()
    return np.asarray(saved).astype(np.uint32)


def set_rng_state(state: dict) -> None:
    """Restore what :func:`get_rng_state` captured (also the tensors of older checkpoints)."""
    version, py_state, gauss = state['python']
    random.setstate((version, tuple(_words(py_state).tolist()), gauss))
    name, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((name, _words(keys), pos, has_gauss, cached))
    torch_state = state['torch']
    if isinstance(torch_state, bytes):
        torch_state = torch.frombuffer(bytearray(torch_state), dtype=torch.uint8)
    torch.set_rng_state(torch_state)
    if 'cuda' in state and torch.cuda.is_available() and len(state['cuda']) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state['cuda'])


def set_multi_processing(mp_start_method: str | None = None, opencv_num_threads: int = 0,
                         distributed: bool = False) -> None:
    """Pick the worker start method and keep thread pools from oversubscribing the cores."""
    import multiprocessing as mp
    if mp_start_method is not None and platform.system() != 'Windows':
        current = mp.get_start_method(allow_none=True)
        if current is not None and current != mp_start_method:
            print_log(f'multiprocessing start method is already {current!r}; keeping it instead of '
                      f'{mp_start_method!r}', logger='current', level=30)
        elif current is None:
            mp.set_start_method(mp_start_method, force=True)
    try:
        import cv2
        cv2.setNumThreads(opencv_num_threads)
    except ImportError:
        pass
    if distributed:
        for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
            if var not in os.environ:
                os.environ[var] = '1'


def collect_env() -> OrderedDict:
    """Versions and hardware worth having at the top of every log."""
    from mmlite import __version__
    env: OrderedDict[str, Any] = OrderedDict()
    env['sys.platform'] = sys.platform
    env['Python'] = sys.version.replace('\n', '')
    env['CUDA available'] = torch.cuda.is_available()
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            env[f'GPU {i}'] = torch.cuda.get_device_name(i)
    env['MPS available'] = bool(getattr(torch.backends, 'mps', None) and torch.backends.mps.is_available())
    env['CPU threads'] = torch.get_num_threads()
    env['PyTorch'] = torch.__version__
    # The installed version, without importing torchvision (which costs seconds: it loads torch._dynamo).
    vision = sys.modules.get('torchvision')
    try:
        env['TorchVision'] = vision.__version__ if vision is not None else importlib.metadata.version('torchvision')
    except importlib.metadata.PackageNotFoundError:
        pass
    env['NumPy'] = np.__version__
    env['mmlite'] = __version__
    return env
