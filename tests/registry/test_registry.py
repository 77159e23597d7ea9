"""Registry lookups, scopes, parents and building, as a downstream repo uses them."""
import sys
import types

import pytest

from mmlite.registry import (DefaultScope, Registry, RegistryError, build_from_cfg, config_key_path,
                             init_default_scope)


@pytest.fixture
def tree():
    root = Registry('model', scope='mmlite')
    child = Registry('model', parent=root, scope='mmdet')
    grandchild = Registry('model', parent=child, scope='mmdet3d')
    sibling = Registry('model', parent=root, scope='mmcls')
    return root, child, grandchild, sibling


def test_register_as_decorator_call_and_with_several_names():
    reg = Registry('backbone', scope='test')

    @reg.register_module()
    class ResNet:
        pass

    @reg.register_module(name=['Res2', 'ResAlias'])
    class Res2Net:
        pass

    def make():
        return 1
    assert reg.register_module(module=make) is make
    assert reg.get('ResNet') is ResNet
    assert reg.get('Res2') is Res2Net and reg.get('ResAlias') is Res2Net
    assert reg.get('make') is make
    assert len(reg) == 4
    assert 'ResNet' in reg and 'Missing' not in reg


def test_duplicate_name_needs_force():
    reg = Registry('thing', scope='test')

    @reg.register_module()
    class A:
        pass

    with pytest.raises(KeyError, match="already registered"):
        @reg.register_module(name='A')
        class B:
            pass

    @reg.register_module(name='A', force=True)
    class C:
        pass
    assert reg.get('A') is C


def test_bad_register_arguments():
    reg = Registry('thing', scope='test')
    with pytest.raises(TypeError):
        reg.register_module(name=3)
    with pytest.raises(TypeError):
        reg.register_module(force='yes')


def test_lookup_walks_to_parent_and_scoped_names_cross_the_tree(tree):
    root, child, grandchild, sibling = tree

    @root.register_module()
    class Base:
        pass

    @child.register_module()
    class Det:
        pass

    @sibling.register_module()
    class Cls:
        pass

    assert grandchild.get('Base') is Base
    assert grandchild.get('Det') is Det
    assert grandchild.get('Cls') is None
    assert grandchild.get('mmcls.Cls') is Cls
    assert root.get('mmdet.Det') is Det
    assert sibling.get('mmdet3d.Det') is Det  # scope's registry walks to its own parents
    assert child.get('mmdet.Base') is Base
    assert root.children == {'mmdet': child, 'mmcls': sibling}
    assert grandchild.root is root


def test_get_by_import_path():
    reg = Registry('thing', scope='test')
    from collections import OrderedDict
    assert reg.get('collections.OrderedDict') is OrderedDict


def test_locations_are_imported_on_first_lookup(tmp_path, monkeypatch):
    pkg = tmp_path / 'lazypkg_for_registry'
    pkg.mkdir()
    (pkg / '__init__.py').write_text(
        'from tests_registry_holder import REG\n'
        '@REG.register_module()\nclass Lazy:\n    pass\n')
    holder = types.ModuleType('tests_registry_holder')
    holder.REG = Registry('lazy', scope='test', locations=['lazypkg_for_registry'])
    monkeypatch.setitem(sys.modules, 'tests_registry_holder', holder)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert len(holder.REG) == 0
    assert holder.REG.get('Lazy').__name__ == 'Lazy'
    assert len(holder.REG) == 1


def test_build_from_cfg_with_type_as_string_class_and_default_args():
    reg = Registry('thing', scope='test')

    @reg.register_module()
    class Point:
        def __init__(self, x, y=0):
            self.x, self.y = x, y

    p = reg.build(dict(type='Point', x=1))
    assert (p.x, p.y) == (1, 0)
    p = build_from_cfg(dict(type=Point, x=2), reg, default_args=dict(y=5))
    assert (p.x, p.y) == (2, 5)
    p = build_from_cfg(dict(x=3, y=1), reg, default_args=dict(type='Point'))
    assert (p.x, p.y) == (3, 1)
    cfg = dict(type='Point', x=1)
    reg.build(cfg)
    assert cfg == dict(type='Point', x=1), 'building must not consume the config'


def test_unknown_type_names_registry_and_closest_names():
    reg = Registry('backbone', scope='test')

    @reg.register_module()
    class ResNet:
        pass

    @reg.register_module()
    class ResNeXt:
        pass

    with pytest.raises(RegistryError) as info:
        reg.build(dict(type='ResNt'))
    msg = str(info.value)
    assert "'ResNt'" in msg and "'backbone'" in msg and "'ResNet'" in msg
    assert isinstance(info.value, KeyError)


