"""Named global instances: ``Cls.get_instance(name)`` and ``Cls.get_current_instance()``."""
from __future__ import annotations

import threading
from typing import Any

_lock = threading.RLock()


class ManagerMixin:
    """Keeps every instance of a class by name, and which one was made or fetched last.

    Each subclass gets its own table, so ``MMLogger`` and ``MessageHub`` instances
    with the same name do not collide. ``__init__`` must accept ``name``.
    """

    _instance_dict: dict[str, Any] = {}
    _current_name: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._instance_dict = {}
        cls._current_name = None

    def __init__(self, name: str = '', **kwargs: Any) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f'{type(self).__name__} needs a non-empty string name, got {name!r}')
        self._instance_name = name

    @classmethod
    def get_instance(cls, name: str, **kwargs: Any):
        """Return the instance called ``name``, creating it with ``kwargs`` if absent."""
        with _lock:
            instance = cls._instance_dict.get(name)
            if instance is None:
                instance = cls(name=name, **kwargs)
                cls._instance_dict[name] = instance
            cls._current_name = name
            return instance

    @classmethod
    def get_current_instance(cls):
        """Return the instance made or fetched last by ``get_instance``."""
        with _lock:
            if cls._current_name is None:
                raise RuntimeError(
                    f'No {cls.__name__} instance exists yet; create one with '
                    f'{cls.__name__}.get_instance(name=...)')
            return cls._instance_dict[cls._current_name]

    @classmethod
    def check_instance_created(cls, name: str) -> bool:
        return name in cls._instance_dict

    @property
    def instance_name(self) -> str:
        return self._instance_name
