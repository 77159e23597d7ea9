"""HistoryBuffer: the recent values of one scalar (a loss, a learning rate, a time) and their stats.

``update`` runs every iteration, so it only appends: a 0-d tensor is kept as a tensor (detached),
with no host-device sync. Tensors become floats lazily, all pending ones in one batch, the first
time a statistic or ``data`` is asked for, which happens at logging intervals.
"""
from __future__ import annotations

import itertools
import operator
import sys
from collections import deque
from typing import Any, Callable, Sequence

import numpy as np


_PLAIN_NUMBERS = frozenset((float, int))
_ONE_ELEMENT = {1}
_REQUIRES_GRAD = operator.attrgetter('requires_grad')
_IS_CPU = operator.attrgetter('is_cpu')  # a module global, so tests can route CPU tensors to the batched path
_TENSOR_TYPE: list = []  # torch.Tensor once torch is imported; looked up once, not per update


def _torch_tensor_type() -> type | None:
    # A tensor can only exist if torch is imported already; no need to import it here.
    if _TENSOR_TYPE:
        return _TENSOR_TYPE[0]
    torch = sys.modules.get('torch')
    if torch is None or not hasattr(torch, 'Tensor'):  # absent, or half-way through its import
        return None
    _TENSOR_TYPE.append(torch.Tensor)
    return torch.Tensor


def _tensors_to_floats(tensors: list) -> list[float]:
    """Convert 1-element tensors to floats with one sync per device instead of one per tensor."""
    import torch

    if all(map(_IS_CPU, tensors)):
        # Nothing to wait for on the CPU: a float() each costs less than stacking 0-d tensors
        # (a view per tensor), about 60 us less per log line for 50 values.
        return list(map(float, tensors))
    try:  # the usual case, same-shaped (0-d) losses on one device: one stack, one transfer
        return torch.stack(tensors).to(torch.float64).reshape(-1).tolist()
    except RuntimeError:  # several devices, or 1-element tensors of different shapes
        pass
    by_device: dict[Any, list[int]] = {}
    for index, tensor in enumerate(tensors):
        by_device.setdefault(tensor.device, []).append(index)
    floats: list[float] = [0.0] * len(tensors)
    for indices in by_device.values():
        stacked = torch.stack([tensors[i].reshape(()) for i in indices])
        for index, value in zip(indices, stacked.to(torch.float64).tolist()):
            floats[index] = value
    return floats


_NO_HISTORY = (np.empty(0, dtype=np.float64), np.empty(0, dtype=np.int64))


def _right_end(history: deque, count: int, dtype: type) -> np.ndarray:
    """The last ``count`` entries of ``history`` as an array, without walking the rest."""
    newest_first = np.fromiter(itertools.islice(reversed(history), count), dtype, count=count)
    return newest_first[::-1]


