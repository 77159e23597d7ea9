"""Config.fromfile on an mmcls-style config tree: inheritance, variables, formats, errors."""
import os
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from mmlite.config import (Config, ConfigDict, ConfigError, ConfigFileNotFoundError,
                           ConfigImportError, ConfigKeyError, ConfigSyntaxError, ConfigTypeError)

DATA = Path(__file__).resolve().parents[1] / 'data' / 'config'


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_four_bases_merge_into_one_config():
    cfg = Config.fromfile(DATA / 'resnet18_8xb16_cifar10.py')
    assert cfg.filename == str(DATA / 'resnet18_8xb16_cifar10.py')
    assert cfg.model.backbone.depth == 18
    assert cfg.model.backbone.out_indices == (3,)
    assert cfg.train_dataloader.dataset.pipeline[0].crop_size == 32
    assert cfg.optim_wrapper.optimizer.lr == 0.1
    assert cfg.default_hooks.checkpoint.interval == 1
    assert '_base_' not in cfg
    # intermediate variables of a base are keys, as in MMEngine
    assert cfg.dataset_type == 'CIFAR10' and cfg.train_pipeline[-1].type == 'PackInputs'
    # nested dicts inside lists are ConfigDicts
    assert isinstance(cfg.train_pipeline[0], ConfigDict)
    # the text holds every file read, bases first, each headed by its path
    assert cfg.text.index('resnet18_cifar.py') < cfg.text.index('resnet18_8xb16_cifar10.py\n_base_')


def test_multi_level_inheritance_merges_dicts_and_replaces_other_values():
    cfg = Config.fromfile(DATA / 'resnet34_adamw_cifar10.py')
    assert cfg.model.backbone.depth == 34                 # level 2 override survives
    assert cfg.model.backbone.type == 'ResNet_CIFAR'      # untouched keys kept
    # _delete_=True replaced the whole optim_wrapper; momentum from the base is gone
    assert cfg.optim_wrapper.to_dict() == dict(
        type='AmpOptimWrapper', optimizer=dict(type='AdamW', lr=0.001, weight_decay=0.05))
    assert '_delete_' not in cfg.optim_wrapper
    # a list replaces a dict (non-dict values replace)
    assert [s.type for s in cfg.param_scheduler] == ['LinearLR', 'CosineAnnealingLR']
    level2 = Config.fromfile(DATA / 'resnet34_8xb16_cifar10.py')
    assert level2.optim_wrapper.optimizer.to_dict() == dict(
        type='SGD', lr=0.05, momentum=0.9, weight_decay=0.0001)


def test_base_variable_references():
    cfg = Config.fromfile(DATA / 'base_refs.py')
    base = Config.fromfile(DATA / '_base_/datasets/cifar10_bs16.py')
    # whole-value {{_base_.x}} keeps its type (a list of dicts), also with inner spaces
    assert cfg.pipeline_copy == base.train_pipeline
    assert isinstance(cfg.pipeline_copy, list)
    assert cfg.std_list == [51.5865, 50.847, 51.255]
    assert cfg.crop == 32                                   # {{_base_.a.0.b}} into a list item
    assert cfg.nested.to_dict() == dict(root='data/cifar10', sizes=[32, 64])
    assert cfg.ann_file == 'data/cifar10/annotations/train.json'  # embedded in a string
    # _base_.x attribute references in code
    assert cfg.num_classes == 20
    assert cfg.train_dataloader.batch_size == 64
    assert cfg.train_dataloader.num_workers == 2              # merged, not replaced
    assert [p.type for p in cfg.val_dataloader.dataset.pipeline] == ['PackInputs', 'Extra']
    assert cfg.model.backbone.depth == 50                     # `_base_.model... = 50` edit applied
    # the copies do not alias each other
    cfg.pipeline_copy[0].crop_size = 99
    assert cfg.train_pipeline[0].crop_size == 32


def test_module_level_names_become_keys_except_imports_functions_and_dunders():
    cfg = Config.fromfile(DATA / 'base_refs.py')
    assert cfg._scratch == 3
    for dropped in ('osp', 'OrderedDict', 'helper', '__private', '_base_', '__builtins__'):
        assert dropped not in cfg, dropped
    assert not any(k.startswith('__') for k in cfg)


def test_json_and_yaml_configs_with_bases_and_references(tmp_path):
    child = Config.fromfile(DATA / 'formats/child.json')
    assert child.model.backbone.to_dict() == dict(type='ResNet', depth=50, out_indices=(3,))
    assert child.lr_copy == 0.1 and child.depth_ref == 18
    assert child.work_dir == 'work_dirs/ImageClassifier'
    yml = Config.fromfile(DATA / 'formats/child.yml')
    assert yml.model.backbone.depth == 101 and yml.model.head.num_classes == 10
    assert yml.train_cfg.to_dict() == dict(by_epoch=True, max_epochs=12, val_interval=1)
    assert yml.crop == 32
    mixed = Config.fromfile(DATA / 'formats/mixed.py')   # a .py child of a .yaml base
    assert mixed.model.backbone.depth == 34 and mixed.model.type == 'ImageClassifier'


