"""Turn ``dict(type=..., **kwargs)`` configs into objects, with errors that name the culprit."""
from __future__ import annotations

import difflib
import inspect
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mmlite.utils.manager import ManagerMixin

from .registry import Registry

_local = threading.local()


def _frames() -> list[tuple[str | None, Any]]:
    if not hasattr(_local, 'frames'):
        _local.frames = []
    return _local.frames


@contextmanager
def config_key_path(path: str) -> Iterator[None]:
    """Say which config key the builds inside this block come from (e.g. ``'model'``).

    Nested builds find their own key (``model.backbone``) by locating their config
    inside the arguments of the build that encloses them.
    """
    _frames().append((path, None))
    try:
        yield
    finally:
        _frames().pop()


def _find_in(container: Any, target: Any, by_identity: bool) -> str | None:
    """Dotted path of ``target`` inside nested dicts/lists, or None."""
    items = (container.items() if isinstance(container, dict)
             else enumerate(container) if isinstance(container, (list, tuple)) else ())
    for key, value in items:
        if (value is target) if by_identity else (isinstance(value, dict) and value == target):
            return str(key)
        if isinstance(value, (dict, list, tuple)):
            sub = _find_in(value, target, by_identity)
            if sub is not None:
                return f'{key}.{sub}'
    return None


def current_key_path(cfg: Any) -> str | None:
    """The config key path of ``cfg`` if an enclosing build or block tells it."""
    frames = _frames()
    if not frames:
        return None
    path, args = frames[-1]
    if args is None:
        return path
    sub = _find_in(args, cfg, True) or _find_in(args, cfg, False)
    if sub is None:
        return path
    return f'{path}.{sub}' if path else sub


def _where(registry: Registry, path: str | None) -> str:
    return f'registry {registry.name!r}' + (f', config key {path!r}' if path else '')


def _check_arguments(obj_cls: Any, kwargs: dict, registry: Registry, path: str | None) -> None:
    """Raise a clear TypeError when ``kwargs`` cannot bind to ``obj_cls``'s signature."""
    try:
        signature = inspect.signature(obj_cls)
    except (TypeError, ValueError):  # builtins without a signature: let the call speak
        return
    try:
        signature.bind(**kwargs)
        return
    except TypeError:
        pass
    params = signature.parameters
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    named = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    name = getattr(obj_cls, '__name__', repr(obj_cls))
    where = _where(registry, path)
    if not accepts_any:
        unknown = [k for k in kwargs if k not in named]
        if unknown:
            hints = [difflib.get_close_matches(u, named, n=1) for u in unknown]
            hint = ''.join(f' Did you mean {h[0]!r} for {u!r}?' for u, h in zip(unknown, hints) if h)
            raise TypeError(
                f'{name} ({where}) got unexpected argument(s) {", ".join(map(repr, unknown))}. '
                f'It accepts: {", ".join(named) or "no arguments"}.{hint}')
    missing = [n for n, p in params.items()
               if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               and n not in kwargs]
    if missing:
        raise TypeError(f'{name} ({where}) is missing required argument(s) '
                        f'{", ".join(map(repr, missing))}; add them to the config.')


