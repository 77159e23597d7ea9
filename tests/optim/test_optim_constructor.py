"""Optimizer wrapper constructors: paramwise multipliers, custom keys, configs, GAN dicts."""
import pytest
import torch
from torch import nn

from mmlite.optim import (AmpOptimWrapper, DefaultOptimWrapperConstructor, OptimWrapper,
                          OptimWrapperDict, build_optim_wrapper)
from mmlite.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIMIZERS

LR, WD = 0.01, 1e-4


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(4))  # 1-D, not a bias, not in a norm
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.dwconv = nn.Conv2d(8, 8, 3, groups=8, bias=False)
        self.head = nn.Sequential(nn.Linear(8, 4), nn.LayerNorm(4))


def _groups_by_name(model, optimizer):
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(g['params'][0])]: g for g in optimizer.param_groups}


def _build(model, paramwise_cfg, **optimizer_kwargs):
    cfg = dict(optimizer=dict(type='SGD', lr=LR, weight_decay=WD, momentum=0.9, **optimizer_kwargs),
               paramwise_cfg=paramwise_cfg)
    return build_optim_wrapper(model, cfg)


def test_paramwise_multipliers_on_norms_biases_and_depthwise_convs():
    model = Net()
    wrapper = _build(model, dict(bias_lr_mult=2., bias_decay_mult=0.5, norm_decay_mult=0.,
                                 dwconv_decay_mult=0.1, flat_decay_mult=0.3))
    assert type(wrapper) is OptimWrapper
    groups = _groups_by_name(model, wrapper.optimizer)
    expected = {  # name: (lr, weight_decay)
        'scale': (LR, WD * 0.3),
        'conv.weight': (LR, WD),
        'conv.bias': (LR * 2, WD * 0.5),
        'bn.weight': (LR, 0.),
        'bn.bias': (LR, 0.),  # norm biases keep their lr; the norm rule wins for decay
        'dwconv.weight': (LR, WD * 0.1),
        'head.0.weight': (LR, WD),
        'head.0.bias': (LR * 2, WD * 0.5),
        'head.1.weight': (LR, 0.),
        'head.1.bias': (LR, 0.),
    }
    assert set(groups) == set(expected)
    for name, (lr, wd) in expected.items():
        assert groups[name]['lr'] == pytest.approx(lr), name
        assert groups[name]['weight_decay'] == pytest.approx(wd), name
        assert groups[name]['momentum'] == 0.9


def test_custom_keys_longest_match_wins_and_overrides_other_rules():
    model = Net()
    wrapper = _build(model, dict(bias_lr_mult=2., norm_decay_mult=0.5, custom_keys={
        'head': dict(lr_mult=0.1),
        'head.1': dict(lr_mult=0.5, decay_mult=0.),
        'conv.weight': dict(decay_mult=3.)}))
    groups = _groups_by_name(model, wrapper.optimizer)
    assert groups['head.0.weight']['lr'] == pytest.approx(LR * 0.1)
    assert groups['head.0.bias']['lr'] == pytest.approx(LR * 0.1)  # not bias_lr_mult
    assert groups['head.0.weight']['weight_decay'] == pytest.approx(WD)
    assert groups['head.1.weight']['lr'] == pytest.approx(LR * 0.5)
    assert groups['head.1.weight']['weight_decay'] == 0.  # not norm_decay_mult
    assert groups['head.1.weight']['lr_mult'] == 0.5  # custom settings go into the group
    # 'conv.weight' is a substring of 'dwconv.weight' too: full-name substring matching.
    assert groups['conv.weight']['weight_decay'] == pytest.approx(WD * 3)
    assert groups['dwconv.weight']['weight_decay'] == pytest.approx(WD * 3)
    assert groups['conv.bias']['lr'] == pytest.approx(LR * 2)
    assert groups['bn.weight']['weight_decay'] == pytest.approx(WD * 0.5)


def test_shared_parameters_need_bypass_duplicate():
    model = Net()
    model.extra = nn.Linear(8, 4)
    model.extra.weight = model.head[0].weight
    with pytest.raises(ValueError, match='extra.weight.*bypass_duplicate=True'):
        _build(model, dict(bias_lr_mult=2.))
    wrapper = _build(model, dict(bias_lr_mult=2., bypass_duplicate=True))
    params = [p for g in wrapper.param_groups for p in g['params']]
    assert len(params) == len({id(p) for p in params}) == len(list(model.parameters()))


