"""Path helpers and line-oriented text files."""
import os
from pathlib import Path

import pytest

from mmlite.fileio import (check_file_exist, dict_from_file, is_filepath, list_from_file,
                           mkdir_or_exist, scandir, symlink)


def make_tree(root: Path) -> None:
    for rel in ['a.py', 'b.PY', 'c.txt', '.hidden.py', 'sub/d.py', 'sub/deeper/e.txt']:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)


def test_scandir_filters_and_recurses(tmp_path):
    make_tree(tmp_path)
    assert sorted(scandir(tmp_path)) == ['a.py', 'b.PY', 'c.txt']
    assert sorted(scandir(str(tmp_path), '.py')) == ['a.py']
    assert sorted(scandir(tmp_path, '.py', case_sensitive=False)) == ['a.py', 'b.PY']
    assert sorted(scandir(tmp_path, ('.py', '.txt'), recursive=True)) == [
        'a.py', 'c.txt', os.path.join('sub', 'd.py'), os.path.join('sub', 'deeper', 'e.txt')]
    with pytest.raises(TypeError, match='suffix'):
        scandir(tmp_path, suffix=['.py'])
    with pytest.raises(TypeError, match='dir_path'):
        scandir(3)


def test_mkdir_or_exist_and_checks(tmp_path):
    target = tmp_path / 'x' / 'y'
    mkdir_or_exist(target)
    mkdir_or_exist(str(target))       # exists: no error
    mkdir_or_exist('')                # the cwd: no-op
    assert target.is_dir()
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        check_file_exist(tmp_path / 'missing.txt')
    assert is_filepath('a') and is_filepath(Path('a')) and not is_filepath(3)


def test_symlink_overwrites(tmp_path):
    (tmp_path / 'one').write_text('1')
    (tmp_path / 'two').write_text('2')
    link = tmp_path / 'latest'
    symlink(tmp_path / 'one', link)
    symlink(tmp_path / 'two', link)
    assert link.read_text() == '2'


def test_list_from_file(tmp_path):
    path = tmp_path / 'l.txt'
    path.write_text('a\nb\r\nc\nd\n')
    assert list_from_file(path) == ['a', 'b', 'c', 'd']
    assert list_from_file(path, prefix='p/', offset=1, max_num=2) == ['p/b', 'p/c']


def test_dict_from_file(tmp_path):
    path = tmp_path / 'd.txt'
    path.write_text('1 cat\n2 dog puppy\n\n3 bird\n')
    assert dict_from_file(path) == {'1': 'cat', '2': ['dog', 'puppy'], '3': 'bird'}
    assert dict_from_file(path, key_type=int)[2] == ['dog', 'puppy']
    path.write_text('1 cat\nlonely\n')
    with pytest.raises(ValueError, match='line 2'):
        dict_from_file(path)
