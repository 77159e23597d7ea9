"""BaseModel: train/val/test steps with dict and tuple batches, parse_losses, device tracking."""
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import SGD

from mmlite.model import BaseDataPreprocessor, BaseModel, ImgDataPreprocessor
from mmlite.registry import MODELS


class DictModel(BaseModel):
    """forward(inputs, labels, data_samples, mode): what a dict batch unpacks into."""

    def __init__(self, data_preprocessor=None):
        super().__init__(data_preprocessor)
        self.fc = nn.Linear(4, 3)

    def forward(self, inputs, labels=None, data_samples=None, mode='tensor'):
        logits = self.fc(inputs.flatten(1))
        if mode == 'loss':
            return dict(loss_cls=F.cross_entropy(logits, labels), acc=(logits.argmax(1) == labels).float())
        if mode == 'predict':
            return logits.argmax(1)
        return logits


def test_default_preprocessor_and_config_preprocessor():
    assert type(DictModel().data_preprocessor) is BaseDataPreprocessor
    model = DictModel(data_preprocessor=dict(type='ImgDataPreprocessor', mean=[1.0], std=[2.0]))
    assert isinstance(model.data_preprocessor, ImgDataPreprocessor)
    with pytest.raises(TypeError, match='data_preprocessor must be a config dict or an nn.Module'):
        DictModel(data_preprocessor='ImgDataPreprocessor')


def test_train_step_with_dict_batch_updates_params_and_returns_detached_log_vars(fake_optim_wrapper):
    torch.manual_seed(0)
    model = DictModel()
    wrapper = fake_optim_wrapper(model.parameters(), lr=0.5)
    batch = dict(inputs=torch.randn(8, 1, 2, 2), labels=torch.randint(0, 3, (8,)))
    before = model.fc.weight.clone()
    log_vars = model.train_step(batch, wrapper)
    assert not torch.equal(before, model.fc.weight)
    assert wrapper.context_models == [model]
    assert list(log_vars) == ['loss', 'loss_cls', 'acc']
    assert all(isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad
               for v in log_vars.values())
    # 'acc' is logged but not summed into the loss.
    assert torch.equal(log_vars['loss'], log_vars['loss_cls'])
    assert wrapper.losses[0].requires_grad


def test_forward_runs_inside_optim_context(fake_optim_wrapper):
    seen = []

    class Spy(DictModel):
        def forward(self, *args, **kwargs):
            seen.append(wrapper.inside_context)
            return super().forward(*args, **kwargs)

    model = Spy()
    wrapper = fake_optim_wrapper(model.parameters())
    model.train_step(dict(inputs=torch.randn(2, 4), labels=torch.tensor([0, 1])), wrapper)
    assert seen == [True]


def test_train_step_with_an_optim_wrapper_enters_its_context_only_when_it_matters():
    from contextlib import contextmanager, nullcontext

    from mmlite.optim import OptimWrapper

    class Spy(DictModel):
        syncs_skipped = 0

        def no_sync(self):  # what DDP offers; OptimWrapper uses it inside an accumulation window
            Spy.syncs_skipped += 1
            return nullcontext()

    batch = dict(inputs=torch.randn(2, 4), labels=torch.tensor([0, 1]))
    model = Spy()
    plain = OptimWrapper(SGD(model.parameters(), lr=0.1))
    assert plain.forward_needs_no_context
    before = model.fc.weight.detach().clone()
    model.train_step(batch, plain)
    assert Spy.syncs_skipped == 0 and not torch.equal(before, model.fc.weight)
    # Accumulating over 2 steps: the first forward runs under no_sync, the second does not.
    accumulating = OptimWrapper(SGD(model.parameters(), lr=0.1), accumulative_counts=2)
    assert not accumulating.forward_needs_no_context
    model.train_step(batch, accumulating)
    model.train_step(batch, accumulating)
    assert Spy.syncs_skipped == 1

    class OwnContext(OptimWrapper):  # as AmpOptimWrapper does (autocast): always asked
        inside = False

        @contextmanager
        def optim_context(self, model):
            OwnContext.inside = True
            try:
                yield
            finally:
                OwnContext.inside = False

    class Recording(BaseDataPreprocessor):
        seen = []

        def forward(self, data, training=False):
            Recording.seen.append(OwnContext.inside)
            return super().forward(data, training)

    recorded = DictModel(data_preprocessor=Recording())
    own_context = OwnContext(SGD(recorded.parameters(), lr=0.1))
    assert not own_context.forward_needs_no_context
    recorded.train_step(batch, own_context)
    assert Recording.seen == [True]  # as in MMEngine, preprocessing runs inside the context

    class OwnRunForward(DictModel):
        calls = 0

        def _run_forward(self, data, mode):
            OwnRunForward.calls += 1
            return super()._run_forward(data, mode)

    own = OwnRunForward()
    own.train_step(batch, OptimWrapper(SGD(own.parameters(), lr=0.1)))
    assert OwnRunForward.calls == 1  # a subclass's _run_forward is never bypassed


