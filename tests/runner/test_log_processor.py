"""LogProcessor: MMEngine's line layout, window smoothing, custom statistics, summaries."""
import itertools
import types

import pytest
import torch

from mmlite.logging import MessageHub
from mmlite.registry import LOG_PROCESSORS
from mmlite.runner.log_processor import LogProcessor

_ids = itertools.count()


def make_runner(n_train=100, n_val=100, max_epochs=12, max_iters=1000, epoch=0, it=9,
                training=True):
    hub = MessageHub.get_instance(f'log-processor-test-{next(_ids)}')
    if training:
        hub.update_info('max_iters', max_iters)
        hub.update_info('max_epochs', max_epochs)
    loop = lambda n: types.SimpleNamespace(dataloader=list(range(n)))  # noqa: E731
    return types.SimpleNamespace(
        message_hub=hub, train_loop=loop(n_train), val_loop=loop(n_val), test_loop=loop(n_val),
        max_epochs=max_epochs, max_iters=max_iters, epoch=epoch, iter=it, model=torch.nn.Linear(1, 1))


def fill_train(hub, n=10, loss_start=0.0):
    for i in range(n):
        hub.update_scalar('train/lr', 0.01)
        hub.update_scalar('train/data_time', 0.001)
        hub.update_scalar('train/time', 0.01)
        hub.update_scalar('train/loss', torch.tensor(loss_start + i, dtype=torch.float32))
    hub.update_info('eta', 10.7)


def test_registered():
    assert LOG_PROCESSORS.get('LogProcessor') is LogProcessor


def test_epoch_based_train_line_layout():
    runner = make_runner()
    fill_train(runner.message_hub)
    tag, line = LogProcessor().get_log_after_iter(runner, batch_idx=9, mode='train')
    assert line == ('Epoch(train)  [1][ 10/100]  lr: 1.0000e-02  eta: 0:00:10  time: 0.0100  '
                    'data_time: 0.0010  loss: 4.5000')
    assert tag == pytest.approx(dict(lr=0.01, data_time=0.001, time=0.01, loss=4.5, epoch=1,
                                     iter=10))


def test_epoch_is_right_aligned_to_max_epochs():
    runner = make_runner(max_epochs=100, epoch=8)
    fill_train(runner.message_hub)
    _, line = LogProcessor().get_log_after_iter(runner, batch_idx=99, mode='train')
    assert line.startswith('Epoch(train)   [9][100/100]  ')


def test_iteration_based_train_line():
    runner = make_runner(max_iters=1000, it=9)
    fill_train(runner.message_hub)
    tag, line = LogProcessor(by_epoch=False).get_log_after_iter(runner, batch_idx=9, mode='train')
    assert line.startswith('Iter(train) [  10/1000]  lr: 1.0000e-02  eta: 0:00:10  ')
    assert 'epoch' not in tag and tag['iter'] == 10


def test_window_smoothing_and_current_values():
    runner = make_runner()
    hub = runner.message_hub
    for i in range(20):
        hub.update_scalar('train/loss', torch.tensor(float(i)))
        hub.update_scalar('train/accuracy', float(i))  # not in mean_pattern: latest value
    tag, line = LogProcessor(window_size=4).get_log_after_iter(runner, 19, 'train')
    assert tag['loss'] == pytest.approx((16 + 17 + 18 + 19) / 4)
    assert tag['accuracy'] == 19.0
    assert 'eta' not in line  # no IterTimerHook values: no eta/time part
    assert line.endswith('loss: 17.5000  accuracy: 19.0000')


def test_custom_cfg_statistics():
    runner = make_runner(it=19)
    hub = runner.message_hub
    for i in range(20):
        hub.update_scalar('train/loss', float(i))
    processor = LogProcessor(window_size=2, custom_cfg=[
        dict(data_src='loss', method_name='max', window_size='global', log_name='loss_max'),
        dict(data_src='loss', method_name='mean', window_size='epoch', log_name='loss_epoch'),
        dict(data_src='loss', method_name='min', window_size=5)])
    tag, line = processor.get_log_after_iter(runner, batch_idx=9, mode='train')
    assert tag['loss_max'] == 19.0                     # whole history (iter + 1 = 20 values)
    assert tag['loss_epoch'] == pytest.approx(14.5)    # last batch_idx + 1 = 10 values
    assert tag['loss'] == 15.0                         # overwritten: min of the last 5
    assert 'loss_max: 19.0000' in line