class HistoryBuffer:
    """Keeps the last ``max_length`` (value, count) pairs of a scalar.

    ``mean`` is ``sum(values) / sum(counts)`` over the window, so an update of
    ``(batch_loss_sum, batch_size)`` averages per sample. Statistics are reached by name
    through ``statistics('mean', 10)``; add new ones with ``@HistoryBuffer.register_statistics``.
    """

    _statistics_methods: dict[str, Callable] = {}

    def __init__(self, log_history: Sequence = (), count_history: Sequence = (),
                 max_length: int = 1000000) -> None:
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
            raise ValueError(f'HistoryBuffer max_length must be a positive int, got {max_length!r}')
        # Histories come as lists, or as tensors/arrays (what state() writes).
        if hasattr(log_history, 'tolist'):
            log_history = log_history.tolist()
        if hasattr(count_history, 'tolist'):
            count_history = count_history.tolist()
        if len(log_history) != len(count_history):
            raise ValueError(f'HistoryBuffer needs as many counts as values, got '
                             f'{len(log_history)} values and {len(count_history)} counts')
        self.max_length = max_length
        self._values: deque = deque(maxlen=max_length)
        self._counts: deque = deque(maxlen=max_length)
        # Length of the right-end run that starts at the oldest unconverted tensor (older
        # entries are all floats already).
        self._pending = 0
        # What state() converted last time, as arrays; see _history_arrays.
        self._converted: tuple[np.ndarray, np.ndarray] = _NO_HISTORY
        for value, count in zip(log_history, count_history):
            self.update(value, count)

    def update(self, value: Any, count: int = 1) -> None:
        """Append a value (number, numpy scalar or 1-element tensor) seen ``count`` times."""
        if type(count) is not int:
            if not isinstance(count, (int, np.integer)) or isinstance(count, bool):
                raise TypeError(f'HistoryBuffer.update count must be an int, got {count!r}')
            count = int(count)
        kind = type(value)
        # Runs several times per training iteration: exact-type tests first, no helper calls.
        if kind is float or kind is int:
            is_tensor = False
        elif _TENSOR_TYPE and kind is _TENSOR_TYPE[0]:
            if value.requires_grad:  # log variables from parse_losses come detached already
                value = value.detach()
            if value.numel() != 1:
                self._reject_shape(value)
            is_tensor = True
        else:
            value, is_tensor = self._checked(value)
        if is_tensor or self._pending:
            # Everything right of the oldest unconverted tensor is re-read on resolve.
            if self._pending < self.max_length:
                self._pending += 1
        self._values.append(value)
        self._counts.append(count)

    def extend(self, values: list) -> None:
        """``update(v)`` for each of ``values`` (count 1 each); plain floats and detached
        1-element tensors, what the hooks hand over in bulk, are appended without a call each."""
        if not values:
            return
        kinds = set(map(type, values))
        if kinds <= _PLAIN_NUMBERS:
            has_tensor = False
        elif (len(kinds) == 1 and _TENSOR_TYPE and _TENSOR_TYPE[0] in kinds
              and set(map(_TENSOR_TYPE[0].numel, values)) == _ONE_ELEMENT
              and not any(map(_REQUIRES_GRAD, values))):  # map: checked in C, not per value here
            has_tensor = True
        else:
            for value in values:
                self.update(value)
            return
        self._values.extend(values)
        self._counts.extend(itertools.repeat(1, len(values)))
        if has_tensor or self._pending:
            self._pending = min(self._pending + len(values), self.max_length)

    @staticmethod
    def _checked(value: Any) -> tuple[Any, bool]:
        """``value`` as stored (numpy scalars become Python numbers) and whether it is a tensor."""
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            return (value.item() if isinstance(value, np.number) else value), False
        tensor_type = _torch_tensor_type()
        if tensor_type is None or not isinstance(value, tensor_type):
            raise TypeError(f'HistoryBuffer.update takes a number or a 1-element tensor, got '
                            f'{type(value).__name__}: {value!r}')
        if value.numel() != 1:
            HistoryBuffer._reject_shape(value)
        return value.detach() if value.requires_grad else value, True

    @staticmethod
    def _reject_shape(value: Any) -> None:
        raise ValueError(f'HistoryBuffer.update takes a 1-element tensor, got shape '
                         f'{tuple(value.shape)}; reduce it (e.g. .mean()) first')

    def _resolve(self) -> None:
        """Turn the pending tensors at the right end into floats, in one batched transfer."""
        if not self._pending:
            return
        values, pending = self._values, self._pending
        tail = list(itertools.islice(reversed(values), pending))
        tail.reverse()
        tensor_type = _torch_tensor_type()
        if tensor_type is not None and set(map(type, tail)) == {tensor_type}:  # all losses, say
            tail = _tensors_to_floats(tail)
        else:
            positions = [i for i, v in enumerate(tail) if tensor_type and isinstance(v, tensor_type)]
            if positions:
                for i, value in zip(positions, _tensors_to_floats([tail[i] for i in positions])):
                    tail[i] = value
        # Drop the converted entries: ``pending`` pops run by a zero-length deque, in C.
        deque(itertools.starmap(values.pop, itertools.repeat((), pending)), maxlen=0)
        values.extend(tail)
        self._pending = 0

    def _window(self, window_size: int | None) -> tuple[list, list]:
        """The last ``window_size`` values and counts (all of them when None), as floats."""
        if not self._values:
            raise ValueError('HistoryBuffer is empty: call update() before asking for statistics')
        self._resolve()
        if window_size is None:
            return list(self._values), list(self._counts)
        if not isinstance(window_size, int) or isinstance(window_size, bool) or window_size < 1:
            raise ValueError(f'window_size must be a positive int or None, got {window_size!r}')
        values = list(itertools.islice(reversed(self._values), window_size))
        counts = list(itertools.islice(reversed(self._counts), window_size))
        values.reverse()
        counts.reverse()
        return values, counts

    @property
    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """(values, counts) as float64 / int64 arrays, oldest first."""
        self._resolve()
        return (np.asarray(list(self._values), dtype=np.float64),
                np.asarray(list(self._counts), dtype=np.int64))

    def state(self) -> dict:
        """A form ``torch.load(weights_only=True)`` reads; ``HistoryBuffer(**state)`` rebuilds
        the buffer.

        The histories are a float64 and an int64 tensor: two objects in a checkpoint however
        long the run. As lists, ``torch.save`` spends a Python call per value (8 ms per save
        for 4 keys x 3000 iterations), growing with every iteration trained.
        """
        import torch
        values, counts = self._history_arrays()
        # Copies: the cache must not change if a hook edits the checkpoint in place.
        return {'log_history': torch.from_numpy(values.copy()),
                'count_history': torch.from_numpy(counts.copy()),
                'max_length': self.max_length}

    def _history_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole history as float64 / int64 arrays, converting only what is new since the
        previous call (a save per epoch would otherwise convert every iteration again).

        Until the buffer is full, entries are only appended at the right end, so the arrays of
        the previous call are a prefix of the history. Once it is full, each update evicts the
        oldest entry and the prefix shifts by an unknown amount: then everything is converted.
        """
        self._resolve()
        size = len(self._values)
        known_values, known_counts = self._converted
        if size >= self.max_length or size < len(known_values):
            known_values, known_counts = _NO_HISTORY
        new = size - len(known_values)
        if new:
            known_values = np.concatenate([known_values, _right_end(self._values, new, np.float64)])
            known_counts = np.concatenate([known_counts, _right_end(self._counts, new, np.int64)])
        self._converted = (known_values, known_counts) if size < self.max_length else _NO_HISTORY
        return known_values, known_counts

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f'HistoryBuffer(len={len(self)}, max_length={self.max_length})'

    @classmethod
    def register_statistics(cls, method: Callable) -> Callable:
        """Decorator: make ``method(self, *args)`` reachable as
        ``buffer.statistics(method.__name__, *args)``."""
        name = method.__name__
        if name in cls._statistics_methods:
            raise KeyError(f'HistoryBuffer already has a statistic called {name!r}; pick another '
                           f'function name')
        cls._statistics_methods[name] = method
        return method

    def statistics(self, method_name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the registered statistic ``method_name`` (mean, min, max, current, or yours)."""
        method = self._statistics_methods.get(method_name)
        if method is None:
            raise KeyError(f'HistoryBuffer has no statistic {method_name!r}; registered: '
                           f'{sorted(self._statistics_methods)}. Add one with '
                           f'@HistoryBuffer.register_statistics')
        return method(self, *args, **kwargs)

    def mean(self, window_size: int | None = None) -> float:
        """sum(values) / sum(counts) over the last ``window_size`` updates (all when None)."""
        values, counts = self._window(window_size)
        return float(sum(values) / sum(counts))

    def max(self, window_size: int | None = None) -> float:
        """Largest value of the last ``window_size`` updates."""
        return float(max(self._window(window_size)[0]))

    def min(self, window_size: int | None = None) -> float:
        """Smallest value of the last ``window_size`` updates."""
        return float(min(self._window(window_size)[0]))

    def current(self) -> float:
        """The latest value."""
        return float(self._window(1)[0][0])


for _name in ('mean', 'max', 'min', 'current'):
    HistoryBuffer._statistics_methods[_name] = getattr(HistoryBuffer, _name)
del _name
