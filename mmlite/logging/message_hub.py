"""MessageHub: where the loop, hooks and log processor leave scalars and runtime facts for
each other.

Scalars (losses, lr, times) go into a HistoryBuffer per key; runtime info (epoch, iter, meta)
is a plain dict. Keys marked ``resumed`` are saved in checkpoints and come back on resume.

Writers that update the same keys every iteration (RuntimeInfoHook, IterTimerHook) may keep
their values in plain lists and register a flush with :meth:`MessageHub.add_deferred_writer`:
every read and write through the hub's methods runs the pending flushes first, so what anyone
sees through the hub is exactly what eager updates would have left, while an iteration costs
those hooks a list append instead of a call per key.
"""
from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, Callable, Mapping

import numpy as np

from mmlite.utils.manager import ManagerMixin

from .history_buffer import HistoryBuffer, _torch_tensor_type

_PLAIN_LEAVES = (type(None), bool, int, float, complex, str, bytes)
_UNSAVEABLE = object()


def _to_plain(value: Any) -> Any:
    """``value`` as something ``torch.load(weights_only=True)`` reads back, or ``_UNSAVEABLE``.

    numpy scalars and arrays become Python numbers and lists; mappings become dicts; tensors,
    devices and dtypes stay as they are.
    """
    if isinstance(value, _PLAIN_LEAVES):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    tensor_type = _torch_tensor_type()
    if tensor_type is not None:
        import torch
        if isinstance(value, (tensor_type, torch.device, torch.dtype)):
            return value.detach() if isinstance(value, tensor_type) else value
    if isinstance(value, Mapping):
        plain = {}
        for key, item in value.items():
            plain_key, plain_item = _to_plain(key), _to_plain(item)
            if plain_key is _UNSAVEABLE or plain_item is _UNSAVEABLE:
                return _UNSAVEABLE
            plain[plain_key] = plain_item
        return plain
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_to_plain(item) for item in value]
        if any(item is _UNSAVEABLE for item in items):
            return _UNSAVEABLE
        if isinstance(value, list):
            return items
        return tuple(items) if isinstance(value, tuple) else set(items)
    return _UNSAVEABLE


def _packed_histories(buffers: list[tuple[str, HistoryBuffer]]) -> tuple[dict, dict]:
    """Per key its length and max_length, and every key's history end to end in two tensors."""
    import torch
    scalars, values, counts = {}, [np.empty(0, np.float64)], [np.empty(0, np.int64)]
    for key, buffer in buffers:
        key_values, key_counts = buffer._history_arrays()
        scalars[key] = {'length': len(key_values), 'max_length': buffer.max_length}
        values.append(key_values)
        counts.append(key_counts)
    # concatenate copies: the tensors share nothing with the buffers' caches
    return scalars, {'log_history': torch.from_numpy(np.concatenate(values)),
                     'count_history': torch.from_numpy(np.concatenate(counts))}


def _unpacked(state: Mapping, key: str, saved: Mapping, start: int) -> tuple[dict, int]:
    """The ``HistoryBuffer`` arguments of ``key``, whose values start at ``start`` in the
    histories of a ``state_dict(packed=True)``, and the next key's start."""
    if 'log_history' not in state or 'count_history' not in state:
        raise KeyError(f'MessageHub.load_state_dict: log_scalars[{key!r}] is packed (it has a '
                       f'length) but the state has no log_history/count_history tensors; it has '
                       f'{list(state)}')
    stop = start + saved['length']
    return {'log_history': state['log_history'][start:stop],
            'count_history': state['count_history'][start:stop],
            'max_length': saved['max_length']}, stop


