"""Read simple line-oriented text files: one item per line, or ``key value...`` per line."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .io import get_text

__all__ = ['list_from_file', 'dict_from_file']


def list_from_file(filename: str | Path, prefix: str = '', offset: int = 0, max_num: int = 0,
                   encoding: str = 'utf-8', file_client_args: dict | None = None,
                   backend_args: dict | None = None) -> list[str]:
    """The lines of a text file, without line endings, each prefixed by ``prefix``.

    ``offset`` skips that many lines first; ``max_num`` > 0 caps how many are returned.
    """
    lines = get_text(filename, encoding, backend_args=backend_args or file_client_args).splitlines()
    lines = lines[offset:]
    if max_num > 0:
        lines = lines[:max_num]
    return [prefix + line for line in lines]


def dict_from_file(filename: str | Path, key_type: Callable[[str], Any] = str,
                   encoding: str = 'utf-8', file_client_args: dict | None = None,
                   backend_args: dict | None = None) -> dict:
    """A dict from lines of whitespace-separated words: the first word is the key.

    A line with one value maps to that string; a line with more maps to the list of them.
    Blank lines are skipped; a line with a key and no value is an error naming the line.
    """
    mapping: dict = {}
    text = get_text(filename, encoding, backend_args=backend_args or file_client_args)
    for lineno, line in enumerate(text.splitlines(), start=1):
        items = line.split()
        if not items:
            continue
        if len(items) < 2:
            raise ValueError(f'{filename}, line {lineno}: expected "key value [value ...]", got {line!r}')
        mapping[key_type(items[0])] = items[1:] if len(items) > 2 else items[1]
    return mapping
