"""Shared fixtures for the model tests: a tiny stand-in for mmlite.optim.OptimWrapper."""
from contextlib import contextmanager

import pytest
import torch


class FakeOptimWrapper:
    """Just the two methods BaseModel.train_step uses, over a torch SGD."""

    def __init__(self, params, lr=0.1):
        self.optimizer = torch.optim.SGD(params, lr=lr)
        self.context_models = []
        self.inside_context = False
        self.losses = []

    @contextmanager
    def optim_context(self, model):
        self.context_models.append(model)
        self.inside_context = True
        try:
            yield
        finally:
            self.inside_context = False

    def update_params(self, loss):
        self.losses.append(loss)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()


@pytest.fixture
def fake_optim_wrapper():
    return FakeOptimWrapper
