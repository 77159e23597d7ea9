"""mmlite.utils.misc: the helpers config loading and other packages lean on.

(Kept beside the config tests because this helper's brief covers tests/config only;
move to tests/utils/ when that folder has an owner.)
"""
import collections
import os
import sys

import pytest

from mmlite.utils import (apply_to, concat_list, digit_version, get_object_from_string, has_method,
                          import_modules_from_strings, is_list_of, is_method_overridden, is_seq_of,
                          is_str, is_tuple_of, list_cast, slice_list, to_1tuple, to_2tuple, to_ntuple,
                          tuple_cast)


def test_type_checks():
    assert is_str('a') and not is_str(b'a')
    assert is_seq_of([1, 2], int) and is_seq_of((1, 'a'), (int, str)) and not is_seq_of([1, 'a'], int)
    assert is_seq_of([1], int, seq_type=list) and not is_seq_of((1,), int, seq_type=list)
    assert is_list_of([1.0], float) and not is_list_of((1.0,), float)
    assert is_tuple_of((1,), int) and not is_tuple_of([1], int)
    assert not is_seq_of(3, int)


def test_casts_and_lists():
    assert list_cast(['1', '2'], int) == [1, 2] and tuple_cast([1], str) == ('1',)
    assert slice_list([1, 2, 3, 4, 5], [2, 3]) == [[1, 2], [3, 4, 5]]
    assert slice_list([1, 2, 3, 4], 2) == [[1, 2], [3, 4]]
    with pytest.raises(ValueError, match='sum to 2'):
        slice_list([1, 2, 3], [1, 1])
    assert concat_list([[1], [2, 3], []]) == [1, 2, 3]


def test_ntuples():
    assert to_2tuple(3) == (3, 3) and to_1tuple(1) == (1,) and to_ntuple(4)('a') == 'a'
    assert to_2tuple((1, 2)) == (1, 2)


def test_import_modules_from_strings(tmp_path, monkeypatch):
    assert import_modules_from_strings(None) is None
    assert import_modules_from_strings('os') is os
    assert import_modules_from_strings(['os', 'sys']) == [os, sys]
    with pytest.raises(ImportError, match="'mmlite_absent_mod'"):
        import_modules_from_strings(['os', 'mmlite_absent_mod'])
    with pytest.warns(UserWarning, match='mmlite_absent_mod'):
        assert import_modules_from_strings(['mmlite_absent_mod', 'os'], allow_failed_imports=True) \
            == [None, os]
    with pytest.raises(TypeError, match='dotted module name'):
        import_modules_from_strings([3])
    (tmp_path / 'mmlite_misc_probe.py').write_text('VALUE = 7\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_modules_from_strings('mmlite_misc_probe').VALUE == 7


def test_digit_version_orders_releases():
    assert digit_version('1.2.3') == (1, 2, 3, 0, 0, 0)
    assert digit_version('2.1.0+cu118') == digit_version('2.1.0')
    ordered = ['1.0.0.dev1', '1.0.0a1', '1.0.0b2', '1.0.0rc1', '1.0.0', '1.0.0.post1', '1.0.1', '1.10']
    assert sorted(ordered, key=digit_version) == ordered
    with pytest.raises(ValueError, match="'not-a-version'"):
        digit_version('not-a-version')


def test_method_overrides_and_objects_from_strings():
    class Base:
        def hook(self):
            pass

    class Child(Base):
        def hook(self):
            pass

    assert is_method_overridden('hook', Base, Child) and is_method_overridden('hook', Base, Child())
    assert not is_method_overridden('hook', Base, Base)
    assert has_method(Child(), 'hook') and not has_method(Child(), 'nope')
    assert get_object_from_string('collections.OrderedDict') is collections.OrderedDict
    assert get_object_from_string('os.path.join') is os.path.join
    assert get_object_from_string('collections.NoSuchThing') is None


def test_apply_to_nested():
    Pair = collections.namedtuple('Pair', 'a b')
    data = {'x': [1, 'a', (2, Pair(3, 'b'))]}
    out = apply_to(data, lambda v: isinstance(v, int), lambda v: v * 10)
    assert out == {'x': [10, 'a', (20, Pair(30, 'b'))]} and type(out['x'][2][1]) is Pair
