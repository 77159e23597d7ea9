"""Read a config file (.py, .json, .yaml/.yml) and its ``_base_`` files into one dict.

Per file: substitute the ``{{ ... }}`` variables, read the ``_base_`` list, load and
merge the bases (a key defined by two bases is an error), evaluate the file (Python
files see the merged bases as ``_base_``), resolve ``{{_base_.x}}`` references, then
merge the file onto its bases.
"""
from __future__ import annotations

import ast
import copy
import io
import json
import os
import types
import warnings
from collections.abc import Mapping
from typing import Any

import yaml

from .config_dict import ConfigDict
from .errors import ConfigError, ConfigFileNotFoundError, ConfigKeyError, ConfigSyntaxError
from .merge import merge_a_into_b
from .substitution import (PREDEFINED_PATTERN, resolve_base_refs, substitute_base_refs,
                           substitute_env_vars, substitute_predefined_vars)

BASE_KEY = '_base_'
DEPRECATION_KEY = '_deprecation_'
SUPPORTED_FORMATS = {'.py': 'py', '.json': 'json', '.yaml': 'yaml', '.yml': 'yaml'}
STRING_SOURCE = '<config string>'

__all__ = ['BASE_KEY', 'DEPRECATION_KEY', 'SUPPORTED_FORMATS', 'load_config_file', 'load_config_text']


class _BaseNamespace(ConfigDict):
    """What ``_base_`` is inside a Python config: the merged bases, with errors that say so."""

    _hook = classmethod(lambda cls, item: ConfigDict._hook(item))  # children stay ConfigDicts

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            defined = ', '.join(map(str, self)) or 'nothing'
            where = self.__dict__.get('config_file', 'this config')
            raise AttributeError(f'{where}: _base_.{name} is not defined by the base configs '
                                 f'(they define: {defined})') from None


def file_format_of(filename: str) -> str:
    """``'py'``, ``'json'`` or ``'yaml'`` from the extension; anything else is an error."""
    ext = os.path.splitext(filename)[1].lower()
    if ext not in SUPPORTED_FORMATS:
        raise ConfigError(f'{filename}: config files must end in .py, .json, .yaml or .yml')
    return SUPPORTED_FORMATS[ext]


def load_config_file(filename: str, use_predefined_variables: bool = True,
                     use_environment_variables: bool = True) -> tuple[ConfigDict, str, dict]:
    """Read ``filename`` with its bases; return ``(cfg_dict, text, env_variables)``.

    ``text`` is every file read (bases first), each preceded by its path.
    """
    path = os.path.abspath(os.path.expanduser(filename))
    if not os.path.isfile(path):
        raise ConfigFileNotFoundError(f'config file {path} does not exist')
    fmt = file_format_of(path)
    with open(path, encoding='utf-8') as file:
        raw = file.read()
    options = (use_predefined_variables, use_environment_variables)
    cfg, text, env = _load(path, raw, fmt, options, ())
    return copy.deepcopy(cfg), text, env  # no aliasing between keys that referenced one base value


def load_config_text(text: str, file_format: str, use_environment_variables: bool = True
                     ) -> tuple[ConfigDict, str, dict]:
    """Read config source held in a string; relative ``_base_`` paths start at the cwd."""
    ext = '.' + str(file_format).lstrip('.').lower()
    if ext not in SUPPORTED_FORMATS:
        raise ConfigError(f'file_format {file_format!r} is not supported; use .py, .json, .yaml or .yml')
    fmt = SUPPORTED_FORMATS[ext]
    if PREDEFINED_PATTERN.search(text):
        raise ConfigError('{{ fileDirname }}-style variables describe a config file, and this config '
                          'came from a string; use Config.fromfile, or write the values out')
    cfg, full_text, env = _load(None, text, fmt, (False, use_environment_variables), ())
    return copy.deepcopy(cfg), full_text, env


