"""The local-disk storage backend and atomic writes.

MMEngine routes file access through pluggable backends (disk, HTTP, Petrel, ...).
mmlite keeps the same calls but only the local disk; a URI such as ``s3://`` is refused
with a clear error instead of being silently treated as a relative path.
"""
from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = ['LocalBackend', 'atomic_write', 'get_file_backend', 'write_bytes_atomic']

PathLike = str | Path


def _local_path(filepath: PathLike) -> str:
    path = os.fspath(filepath)
    if '://' in path:
        raise ValueError(f'{path!r} is a URI; mmlite.fileio reads and writes local files only. '
                         'Copy the file to a local path first.')
    return path


_NEW_FILE_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_CLOEXEC', 0)
                   | getattr(os, 'O_BINARY', 0))  # O_BINARY: Windows only
_temporary_names = itertools.count()


def _open_temporary(path: str) -> tuple[int, str]:
    """A new file next to ``path`` (its folder must exist) to be renamed onto it: (fd, name).

    Bare ``os`` calls (see :func:`write_bytes_atomic`). The mode is what ``open()`` gives
    (0o666 less the umask), so the renamed file has the permissions a plain
    ``torch.save(path)`` would give it, not mkstemp's 0600.
    """
    folder, name = os.path.split(path)
    while True:
        temporary = os.path.join(folder, f'.{name}.{os.getpid()}-{next(_temporary_names)}.tmp')
        try:
            return os.open(temporary, _NEW_FILE_FLAGS, 0o666), temporary
        except FileExistsError:  # left by a crashed run with the same pid: take the next name
            continue


def atomic_write(filepath: PathLike, write: Callable[[IO], None], binary: bool, fsync: bool = True) -> None:
    """Call ``write(file)`` on a temporary file next to ``filepath``, then rename it into place.

    A crash mid-write leaves the old file (or none), never a truncated one. ``fsync=False``
    leaves making the data durable to the caller (a background fsync before it is relied on).
    """
    path = os.path.abspath(_local_path(filepath))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp_path = _open_temporary(path)
    try:
        with os.fdopen(fd, 'wb' if binary else 'w', **({} if binary else {'encoding': 'utf-8'})) as file:
            write(file)
            if fsync:
                file.flush()
                os.fsync(file.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def write_bytes_atomic(filename: str, data: bytes | memoryview, fsync: bool = True) -> None:
    """``atomic_write`` for bytes already in memory, in bare ``os`` calls.

    mmlite's background checkpoint writer runs this: each blocking call is a point where that
    thread takes the GIL back from the training loop, which then waits for the thread's
    Python work, so there is as little as possible around them (no ``os.makedirs``: the
    folder must exist; no file objects). ``data`` goes out in 1 MB writes: one write() of
    10 MB took 2-3x as long to become durable on the test machine.
    """
    fd, temporary = _open_temporary(filename)
    try:
        view = memoryview(data).cast('B')
        while view:
            view = view[os.write(fd, view[:2**20]):]  # os.write may take less than offered
        if fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.remove(temporary)
        raise
    os.close(fd)
    os.replace(temporary, filename)


class LocalBackend:
    """File operations on the local disk, with MMEngine's ``LocalBackend`` method names."""

    name = 'local'

    def get(self, filepath: PathLike) -> bytes:
        with open(_local_path(filepath), 'rb') as file:
            return file.read()

    def get_text(self, filepath: PathLike, encoding: str = 'utf-8') -> str:
        with open(_local_path(filepath), encoding=encoding) as file:
            return file.read()

    def put(self, obj: bytes, filepath: PathLike) -> None:
        """Write bytes atomically, creating parent directories."""
        atomic_write(filepath, lambda file: file.write(obj), binary=True)

    def put_text(self, obj: str, filepath: PathLike, encoding: str = 'utf-8') -> None:
        """Write text atomically, creating parent directories."""
        atomic_write(filepath, lambda file: file.write(obj.encode(encoding)), binary=True)

    def exists(self, filepath: PathLike) -> bool:
        return os.path.exists(_local_path(filepath))

    def isdir(self, filepath: PathLike) -> bool:
        return os.path.isdir(_local_path(filepath))

    def isfile(self, filepath: PathLike) -> bool:
        return os.path.isfile(_local_path(filepath))

    def join_path(self, filepath: PathLike, *filepaths: PathLike) -> str:
        return os.path.join(_local_path(filepath), *map(os.fspath, filepaths))

    @contextmanager
    def get_local_path(self, filepath: PathLike) -> Iterator[str]:
        """The path itself: local files need no temporary copy."""
        yield _local_path(filepath)

    def copyfile(self, src: PathLike, dst: PathLike) -> str:
        """Copy a file; ``dst`` may be a directory. Returns the written path."""
        return shutil.copy(_local_path(src), _local_path(dst))

    def copytree(self, src: PathLike, dst: PathLike) -> str:
        return shutil.copytree(_local_path(src), _local_path(dst))

    def remove(self, filepath: PathLike) -> None:
        path = _local_path(filepath)
        if os.path.isdir(path):
            raise IsADirectoryError(f'{path} is a directory; use rmtree to remove directories')
        os.remove(path)

    def rmtree(self, dir_path: PathLike) -> None:
        shutil.rmtree(_local_path(dir_path))

    def copy_if_symlink_fails(self, src: PathLike, dst: PathLike) -> bool:
        """Symlink ``dst`` to ``src``; copy instead where symlinks are not allowed.

        Returns True when a symlink was made.
        """
        try:
            os.symlink(_local_path(src), _local_path(dst))
            return True
        except OSError:  # e.g. Windows without the symlink privilege: fall back to a copy
            if self.isfile(src):
                self.copyfile(src, dst)
            else:
                self.copytree(src, dst)
            return False

    def list_dir_or_file(self, dir_path: PathLike, list_dir: bool = True, list_file: bool = True,
                         suffix: str | tuple[str, ...] | None = None,
                         recursive: bool = False) -> Iterator[str]:
        """Yield directory and/or file paths relative to ``dir_path`` (``suffix`` filters files)."""
        if list_dir and suffix is not None:
            raise TypeError('`suffix` filters files only; pass list_dir=False with it')
        if suffix is not None and not isinstance(suffix, (str, tuple)):
            raise TypeError(f'`suffix` must be a string or a tuple of strings, got {suffix!r}')
        root = _local_path(dir_path)

        def walk(path: str) -> Iterator[str]:
            with os.scandir(path) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    rel_path = os.path.relpath(entry.path, root)
                    if entry.is_dir():
                        if list_dir:
                            yield rel_path
                        if recursive:
                            yield from walk(entry.path)
                    elif list_file and (suffix is None or rel_path.endswith(suffix)):
                        yield rel_path

        return walk(root)


_LOCAL = LocalBackend()


def get_file_backend(uri: PathLike | None = None, *, backend_args: dict | None = None,
                     enable_singleton: bool = False) -> LocalBackend:
    """The backend for ``uri``: always the local disk in mmlite.

    A URI with a scheme (``s3://``, ``http://``) or ``backend_args`` naming a remote
    backend raises ValueError.
    """
    if uri is not None:
        _local_path(uri)
    backend = (backend_args or {}).get('backend', 'local')
    if backend not in ('local', 'disk'):
        raise ValueError(f'backend_args asks for the {backend!r} backend; mmlite supports only '
                         "'local' (drop backend_args or set backend='local')")
    return _LOCAL
