"""Resuming a run versus fine-tuning from its checkpoint: ``resume=True`` against ``load_from``.

What it shows:
- ``resume=True`` continues a run where it stopped: the model weights *and* the optimizer
  state, the parameter schedulers, the epoch/iteration counters, the message hub and the RNG
  state come back. Without ``load_from`` the runner picks the work dir's latest checkpoint
  (``last_checkpoint``); with it, that file.
- ``load_from=<checkpoint>`` alone loads the weights only: a new run starts at epoch 0 with a
  fresh optimizer and the schedule of its own config (here a smaller constant learning rate
  for fine-tuning), and writes to its own work dir.

Three runs of the digits MLP: 2 epochs, then resumed to 3 epochs in the same work dir, then a
1-epoch fine-tune of the result in another work dir. Runs offline in seconds:

    python examples/resume_and_finetune.py [--work-dir DIR]
"""
import argparse
import copy
import os.path as osp
import tempfile

from mmlite.config import Config
from mmlite.hooks import Hook
from mmlite.runner import Runner

CONFIG = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'configs', 'digits_mlp.py')


class StartReport(Hook):
    """Record where a run starts: counters and learning rate before the first iteration."""

    def before_train(self, runner):
        self.epoch, self.iter = runner.epoch, runner.iter
        self.lr = runner.optim_wrapper.get_lr()['lr'][0]
        # How much optimizer state is there already (SGD momentum buffers)?
        self.momentum_buffers = len(runner.optim_wrapper.optimizer.state)


def train(cfg: Config, name: str) -> Runner:
    start = StartReport()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(start)
    runner.train()
    accuracy = runner.message_hub.get_scalar('val/accuracy/top1').current()
    print(f'{name}: started at epoch {start.epoch}, iter {start.iter} with lr {start.lr:.4g} and '
          f'{start.momentum_buffers} momentum buffers; ended at epoch {runner.epoch}, iter '
          f'{runner.iter}; accuracy {accuracy:.2f}')
    return runner


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', help='parent folder of the runs (default: a new temp dir)')
    args = parser.parse_args()
    root = args.work_dir or tempfile.mkdtemp(prefix='mmlite_resume_')

    base = Config.fromfile(CONFIG)
    base.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)

    # 1. A run that stops after 2 of its 10 epochs (as if it had been interrupted).
    first = copy.deepcopy(base)
    first.work_dir = osp.join(root, 'pretrain')
    first.train_cfg.max_epochs = 2
    train(first, 'first run')

    # 2. Resume it: same work dir, resume=True, a longer run. Everything comes back.
    resumed = copy.deepcopy(base)
    resumed.work_dir = osp.join(root, 'pretrain')
    resumed.train_cfg.max_epochs = 3
    resumed.resume = True
    train(resumed, 'resumed')

    # 3. Fine-tune from its last checkpoint: weights only, a new schedule, a new work dir.
    finetune = copy.deepcopy(base)
    finetune.work_dir = osp.join(root, 'finetune')
    finetune.load_from = osp.join(root, 'pretrain', 'epoch_3.pth')
    finetune.train_cfg.max_epochs = 1
    finetune.optim_wrapper.optimizer.lr = 0.005
    finetune.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
    train(finetune, 'fine-tuned')
    print(f'work dir: {root}')


if __name__ == '__main__':
    main()
