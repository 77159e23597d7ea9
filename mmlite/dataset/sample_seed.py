"""Per-sample seeding in dataloader workers, so augmentation survives a mid-epoch resume.

A worker's random streams normally run on from sample to sample, so what a sample draws
depends on which worker got it and what that worker drew before. A run resumed in the middle
of an epoch hands batches to freshly started workers in a different order, and the draws
differ. So mmlite's samplers name a seed for their stream (from the sampler seed and the epoch;
an endless sampler's one stream spans all passes) and the position of each index in it, and
:class:`SeededBatchSampler` (which mmlite's dataloaders use) attaches them to every batch.
Inside a worker, ``BaseDataset.__getitems__`` reseeds ``random``, ``numpy.random`` and torch's
CPU generator from (stream seed, position) before building each sample: a sample's
augmentation is then a function of the epoch seed and its place in the epoch only, whatever
the worker, persistent workers included.

Cost: one small object per batch in the main process, and about 12 microseconds per sample in
the workers. Without workers (``num_workers=0``) the loaders keep torch's BatchSampler and
nothing is reseeded: the global streams are saved in checkpoints instead. Batches from other
samplers are left alone.
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import BatchSampler, get_worker_info

_MASK64 = (1 << 64) - 1


def mix_seed(seed: int, value: int) -> int:
    """A well-spread 64-bit seed from two integers (splitmix64 of their combination)."""
    z = (seed * 0x9E3779B97F4A7C15 + value + 1) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


class SeededBatch(list):
    """Dataset indices, plus the seed of the stream they come from and their positions in it
    (``first_position``, then every ``position_step``); otherwise a plain list."""

    def __init__(self, indices: Sequence[int], stream_seed: int, first_position: int,
                 position_step: int = 1) -> None:
        super().__init__(indices)
        self.stream_seed = stream_seed
        self.first_position = first_position
        self.position_step = position_step

    def __reduce__(self):
        return SeededBatch, (list(self), self.stream_seed, self.first_position, self.position_step)


class SeededBatchSampler(BatchSampler):
    """torch's BatchSampler whose batches carry their seed and positions when the sampler
    tells them (mmlite's samplers keep ``stream_seed``, ``position`` and ``world_size``).

    The sampler sets ``position`` when its iterator starts; this advances it a batch at a
    time, since consecutive indices of a rank are ``world_size`` positions apart.
    """

    def __iter__(self) -> Iterator[list[int]]:
        sampler = self.sampler
        step = getattr(sampler, 'world_size', 1)
        for batch in super().__iter__():
            seed = getattr(sampler, 'stream_seed', None)
            if seed is None:
                yield batch
            else:
                first = sampler.position + step
                sampler.position = first + (len(batch) - 1) * step
                yield SeededBatch(batch, seed, first, step)


def seed_rngs(seed: int) -> None:
    """Seed python, numpy and torch's CPU generator (of this process) from one 64-bit seed."""
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    # torch.manual_seed would also queue CUDA seeding with a stack trace: 40x slower.
    torch.default_generator.manual_seed(seed)


def fetch_seeded(dataset: Any, indices: Sequence[int]) -> list:
    """``[dataset[i] for i in indices]``, reseeding before each item in a worker when the
    batch carries its seed (the ``__getitems__`` of mmlite's datasets)."""
    stream_seed = getattr(indices, 'stream_seed', None)
    if stream_seed is None or get_worker_info() is None:
        return [dataset[index] for index in indices]
    samples = []
    position, step = indices.first_position, indices.position_step
    for index in indices:
        seed_rngs(mix_seed(stream_seed, position))
        samples.append(dataset[index])
        position += step
    return samples
