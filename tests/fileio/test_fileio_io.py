"""load/dump by extension, atomic writes, and the local backend functions."""
import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from mmlite import fileio
from mmlite.fileio import BaseFileHandler, dump, get_file_backend, load, register_handler

DATA = {'name': 'x', 'nums': [1, 2.5], 'nested': {'ok': True, 'none': None}}


@pytest.mark.parametrize('ext', ['json', 'yaml', 'yml', 'pkl', 'pickle'])
def test_round_trip_by_extension(tmp_path, ext):
    path = tmp_path / f'obj.{ext}'
    assert dump(DATA, path) is None
    assert load(path) == DATA
    assert load(str(path)) == DATA


def test_dump_without_file_returns_text_and_file_objects_work():
    text = dump(DATA, file_format='json')
    assert isinstance(text, str) and load(io.StringIO(text), file_format='json') == DATA
    text = dump(DATA, file_format='yaml')
    assert isinstance(text, str) and load(io.StringIO(text), file_format='yml') == DATA
    raw = dump(DATA, file_format='pkl')
    assert isinstance(raw, bytes) and pickle.loads(raw) == DATA
    buffer = io.BytesIO()
    dump(DATA, buffer, file_format='pickle')
    buffer.seek(0)
    assert load(buffer, file_format='pickle') == DATA


def test_yaml_keeps_tuples_and_order_and_refuses_arbitrary_objects(tmp_path):
    obj = {'z': (1, (2, 3)), 'a': [(4,)]}
    path = tmp_path / 'o.yaml'
    dump(obj, path)
    loaded = load(path)
    assert loaded == obj and list(loaded) == ['z', 'a']
    (tmp_path / 'evil.yaml').write_text('x: !!python/object/apply:os.system ["echo hi"]\n')
    with pytest.raises(Exception, match='python/object/apply'):
        load(tmp_path / 'evil.yaml')


def test_json_writes_numpy_and_sets(tmp_path):
    path = tmp_path / 'np.json'
    dump({'arr': np.arange(3), 'scalar': np.float32(0.5), 'set': {3}, 'r': range(2)}, path)
    assert load(path) == {'arr': [0, 1, 2], 'scalar': 0.5, 'set': [3], 'r': [0, 1]}
    with pytest.raises(TypeError, match='not JSON serialisable'):
        dump({'o': object()}, file_format='json')


def test_format_errors_are_clear(tmp_path):
    with pytest.raises(TypeError, match='unsupported file format'):
        dump(DATA, tmp_path / 'x.toml')
    with pytest.raises(TypeError, match='pass file_format'):
        load(io.StringIO('{}'))
    with pytest.raises(TypeError, match='needs file_format'):
        dump(DATA)
    with pytest.raises(ValueError, match='local files only'):
        load('s3://bucket/x.json')
    with pytest.raises(ValueError, match="only 'local'"):
        get_file_backend('x', backend_args={'backend': 'petrel'})


def test_failed_dump_keeps_the_old_file_and_no_temp_files(tmp_path):
    path = tmp_path / 'state.json'
    dump({'v': 1}, path)
    with pytest.raises(TypeError):
        dump({'v': object()}, path)
    assert load(path) == {'v': 1}
    assert os.listdir(tmp_path) == ['state.json']
    nested = tmp_path / 'new' / 'dir' / 'x.pkl'
    dump([1], nested)                     # parents are created
    assert load(nested) == [1]


def test_register_handler_adds_a_format(tmp_path):
    @register_handler('txtlist')
    class TxtListHandler(BaseFileHandler):
        def load_from_fileobj(self, file, **kwargs):
            return file.read().split('\n')

        def dump_to_fileobj(self, obj, file, **kwargs):
            file.write('\n'.join(obj))

        def dump_to_str(self, obj, **kwargs):
            return '\n'.join(obj)

    try:
        dump(['a', 'b'], tmp_path / 'x.txtlist')
        assert load(tmp_path / 'x.txtlist') == ['a', 'b']
    finally:
        fileio.file_handlers.pop('txtlist')


def test_backend_functions(tmp_path):
    target = tmp_path / 'sub' / 'f.bin'
    fileio.put(b'\x00\x01', target)
    assert fileio.get(target) == b'\x00\x01'
    fileio.put_text('héllo', tmp_path / 't.txt')
    assert fileio.get_text(tmp_path / 't.txt') == 'héllo'
    assert fileio.exists(target) and fileio.isfile(target) and not fileio.isdir(target)
    assert fileio.isdir(tmp_path / 'sub')
    assert fileio.join_path(str(tmp_path), 'sub', 'f.bin') == str(target)
    with fileio.get_local_path(target) as local:
        assert Path(local).read_bytes() == b'\x00\x01'
    fileio.copyfile(target, tmp_path / 'copy.bin')
    assert fileio.get(tmp_path / 'copy.bin') == b'\x00\x01'
    assert sorted(fileio.list_dir_or_file(tmp_path, recursive=True)) == [
        'copy.bin', 'sub', os.path.join('sub', 'f.bin'), 't.txt']
    assert sorted(fileio.list_dir_or_file(tmp_path, list_dir=False, suffix='.bin', recursive=True)) \
        == ['copy.bin', os.path.join('sub', 'f.bin')]
    fileio.remove(tmp_path / 'copy.bin')
    fileio.rmtree(tmp_path / 'sub')
    assert sorted(os.listdir(tmp_path)) == ['t.txt']