class MessageHub(ManagerMixin):
    """Named hub of scalar histories and runtime info; ``MessageHub.get_current_instance()``
    returns the runner's hub (or a default 'mmlite' one outside a runner)."""

    def __init__(self, name: str, log_scalars: dict[str, HistoryBuffer] | None = None,
                 runtime_info: dict[str, Any] | None = None,
                 resumed_keys: dict[str, bool] | None = None) -> None:
        super().__init__(name)
        self._log_scalars: OrderedDict[str, HistoryBuffer] = OrderedDict()
        for key, buffer in (log_scalars or {}).items():
            if not isinstance(buffer, HistoryBuffer):
                raise TypeError(f'MessageHub log_scalars[{key!r}] must be a HistoryBuffer, got '
                                f'{type(buffer).__name__}')
            self._log_scalars[key] = buffer
        self._runtime_info: OrderedDict[str, Any] = OrderedDict(runtime_info or {})
        self._resumed_keys: OrderedDict[str, bool] = OrderedDict(resumed_keys or {})
        self._deferred: list[Callable[[], None]] = []  # flushes of writers holding values back

    # ---------------------------------------------------------------- deferred writers
    def add_deferred_writer(self, flush: Callable[[], None]) -> None:
        """Register ``flush``: it moves a writer's held-back values into the hub (with the
        ordinary update methods) and is run before every read or write through the hub."""
        if flush not in self._deferred:
            self._deferred.append(flush)

    def remove_deferred_writer(self, flush: Callable[[], None]) -> None:
        """Flush ``flush``'s values, then stop calling it."""
        if flush in self._deferred:
            self.flush_deferred()
            self._deferred.remove(flush)

    def flush_deferred(self) -> None:
        """Bring every held-back value in now (the hub's methods do this themselves)."""
        writers = self._deferred
        if not writers:
            return
        # Emptied while the flushes run: their own update_* calls must not recurse into them.
        self._deferred = []
        try:
            for flush in writers:
                flush()
        finally:
            added = self._deferred  # registered by a flush while it ran: kept, after the others
            self._deferred = writers + [w for w in added if w not in writers] if added else writers

    @classmethod
    def get_current_instance(cls) -> MessageHub:
        """The hub made or fetched last; a default 'mmlite' hub if none exists yet."""
        if not cls._instance_dict:
            cls.get_instance('mmlite')
        return super().get_current_instance()

    def _set_resumed(self, key: str, resumed: bool) -> None:
        known = self._resumed_keys.get(key)
        if known is None:
            self._resumed_keys[key] = resumed
        elif known != resumed:
            raise ValueError(f'MessageHub key {key!r} was first stored with resumed={known}; '
                             f'later updates must pass the same resumed value')

    def update_scalar(self, key: str, value: Any, count: int = 1, resumed: bool = True) -> None:
        """Append ``value`` (number, numpy scalar, or 1-element tensor kept as a tensor) to ``key``."""
        if self._deferred:
            self.flush_deferred()
        buffer = self._log_scalars.get(key)
        # Possibly called every iteration: a known key with its usual flag skips the checks,
        # and a plain float (times, learning rates) after no pending tensor is appended here.
        if buffer is None or self._resumed_keys.get(key) is not resumed:
            buffer = self._checked_buffer(key, resumed)
        elif type(value) is float and type(count) is int and not buffer._pending:
            buffer._values.append(value)
            buffer._counts.append(count)
            return
        buffer.update(value, count)

    def extend_scalar(self, key: str, values: list, resumed: bool = True) -> None:
        """``update_scalar(key, v)`` for each of ``values`` (count 1 each), in one call."""
        if self._deferred:
            self.flush_deferred()
        buffer = self._log_scalars.get(key)
        if buffer is None or self._resumed_keys.get(key) is not resumed:
            buffer = self._checked_buffer(key, resumed)
        buffer.extend(values)

    def _checked_buffer(self, key: str, resumed: bool) -> HistoryBuffer:
        """The buffer of ``key`` (made if new), once ``resumed`` is checked against the key's flag."""
        self._set_resumed(key, resumed)
        buffer = self._log_scalars.get(key)
        if buffer is None:
            buffer = self._log_scalars[key] = HistoryBuffer()
        return buffer

    def update_scalars(self, log_dict: Mapping[str, Any], resumed: bool = True) -> None:
        """``update_scalar`` for each item; a value may be ``{'value': v, 'count': n}``."""
        if not isinstance(log_dict, Mapping):
            raise TypeError(f'update_scalars takes a dict, got {type(log_dict).__name__}')
        for key, value in log_dict.items():
            if isinstance(value, Mapping):
                if 'value' not in value:
                    raise KeyError(f'update_scalars: {key!r} is a dict without a "value" key; '
                                   f'pass {{"value": v, "count": n}} or a plain value')
                self.update_scalar(key, value['value'], value.get('count', 1), resumed)
            else:
                self.update_scalar(key, value, 1, resumed)

    def update_info(self, key: str, value: Any, resumed: bool = True) -> None:
        """Store ``value`` under ``key`` (no copy is made)."""
        if self._deferred:
            self.flush_deferred()
        if self._resumed_keys.get(key) is not resumed:
            self._set_resumed(key, resumed)
        self._runtime_info[key] = value

    def update_info_dict(self, info_dict: Mapping[str, Any], resumed: bool = True) -> None:
        """``update_info`` for each item."""
        if not isinstance(info_dict, Mapping):
            raise TypeError(f'update_info_dict takes a dict, got {type(info_dict).__name__}')
        for key, value in info_dict.items():
            self.update_info(key, value, resumed)

    def pop_info(self, key: str, default: Any = None) -> Any:
        """Remove ``key`` from the runtime info and return its value (``default`` if absent)."""
        if self._deferred:
            self.flush_deferred()
        return self._runtime_info.pop(key, default)

    def get_scalar(self, key: str) -> HistoryBuffer:
        """The HistoryBuffer of ``key``."""
        if self._deferred:
            self.flush_deferred()
        buffer = self._log_scalars.get(key)
        if buffer is None:
            raise KeyError(f'MessageHub {self.instance_name!r} has no scalar {key!r}; it has: '
                           f'{list(self._log_scalars)}')
        return buffer

    def get_info(self, key: str, default: Any = None) -> Any:
        """The runtime info under ``key``, or ``default``."""
        if self._deferred:
            self.flush_deferred()
        return self._runtime_info.get(key, default)

    @property
    def log_scalars(self) -> OrderedDict[str, HistoryBuffer]:
        if self._deferred:
            self.flush_deferred()
        return self._log_scalars

    @property
    def runtime_info(self) -> OrderedDict[str, Any]:
        if self._deferred:
            self.flush_deferred()
        return self._runtime_info

    def state_dict(self, packed: bool = False) -> dict:
        """The resumed keys as plain values: scalar histories become tensors, numpy becomes Python.

        ``packed=True`` (what checkpoints hold) puts the histories of all keys end to end in
        two tensors, ``log_history`` and ``count_history`` next to ``log_scalars``, where each
        key keeps its ``length``: ``torch.save`` then pickles two tensors instead of two per
        key (~0.1 ms each). :meth:`load_state_dict` reads both forms.

        A runtime value that cannot be made plain is left out with a warning naming its key.
        """
        if self._deferred:
            self.flush_deferred()
        saved = [(key, buffer) for key, buffer in self._log_scalars.items()
                 if self._resumed_keys.get(key, True)]
        if packed:
            scalars, packed_histories = _packed_histories(saved)
        else:
            scalars, packed_histories = {key: buffer.state() for key, buffer in saved}, {}
        info = {}
        for key, value in self._runtime_info.items():
            if not self._resumed_keys.get(key, True):
                continue
            plain = _to_plain(value)
            if plain is _UNSAVEABLE:
                warnings.warn(f'MessageHub.state_dict: runtime info {key!r} ({type(value).__name__}) '
                              f'holds values a weights_only checkpoint cannot store, so it is not '
                              f'saved; store plain values, or pass resumed=False to update_info')
                continue
            info[key] = plain
        resumed = {key: flag for key, flag in self._resumed_keys.items()
                   if flag and (key in scalars or key in info)}
        return {'log_scalars': scalars, **packed_histories, 'runtime_info': info,
                'resumed_keys': resumed}

    def load_state_dict(self, state_dict: dict | MessageHub) -> None:
        """Bring back what ``state_dict()`` saved (or copy every key of another hub).

        Loaded keys replace the same keys here; other keys are kept.
        """
        if self._deferred:
            self.flush_deferred()
        if isinstance(state_dict, MessageHub):
            state_dict.flush_deferred()
            for key, buffer in state_dict._log_scalars.items():
                self._log_scalars[key] = HistoryBuffer(**buffer.state())
            self._runtime_info.update(state_dict._runtime_info)
            self._resumed_keys.update(state_dict._resumed_keys)
            return
        if not isinstance(state_dict, Mapping):
            raise TypeError(f'MessageHub.load_state_dict takes a dict or a MessageHub, got '
                            f'{type(state_dict).__name__}')
        missing = [k for k in ('log_scalars', 'runtime_info', 'resumed_keys') if k not in state_dict]
        if missing:
            raise KeyError(f'MessageHub.load_state_dict: the state lacks {missing}; it has '
                           f'{list(state_dict)} (was it made by MessageHub.state_dict()?)')
        start = 0
        for key, saved in state_dict['log_scalars'].items():
            if isinstance(saved, HistoryBuffer):
                saved = saved.state()
            elif 'length' in saved:  # packed: this key's run of the shared histories
                saved, start = _unpacked(state_dict, key, saved, start)
            self._log_scalars[key] = HistoryBuffer(**saved)
        self._runtime_info.update(state_dict['runtime_info'])
        self._resumed_keys.update(state_dict['resumed_keys'])
