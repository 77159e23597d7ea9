"""Small type checks and conversions shared across mmlite (MMEngine's ``mmengine.utils`` helpers).

Nothing here imports torch or another mmlite package, so any layer may use it.
"""
from __future__ import annotations

import collections.abc
import functools
import importlib
import itertools
import re
import warnings
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

__all__ = [
    'is_str', 'iter_cast', 'list_cast', 'tuple_cast', 'is_seq_of', 'is_list_of', 'is_tuple_of',
    'slice_list', 'concat_list', 'is_method_overridden', 'has_method', 'import_modules_from_strings',
    'get_object_from_string', 'apply_to', 'to_ntuple', 'to_1tuple', 'to_2tuple', 'to_3tuple',
    'to_4tuple', 'digit_version',
]


def is_str(x: Any) -> bool:
    """Whether ``x`` is a string."""
    return isinstance(x, str)


def iter_cast(inputs: Iterable, dst_type: type, return_type: type | None = None) -> Any:
    """Cast every item of ``inputs`` to ``dst_type``; a generator unless ``return_type`` is given."""
    if not isinstance(inputs, collections.abc.Iterable):
        raise TypeError(f'inputs must be an iterable object, got {type(inputs).__name__}')
    if not isinstance(dst_type, type):
        raise TypeError(f'dst_type must be a type, got {dst_type!r}')
    out = map(dst_type, inputs)
    return out if return_type is None else return_type(out)


def list_cast(inputs: Iterable, dst_type: type) -> list:
    """Cast every item of ``inputs`` to ``dst_type`` and return a list."""
    return iter_cast(inputs, dst_type, return_type=list)


def tuple_cast(inputs: Iterable, dst_type: type) -> tuple:
    """Cast every item of ``inputs`` to ``dst_type`` and return a tuple."""
    return iter_cast(inputs, dst_type, return_type=tuple)


def is_seq_of(seq: Any, expected_type: type | tuple, seq_type: type | None = None) -> bool:
    """Whether ``seq`` is a sequence (of ``seq_type`` if given) whose items are all ``expected_type``."""
    exp_seq_type = collections.abc.Sequence if seq_type is None else seq_type
    if not isinstance(seq, exp_seq_type):
        return False
    return all(isinstance(item, expected_type) for item in seq)


def is_list_of(seq: Any, expected_type: type | tuple) -> bool:
    """Whether ``seq`` is a list whose items are all ``expected_type``."""
    return is_seq_of(seq, expected_type, seq_type=list)


def is_tuple_of(seq: Any, expected_type: type | tuple) -> bool:
    """Whether ``seq`` is a tuple whose items are all ``expected_type``."""
    return is_seq_of(seq, expected_type, seq_type=tuple)


def slice_list(in_list: list, lens: int | list[int]) -> list[list]:
    """Split ``in_list`` into consecutive pieces of the given lengths (an int means equal pieces)."""
    if isinstance(lens, int):
        if lens <= 0 or len(in_list) % lens != 0:
            raise ValueError(f'cannot slice a list of length {len(in_list)} into pieces of {lens}')
        lens = [lens] * (len(in_list) // lens)
    if not isinstance(lens, list):
        raise TypeError(f'"lens" must be an int or a list of ints, got {type(lens).__name__}')
    if sum(lens) != len(in_list):
        raise ValueError(f'the lengths {lens} sum to {sum(lens)}, but the list has {len(in_list)} items')
    out, start = [], 0
    for length in lens:
        out.append(in_list[start:start + length])
        start += length
    return out


def concat_list(in_list: Iterable[Iterable]) -> list:
    """Flatten one level: ``[[1, 2], [3]]`` -> ``[1, 2, 3]``."""
    return list(itertools.chain.from_iterable(in_list))


def is_method_overridden(method: str, base_class: type, derived_class: type | Any) -> bool:
    """Whether ``derived_class`` (a class or an instance) overrides ``base_class.method``.

    The hook machinery uses this to skip calling hooks that do not implement a stage.
    """
    if not isinstance(base_class, type):
        raise TypeError(f'base_class must be a class, got {base_class!r}')
    if not isinstance(derived_class, type):
        derived_class = derived_class.__class__
    return getattr(derived_class, method) is not getattr(base_class, method)


def has_method(obj: object, method: str) -> bool:
    """Whether ``obj`` has a callable attribute called ``method``."""
    return callable(getattr(obj, method, None))


def import_modules_from_strings(imports: str | list[str] | None,
                                allow_failed_imports: bool = False
                                ) -> ModuleType | None | list[ModuleType | None]:
    """Import modules named by dotted strings (the ``custom_imports`` of a config).

    Returns the module (or list of modules); a failed import raises ImportError naming the
    module, or with ``allow_failed_imports=True`` warns and yields None in its place.
    """
    if not imports:
        return None
    single = isinstance(imports, str)
    names = [imports] if single else imports
    if not isinstance(names, (list, tuple)):
        raise TypeError(f'custom imports must be a string or a list of strings, got {type(imports).__name__}')
    modules: list[ModuleType | None] = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f'custom import {name!r} is a {type(name).__name__}; each entry must be a '
                            'dotted module name string such as "my_pkg.my_module"')
        try:
            modules.append(importlib.import_module(name))
        except ImportError as exc:
            if not allow_failed_imports:
                raise ImportError(f'failed to import {name!r}: {exc}', name=name) from exc
            warnings.warn(f'{name} failed to import and is ignored ({exc})', UserWarning, stacklevel=2)
            modules.append(None)
    return modules[0] if single else modules


