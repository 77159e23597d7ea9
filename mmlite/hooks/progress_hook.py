"""ProgressBarHook: a live training bar (epoch/iter, ETA, loss) on a terminal, nothing elsewhere.

On an interactive terminal the runner adds it to the default hooks (see
:func:`progress_bar_wanted`); the ordinary log lines keep printing, above the bar. Anywhere
else (a log file, a CI pipe, a non-zero rank) the hook is inactive and claims no hook point,
so the runner never calls it.
"""
from __future__ import annotations

import atexit
import datetime
import logging
import os
import time
from typing import Any

from mmlite.registry import HOOKS

from .hook import DATA_BATCH, Hook


class _ConsoleStream:
    """A text stream for a logging handler that prints whole lines through a rich console, so
    they appear above its live bar, unwrapped and with their ANSI colours kept."""

    def __init__(self, console: Any, original: Any) -> None:
        self.console = console
        self.original = original
        self._pending = ''

    def write(self, text: str) -> int:
        from rich.text import Text
        lines = (self._pending + text).split('\n')
        self._pending = lines.pop()
        for line in lines:
            self.console.print(Text.from_ansi(line), soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self.write('\n')

    def isatty(self) -> bool:
        return True


def _rank() -> int:
    from mmlite.dist import get_rank
    return get_rank()


def progress_bar_wanted(runner: Any) -> bool:
    """Whether the runner should add a ProgressBarHook to its default hooks.

    Only rank 0 on an interactive stdout, and not when the config says ``progress = False``
    (which also turns off the validation bars).
    """
    from mmlite.utils.progress import is_interactive
    cfg = getattr(runner, 'cfg', None) or {}
    return (getattr(runner, 'rank', 0) == 0 and is_interactive()
            and bool(cfg.get('progress', True)))


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Show training progress as a rich bar: ``epoch 2/10  ━━━━  90/450  0:00:04  eta 0:00:16
    loss: 0.4144``.

    The bar's counters move every iteration without touching tensors; the losses shown are
    the ``train/*loss*`` values the message hub holds, smoothed over the log processor's
    window and read only where the LoggerHook writes a log line (whose reduction they
    reuse), so the hook adds no host-device sync. Redraws are rate-limited to
    ``refresh_per_second``. Log lines go through the bar's console and appear above it; the
    bar pauses during validation (which draws its own) and disappears when training ends.
    Colours follow NO_COLOR.

    Args:
        enabled: True forces the bar (e.g. under a terminal emulator that reports no TTY),
            False disables it, None (default) shows it on an interactive stdout only. Only
            rank 0 ever draws.
        interval: iterations between loss updates; defaults to the LoggerHook's interval.
        refresh_per_second: the most redraws per second.
    """

    priority = 'VERY_LOW'  # after the LoggerHook, so the losses it reduced are ready

    def __init__(self, enabled: bool | None = None, interval: int | None = None,
                 refresh_per_second: float = 4.0) -> None:
        if enabled is not None and not isinstance(enabled, bool):
            raise TypeError(f'ProgressBarHook enabled must be True, False or None, got {enabled!r}')
        if interval is not None and (not isinstance(interval, int) or isinstance(interval, bool)
                                     or interval <= 0):
            raise ValueError(f'ProgressBarHook interval must be a positive int or None, got '
                             f'{interval!r}')
        if not refresh_per_second > 0:
            raise ValueError(f'ProgressBarHook refresh_per_second must be > 0, got '
                             f'{refresh_per_second!r}')
        if enabled is None:
            from mmlite.utils.progress import is_interactive
            enabled = is_interactive()
        self.active = enabled and _rank() == 0
        self.interval = interval
        self._refresh_period = 1.0 / refresh_per_second
        self._progress: Any = None
        self._task: Any = None
        self._running = False
        self._paused = False
        self._next_refresh = 0.0
        self._losses = ''
        self._window = 10
        self._by_epoch = True
        self._swapped: list[tuple[logging.StreamHandler, Any]] = []

    def overrides(self, point: str) -> bool:
        # Inactive, the hook claims no point at all: the runner never calls it.
        return self.active and super().overrides(point)

    # ------------------------------------------------------------ training
    def before_train(self, runner) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        if self.interval is None:
            loggers = [hook for hook in runner.hooks if type(hook).__name__ == 'LoggerHook']
            self.interval = getattr(loggers[0], 'interval', 10) if loggers else 10
        processor = getattr(runner, 'log_processor', None)
        window = getattr(processor, 'window_size', 10)
        self._window = window if isinstance(window, int) else None  # 'epoch'/'global': all
        self._by_epoch = bool(getattr(processor, 'by_epoch', True))
        console = Console(no_color=bool(os.environ.get('NO_COLOR')))
        self._progress = Progress(
            TextColumn('[bold]{task.description}'), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn('eta {task.fields[eta]}'),
            TextColumn('{task.fields[losses]}'),
            console=console, transient=True, auto_refresh=False,
            redirect_stdout=False, redirect_stderr=False)
        self._task = self._progress.add_task(self._description(runner), total=runner.max_iters,
                                             completed=runner.iter, eta='-', losses='')
        self._start(runner)

    def before_train_epoch(self, runner) -> None:
        if self._running:
            self._progress.update(self._task, description=self._description(runner))

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: dict | None = None) -> None:
        if not self._running:
            return
        if (self.every_n_inner_iters(batch_idx, self.interval)
                or self.end_of_epoch(runner.train_dataloader, batch_idx)):
            self._losses = self._read_losses(runner)
        now = time.monotonic()
        if now < self._next_refresh and runner.iter + 1 < runner.max_iters:
            return
        self._next_refresh = now + self._refresh_period
        self._draw(runner, completed=runner.iter + 1)

    def after_train(self, runner) -> None:
        self._stop()

    # ------------------------------------------- validation draws its own bar
    def before_val(self, runner) -> None:
        if self._running:
            self._draw(runner, completed=runner.iter)
            self._stop(keep=True)
            self._paused = True

    def after_val(self, runner) -> None:
        if self._paused:
            self._paused = False
            if runner.iter < runner.max_iters:  # after the last validation there is nothing to show
                self._progress.update(self._task, description=self._description(runner))
                self._start(runner)

    def after_run(self, runner) -> None:
        self._stop()

    # ---------------------------------------------------------------- helpers
    def _description(self, runner) -> str:
        if self._by_epoch:
            return f'epoch {runner.epoch + 1}/{runner.max_epochs}'
        return 'train'

    def _draw(self, runner, completed: int) -> None:
        eta = runner.message_hub.get_info('eta')
        self._progress.update(self._task, completed=completed, losses=self._losses,
                              eta='-' if eta is None else str(datetime.timedelta(seconds=int(eta))))
        self._progress.refresh()

    def _read_losses(self, runner) -> str:
        """The smoothed ``train/*loss*`` scalars; called at log intervals only."""
        parts = []
        for key, buffer in runner.message_hub.log_scalars.items():
            if key.startswith('train/') and 'loss' in key and len(buffer):
                parts.append(f'{key[len("train/"):]}: {buffer.mean(self._window):.4f}')
        return '  '.join(parts)

    def _start(self, runner) -> None:
        """Show the bar and route the runner's console log lines through it."""
        console = self._progress.console
        self._progress.start()
        self._running = True
        self._next_refresh = 0.0
        atexit.register(self._abandon)
        for handler in self._console_handlers(runner.logger):
            self._swapped.append((handler, handler.stream))
            handler.setStream(_ConsoleStream(console, handler.stream))

    def _stop(self, keep: bool = False) -> None:
        """Remove the bar (``keep``: to show it again later) and restore the log handlers."""
        if not self._running:
            return
        self._restore_handlers()
        atexit.unregister(self._abandon)
        self._progress.stop()
        if not keep:
            self._progress = None

    def _abandon(self) -> None:
        """At exit after an error or Ctrl-C (after_run never came): show the cursor again and
        leave the screen as it is; erasing the bar now would erase the traceback's last lines."""
        if self._running:
            self._restore_handlers()
            self._progress.console.show_cursor(True)

    def _restore_handlers(self) -> None:
        for handler, stream in self._swapped:
            handler.flush()
            handler.setStream(stream)
        self._swapped = []
        self._running = False

    @staticmethod
    def _console_handlers(logger: logging.Logger) -> list[logging.StreamHandler]:
        """The logger's stream handlers that write to the terminal (not to files)."""
        return [handler for handler in logger.handlers
                if isinstance(handler, logging.StreamHandler)
                and not isinstance(handler, logging.FileHandler)
                and getattr(handler.stream, 'isatty', lambda: False)()]
