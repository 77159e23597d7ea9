"""LocalVisBackend keeps its scalar files open between lines: every line is on disk at once,
close() and any fork release the files, a later write reopens them; lines are exactly the
JSON that ``json.dumps`` writes for the same (converted) values."""
import json
import math
import os
import shutil
import tempfile

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmlite.visualization import LocalVisBackend

needs_proc_fds = pytest.mark.skipif(not os.path.isdir('/proc/self/fd'),
                                    reason='lists open files through /proc/self/fd')


def _open_paths(folder) -> set[str]:
    """Files under ``folder`` this process holds open."""
    folder = os.path.realpath(folder)
    paths = set()
    for fd in os.listdir('/proc/self/fd'):
        try:
            target = os.readlink(f'/proc/self/fd/{fd}')
        except OSError:  # the descriptor listdir itself used, already closed
            continue
        if target.startswith(folder + os.sep):
            paths.add(os.path.basename(target))
    return paths


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@needs_proc_fds
def test_files_stay_open_between_lines_and_close_with_the_backend(tmp_path):
    backend = LocalVisBackend(str(tmp_path))
    backend.add_scalars({'loss': 1.0}, step=1, file_path='run.json')
    assert _open_paths(tmp_path) == {'scalars.json', 'run.json'}
    backend.add_scalars({'loss': 0.5}, step=2, file_path='run.json')
    # Read back while still open: nothing waits in a buffer.
    assert [line['step'] for line in _lines(tmp_path / 'scalars.json')] == [1, 2]
    assert [line['step'] for line in _lines(tmp_path / 'run.json')] == [1, 2]

    backend.close()
    assert _open_paths(tmp_path) == set()
    backend.add_scalars({'loss': 0.25}, step=3)  # reopened, appended after the old lines
    assert [line['step'] for line in _lines(tmp_path / 'scalars.json')] == [1, 2, 3]
    backend.close()


def test_after_close_a_removed_folder_is_made_again(tmp_path):
    backend = LocalVisBackend(str(tmp_path / 'vis'))
    backend.add_scalar('lr', 0.1, step=1)
    backend.close()
    shutil.rmtree(tmp_path / 'vis')  # e.g. a run that moved its logs away
    backend.add_scalar('lr', 0.2, step=2)
    backend.close()
    assert _lines(tmp_path / 'vis' / 'scalars.json') == [{'lr': 0.2, 'step': 2}]


@needs_proc_fds
@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs os.fork')
def test_a_forked_child_holds_no_scalar_file_and_no_line_is_written_twice(tmp_path):
    backend = LocalVisBackend(str(tmp_path))
    backend.add_scalars({'loss': 1.0}, step=1)
    pid = os.fork()  # what a DataLoader worker start does
    if pid == 0:
        os._exit(0 if not _open_paths(tmp_path) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # the child dropped its copies at once
    assert _open_paths(tmp_path) == {'scalars.json'}  # the parent writes on
    backend.add_scalars({'loss': 0.5}, step=2)
    backend.close()
    assert [line['step'] for line in _lines(tmp_path / 'scalars.json')] == [1, 2]


def _as_python(value):
    """What the backend promises to write for a value: Python numbers and lists."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, (np.generic, np.ndarray)):
        return value.item() if value.size == 1 else value.tolist()
    return value


_floats = st.floats(allow_nan=True, allow_infinity=True)
_values = st.one_of(
    _floats, st.integers(min_value=-2**70, max_value=2**70), st.booleans(), st.none(),
    st.text(max_size=5), _floats.map(np.float64), st.floats(width=32).map(np.float32),
    st.integers(min_value=-2**40, max_value=2**40).map(np.int64),
    st.floats(allow_nan=False, width=32).map(torch.tensor),
    st.lists(_floats, max_size=3))
_records = st.dictionaries(st.text(max_size=8), _values, max_size=6)


@settings(max_examples=150, deadline=None)
@given(record=_records, step=st.integers(min_value=0, max_value=10**9))
def test_each_line_is_what_json_dumps_writes(record, step):
    with tempfile.TemporaryDirectory() as folder:
        backend = LocalVisBackend(folder)
        backend.add_scalars(record, step=step)
        backend.close()
        with open(os.path.join(folder, 'scalars.json'), encoding='utf-8') as file:
            text = file.read()
    expected = {key: _as_python(value) for key, value in record.items()}
    expected.setdefault('step', step)
    assert text == json.dumps(expected) + '\n'


def test_training_records_keep_float_precision(tmp_path):
    backend = LocalVisBackend(str(tmp_path))
    values = {'loss': 2.3488098893846785, 'lr': 1e-05, 'time': 0.1 + 0.2, 'iter': 50}
    backend.add_scalars(values, step=50)
    backend.close()
    (line,) = _lines(tmp_path / 'scalars.json')
    assert line == dict(values, step=50)
    assert math.isclose(line['time'], 0.30000000000000004, rel_tol=0, abs_tol=0)