def test_predefined_variables_describe_each_file():
    cfg = Config.fromfile(DATA / 'predefined.py')
    assert cfg.work_dir == './work_dirs/predefined'
    assert cfg.config_dir == str(DATA).replace('\\', '/')
    assert cfg.names == ['predefined.py', '.py']


def test_predefined_variables_can_be_turned_off(tmp_path):
    path = write(tmp_path / 'p.py', "name = '{{ fileBasename }}'\n")
    assert Config.fromfile(path, use_predefined_variables=False).name == '{{ fileBasename }}'


def test_environment_variables(monkeypatch):
    monkeypatch.delenv('MMLITE_TEST_DATA_ROOT', raising=False)
    monkeypatch.setenv('MMLITE_TEST_EPOCHS', '30')
    cfg = Config.fromfile(DATA / 'env_vars.py')
    assert cfg.data_root == 'data/default' and cfg.max_epochs == 30
    assert cfg.env_variables['MMLITE_TEST_EPOCHS'] == '30'
    monkeypatch.setenv('MMLITE_TEST_DATA_ROOT', '/datasets/cifar')
    assert Config.fromfile(DATA / 'env_vars.py').data_root == '/datasets/cifar'


def test_missing_environment_variable_without_default_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv('MMLITE_SURELY_UNSET', raising=False)
    path = write(tmp_path / 'e.py', "root = '{{$MMLITE_SURELY_UNSET}}'\n")
    with pytest.raises(ConfigKeyError, match=r'MMLITE_SURELY_UNSET.*not set'):
        Config.fromfile(path)


