"""A progress bar (rich) on a terminal; plain iteration everywhere else."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any


def is_interactive() -> bool:
    """True when stdout is a terminal a person watches (not a log file or a CI pipe)."""
    return sys.stdout.isatty() and os.environ.get('TERM') != 'dumb'


@contextmanager
def track_progress(iterable: Iterable, total: int | None = None, description: str = '',
                   enabled: bool | None = None) -> Iterator[Iterable[Any]]:
    """Yield ``iterable`` wrapped in a transient rich progress bar when ``enabled``.

    ``enabled=None`` means: only on an interactive terminal. Colours follow NO_COLOR.
    """
    if enabled is None:
        enabled = is_interactive()
    if not enabled:
        yield iterable
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)
    if total is None and hasattr(iterable, '__len__'):
        total = len(iterable)
    console = Console(no_color='NO_COLOR' in os.environ)
    columns = (TextColumn('{task.description}'), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=total)

        def advance() -> Iterator[Any]:
            for item in iterable:
                yield item
                progress.advance(task)
        yield advance()
