"""BaseModel.train_step runs hook-free modules' forward directly, and anything else through
``nn.Module.__call__``: every kind of hook, compile and tracing keeps working."""
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmlite.model import BaseModel
from mmlite.model.base_model.direct_call import plain_forward
from mmlite.optim import OptimWrapper


class Net(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        logits = self.linear(inputs)
        return dict(loss=F.cross_entropy(logits, data_samples)) if mode == 'loss' else logits


def batch():
    return dict(inputs=torch.randn(5, 4), data_samples=torch.tensor([0, 1, 2, 0, 1]))


def step(model):
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    return model.train_step(batch(), wrapper)


def called_through_call(model) -> list[str]:
    """The modules a train_step of ``model`` calls through nn.Module.__call__, in order."""
    names = []
    call_impl = nn.Module._call_impl.__code__

    def profile(frame, event, arg):
        if event == 'call' and frame.f_code is call_impl:
            names.append(type(frame.f_locals['self']).__name__)

    sys.setprofile(profile)
    try:
        step(model)
    finally:
        sys.setprofile(None)
    return names


def test_hook_free_modules_are_called_through_forward():
    model = Net()
    assert plain_forward(model) == model.forward
    assert plain_forward(model.data_preprocessor) == model.data_preprocessor.forward
    # Only the Linear inside forward goes through __call__ (the user's forward calls it).
    assert called_through_call(model) == ['Linear']


# torch warns that backward hooks on modules returning dicts do not fire: only the route matters.
@pytest.mark.filterwarnings('ignore::UserWarning')
def test_every_hook_kind_still_fires():
    model = Net()
    seen = []
    handles = [
        model.register_forward_pre_hook(lambda m, args, kwargs: seen.append('pre') or None,
                                        with_kwargs=True),
        model.register_forward_hook(lambda m, args, out: seen.append('post')),
        model.data_preprocessor.register_forward_hook(lambda m, args, out: seen.append('data')),
    ]
    step(model)
    assert seen == ['data', 'pre', 'post']
    for handle in handles:
        handle.remove()
    assert plain_forward(model) is not None

    backward = model.register_full_backward_hook(lambda m, gin, gout: None)
    assert called_through_call(model) == ['Net', 'Linear']
    backward.remove()
    global_backward = nn.modules.module.register_module_full_backward_hook(lambda m, gin, gout: None)
    try:
        assert called_through_call(model) == ['BaseDataPreprocessor', 'Net', 'Linear']
    finally:
        global_backward.remove()

    global_handle = nn.modules.module.register_module_forward_hook(
        lambda m, args, out: seen.append(type(m).__name__))
    try:
        assert plain_forward(model) is None and plain_forward(model.data_preprocessor) is None
        step(model)
        assert {'BaseDataPreprocessor', 'Net'} <= set(seen)
    finally:
        global_handle.remove()


@pytest.mark.filterwarnings('ignore::FutureWarning')  # torch.jit.trace is deprecated
def test_own_call_compile_and_tracing_keep_the_full_call():
    class OwnCall(Net):
        def __call__(self, *args, **kwargs):
            self.called = True
            return super().__call__(*args, **kwargs)

    model = OwnCall()
    assert plain_forward(model) is None
    step(model)
    assert model.called

    compiled = Net()
    compiled.compile(backend=lambda graph, inputs: graph.forward)  # module.compile() sets the call
    assert plain_forward(compiled) is None

    replaced = Net()  # what Runner(compile=True) does: an instance-level forward is the one run
    replaced.forward = lambda *args, **kwargs: dict(loss=torch.zeros((), requires_grad=True))
    assert plain_forward(replaced) == replaced.forward
    assert float(step(replaced)['loss']) == 0.0

    traced = []

    class Probe(nn.Module):
        def forward(self, x):
            traced.append(plain_forward(self))
            return x * 2

    torch.jit.trace(Probe(), torch.ones(2), check_trace=False)
    assert traced and all(forward is None for forward in traced)