def _accepted_arguments(obj_cls: Any) -> list[str]:
    """Named ``__init__`` arguments along the MRO, as far as ``**kwargs`` passes them on."""
    names: list[str] = []
    for klass in inspect.getmro(obj_cls):
        init = klass.__dict__.get('__init__')
        if init is None or klass is object:
            continue
        try:
            params = inspect.signature(init).parameters
        except (TypeError, ValueError):
            break
        names += [n for n, p in params.items() if n != 'self' and n not in names
                  and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            break
    return names


def _raise_if_unexpected_argument(exc: Exception, obj_cls: Any, args: dict, registry: Registry,
                                  path: str | None) -> None:
    """A config key that a ``**kwargs`` chain handed to a base class that does not take it:
    name the built class, the key, the accepted arguments and the config key path."""
    found = re.search(r"got an unexpected keyword argument '(\w+)'", str(exc))
    if not (isinstance(exc, TypeError) and found and found.group(1) in args
            and inspect.isclass(obj_cls)):
        return
    unknown = found.group(1)
    accepted = _accepted_arguments(obj_cls)
    close = difflib.get_close_matches(unknown, accepted, n=1)
    hint = f' Did you mean {close[0]!r}?' if close else ''
    raise TypeError(f'{obj_cls.__name__} ({_where(registry, path)}) got unexpected argument '
                    f'{unknown!r}. It accepts: {", ".join(accepted) or "no arguments"}.{hint}') from exc


def _annotate(exc: BaseException, note: str) -> None:
    """Add one note (Python 3.11+) saying which build an error escaped from."""
    if getattr(exc, '_mmlite_build_note', False) or not hasattr(exc, 'add_note'):
        return
    exc.add_note(note)
    exc._mmlite_build_note = True


def build_from_cfg(cfg: dict, registry: Registry, default_args: dict | None = None) -> Any:
    """Build ``cfg['type']`` from ``registry`` with the other keys as arguments.

    ``type`` may be a registered name, a ``scope.Name`` or an import path, or the class
    or function itself; ``default_args`` fill keys the config leaves out; ``_scope_``
    switches the default scope for this build.
    """
    if not isinstance(cfg, dict):
        raise TypeError(f'a config to build must be a dict, got {type(cfg).__name__}: {cfg!r}')
    if 'type' not in cfg and (default_args is None or 'type' not in default_args):
        path = current_key_path(cfg)
        raise KeyError(f'the config {"at " + repr(path) + " " if path else ""}has no "type" key '
                       f'to choose what to build from the {registry.name!r} registry: {dict(cfg)}')
    if not isinstance(registry, Registry):
        raise TypeError(f'registry must be a Registry, got {type(registry)}')
    if not (default_args is None or isinstance(default_args, dict)):
        raise TypeError(f'default_args must be a dict or None, got {type(default_args)}')
    path = current_key_path(cfg)
    args = dict(cfg.items())
    for key, value in (default_args or {}).items():
        args.setdefault(key, value)

    with registry.switch_scope_and_registry(args.pop('_scope_', None)) as scoped:
        obj_type = args.pop('type')
        if isinstance(obj_type, str):
            obj_cls = scoped.get(obj_type)
            if obj_cls is None:
                err = scoped.not_found_error(obj_type)
                if path:
                    err = type(err)(f'{err} (config key {path!r})')
                raise err
        elif inspect.isclass(obj_type) or callable(obj_type):
            obj_cls = obj_type
        else:
            raise TypeError(f'"type" must be a string or a class/function, got {type(obj_type)} '
                            f'({_where(registry, path)})')
        _check_arguments(obj_cls, args, scoped, path)
        _frames().append((path, args))
        try:
            if inspect.isclass(obj_cls) and issubclass(obj_cls, ManagerMixin):
                obj = obj_cls.get_instance(**args)
            else:
                obj = obj_cls(**args)
        except Exception as exc:
            _raise_if_unexpected_argument(exc, obj_cls, args, scoped, path)
            _annotate(exc, f'raised while building {getattr(obj_cls, "__name__", obj_cls)} '
                           f'({_where(scoped, path)})')
            raise
        finally:
            _frames().pop()
    return obj


def build_model_from_cfg(cfg: dict | list, registry: Registry, default_args: dict | None = None) -> Any:
    """Like :func:`build_from_cfg`; a list of configs becomes an ``nn.Sequential``."""
    if isinstance(cfg, list):
        from torch import nn
        return nn.Sequential(*(build_from_cfg(c, registry, default_args) for c in cfg))
    return build_from_cfg(cfg, registry, default_args)


def build_runner_from_cfg(cfg: dict, registry: Registry) -> Any:
    """Build a runner: ``runner_type`` (default ``'Runner'``) picks the class, ``from_cfg`` builds it."""
    if not (hasattr(cfg, 'get') and hasattr(cfg, 'keys')):  # a dict or a Config
        raise TypeError(f'a runner config must be a dict or a Config, got {type(cfg).__name__}')
    with registry.switch_scope_and_registry(cfg.get('_scope_')) as scoped:
        runner_type = cfg.get('runner_type', 'Runner')
        runner_cls = scoped.get(runner_type) if isinstance(runner_type, str) else runner_type
        if runner_cls is None:
            raise scoped.not_found_error(runner_type)
        return runner_cls.from_cfg(cfg)


def build_scheduler_from_cfg(cfg: dict, registry: Registry, default_args: dict | None = None) -> Any:
    """Build a parameter scheduler; ``convert_to_iter_based=True`` goes through
    ``build_iter_from_epoch`` with the ``epoch_length`` in ``default_args``."""
    default_args = dict(default_args or {})
    if not cfg.get('convert_to_iter_based', False):
        default_args.pop('epoch_length', None)
        return build_from_cfg(cfg, registry, default_args)
    args = dict(cfg.items())
    args.pop('convert_to_iter_based')
    if default_args.get('epoch_length') is None:
        raise ValueError(f'{args.get("type")} has convert_to_iter_based=True, which needs the '
                         'epoch length: build it with default_args=dict(epoch_length=len(dataloader))')
    with registry.switch_scope_and_registry(args.pop('_scope_', None)) as scoped:
        obj_type = args.pop('type')
        scheduler_cls = scoped.get(obj_type) if isinstance(obj_type, str) else obj_type
        if scheduler_cls is None:
            raise scoped.not_found_error(obj_type)
        for key, value in default_args.items():
            args.setdefault(key, value)
        return scheduler_cls.build_iter_from_epoch(**args)
