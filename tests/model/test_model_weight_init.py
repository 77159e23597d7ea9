"""Weight initialisation: functions, init_cfg-driven initialisers, BaseModule.init_weights."""
import argparse
import math

import pytest
import torch
from torch import nn

from mmlite.model import (BaseModule, ModuleDict, ModuleList, Sequential, bias_init_with_prob,
                          caffe2_xavier_init, constant_init, initialize, kaiming_init, normal_init,
                          trunc_normal_init, uniform_init, xavier_init)


class FooNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.feat = nn.Conv2d(3, 16, 3)
        self.reg = nn.Conv2d(16, 10, 3)
        self.cls = nn.Conv2d(16, 5, 3)
        self.norm = nn.BatchNorm2d(16)


def test_functional_initialisers_fill_weight_and_bias():
    conv = nn.Conv2d(3, 8, 3)
    constant_init(conv, 0.5, bias=2)
    assert torch.all(conv.weight == 0.5) and torch.all(conv.bias == 2)
    torch.manual_seed(0)
    big = nn.Linear(200, 300)
    normal_init(big, mean=1.0, std=0.01, bias=3)
    assert abs(big.weight.mean().item() - 1.0) < 1e-3 and torch.all(big.bias == 3)
    uniform_init(big, a=2, b=3)
    assert big.weight.min() >= 2 and big.weight.max() < 3 and torch.all(big.bias == 0)
    trunc_normal_init(big, std=5, a=-1, b=1)
    assert big.weight.abs().max() <= 1
    xavier_init(big, gain=2, distribution='uniform')
    bound = 2 * math.sqrt(6 / (200 + 300))
    assert big.weight.abs().max() <= bound and big.weight.abs().max() > 0.9 * bound
    kaiming_init(big, mode='fan_in', distribution='uniform')
    assert big.weight.abs().max() <= math.sqrt(2) * math.sqrt(3 / 200)
    caffe2_xavier_init(big)
    assert big.weight.abs().max() <= math.sqrt(3 / 200)
    with pytest.raises(ValueError, match='distribution'):
        kaiming_init(big, distribution='gaussian')
    no_bias = nn.Linear(2, 2, bias=False)
    constant_init(no_bias, 1, bias=5)  # no bias: nothing to fill, no error
    assert torch.all(no_bias.weight == 1)


def test_bias_init_with_prob_is_inverse_sigmoid():
    assert torch.sigmoid(torch.tensor(bias_init_with_prob(0.01))).item() == pytest.approx(0.01)


def test_layer_matches_class_and_direct_base_names():
    net = FooNet()
    initialize(net, [dict(type='Constant', layer='Conv2d', val=1, bias=2),
                     dict(type='Constant', layer=['_BatchNorm', 'GroupNorm'], val=7)])
    for conv in (net.feat, net.reg, net.cls):
        assert torch.all(conv.weight == 1) and torch.all(conv.bias == 2)
    # GroupNorm is absent from this model: that is fine, configs list it for GN variants.
    assert torch.all(net.norm.weight == 7) and torch.all(net.norm.bias == 0)


def test_override_initialises_a_named_child_as_a_whole():
    net = FooNet()
    initialize(net, dict(type='Constant', val=1, bias=2, layer='Conv2d',
                         override=dict(type='Constant', name='reg', val=3, bias=4)))
    assert torch.all(net.feat.weight == 1) and torch.all(net.cls.bias == 2)
    assert torch.all(net.reg.weight == 3) and torch.all(net.reg.bias == 4)
    # An override with only a name reuses the enclosing initialiser.
    net = FooNet()
    initialize(net, dict(type='Constant', val=5, bias=6, override=dict(name='cls')))
    assert torch.all(net.cls.weight == 5) and torch.all(net.cls.bias == 6)
    assert not torch.all(net.feat.weight == 5)


def test_unknown_layer_name_names_the_key_and_the_module():
    with pytest.raises(ValueError, match=r'"layer".*FooNet.*Conv2D.*Did you mean .Conv2d.'):
        initialize(FooNet(), dict(type='Kaiming', layer='Conv2D'))


def test_bad_override_names_the_key_and_the_module():
    with pytest.raises(RuntimeError, match=r'"override".*head.*FooNet.*feat, reg, cls'):
        initialize(FooNet(), dict(type='Constant', val=1, layer='Conv2d', override=dict(name='head')))
    with pytest.raises(ValueError, match=r'"override".*"name"'):
        initialize(FooNet(), dict(type='Constant', val=1, override=dict(type='Constant', val=2)))
    with pytest.raises(ValueError, match=r'"override".*"type"'):
        initialize(FooNet(), dict(type='Constant', val=1, override=dict(name='reg', val=2)))


def test_unregistered_initialiser_type_is_reported():
    with pytest.raises(KeyError, match='Kaimin'):
        initialize(FooNet(), dict(type='Kaimin', layer='Conv2d'))


def _save(obj, path):
    torch.save(obj, path)
    return str(path)


