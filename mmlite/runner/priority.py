"""Hook priorities: a name or a number in [0, 100]; lower runs first."""
from __future__ import annotations

from enum import Enum


class Priority(Enum):
    HIGHEST = 0
    VERY_HIGH = 10
    HIGH = 30
    ABOVE_NORMAL = 40
    NORMAL = 50
    BELOW_NORMAL = 60
    LOW = 70
    VERY_LOW = 90
    LOWEST = 100


def get_priority(priority: int | str | Priority) -> int:
    """The number behind ``priority`` ('NORMAL', 'normal', Priority.NORMAL or 50)."""
    if isinstance(priority, bool):
        raise TypeError(f'priority must be an int, a name or a Priority, got {priority!r}')
    if isinstance(priority, int):
        if not 0 <= priority <= 100:
            raise ValueError(f'priority must be between 0 and 100, got {priority}')
        return priority
    if isinstance(priority, Priority):
        return priority.value
    if isinstance(priority, str):
        try:
            return Priority[priority.upper()].value
        except KeyError:
            names = ', '.join(p.name for p in Priority)
            raise ValueError(f'unknown priority {priority!r}; use one of {names} or 0..100') from None
    raise TypeError(f'priority must be an int, a name or a Priority, got {type(priority).__name__}')
