"""ConfigDict and Config as containers: access, missing keys, copies, pickling."""
import collections
import copy
import pickle
from pathlib import Path

import pytest

from mmlite.config import Config, ConfigDict, ConfigKeyError, ConfigTypeError

DATA = Path(__file__).resolve().parents[1] / 'data' / 'config'


def test_attribute_and_item_access_and_conversion():
    cfg = ConfigDict(model=dict(backbone=dict(depth=50)), pipeline=[dict(type='A'), (dict(type='B'),)])
    assert cfg.model.backbone.depth == cfg['model']['backbone']['depth'] == 50
    assert isinstance(cfg.pipeline[0], ConfigDict)
    assert isinstance(cfg.pipeline[1], tuple) and isinstance(cfg.pipeline[1][0], ConfigDict)
    cfg.optim = dict(lr=0.1)                    # assignment converts too
    cfg['hooks'] = [dict(type='H')]
    assert isinstance(cfg.optim, ConfigDict) and cfg.optim.lr == 0.1
    assert isinstance(cfg.hooks[0], ConfigDict)
    assert cfg.setdefault('extra', dict(a=1)) is cfg.extra
    del cfg.extra
    assert 'extra' not in cfg


def test_missing_keys_raise_instead_of_returning_empty_dicts():
    cfg = ConfigDict(model=dict(type='X'))
    with pytest.raises(AttributeError, match="no attribute 'modle'.*model"):
        cfg.modle
    with pytest.raises(KeyError):
        cfg['modle']
    with pytest.raises(AttributeError, match="no attribute 'backbone'"):
        cfg.model.backbone
    assert not hasattr(cfg, 'nothing')
    assert cfg.get('nothing', 3) == 3
    with pytest.raises(AttributeError):
        del cfg.nothing
    assert 'modle' not in cfg  # reading did not create it


def test_dict_methods_cannot_be_shadowed_by_attribute_assignment():
    cfg = ConfigDict()
    with pytest.raises(AttributeError, match="cfg\\['items'\\]"):
        cfg.items = 1
    cfg['items'] = 1
    assert cfg['items'] == 1 and callable(cfg.items)


def test_to_dict_is_plain_all_the_way_down():
    Point = collections.namedtuple('Point', 'x y')
    cfg = ConfigDict(a=dict(b=[dict(c=1), (dict(d=2),)]), p=Point(dict(x=1), 2))
    plain = cfg.to_dict()
    assert type(plain['a']) is dict
    assert type(plain['a']['b'][0]) is dict and type(plain['a']['b'][1][0]) is dict
    assert type(plain['p']) is Point and type(plain['p'].x) is dict
    assert plain == {'a': {'b': [{'c': 1}, ({'d': 2},)]}, 'p': Point({'x': 1}, 2)}


def test_update_merges_nested_dicts_and_or_operator_keeps_type():
    cfg = ConfigDict(a=dict(x=1, y=2))
    cfg.update(a=dict(y=3), b=dict(z=1))
    assert cfg.to_dict() == dict(a=dict(x=1, y=3), b=dict(z=1))
    merged = cfg | {'c': 1}
    assert isinstance(merged, ConfigDict) and merged.c == 1 and 'c' not in cfg
    with pytest.raises(AttributeError):
        merged.missing


def test_merge_method_uses_base_rules():
    cfg = ConfigDict(opt=dict(type='SGD', lr=0.1, momentum=0.9))
    cfg.merge(dict(opt=dict(lr=0.01)))
    assert cfg.opt.to_dict() == dict(type='SGD', lr=0.01, momentum=0.9)
    cfg.merge(dict(opt=dict(_delete_=True, type='Adam')))
    assert cfg.opt.to_dict() == dict(type='Adam')


@pytest.mark.parametrize('clone', [copy.copy, copy.deepcopy, lambda c: pickle.loads(pickle.dumps(c))])
def test_config_dict_copies_keep_type_and_strictness(clone):
    cfg = ConfigDict(a=dict(b=[dict(c=1)]), n=1)
    other = clone(cfg)
    assert type(other) is ConfigDict and other == cfg
    assert isinstance(other.a, ConfigDict) and isinstance(other.a.b[0], ConfigDict)
    other.n = 2
    assert cfg.n == 1
    with pytest.raises(AttributeError):
        other.missing


def test_shallow_and_deep_copy_semantics():
    cfg = ConfigDict(a=dict(b=1))
    shallow, deep = cfg.copy(), copy.deepcopy(cfg)
    cfg.a.b = 2
    assert shallow.a.b == 2 and deep.a.b == 1


def test_config_delegates_to_its_dict():
    cfg = Config.fromfile(DATA / 'resnet18_8xb16_cifar10.py')
    assert cfg.model.type == cfg['model']['type'] == cfg.get('model').type == 'ImageClassifier'
    assert 'model' in cfg and 'nope' not in cfg
    assert len(cfg) == len(cfg.keys()) == len(list(cfg))
    assert dict(cfg.items())['log_level'] == 'INFO'
    cfg.work_dir = 'runs/x'
    cfg['extra'] = dict(a=1)
    assert cfg.work_dir == 'runs/x' and isinstance(cfg.extra, ConfigDict)
    del cfg['extra']
    assert 'extra' not in cfg
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        cfg.nope
    with pytest.raises(ConfigKeyError, match='read-only'):
        cfg.filename = 'x'
    assert repr(cfg).startswith(f'Config (path: {cfg.filename}): {{')
    assert cfg.to_dict()['model']['backbone']['depth'] == 18 and type(cfg.to_dict()['model']) is dict


def test_config_constructor_checks():
    assert Config().to_dict() == {} and Config().text == ''
    with pytest.raises(ConfigTypeError):
        Config([1, 2])
    with pytest.raises(ConfigKeyError, match='reserved'):
        Config(dict(pretty_text=1))
    path = DATA / '_base_/default_runtime.py'
    assert Config(dict(a=1), filename=path).text == path.read_text()


@pytest.mark.parametrize('clone', [copy.copy, copy.deepcopy, lambda c: pickle.loads(pickle.dumps(c))])
def test_config_copies_and_pickle(clone):
    cfg = Config.fromfile(DATA / 'resnet34_8xb16_cifar10.py')
    other = clone(cfg)
    assert isinstance(other, Config)
    assert other.to_dict() == cfg.to_dict()
    assert other.filename == cfg.filename and other.text == cfg.text
    other.log_level = 'DEBUG'
    assert cfg.log_level == 'INFO'


def test_deepcopy_is_independent_and_copy_shares_nested_values():
    cfg = Config(dict(a=dict(b=1)))
    deep, shallow = copy.deepcopy(cfg), cfg.copy()
    cfg.a.b = 5
    assert deep.a.b == 1 and shallow.a.b == 5
