"""DictAction / --cfg-options parsing, including property-based fault tolerance."""
import argparse
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmlite.config import Config, ConfigError, DictAction, parse_option_value


def make_parser():
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser


def test_the_documented_value_forms():
    args = make_parser().parse_args([
        '--cfg-options', 'k=v', 'k2=[1,2]', 'k3="(a,b)"', 'k4=None', 'k5=True', 'k6=1e-3',
        'workflow=[(train,1),(val,1)]', 'k7=a,b', 'k8=false', 'k9=-3', 'k10=1.5',
    ])
    assert args.cfg_options == {
        'k': 'v', 'k2': [1, 2], 'k3': ('a', 'b'), 'k4': None, 'k5': True, 'k6': 0.001,
        'workflow': [('train', 1), ('val', 1)], 'k7': ['a', 'b'], 'k8': False, 'k9': -3, 'k10': 1.5,
    }
    assert isinstance(args.cfg_options['k6'], float) and isinstance(args.cfg_options['k9'], int)


@pytest.mark.parametrize('text, expected', [
    ('[[1,2],(3,[4,(5,)])]', [[1, 2], (3, [4, (5,)])]),
    ('[]', []),
    ('()', ()),
    ('(1,)', (1,)),
    ('[ 1 , 2 ]', [1, 2]),
    ("'1'", '1'),                       # quotes keep a number a string
    ('"a,b"', 'a,b'),                   # and protect commas
    ("['x,y', \"it's\"]", ['x,y', "it's"]),
    (r"'say \'hi\''", "say 'hi'"),
    ('runs/exp(1)', 'runs/exp(1)'),     # brackets inside a word are text
    ('[runs/exp(1),2]', ['runs/exp(1)', 2]),
    ('my dir', 'my dir'),
    ('', ''),
    ('a,', ['a']),
    ('TRUE', True),
    ('none', 'none'),                   # only None is None, as in MMEngine
    ('x=y', 'x=y'),
    ('inf', math.inf),
])
def test_parse_option_value(text, expected):
    assert parse_option_value(text) == expected


@pytest.mark.parametrize('text, fragment', [
    ('[1,2', "'[' is never closed"),
    ('(a]', "expected \",\" or ')'"),
    ('a,,b', 'missing value'),
    ('[1,,2]', 'missing value'),
    (']', "unmatched ']'"),
    ('"abc', 'never closed'),
    ('[1]x', "unexpected 'x'"),
    ('[' * 150, 'nested deeper'),
])
def test_malformed_values_raise_config_error(text, fragment):
    with pytest.raises(ConfigError, match=None) as info:
        parse_option_value(text)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_errors_name_the_option_and_the_item():
    with pytest.raises(ConfigError) as info:
        make_parser().parse_args(['--cfg-options', 'ok=1', 'model.depth=[1,2'])
    assert "--cfg-options 'model.depth=[1,2'" in str(info.value)
    with pytest.raises(ConfigError, match=r'--cfg-options: expected KEY=VALUE.*\'nokey\''):
        make_parser().parse_args(['--cfg-options', 'nokey'])
    with pytest.raises(ConfigError, match='KEY=VALUE'):
        make_parser().parse_args(['--cfg-options', '=3'])


def test_repeated_option_accumulates_and_feeds_merge_from_dict():
    args = make_parser().parse_args(['--cfg-options', 'a.b=1', '--cfg-options', 'pipe.0.type=X'])
    assert args.cfg_options == {'a.b': 1, 'pipe.0.type': 'X'}
    cfg = Config(dict(a=dict(b=0, c=2), pipe=[dict(type='A')]))
    cfg.merge_from_dict(args.cfg_options)
    assert cfg.to_dict() == dict(a=dict(b=1, c=2), pipe=[dict(type='X')])


def test_mmengine_static_helpers_exist():
    assert DictAction._parse_int_float_bool('3') == 3
    assert DictAction._parse_iterable('[a,(1,2)]') == ['a', (1, 2)]


# ----------------------------------------------------------------- properties
@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from('[](),\'"\\ ab1.-eE') | st.characters(), max_size=40))
def test_arbitrary_text_parses_or_raises_config_error(text):
    try:
        parse_option_value(text)
    except ConfigError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=5))
def test_arbitrary_argv_parses_or_raises_config_error(items):
    try:
        make_parser().parse_args(['--cfg-options', *items] if items else [])
    except ConfigError:
        pass
    except SystemExit:  # argparse itself rejects e.g. items that look like options
        pass


words = st.text(alphabet='abcxyz_/', min_size=1, max_size=6)
scalars = st.one_of(st.integers(-1000, 1000), words, st.booleans(), st.none(),
                    st.floats(allow_nan=False, allow_infinity=False))
nested = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.tuples(inner, inner)), max_leaves=10)


def render(value):
    """Write a value the way a user would on the command line."""
    if isinstance(value, list):
        return '[' + ','.join(render(v) for v in value) + ']'
    if isinstance(value, tuple):
        return '(' + ','.join(render(v) for v in value) + (',' if len(value) == 1 else '') + ')'
    return repr(value) if isinstance(value, float) else str(value)


@settings(max_examples=300, deadline=None)
@given(nested)
def test_rendered_values_parse_back(value):
    assert parse_option_value(render(value)) == value
