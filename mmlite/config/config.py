"""``Config``: a config file's dict, with the file name and source text it came from."""
from __future__ import annotations

import copy
import difflib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .config_dict import ConfigDict
from .errors import ConfigError, ConfigImportError, ConfigKeyError, ConfigTypeError
from .loader import load_config_file, load_config_text
from .merge import merge_a_into_b, options_to_tree
from .pretty import format_config

RESERVED_KEYS = ('filename', 'text', 'pretty_text', 'env_variables')

__all__ = ['Config', 'RESERVED_KEYS']


class Config:
    """A config: attribute and item access to its dict, plus where it came from.

    ``Config.fromfile('configs/x.py')`` reads a .py/.json/.yaml file and its ``_base_``
    files; ``cfg.model.type``, ``cfg['model']``, ``cfg.get(...)``, ``'model' in cfg`` and
    iteration act on the dict; ``cfg.dump('out.py')`` writes it back.

    Args:
        cfg_dict: the values; nested dicts become :class:`ConfigDict`.
        cfg_text: the source text; read from ``filename`` when omitted.
        filename: the file the values came from.
        env_variables: environment variables substituted while reading the file.
        format_python_code: format ``pretty_text`` with yapf.
    """

    def __init__(self, cfg_dict: dict | None = None, cfg_text: str | None = None,
                 filename: str | Path | None = None, env_variables: dict | None = None,
                 format_python_code: bool = True) -> None:
        filename = str(filename) if isinstance(filename, Path) else filename
        if cfg_dict is None:
            cfg_dict = {}
        elif not isinstance(cfg_dict, dict):
            raise ConfigTypeError(f'cfg_dict must be a dict, got {type(cfg_dict).__name__}')
        for key in cfg_dict:
            if key in RESERVED_KEYS:
                where = f' (in {filename})' if filename else ''
                raise ConfigKeyError(f'{key!r} is a reserved name (a Config property){where}; rename '
                                     f'the key. Reserved: {", ".join(RESERVED_KEYS)}')
        if not isinstance(cfg_dict, ConfigDict):
            cfg_dict = ConfigDict(cfg_dict)
        if cfg_text is None:
            cfg_text = ''
            if filename is not None and os.path.isfile(filename):
                with open(filename, encoding='utf-8') as file:
                    cfg_text = file.read()
        object.__setattr__(self, '_cfg_dict', cfg_dict)
        object.__setattr__(self, '_filename', filename)
        object.__setattr__(self, '_text', cfg_text)
        object.__setattr__(self, '_env_variables', dict(env_variables or {}))
        object.__setattr__(self, '_format_python_code', format_python_code)

    # ------------------------------------------------------------ building
    @staticmethod
    def fromfile(filename: str | Path, use_predefined_variables: bool = True,
                 import_custom_modules: bool = True, use_environment_variables: bool = True,
                 lazy_import: bool | None = None, format_python_code: bool = True) -> Config:
        """Read a .py, .json or .yaml/.yml config and its ``_base_`` files.

        ``custom_imports=dict(imports=[...], allow_failed_imports=False)`` in the result
        imports those modules (so their classes register) unless ``import_custom_modules``
        is False.
        """
        if lazy_import:
            raise ConfigError('lazy_import=True (the `with read_base():` config style) is not '
                              'supported by mmlite yet; use _base_ = [...] configs')
        filename = os.fspath(filename)
        cfg_dict, text, env = load_config_file(filename, use_predefined_variables,
                                               use_environment_variables)
        if import_custom_modules and cfg_dict.get('custom_imports'):
            _import_custom_modules(cfg_dict['custom_imports'], filename)
        return Config(cfg_dict, cfg_text=text, filename=filename, env_variables=env,
                      format_python_code=format_python_code)

    @staticmethod
    def fromstring(cfg_str: str, file_format: str) -> Config:
        """Read config source from a string; ``file_format`` is ``.py``, ``.json``, ``.yaml`` or ``.yml``."""
        if not isinstance(cfg_str, str):
            raise ConfigTypeError(f'cfg_str must be a str, got {type(cfg_str).__name__}')
        cfg_dict, _, env = load_config_text(cfg_str, file_format)
        if cfg_dict.get('custom_imports'):
            _import_custom_modules(cfg_dict['custom_imports'], '<config string>')
        return Config(cfg_dict, cfg_text=cfg_str, env_variables=env)

    @staticmethod
    def _merge_a_into_b(a: dict, b: dict, allow_list_keys: bool = False) -> ConfigDict:
        """MMEngine's name for :func:`mmlite.config.merge.merge_a_into_b`."""
        return merge_a_into_b(a, b, allow_list_keys)

    def merge_from_dict(self, options: dict, allow_list_keys: bool = True) -> None:
        """Override values by dotted keys, as ``--cfg-options`` does.

        ``{'model.backbone.depth': 50, 'pipeline.0.type': 'Load'}``; dict values merge
        into existing dicts, other values replace; a digit key indexes a list.
        """
        tree = options_to_tree(options, self._cfg_dict, allow_list_keys)
        merged = merge_a_into_b(tree, self._cfg_dict, allow_list_keys)
        object.__setattr__(self, '_cfg_dict', merged)

    @staticmethod
    def diff(cfg1: Config | str, cfg2: Config | str) -> str:
        """A unified diff of two configs' ``pretty_text`` (configs or file paths)."""
        text1 = (cfg1 if isinstance(cfg1, Config) else Config.fromfile(cfg1)).pretty_text
        text2 = (cfg2 if isinstance(cfg2, Config) else Config.fromfile(cfg2)).pretty_text
        return ''.join(difflib.unified_diff(text1.splitlines(True), text2.splitlines(True),
                                            'cfg1', 'cfg2'))

    # ---------------------------------------------------------- properties
    @property
    def filename(self) -> str | None:
        return self._filename

    @property
    def text(self) -> str:
        """The source text: every file read (bases first), or what was passed in."""
        return self._text

    @property
    def env_variables(self) -> dict:
        """Environment variables substituted while reading (``{{$NAME:default}}``)."""
        return self._env_variables

    @property
    def pretty_text(self) -> str:
        """The config as formatted Python source, for reading and logs.

        It reads back to the same dict unless a value is a live object with no source
        form; such values show as strings here, and make :meth:`dump` raise instead.
        """
        return format_config(self._cfg_dict.to_dict(), use_yapf=self._format_python_code, strict=False)

    def to_dict(self, keep_imported: bool = False) -> dict:
        """A plain-dict copy of the values."""
        return self._cfg_dict.to_dict()

    def dump(self, file: str | Path | None = None) -> str | None:
        """Write the config to ``file`` (.py, .json, .yaml/.yml, .pkl by extension).

        Without ``file``, return the text: Python source, or JSON/YAML when the config
        was read from such a file.
        """
        from mmlite.fileio import atomic_write, dump
        file = os.fspath(file) if file is not None else None
        if file is None:
            if self._filename is None or self._filename.endswith('.py'):
                return self._source()
            return dump(self.to_dict(), file_format=self._filename.rsplit('.', 1)[-1])
        if file.endswith('.py'):
            text = self._source()
            atomic_write(file, lambda f: f.write(text), binary=False)
            return None
        return dump(self.to_dict(), file)

    def _source(self) -> str:
        """Python source that reads back to exactly this dict, or a ConfigError saying why not."""
        return format_config(self._cfg_dict.to_dict(), use_yapf=self._format_python_code, strict=True)

    # ------------------------------------------------------- dict behaviour
    def __getattr__(self, name: str) -> Any:
        try:
            cfg_dict = object.__getattribute__(self, '_cfg_dict')
        except AttributeError:  # during unpickling, before __init__ ran
            raise AttributeError(name) from None
        return getattr(cfg_dict, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in RESERVED_KEYS:
            raise ConfigKeyError(f'{name!r} is a read-only Config property; store the value under '
                                 'another key')
        setattr(self._cfg_dict, name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._cfg_dict, name)

    def __getitem__(self, name: Any) -> Any:
        return self._cfg_dict[name]

    def __setitem__(self, name: Any, value: Any) -> None:
        if name in RESERVED_KEYS:
            raise ConfigKeyError(f'{name!r} is a read-only Config property; store the value under '
                                 'another key')
        self._cfg_dict[name] = value

    def __delitem__(self, name: Any) -> None:
        del self._cfg_dict[name]

    def __contains__(self, name: Any) -> bool:
        return name in self._cfg_dict

    def __len__(self) -> int:
        return len(self._cfg_dict)

    def __iter__(self) -> Iterator:
        return iter(self._cfg_dict)

    def __repr__(self) -> str:
        return f'Config (path: {self._filename}): {self._cfg_dict!r}'

    # --------------------------------------------------------------- copies
    def __reduce__(self) -> tuple:
        return (Config, (self._cfg_dict, self._text, self._filename, self._env_variables,
                         self._format_python_code))

    def __copy__(self) -> Config:
        return Config(self._cfg_dict.copy(), self._text, self._filename, self._env_variables,
                      self._format_python_code)

    def __deepcopy__(self, memo: dict) -> Config:
        return Config(copy.deepcopy(self._cfg_dict, memo), self._text, self._filename,
                      copy.deepcopy(self._env_variables, memo), self._format_python_code)

    def copy(self) -> Config:
        """A copy whose top-level keys can change without touching this config."""
        return self.__copy__()


def _import_custom_modules(custom_imports: Any, filename: str) -> None:
    """Import ``custom_imports['imports']``; a failure names the module and the config file."""
    from mmlite.utils.misc import import_modules_from_strings
    if not isinstance(custom_imports, dict) or 'imports' not in custom_imports:
        raise ConfigError(f'{filename}: custom_imports must be dict(imports=[...], '
                          f'allow_failed_imports=False), got {custom_imports!r}')
    unknown = set(custom_imports) - {'imports', 'allow_failed_imports'}
    if unknown:
        raise ConfigError(f'{filename}: custom_imports has unknown keys {sorted(unknown)}; '
                          'it accepts imports and allow_failed_imports')
    try:
        import_modules_from_strings(**custom_imports)
    except ImportError as exc:
        module = exc.name or custom_imports['imports']
        raise ConfigImportError(
            f'{filename}: custom_imports could not import {module!r} ({exc}). Make sure the module '
            f'is importable: its directory must be on sys.path (set PYTHONPATH); sys.path is '
            f'{sys.path}') from exc
