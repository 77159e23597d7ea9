"""ParamSchedulerHook: steps the parameter schedulers at the points their ``by_epoch`` says."""
from __future__ import annotations

from mmlite.registry import HOOKS

from .hook import DATA_BATCH, Hook


def _all_schedulers(param_schedulers) -> list:
    """Every scheduler of ``runner.param_schedulers`` (a list, or a dict name -> list)."""
    if param_schedulers is None:
        return []
    groups = param_schedulers.values() if isinstance(param_schedulers, dict) else [param_schedulers]
    schedulers = []
    for group in groups:
        if not isinstance(group, (list, tuple)):
            raise TypeError(f'runner.param_schedulers must be a list of schedulers or a dict of '
                            f'such lists, got a {type(group).__name__} ({group!r})')
        schedulers.extend(group)
    return schedulers


def _built_schedulers(param_schedulers) -> list | None:
    """Like :func:`_all_schedulers`, but None while ``param_schedulers`` is still a config."""
    if param_schedulers is None:
        return []
    groups = param_schedulers.values() if isinstance(param_schedulers, dict) else [param_schedulers]
    if not all(isinstance(group, (list, tuple)) for group in groups):
        return None
    schedulers = [s for group in groups for s in group]
    return schedulers if all(callable(getattr(s, 'step', None)) for s in schedulers) else None


@HOOKS.register_module()
class ParamSchedulerHook(Hook):
    """Step iteration-based schedulers after every training iteration, epoch-based ones after
    every training epoch, and metric-driven ones (``need_val_args``, e.g. ReduceOnPlateau)
    with the metrics after every validation.

    A metric-driven scheduler is also stepped without metrics at its regular point; that only
    advances its step counter, as ReduceOnPlateau expects.
    """

    priority = 'LOW'
    # (runner.param_schedulers, the by-iteration ones among them); a class default, so
    # subclasses need not call __init__.
    _iter_schedulers: tuple = (None, ())

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: dict | None = None) -> None:
        for scheduler in self._by_iteration(runner):
            scheduler.step()

    def _after_train_iter_gap(self, runner, batch_idx: int) -> int | None:
        """1 while there is an iteration-based scheduler to step, else None: the loop then
        leaves this hook out of after_train_iter (see Runner.train_iter_plan) until the
        next epoch, when it asks again."""
        return 1 if self._by_iteration(runner) else None

    def _by_iteration(self, runner) -> list:
        """The iteration-based schedulers, worked out again only when the runner's schedulers
        object changes."""
        source, schedulers = self._iter_schedulers
        if source is not runner.param_schedulers:
            schedulers = [s for s in _all_schedulers(runner.param_schedulers) if not s.by_epoch]
            self._iter_schedulers = (runner.param_schedulers, schedulers)
        return schedulers

    def after_train_epoch(self, runner) -> None:
        for scheduler in _all_schedulers(runner.param_schedulers):
            if scheduler.by_epoch:
                scheduler.step()

    def after_val_epoch(self, runner, metrics: dict[str, float] | None = None) -> None:
        if metrics is None:
            return
        schedulers = _built_schedulers(runner.param_schedulers)
        # A validation outside training may see the schedulers still as configs.
        if schedulers is None:
            return
        for scheduler in schedulers:
            if getattr(scheduler, 'need_val_args', False):
                scheduler.step(metrics)
