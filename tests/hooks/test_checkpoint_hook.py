"""CheckpointHook with a runner whose save_checkpoint really writes (atomically) to tmp_path."""
import hashlib
import os
import os.path as osp

import pytest
import torch

from mmlite.hooks import CheckpointHook
from mmlite.runner.checkpoint import wait_for_checkpoint_writes


def ckpt_names(runner):
    return sorted(n for n in os.listdir(runner.work_dir) if n.endswith('.pth'))


def pointer(runner):
    with open(osp.join(runner.work_dir, 'last_checkpoint')) as f:
        return f.read()


def test_epoch_interval_and_save_last(make_runner):
    runner = make_runner(CheckpointHook(interval=2), n_batches=3, max_epochs=5)
    runner.train()
    assert ckpt_names(runner) == ['epoch_2.pth', 'epoch_4.pth', 'epoch_5.pth']
    assert pointer(runner) == osp.join(runner.work_dir, 'epoch_5.pth')
    saved = torch.load(osp.join(runner.work_dir, 'epoch_4.pth'), weights_only=True)
    assert saved['meta'] == {'epoch': 4, 'iter': 12}
    assert 'optimizer' in saved


def test_save_last_off_and_save_begin(make_runner):
    runner = make_runner(CheckpointHook(interval=2, save_last=False, save_begin=3),
                         n_batches=2, max_epochs=6)
    runner.train()
    # counting starts at epoch 3: 3, 5; the last epoch (6) is not forced
    assert ckpt_names(runner) == ['epoch_3.pth', 'epoch_5.pth']


def test_iteration_interval(make_runner):
    hook = CheckpointHook(interval=4, by_epoch=False, save_optimizer=False)
    runner = make_runner(hook, n_batches=5, max_epochs=2)  # 10 iterations
    runner.train()
    assert ckpt_names(runner) == ['iter_10.pth', 'iter_4.pth', 'iter_8.pth']
    saved = torch.load(osp.join(runner.work_dir, 'iter_8.pth'), weights_only=True)
    assert saved['meta'] == {'epoch': 1, 'iter': 8} and 'optimizer' not in saved


def test_out_dir_gets_work_dir_name(make_runner, tmp_path):
    runner = make_runner(CheckpointHook(interval=1, out_dir=str(tmp_path / 'store')),
                         n_batches=1, max_epochs=1)
    runner.train()
    assert os.listdir(tmp_path / 'store' / 'exp') == ['epoch_1.pth']
    assert pointer(runner) == str(tmp_path / 'store' / 'exp' / 'epoch_1.pth')


def test_rotation_deletes_only_after_the_new_file_and_pointer_exist(make_runner):
    hook = CheckpointHook(interval=1, max_keep_ckpts=2)
    runner = make_runner(hook, n_batches=1, max_epochs=4)
    seen = []
    real_save = runner.save_checkpoint

    def watching_save(out_dir, filename, **kwargs):
        # At the moment epoch N is written, the oldest kept file must still be there, and
        # the pointer must still name the previous (complete) checkpoint.
        seen.append((filename, ckpt_names(runner),
                     pointer(runner) if osp.exists(osp.join(runner.work_dir, 'last_checkpoint'))
                     else None))
        path = real_save(out_dir, filename, **kwargs)
        wait_for_checkpoint_writes()  # a small state's file is written in the background
        assert osp.getsize(path) > 0
        return path

    runner.save_checkpoint = watching_save
    runner.train()
    assert ckpt_names(runner) == ['epoch_3.pth', 'epoch_4.pth']
    filename, before, last = seen[2]
    assert filename == 'epoch_3.pth'
    assert before == ['epoch_1.pth', 'epoch_2.pth']
    assert last == osp.join(runner.work_dir, 'epoch_2.pth')
    assert runner.message_hub.get_info('keep_ckpt_ids') == [3, 4]