def test_val_and_test_step_predict_mode():
    model = DictModel()
    batch = dict(inputs=torch.randn(5, 4), labels=torch.zeros(5, dtype=torch.long))
    expected = model(batch['inputs']).argmax(1)
    assert torch.equal(model.val_step(batch), expected)
    assert torch.equal(model.test_step(batch), expected)


def test_preprocessor_output_of_wrong_type_raises():
    class Bad(BaseDataPreprocessor):
        def forward(self, data, training=False):
            return torch.zeros(1)

    with pytest.raises(TypeError, match='must return a dict, tuple or list'):
        DictModel(data_preprocessor=Bad()).val_step(None)


def test_parse_losses_sums_loss_keys_and_list_entries():
    model = DictModel()
    losses = OrderedDict(loss_a=torch.tensor([1.0, 3.0]), loss_b=[torch.tensor(2.0), torch.tensor([4.0, 6.0])],
                         top1=torch.tensor(0.5))
    loss, log_vars = model.parse_losses(losses)
    assert loss.item() == pytest.approx(2.0 + 2.0 + 5.0)
    assert isinstance(log_vars, OrderedDict)
    assert {k: v.item() for k, v in log_vars.items()} == dict(loss=9.0, loss_a=2.0, loss_b=7.0, top1=0.5)
    with pytest.raises(TypeError, match="'loss_c'"):
        model.parse_losses(dict(loss_c=1.0))
    with pytest.raises(ValueError, match='no key containing "loss"'):
        model.parse_losses(dict(acc=torch.tensor(1.0)))


def test_parse_losses_keeps_the_graph_for_backward():
    w = torch.tensor(2.0, requires_grad=True)
    loss, log_vars = DictModel().parse_losses(dict(loss=w * 3, loss_aux=[w * w]))
    loss.backward()
    assert w.grad.item() == pytest.approx(3 + 4)
    assert not log_vars['loss'].requires_grad


def test_to_keeps_every_preprocessor_device_in_step():
    model = DictModel(data_preprocessor=ImgDataPreprocessor(mean=[0.0], std=[1.0]))
    model.extra = BaseDataPreprocessor()
    model.to(torch.float64)  # dtype only: device unchanged
    assert model.data_preprocessor.device == torch.device('cpu')
    model.to('meta')
    assert model.data_preprocessor.device == torch.device('meta')
    assert model.extra.device == torch.device('meta')
    assert model.fc.weight.device.type == 'meta'
    model.to_empty(device='cpu')
    model.cpu()
    assert model.data_preprocessor.device == model.extra.device == torch.device('cpu')
    model.to(device=torch.device('meta'), dtype=torch.float32)
    assert model.extra.device == torch.device('meta')


def test_preprocessor_device_follows_its_own_to():
    pre = BaseDataPreprocessor()
    assert pre.to('meta') is pre and pre.device == torch.device('meta')
    out = pre.cast_data(dict(x=torch.ones(2)))
    assert out['x'].device.type == 'meta'
    pre.cpu()
    assert pre.device == torch.device('cpu')


