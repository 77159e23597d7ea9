"""Local path helpers (MMEngine keeps these in ``mmengine.utils.path``)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ['is_filepath', 'fopen', 'check_file_exist', 'mkdir_or_exist', 'symlink', 'scandir']


def is_filepath(x: Any) -> bool:
    """Whether ``x`` is a str or a :class:`pathlib.Path`."""
    return isinstance(x, (str, Path))


def fopen(filepath: str | Path, *args: Any, **kwargs: Any) -> IO:
    """``open`` that also accepts a :class:`pathlib.Path`."""
    if not is_filepath(filepath):
        raise TypeError(f'filepath must be a str or a Path, got {type(filepath).__name__}')
    return open(filepath, *args, **kwargs)


def check_file_exist(filename: str | Path, msg_tmpl: str = 'file "{}" does not exist') -> None:
    """Raise FileNotFoundError (with ``msg_tmpl`` filled in) when ``filename`` is not a file."""
    if not os.path.isfile(filename):
        raise FileNotFoundError(msg_tmpl.format(filename))


def mkdir_or_exist(dir_name: str | Path, mode: int = 0o777) -> None:
    """Create ``dir_name`` and its parents unless it exists; ``''`` is a no-op (the cwd)."""
    if dir_name == '':
        return
    os.makedirs(os.path.expanduser(dir_name), mode=mode, exist_ok=True)


def symlink(src: str | Path, dst: str | Path, overwrite: bool = True, **kwargs: Any) -> None:
    """Make ``dst`` a symlink to ``src``, replacing an existing ``dst`` when ``overwrite``."""
    if os.path.lexists(dst) and overwrite:
        os.remove(dst)
    os.symlink(src, dst, **kwargs)


def scandir(dir_path: str | Path, suffix: str | tuple[str, ...] | None = None,
            recursive: bool = False, case_sensitive: bool = True) -> Iterator[str]:
    """Yield the paths (relative to ``dir_path``) of the non-hidden files in it.

    ``suffix`` keeps only names ending with it (a string or a tuple of strings);
    ``recursive`` descends into subdirectories.
    """
    if not isinstance(dir_path, (str, Path)):
        raise TypeError(f'"dir_path" must be a str or a Path, got {type(dir_path).__name__}')
    if suffix is not None and not (isinstance(suffix, str) or
                                   (isinstance(suffix, tuple) and all(isinstance(s, str) for s in suffix))):
        raise TypeError(f'"suffix" must be a string or a tuple of strings, got {suffix!r}')
    if suffix is not None and not case_sensitive:
        suffix = suffix.lower() if isinstance(suffix, str) else tuple(s.lower() for s in suffix)
    root = os.fspath(dir_path)

    def walk(path: str) -> Iterator[str]:
        with os.scandir(path) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_file() and not entry.name.startswith('.'):
                    rel_path = os.path.relpath(entry.path, root)
                    name = rel_path if case_sensitive else rel_path.lower()
                    if suffix is None or name.endswith(suffix):
                        yield rel_path
                elif recursive and entry.is_dir():
                    yield from walk(entry.path)

    return walk(root)
