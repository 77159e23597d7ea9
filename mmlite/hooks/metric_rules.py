"""Whether a bigger or a smaller value of a metric is better, as MMEngine infers it from the name.

Shared by CheckpointHook (save_best) and EarlyStoppingHook (monitor), which both compare scores.
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Sequence

DEFAULT_GREATER_KEYS = ('acc', 'top', 'AR@', 'auc', 'precision', 'mAP', 'mDice', 'mIoU', 'mAcc',
                        'aAcc')
DEFAULT_LESS_KEYS = ('loss',)
RULES: dict[str, Callable[[float, float], bool]] = {'greater': operator.gt, 'less': operator.lt}


def infer_rule(key: str, greater_keys: Sequence[str] = DEFAULT_GREATER_KEYS,
               less_keys: Sequence[str] = DEFAULT_LESS_KEYS) -> str | None:
    """'greater' or 'less' for metric ``key`` (case-insensitive), or None if the name says neither.

    An exact match wins over a substring match, and greater keys are tried before less keys.
    """
    lowered = key.lower()
    greater = {k.lower() for k in greater_keys}
    less = {k.lower() for k in less_keys}
    if lowered in greater:
        return 'greater'
    if lowered in less:
        return 'less'
    if any(k in lowered for k in greater):
        return 'greater'
    if any(k in lowered for k in less):
        return 'less'
    return None


def check_rule(rule: str | None, owner: str) -> None:
    """Raise if ``rule`` is not None, 'greater' or 'less'; ``owner`` names the argument."""
    if rule is not None and rule not in RULES:
        raise ValueError(f'{owner} must be "greater", "less" or None (inferred from the metric '
                         f'name), got {rule!r}')
