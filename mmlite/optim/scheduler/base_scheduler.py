"""_ParamScheduler: the base of every parameter scheduler (lr, momentum, weight decay...)."""
from __future__ import annotations

import copy
import inspect
from typing import Any

from mmlite.logging import print_log

from ..optimizer import OptimWrapperDict

INF = int(1e9)

# What a checkpoint keeps: progress, never configuration (see _ParamScheduler).
_PROGRESS_KEYS = ('last_step', '_global_step', 'base_values', '_last_value')


def _plain(value: Any) -> Any:
    """A tensor hyper-parameter as a Python number, so checkpoints hold plain values."""
    if hasattr(value, 'item') and hasattr(value, 'numel') and value.numel() == 1:
        return value.item()
    return value


class _ParamScheduler:
    """Sets ``param_name`` of every param group of ``optimizer`` at each :meth:`step`.

    Active for steps ``begin <= step < end`` (epochs when ``by_epoch``, else iterations);
    several schedulers on one parameter chain: each one, inside its range, updates the
    value the others left (``_get_value`` is relative to the current value), so a warm-up
    followed by a decay starting at its ``begin`` -- or running alongside it -- composes.
    Every step-based scheduler also has ``_get_closed_form_value``: the value at
    ``last_step`` computed from ``base_values`` alone.

    Checkpoints hold progress only (``last_step``, ``_global_step``, ``base_values``,
    ``_last_value``, plus counters for plateau schedulers), never configuration such as
    ``begin``, ``end``, ``T_max`` or ``milestones``: these come from the config the run was
    resumed with. A deliberate improvement over MMEngine, which restores the old ``end``
    and so freezes the schedule when a finished run is extended. When the new config puts
    the resumed step inside a range the scheduler had already left (a larger ``end``), it
    jumps to its closed-form value there and continues the schedule as now configured.
    That jump ignores factors applied by other schedulers running at the same steps.

    Args:
        optimizer: a torch optimizer or an OptimWrapper (not an OptimWrapperDict: build one
            scheduler per item).
        param_name: the param group key to schedule, e.g. ``'lr'`` or ``'weight_decay'``.
        begin, end: the steps this scheduler is active for.
        last_step: the step to resume from the torch way; -1 to start.
        by_epoch: whether a step is an epoch (else an iteration).
        verbose: log each change.
    """

    _progress_keys: tuple[str, ...] = _PROGRESS_KEYS
    # Arguments measured in steps, multiplied by the epoch length in build_iter_from_epoch.
    _epoch_valued_args: tuple[str, ...] = ()

    def __init__(self, optimizer: Any, param_name: str, begin: int = 0, end: int = INF,
                 last_step: int = -1, by_epoch: bool = True, verbose: bool = False) -> None:
        self.optimizer = _check_optimizer(optimizer, type(self).__name__)
        self.param_name = param_name
        if end <= begin:
            raise ValueError(f'{type(self).__name__}: begin ({begin}) must be smaller than end '
                             f'({end})')
        self.begin = begin
        self.end = end
        self.by_epoch = by_epoch
        if not isinstance(last_step, int) or last_step < -1:
            raise ValueError(f'{type(self).__name__}: last_step must be an int >= -1, got {last_step!r}')
        self.base_values = _base_values(self.optimizer, param_name, last_step, type(self).__name__)
        self.last_step = last_step
        self._global_step = -1
        self.verbose = verbose
        self.step()

    @classmethod
    def build_iter_from_epoch(cls, *args: Any, begin: int = 0, end: int = INF,
                              by_epoch: bool = True, epoch_length: int | None = None,
                              **kwargs: Any) -> _ParamScheduler:
        """Build an iteration-based scheduler from epoch-valued arguments
        (``convert_to_iter_based=True`` in a config)."""
        if not by_epoch:
            raise ValueError(f'{cls.__name__}: only by_epoch=True schedulers can be converted '
                             'to iteration-based ones')
        if not isinstance(epoch_length, int) or epoch_length <= 0:
            raise ValueError(f'{cls.__name__}: epoch_length must be a positive int, got '
                             f'{epoch_length!r}')
        begin = int(begin * epoch_length)
        if end != INF:
            end = int(end * epoch_length)
        for name in cls._epoch_valued_args:
            value = kwargs.get(name)
            if isinstance(value, (list, tuple)):
                kwargs[name] = [v * epoch_length for v in value]
            elif value is not None:
                kwargs[name] = value * epoch_length
        return cls(*args, begin=begin, end=end, by_epoch=False, **kwargs)

    # ------------------------------------------------------------------ values
    def _get_value(self) -> list:
        """The next values, relative to the current ones (chainable)."""
        raise NotImplementedError

    def _get_closed_form_value(self) -> list | None:
        """The values at ``last_step`` from ``base_values`` alone; None if there is no such form."""
        return None

    def _write_values(self, values: list) -> None:
        for index, (group, value) in enumerate(zip(self.optimizer.param_groups, values)):
            group[self.param_name] = value
            if self.verbose:
                print_log(f'Adjusting parameter value of group {index} to {value:.4e}.',
                          logger='current')

    def get_last_value(self) -> list:
        """The values after the latest :meth:`step`."""
        return self._last_value

    def step(self) -> None:
        """Advance one step; inside ``[begin, end)`` update the parameter."""
        self._global_step += 1
        if self.begin <= self._global_step < self.end:
            self.last_step += 1
            self._write_values(self._get_value())
        self._last_value = [group[self.param_name] for group in self.optimizer.param_groups]

    # ------------------------------------------------------------- checkpoint
    def state_dict(self) -> dict:
        """Progress only, in plain Python values (see the class docstring).

        ``closed_form_value`` (this schedule's own value at ``last_step``) is no configuration
        to restore: it lets a resumed run see that its config changed the schedule.
        """
        state = {}
        for key in self._progress_keys:
            value = getattr(self, key)
            state[key] = [_plain(v) for v in value] if isinstance(value, list) else _plain(value)
        closed = self._get_closed_form_value() if self.last_step >= 0 else None
        if closed is not None:
            state['closed_form_value'] = [_plain(v) for v in closed]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore progress; configuration stays as constructed. Keys other than progress
        (as in MMEngine checkpoints, which also hold configuration) are ignored."""
        missing = [key for key in self._progress_keys if key not in state_dict]
        if missing:
            raise KeyError(f'{type(self).__name__}.load_state_dict: missing {missing}; a scheduler '
                           f'state holds {list(self._progress_keys)}')
        for key in self._progress_keys:
            setattr(self, key, copy.deepcopy(state_dict[key]))
        self._catch_up(state_dict.get('closed_form_value'))

    def _catch_up(self, saved_closed_form: list | None = None) -> None:
        """Jump to the closed form if the current range holds a step the scheduler skipped, or
        if the config changed the schedule under the current step (its closed form there no
        longer matches ``saved_closed_form``): later steps are relative to the current value."""
        if not self.begin <= self._global_step < self.end:
            return
        expected = self._global_step - self.begin
        if self.last_step == expected and (saved_closed_form is None or self.last_step < 0
                                           or self._get_closed_form_value() in (None, saved_closed_form)):
            return
        previous = self.last_step
        self.last_step = expected
        values = self._get_closed_form_value()
        if values is None:
            self.last_step = previous
            return
        self._write_values(values)
        self._last_value = [group[self.param_name] for group in self.optimizer.param_groups]

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(param_name={self.param_name!r}, begin={self.begin}, '
                f'end={self.end}, by_epoch={self.by_epoch}, last_step={self.last_step})')


def _check_optimizer(optimizer: Any, owner: str) -> Any:
    if isinstance(optimizer, OptimWrapperDict):
        raise TypeError(f'{owner} schedules one optimizer; for an OptimWrapperDict build one '
                        f'scheduler per item (optim_wrapper[{next(iter(optimizer.keys()), "name")!r}]),'
                        ' e.g. param_scheduler=dict(generator=[...], discriminator=[...])')
    if not hasattr(optimizer, 'param_groups'):
        raise TypeError(f'{owner} needs a torch optimizer or an OptimWrapper, got '
                        f'{type(optimizer).__name__}')
    return optimizer


def _base_values(optimizer: Any, param_name: str, last_step: int, owner: str) -> list:
    """The values each group started from, kept as ``initial_<param_name>`` in the group so
    that every scheduler of one parameter shares them."""
    initial_key = f'initial_{param_name}'
    for index, group in enumerate(optimizer.param_groups):
        if param_name not in group:
            raise KeyError(f'{owner}: param group {index} has no {param_name!r}; its keys are '
                           f'{sorted(k for k in group if k != "params")}')
        if last_step == -1:
            group.setdefault(initial_key, group[param_name])
        elif initial_key not in group:
            raise KeyError(f'{owner}: resuming with last_step={last_step} needs {initial_key!r} in '
                           f'param group {index}; start with last_step=-1')
    return [group[initial_key] for group in optimizer.param_groups]


def fixed_param_signature(cls: type) -> inspect.Signature:
    """The constructor signature of a scheduler whose mixin fixes ``param_name``, so that
    config checks (argument typos, missing arguments) see the real arguments."""
    for klass in cls.__mro__:
        if issubclass(klass, _ParamScheduler) and '__init__' in vars(klass):
            signature = inspect.signature(klass.__init__)
            return signature.replace(parameters=[
                p for name, p in signature.parameters.items() if name not in ('self', 'param_name')])
    return inspect.signature(cls.__init__)
