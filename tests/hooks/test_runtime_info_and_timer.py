"""RuntimeInfoHook fills the hub; IterTimerHook times iterations and estimates the rest."""
import types

import numpy as np
import torch

from mmlite.hooks import Hook, IterTimerHook, RuntimeInfoHook


def test_runtime_info_records_run_facts(make_runner):
    hook = RuntimeInfoHook()
    runner = make_runner(hook)
    dataset = types.SimpleNamespace(metainfo={'classes': ('a', 'b')})
    runner.train_dataloader = types.SimpleNamespace(dataset=dataset)
    runner.call_hook('before_run')
    runner.call_hook('before_train')
    hub = runner.message_hub
    assert hub.get_info('seed') == 42
    assert hub.get_info('experiment_name') == 'exp_20240101_000000'
    assert "type='Toy'" in hub.get_info('cfg')
    assert (hub.get_info('epoch'), hub.get_info('iter')) == (0, 0)
    assert (hub.get_info('max_epochs'), hub.get_info('max_iters')) == (3, 30)
    assert hub.get_info('dataset_meta') == {'classes': ('a', 'b')}
    assert hub.get_info('loop_stage') == 'train'


def test_runtime_info_hands_losses_and_lr_over_without_sync(make_runner, no_host_sync):
    hook = RuntimeInfoHook()
    runner = make_runner(hook)
    runner.call_hook('before_train')
    losses = [torch.tensor(0.5 * (i + 1)) for i in range(3)]
    with no_host_sync():
        for i, loss in enumerate(losses):
            runner.optim_wrapper.lr = 0.1 / (i + 1)
            runner.train_iter(i, outputs={'loss': loss, 'acc': torch.tensor(0.25)})
    hub = runner.message_hub
    assert hub.get_info('iter') == 2
    assert hub.get_scalar('train/loss').current() == 1.5
    assert hub.get_scalar('train/loss').mean() == 1.0
    assert hub.get_scalar('train/acc').current() == 0.25
    assert abs(hub.get_scalar('train/lr').current() - 0.1 / 3) < 1e-12


def test_runtime_info_val_metrics_and_loop_stage(make_runner):
    hook = RuntimeInfoHook()
    runner = make_runner(hook)
    runner.call_hook('before_train')
    runner.val({'acc': 0.75, 'top5': np.float32(0.5), 'confusion': np.eye(2)})
    hub = runner.message_hub
    assert hub.get_scalar('val/acc').current() == 0.75
    assert hub.get_scalar('val/top5').current() == 0.5
    assert np.array_equal(hub.get_info('val/confusion'), np.eye(2))
    assert hub.get_info('loop_stage') == 'train'  # handed back after validation in training
    runner.call_hook('after_train')
    assert hub.get_info('loop_stage') is None
    runner.val({'acc': 0.8}, mode='test')
    assert hub.get_scalar('test/acc').current() == 0.8
    assert hub.get_info('loop_stage') is None


class FakeClock:
    def __init__(self, steps):
        self.values = iter(steps)

    def __call__(self):
        return next(self.values)


def test_iter_timer_times_and_eta(make_runner, monkeypatch):
    import mmlite.hooks.iter_timer_hook as module
    hook = IterTimerHook()
    runner = make_runner(hook, n_batches=4, max_epochs=1)
    # epoch start 0; per iteration: data ready at +1, done at +3 (2 s of compute)
    clock = [0.0]
    for _ in range(4):
        clock += [clock[-1] + 1, clock[-1] + 3]
    monkeypatch.setattr(module.time, 'perf_counter', FakeClock(clock))
    runner.call_hook('before_train')
    runner.call_hook('before_train_epoch')
    for idx in range(2):
        runner.train_iter(idx)
    hub = runner.message_hub
    assert hub.get_scalar('train/data_time').current() == 1.0
    assert hub.get_scalar('train/time').current() == 3.0
    # 3 s per iteration, 2 done of 4: 6 s left.
    assert hub.get_info('eta') == 6.0


def test_iter_timer_eval_eta_uses_the_eval_loader(make_runner, monkeypatch):
    import mmlite.hooks.iter_timer_hook as module
    hook = IterTimerHook()
    runner = make_runner(hook, n_val_batches=5)
    monkeypatch.setattr(module.time, 'perf_counter', FakeClock([0.0, 0.5, 2.0]))
    runner.call_hook('before_val_epoch')
    runner.call_hook('before_val_iter', batch_idx=0, data_batch=None)
    runner.call_hook('after_val_iter', batch_idx=0, data_batch=None, outputs=[])
    assert runner.message_hub.get_scalar('val/data_time').current() == 0.5
    assert runner.message_hub.get_info('eta') == 8.0  # 2 s x 4 batches left


def test_timer_and_info_hooks_do_not_sync(make_runner, no_host_sync):
    runner = make_runner(RuntimeInfoHook(), IterTimerHook())
    runner.call_hook('before_train')
    with no_host_sync():
        runner.train_epoch()
    assert len(runner.message_hub.get_scalar('train/loss')) == 10


def test_held_back_values_read_as_if_written_every_iteration(make_runner):
    """From the second iteration the two hooks keep their values in lists (see
    MessageHub.add_deferred_writer); whoever reads the hub in any iteration sees what eager
    writes would have left there: the iteration, the lr, every loss, the times, the ETA."""
    seen = []

    class Reader(Hook):  # a hook after both of them that reads the hub every iteration

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            hub = runner.message_hub
            seen.append((hub.get_info('iter'), hub.get_scalar('train/loss').current(),
                         hub.get_scalar('train/lr').current(), len(hub.get_scalar('train/time')),
                         hub.get_info('eta') is not None))

    timer, info = IterTimerHook(), RuntimeInfoHook()
    runner = make_runner(info, timer, Reader(), n_batches=4, max_epochs=1)
    runner.call_hook('before_train')
    runner.call_hook('before_train_epoch')
    for i in range(4):
        runner.optim_wrapper.lr = 0.1 * (i + 1)
        runner.train_iter(i, outputs={'loss': torch.tensor(float(i)), 'loss_aux': torch.tensor(1.0)})
    assert [s[0] for s in seen] == [0, 1, 2, 3]
    assert [s[1] for s in seen] == [0.0, 1.0, 2.0, 3.0]
    assert [round(s[2], 6) for s in seen] == [0.1, 0.2, 0.3, 0.4]
    assert [s[3] for s in seen] == [1, 2, 3, 4] and all(s[4] for s in seen)


def test_held_back_values_reach_the_hub_with_no_reader_and_keep_key_order(make_runner):
    timer, info = IterTimerHook(), RuntimeInfoHook()
    runner = make_runner(info, timer, n_batches=6, max_epochs=2)
    runner.call_hook('before_train')
    runner.call_hook('before_train_epoch')
    for i in range(6):
        runner.train_iter(i, outputs={'loss': torch.tensor(float(i))})
    assert (timer._held_times, info._held_outputs) != ([], [])  # really held back
    hub = runner.message_hub
    assert list(hub.log_scalars) == ['train/lr', 'train/data_time', 'train/loss', 'train/time']
    assert hub.get_scalar('train/loss').data[0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert len(hub.get_scalar('train/data_time')) == len(hub.get_scalar('train/time')) == 6
    assert hub.get_info('iter') == 5
    # 12 iterations in all, 6 done: 6 left at the mean pace
    mean_time = sum(hub.get_scalar('train/time').data[0]) / 6
    assert abs(hub.get_info("eta") - mean_time * 6) < 1e-9
    runner.call_hook('after_train')
    assert (timer._held_times, info._held_outputs, info._held_lrs) == ([], [], [])