def test_without_paramwise_cfg_one_group_and_wrapper_options_pass_through():
    model = Net()
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=1e-3), accumulative_counts=2, clip_grad=dict(max_norm=1.)))
    assert len(wrapper.param_groups) == 1
    assert len(wrapper.param_groups[0]['params']) == len(list(model.parameters()))
    assert wrapper._accumulative_counts == 2 and wrapper.clip_grad_kwargs == dict(max_norm=1.)
    # paramwise_cfg may also be handed to the constructor inside optim_wrapper_cfg
    constructor = DefaultOptimWrapperConstructor(dict(
        optimizer=dict(type='SGD', lr=LR, weight_decay=WD), paramwise_cfg=dict(norm_decay_mult=0.)))
    groups = _groups_by_name(model, constructor(model).optimizer)
    assert groups['bn.weight']['weight_decay'] == 0.


def test_every_torch_optimizer_is_registered():
    for name in ('SGD', 'Adam', 'AdamW', 'RMSprop', 'Adagrad', 'LBFGS', 'NAdam', 'RAdam'):
        assert OPTIMIZERS.get(name) is getattr(torch.optim, name)


def test_constructor_key_picks_the_constructor():
    @OPTIM_WRAPPER_CONSTRUCTORS.register_module(name='TestOptimOnlyHeadConstructor', force=True)
    class OnlyHead(DefaultOptimWrapperConstructor):
        def __call__(self, model):
            return super().__call__(model.head)

    model = Net()
    wrapper = build_optim_wrapper(model, dict(constructor='TestOptimOnlyHeadConstructor',
                                              optimizer=dict(type='SGD', lr=LR)))
    assert {id(p) for p in wrapper.param_groups[0]['params']} == {id(p) for p in model.head.parameters()}


def test_config_errors_name_the_fix():
    with pytest.raises(KeyError, match="did you mean 'norm_decay_mult'"):
        _build(Net(), dict(norm_decay_mul=0.))
    with pytest.raises(ValueError, match='weight_decay set explicitly'):
        build_optim_wrapper(Net(), dict(optimizer=dict(type='SGD', lr=LR),
                                        paramwise_cfg=dict(bias_decay_mult=0.)))
    with pytest.raises(KeyError, match='"optimizer" key'):
        build_optim_wrapper(Net(), dict(type='OptimWrapper'))
    with pytest.raises(KeyError, match='needs a "type"'):
        build_optim_wrapper(Net(), dict(optimizer=dict(lr=LR)))
    with pytest.raises(KeyError, match="'AdamV' is not registered.*Did you mean: 'Adam'"):
        build_optim_wrapper(Net(), dict(optimizer=dict(type='AdamV', lr=LR)))


class GAN(nn.Module):
    def __init__(self):
        super().__init__()
        self.generator = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4))
        self.discriminator = nn.Linear(4, 1)


def test_multi_constructor_builds_one_wrapper_per_submodule():
    model = GAN()
    wrappers = build_optim_wrapper(model, dict(
        constructor='MultiOptimWrapperConstructor',
        generator=dict(optimizer=dict(type='Adam', lr=2e-4, weight_decay=0.1, betas=(0.5, 0.999)),
                       paramwise_cfg=dict(norm_decay_mult=0.)),
        discriminator=dict(type='AmpOptimWrapper', dtype='bfloat16',
                           optimizer=dict(type='SGD', lr=0.1))))
    assert isinstance(wrappers, OptimWrapperDict)
    assert isinstance(wrappers['discriminator'], AmpOptimWrapper)
    gen_params = {id(p) for g in wrappers['generator'].param_groups for p in g['params']}
    assert gen_params == {id(p) for p in model.generator.parameters()}
    disc_params = {id(p) for g in wrappers['discriminator'].param_groups for p in g['params']}
    assert disc_params == {id(p) for p in model.discriminator.parameters()}
    groups = _groups_by_name(model.generator, wrappers['generator'].optimizer)
    assert groups['1.weight']['weight_decay'] == 0. and groups['0.weight']['weight_decay'] == 0.1
    assert wrappers.get_lr() == {'generator.lr': [2e-4] * 4, 'discriminator.lr': [0.1]}


def test_multi_constructor_missing_submodule_names_the_children():
    with pytest.raises(AttributeError, match=r"no submodule 'critic'.*\['generator', 'discriminator'\]"):
        build_optim_wrapper(GAN(), dict(constructor='MultiOptimWrapperConstructor',
                                        critic=dict(optimizer=dict(type='SGD', lr=0.1))))
    with pytest.raises(TypeError, match='"optimizer" key'):
        build_optim_wrapper(GAN(), dict(constructor='MultiOptimWrapperConstructor',
                                        generator=dict(type='SGD', lr=0.1)))
