"""Format handlers behind :func:`mmlite.fileio.load` / :func:`mmlite.fileio.dump`.

One handler per format, picked by file extension; ``register_handler`` adds more.
"""
from __future__ import annotations

import json
import pickle
from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from typing import IO, Any

import yaml


class BaseFileHandler(metaclass=ABCMeta):
    """Reads and writes one serialisation format.

    ``str_like`` says whether files are opened in text mode (json, yaml) or binary (pickle).
    """

    str_like = True

    @abstractmethod
    def load_from_fileobj(self, file: IO, **kwargs: Any) -> Any:
        """Read an object from an open file."""

    @abstractmethod
    def dump_to_fileobj(self, obj: Any, file: IO, **kwargs: Any) -> None:
        """Write ``obj`` to an open file."""

    @abstractmethod
    def dump_to_str(self, obj: Any, **kwargs: Any) -> str | bytes:
        """Serialise ``obj`` to a string (bytes for binary formats)."""

    def load_from_path(self, filepath: str, mode: str | None = None, **kwargs: Any) -> Any:
        mode = mode or ('r' if self.str_like else 'rb')
        encoding = 'utf-8' if 'b' not in mode else None
        with open(filepath, mode, encoding=encoding) as file:
            return self.load_from_fileobj(file, **kwargs)

    def dump_to_path(self, obj: Any, filepath: str, mode: str | None = None, **kwargs: Any) -> None:
        mode = mode or ('w' if self.str_like else 'wb')
        encoding = 'utf-8' if 'b' not in mode else None
        with open(filepath, mode, encoding=encoding) as file:
            self.dump_to_fileobj(obj, file, **kwargs)


def _json_fallback(obj: Any) -> Any:
    """Turn sets, ranges and numpy values into JSON types; anything else is an error."""
    if isinstance(obj, (set, frozenset, range)):
        return list(obj)
    if type(obj).__module__ == 'numpy':  # no numpy import unless a numpy value shows up
        tolist = getattr(obj, 'tolist', None)
        if tolist is not None:
            return tolist()
    raise TypeError(f'{type(obj).__name__} object {obj!r} is not JSON serialisable; convert it to '
                    'a list, dict, str, number, bool or None first')


class JsonHandler(BaseFileHandler):
    """JSON; sets, ranges and numpy arrays/scalars are written as lists/numbers."""

    def load_from_fileobj(self, file: IO, **kwargs: Any) -> Any:
        return json.load(file, **kwargs)

    def dump_to_fileobj(self, obj: Any, file: IO, **kwargs: Any) -> None:
        kwargs.setdefault('default', _json_fallback)
        json.dump(obj, file, **kwargs)

    def dump_to_str(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault('default', _json_fallback)
        return json.dumps(obj, **kwargs)


_SafeLoader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
_SafeDumper = getattr(yaml, 'CSafeDumper', yaml.SafeDumper)


class _TupleSafeLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """The safe YAML loader plus ``!!python/tuple``, so dumped tuples come back as tuples."""


class _TupleSafeDumper(_SafeDumper):  # type: ignore[misc, valid-type]
    """The safe YAML dumper that writes tuples as ``!!python/tuple`` and dict subclasses as maps."""


_TupleSafeLoader.add_constructor(
    'tag:yaml.org,2002:python/tuple',
    lambda loader, node: tuple(loader.construct_sequence(node, deep=True)))
_TupleSafeDumper.add_representer(
    tuple, lambda dumper, data: dumper.represent_sequence('tag:yaml.org,2002:python/tuple', data))
_TupleSafeDumper.add_multi_representer(
    dict, lambda dumper, data: dumper.represent_dict(data.items()))


class YamlHandler(BaseFileHandler):
    """YAML through the safe loader/dumper (plus tuples); key order is kept."""

    def load_from_fileobj(self, file: IO, **kwargs: Any) -> Any:
        kwargs.setdefault('Loader', _TupleSafeLoader)
        return yaml.load(file, **kwargs)

    def dump_to_fileobj(self, obj: Any, file: IO, **kwargs: Any) -> None:
        kwargs.setdefault('Dumper', _TupleSafeDumper)
        kwargs.setdefault('sort_keys', False)
        yaml.dump(obj, file, **kwargs)

    def dump_to_str(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault('Dumper', _TupleSafeDumper)
        kwargs.setdefault('sort_keys', False)
        return yaml.dump(obj, **kwargs)


class PickleHandler(BaseFileHandler):
    """Pickle; ``dump_to_str`` returns bytes."""

    str_like = False

    def load_from_fileobj(self, file: IO, **kwargs: Any) -> Any:
        return pickle.load(file, **kwargs)

    def dump_to_fileobj(self, obj: Any, file: IO, **kwargs: Any) -> None:
        pickle.dump(obj, file, **kwargs)

    def dump_to_str(self, obj: Any, **kwargs: Any) -> bytes:
        return pickle.dumps(obj, **kwargs)


file_handlers: dict[str, BaseFileHandler] = {
    'json': JsonHandler(),
    'yaml': YamlHandler(),
    'yml': YamlHandler(),
    'pickle': PickleHandler(),
    'pkl': PickleHandler(),
}


def _register(handler: BaseFileHandler, file_formats: str | list[str]) -> None:
    if not isinstance(handler, BaseFileHandler):
        raise TypeError(f'handler must be a BaseFileHandler instance, got {type(handler).__name__}')
    formats = [file_formats] if isinstance(file_formats, str) else file_formats
    if not formats or not all(isinstance(fmt, str) for fmt in formats):
        raise TypeError(f'file_formats must be a string or a list of strings, got {file_formats!r}')
    for fmt in formats:
        file_handlers[fmt.lstrip('.')] = handler


def register_handler(file_formats: str | list[str], **kwargs: Any) -> Callable[[type], type]:
    """Class decorator registering a :class:`BaseFileHandler` subclass for the given extensions."""

    def wrap(cls: type) -> type:
        _register(cls(**kwargs), file_formats)
        return cls

    return wrap
