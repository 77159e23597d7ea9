"""Compose: run a list of transforms on a sample; a transform returning None drops it."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mmlite.registry import TRANSFORMS


@TRANSFORMS.register_module()
class Compose:
    """Apply transforms in order.

    Args:
        transforms: callables, or configs built from the TRANSFORMS registry. None or
            an empty list gives the identity.
    """

    def __init__(self, transforms: Sequence[dict | Callable] | None) -> None:
        self.transforms: list[Callable] = []
        for position, transform in enumerate(transforms or []):
            if isinstance(transform, dict):
                transform = TRANSFORMS.build(transform)
            if not callable(transform):
                raise TypeError(f'pipeline entry {position} must be a callable or a TRANSFORMS '
                                f'config dict, got {type(transform).__name__}: {transform!r}')
            self.transforms.append(transform)

    def __call__(self, data: Any) -> Any:
        """The transformed sample, or None as soon as a transform returns None."""
        for transform in self.transforms:
            data = transform(data)
            if data is None:
                return None
        return data

    def __repr__(self) -> str:
        body = ''.join(f'\n    {transform}' for transform in self.transforms)
        return f'{type(self).__name__}({body}\n)'
