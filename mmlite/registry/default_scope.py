"""The scope (package name) whose registries ``build`` consults first."""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from mmlite.utils.manager import ManagerMixin


class DefaultScope(ManagerMixin):
    """A named global holding a scope name such as ``'mmlite'`` or ``'mmdet'``.

    When a downstream repo sets ``default_scope='mmdet'``, a config built through
    mmlite's root registries looks in mmdet's child registries first.
    """

    def __init__(self, name: str, scope_name: str) -> None:
        super().__init__(name)
        if not isinstance(scope_name, str) or not scope_name:
            raise TypeError(f'scope_name must be a non-empty string, got {scope_name!r}')
        self._scope_name = scope_name

    @property
    def scope_name(self) -> str:
        return self._scope_name

    @classmethod
    def get_current_instance(cls) -> DefaultScope | None:
        """The current default scope, or None when none was set."""
        if cls._current_name is None:
            return None
        return super().get_current_instance()

    @classmethod
    @contextmanager
    def overwrite_default_scope(cls, scope_name: str | None) -> Iterator[None]:
        """Make ``scope_name`` the default scope inside the block (no-op for None)."""
        if scope_name is None:
            yield
            return
        previous = cls._current_name
        temporary = f'overwrite-{time.time_ns()}'
        cls.get_instance(temporary, scope_name=scope_name)
        try:
            yield
        finally:
            cls._instance_dict.pop(temporary, None)
            cls._current_name = previous


def init_default_scope(scope: str) -> DefaultScope:
    """Set ``scope`` as the default scope, making a new instance only when it changes."""
    current = DefaultScope.get_current_instance()
    if current is not None and current.scope_name == scope:
        return current
    name = scope if not DefaultScope.check_instance_created(scope) else f'{scope}-{time.time_ns()}'
    return DefaultScope.get_instance(name, scope_name=scope)
