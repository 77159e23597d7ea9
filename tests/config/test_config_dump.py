"""Config.dump / pretty_text: the written file reads back to the same dict."""
import ast
import collections
import math
from pathlib import Path

import pytest

from mmlite.config import Config, ConfigKeyError, ConfigTypeError
from mmlite.fileio import load

DATA = Path(__file__).resolve().parents[1] / 'data' / 'config'


def _json_normal(value):
    """What a JSON round trip turns a value into (tuples become lists)."""
    if isinstance(value, dict):
        return {k: _json_normal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_normal(v) for v in value]
    return value


@pytest.mark.parametrize('name', ['resnet34_adamw_cifar10.py', 'base_refs.py', 'formats/child.json',
                                  'formats/child.yml'])
@pytest.mark.parametrize('suffix', ['.py', '.yaml', '.json', '.pkl'])
def test_dump_reloads_to_the_same_dict(tmp_path, name, suffix):
    cfg = Config.fromfile(DATA / name)
    out = tmp_path / f'dumped{suffix}'
    cfg.dump(out)
    again = Config.fromfile(out) if suffix != '.pkl' else Config(load(out))
    if suffix == '.json':
        assert again.to_dict() == _json_normal(cfg.to_dict())
    else:
        assert again.to_dict() == cfg.to_dict()
    assert list(again.keys()) == list(cfg.keys())    # key order survives


def test_dump_without_path_returns_text_of_the_source_format():
    py_cfg = Config.fromfile(DATA / 'resnet18_8xb16_cifar10.py')
    text = py_cfg.dump()
    assert text == py_cfg.pretty_text
    ast.parse(text)
    json_cfg = Config.fromfile(DATA / 'formats/child.json')
    assert load(__import__('io').StringIO(json_cfg.dump()), file_format='json')['depth_ref'] == 18
    yml_cfg = Config.fromfile(DATA / 'formats/child.yml')
    assert 'max_epochs: 12' in yml_cfg.dump()
    assert Config(dict(a=1)).dump() == 'a = 1\n'


def test_pretty_text_is_formatted_python():
    cfg = Config.fromfile(DATA / 'resnet18_8xb16_cifar10.py')
    text = cfg.pretty_text
    assert "model = dict(\n    type='ImageClassifier'," in text
    assert 'out_indices=(3, )' in text                        # one-tuples stay tuples
    assert max(len(line) for line in text.splitlines()) <= 79  # yapf pep8 wrapping
    unformatted = Config(cfg.to_dict(), format_python_code=False).pretty_text
    assert len(unformatted.splitlines()) == len(cfg)         # one line per key without yapf


def test_pretty_text_handles_awkward_values(tmp_path):
    Pair = collections.namedtuple('Pair', 'a b')
    cfg = Config({
        'weird_keys': {'not-an-identifier': 1, 'class': 2, 3: 'int key', 'ok': {'x': None}},
        'floats': [float('inf'), -float('inf'), 1e-300],
        'nan': float('nan'),
        'empty': [(), [], {}, set()],
        'one': (1,),
        'pair': Pair(1, 2),
        'cls': collections.OrderedDict,
        'path': Path('/tmp/x'),
        'message': "it's \"quoted\"\nwith newline",
    })
    out = tmp_path / 'awkward.py'
    cfg.dump(out)
    again = Config.fromfile(out)
    assert again.weird_keys.to_dict() == {'not-an-identifier': 1, 'class': 2, 3: 'int key',
                                          'ok': {'x': None}}
    assert again.floats == [float('inf'), -float('inf'), 1e-300] and math.isnan(again.nan)
    assert again.empty == [(), [], {}, set()] and again.one == (1,) and again.pair == (1, 2)
    assert again.cls == 'collections.OrderedDict'  # an import path the registry resolves
    assert again.path == '/tmp/x' and again.message == cfg.message


def test_values_without_source_form_fail_clearly(tmp_path):
    cfg = Config(dict(model=dict(extra=object())))
    with pytest.raises(ConfigTypeError, match="'model.extra' holds a object"):
        cfg.dump(tmp_path / 'x.py')
    assert not (tmp_path / 'x.py').exists()
    with pytest.raises(ConfigKeyError, match="'bad-key' is not a Python identifier"):
        Config({'bad-key': 1}).dump(tmp_path / 'bad.py')
    Config({'bad-key': 1}).dump(tmp_path / 'ok.yaml')
    assert Config.fromfile(tmp_path / 'ok.yaml')['bad-key'] == 1


def test_pretty_text_for_logs_never_fails(tmp_path):
    thing = object()
    cfg = Config({'model': dict(extra=thing, ok=[1]), 'bad-key': 2})
    text = cfg.pretty_text
    assert repr(repr(thing)) in text and 'ok=[1]' in text
    (tmp_path / 'shown.py').write_text(text)   # still valid Python
    shown = Config.fromfile(tmp_path / 'shown.py')
    assert shown.model.extra == repr(thing) and shown['bad-key'] == 2
    with pytest.raises(ConfigTypeError):
        cfg.dump()


def test_dump_overwrites_atomically_and_leaves_no_temp_files(tmp_path):
    out = tmp_path / 'c.py'
    Config(dict(a=1)).dump(out)
    Config(dict(a=2)).dump(str(out))
    assert Config.fromfile(out).a == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ['c.py']


def test_diff_shows_changed_lines():
    a = Config(dict(lr=0.1, depth=18))
    b = Config(dict(lr=0.01, depth=18))
    diff = Config.diff(a, b)
    assert '-lr = 0.1\n' in diff and '+lr = 0.01\n' in diff and 'depth' not in diff.replace(' depth', '')
