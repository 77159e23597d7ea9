"""Registering hooks by priority and calling them; the Runner inherits this.

Per point, the runner keeps the list of bound methods of the hooks that override it, so
calling a point no hook cares about costs one dict lookup, and a hook is never called
at a point it leaves alone.
"""
from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

from mmlite.hooks import Hook
from mmlite.hooks.progress_hook import progress_bar_wanted
from mmlite.registry import HOOKS, config_key_path

from .priority import get_priority

_DEFAULT_HOOKS = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    logger=dict(type='LoggerHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1),
    # mmlite's addition: a NaN/inf loss stops training (None turns it off; see the hook).
    check_invalid_loss=dict(type='CheckInvalidLossHook'),
)
# Keyword arguments the loops pass; a custom point's method that starts with one of these
# takes no runner argument (the form MMEngine's tutorial shows for custom points).
_POINT_KWARGS = {'batch_idx', 'data_batch', 'outputs', 'metrics', 'checkpoint'}
# The per-iteration points, whose arguments the loops pass by position (see iter_callers).
ITER_POINT_ARGS = {f'{when}_{mode}_iter': ('batch_idx', 'data_batch', 'outputs')[:2 + (when == 'after')]
                   for when in ('before', 'after') for mode in ('train', 'val', 'test')}
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _caller(hook: Any, point: str) -> Callable:
    method = getattr(hook, point)
    if point in Hook.stages:
        return method
    try:
        params = list(inspect.signature(method).parameters.values())
    except (TypeError, ValueError):
        return method
    if params and params[0].kind is not params[0].VAR_POSITIONAL and params[0].name in _POINT_KWARGS:
        return lambda runner, **kwargs: method(**kwargs)
    return method


def _positional_caller(hook: Any, point: str) -> Callable:
    """``hook``'s method for iteration ``point``, callable as ``(runner, batch_idx, data_batch
    [, outputs])``: the method itself when its parameters have those names in that order (every
    stock hook, and hooks written as MMEngine documents them), else a wrapper that passes them
    by keyword, as MMEngine does."""
    method = getattr(hook, point)
    names = ITER_POINT_ARGS[point]
    try:
        params = list(inspect.signature(method).parameters.values())[:1 + len(names)]
    except (TypeError, ValueError):
        params = []
    if (len(params) == 1 + len(names) and all(p.kind in _POSITIONAL for p in params)
            and tuple(p.name for p in params[1:]) == names):
        return method
    return lambda runner, *args: method(runner, **dict(zip(names, args)))


# The key under which iter_callers' cache keeps the after_train_iter plan (see train_iter_plan).
_TRAIN_ITER_PLAN = 'after_train_iter/plan'


def _gap_function(hook: Any) -> Callable | None:
    """``hook._after_train_iter_gap`` when it describes the ``after_train_iter`` the hook uses:
    a subclass (or instance) with its own ``after_train_iter`` is called every iteration."""
    if 'after_train_iter' in getattr(hook, '__dict__', ()):  # set on the instance
        return None
    for klass in type(hook).__mro__:
        if '_after_train_iter_gap' in vars(klass):
            method = vars(klass).get('after_train_iter')
            return hook._after_train_iter_gap if type(hook).after_train_iter is method else None
    return None