def get_object_from_string(obj_name: str) -> Any:
    """The object a dotted path names (``'torch.nn.ReLU'``), or None when nothing matches."""
    parts = iter(obj_name.split('.'))
    module_name = next(parts)
    module = None
    while True:
        try:
            module = importlib.import_module(module_name)
            part = next(parts)
        except ImportError:
            break
        except StopIteration:
            return module
        probe = getattr(module, part, None)
        if probe is not None and not isinstance(probe, ModuleType):
            obj: Any = probe
            for attr in parts:
                obj = getattr(obj, attr, None)
                if obj is None:
                    return None
            return obj
        module_name = f'{module_name}.{part}'
    return None


def apply_to(data: Any, expr: Callable[[Any], bool], apply_func: Callable[[Any], Any]) -> Any:
    """Apply ``apply_func`` to every leaf of nested dicts/lists/tuples for which ``expr`` holds."""
    if isinstance(data, dict):
        return type(data)({key: apply_to(value, expr, apply_func) for key, value in data.items()})
    if isinstance(data, tuple) and hasattr(data, '_fields'):  # namedtuple
        return type(data)(*(apply_to(item, expr, apply_func) for item in data))
    if isinstance(data, (tuple, list)):
        return type(data)(apply_to(item, expr, apply_func) for item in data)
    return apply_func(data) if expr(data) else data


def to_ntuple(n: int) -> Callable[[Any], Any]:
    """A function that repeats a scalar ``n`` times and passes iterables through unchanged."""

    def parse(x: Any) -> Any:
        if isinstance(x, collections.abc.Iterable):
            return x
        return tuple(itertools.repeat(x, n))

    return parse


to_1tuple = to_ntuple(1)
to_2tuple = to_ntuple(2)
to_3tuple = to_ntuple(3)
to_4tuple = to_ntuple(4)

# PEP 440 subset: release, optional pre-release, post-release, dev-release and local label.
_VERSION_PATTERN = re.compile(
    r'^\s*v?(?P<release>\d+(?:\.\d+)*)'
    r'(?:[-_.]?(?P<pre>a|alpha|b|beta|c|rc|pre|preview)[-_.]?(?P<pre_n>\d*))?'
    r'(?:(?:[-_.]?(?:post|rev|r)[-_.]?(?P<post_n>\d*))|(?:-(?P<post_implicit>\d+)))?'
    r'(?:[-_.]?(?P<dev>dev)[-_.]?(?P<dev_n>\d*))?'
    r'(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?\s*$', re.IGNORECASE)
_PRE_RANK = {'a': -3, 'alpha': -3, 'b': -2, 'beta': -2, 'c': -1, 'rc': -1, 'pre': -1, 'preview': -1}


@functools.lru_cache(maxsize=256)
def digit_version(version_str: str, length: int = 4) -> tuple[int, ...]:
    """A comparable tuple for a version string, as MMEngine's ``digit_version`` gives.

    The release is padded or cut to ``length`` numbers, then two more say what kind of
    release it is: ``(-3|-2|-1, n)`` for a/b/rc pre-releases, ``(-4, 0)`` for dev releases,
    ``(1, n)`` for post releases and ``(0, 0)`` for final ones; a local label (``+cu118``)
    is ignored. ``digit_version('2.1.0rc1') < digit_version('2.1.0')``.
    """
    match = _VERSION_PATTERN.match(version_str) if isinstance(version_str, str) else None
    if match is None:
        raise ValueError(f'cannot parse version {version_str!r}; expected a PEP 440 version such '
                         'as "1.2.3", "2.0.0rc1" or "2.1.0+cu118"')
    release = [int(part) for part in match['release'].split('.')][:length]
    release += [0] * (length - len(release))
    if match['pre']:
        release += [_PRE_RANK[match['pre'].lower()], int(match['pre_n'] or 0)]
    elif match['dev']:
        release += [-4, 0]
    elif match['post_n'] is not None or match['post_implicit']:
        release += [1, int(match['post_n'] or match['post_implicit'] or 0)]
    else:
        release += [0, 0]
    return tuple(release)
