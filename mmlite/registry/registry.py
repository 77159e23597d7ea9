"""Scoped name -> class tables whose lookups walk up to a parent registry."""
from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import pydoc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .default_scope import DefaultScope


class RegistryError(KeyError):
    """A failed lookup; prints its sentence without the quotes KeyError adds."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


class Registry:
    """Map names to classes or functions, and build objects from config dicts.

    ``Registry('model', parent=MODELS, scope='mmdet')`` makes a child of mmlite's
    ``MODELS``: names missing here are looked up in the parent, and ``'mmdet.X'``
    names a module of a given scope from anywhere in the tree.

    Args:
        name: what the registry holds, shown in messages.
        build_func: how ``build`` turns a config into an object; inherited from the
            parent, else :func:`build_from_cfg`.
        parent: the registry lookups fall back to.
        scope: the package this registry belongs to; inferred from the caller.
        locations: modules imported on first lookup, so their classes register
            themselves only when someone needs them.
    """

    def __init__(self, name: str, build_func: Callable | None = None,
                 parent: Registry | None = None, scope: str | None = None,
                 locations: list[str] | tuple[str, ...] = ()) -> None:
        from .build_functions import build_from_cfg
        self._name = name
        self._module_dict: dict[str, type | Callable] = {}
        self._children: dict[str, Registry] = {}
        self._locations = list(locations)
        self._imported = False
        self._scope = scope if scope is not None else self.infer_scope()
        self.parent: Registry | None = None
        if parent is not None:
            if not isinstance(parent, Registry):
                raise TypeError(f'parent of registry {name!r} must be a Registry, got {type(parent)}')
            parent._add_child(self)
            self.parent = parent
        if build_func is None:
            build_func = parent.build_func if parent is not None else build_from_cfg
        self.build_func = build_func

    # ------------------------------------------------------------------ info
    @staticmethod
    def infer_scope() -> str:
        """The top-level package of the module that created the registry."""
        frame = inspect.currentframe()
        # Two frames up: infer_scope <- __init__ <- the caller.
        caller = frame.f_back.f_back if frame is not None and frame.f_back else None
        module = inspect.getmodule(caller) if caller is not None else None
        if module is None or module.__name__ == '__main__':
            return 'mmlite'
        return module.__name__.split('.')[0]

    @staticmethod
    def split_scope_key(key: str) -> tuple[str | None, str]:
        """``'mmdet.ResNet'`` -> ``('mmdet', 'ResNet')``; ``'ResNet'`` -> ``(None, 'ResNet')``."""
        head, dot, tail = key.partition('.')
        return (head, tail) if dot else (None, key)

    @property
    def name(self) -> str:
        return self._name

    @property
    def scope(self) -> str:
        return self._scope

    @property
    def module_dict(self) -> dict[str, type | Callable]:
        return self._module_dict

    @property
    def children(self) -> dict[str, Registry]:
        return self._children

    @property
    def root(self) -> Registry:
        return self._get_root_registry()

    def __len__(self) -> int:
        return len(self._module_dict)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __repr__(self) -> str:
        from rich.console import Console
        from rich.table import Table
        table = Table(title=f'Registry of {self._name} (scope {self._scope})')
        table.add_column('Names', justify='left', style='cyan')
        table.add_column('Objects', justify='left', style='green')
        for key, obj in sorted(self._module_dict.items()):
            table.add_row(key, f'{obj.__module__}.{obj.__qualname__}')
        console = Console(width=120, record=True, force_terminal=False, color_system=None)
        with console.capture() as capture:
            console.print(table, end='')
        return capture.get()

    # ------------------------------------------------------------- the tree
    def _add_child(self, registry: Registry) -> None:
        if registry.scope in self._children:
            raise KeyError(f'scope {registry.scope!r} already has a child registry under {self._name!r}')
        self._children[registry.scope] = registry

    def _get_root_registry(self) -> Registry:
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    def _search_child(self, scope: str) -> Registry | None:
        if self._scope == scope:
            return self
        for child in self._children.values():
            found = child._search_child(scope)
            if found is not None:
                return found
        return None

    def import_from_location(self) -> None:
        """Import the modules in ``locations`` once, so their classes register."""
        if self._imported:
            return
        self._imported = True
        for location in self._locations:
            importlib.import_module(location)

    # --------------------------------------------------------------- lookup
    def get(self, key: str) -> type | Callable | None:
        """Find ``key`` here, in the parents, in the scope it names, or as an import path."""
        if not isinstance(key, str):
            raise TypeError(f'registry key must be a string, got {type(key)}')
        found = self._lookup(key)
        if found is None and '.' in key:
            # 'torch.nn.ReLU' style: a real import path rather than a scope.
            located = pydoc.locate(key)
            if inspect.isclass(located) or inspect.isfunction(located):
                found = located
        return found

    def _lookup(self, key: str) -> type | Callable | None:
        scope, name = self.split_scope_key(key)
        if scope is None or scope == self._scope:
            node: Registry | None = self
            while node is not None:
                table = node._module_dict_with_import()
                if name in table:
                    return table[name]
                node = node.parent
            return None
        target = self._get_root_registry()._search_child(scope)
        if target is None:
            self._import_scope_registry(scope)
            target = self._get_root_registry()._search_child(scope)
        return target._lookup(name) if target is not None else None

    def _module_dict_with_import(self) -> dict[str, type | Callable]:
        self.import_from_location()
        return self._module_dict

    @staticmethod
    def _import_scope_registry(scope: str) -> None:
        """A downstream package usually defines its registries in ``<scope>.registry``."""
        if scope in sys.modules or importlib.util.find_spec(scope) is None:
            return
        try:
            importlib.import_module(f'{scope}.registry')
        except ImportError:
            importlib.import_module(scope)

    def closest_names(self, key: str, n: int = 3) -> list[str]:
        """Registered names (here and in the parents) that look like ``key``."""
        names: set[str] = set()
        node: Registry | None = self
        while node is not None:
            names.update(node._module_dict_with_import())
            node = node.parent
        return difflib.get_close_matches(key, sorted(names), n=n, cutoff=0.5)

    def not_found_error(self, key: str) -> RegistryError:
        hint = self.closest_names(self.split_scope_key(key)[1])
        msg = f'{key!r} is not registered in the {self._name!r} registry (scope {self._scope!r}).'
        if hint:
            msg += f' Did you mean: {", ".join(repr(h) for h in hint)}?'
        else:
            msg += (' Check the spelling, and that the module defining it is imported '
                    '(custom_imports in the config, or the registry\'s locations).')
        return RegistryError(msg)

    # --------------------------------------------------------------- build
    def build(self, cfg: dict, *args: Any, **kwargs: Any) -> Any:
        """Build an object from ``cfg`` with this registry's build function."""
        return self.build_func(cfg, *args, **kwargs, registry=self)

    @contextmanager
    def switch_scope_and_registry(self, scope: str | None) -> Iterator[Registry]:
        """Yield the registry that ``scope`` (or the current default scope) selects."""
        with DefaultScope.overwrite_default_scope(scope):
            default = DefaultScope.get_current_instance()
            if default is None or default.scope_name == self._scope:
                yield self
                return
            scope_name = default.scope_name
            root = self._get_root_registry()
            registry = root._search_child(scope_name)
            if registry is None:
                self._import_scope_registry(scope_name)
                registry = root._search_child(scope_name)
            yield registry if registry is not None else self

    # ------------------------------------------------------------ register
    def _register_module(self, module: type | Callable, module_name: str | list[str] | None,
                         force: bool) -> None:
        if not (inspect.isclass(module) or inspect.isfunction(module) or callable(module)):
            raise TypeError(f'only a class or a function can be registered, got {type(module)}')
        names = [module.__name__] if module_name is None else module_name
        if isinstance(names, str):
            names = [names]
        for name in names:
            existing = self._module_dict.get(name)
            if existing is not None and existing is not module and not force:
                raise KeyError(
                    f'{name!r} is already registered in the {self._name!r} registry by '
                    f'{existing.__module__}.{existing.__qualname__}; pass force=True to replace it')
            self._module_dict[name] = module

    def register_module(self, name: str | list[str] | None = None, force: bool = False,
                        module: type | Callable | None = None) -> Callable:
        """Register a class or function, as a decorator or by passing ``module``."""
        if not isinstance(force, bool):
            raise TypeError(f'force must be a bool, got {type(force)}')
        if not (name is None or isinstance(name, str)
                or (isinstance(name, (list, tuple)) and all(isinstance(n, str) for n in name))):
            raise TypeError(f'name must be None, a string or a list of strings, got {name!r}')
        if module is not None:
            self._register_module(module, name, force)
            return module

        def _register(obj: type | Callable) -> type | Callable:
            self._register_module(obj, name, force)
            return obj
        return _register
