"""HistoryBuffer: statistics, windows, trimming, and tensors kept without host-device syncs."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.overrides import TorchFunctionMode

import mmlite.logging.history_buffer as history_buffer
from mmlite.logging import HistoryBuffer

_SYNCING = {'item', 'tolist', 'cpu', '__float__', '__int__', 'numpy', '__bool__'}


class _RecordTorchCalls(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.append(getattr(func, '__name__', str(func)))
        return func(*args, **(kwargs or {}))


def test_statistics_over_windows():
    buffer = HistoryBuffer()
    for value in [4.0, 1.0, 3.0, 2.0]:
        buffer.update(value)
    assert buffer.mean() == pytest.approx(2.5)
    assert buffer.mean(2) == pytest.approx(2.5)
    assert buffer.mean(1) == 2.0
    assert buffer.max() == 4.0 and buffer.max(3) == 3.0
    assert buffer.min() == 1.0 and buffer.min(2) == 2.0
    assert buffer.current() == 2.0
    assert buffer.statistics('mean', 3) == pytest.approx(2.0)
    assert buffer.statistics('current') == 2.0


def test_mean_weights_by_count():
    buffer = HistoryBuffer()
    buffer.update(10.0, count=4)  # e.g. the summed loss of 4 samples
    buffer.update(2.0, count=1)
    assert buffer.mean() == pytest.approx(12.0 / 5)


def test_constructor_history_and_data_arrays():
    buffer = HistoryBuffer([1, 2, 3], [1, 1, 2])
    values, counts = buffer.data
    np.testing.assert_array_equal(values, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(counts, [1, 1, 2])
    assert values.dtype == np.float64
    with pytest.raises(ValueError, match='as many counts as values'):
        HistoryBuffer([1, 2], [1])


def test_max_length_keeps_the_newest():
    buffer = HistoryBuffer(max_length=3)
    for value in range(6):
        buffer.update(torch.tensor(float(value)) if value % 2 else value)
    assert buffer.data[0].tolist() == [3.0, 4.0, 5.0]
    assert len(buffer) == 3


def test_tensor_updates_do_not_sync_and_statistics_sync_once(monkeypatch):
    # As for tensors on a GPU: CPU tensors take a cheaper per-value path (nothing to wait for).
    monkeypatch.setattr(history_buffer, '_IS_CPU', lambda tensor: False)
    buffer = HistoryBuffer()
    weight = torch.tensor(2.0, requires_grad=True)
    losses = [weight * i for i in range(20)]
    with _RecordTorchCalls() as during_update:
        for loss in losses:
            buffer.update(loss)
    assert not _SYNCING & set(during_update.names)
    with _RecordTorchCalls() as during_mean:
        mean = buffer.mean()
    assert mean == pytest.approx(19.0)
    assert during_mean.names.count('tolist') == 1
    assert not (_SYNCING - {'tolist'}) & set(during_mean.names)
    with _RecordTorchCalls() as second_read:
        buffer.max()
    assert not _SYNCING & set(second_read.names)  # already converted


def test_cpu_tensors_are_read_one_by_one_with_the_same_values(monkeypatch):
    values = [torch.tensor(0.1), torch.tensor([2.5], dtype=torch.float64), torch.tensor(3)]
    per_value, batched = HistoryBuffer(), HistoryBuffer()
    for value in values:
        per_value.update(value)
        batched.update(value)
    expected = [float(v) for v in values]
    with _RecordTorchCalls() as reads:
        assert per_value.data[0].tolist() == expected
    assert reads.names.count('__float__') == 3 and 'tolist' not in reads.names
    monkeypatch.setattr(history_buffer, '_IS_CPU', lambda tensor: False)  # the batched path
    assert batched.data[0].tolist() == per_value.data[0].tolist()


def test_stored_tensors_drop_the_autograd_graph():
    buffer = HistoryBuffer()
    weight = torch.tensor(3.0, requires_grad=True)
    buffer.update(weight * 2)
    stored = buffer._values[-1]
    assert isinstance(stored, torch.Tensor) and not stored.requires_grad
    assert buffer.current() == 6.0


def test_accepts_numpy_and_one_element_tensors_of_any_shape_and_dtype():
    buffer = HistoryBuffer()
    buffer.update(np.float32(1.5))
    buffer.update(np.int64(2), count=np.int64(1))
    buffer.update(torch.tensor([[3]], dtype=torch.int32))
    buffer.update(torch.tensor(0.25, dtype=torch.bfloat16))
    assert buffer.data[0].tolist() == [1.5, 2.0, 3.0, 0.25]


def test_bad_inputs_name_the_problem():
    buffer = HistoryBuffer()
    with pytest.raises(ValueError, match='empty'):
        buffer.mean()
    with pytest.raises(TypeError, match='number or a 1-element tensor'):
        buffer.update('1.0')
    with pytest.raises(TypeError):
        buffer.update(True)
    with pytest.raises(ValueError, match=r'shape \(2,\)'):
        buffer.update(torch.ones(2))
    with pytest.raises(TypeError, match='count must be an int'):
        buffer.update(1.0, count=1.5)
    buffer.update(1.0)
    with pytest.raises(ValueError, match='window_size'):
        buffer.mean(0)
    with pytest.raises(KeyError, match="no statistic 'median'"):
        buffer.statistics('median')
    with pytest.raises(ValueError, match='max_length'):
        HistoryBuffer(max_length=0)


def test_register_custom_statistic():
    def spread(self, window_size=None):
        values = self.data[0] if window_size is None else self.data[0][-window_size:]
        return float(values.max() - values.min())

    HistoryBuffer.register_statistics(spread)
    try:
        buffer = HistoryBuffer([1.0, 5.0, 2.0], [1, 1, 1])
        assert buffer.statistics('spread') == 4.0
        assert buffer.statistics('spread', 2) == 3.0
        with pytest.raises(KeyError, match='already has a statistic'):
            HistoryBuffer.register_statistics(spread)
    finally:
        HistoryBuffer._statistics_methods.pop('spread')


def test_state_round_trip_is_plain():
    buffer = HistoryBuffer(max_length=10)
    buffer.update(torch.tensor(1.0))
    buffer.update(2, count=3)
    state = buffer.state()
    # Histories are tensors (two objects per key in a checkpoint), read by the safe loader.
    assert state['log_history'].tolist() == [1.0, 2.0] and state['log_history'].dtype == torch.float64
    assert state['count_history'].tolist() == [1, 3] and state['max_length'] == 10
    rebuilt = HistoryBuffer(**state)
    assert rebuilt.mean() == buffer.mean() and rebuilt.max_length == 10


def _assert_state_matches(buffer, values, counts):
    state = buffer.state()
    assert state['log_history'].tolist() == values and state['count_history'].tolist() == counts
    assert state['log_history'].dtype == torch.float64 and state['count_history'].dtype == torch.int64


def test_repeated_states_stay_right_across_growth_eviction_and_resume():
    # state() converts only what was added since its previous call; the result must not tell.
    buffer = HistoryBuffer(max_length=5)
    buffer.update(1.0)
    buffer.update(torch.tensor(2.0), count=2)
    _assert_state_matches(buffer, [1.0, 2.0], [1, 2])
    edited = buffer.state()
    edited['log_history'].zero_()  # a hook editing the checkpoint in place changes no later save
    buffer.update(3)
    buffer.update(torch.tensor(4.0))  # still pending when state() is asked for
    _assert_state_matches(buffer, [1.0, 2.0, 3.0, 4.0], [1, 2, 1, 1])
    _assert_state_matches(buffer, [1.0, 2.0, 3.0, 4.0], [1, 2, 1, 1])  # nothing new
    for value in (5.0, 6.0, 7.0):  # fills the buffer, then evicts 1.0 and 2.0
        buffer.update(value, count=3)
    _assert_state_matches(buffer, [3.0, 4.0, 5.0, 6.0, 7.0], [1, 1, 3, 3, 3])
    buffer.update(torch.tensor(8.0))
    _assert_state_matches(buffer, [4.0, 5.0, 6.0, 7.0, 8.0], [1, 3, 3, 3, 1])

    resumed = HistoryBuffer(**buffer.state())  # full, so the next update evicts again
    resumed.update(9.0)
    _assert_state_matches(resumed, [5.0, 6.0, 7.0, 8.0, 9.0], [3, 3, 3, 1, 1])
    growing = HistoryBuffer(**HistoryBuffer([1.0, 2.0], [1, 1], max_length=10).state())
    growing.state()
    growing.update(torch.tensor(3.0))
    _assert_state_matches(growing, [1.0, 2.0, 3.0], [1, 1, 1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.integers(1, 5), st.booleans()), min_size=1,
                max_size=40),
       st.integers(1, 50), st.integers(1, 45))
def test_matches_numpy_on_mixed_tensor_and_float_updates(entries, max_length, window):
    buffer = HistoryBuffer(max_length=max_length)
    for index, (value, count, as_tensor) in enumerate(entries):
        buffer.update(torch.tensor(value, dtype=torch.float64) if as_tensor else value, count)
        if index % 7 == 3:
            buffer.current()  # reads in between must not disturb later conversions
    kept = entries[-max_length:]
    values = np.array([v for v, _, _ in kept])
    counts = np.array([c for _, c, _ in kept])
    np.testing.assert_allclose(buffer.data[0], values)
    assert buffer.mean(window) == pytest.approx(values[-window:].sum() / counts[-window:].sum())
    assert buffer.max(window) == values[-window:].max()
    assert buffer.min(window) == values[-window:].min()
    assert buffer.current() == values[-1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.integers(1, 5), st.booleans(), st.booleans()),
                min_size=1, max_size=40),
       st.integers(1, 20))
def test_state_between_updates_matches_the_history(entries, max_length):
    buffer = HistoryBuffer(max_length=max_length)
    for index, (value, count, as_tensor, save_now) in enumerate(entries):
        buffer.update(torch.tensor(value, dtype=torch.float64) if as_tensor else value, count)
        if save_now:
            kept = entries[max(0, index + 1 - max_length):index + 1]
            _assert_state_matches(buffer, [v for v, *_ in kept], [c for _, c, *_ in kept])


def test_extend_matches_update_one_by_one_with_tensors_and_eviction():
    values = [1.0, torch.tensor(2.0), 3, torch.tensor(4.0), torch.tensor(5.0), 6.0, 7.0]
    one_by_one, in_bulk = HistoryBuffer(max_length=5), HistoryBuffer(max_length=5)
    for value in values:
        one_by_one.update(value)
    in_bulk.extend(values[:2])
    in_bulk.extend(values[2:3])
    in_bulk.extend([v for v in values[3:5]])  # tensors only, after a pending one
    in_bulk.extend(values[5:])                 # floats after pending tensors, evicting
    assert in_bulk.data[0].tolist() == one_by_one.data[0].tolist() == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert in_bulk.data[1].tolist() == [1] * 5
    assert in_bulk.mean(2) == 6.5
