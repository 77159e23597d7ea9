"""Calling a module's ``forward`` directly when ``nn.Module.__call__`` would do nothing more.

With no hooks registered, ``module(*args)`` runs two wrapper frames (``_wrapped_call_impl``,
``_call_impl``) that read half a dozen attributes through ``nn.Module.__getattr__``'s slow
attribute path before calling ``forward``: about 5k machine instructions per call, twice per
training iteration (the model and its data preprocessor), 0.8% of benchmarks/overhead.py's step.
:func:`plain_forward` gives the bound ``forward`` when that is all the call would run -- the
same conditions ``_call_impl`` tests for its own fast path -- and None otherwise, so hooks
(the module's or the global ones), ``module.compile()``, ``torch.jit.trace`` and classes with
a ``__call__`` of their own keep the full call.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

# What _call_impl's fast path looks at: the module's four hook dicts, the four global ones.
_HOOK_KEYS = ('_backward_hooks', '_backward_pre_hooks', '_forward_hooks', '_forward_pre_hooks')
_GLOBAL_HOOK_NAMES = ('_global_backward_pre_hooks', '_global_backward_hooks',
                      '_global_forward_hooks', '_global_forward_pre_hooks')


def _global_hook_dicts() -> tuple | None:
    """torch's global hook dicts, or None when this torch keeps them elsewhere (then every
    call goes through ``__call__``: a missed hook would be a silent error)."""
    from torch.nn.modules import module as module_impl
    hook_dicts = tuple(getattr(module_impl, name, None) for name in _GLOBAL_HOOK_NAMES)
    instance = vars(nn.Module())
    fast_path = nn.Module._call_impl.__code__.co_names
    if (not all(isinstance(d, dict) for d in hook_dicts)
            or not all(isinstance(instance.get(key), dict) for key in _HOOK_KEYS)
            or getattr(nn.Module, '_compiled_call_impl', False) is not None  # set per instance
            or not set(_HOOK_KEYS + _GLOBAL_HOOK_NAMES) <= set(fast_path)):
        return None
    return hook_dicts


_GLOBAL_HOOKS = _global_hook_dicts()
_MODULE_CALL, _MODULE_CALL_IMPL = nn.Module.__call__, nn.Module._call_impl
_tracing = torch._C._get_tracing_state


def plain_forward(module: nn.Module) -> Callable[..., Any] | None:
    """``module.forward`` if calling ``module`` would only call it; else None (call the module)."""
    if _GLOBAL_HOOKS is None:  # this torch keeps its hooks where this check cannot see them
        return None
    cls = type(module)
    if cls.__call__ is not _MODULE_CALL or cls._call_impl is not _MODULE_CALL_IMPL:
        return None
    state = vars(module)
    if (any(map(state.get, _HOOK_KEYS)) or any(_GLOBAL_HOOKS)
            or state.get('_compiled_call_impl') is not None or _tracing()):
        return None
    return module.forward

