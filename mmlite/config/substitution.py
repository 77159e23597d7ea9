"""Text substitutions applied to a config file before it is parsed.

``{{ fileDirname }}`` and friends, ``{{$ENV_NAME:default}}`` and ``{{_base_.x.y}}``.
The first two become plain text. A base reference becomes a placeholder token (a
Python identifier that evaluates to itself); after the file is read, a string equal to
a token is replaced by the referenced base value (keeping its type), and a token inside
a longer string is replaced by the value's text.
"""
from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from typing import Any

from .errors import ConfigKeyError, ConfigTypeError

__all__ = ['substitute_predefined_vars', 'substitute_env_vars', 'substitute_base_refs',
           'resolve_base_refs', 'PREDEFINED_PATTERN', 'lookup_path']

PREDEFINED_PATTERN = re.compile(
    r'\{\{\s*(fileDirname|fileBasename|fileBasenameNoExtension|fileExtname)\s*\}\}')
# {{$NAME}}, {{ $NAME:default }}, {{'$NAME:default'}} (quotes keep the file valid Python).
_ENV_PATTERN = re.compile(r'\{\{\s*[\'"]?\s*\$(\w+)\s*(?::\s*(\S*?))?\s*[\'"]?\s*\}\}')
_BASE_REF_PATTERN = re.compile(r'\{\{\s*_base_\.([^\s{}]*)\s*\}\}')
_VALID_REF_PATH = re.compile(r'^\w+(\.\w+)*$')
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
TOKEN_PREFIX = '__mmlite_base_ref_'


def substitute_predefined_vars(text: str, filename: str) -> str:
    """Fill ``{{ fileDirname }}``, ``{{ fileBasename }}``, ``{{ fileBasenameNoExtension }}``
    and ``{{ fileExtname }}`` with the parts of ``filename`` (the file being read)."""
    dirname, basename = os.path.split(os.path.abspath(filename))
    values = {
        'fileDirname': dirname.replace('\\', '/'),
        'fileBasename': basename,
        'fileBasenameNoExtension': os.path.splitext(basename)[0],
        'fileExtname': os.path.splitext(basename)[1],
    }
    return PREDEFINED_PATTERN.sub(lambda m: values[m.group(1)], text)


def substitute_env_vars(text: str, filename: str) -> tuple[str, dict[str, str]]:
    """Fill ``{{$NAME:default}}`` from the environment; return the text and the values used."""
    used: dict[str, str] = {}

    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            value = os.environ[name]
        elif default:
            value = default
        else:
            raise ConfigKeyError(
                f'{filename}: environment variable {name!r} is not set and {match.group(0)} gives no '
                f'default; set it (export {name}=...) or write {{{{${name}:default}}}}')
        used[name] = value
        return value

    return _ENV_PATTERN.sub(replace, text), used


def substitute_base_refs(text: str, file_format: str, filename: str) -> tuple[str, dict[str, str]]:
    """Replace each ``{{_base_.a.b}}`` with a token; return the text and ``{token: 'a.b'}``."""
    tokens: dict[str, str] = {}
    by_path: dict[str, str] = {}
    json_strings = ([m.span() for m in _JSON_STRING.finditer(text)] if file_format == 'json' else [])

    def replace(match: re.Match) -> str:
        path = match.group(1)
        if not _VALID_REF_PATH.match(path):
            raise ConfigKeyError(f'{filename}: {match.group(0)} is not a valid base reference; write '
                                 '{{_base_.name}} or {{_base_.name.sub_key}}')
        token = by_path.get(path)
        if token is None:
            token = by_path[path] = f'{TOKEN_PREFIX}{len(by_path)}__'
            tokens[token] = path
        start = match.start()
        if json_strings and not any(lo < start < hi for lo, hi in json_strings):
            return f'"{token}"'  # a bare JSON value must be quoted to parse
        return token

    return _BASE_REF_PATTERN.sub(replace, text), tokens


def lookup_path(root: Any, path: str) -> Any:
    """The value at dotted ``path`` in nested dicts/lists; KeyError names the part that is missing."""
    node = root
    walked: list[str] = []
    for part in path.split('.'):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            where = '.'.join(walked) or 'the top level'
            keys = (f'its keys are {", ".join(map(str, node))}' if isinstance(node, Mapping)
                    else f'it is a {type(node).__name__}')
            raise KeyError(f'{part!r} is not in {where} ({keys})')
        walked.append(part)
    return node


def resolve_base_refs(value: Any, tokens: dict[str, str], base_cfg: Mapping, filename: str) -> Any:
    """Return ``value`` with every base-reference token replaced by the base value it names."""
    if not tokens:
        return value

    def fetch(token: str) -> Any:
        try:
            return lookup_path(base_cfg, tokens[token])
        except KeyError as exc:
            raise ConfigKeyError(
                f'{filename}: {{{{_base_.{tokens[token]}}}}} refers to a variable the base configs do '
                f'not define: {exc.args[0]}') from None

    def embed(match: re.Match) -> str:
        found = fetch(match.group(0))
        if found is not None and not isinstance(found, (str, int, float, bool)):
            raise ConfigTypeError(
                f'{filename}: {{{{_base_.{tokens[match.group(0)]}}}}} is a {type(found).__name__} and '
                'cannot be embedded inside a longer string; use it as a whole value')
        return str(found)

    token_in_text = re.compile(re.escape(TOKEN_PREFIX) + r'\d+__')

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            if node in tokens:
                return copy.deepcopy(fetch(node))
            return token_in_text.sub(embed, node) if TOKEN_PREFIX in node else node
        if isinstance(node, Mapping):
            for key in list(node):
                node[key] = walk(node[key])
            return node
        if isinstance(node, list):
            node[:] = [walk(item) for item in node]
            return node
        if isinstance(node, tuple):
            items = [walk(item) for item in node]
            return type(node)(*items) if hasattr(node, '_fields') else type(node)(items)
        return node

    return walk(value)
