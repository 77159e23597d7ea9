"""BaseTTAModel: run a model on several augmented views of a test batch and merge the predictions."""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

from torch import nn

from mmlite.registry import MODELS


class BaseTTAModel(nn.Module, metaclass=ABCMeta):
    """Test-time augmentation: the batch holds one entry per view; merge with :meth:`merge_preds`.

    A dict batch ``{'inputs': [view0, view1, ...], 'data_samples': [view0, ...]}`` (or a tuple of
    such lists) is split into one batch per view; each goes through ``module.test_step`` and the
    per-sample predictions of all views are handed to ``merge_preds`` together.

    Args:
        module: the model (or its config, built from MODELS).
    """

    def __init__(self, module: dict | nn.Module) -> None:
        super().__init__()
        if isinstance(module, nn.Module):
            self.module = module
        elif isinstance(module, dict):
            self.module = MODELS.build(module)
        else:
            raise TypeError(f'{type(self).__name__}: module must be an nn.Module or a config dict, '
                            f'got {type(module).__name__}')

    @abstractmethod
    def merge_preds(self, data_samples_list: list[list[Any]]) -> list[Any]:
        """Merge the predictions of each sample over its views: ``data_samples_list[i]`` is sample i."""

    def test_step(self, data: Any) -> list[Any]:
        if isinstance(data, dict):
            num_views = len(next(iter(data.values())))
            views = [{key: value[i] for key, value in data.items()} for i in range(num_views)]
        elif isinstance(data, (list, tuple)):
            num_views = len(data[0])
            views = [[item[i] for item in data] for i in range(num_views)]
        else:
            raise TypeError(f'{type(self).__name__}.test_step: a batch must be a dict or a tuple/list of '
                            f'per-view lists, got {type(data).__name__}')
        predictions = [self.module.test_step(view) for view in views]
        return self.merge_preds(list(zip(*predictions)))

    def val_step(self, data: Any) -> list[Any]:
        return self.test_step(data)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)