def test_pointer_is_replaced_atomically(make_runner):
    runner = make_runner(CheckpointHook(interval=1), n_batches=1, max_epochs=2)
    runner.train()
    leftovers = [n for n in os.listdir(runner.work_dir) if n.endswith('.tmp')]
    assert leftovers == [] and pointer(runner).endswith('epoch_2.pth')


def run_with_scores(make_runner, hook, scores, key='accuracy', **kwargs):
    runner = make_runner(hook, n_batches=2, max_epochs=len(scores), **kwargs)
    runner.train(val_metrics=lambda epoch: {key: scores[epoch - 1], 'other': 0.0})
    return runner


def test_save_best_greater(make_runner):
    hook = CheckpointHook(interval=10, save_best='accuracy')
    runner = run_with_scores(make_runner, hook, [0.5, 0.7, 0.6, 0.65])
    names = ckpt_names(runner)
    assert 'best_accuracy_epoch_2.pth' in names
    assert not any(n.startswith('best_accuracy_epoch_1') for n in names)
    assert runner.message_hub.get_info('best_score') == 0.7
    assert hook.best_ckpt_path == osp.join(runner.work_dir, 'best_accuracy_epoch_2.pth')
    best = torch.load(hook.best_ckpt_path, weights_only=True)
    assert 'optimizer' not in best
    assert best['meta'] == {'epoch': 2, 'iter': 4}


def test_save_best_less_inferred_from_name(make_runner):
    hook = CheckpointHook(interval=10, save_best='val_loss')
    assert hook.rules == ['less']
    runner = run_with_scores(make_runner, hook, [3.0, 2.0, 2.5], key='val_loss')
    assert [n for n in ckpt_names(runner) if n.startswith('best')] == ['best_val_loss_epoch_2.pth']


def test_save_best_auto_uses_first_metric(make_runner):
    hook = CheckpointHook(interval=10, save_best='auto')
    runner = run_with_scores(make_runner, hook, [0.1, 0.3, 0.2], key='accuracy/top1')
    assert hook.key_indicators == ['accuracy/top1'] and hook.rules == ['greater']
    # '/' in a metric name becomes '_' in the file name
    assert [n for n in ckpt_names(runner) if n.startswith('best')] == \
        ['best_accuracy_top1_epoch_2.pth']


def test_save_best_several_keys(make_runner):
    hook = CheckpointHook(interval=10, save_best=['acc', 'loss'], rule=['greater', 'less'])
    runner = make_runner(hook, n_batches=1, max_epochs=3)
    metrics = [dict(acc=0.5, loss=1.0), dict(acc=0.6, loss=2.0), dict(acc=0.4, loss=0.5)]
    runner.train(val_metrics=lambda epoch: metrics[epoch - 1])
    best = [n for n in ckpt_names(runner) if n.startswith('best')]
    assert best == ['best_acc_epoch_2.pth', 'best_loss_epoch_3.pth']
    hub = runner.message_hub
    assert hub.get_info('best_score_acc') == 0.6 and hub.get_info('best_score_loss') == 0.5
    assert hub.get_info('best_ckpt_loss').endswith('best_loss_epoch_3.pth')


def test_new_best_resaves_the_regular_checkpoint_with_the_score(make_runner):
    hook = CheckpointHook(interval=1, save_best='accuracy')
    runner = run_with_scores(make_runner, hook, [0.5, 0.7])
    regular = torch.load(osp.join(runner.work_dir, 'epoch_2.pth'), weights_only=True)
    info = regular['message_hub']['runtime_info']
    assert info['best_score'] == 0.7 and info['best_ckpt'].endswith('best_accuracy_epoch_2.pth')


