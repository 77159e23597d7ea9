"""Helpers for reading evaluation results."""
from __future__ import annotations

from typing import Any


def get_metric_value(indicator: str, metrics: dict) -> Any:
    """Find the value of ``indicator`` in ``metrics``.

    ``'accuracy/top1'`` must match a key exactly; a bare ``'top1'`` matches the one key
    whose last ``/``-part it is. Used by hooks that track the best checkpoint.
    """
    if '/' in indicator:
        if indicator in metrics:
            return metrics[indicator]
        raise ValueError(f'metric {indicator!r} is not among the evaluation results '
                         f'{sorted(metrics)}')
    matched = [key for key in metrics if key.split('/')[-1] == indicator]
    if not matched:
        raise ValueError(f'no metric named {indicator!r} among the evaluation results '
                         f'{sorted(metrics)}')
    if len(matched) > 1:
        raise ValueError(f'metric {indicator!r} is ambiguous: it matches {matched}; '
                         'write the full name with its prefix')
    return metrics[matched[0]]
