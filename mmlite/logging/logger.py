"""MMLogger: a rank-aware, coloured, named logger, and ``print_log`` to route a message anywhere."""
from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from termcolor import colored

from mmlite.utils.manager import ManagerMixin

_LEVEL_COLOURS = {
    logging.CRITICAL: ('red', ['bold', 'blink']),
    logging.ERROR: ('red', ['blink', 'underline']),
    logging.WARNING: ('yellow', []),
    logging.INFO: ('white', []),
    logging.DEBUG: ('green', []),
}


def _as_level(level: int | str) -> int:
    """Turn 'INFO' / 'info' / 20 into 20; reject anything logging does not know."""
    if isinstance(level, bool):
        raise TypeError(f'log level must be an int or a level name, got {level!r}')
    if isinstance(level, int):
        return level
    if isinstance(level, str):
        number = logging.getLevelName(level.upper())
        if isinstance(number, int):
            return number
    raise ValueError(f'Unknown log level {level!r}; use one of DEBUG, INFO, WARNING, ERROR, '
                     f'CRITICAL or an int')


def _rank_and_world_size() -> tuple[int, int]:
    """Rank and world size of the default group, or (0, 1) before torch.distributed is up.

    Reads ``torch.distributed`` only if something already imported it: if torch is not
    loaded, no process group can exist, and ``mmlite.logging`` stays free of torch.
    """
    torch_dist = sys.modules.get('torch.distributed')
    if torch_dist is None or not torch_dist.is_available() or not torch_dist.is_initialized():
        return 0, 1
    return torch_dist.get_rank(), torch_dist.get_world_size()


class _LevelFormatter(logging.Formatter):
    """``time - name - LEVEL - message``; errors also name the file, line and function.

    ``colour`` paints the level name by severity (console only: log files stay plain).
    """

    _PLAIN = '%(asctime)s - %(name)s - {level} - %(message)s'
    _LOCATED = ('%(asctime)s - %(name)s - {level} - %(pathname)s:%(lineno)d in %(funcName)s'
                ' - %(message)s')

    def __init__(self, colour: bool, datefmt: str) -> None:
        super().__init__(datefmt=datefmt)
        self._by_level: dict[int, logging.Formatter] = {}
        self._plain_level_names: dict[int, str] = {}  # levels formatted by the _PLAIN layout
        for level, (colour_name, attrs) in _LEVEL_COLOURS.items():
            name = logging.getLevelName(level)
            if colour:
                name = colored(name, colour_name, attrs=attrs, force_color=True)
            template = self._LOCATED if level >= logging.ERROR else self._PLAIN
            self._by_level[level] = logging.Formatter(template.format(level=name), datefmt)
            if template is self._PLAIN:
                self._plain_level_names[level] = name
        self._fallback = logging.Formatter(self._PLAIN.format(level='%(levelname)s'), datefmt)
        self._time_key: tuple[int, str] | None = None  # (second, datefmt) of _time_text
        self._time_text = ''

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        if datefmt is None:  # logging adds milliseconds: not cached
            return super().formatTime(record, datefmt)
        return self._date_text(record.created, datefmt)

    def _date_text(self, created: float, datefmt: str) -> str:
        # Training lines come several per second, and a cold localtime + strftime costs more
        # than the rest of the line: the text is made once per second (no sub-second field).
        key = (int(created), datefmt)
        if key != self._time_key:
            self._time_text = time.strftime(datefmt, self.converter(created))
            self._time_key = key
        return self._time_text

    def plain_line(self, name: str, levelno: int, message: str, created: float) -> str | None:
        """The ``time - name - LEVEL - message`` text of a record without traceback or
        location, as the _PLAIN template makes it; None for levels with another layout."""
        level_name = self._plain_level_names.get(levelno)
        if level_name is None or self.datefmt is None:
            return None
        return f'{self._date_text(created, self.datefmt)} - {name} - {level_name} - {message}'

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info:
            return self._by_level.get(record.levelno, self._fallback).format(record)
        # The usual record (a training line) is put together here, without the half-dozen
        # calls logging.Formatter.format makes per record and handler.
        message = record.getMessage()
        line = self.plain_line(record.name, record.levelno, message, record.created)
        if line is None:
            return self._by_level.get(record.levelno, self._fallback).format(record)
        record.message = message
        record.asctime = self._time_text  # what plain_line just used
        return line


