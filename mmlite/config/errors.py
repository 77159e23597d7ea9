"""Errors raised while reading, merging or overriding configs.

Every one is a :class:`ConfigError` (a ValueError), so callers can catch config
problems in one place. Each also subclasses the built-in that MMEngine raises in the
same situation (KeyError, TypeError, SyntaxError, ...), so code written against
MMEngine's exceptions keeps working.
"""
from __future__ import annotations


class ConfigError(ValueError):
    """A config file, option or merge that cannot be used as given; the message says why."""

    def __str__(self) -> str:
        # KeyError would wrap the sentence in quotes; print it as written.
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class ConfigKeyError(ConfigError, KeyError):
    """A key path that does not exist, clashes, or is reserved."""


class ConfigTypeError(ConfigError, TypeError):
    """A value of the wrong type, e.g. a dict merged onto a list."""


class ConfigSyntaxError(ConfigError, SyntaxError):
    """A config file that does not parse; the message names the file and line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.msg = message  # what tracebacks print for SyntaxError subclasses


class ConfigFileNotFoundError(ConfigError, FileNotFoundError):
    """A config or ``_base_`` file that does not exist."""


class ConfigImportError(ConfigError, ImportError):
    """A ``custom_imports`` module that failed to import."""