def _load(path: str | None, raw: str, fmt: str, options: tuple[bool, bool],
          chain: tuple[str, ...]) -> tuple[ConfigDict, str, dict]:
    name = path or STRING_SOURCE
    if path is not None and path in chain:
        cycle = ' -> '.join(os.path.basename(p) for p in (*chain, path))
        raise ConfigError(f'circular _base_ inheritance: {cycle} ({path})')
    use_predefined, use_env = options
    source = substitute_predefined_vars(raw, path) if use_predefined and path else raw
    env: dict[str, str] = {}
    if use_env:
        source, env = substitute_env_vars(source, name)
    source, tokens = substitute_base_refs(source, fmt, name)

    if fmt == 'py':
        tree = _parse_python(source, raw, name)
        base_files = _python_base_list(tree, name)
        data = None
    else:
        data = _parse_data(source, raw, fmt, name)
        base_files = data.pop(BASE_KEY, [])
    base_files = _check_base_list(base_files, name)

    base_cfg, base_texts, base_env = _load_bases(path, base_files, options, (*chain, path or name))
    if fmt == 'py':
        namespace = _BaseNamespace()
        dict.update(namespace, base_cfg)
        object.__setattr__(namespace, 'config_file', name)
        own = _exec_python(tree, name, namespace, tokens)
        base_cfg = ConfigDict()
        dict.update(base_cfg, namespace)  # keep edits such as `_base_.model.depth = 101`
    else:
        own = ConfigDict(data)
    own = resolve_base_refs(own, tokens, base_cfg, name)
    own.pop(BASE_KEY, None)
    _warn_deprecation(own, name)
    try:
        merged = merge_a_into_b(own, base_cfg)
    except ConfigError as exc:
        raise type(exc)(f'{name}: {exc}') from exc
    text = '\n'.join([*base_texts, f'{name}\n{raw}'])
    return merged, text, {**base_env, **env}


def _load_bases(path: str | None, base_files: list[str], options: tuple[bool, bool],
                chain: tuple[str, ...]) -> tuple[ConfigDict, list[str], dict]:
    including = path or STRING_SOURCE
    directory = os.path.dirname(path) if path else os.getcwd()
    merged = ConfigDict()
    origin: dict[Any, str] = {}
    texts: list[str] = []
    env: dict[str, str] = {}
    for base in base_files:
        if '::' in base:
            raise ConfigError(f'{including}: _base_ {base!r} uses the "package::path" form, which '
                              'mmlite does not support yet; copy that config or use a file path')
        base_path = os.path.normpath(os.path.join(directory, os.path.expanduser(base)))
        if not os.path.isfile(base_path):
            raise ConfigFileNotFoundError(f'{including} lists _base_ {base!r}, but {base_path} '
                                          'does not exist')
        with open(base_path, encoding='utf-8') as file:
            raw = file.read()
        cfg, text, base_env = _load(base_path, raw, file_format_of(base_path), options, chain)
        for key in cfg:
            if key in origin:
                raise ConfigKeyError(
                    f'key {key!r} is defined in two bases of {including}: {origin[key]} and '
                    f'{base_path}. A key may come from one base only; remove it from one of them, '
                    'or set it in the including file instead.')
            origin[key] = base_path
        dict.update(merged, cfg)
        texts.append(text)
        env.update(base_env)
    return merged, texts, env


def _parse_python(source: str, raw: str, name: str) -> ast.Module:
    try:
        return ast.parse(source, filename=name)
    except SyntaxError as exc:
        lineno = exc.lineno or 0
        raw_lines = raw.splitlines()
        shown = raw_lines[lineno - 1] if 0 < lineno <= len(raw_lines) else (exc.text or '').rstrip('\n')
        caret = ''
        if exc.offset and exc.text is not None and exc.text.rstrip('\n') == shown:
            caret = '\n    ' + ' ' * (exc.offset - 1 - (len(shown) - len(shown.lstrip()))) + '^'
        raise ConfigSyntaxError(f'{name}, line {lineno}: {exc.msg}\n    {shown.strip()}{caret}') from None


