"""A GAN trained by the Runner with two optimizers: OptimWrapperDict and a custom train_step.

What it shows:
- ``optim_wrapper=dict(constructor='MultiOptimWrapperConstructor', generator=..., discriminator=...)``
  builds one optimizer per submodule, handed to ``train_step`` as an ``OptimWrapperDict``;
- ``train_step`` decides which loss updates which network
  (``optim_wrapper['discriminator'].update_params(loss)``) and returns detached losses, which
  the logger averages at log intervals (no per-iteration sync);
- ``param_scheduler=dict(generator=[...], discriminator=[...])`` schedules each optimizer;
- the checkpoint holds both optimizers' states.

The data are 2-D points from a Gaussian centred at (2, -1); after a few hundred iterations
the generator's samples have moved there from the origin. Runs offline in seconds:

    python examples/gan_two_optimizers.py [--work-dir DIR] [--iters 400]
"""
import argparse
import os.path as osp
import tempfile

import torch
import torch.nn.functional as F
from torch import nn

from mmlite.model import BaseModel
from mmlite.registry import DATASETS, MODELS
from mmlite.runner import Runner

TARGET_MEAN = (2.0, -1.0)
TARGET_STD = 0.3


@DATASETS.register_module()
class GaussianPoints2D(torch.utils.data.Dataset):
    """``size`` fixed points drawn from N(TARGET_MEAN, TARGET_STD^2) as ``dict(inputs=(2,))``."""

    def __init__(self, size: int = 2048, seed: int = 0):
        generator = torch.Generator().manual_seed(seed)
        self.points = torch.randn(size, 2, generator=generator) * TARGET_STD + torch.tensor(TARGET_MEAN)

    def __len__(self):
        return len(self.points)

    def __getitem__(self, index):
        return dict(inputs=self.points[index])


def mlp(in_features: int, out_features: int, hidden: int = 32) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_features, hidden), nn.LeakyReLU(0.2),
                         nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, out_features))


@MODELS.register_module()
class TinyGAN(BaseModel):
    """A generator (noise -> point) and a discriminator (point -> real/fake logit)."""

    def __init__(self, noise_dim: int = 8, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.noise_dim = noise_dim
        self.generator = mlp(noise_dim, 2)
        self.discriminator = mlp(2, 1)

    def sample(self, num: int) -> torch.Tensor:
        noise = torch.randn(num, self.noise_dim, device=self.data_preprocessor.device)
        return self.generator(noise)

    def train_step(self, data, optim_wrapper):
        real = self.data_preprocessor(data, True)['inputs']
        ones = torch.ones(len(real), 1, device=real.device)
        zeros = torch.zeros(len(real), 1, device=real.device)

        # Discriminator: tell real points from generated ones (the generator is not updated).
        disc_wrapper = optim_wrapper['discriminator']
        with disc_wrapper.optim_context(self.discriminator):
            fake = self.sample(len(real)).detach()
            loss_disc = (F.binary_cross_entropy_with_logits(self.discriminator(real), ones)
                         + F.binary_cross_entropy_with_logits(self.discriminator(fake), zeros))
        disc_wrapper.update_params(loss_disc)

        # Generator: make the discriminator call its points real.
        gen_wrapper = optim_wrapper['generator']
        with gen_wrapper.optim_context(self.generator):
            loss_gen = F.binary_cross_entropy_with_logits(self.discriminator(self.sample(len(real))), ones)
        gen_wrapper.update_params(loss_gen)
        # Detached tensors: the LogProcessor reduces them only when a log line is due.
        return dict(loss_disc=loss_disc.detach(), loss_gen=loss_gen.detach())

    def forward(self, inputs=None, data_samples=None, mode='tensor'):
        if mode != 'tensor':
            raise ValueError(f'TinyGAN only generates (mode="tensor"), got mode={mode!r}')
        return self.sample(len(inputs))


def build_runner(work_dir: str, iters: int) -> Runner:
    return Runner(
        model=dict(type='TinyGAN'),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=dict(type='GaussianPoints2D'),
            sampler=dict(type='InfiniteSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=64),
        train_cfg=dict(by_epoch=False, max_iters=iters),
        optim_wrapper=dict(
            constructor='MultiOptimWrapperConstructor',
            generator=dict(optimizer=dict(type='Adam', lr=2e-3, betas=(0.5, 0.999))),
            discriminator=dict(optimizer=dict(type='Adam', lr=2e-3, betas=(0.5, 0.999)))),
        # One list per optimizer: a short warm-up for the generator only.
        param_scheduler=dict(
            generator=[dict(type='LinearLR', start_factor=0.2, by_epoch=False, begin=0, end=50)],
            discriminator=[dict(type='ConstantLR', factor=1.0, by_epoch=False)]),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=100),
            checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=iters)),
        log_processor=dict(by_epoch=False),
        randomness=dict(seed=0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', help='where logs and checkpoints go (default: a new temp dir)')
    parser.add_argument('--iters', type=int, default=400, help='training iterations')
    args = parser.parse_args()
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='mmlite_gan_')

    runner = build_runner(work_dir, args.iters)
    model = runner.model
    with torch.no_grad():
        before = model.sample(2000).mean(dim=0).tolist()
    runner.train()
    with torch.no_grad():
        after = model.sample(2000).mean(dim=0).tolist()

    # mmlite checkpoints hold tensors and plain values only: the safe loader reads them.
    checkpoint = torch.load(osp.join(work_dir, f'iter_{args.iters}.pth'), weights_only=True)
    print(f'generated mean before training: [{before[0]:.2f}, {before[1]:.2f}]')
    print(f'generated mean after training:  [{after[0]:.2f}, {after[1]:.2f}] '
          f'(target [{TARGET_MEAN[0]:.2f}, {TARGET_MEAN[1]:.2f}])')
    print(f'optimizers in the checkpoint: {sorted(checkpoint["optimizer"])}')
    print(f'work dir: {work_dir}')


if __name__ == '__main__':
    main()