class HookDispatch:
    """Hook registration, ordering and calling for the Runner."""

    def _init_hooks(self) -> None:
        self._hooks: list[Hook] = []
        self._callers: dict[str, list[Callable]] = {}
        self._iter_callers: dict[str, list[Callable]] = {}  # the loops read it directly

    @property
    def hooks(self) -> list[Hook]:
        return self._hooks

    def register_hook(self, hook: Hook | dict, priority: int | str | None = None) -> None:
        """Insert ``hook`` after every registered hook of the same or higher priority."""
        if isinstance(hook, dict):
            cfg = copy.deepcopy(dict(hook))
            priority = cfg.pop('priority', priority)
            with config_key_path(f'hooks ({cfg.get("type")})'):
                hook = HOOKS.build(cfg)
        elif not isinstance(hook, Hook):
            raise TypeError(f'a hook must be a Hook or a config dict, got {type(hook).__name__}; derive '
                            'it from mmlite.hooks.Hook')
        if priority is not None:
            hook.priority = priority
        value = get_priority(hook.priority)
        for i in range(len(self._hooks) - 1, -1, -1):
            if value >= get_priority(self._hooks[i].priority):
                position = i + 1
                break
        else:
            position = 0
        self._hooks.insert(position, hook)
        self._callers.clear()
        self._iter_callers.clear()

    def register_default_hooks(self, hooks: dict | None = None) -> None:
        """MMEngine's six default hooks (plus ``progress_bar`` on a terminal); ``hooks`` replaces
        entries by name (None removes one)."""
        merged = dict(_DEFAULT_HOOKS)
        if progress_bar_wanted(self):
            merged['progress_bar'] = dict(type='ProgressBarHook')
        for name, hook in (hooks or {}).items():
            merged[name] = hook
        for hook in merged.values():
            if hook is not None:
                self.register_hook(hook)

    def register_custom_hooks(self, hooks: list | None) -> None:
        for hook in hooks or []:
            self.register_hook(hook)

    def register_hooks(self, default_hooks: dict | None = None, custom_hooks: list | None = None) -> None:
        self.register_default_hooks(default_hooks)
        self.register_custom_hooks(custom_hooks)

    def call_hook(self, fn_name: str, **kwargs: Any) -> None:
        """Call ``fn_name`` of every hook that overrides it, in priority order."""
        callers = self._callers.get(fn_name)
        if callers is None:
            callers = self._callers[fn_name] = [_caller(hook, fn_name)
                                                for hook in self._hooks_at(fn_name)]
        for call in callers:
            call(self, **kwargs)

    call_hooks = call_hook  # the spelling MMEngine's runner tutorial uses

    def iter_callers(self, point: str) -> list[Callable]:
        """What ``call_hook(point, ...)`` calls for an iteration point, taking the arguments by
        position: the loops call these directly, sparing a keyword dict per hook and iteration."""
        callers = self._iter_callers.get(point)
        if callers is None:
            callers = self._iter_callers[point] = [_positional_caller(hook, point)
                                                   for hook in self._hooks_at(point)]
        return callers

    def train_iter_plan(self) -> tuple[list[Callable], list[Callable], list[Callable]]:
        """``(every, all, gaps)`` for ``after_train_iter``: the callers of hooks that act at
        every iteration, all callers (as ``iter_callers``), and the ``_after_train_iter_gap``
        of the others -- stock hooks that act only every so often (LoggerHook, a by-epoch
        CheckpointHook...). A training loop calls ``all`` at the first iteration of an epoch
        and whenever a gap says one of those hooks acts, and ``every`` in between: the hooks
        left out would have returned at once."""
        plan = self._iter_callers.get(_TRAIN_ITER_PLAN)
        if plan is None:
            callers = self.iter_callers('after_train_iter')
            gaps = [_gap_function(hook) for hook in self._hooks_at('after_train_iter')]
            plan = self._iter_callers[_TRAIN_ITER_PLAN] = (
                [call for call, gap in zip(callers, gaps) if gap is None], callers,
                [gap for gap in gaps if gap is not None])
        return plan

    def _hooks_at(self, point: str) -> list:
        """The registered hooks that act at ``point``, in priority order."""
        return [hook for hook in self._hooks
                if (hook.overrides(point) if isinstance(hook, Hook) else hasattr(hook, point))]

    def get_hooks_info(self) -> str:
        """A table of the hooks each point calls, with their priorities."""
        lines = []
        for stage in Hook.stages:
            names = [f'({get_priority(h.priority):<3}) {type(h).__name__}' for h in self._hooks
                     if h.overrides(stage)]
            if names:
                lines.append(f'{stage}:\n' + '\n'.join(f'    {n}' for n in names))
        return '\n'.join(lines) + '\n' + '-' * 60