@pytest.mark.parametrize('custom_cfg, by_epoch, error', [
    ([dict(data_src='loss', method_name='mean'), dict(data_src='loss', method_name='max')],
     True, ValueError),
    ([dict(data_src='loss', method_name='max', log_name='a'),
      dict(data_src='acc', method_name='max', log_name='a')], True, ValueError),
    ([dict(data_src='loss', method_name='mean', window_size='epoch')], False, ValueError),
    ([dict(data_src='loss', method_name='mean', window_size='forever')], True, TypeError),
    ([dict(method_name='mean')], True, ValueError),
])
def test_custom_cfg_validation(custom_cfg, by_epoch, error):
    with pytest.raises(error, match=r'custom_cfg\[\d\]'):
        LogProcessor(custom_cfg=custom_cfg, by_epoch=by_epoch)


def test_log_with_hierarchy_keeps_prefixes_in_tag_only():
    runner = make_runner()
    fill_train(runner.message_hub)
    tag, line = LogProcessor(log_with_hierarchy=True).get_log_after_iter(runner, 9, 'train')
    assert {'train/lr', 'train/loss', 'train/time', 'train/data_time'} <= set(tag)
    assert 'train/' not in line and 'loss: 4.5000' in line


def test_val_iter_line_shows_val_losses_only():
    runner = make_runner(epoch=1)
    hub = runner.message_hub
    for _ in range(3):
        hub.update_scalar('val/time', 0.02)
        hub.update_scalar('val/data_time', 0.01)
        hub.update_scalar('val/loss', 0.5)
        hub.update_scalar('val/accuracy', 0.9)
    hub.update_info('eta', 3.0)
    tag, line = LogProcessor().get_log_after_iter(runner, batch_idx=9, mode='val')
    assert line.startswith('Epoch(val)  [1][ 10/100]  eta: 0:00:03  time: 0.0200  ')
    assert 'loss: 0.5000' in line and 'accuracy' not in line
    assert tag['epoch'] == 1


def test_val_epoch_summary_layout():
    runner = make_runner(epoch=1)
    hub = runner.message_hub
    for i in range(100):
        hub.update_scalar('val/data_time', 0.001)
        hub.update_scalar('val/time', 0.01 * (i % 2 + 1))
    hub.update_scalar('val/accuracy/top1', 95.0)
    tag, line = LogProcessor(window_size=1).get_log_after_epoch(runner, 100, 'val')
    # times are epoch means, metrics first
    assert line == 'Epoch(val) [1][100/100]  accuracy/top1: 95.0000  data_time: 0.0010  time: 0.0150'
    assert list(tag) == ['accuracy/top1', 'data_time', 'time']


def test_val_outside_training_shows_epoch_zero_and_iter_zero():
    runner = make_runner(training=False, epoch=0)
    runner.message_hub.update_scalar('val/acc', 1.0)
    tag, line = LogProcessor().get_log_after_epoch(runner, 100, 'val')
    assert line.startswith('Epoch(val) [0][100/100]  acc: 1.0000')
    runner.message_hub.update_scalar('val/time', 0.1)
    tag, _ = LogProcessor().get_log_after_iter(runner, 0, 'val')
    assert tag['iter'] == 0


def test_test_summary_with_non_scalars():
    runner = make_runner(n_val=8)
    hub = runner.message_hub
    hub.update_scalar('test/acc', 0.5)
    hub.update_info('test/confusion', torch.eye(2))
    tag, line = LogProcessor().get_log_after_epoch(runner, 8, 'test', with_non_scalar=True)
    assert line.startswith('Epoch(test) [8/8]  acc: 0.5000  confusion: \n')
    assert torch.equal(tag['confusion'], torch.eye(2))
    tag, _ = LogProcessor().get_log_after_epoch(runner, 8, 'test')
    assert 'confusion' not in tag
    _, line = LogProcessor(by_epoch=False).get_log_after_epoch(runner, 8, 'test')
    assert line.startswith('Iter(test) [8/8]  acc: 0.5000')


def test_bad_mode():
    runner = make_runner()
    with pytest.raises(ValueError, match='mode'):
        LogProcessor().get_log_after_iter(runner, 0, 'predict')
    with pytest.raises(ValueError, match='val or test'):
        LogProcessor().get_log_after_epoch(runner, 0, 'train')