class _DuplicateWarningFilter(logging.Filter):
    """Lets each distinct WARNING message through once, so a warning raised in a loop
    does not flood the log."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        message = record.getMessage()
        if message in self._seen:
            return False
        self._seen.add(message)
        return True


def _stream_wants_colour(stream: Any) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get('NO_COLOR'):
        return False
    isatty = getattr(stream, 'isatty', None)
    return bool(isatty is not None and isatty())


def _rank_suffixed(log_file: str, rank: int) -> str:
    """``work/run.log`` -> ``work/run_rank3.log``."""
    stem, ext = os.path.splitext(log_file)
    return f'{stem}_rank{rank}{ext}'


def _emit_flushed(handler: logging.StreamHandler, record: logging.LogRecord) -> None:
    """What ``StreamHandler.emit`` does (format, write, flush) with the stream read once and
    flushed directly: ``Handler.handle`` already holds the lock ``StreamHandler.flush`` takes
    again, and a log line every few iterations should not pay for the detour."""
    try:
        stream = handler.stream
        stream.write(handler.format(record) + handler.terminator)
        if hasattr(stream, 'flush'):
            stream.flush()
    except RecursionError:  # as logging does: never swallow a recursion
        raise
    except Exception:  # noqa: BLE001 (logging's contract: report through handleError)
        handler.handleError(record)


class _FileHandler(logging.FileHandler):
    """A FileHandler that writes open-file records through :func:`_emit_flushed`."""

    def emit(self, record: logging.LogRecord) -> None:
        if self.stream is None:  # closed or delayed: logging decides whether to reopen
            super().emit(record)
        else:
            _emit_flushed(self, record)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a record comes, not what it was at creation,
    so a logger outliving a redirected or closed stream (pytest capture, notebooks) keeps working.

    ``setStream(other)`` still redirects it (the progress bar routes lines through its
    console); setting it back to the current ``sys.stdout`` follows stdout again.
    """

    def __init__(self) -> None:
        super().__init__()
        self._explicit = None  # StreamHandler.__init__ assigned sys.stderr: follow stdout instead

    @property
    def stream(self):
        return self._explicit if self._explicit is not None else sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        self._explicit = None if value is sys.stdout else value

    def emit(self, record: logging.LogRecord) -> None:
        _emit_flushed(self, record)


