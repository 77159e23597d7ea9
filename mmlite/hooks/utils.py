"""Small helpers the built-in hooks (and the log processor) share."""
from __future__ import annotations

_LOCAL_BACKENDS = (None, 'disk', 'local')


def training_started(runner) -> bool:
    """Whether a training run set up its counters (RuntimeInfoHook records them in before_train).

    A standalone ``runner.val()``/``runner.test()`` has no training epoch or iteration to show.
    """
    return runner.message_hub.get_info('max_iters') is not None


def check_local_backend(owner: str, **backend_options: dict | None) -> None:
    """Raise if ``file_client_args``/``backend_args`` ask ``owner`` for a non-local backend.

    mmlite writes to local paths only; remote storage is a mounted folder.
    """
    for name, options in backend_options.items():
        if not options:
            continue
        if not isinstance(options, dict):
            raise TypeError(f'{owner} {name} must be a dict or None, got {options!r}')
        if options.get('backend') not in _LOCAL_BACKENDS or set(options) - {'backend'}:
            raise ValueError(f'{owner} {name}={options!r}: mmlite writes to local paths only; '
                             f'drop {name} and point the directory at a mounted folder instead')
