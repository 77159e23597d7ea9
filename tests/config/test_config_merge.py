"""Merge rules and merge_from_dict, including property-based fault tolerance."""
import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmlite.config import Config, ConfigDict, ConfigError, ConfigKeyError, ConfigTypeError, merge_a_into_b


def test_dicts_merge_recursively_and_other_values_replace():
    base = dict(model=dict(type='R', depth=18, out=(3,)), sched=dict(v=1), pipe=[1, 2])
    child = dict(model=dict(depth=50, out=(1, 2)), sched=[dict(v=2)], pipe=[3])
    merged = merge_a_into_b(child, base)
    assert merged.to_dict() == dict(model=dict(type='R', depth=50, out=(1, 2)), sched=[dict(v=2)],
                                    pipe=[3])
    assert isinstance(merged, ConfigDict) and isinstance(merged.model, ConfigDict)


def test_delete_key_replaces_whole_dict_and_is_stripped_everywhere():
    base = dict(opt=dict(type='SGD', lr=0.1, momentum=0.9), other=dict(a=1))
    child = dict(opt=dict(_delete_=True, type='Adam', inner=dict(_delete_=True, x=1)),
                 new=dict(_delete_=True, y=[dict(_delete_=False, z=1)]))
    merged = merge_a_into_b(child, base)
    assert merged.to_dict() == dict(opt=dict(type='Adam', inner=dict(x=1)), other=dict(a=1),
                                    new=dict(y=[dict(z=1)]))


def test_merge_does_not_modify_its_inputs():
    base = dict(a=dict(b=dict(c=1)), l=[dict(x=1)])
    child = dict(a=dict(_delete_=True, b=2), l={'0': dict(x=2)})
    snapshot_base, snapshot_child = copy.deepcopy(base), copy.deepcopy(child)
    merge_a_into_b(child, base, allow_list_keys=True)
    assert base == snapshot_base and child == snapshot_child


def test_dict_onto_scalar_names_path_and_fix():
    with pytest.raises(ConfigTypeError, match=r"'a\.b' is a dict in the child.*_delete_=True"):
        merge_a_into_b(dict(a=dict(b=dict(c=1))), dict(a=dict(b=3)))


def test_list_keys_only_when_allowed():
    base = dict(pipe=[dict(type='A', p=1), dict(type='B')])
    merged = merge_a_into_b({'pipe': {'1': dict(type='C')}}, base, allow_list_keys=True)
    assert merged.pipe[1].type == 'C' and merged.pipe[0].p == 1
    with pytest.raises(ConfigTypeError):
        merge_a_into_b({'pipe': {'1': dict(type='C')}}, base)
    with pytest.raises(ConfigKeyError, match=r"index 5 is out of range for the list at 'pipe'"):
        merge_a_into_b({'pipe': {'5': 1}}, base, allow_list_keys=True)


def make_cfg():
    return Config(dict(
        model=dict(backbone=dict(depth=18, out_indices=(3,)), head=dict(num_classes=10)),
        train_pipeline=[dict(type='Load'), dict(type='Resize', scale=(32, 32))],
        workflow=[('train', 1)],
        lr=0.1))


def test_merge_from_dict_dotted_keys_and_list_indices():
    cfg = make_cfg()
    cfg.merge_from_dict({
        'model.backbone.depth': 50,
        'model.neck': dict(type='GAP'),
        'train_pipeline.1.scale': (64, 64),
        'train_pipeline.0': dict(type='LoadFromWeb'),
        'workflow': [('train', 1), ('val', 1)],
        'new.deep.key': 1,
    })
    assert cfg.model.backbone.to_dict() == dict(depth=50, out_indices=(3,))
    assert cfg.model.neck.type == 'GAP'
    assert cfg.train_pipeline[1].to_dict() == dict(type='Resize', scale=(64, 64))
    assert cfg.train_pipeline[0].type == 'LoadFromWeb'
    assert cfg.workflow == [('train', 1), ('val', 1)]
    assert cfg.new.deep.key == 1


