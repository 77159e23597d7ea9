"""``DictAction``: argparse action turning ``--cfg-options k=v ...`` into a dict of typed values.

Values are parsed by a small recursive-descent parser (never ``eval``):

- ``1`` -> 1, ``1e-3`` -> 0.001, ``true``/``False`` -> bool, ``None`` -> None, else a string;
- ``[a,b]`` -> list, ``(a,b)`` -> tuple, nested freely: ``[(train,1),(val,1)]``;
- ``a,b`` (top-level commas) -> ``['a', 'b']``;
- ``'x'`` / ``"x"`` -> the string x (quotes keep ``'1'`` a string and protect commas);
  a whole value in quotes that holds brackets, ``"(a,b)"``, is unwrapped and parsed,
  as MMEngine does when the shell leaves the quotes on;
- a bare word keeps inner spaces and brackets that do not open it: ``runs/exp(1)``.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from .errors import ConfigError

__all__ = ['DictAction', 'parse_option_value']

_OPEN = {'[': ']', '(': ')'}
_CLOSE = {']', ')'}
_QUOTES = {'"', "'"}
_MAX_DEPTH = 100


def _scalar(word: str) -> Any:
    """int, float, bool or None when ``word`` spells one, else the word itself."""
    try:
        return int(word)
    except ValueError:
        pass
    try:
        return float(word)
    except ValueError:
        pass
    if word.lower() in ('true', 'false'):
        return word.lower() == 'true'
    if word == 'None':
        return None
    return word


class _Parser:
    """One pass over one option value; ``pos`` is the read position."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, problem: str) -> ConfigError:
        shown = self.text if len(self.text) <= 120 else self.text[:117] + '...'
        return ConfigError(f'{problem} at position {self.pos} of {shown!r}')

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ''

    def parse_top(self) -> Any:
        self.skip_space()
        if not self.peek():
            return ''
        items = [self.parse_value(0)]
        self.skip_space()
        if not self.peek():
            return items[0]
        while self.peek() == ',':
            self.pos += 1
            self.skip_space()
            if not self.peek():
                break  # a trailing comma: 'a,' is ['a']
            items.append(self.parse_value(0))
            self.skip_space()
        if self.peek():
            raise self.error(f'unexpected {self.peek()!r}')
        return items

    def parse_value(self, depth: int) -> Any:
        char = self.peek()
        if char in _OPEN:
            return self.parse_container(depth + 1)
        if char in _QUOTES:
            return self.parse_quoted()
        if char in _CLOSE:
            raise self.error(f'unmatched {char!r}')
        if char == ',' or not char:
            raise self.error('missing value')
        return self.parse_bare()

    def parse_container(self, depth: int) -> list | tuple:
        if depth > _MAX_DEPTH:
            raise self.error(f'brackets nested deeper than {_MAX_DEPTH} levels')
        start, opener = self.pos, self.peek()
        closer = _OPEN[opener]
        self.pos += 1
        items: list[Any] = []
        self.skip_space()
        while self.peek() != closer:
            if not self.peek():
                self.pos = start
                raise self.error(f'{opener!r} is never closed (expected {closer!r})')
            items.append(self.parse_value(depth))
            self.skip_space()
            if self.peek() == ',':
                self.pos += 1
                self.skip_space()
            elif self.peek() not in (closer, ''):
                raise self.error(f'expected "," or {closer!r}, found {self.peek()!r}')
        self.pos += 1
        return tuple(items) if opener == '(' else items

    def parse_quoted(self) -> str:
        quote, start = self.peek(), self.pos
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == '\\' and self.pos + 1 < len(self.text) and self.text[self.pos + 1] in (quote, '\\'):
                chars.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            self.pos += 1
            if char == quote:
                return ''.join(chars)
            chars.append(char)
        self.pos = start
        raise self.error(f'the quote {quote} is never closed')

    def parse_bare(self) -> Any:
        """A word up to a top-level ',' or a closing bracket it did not open."""
        start, depth = self.pos, 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in _OPEN:
                depth += 1
            elif char in _CLOSE:
                if depth == 0:
                    break
                depth -= 1
            elif char == ',' and depth == 0:
                break
            self.pos += 1
        return _scalar(self.text[start:self.pos].strip())


def parse_option_value(text: str) -> Any:
    """Parse one ``--cfg-options`` value (the part after ``=``); see the module docstring."""
    if not isinstance(text, str):
        raise ConfigError(f'an option value must be a string, got {type(text).__name__}')
    stripped = text.strip()
    if (len(stripped) >= 2 and stripped[0] in _QUOTES and stripped[-1] == stripped[0]
            and stripped[1:].lstrip()[:1] in _OPEN):
        inner = _Parser(stripped)
        unwrapped = inner.parse_quoted()
        if inner.pos == len(stripped):  # one quoted token, not e.g. "[a]"+"[b]"
            return _Parser(unwrapped).parse_top()
    return _Parser(text).parse_top()


class DictAction(argparse.Action):
    """``parser.add_argument('--cfg-options', nargs='+', action=DictAction)``.

    Each ``KEY=VALUE`` becomes ``{KEY: parsed VALUE}``; repeated uses of the option
    accumulate. Malformed input raises :class:`ConfigError` naming the option.
    """

    @staticmethod
    def _parse_int_float_bool(val: str) -> Any:
        """MMEngine's name for the scalar conversion."""
        return _scalar(val)

    @staticmethod
    def _parse_iterable(val: str) -> Any:
        """MMEngine's name for parsing one value."""
        return parse_option_value(val)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        options = dict(getattr(namespace, self.dest, None) or {})
        option = option_string or self.dest
        if isinstance(values, str):
            values = [values]
        for item in values or []:
            key, sep, raw = str(item).partition('=')
            if not sep or not key.strip():
                raise ConfigError(f'{option}: expected KEY=VALUE (e.g. model.depth=50), got {item!r}')
            try:
                options[key.strip()] = parse_option_value(raw)
            except ConfigError as exc:
                raise ConfigError(f'{option} {item!r}: {exc}') from None
        setattr(namespace, self.dest, options)
