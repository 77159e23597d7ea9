"""BaseOptimWrapper: the interface the loops and hooks talk to, whatever does the updating."""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any


class BaseOptimWrapper(metaclass=ABCMeta):
    """Wraps an optimizer so that a model's ``train_step`` updates parameters in one call.

    Subclasses decide how a loss becomes an update (accumulation, loss scaling, clipping);
    the hyper-parameter views (``param_groups``, ``get_lr``...) are shared here.
    """

    def __init__(self, optimizer: Any) -> None:
        if not hasattr(optimizer, 'param_groups'):
            raise TypeError(f'{type(self).__name__} wraps a torch.optim.Optimizer (something with '
                            f'param_groups), got {type(optimizer).__name__}')
        self.optimizer = optimizer
        # FSDP2-sharded parameters: state_dict() gathers whole tensors for checkpoints.
        from mmlite.dist.full_state import attach_optimizer_hooks
        attach_optimizer_hooks(optimizer)

    @abstractmethod
    def update_params(self, *args: Any, **kwargs: Any) -> None:
        """Turn a loss into a parameter update."""

    @abstractmethod
    def backward(self, loss: Any, **kwargs: Any) -> None:
        """Compute gradients of ``loss``."""

    @abstractmethod
    def zero_grad(self, **kwargs: Any) -> None:
        """Clear the gradients."""

    @abstractmethod
    def step(self, **kwargs: Any) -> None:
        """Apply one optimizer step."""

    def state_dict(self) -> dict:
        """The optimizer's state, ready for a checkpoint."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.optimizer.load_state_dict(state_dict)

    @property
    def param_groups(self) -> list[dict]:
        """The wrapped optimizer's parameter groups (the same list, not a copy)."""
        return self.optimizer.param_groups

    @property
    def defaults(self) -> dict:
        """The wrapped optimizer's default hyper-parameters."""
        return self.optimizer.defaults

    def get_lr(self) -> dict[str, list]:
        """``{'lr': [lr of each param group]}``."""
        return {'lr': [group['lr'] for group in self.param_groups]}

    def get_momentum(self) -> dict[str, list]:
        """``{'momentum': [...]}``: ``momentum``, else ``betas[0]`` (Adam-style), else 0."""
        momentum = []
        for group in self.param_groups:
            if 'momentum' in group:
                momentum.append(group['momentum'])
            elif 'betas' in group:
                momentum.append(group['betas'][0])
            else:
                momentum.append(0)
        return {'momentum': momentum}