def test_bad_arguments_name_class_argument_and_accepted_ones():
    reg = Registry('backbone', scope='test')

    @reg.register_module()
    class ResNet:
        def __init__(self, depth, num_stages=4):
            pass

    with pytest.raises(TypeError) as info:
        reg.build(dict(type='ResNet', dpth=50))
    msg = str(info.value)
    assert 'ResNet' in msg and "'dpth'" in msg and 'depth, num_stages' in msg
    assert "Did you mean 'depth'" in msg
    with pytest.raises(TypeError, match="missing required argument.*'depth'"):
        reg.build(dict(type='ResNet'))


def test_nested_build_error_names_config_key_path():
    reg = Registry('model', scope='test')

    @reg.register_module()
    class Backbone:
        def __init__(self, depth):
            pass

    @reg.register_module()
    class Detector:
        def __init__(self, backbone):
            self.backbone = reg.build(backbone)

    with config_key_path('model'):
        with pytest.raises(TypeError) as info:
            reg.build(dict(type='Detector', backbone=dict(type='Backbone', dept=1)))
    assert "'model.backbone'" in str(info.value)
    with config_key_path('model'):
        with pytest.raises(RegistryError, match="model.backbone"):
            reg.build(dict(type='Detector', backbone=dict(type='Backbon')))


def test_errors_from_inside_a_constructor_keep_their_type_and_gain_a_note():
    reg = Registry('thing', scope='test')

    @reg.register_module()
    class Fussy:
        def __init__(self, x):
            raise ValueError('x must be positive')

    with pytest.raises(ValueError, match='x must be positive') as info:
        reg.build(dict(type='Fussy', x=-1))
    notes = getattr(info.value, '__notes__', [])
    if sys.version_info >= (3, 11):
        assert any('Fussy' in n and "'thing'" in n for n in notes)


def test_missing_type_and_non_dict_configs():
    reg = Registry('thing', scope='test')
    with pytest.raises(KeyError, match='"type"'):
        reg.build(dict(x=1))
    with pytest.raises(TypeError, match='must be a dict'):
        reg.build(['not', 'a', 'dict'])


def test_scope_key_in_config_switches_registry(tree):
    root, child, _, sibling = tree

    @root.register_module(name='Net')
    class RootNet:
        pass

    @child.register_module(name='Net')
    class DetNet:
        pass

    assert isinstance(root.build(dict(type='Net')), RootNet)
    assert isinstance(root.build(dict(type='Net', _scope_='mmdet')), DetNet)
    assert DefaultScope.get_current_instance() is None or \
        DefaultScope.get_current_instance().scope_name != 'mmdet'


def test_default_scope_selects_child_registry(tree):
    root, child, _, _ = tree

    @root.register_module(name='Net')
    class RootNet:
        pass

    @child.register_module(name='Net')
    class DetNet:
        pass

    previous = DefaultScope._current_name
    try:
        scope = init_default_scope('mmdet')
        assert scope.scope_name == 'mmdet'
        assert init_default_scope('mmdet') is scope
        assert isinstance(root.build(dict(type='Net')), DetNet)
        with DefaultScope.overwrite_default_scope('mmlite'):
            assert isinstance(root.build(dict(type='Net')), RootNet)
        assert DefaultScope.get_current_instance().scope_name == 'mmdet'
    finally:
        DefaultScope._current_name = previous


def test_infer_scope_from_calling_module():
    assert Registry('x').scope in ('tests', 'test_registry', 'mmlite')
    mod = types.ModuleType('mydownstream.registry')
    exec('from mmlite.registry import Registry\nREG = Registry("x")', mod.__dict__)
    # exec'd code has no module file: it falls back to the root scope name
    assert mod.REG.scope == 'mmlite'


def test_repr_is_a_table_of_names():
    reg = Registry('backbone', scope='test')

    @reg.register_module()
    class ResNet:
        pass

    text = repr(reg)
    assert 'backbone' in text and 'ResNet' in text and 'Names' in text


def test_root_registries_build_real_components():
    from mmlite.registry import HOOKS, MODELS
    assert MODELS.scope == 'mmlite' and HOOKS.name == 'hook'
    import torch.nn as nn
    seq = MODELS.build([dict(type=nn.Linear, in_features=2, out_features=3), dict(type=nn.ReLU)])
    assert isinstance(seq, nn.Sequential) and len(seq) == 2
