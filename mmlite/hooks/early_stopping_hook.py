"""EarlyStoppingHook: ends training when a validation metric stops improving."""
from __future__ import annotations

import warnings
from math import inf, isfinite

from mmlite.registry import HOOKS

from .hook import Hook
from .metric_rules import DEFAULT_GREATER_KEYS, DEFAULT_LESS_KEYS, RULES, check_rule, infer_rule


@HOOKS.register_module()
class EarlyStoppingHook(Hook):
    """Set ``runner.train_loop.stop_training`` when ``monitor`` has not improved by at least
    ``min_delta`` for ``patience`` validations, reached ``stopping_threshold``, or (with
    ``check_finite``) became NaN or infinite.

    Args:
        monitor: the metric key to watch, e.g. 'accuracy/top1'.
        rule: 'greater' or 'less' is better; None infers it from the key name.
        min_delta: the smallest change that counts as an improvement.
        strict: raise when ``monitor`` is missing from the metrics (else warn and skip).
        check_finite: stop when the metric is NaN or infinite.
        patience: validations without improvement before stopping.
        stopping_threshold: stop as soon as the metric is better than this.
    """

    priority = 'LOWEST'
    rule_map = RULES
    _default_greater_keys = list(DEFAULT_GREATER_KEYS)
    _default_less_keys = list(DEFAULT_LESS_KEYS)

    def __init__(self, monitor: str, rule: str | None = None, min_delta: float = 0.1,
                 strict: bool = False, check_finite: bool = True, patience: int = 5,
                 stopping_threshold: float | None = None) -> None:
        check_rule(rule, 'EarlyStoppingHook rule')
        if rule is None:
            rule = infer_rule(monitor, self._default_greater_keys, self._default_less_keys)
            if rule is None:
                raise ValueError(f'EarlyStoppingHook cannot tell whether a greater or a smaller '
                                 f'{monitor!r} is better; set rule="greater" or rule="less"')
        self.monitor = monitor
        self.rule = rule
        # Signed so that "best + min_delta" is the value an improvement must reach.
        self.min_delta = min_delta if rule == 'greater' else -min_delta
        self.strict = strict
        self.check_finite = check_finite
        self.patience = patience
        self.stopping_threshold = stopping_threshold
        self.wait_count = 0
        self.best_score = -inf if rule == 'greater' else inf

    def before_train(self, runner) -> None:
        if not hasattr(runner.train_loop, 'stop_training'):
            raise AttributeError(f'EarlyStoppingHook needs a train loop with a "stop_training" '
                                 f'flag; {type(runner.train_loop).__name__} has none')

    def after_val_epoch(self, runner, metrics: dict[str, float] | None = None) -> None:
        metrics = metrics or {}
        if self.monitor not in metrics:
            if self.strict:
                raise RuntimeError(f'EarlyStoppingHook monitor {self.monitor!r} is not among the '
                               f'metrics {sorted(metrics)}; fix monitor or set strict=False')
            warnings.warn(f'EarlyStoppingHook skipped: the metrics {sorted(metrics)} do not '
                          f'include monitor {self.monitor!r}', stacklevel=2)
            return
        stop, reason = self._check_stop_condition(float(metrics[self.monitor]))
        if stop:
            runner.train_loop.stop_training = True
            runner.logger.info(reason)

    def _check_stop_condition(self, score: float) -> tuple[bool, str]:
        better = self.rule_map[self.rule]
        if self.check_finite and not isfinite(score):
            return True, (f'Monitored metric {self.monitor} = {score} is not finite. Previous '
                          f'best value was {self.best_score:.3f}.')
        if self.stopping_threshold is not None and better(score, self.stopping_threshold):
            self.best_score = score
            return True, (f'Stopping threshold reached: {self.monitor} = {score} is '
                          f'{self.rule} than {self.stopping_threshold}.')
        if better(self.best_score + self.min_delta, score):
            self.wait_count += 1
            if self.wait_count >= self.patience:
                return True, (f'The monitored metric did not improve in the last '
                              f'{self.wait_count} records. Best score: {self.best_score:.3f}.')
            return False, ''
        self.best_score = score
        self.wait_count = 0
        return False, ''