def test_best_state_continues_after_resume(make_runner):
    first = CheckpointHook(interval=1, save_best='accuracy', max_keep_ckpts=1)
    runner = run_with_scores(make_runner, first, [0.5, 0.9])
    state = runner.message_hub.state_dict()
    # a new run (same work dir) resumes the hub from the checkpoint
    second = CheckpointHook(interval=1, save_best='accuracy', max_keep_ckpts=1)
    resumed = make_runner(second, n_batches=2, max_epochs=4)
    resumed.message_hub.load_state_dict(state)
    resumed.epoch, resumed.iter = 2, 4
    scores = {3: 0.8, 4: 0.95}
    resumed.train(val_metrics=lambda epoch: {'accuracy': scores[epoch]})
    best = [n for n in ckpt_names(resumed) if n.startswith('best')]
    assert best == ['best_accuracy_epoch_4.pth']  # 0.8 did not beat the resumed 0.9
    assert [n for n in ckpt_names(resumed) if n.startswith('epoch')] == ['epoch_4.pth']


def test_resume_trims_to_a_lower_max_keep_ckpts(make_runner):
    runner = make_runner(CheckpointHook(interval=1), n_batches=1, max_epochs=3)
    runner.train()
    # as if the earlier run kept three checkpoints and the resumed one keeps only one
    runner.message_hub.update_info('keep_ckpt_ids', [1, 2, 3])
    hook = CheckpointHook(interval=1, max_keep_ckpts=1)
    again = make_runner(hook, n_batches=1, max_epochs=3)
    again.message_hub = runner.message_hub
    again.call_hook('before_train')
    assert ckpt_names(again) == ['epoch_3.pth'] and list(hook.keep_ckpt_ids) == [3]


def test_published_copy_holds_only_the_published_keys(make_runner):
    hook = CheckpointHook(interval=1, save_best='accuracy', published_keys=['meta', 'state_dict'])
    runner = run_with_scores(make_runner, hook, [0.4, 0.3])
    published = [n for n in ckpt_names(runner) if '-' in n]
    assert len(published) == 2
    for name in published:
        path = osp.join(runner.work_dir, name)
        data = torch.load(path, weights_only=True)
        assert set(data) == {'meta', 'state_dict'}
        with open(path, 'rb') as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        assert name.endswith(f'-{digest[:8]}.pth')
    assert {n.split('-')[0] for n in published} == {'epoch_2', 'best_accuracy_epoch_1'}


def test_empty_metrics_warn_and_missing_key_raises(make_runner):
    hook = CheckpointHook(interval=1, save_best='accuracy')
    runner = make_runner(hook, n_batches=1, max_epochs=1)
    runner.call_hook('before_train')
    runner.train_epoch()
    runner.call_hook('after_val_epoch', metrics={})
    assert any('no metrics' in m for m in runner.log_handler.messages)
    with pytest.raises(KeyError, match="'accuracy' is not among"):
        runner.call_hook('after_val_epoch', metrics={'top1': 1.0})


def test_standalone_val_saves_nothing(make_runner):
    runner = make_runner(CheckpointHook(interval=1, save_best='accuracy'))
    runner.val({'accuracy': 1.0})
    assert ckpt_names(runner) == []


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(save_best='weird_metric'), ValueError, 'set rule'),
    (dict(save_best='acc', rule='bigger'), ValueError, 'greater'),
    (dict(save_best=['auto', 'acc']), ValueError, 'auto'),
    (dict(save_best=['acc', 'acc']), ValueError, 'duplicates'),
    (dict(save_best=['acc', 'loss', 'mAP'], rule=['greater', 'less']), ValueError, 'one rule'),
    (dict(save_best=3), TypeError, 'save_best'),
    (dict(published_keys=5), TypeError, 'published_keys'),
    (dict(save_begin=-1), ValueError, 'save_begin'),
    (dict(filename_tmpl='ckpt.pth'), ValueError, 'filename_tmpl'),
    (dict(backend_args=dict(backend='petrel')), ValueError, 'local paths'),
])
def test_argument_checks(kwargs, error, match):
    with pytest.raises(error, match=match):
        CheckpointHook(**kwargs)


def test_custom_greater_keys():
    hook = CheckpointHook(save_best='f1_score', greater_keys=['f1'])
    assert hook.rules == ['greater']