# ---------------------------------------------------------------------- the SEED tutorial code
class NeuralNetwork(BaseModel):
    def __init__(self, data_preprocessor=None):
        super(NeuralNetwork, self).__init__(data_preprocessor)
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(nn.Linear(28 * 28, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                                               nn.Linear(512, 10))
        self.loss = nn.CrossEntropyLoss()

    def forward(self, img, label, mode='tensor'):
        x = self.flatten(img)
        pred = self.linear_relu_stack(x)
        loss = self.loss(pred, label)
        if mode == 'loss':
            return dict(loss=loss)
        elif mode == 'predict':
            return pred.argmax(1), loss.item()
        else:
            return pred


class NeuralNetwork1(NeuralNetwork):
    def __init__(self, data_preprocessor):
        super().__init__(data_preprocessor=data_preprocessor)
        self.data_preprocessor = data_preprocessor

    def train_step(self, data, optimizer):
        img, label = self.data_preprocessor(data)
        loss = self(img, label, mode='loss')['loss'].sum()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return dict(loss=loss)

    def test_step(self, data):
        img, label = self.data_preprocessor(data)
        return self(img, label, mode='predict')

    def val_step(self, data):
        img, label = self.data_preprocessor(data)
        return self(img, label, mode='predict')


class NormalizeDataPreprocessor(BaseDataPreprocessor):
    def forward(self, data, training=False):
        img, label = [item for item in data]
        img = (img - 127.5) / 127.5
        return img, label


def test_seed_tutorial_code_runs_unchanged(fake_optim_wrapper):
    torch.manual_seed(0)
    model = NeuralNetwork1(data_preprocessor=NormalizeDataPreprocessor())
    optimizer = SGD(model.parameters(), lr=0.01)
    data = (torch.full((3, 28, 28), fill_value=127.5), torch.ones(3, 10))
    before = model.linear_relu_stack[0].bias.clone()
    out = model.train_step(data, optimizer)
    assert out['loss'].dim() == 0
    assert not torch.equal(before, model.linear_relu_stack[0].bias)
    preds, loss = model.val_step(data)
    assert preds.shape == (3,) and isinstance(loss, float)
    preds, _ = model.test_step(data)
    assert preds.shape == (3,)
    # The same model also runs the stock BaseModel.train_step with a tuple batch.
    plain = NeuralNetwork(data_preprocessor=NormalizeDataPreprocessor())
    log_vars = plain.train_step(data, fake_optim_wrapper(plain.parameters()))
    assert list(log_vars) == ['loss'] and not log_vars['loss'].requires_grad


# ------------------------------------------------------------ the 15-minute tutorial model
class MMResNetLike(BaseModel):
    """forward(imgs, labels, mode) with mode required, fed [imgs, labels] lists by a DataLoader."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))

    def forward(self, imgs, labels, mode):
        x = self.net(imgs)
        if mode == 'loss':
            return {'loss': F.cross_entropy(x, labels)}
        elif mode == 'predict':
            return x, labels


def test_tuple_batch_from_a_torch_dataloader_goes_through_train_step(fake_optim_wrapper):
    torch.manual_seed(0)
    dataset = torch.utils.data.TensorDataset(torch.randn(8, 3, 8, 8), torch.randint(0, 10, (8,)))
    loader = torch.utils.data.DataLoader(dataset, batch_size=4)
    model = MMResNetLike()
    wrapper = fake_optim_wrapper(model.parameters(), lr=0.1)
    losses = []
    for _ in range(5):
        for batch in loader:
            assert isinstance(batch, list)
            losses.append(model.train_step(batch, wrapper)['loss'])
    assert losses[-1] < losses[0]
    logits, labels = model.val_step(next(iter(loader)))
    assert logits.shape == (4, 10) and labels.shape == (4,)


def test_models_build_from_the_registry():
    model = MODELS.build(dict(type='MLPClassifier', in_channels=1, num_classes=3, input_size=(2, 2)))
    assert isinstance(model, BaseModel)