def test_merge_from_dict_list_errors_name_full_key_and_index():
    cfg = make_cfg()
    with pytest.raises(ConfigKeyError) as info:
        cfg.merge_from_dict({'train_pipeline.7.type': 'X'})
    assert "'train_pipeline.7.type'" in str(info.value) and 'index 7' in str(info.value)
    assert 'has 2 item(s)' in str(info.value)
    with pytest.raises(ConfigKeyError) as info:
        cfg.merge_from_dict({'val_pipeline.0.type': 'X'})
    assert "'val_pipeline.0.type'" in str(info.value) and 'index 0' in str(info.value)
    assert "no key 'val_pipeline'" in str(info.value)
    with pytest.raises(ConfigKeyError, match=r"'train_pipeline\.first'.*index 0\.\.1"):
        cfg.merge_from_dict({'train_pipeline.first': 1})
    assert cfg.to_dict() == make_cfg().to_dict()  # a failed merge leaves the config as it was


def test_merge_from_dict_rejects_malformed_keys():
    cfg = make_cfg()
    for bad in ({'a..b': 1}, {'.a': 1}, {'': 1}, {3: 1}):
        with pytest.raises(ConfigKeyError):
            cfg.merge_from_dict(bad)
    with pytest.raises(ConfigKeyError, match="'lr' and 'lr.x' clash"):
        cfg.merge_from_dict({'lr': 1, 'lr.x': 2})
    with pytest.raises(ConfigKeyError, match="clash"):
        cfg.merge_from_dict({'model.x.y': 1, 'model.x': 2})
    with pytest.raises(ConfigTypeError, match="option 'lr.x': 'lr' is a float"):
        cfg.merge_from_dict({'lr.x': 2})


def test_merge_from_dict_without_list_keys_treats_digits_as_dict_keys():
    cfg = Config(dict(d={'0': dict(a=1)}))
    cfg.merge_from_dict({'d.0.a': 2}, allow_list_keys=False)
    assert cfg.d['0'].a == 2


# ----------------------------------------------------------------- properties
keys = st.sampled_from(['a', 'b', 'c', '0', '1', '_delete_', 'type'])
leaves = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3),
                   st.floats(allow_nan=False))
values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                            st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12)
configs = st.dictionaries(keys, values, max_size=5)
# A base is an already-merged config, so it holds no _delete_ keys.
base_keys = st.sampled_from(['a', 'b', 'c', '0', '1', 'type'])
base_values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                            st.dictionaries(base_keys, inner, max_size=4)),
    max_leaves=12)
base_configs = st.dictionaries(base_keys, base_values, max_size=5)


def _without_delete(value):
    if isinstance(value, dict):
        return {k: _without_delete(v) for k, v in value.items() if k != '_delete_'}
    if isinstance(value, (list, tuple)):
        return type(value)(_without_delete(v) for v in value)
    return value


@settings(max_examples=200, deadline=None)
@given(child=configs, base=base_configs, allow_list_keys=st.booleans())
def test_merge_never_fails_with_anything_but_config_errors(child, base, allow_list_keys):
    try:
        merged = merge_a_into_b(child, base, allow_list_keys=allow_list_keys)
    except ConfigError:
        return
    plain = merged.to_dict()
    assert '_delete_' not in plain
    for key, value in child.items():
        if key == '_delete_':
            continue
        if not isinstance(value, dict) or key not in base or value.get('_delete_'):
            assert plain[key] == _without_delete(value)   # replaced (or added) whole
    for key, value in base.items():
        if key not in child and key != '_delete_':
            assert plain[key] == value                     # untouched base keys kept


@settings(max_examples=200, deadline=None)
@given(base=base_configs, options=st.dictionaries(
    st.lists(keys, min_size=1, max_size=4).map('.'.join) | st.text(max_size=6), values, max_size=4),
    allow_list_keys=st.booleans())
def test_merge_from_dict_never_fails_with_anything_but_config_errors(base, options, allow_list_keys):
    cfg = Config(base)
    before = cfg.to_dict()
    try:
        cfg.merge_from_dict(options, allow_list_keys=allow_list_keys)
    except ConfigError:
        assert cfg.to_dict() == before
        return
    for key, value in options.items():
        if not isinstance(value, dict) and '_delete_' not in key.split('.'):
            node = cfg.to_dict()
            for part in key.split('.'):
                node = node[int(part)] if isinstance(node, list) else node[part]
            assert node == _without_delete(value)