def _parse_data(source: str, raw: str, fmt: str, name: str) -> dict:
    try:
        if fmt == 'json':
            data = json.loads(source)
        else:
            from mmlite.fileio import load
            data = load(io.StringIO(source), file_format='yaml')
    except json.JSONDecodeError as exc:
        raise ConfigSyntaxError(f'{name}, line {exc.lineno}: invalid JSON: {exc.msg}\n    '
                                f'{_line(raw, exc.lineno)}') from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        where = f', line {mark.line + 1}' if mark is not None else ''
        shown = f'\n    {_line(raw, mark.line + 1)}' if mark is not None else ''
        problem = getattr(exc, 'problem', None) or str(exc)
        raise ConfigSyntaxError(f'{name}{where}: invalid YAML: {problem}{shown}') from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f'{name}: the top level of a config must be a mapping of keys to values, '
                          f'got a {type(data).__name__}')
    return data


def _line(text: str, lineno: int) -> str:
    lines = text.splitlines()
    return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ''


def _is_base_assignment(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name) and node.targets[0].id == BASE_KEY)


def _python_base_list(tree: ast.Module, name: str) -> Any:
    assignments = [node for node in tree.body if _is_base_assignment(node)]
    for node in tree.body:
        if isinstance(node, ast.With) and any(
                isinstance(item.context_expr, ast.Call) and getattr(item.context_expr.func, 'id', None)
                == 'read_base' for item in node.items):
            raise ConfigError(f'{name}, line {node.lineno}: `with read_base():` is the lazy-import '
                              'config style, which mmlite does not support yet; use _base_ = [...]')
    if not assignments:
        return []
    if len(assignments) > 1:
        raise ConfigError(f'{name}: _base_ is assigned on lines '
                          f'{", ".join(str(n.lineno) for n in assignments)}; assign it once')
    node = assignments[0]
    try:
        return ast.literal_eval(node.value)
    except ValueError:
        raise ConfigError(f'{name}, line {node.lineno}: _base_ must be written as a literal string or '
                          'list of strings (paths relative to this file)') from None


def _check_base_list(base_files: Any, name: str) -> list[str]:
    if isinstance(base_files, str):
        return [base_files]
    if isinstance(base_files, (list, tuple)) and all(isinstance(b, str) for b in base_files):
        return list(base_files)
    raise ConfigError(f'{name}: _base_ must be a path string or a list of path strings, '
                      f'got {base_files!r}')


def _is_dropped(key: str, value: Any) -> bool:
    """Module-level names that are not config keys: dunders, modules, functions, classes."""
    return (key.startswith('__') or key == BASE_KEY
            or isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                                  type)))


def _exec_python(tree: ast.Module, name: str, base: _BaseNamespace, tokens: dict[str, str]) -> ConfigDict:
    """Run the config's code with ``_base_`` bound to the merged bases; return its variables."""
    tree.body = [node for node in tree.body if not _is_base_assignment(node)]
    code = compile(tree, name, 'exec')
    namespace: dict[str, Any] = {BASE_KEY: base, **{token: token for token in tokens}}
    exec(code, namespace)  # noqa: S102 - a config file is trusted code, as in MMEngine
    return ConfigDict({k: v for k, v in namespace.items() if not _is_dropped(k, v)})


def _warn_deprecation(cfg: ConfigDict, name: str) -> None:
    info = cfg.pop(DEPRECATION_KEY, None)
    if info is None:
        return
    message = f'The config file {name} will be deprecated in the future.'
    if isinstance(info, Mapping) and info.get('expected'):
        message += f' Please use {info["expected"]} instead.'
    if isinstance(info, Mapping) and info.get('reference'):
        message += f' More information can be found at {info["reference"]}'
    warnings.warn(message, DeprecationWarning, stacklevel=4)