class MMLogger(logging.Logger, ManagerMixin):
    """A named logger fetched with ``MMLogger.get_instance(name, ...)``.

    Rank 0 prints at ``log_level`` to stdout; other ranks print only ERROR and above, so a
    multi-process run reads like a single one. With ``log_file`` rank 0 also writes a plain
    text file; with ``distributed=True`` every other rank writes ``<stem>_rank<k><ext>`` next
    to it. The logger lives outside ``logging``'s tree: ``logging.getLogger(logger_name)``
    is a different object, and third-party logging configuration cannot change it.
    """

    # The handlers __init__ made; a subclass that makes its own starts with none of them, so
    # info() writes directly only if the logger has no handlers at all (then nothing is written).
    _own_handlers: list = []
    _own_parts: list = []

    def __init__(self, name: str, logger_name: str = 'mmlite', log_file: str | None = None,
                 log_level: int | str = 'INFO', file_mode: str = 'w',
                 distributed: bool = False) -> None:
        ManagerMixin.__init__(self, name)
        logging.Logger.__init__(self, logger_name)
        level = _as_level(log_level)
        self.level = level
        rank, world_size = _rank_and_world_size()

        console = _StdoutHandler()
        console.setFormatter(_LevelFormatter(_stream_wants_colour(sys.stdout), '%m/%d %H:%M:%S'))
        console.setLevel(level if rank == 0 else logging.ERROR)
        console.addFilter(_DuplicateWarningFilter())
        self.handlers.append(console)

        if log_file is not None and rank != 0 and distributed and world_size > 1:
            log_file = _rank_suffixed(log_file, rank)
        writes_file = log_file is not None and (rank == 0 or distributed)
        if writes_file:
            directory = os.path.dirname(os.path.abspath(log_file))
            os.makedirs(directory, exist_ok=True)
            file_handler = _FileHandler(log_file, mode=file_mode, encoding='utf-8')
            file_handler.setFormatter(_LevelFormatter(False, '%Y/%m/%d %H:%M:%S'))
            file_handler.setLevel(level)
            file_handler.addFilter(_DuplicateWarningFilter())
            self.handlers.append(file_handler)
        self._log_file = log_file if writes_file else None
        # What info() checks before writing a line itself (see _write_plain).
        self._own_handlers = list(self.handlers)
        self._own_parts = [(h, h.formatter, h.filters[0]) for h in self.handlers]

    @property
    def log_file(self) -> str | None:
        """The file this process writes, or None if it writes none."""
        return self._log_file

    @classmethod
    def get_current_instance(cls) -> MMLogger:
        """The logger made or fetched last; a default 'mmlite' logger if none exists yet."""
        if not cls._instance_dict:
            cls.get_instance('mmlite')
        return super().get_current_instance()

    def setLevel(self, level: int | str) -> None:  # noqa: N802 (logging's name)
        # This logger is not in logging's manager, whose cache clearing would miss it.
        self.level = _as_level(level)
        self._cache.clear()

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if args or kwargs or type(msg) is not str or not self._write_plain(msg):
            # One frame up: the record names the caller of this method, as logging's info would.
            kwargs['stacklevel'] = kwargs.get('stacklevel', 1) + 1
            super().info(msg, *args, **kwargs)

    def _write_plain(self, msg: str) -> bool:
        """Write an INFO line straight to this logger's own handlers; False (nothing done)
        unless they are all there is, unchanged: then logging's path decides.

        The runner's log lines come here. logging's path (a LogRecord, the caller's frame
        looked up, handler dispatch and filters) costs ~20 us warm but ~160 us in place,
        between training iterations that evict it from the caches; the text is the same.
        """
        if self.filters or self.handlers != self._own_handlers or not self.isEnabledFor(logging.INFO):
            return False
        targets = []
        for handler, formatter, own_filter in self._own_parts:
            if handler.level > logging.INFO:
                continue  # as callHandlers skips it
            filters = handler.filters
            if handler.formatter is not formatter or len(filters) != 1 or filters[0] is not own_filter:
                return False
            stream = handler.stream
            if stream is None:  # a closed or delayed file: logging decides whether to reopen
                return False
            targets.append((handler, formatter, stream))
        created = time.time()
        for handler, formatter, stream in targets:
            handler.acquire()
            try:
                stream.write(formatter.plain_line(self.name, logging.INFO, msg, created)
                             + handler.terminator)
                stream.flush()
            except RecursionError:  # as logging does: never swallow a recursion
                raise
            except Exception:  # noqa: BLE001 (logging's contract: report through handleError)
                handler.handleError(self.makeRecord(self.name, logging.INFO, '(unknown file)', 0,
                                                    msg, (), None))
            finally:
                handler.release()
        return True

    def callHandlers(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        # Unlike logging.Logger, never fall back to logging.lastResort on stderr.
        for handler in self.handlers:
            if record.levelno >= handler.level:
                handler.handle(record)


def print_log(msg: Any, logger: logging.Logger | str | None = None,
              level: int | str = logging.INFO) -> None:
    """Send ``msg`` where ``logger`` says.

    ``None`` prints it; ``'silent'`` drops it; ``'current'`` uses the current MMLogger; any
    other string names an existing MMLogger; a ``logging.Logger`` is used as is.
    """
    if logger is None:
        print(msg)
        return
    if isinstance(logger, logging.Logger):
        logger.log(_as_level(level), msg)
        return
    if not isinstance(logger, str):
        raise TypeError(f'print_log: logger must be None, a logging.Logger, "silent", "current" '
                        f'or the name of an MMLogger, got {type(logger).__name__}')
    if logger == 'silent':
        return
    if logger == 'current':
        MMLogger.get_current_instance().log(_as_level(level), msg)
        return
    if not MMLogger.check_instance_created(logger):
        raise ValueError(f'print_log: no MMLogger named {logger!r} exists; create it with '
                         f'MMLogger.get_instance({logger!r}) first, or pass "current"')
    # Looked up directly so that printing does not change which logger is current.
    MMLogger._instance_dict[logger].log(_as_level(level), msg)
