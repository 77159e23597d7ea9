"""MessageHub: scalars and runtime info, resumed keys, and checkpoint-safe state."""
import io
from collections import OrderedDict

import numpy as np
import pytest
import torch

from mmlite.logging import HistoryBuffer, MessageHub


@pytest.fixture
def fresh_hubs(monkeypatch):
    monkeypatch.setattr(MessageHub, '_instance_dict', {})
    monkeypatch.setattr(MessageHub, '_current_name', None)


def _weights_only_round_trip(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_get_current_instance_creates_default_hub(fresh_hubs):
    hub = MessageHub.get_current_instance()
    assert hub.instance_name == 'mmlite'
    run_hub = MessageHub.get_instance('run')
    assert MessageHub.get_current_instance() is run_hub


def test_scalars_accumulate_per_key_and_tensors_stay_tensors():
    hub = MessageHub('scalars')
    loss = torch.tensor(2.0, requires_grad=True) * 1.0
    hub.update_scalar('train/loss', loss)
    hub.update_scalar('train/loss', 4.0)
    hub.update_scalar('train/lr', np.float64(0.1))
    buffer = hub.get_scalar('train/loss')
    assert isinstance(buffer._values[0], torch.Tensor)  # no .item() on the hot path
    assert buffer.mean() == 3.0 and buffer.current() == 4.0
    assert hub.get_scalar('train/lr').current() == pytest.approx(0.1)
    assert list(hub.log_scalars) == ['train/loss', 'train/lr']


def test_update_scalars_accepts_value_count_dicts():
    hub = MessageHub('many')
    hub.update_scalars({'acc': {'value': 30.0, 'count': 3}, 'time': 0.5})
    hub.update_scalars({'acc': {'value': 10.0}})
    assert hub.get_scalar('acc').mean() == pytest.approx(40.0 / 4)
    assert hub.get_scalar('time').current() == 0.5
    with pytest.raises(KeyError, match='without a "value" key'):
        hub.update_scalars({'bad': {'count': 2}})
    with pytest.raises(TypeError, match='takes a dict'):
        hub.update_scalars([('a', 1)])


def test_missing_scalar_lists_what_exists():
    hub = MessageHub('missing')
    hub.update_scalar('train/loss', 1.0)
    with pytest.raises(KeyError, match=r"no scalar 'val/acc'.*train/loss"):
        hub.get_scalar('val/acc')


def test_runtime_info_set_get_pop():
    hub = MessageHub('info')
    meta = {'classes': ('cat', 'dog')}
    hub.update_info('dataset_meta', meta)
    hub.update_info_dict({'epoch': 3, 'iter': 120})
    assert hub.get_info('dataset_meta') is meta
    assert hub.get_info('epoch') == 3 and hub.get_info('nothing', 'dflt') == 'dflt'
    assert hub.pop_info('iter') == 120 and hub.get_info('iter') is None
    assert hub.pop_info('iter', -1) == -1
    assert dict(hub.runtime_info) == {'dataset_meta': meta, 'epoch': 3}


def test_resumed_flag_must_stay_consistent():
    hub = MessageHub('flags')
    hub.update_scalar('time', 1.0, resumed=False)
    with pytest.raises(ValueError, match="'time' was first stored with resumed=False"):
        hub.update_scalar('time', 1.0)


def test_state_dict_keeps_only_resumed_keys_and_loads_with_weights_only():
    hub = MessageHub('saver')
    hub.update_scalar('train/loss', torch.tensor(1.5))
    hub.update_scalar('train/loss', 2.5, count=2)
    hub.update_scalar('train/time', 0.2, resumed=False)
    hub.update_info('epoch', 4)
    hub.update_info('dataset_meta', OrderedDict(classes=('a', 'b'), palette=np.array([[1, 2]]),
                                                 scale=np.float32(0.5)))
    hub.update_info('scratch', 'not saved', resumed=False)

    state = _weights_only_round_trip(hub.state_dict())
    assert set(state['log_scalars']) == {'train/loss'}
    assert state['log_scalars']['train/loss']['log_history'].tolist() == [1.5, 2.5]
    assert state['runtime_info']['dataset_meta'] == {'classes': ('a', 'b'), 'palette': [[1, 2]],
                                                     'scale': 0.5}
    assert 'scratch' not in state['runtime_info']
    assert state['resumed_keys'] == {'train/loss': True, 'epoch': True, 'dataset_meta': True}

    restored = MessageHub('restored')
    restored.update_info('kept', 'still here')
    restored.load_state_dict(state)
    assert restored.get_scalar('train/loss').mean() == pytest.approx(4.0 / 3)
    assert restored.get_info('epoch') == 4 and restored.get_info('kept') == 'still here'
    restored.update_scalar('train/loss', 1.0)  # resumed flags came back consistent


def test_unsaveable_runtime_info_is_skipped_with_a_warning():
    hub = MessageHub('unsaveable')
    hub.update_info('handle', object())
    hub.update_info('epoch', 1)
    with pytest.warns(UserWarning, match="runtime info 'handle'"):
        state = hub.state_dict()
    assert 'handle' not in state['runtime_info'] and state['runtime_info']['epoch'] == 1
    _weights_only_round_trip(state)


def test_load_from_another_hub_copies_buffers():
    source = MessageHub('source')
    source.update_scalar('loss', 1.0)
    source.update_info('epoch', 2, resumed=False)
    target = MessageHub('target')
    target.load_state_dict(source)
    assert target.get_scalar('loss').current() == 1.0 and target.get_info('epoch') == 2
    source.update_scalar('loss', 9.0)
    assert len(target.get_scalar('loss')) == 1  # a copy, not shared
    with pytest.raises(ValueError, match='resumed=False'):
        target.update_info('epoch', 3)


def test_load_state_dict_rejects_foreign_states():
    hub = MessageHub('strict')
    with pytest.raises(KeyError, match=r"lacks \['runtime_info', 'resumed_keys'\]"):
        hub.load_state_dict({'log_scalars': {}})
    with pytest.raises(TypeError, match='takes a dict or a MessageHub'):
        hub.load_state_dict([1])


def test_constructor_takes_history_buffers_only():
    hub = MessageHub('built', log_scalars={'loss': HistoryBuffer([1.0], [1])},
                     runtime_info={'epoch': 1}, resumed_keys={'loss': True})
    assert hub.get_scalar('loss').current() == 1.0 and hub.get_info('epoch') == 1
    with pytest.raises(TypeError, match=r"log_scalars\['loss'\] must be a HistoryBuffer"):
        MessageHub('bad', log_scalars={'loss': [1.0]})


class HeldBack:
    """A writer that keeps its values in a list until the hub asks for them."""

    def __init__(self, hub: MessageHub, key: str) -> None:
        self.hub, self.key, self.held, self.flushes = hub, key, [], 0

    def flush(self) -> None:
        self.flushes += 1
        if self.held:
            values, self.held = self.held, []
            self.hub.extend_scalar(self.key, values)
            self.hub.update_info('last', values[-1])


def test_deferred_writer_values_are_there_for_every_reader():
    hub = MessageHub('deferred-readers')
    writer = HeldBack(hub, 'train/time')
    hub.add_deferred_writer(writer.flush)
    hub.add_deferred_writer(writer.flush)  # registered once
    writer.held += [1.0, 2.0]
    assert hub.get_scalar('train/time').data[0].tolist() == [1.0, 2.0]
    writer.held.append(3.0)
    assert hub.get_info('last') == 3.0
    writer.held.append(4.0)
    assert 'train/time' in hub.log_scalars and len(hub.log_scalars['train/time']) == 4
    writer.held.append(5.0)
    assert hub.runtime_info['last'] == 5.0
    writer.held.append(6.0)
    saved = hub.state_dict()['log_scalars']['train/time']['log_history'].tolist()
    assert saved == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    writer.held.append(7.0)
    copy = MessageHub('deferred-copy')
    copy.load_state_dict(hub)  # reading another hub flushes that hub's writers too
    assert copy.get_scalar('train/time').current() == 7.0


def test_deferred_values_come_before_a_direct_update_and_removal_flushes():
    hub = MessageHub('deferred-order')
    writer = HeldBack(hub, 'train/loss')
    hub.add_deferred_writer(writer.flush)
    writer.held += [1.0, torch.tensor(2.0)]
    hub.update_scalar('train/loss', 3.0)  # a write flushes first: the order is kept
    assert hub.get_scalar('train/loss').data[0].tolist() == [1.0, 2.0, 3.0]
    writer.held.append(4.0)
    hub.remove_deferred_writer(writer.flush)
    flushes = writer.flushes
    assert hub.get_scalar('train/loss').current() == 4.0
    hub.get_info('last')
    assert writer.flushes == flushes  # no longer called


def test_extend_scalar_checks_values_like_update_scalar():
    hub = MessageHub('deferred-extend')
    hub.extend_scalar('a', [torch.tensor(1.0), torch.tensor([2.0])])  # 1-element tensors
    assert hub.get_scalar('a').data[0].tolist() == [1.0, 2.0]
    hub.extend_scalar('b', [1, np.float32(2.5), torch.tensor(3.0, requires_grad=True)])
    assert hub.get_scalar('b').data[0].tolist() == [1.0, 2.5, 3.0]
    with pytest.raises(ValueError, match='1-element tensor'):
        hub.extend_scalar('c', [torch.ones(2)])
    with pytest.raises(TypeError, match='number or a 1-element tensor'):
        hub.extend_scalar('d', ['text'])


def test_packed_state_holds_two_history_tensors_and_loads_like_the_per_key_one():
    # A full buffer (the oldest value evicted) comes first, then two that keep everything.
    evicting = HistoryBuffer([7.0, 8.0, 9.0], [1, 1, 1], max_length=2)
    hub = MessageHub('packer', log_scalars={'train/short': evicting},
                     resumed_keys={'train/short': True})
    for step in range(5):
        hub.update_scalar('train/loss', torch.tensor(float(step)))
        hub.update_scalar('train/lr', 0.1, count=2)
    hub.update_scalar('train/time', 0.2, resumed=False)
    hub.get_scalar('train/loss').state()  # a state() before must not disturb the packed one

    packed = _weights_only_round_trip(hub.state_dict(packed=True))
    assert packed['log_scalars'] == {'train/short': {'length': 2, 'max_length': 2},
                                     'train/loss': {'length': 5, 'max_length': 1000000},
                                     'train/lr': {'length': 5, 'max_length': 1000000}}
    assert packed['log_history'].tolist() == [8.0, 9.0, 0.0, 1.0, 2.0, 3.0, 4.0] + [0.1] * 5
    assert packed['count_history'].tolist() == [1, 1] + [1] * 5 + [2] * 5
    tensors = [value for value in packed.values() if isinstance(value, torch.Tensor)]
    assert len(tensors) == 2

    restored, per_key = MessageHub('from-packed'), MessageHub('from-per-key')
    restored.load_state_dict(packed)
    per_key.load_state_dict(_weights_only_round_trip(hub.state_dict()))
    for key in ('train/loss', 'train/lr', 'train/short'):
        for other in (restored, per_key):
            values, counts = other.get_scalar(key).data
            assert values.tolist() == hub.get_scalar(key).data[0].tolist()
            assert counts.tolist() == hub.get_scalar(key).data[1].tolist()
            assert other.get_scalar(key).max_length == hub.get_scalar(key).max_length
    assert 'train/time' not in restored.log_scalars

    del packed['log_history']
    with pytest.raises(KeyError, match="log_scalars\\['train/short'\\] is packed"):
        MessageHub('half-packed').load_state_dict(packed)
