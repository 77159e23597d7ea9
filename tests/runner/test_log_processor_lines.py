"""LogProcessor lines stay right where it remembers things between lines: dataloader lengths,
which keys are window means, the caller's custom_cfg; the eta reads as a timedelta."""
import datetime
import itertools
import types

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmlite.logging import MessageHub
from mmlite.runner.log_processor import LogProcessor

_ids = itertools.count()


def fake_runner(n_train=100, epoch=0, it=9, max_epochs=12):
    hub = MessageHub.get_instance(f'log-processor-lines-{next(_ids)}')
    hub.update_info('max_iters', 1000)
    hub.update_info('max_epochs', max_epochs)
    for i in range(10):
        hub.update_scalar('train/lr', 0.01)
        hub.update_scalar('train/time', 0.5)
        hub.update_scalar('train/data_time', 0.25)
        hub.update_scalar('train/loss', torch.tensor(float(i)))
        hub.update_scalar('train/acc', float(i))
    hub.update_info('eta', 10.0)
    return types.SimpleNamespace(
        message_hub=hub, train_loop=types.SimpleNamespace(dataloader=list(range(n_train))),
        max_epochs=max_epochs, max_iters=1000, epoch=epoch, iter=it, model=torch.nn.Linear(1, 1))


def test_header_follows_a_new_dataloader_and_a_new_epoch():
    runner = fake_runner(n_train=100)
    processor = LogProcessor()
    assert processor.get_log_after_iter(runner, 9, 'train')[1].startswith(
        'Epoch(train)  [1][ 10/100]  ')
    runner.train_loop.dataloader.extend(range(900))  # same object, grown: seen next epoch
    runner.epoch = 1
    assert processor.get_log_after_iter(runner, 9, 'train')[1].startswith(
        'Epoch(train)  [2][  10/1000]  ')
    runner.train_loop.dataloader = list(range(50))  # another dataloader, same epoch
    assert processor.get_log_after_iter(runner, 9, 'train')[1].startswith(
        'Epoch(train)  [2][10/50]  ')


def test_mean_pattern_set_later_takes_effect():
    runner = fake_runner()
    processor = LogProcessor(window_size=10)
    tag, _ = processor.get_log_after_iter(runner, 9, 'train')
    assert tag['loss'] == 4.5 and tag['acc'] == 9.0  # window mean, latest value
    processor.mean_pattern = r'acc'
    tag, _ = processor.get_log_after_iter(runner, 9, 'train')
    assert tag['loss'] == 9.0 and tag['acc'] == 4.5
    assert processor.mean_pattern.pattern == 'acc'


def test_custom_cfg_is_left_as_given():
    custom_cfg = [dict(data_src='loss', method_name='max', window_size='global',
                       log_name='loss_max')]
    processor = LogProcessor(custom_cfg=custom_cfg)
    runner = fake_runner(it=9)
    for _ in range(2):
        tag, line = processor.get_log_after_iter(runner, 9, 'train')
        assert tag['loss_max'] == 9.0 and 'loss_max: 9.0000' in line
    assert processor.custom_cfg == custom_cfg
    assert custom_cfg[0]['window_size'] == 'global'


@settings(max_examples=200, deadline=None)
@given(eta=st.one_of(st.integers(min_value=-10**6, max_value=10**9),
                     st.floats(min_value=0, max_value=1e9)))
def test_eta_reads_like_a_timedelta(eta):
    runner = fake_runner()
    runner.message_hub.update_info('eta', eta)
    _, line = LogProcessor().get_log_after_iter(runner, 9, 'train')
    assert f'  eta: {datetime.timedelta(seconds=int(eta))}  time: 0.5000  ' in line