def test_pretrained_loads_state_dict_or_bare_dict_and_strips_module_prefix(tmp_path):
    source = FooNet()
    constant_init(source.feat, 9, bias=8)
    wrapped = _save({'state_dict': source.state_dict(), 'meta': {'epoch': 3}}, tmp_path / 'a.pth')
    net = FooNet()
    initialize(net, dict(type='Pretrained', checkpoint=wrapped))
    assert torch.all(net.feat.weight == 9) and torch.all(net.feat.bias == 8)
    ddp_style = _save({f'module.{k}': v for k, v in source.state_dict().items()}, tmp_path / 'b.pth')
    net = FooNet()
    initialize(net, dict(type='Pretrained', checkpoint=ddp_style))
    assert torch.equal(net.reg.weight, source.reg.weight)


def test_pretrained_prefix_and_shape_mismatch(tmp_path):
    class Detector(nn.Module):
        def __init__(self, classes):
            super().__init__()
            self.backbone = nn.Linear(4, 4)
            self.head = nn.Linear(4, classes)

    source = Detector(classes=3)
    constant_init(source.backbone, 2, bias=1)
    path = _save(source.state_dict(), tmp_path / 'det.pth')
    backbone = nn.Linear(4, 4)
    initialize(backbone, dict(type='Pretrained', checkpoint=path, prefix='backbone'))
    assert torch.all(backbone.weight == 2) and torch.all(backbone.bias == 1)
    with pytest.raises(ValueError, match=r'prefix .neck\.. .*backbone\., head\.'):
        initialize(backbone, dict(type='Pretrained', checkpoint=path, prefix='neck.'))
    # A head with another class count keeps its own weights; the rest loads.
    target = Detector(classes=5)
    head_before = target.head.weight.clone()
    initialize(target, dict(type='Pretrained', checkpoint=path))
    assert torch.all(target.backbone.weight == 2)
    assert torch.equal(target.head.weight, head_before)


def test_pretrained_refuses_urls_missing_files_and_unsafe_pickles(tmp_path):
    with pytest.raises(ValueError, match='never downloads'):
        initialize(nn.Linear(1, 1), dict(type='Pretrained', checkpoint='torchvision://resnet50'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        initialize(nn.Linear(1, 1), dict(type='Pretrained', checkpoint=str(tmp_path / 'nope.pth')))
    # Old checkpoints often pickle an argparse.Namespace: the safe loader refuses it.
    path = _save({'state_dict': {}, 'args': argparse.Namespace(lr=0.1)}, tmp_path / 'unsafe.pth')
    with pytest.raises(RuntimeError, match='safe loader'):
        initialize(nn.Linear(1, 1), dict(type='Pretrained', checkpoint=path))


class Child(BaseModule):
    def __init__(self, init_cfg=None):
        super().__init__(init_cfg)
        self.fc = nn.Linear(3, 3)


class Parent(BaseModule):
    def __init__(self, init_cfg=None, child_cfg=None):
        super().__init__(init_cfg)
        self.child = Child(child_cfg)
        self.own = nn.Linear(3, 3)
        self.custom = CustomInit()


class CustomInit(nn.Module):
    """A plain module with its own init_weights: BaseModule calls it too."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def init_weights(self):
        nn.init.constant_(self.fc.weight, -1)


def test_init_weights_children_override_parent_and_pretrained_comes_last(tmp_path):
    model = Parent(init_cfg=dict(type='Constant', layer='Linear', val=1),
                   child_cfg=dict(type='Constant', layer='Linear', val=2))
    model.init_weights()
    assert torch.all(model.own.weight == 1)
    assert torch.all(model.child.fc.weight == 2)  # the child's own init_cfg wins for its layers
    assert torch.all(model.custom.fc.weight == -1)
    assert model.is_init and model.child.is_init
    assert not hasattr(model, '_params_init_info')  # tracking is cleaned up

    source = Parent()
    constant_init(source.child.fc, 5)
    path = _save(source.state_dict(), tmp_path / 'parent.pth')
    model = Parent(init_cfg=[dict(type='Pretrained', checkpoint=path),
                             dict(type='Constant', layer='Linear', val=1)])
    model.init_weights()
    # Pretrained loads after the other initialisers and after the children.
    assert torch.all(model.child.fc.weight == 5)
    assert torch.equal(model.own.weight, source.own.weight)


def test_init_weights_runs_once():
    model = Parent(init_cfg=dict(type='Constant', layer='Linear', val=1))
    model.init_weights()
    nn.init.constant_(model.own.weight, 42)
    model.init_weights()  # only warns
    assert torch.all(model.own.weight == 42)
    fresh = Child(dict(type='Constant', layer='Linear', val=3))
    fresh.is_init = True  # e.g. weights loaded by hand: init must not clobber them
    parent = Parent()
    parent.child = fresh
    parent.init_weights()
    assert not torch.all(parent.child.fc.weight == 3)


def test_container_variants_carry_init_cfg():
    seq = Sequential(nn.Linear(2, 2), Child(), init_cfg=dict(type='Constant', layer='Linear', val=4))
    seq.init_weights()
    assert torch.all(seq[0].weight == 4) and torch.all(seq[1].fc.weight == 4)
    assert 'init_cfg=' in repr(seq)
    mlist = ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)], init_cfg=dict(type='Constant', layer='Linear', val=6))
    mlist.init_weights()
    assert all(torch.all(m.weight == 6) for m in mlist) and len(mlist) == 2
    mdict = ModuleDict({'a': nn.Linear(2, 2)}, init_cfg=dict(type='Constant', layer='Linear', val=7))
    mdict.init_weights()
    assert torch.all(mdict['a'].weight == 7)
