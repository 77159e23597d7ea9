"""Options users of fast loops expect: compile, channels_last, non_blocking copies, dataloader
defaults, and hooks called only at the points they override."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmlite.hooks import Hook
from mmlite.model import BaseDataPreprocessor, BaseModel
from mmlite.model.base_model.data_preprocessor import use_channels_last
from mmlite.runner import Runner
from mmlite.runner.builders import build_dataloader


class Points(torch.utils.data.Dataset):
    def __init__(self, n: int = 16, shape: tuple = (4,)) -> None:
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, *shape, generator=generator)
        self.y = torch.randint(0, 3, (n,), generator=generator)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=self.x[i], data_samples=self.y[i])


class Linear3(BaseModel):
    def __init__(self, data_preprocessor=None) -> None:
        super().__init__(data_preprocessor)
        self.fc = nn.Linear(4, 3)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        logits = self.fc(inputs)
        return dict(loss=F.cross_entropy(logits, data_samples)) if mode == 'loss' else logits


class TinyConv(BaseModel):
    def __init__(self, data_preprocessor=None) -> None:
        super().__init__(data_preprocessor)
        self.conv = nn.Conv2d(3, 4, 3)
        self.seen_layouts: list[bool] = []

    def forward(self, inputs, data_samples=None, mode='tensor'):
        self.seen_layouts.append(inputs.is_contiguous(memory_format=torch.channels_last))
        logits = self.conv(inputs).mean((2, 3))[:, :3]
        return dict(loss=F.cross_entropy(logits, data_samples)) if mode == 'loss' else logits


def make_runner(tmp_path, model, dataset=None, cfg=None, **kwargs) -> Runner:
    return Runner(model=model, work_dir=str(tmp_path / 'work'),
                  train_dataloader=dict(dataset=dataset or Points(), batch_size=4,
                                        sampler=dict(type='DefaultSampler', shuffle=False),
                                        collate_fn=dict(type='default_collate')),
                  train_cfg=dict(by_epoch=True, max_epochs=1),
                  optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                  default_hooks=dict(checkpoint=None), log_level='WARNING',
                  randomness=dict(seed=0), cfg=cfg, **kwargs)


def test_compile_traces_the_forward_and_trains_like_eager(tmp_path):
    graphs = []

    def recording_backend(graph_module, example_inputs):
        graphs.append(graph_module)
        return graph_module.forward  # run the captured graph as is

    torch.manual_seed(0)
    eager = make_runner(tmp_path / 'eager', Linear3())
    torch.manual_seed(0)
    compiled = make_runner(tmp_path / 'compiled', Linear3(),
                           cfg=dict(compile=dict(backend=recording_backend)))
    eager.train()
    compiled.train()
    # torch.compile (Dynamo) really captured the model's forward, called as the loop calls it.
    assert graphs, 'the compiled forward never reached the backend'
    assert any('linear' in str(g.graph) for g in graphs)
    for name, param in eager.model.state_dict().items():
        torch.testing.assert_close(compiled.model.state_dict()[name], param)


def test_compile_flag_of_tools_train_sets_the_config_key():
    from mmlite.config import Config
    from mmlite.runner.cli import apply_train_flags, train_parser
    args = train_parser().parse_args(['x.py', '--compile'])
    assert apply_train_flags(Config(dict()), args).compile is True


def test_channels_last_reaches_weights_and_images(tmp_path):
    model = TinyConv(data_preprocessor=dict(type='ImgDataPreprocessor', mean=[0.5] * 3, std=[2.0] * 3))
    runner = make_runner(tmp_path, model, dataset=Points(8, (3, 6, 6)), cfg=dict(channels_last=True))
    runner.train()
    assert model.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert model.seen_layouts == [True, True]


def test_channels_last_with_the_plain_preprocessor():
    pre = BaseDataPreprocessor()
    model = nn.Sequential(nn.Conv2d(3, 2, 1), pre)
    assert use_channels_last(model) == 1
    batch = pre(dict(inputs=torch.randn(2, 3, 4, 4), data_samples=[1, 2]))
    assert batch['inputs'].is_contiguous(memory_format=torch.channels_last)
    assert batch['data_samples'] == [1, 2]
    images, labels = pre((torch.randn(2, 3, 4, 4), torch.tensor([0, 1])))
    assert images.is_contiguous(memory_format=torch.channels_last)
    # Without the switch nothing changes layout.
    assert BaseDataPreprocessor()(dict(inputs=torch.randn(2, 3, 4, 4)))['inputs'].is_contiguous()


class RecordsTo:
    def __init__(self) -> None:
        self.calls = []

    def to(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return self


def test_non_blocking_defaults_to_the_device():
    auto, off = BaseDataPreprocessor(), BaseDataPreprocessor(non_blocking=False)
    for pre in (auto, off):
        pre._device = torch.device('cuda')  # what BaseModel.cuda() sets; no GPU needed to check
    element = RecordsTo()
    auto.cast_data([element])
    off.cast_data([element])
    assert [kwargs['non_blocking'] for _, kwargs in element.calls] == [True, False]
    assert BaseDataPreprocessor()._non_blocking_for(torch.device('cpu')) is False
    assert BaseDataPreprocessor(non_blocking=True)._non_blocking_for(torch.device('cpu')) is True


def test_tensors_already_on_the_device_are_not_copied():
    pre = BaseDataPreprocessor()
    x = torch.randn(2, 2)
    assert pre.cast_data({'inputs': x})['inputs'] is x


def test_dataloader_defaults_fit_the_device():
    with_workers = build_dataloader(dict(dataset=Points(), batch_size=4, num_workers=2,
                                         sampler=dict(type='DefaultSampler', shuffle=False)))
    assert with_workers.persistent_workers is True
    assert with_workers.pin_memory is torch.cuda.is_available()
    main_process = build_dataloader(dict(dataset=Points(), batch_size=4, persistent_workers=True,
                                         sampler=dict(type='DefaultSampler', shuffle=False)))
    assert main_process.persistent_workers is False  # DataLoader refuses it without workers
    explicit = build_dataloader(dict(dataset=Points(), batch_size=4, pin_memory=True,
                                     sampler=dict(type='DefaultSampler', shuffle=False)))
    assert explicit.pin_memory is True


def test_a_hook_is_called_only_at_the_points_it_overrides(tmp_path, monkeypatch):
    class EpochEnds(Hook):
        def __init__(self) -> None:
            self.ends = 0

        def after_train_epoch(self, runner) -> None:
            self.ends += 1

    hook = EpochEnds()
    calls = []
    for generic in ('_before_iter', '_after_iter', '_before_epoch', '_after_epoch'):
        def spy(self, *args, _name=generic, **kwargs):
            if self is hook:
                calls.append(_name)
        monkeypatch.setattr(Hook, generic, spy)
    runner = make_runner(tmp_path, Linear3(), custom_hooks=[hook])
    runner.train()
    assert hook.ends == 1 and calls == []
    # The loops call the iteration points through iter_callers (positional arguments).
    assert all(getattr(call, '__self__', None) is not hook for call in runner.iter_callers('after_train_iter'))


def test_iter_timer_subclass_overriding_the_generic_method_still_sees_training():
    """IterTimerHook spells out its training points for speed; a subclass that overrides
    ``_after_iter`` (MMEngine's extension point) still gets them, and super() still times."""
    import types

    from mmlite.hooks import IterTimerHook
    from mmlite.logging import MessageHub
    seen = []

    class Counting(IterTimerHook):
        def _after_iter(self, runner, batch_idx, data_batch=None, outputs=None, mode='train'):
            seen.append((mode, batch_idx))
            super()._after_iter(runner, batch_idx, data_batch, outputs, mode)

    runner = types.SimpleNamespace(message_hub=MessageHub.get_instance('timer-subclass'), iter=0,
                                   max_iters=4)
    hook = Counting()
    hook.before_train(runner)
    for runner.iter in range(2):
        hook.before_train_iter(runner, runner.iter)
        hook.after_train_iter(runner, runner.iter)
    assert seen == [('train', 0), ('train', 1)]
    assert len(runner.message_hub.get_scalar('train/time')) == 2
    assert runner.message_hub.get_info('eta') >= 0