def test_custom_imports_run_when_the_file_loads(tmp_path, monkeypatch):
    write(tmp_path / 'mmlite_test_plugin_ok.py', 'LOADED = True\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(tmp_path / 'c.py', """\
        custom_imports = dict(imports=['mmlite_test_plugin_ok'], allow_failed_imports=False)
        model = dict(type='X')
        """)
    monkeypatch.delitem(sys.modules, 'mmlite_test_plugin_ok', raising=False)
    Config.fromfile(path)
    assert sys.modules['mmlite_test_plugin_ok'].LOADED is True
    monkeypatch.delitem(sys.modules, 'mmlite_test_plugin_ok')
    Config.fromfile(path, import_custom_modules=False)
    assert 'mmlite_test_plugin_ok' not in sys.modules


def test_failed_custom_import_names_module_and_file(tmp_path):
    path = write(tmp_path / 'bad_imports.py',
                 "custom_imports = dict(imports=['mmlite_no_such_module_xyz'])\n")
    with pytest.raises(ConfigImportError) as info:
        Config.fromfile(path)
    assert 'mmlite_no_such_module_xyz' in str(info.value) and 'bad_imports.py' in str(info.value)
    assert isinstance(info.value, ImportError)
    allowed = write(tmp_path / 'ok_imports.py', "custom_imports = dict(\n"
                    "    imports=['mmlite_no_such_module_xyz'], allow_failed_imports=True)\n")
    with pytest.warns(UserWarning, match='mmlite_no_such_module_xyz'):
        Config.fromfile(allowed)


def test_syntax_error_names_file_and_line_and_shows_it():
    with pytest.raises(ConfigSyntaxError) as info:
        Config.fromfile(DATA / 'errors/syntax_error.py')
    message = str(info.value)
    assert 'syntax_error.py, line 2' in message
    assert "optimizer = dict(type='SGD', lr=0.1,, momentum=0.9)" in message
    assert isinstance(info.value, SyntaxError)


@pytest.mark.parametrize('name, text, line', [
    ('bad.json', '{\n  "a": 1,\n  "b": \n}\n', 4),
    ('bad.yaml', 'a: 1\nb: [1, 2\nc: 3\n', 3),
])
def test_json_and_yaml_syntax_errors_name_the_line(tmp_path, name, text, line):
    with pytest.raises(ConfigSyntaxError, match=rf'{name}, line {line}'):
        Config.fromfile(write(tmp_path / name, text))


def test_missing_base_names_including_file_and_looked_up_path():
    with pytest.raises(ConfigFileNotFoundError) as info:
        Config.fromfile(DATA / 'errors/missing_base.py')
    message = str(info.value)
    assert 'missing_base.py' in message
    assert str(DATA / '_base_/models/does_not_exist.py') in message
    assert isinstance(info.value, FileNotFoundError)


def test_missing_config_file():
    with pytest.raises(ConfigFileNotFoundError, match='nope.py'):
        Config.fromfile(DATA / 'nope.py')


def test_unsupported_extension(tmp_path):
    with pytest.raises(ConfigError, match=r'\.py, \.json, \.yaml or \.yml'):
        Config.fromfile(write(tmp_path / 'cfg.toml', 'a = 1\n'))


def test_duplicate_key_in_two_bases_names_both_files_and_the_key():
    with pytest.raises(ConfigKeyError) as info:
        Config.fromfile(DATA / 'dup/child.py')
    message = str(info.value)
    assert "'model'" in message
    assert str(DATA / 'dup/a.py') in message and str(DATA / 'dup/b.py') in message


def test_undefined_base_variable_is_named():
    with pytest.raises(ConfigKeyError, match=r'_base_\.val_pipeline'):
        Config.fromfile(DATA / 'errors/undefined_base_var.py')
    with pytest.raises(AttributeError, match=r'undefined_base_attr\.py: _base_\.val_pipeline'):
        Config.fromfile(DATA / 'errors/undefined_base_attr.py')


def test_dict_over_non_dict_base_value_names_file_key_and_fix():
    with pytest.raises(ConfigTypeError, match=r"type_clash\.py: 'log_level'.*_delete_=True"):
        Config.fromfile(DATA / 'errors/type_clash.py')


def test_circular_inheritance_is_reported():
    with pytest.raises(ConfigError, match='circular _base_'):
        Config.fromfile(DATA / 'errors/cycle_a.py')


def test_base_list_must_be_literal(tmp_path):
    path = write(tmp_path / 'c.py', "import os\n_base_ = [os.path.join('a', 'b.py')]\n")
    with pytest.raises(ConfigError, match=r'c\.py, line 2: _base_ must be written as a literal'):
        Config.fromfile(path)


def test_lazy_import_style_is_refused_clearly(tmp_path):
    path = write(tmp_path / 'lazy.py', 'from mmlite.config import read_base\n'
                 'with read_base():\n    from .base import *\n')
    with pytest.raises(ConfigError, match='lazy-import'):
        Config.fromfile(path)


def test_deprecation_key_warns_and_is_removed(tmp_path):
    path = write(tmp_path / 'old.py', "_deprecation_ = dict(expected='new.py', reference='url')\na = 1\n")
    with pytest.warns(DeprecationWarning, match='Please use new.py instead'):
        cfg = Config.fromfile(path)
    assert '_deprecation_' not in cfg and cfg.a == 1


def test_base_paths_absolute_and_home_relative(tmp_path):
    base = write(tmp_path / 'deep' / 'base.py', 'a = dict(x=1, y=2)\n')
    child = write(tmp_path / 'child.py', f"_base_ = [{str(base)!r}]\na = dict(y=3)\n")
    assert Config.fromfile(child).a.to_dict() == dict(x=1, y=3)


def test_fromstring_all_formats():
    assert Config.fromstring("a = dict(b=1)\nc = [1, 2]\n", '.py').to_dict() == dict(a=dict(b=1), c=[1, 2])
    assert Config.fromstring('{"a": {"b": 1}}', 'json').a.b == 1
    assert Config.fromstring('a:\n  b: 1\n', '.yaml').a.b == 1
    cfg = Config.fromstring('x = 1\n', '.py')
    assert cfg.filename is None and cfg.text == 'x = 1\n'
    with pytest.raises(ConfigError, match='fromfile'):
        Config.fromstring("d = '{{ fileDirname }}'\n", '.py')
    with pytest.raises(ConfigError, match='.toml'):
        Config.fromstring('a = 1', '.toml')


def test_fromstring_resolves_bases_from_cwd(monkeypatch):
    monkeypatch.chdir(DATA)
    cfg = Config.fromstring("_base_ = '_base_/models/resnet18_cifar.py'\n"
                            "model = dict(head=dict(num_classes=100))\n", '.py')
    assert cfg.model.head.num_classes == 100 and cfg.model.backbone.depth == 18


def test_no_warnings_on_a_clean_load():
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        Config.fromfile(DATA / 'resnet34_adamw_cifar10.py')


def test_reserved_keys_are_refused(tmp_path):
    with pytest.raises(ConfigKeyError, match="'filename' is a reserved name"):
        Config.fromfile(write(tmp_path / 'r.py', 'filename = 1\n'))


def test_config_dir_untouched_by_loading():
    before = sorted(os.listdir(DATA))
    Config.fromfile(DATA / 'base_refs.py')
    assert sorted(os.listdir(DATA)) == before
