"""``load``/``dump`` by file extension, and the module-level file functions MMEngine exposes."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .backend import LocalBackend, atomic_write, get_file_backend
from .handlers import file_handlers

__all__ = ['load', 'dump', 'get', 'get_text', 'put', 'put_text', 'exists', 'isdir', 'isfile',
           'join_path', 'get_local_path', 'copyfile', 'copytree', 'remove', 'rmtree',
           'list_dir_or_file']


def _format_of(file: Any, file_format: str | None, action: str) -> str:
    if file_format is None:
        name = file if isinstance(file, str) else getattr(file, 'name', None)
        if not isinstance(name, str) or '.' not in os.path.basename(name):
            raise TypeError(f'cannot tell which format to {action} for {file!r}: pass file_format '
                            f'(one of {", ".join(sorted(file_handlers))})')
        file_format = name.rsplit('.', 1)[-1]
    fmt = file_format.lstrip('.').lower()
    if fmt not in file_handlers:
        raise TypeError(f'unsupported file format {file_format!r} for {file!r}; supported: '
                        f'{", ".join(sorted(file_handlers))} (or add one with register_handler)')
    return fmt


def _check_local(file: Any, backend_args: dict | None, file_client_args: dict | None) -> LocalBackend:
    """Refuse URIs and remote backends up front (``file_client_args`` is MMEngine's older name)."""
    if file_client_args is not None and backend_args is not None:
        raise ValueError('pass either file_client_args or backend_args, not both')
    return get_file_backend(file if isinstance(file, str) else None,
                            backend_args=backend_args or file_client_args)


def load(file: str | Path | Any, file_format: str | None = None,
         file_client_args: dict | None = None, backend_args: dict | None = None,
         **kwargs: Any) -> Any:
    """Read a json, yaml/yml or pickle/pkl file (a path or an open file object).

    The format comes from the extension unless ``file_format`` is given; extra
    keyword arguments go to the underlying ``json.load``/``yaml.load``/``pickle.load``.
    """
    if isinstance(file, Path):
        file = str(file)
    handler = file_handlers[_format_of(file, file_format, 'load')]
    _check_local(file, backend_args, file_client_args)
    if isinstance(file, str):
        return handler.load_from_path(file, **kwargs)
    if hasattr(file, 'read'):
        return handler.load_from_fileobj(file, **kwargs)
    raise TypeError(f'file must be a path or an open file object, got {type(file).__name__}')


def dump(obj: Any, file: str | Path | Any | None = None, file_format: str | None = None,
         file_client_args: dict | None = None, backend_args: dict | None = None,
         **kwargs: Any) -> str | bytes | None:
    """Write ``obj`` as json, yaml/yml or pickle/pkl.

    With no ``file``, return the text (bytes for pickle). A path is written atomically
    (temporary file, then rename) and its parent directories are created.
    """
    if isinstance(file, Path):
        file = str(file)
    if file is None:
        if file_format is None:
            raise TypeError('dump() without a file needs file_format (json, yaml or pickle)')
        return file_handlers[_format_of(None, file_format, 'dump')].dump_to_str(obj, **kwargs)
    handler = file_handlers[_format_of(file, file_format, 'dump')]
    _check_local(file, backend_args, file_client_args)
    if isinstance(file, str):
        atomic_write(file, lambda f: handler.dump_to_fileobj(obj, f, **kwargs),
                     binary=not handler.str_like)
        return None
    if hasattr(file, 'write'):
        handler.dump_to_fileobj(obj, file, **kwargs)
        return None
    raise TypeError(f'file must be a path or an open file object, got {type(file).__name__}')


def get(filepath: str | Path, backend_args: dict | None = None) -> bytes:
    """The bytes of a file."""
    return get_file_backend(filepath, backend_args=backend_args).get(filepath)


def get_text(filepath: str | Path, encoding: str = 'utf-8', backend_args: dict | None = None) -> str:
    """The text of a file."""
    return get_file_backend(filepath, backend_args=backend_args).get_text(filepath, encoding)


def put(obj: bytes, filepath: str | Path, backend_args: dict | None = None) -> None:
    """Write bytes to a file atomically."""
    get_file_backend(filepath, backend_args=backend_args).put(obj, filepath)


def put_text(obj: str, filepath: str | Path, encoding: str = 'utf-8',
             backend_args: dict | None = None) -> None:
    """Write text to a file atomically."""
    get_file_backend(filepath, backend_args=backend_args).put_text(obj, filepath, encoding)


def exists(filepath: str | Path, backend_args: dict | None = None) -> bool:
    return get_file_backend(filepath, backend_args=backend_args).exists(filepath)


def isdir(filepath: str | Path, backend_args: dict | None = None) -> bool:
    return get_file_backend(filepath, backend_args=backend_args).isdir(filepath)


def isfile(filepath: str | Path, backend_args: dict | None = None) -> bool:
    return get_file_backend(filepath, backend_args=backend_args).isfile(filepath)


def join_path(filepath: str | Path, *filepaths: str | Path, backend_args: dict | None = None) -> str:
    return get_file_backend(filepath, backend_args=backend_args).join_path(filepath, *filepaths)


@contextmanager
def get_local_path(filepath: str | Path, backend_args: dict | None = None) -> Iterator[str]:
    """A local path for ``filepath`` (the path itself for local files)."""
    with get_file_backend(filepath, backend_args=backend_args).get_local_path(filepath) as path:
        yield path


def copyfile(src: str | Path, dst: str | Path, backend_args: dict | None = None) -> str:
    return get_file_backend(src, backend_args=backend_args).copyfile(src, dst)


def copytree(src: str | Path, dst: str | Path, backend_args: dict | None = None) -> str:
    return get_file_backend(src, backend_args=backend_args).copytree(src, dst)


def remove(filepath: str | Path, backend_args: dict | None = None) -> None:
    get_file_backend(filepath, backend_args=backend_args).remove(filepath)


def rmtree(dir_path: str | Path, backend_args: dict | None = None) -> None:
    get_file_backend(dir_path, backend_args=backend_args).rmtree(dir_path)


def list_dir_or_file(dir_path: str | Path, list_dir: bool = True, list_file: bool = True,
                     suffix: str | tuple[str, ...] | None = None, recursive: bool = False,
                     backend_args: dict | None = None) -> Iterator[str]:
    return get_file_backend(dir_path, backend_args=backend_args).list_dir_or_file(
        dir_path, list_dir, list_file, suffix, recursive)
