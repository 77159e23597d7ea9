"""A custom validation loop with a second validation set and new hook points.

What it shows (the shape of MMEngine's runner tutorial, "CustomValLoop" and "CustomValHook"):
- a loop registered in LOOPS and chosen by ``val_cfg=dict(type='CustomValLoop', ...)``; its
  extra argument (``dataloader2``) comes from the config, and it builds that dataloader with
  ``runner.build_dataloader``;
- new hook points (``before_valloader2_epoch``, ``before_valloader2_iter``,
  ``after_valloader2_iter``, ``after_valloader2_epoch``) that the loop fires with
  ``runner.call_hook`` and a hook registered in HOOKS implements, added through
  ``custom_hooks=[dict(type='CustomValHook')]``;
- both sets' metrics reported together (``noisy/accuracy/top1`` next to ``accuracy/top1``), so
  they reach the log, the visualizer and the checkpoint hook's ``save_best``.

The first set is the digits validation split, the second the same images with Gaussian pixel
noise, added by a transform registered in TRANSFORMS. Runs offline in seconds:

    python examples/custom_val_loop.py [--work-dir DIR] [--epochs 2]
"""
import argparse
import copy
import os.path as osp
import tempfile

import torch

from mmlite.config import Config
from mmlite.hooks import Hook
from mmlite.registry import HOOKS, LOOPS, TRANSFORMS
from mmlite.runner import Runner, ValLoop

CONFIG = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'configs', 'digits_mlp.py')


@TRANSFORMS.register_module()
class AddPixelNoise:
    """Add Gaussian noise (``std`` in 0..255 pixel units) to a uint8 image, reproducibly per image."""

    def __init__(self, std: float = 60.0):
        self.std = std

    def __call__(self, sample: dict) -> dict:
        image = sample['inputs']
        generator = torch.Generator().manual_seed(int(image.sum()))
        noisy = image.float() + torch.randn(image.shape, generator=generator) * self.std
        sample['inputs'] = noisy.clamp(0, 255).to(torch.uint8)
        return sample


@LOOPS.register_module()
class CustomValLoop(ValLoop):
    """Validate on ``dataloader``, then on ``dataloader2`` between the new hook points."""

    def __init__(self, runner, dataloader, evaluator, dataloader2, fp16: bool = False):
        super().__init__(runner, dataloader, evaluator, fp16=fp16)
        self.dataloader2 = runner.build_dataloader(dataloader2, seed=runner.seed)

    def run(self) -> dict:
        runner = self.runner
        runner.call_hook('before_val')
        runner.call_hook('before_val_epoch')
        runner.model.eval()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)  # fires before_val_iter / after_val_iter
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))

        runner.call_hook('before_valloader2_epoch')
        for idx, data_batch in enumerate(self.dataloader2):
            runner.call_hook('before_valloader2_iter', batch_idx=idx, data_batch=data_batch)
            with torch.no_grad():
                outputs = runner.model.val_step(data_batch)
            self.evaluator.process(data_samples=outputs, data_batch=data_batch)
            runner.call_hook('after_valloader2_iter', batch_idx=idx, data_batch=data_batch,
                             outputs=outputs)
        metrics2 = self.evaluator.evaluate(len(self.dataloader2.dataset))
        runner.call_hook('after_valloader2_epoch', metrics=metrics2)

        metrics.update({f'noisy/{key}': value for key, value in metrics2.items()})
        runner.call_hook('after_val_epoch', metrics=metrics)
        runner.call_hook('after_val')
        return metrics


@HOOKS.register_module()
class CustomValHook(Hook):
    """Counts what the second validation set saw, through the loop's new hook points."""

    def __init__(self):
        self.batches = 0
        self.samples = 0

    def before_valloader2_epoch(self, runner):
        self.batches = self.samples = 0

    def before_valloader2_iter(self, runner, batch_idx, data_batch=None):
        self.samples += len(data_batch['labels'])

    def after_valloader2_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.batches += 1

    def after_valloader2_epoch(self, runner, metrics=None):
        runner.logger.info(f'CustomValHook: the noisy set had {self.batches} batches, '
                           f'{self.samples} samples; accuracy {metrics["accuracy/top1"]:.2f}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', help='where logs and checkpoints go (default: a new temp dir)')
    parser.add_argument('--epochs', type=int, default=2, help='training epochs')
    args = parser.parse_args()

    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = args.work_dir or tempfile.mkdtemp(prefix='mmlite_custom_val_')
    cfg.train_cfg.max_epochs = args.epochs
    noisy_loader = copy.deepcopy(cfg.val_dataloader)
    noisy_loader['dataset'] = dict(type='DigitsDataset', split='val',
                                   pipeline=[dict(type='AddPixelNoise', std=60.0)])
    cfg.val_cfg = dict(type='CustomValLoop', dataloader2=noisy_loader)
    cfg.custom_hooks = [dict(type='CustomValHook')]
    # Keep the best checkpoint by the clean accuracy (the first metric).
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=args.epochs,
                                        save_best='accuracy/top1')

    runner = Runner.from_cfg(cfg)
    runner.train()
    # The last validation's metrics, as the RuntimeInfoHook recorded them.
    clean = runner.message_hub.get_scalar('val/accuracy/top1').current()
    noisy = runner.message_hub.get_scalar('val/noisy/accuracy/top1').current()
    hook = next(h for h in runner.hooks if isinstance(h, CustomValHook))
    print(f'clean accuracy: {clean:.2f}')
    print(f'noisy accuracy: {noisy:.2f}')
    print(f'CustomValHook counted {hook.batches} batches and {hook.samples} samples of the noisy set')
    print(f'work dir: {cfg.work_dir}')


if __name__ == '__main__':
    main()
