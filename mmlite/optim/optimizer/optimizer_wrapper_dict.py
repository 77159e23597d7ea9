"""OptimWrapperDict: several named optimizer wrappers (a GAN's generator and discriminator)."""
from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from contextlib import contextmanager
from typing import Any, NoReturn

from torch import nn

from .optimizer_wrapper import OptimWrapper


class OptimWrapperDict(OptimWrapper):
    """A read-only mapping of name -> :class:`OptimWrapper`, e.g. ``generator`` and
    ``discriminator``, that the runner, hooks and checkpoints treat as one wrapper.

    Updating is per item (``optim_wrapper['generator'].update_params(loss)``): which loss
    updates which network is the model's decision, so the dict-wide ``update_params``,
    ``step``, ``zero_grad``, ``backward`` and ``optim_context`` raise, saying so. Logged
    hyper-parameters get the item's name as prefix (``generator.lr``).
    """

    def __init__(self, **optim_wrappers: OptimWrapper) -> None:
        for key, value in optim_wrappers.items():
            if not isinstance(value, OptimWrapper):
                raise TypeError(f'OptimWrapperDict takes OptimWrapper instances, got '
                                f'{key}={type(value).__name__}')
        self.optim_wrappers = optim_wrappers

    def _per_item(self, method: str) -> NoReturn:
        names = ', '.join(map(repr, self.optim_wrappers)) or 'none'
        example = next(iter(self.optim_wrappers), 'generator')
        raise RuntimeError(
            f'OptimWrapperDict.{method}() cannot know which optimizer you mean; call it on an '
            f'item instead, e.g. optim_wrapper[{example!r}].{method}(...). Items: {names}')

    def update_params(self, loss: Any, step_kwargs: dict | None = None,
                      zero_kwargs: dict | None = None) -> NoReturn:
        self._per_item('update_params')

    def backward(self, loss: Any, **kwargs: Any) -> NoReturn:
        self._per_item('backward')

    def step(self, **kwargs: Any) -> NoReturn:
        self._per_item('step')

    def zero_grad(self, **kwargs: Any) -> NoReturn:
        self._per_item('zero_grad')

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        self._per_item('optim_context')
        yield  # pragma: no cover - unreachable, keeps this a generator

    def initialize_count_status(self, model: nn.Module, init_counts: int, max_counts: int) -> None:
        """Forwarded to every item."""
        for optim_wrapper in self.optim_wrappers.values():
            optim_wrapper.initialize_count_status(model, init_counts, max_counts)

    @property
    def param_groups(self) -> dict[str, list[dict]]:
        """``{name: that item's param_groups}``."""
        return {name: wrapper.param_groups for name, wrapper in self.optim_wrappers.items()}

    @property
    def defaults(self) -> dict[str, dict]:
        return {name: wrapper.defaults for name, wrapper in self.optim_wrappers.items()}

    @property
    def inner_count(self) -> dict[str, int]:
        return {name: wrapper.inner_count for name, wrapper in self.optim_wrappers.items()}

    def get_lr(self) -> dict[str, list]:
        """``{'generator.lr': [...], 'discriminator.lr': [...]}``."""
        lrs = {}
        for name, wrapper in self.optim_wrappers.items():
            for key, value in wrapper.get_lr().items():
                lrs[f'{name}.{key}'] = value
        return lrs

    def get_momentum(self) -> dict[str, list]:
        """``{'generator.momentum': [...], ...}``."""
        return {f'{name}.momentum': wrapper.get_momentum()['momentum']
                for name, wrapper in self.optim_wrappers.items()}

    def state_dict(self) -> dict[str, dict]:
        """``{name: that item's state_dict}``."""
        return {name: wrapper.state_dict() for name, wrapper in self.optim_wrappers.items()}

    def load_state_dict(self, state_dict: dict[str, dict]) -> None:
        """Load each item's state; names unknown here are an error naming both sides."""
        unknown = [name for name in state_dict if name not in self.optim_wrappers]
        if unknown:
            raise KeyError(f'OptimWrapperDict.load_state_dict: state for {unknown} has no '
                           f'matching item; items are {list(self.optim_wrappers)}')
        for name, item_state in state_dict.items():
            self.optim_wrappers[name].load_state_dict(item_state)

    def items(self) -> ItemsView[str, OptimWrapper]:
        return self.optim_wrappers.items()

    def values(self) -> ValuesView[OptimWrapper]:
        return self.optim_wrappers.values()

    def keys(self) -> KeysView[str]:
        return self.optim_wrappers.keys()

    def __getitem__(self, key: str) -> OptimWrapper:
        if key not in self.optim_wrappers:
            raise KeyError(f'OptimWrapperDict has no item {key!r}; items are '
                           f'{list(self.optim_wrappers)}')
        return self.optim_wrappers[key]

    def __contains__(self, key: str) -> bool:
        return key in self.optim_wrappers

    def __len__(self) -> int:
        return len(self.optim_wrappers)

    def __iter__(self) -> Iterator[str]:
        return iter(self.optim_wrappers)

    def __repr__(self) -> str:
        return ''.join(f'name: {name}\n{wrapper!r}' for name, wrapper in self.optim_wrappers.items())
