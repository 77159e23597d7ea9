"""MixUp as a data preprocessor: batch augmentation on the device, for training batches only.

What it shows:
- a ``BaseDataPreprocessor`` subclass (here extending ``ImgDataPreprocessor``) registered in
  MODELS and named by the model config's ``data_preprocessor``;
- why batch augmentation lives there: the preprocessor runs after the batch reached the
  model's device and after normalisation, once per batch, and knows whether it serves
  ``train_step`` (``training=True``) or ``val_step``/``test_step`` (``training=False``);
- MixUp blends each image with another one of the batch and the one-hot labels alike
  (``lam * a + (1 - lam) * b`` with ``lam ~ Beta(alpha, alpha)``); the classifier's
  cross-entropy takes the soft labels as they are. Validation sees untouched batches.

Trains the digits MLP with MixUp and checks both paths. Runs offline in seconds:

    python examples/mixup_data_preprocessor.py [--work-dir DIR] [--epochs 3] [--alpha 0.4]
"""
import argparse
import os.path as osp
import tempfile

import torch
import torch.nn.functional as F

from mmlite.config import Config
from mmlite.model import ImgDataPreprocessor
from mmlite.registry import MODELS
from mmlite.runner import Runner

CONFIG = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'configs', 'digits_mlp.py')


@MODELS.register_module()
class MixUpDataPreprocessor(ImgDataPreprocessor):
    """Normalise images (ImgDataPreprocessor), then mix training batches.

    Args:
        num_classes: classes of the integer labels, for the one-hot encoding.
        alpha: the Beta(alpha, alpha) parameter of the mixing weight; small values mostly
            keep one image dominant.
        Other arguments: see ImgDataPreprocessor.
    """

    def __init__(self, num_classes: int, alpha: float = 0.4, **kwargs):
        super().__init__(**kwargs)
        if alpha <= 0:
            raise ValueError(f'MixUpDataPreprocessor alpha must be > 0, got {alpha}')
        self.num_classes = num_classes
        self.beta = torch.distributions.Beta(torch.tensor(float(alpha)), torch.tensor(float(alpha)))

    def forward(self, data, training: bool = False):
        data = super().forward(data, training)  # on the device, float and normalised
        if not training:
            return data
        images, labels = data['inputs'], data['labels']
        # Drawn on the CPU and copied to the device: no host-device sync.
        lam = self.beta.sample().to(images.device)
        order = torch.randperm(len(images)).to(images.device)
        one_hot = F.one_hot(labels, self.num_classes).to(images.dtype)
        data['inputs'] = lam * images + (1 - lam) * images[order]
        data['labels'] = lam * one_hot + (1 - lam) * one_hot[order]
        return data


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', help='where logs and checkpoints go (default: a new temp dir)')
    parser.add_argument('--epochs', type=int, default=3, help='training epochs')
    parser.add_argument('--alpha', type=float, default=0.4, help='MixUp Beta(alpha, alpha)')
    args = parser.parse_args()

    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = args.work_dir or tempfile.mkdtemp(prefix='mmlite_mixup_')
    cfg.train_cfg.max_epochs = args.epochs
    cfg.param_scheduler[1].end = cfg.param_scheduler[1].T_max = args.epochs
    cfg.model.data_preprocessor = dict(type='MixUpDataPreprocessor', num_classes=10, alpha=args.alpha,
                                       mean=[127.5], std=[127.5])
    runner = Runner.from_cfg(cfg)
    runner.train()

    preprocessor = runner.model.data_preprocessor
    batch = next(iter(runner.val_dataloader))
    mixed = preprocessor(dict(batch), training=True)['labels']
    plain = preprocessor(dict(batch), training=False)['labels']
    accuracy = runner.message_hub.get_scalar('val/accuracy/top1').current()
    print(f'training labels: soft, shape {tuple(mixed.shape)}, rows sum to '
          f'{mixed.sum(dim=1).mean().item():.3f}, largest share {mixed.max(dim=1).values.mean().item():.2f}')
    print(f'validation labels: {plain.dtype}, shape {tuple(plain.shape)} (unchanged)')
    print(f'validation accuracy after {args.epochs} epochs with MixUp: {accuracy:.2f}')
    print(f'work dir: {cfg.work_dir}')


if __name__ == '__main__':
    main()
