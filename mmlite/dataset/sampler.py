"""Samplers that split a dataset across ranks, with an exact-resume ``skip``.

Both samplers order the dataset with ``torch.randperm`` seeded by ``seed + k`` for pass
(epoch) ``k``, and rank ``r`` of ``world`` ranks takes positions ``r, r + world, ...``.
``skip(n)`` makes the next ``__iter__`` start at this rank's ``n``-th index without
producing the ones before it, so a resumed run never reads skipped samples. Both keep the
seed of the stream they are yielding (``stream_seed``); the position of the index last
yielded in it (``position``) is set when an iterator starts and advanced batch by batch by
SeededBatchSampler (positions step by ``world_size``), so the indices themselves come from C
iterators with no Python code per index. The batches carry seed and positions to the workers
so that augmentation survives a resume exactly (see sample_seed.py).
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sized
from typing import Any

import torch
from torch.utils.data import Sampler

from mmlite.registry import DATA_SAMPLERS

from .sample_seed import mix_seed


def _rank_and_world() -> tuple[int, int]:
    from mmlite.dist import get_dist_info
    return get_dist_info()


def _shared_seed() -> int:
    from mmlite.dist import sync_random_seed
    return sync_random_seed()


def _pass_order(size: int, seed: int, pass_index: int, shuffle: bool) -> list[int]:
    """The dataset order of one pass: a permutation seeded by ``seed + pass_index``."""
    if not shuffle:
        return list(range(size))
    generator = torch.Generator()
    generator.manual_seed(seed + pass_index)
    return torch.randperm(size, generator=generator).tolist()


def _check_skip(num_samples: Any) -> int:
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 0:
        raise ValueError(f'skip(num_samples) needs a non-negative int, got {num_samples!r}')
    return num_samples


def _load_plain_state(sampler: Any, state: dict, keys: tuple[str, ...]) -> None:
    unknown = sorted(set(state) - set(keys))
    if unknown:
        raise KeyError(f'{type(sampler).__name__}.load_state_dict got unknown key(s) {unknown}; '
                       f'it accepts {list(keys)}')
    for key in keys:
        if key in state:
            setattr(sampler, key, state[key])


@DATA_SAMPLERS.register_module()
class DefaultSampler(Sampler):
    """One pass over the dataset per epoch, split across ranks.

    The order is a permutation seeded by ``seed + epoch`` (call :meth:`set_epoch` each
    epoch). With ``round_up`` the order is padded by repeating it until every rank gets
    ``ceil(len(dataset) / world_size)`` indices; without it, ranks get what is there.

    Args:
        dataset: anything with ``__len__``.
        shuffle: permute the order each epoch; otherwise dataset order.
        seed: the shared seed; None draws one and syncs it across ranks.
        round_up: pad so every rank gets the same number of indices.
    """

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: int | None = None,
                 round_up: bool = True) -> None:
        self.rank, self.world_size = _rank_and_world()
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = _shared_seed() if seed is None else seed
        self.epoch = 0
        self.round_up = round_up
        self._pending_skip = 0
        self.stream_seed: int | None = None  # of the epoch being yielded
        self.position: int | None = None  # in that epoch's order, of the last index batched

    @property
    def num_samples(self) -> int:
        """How many indices this rank gets per epoch (before any skip)."""
        size = len(self.dataset)
        if self.round_up:
            return math.ceil(size / self.world_size)
        return max(0, math.ceil((size - self.rank) / self.world_size))

    @property
    def total_size(self) -> int:
        """Indices over all ranks per epoch: padded with ``round_up``, else the dataset size."""
        size = len(self.dataset)
        return self.num_samples * self.world_size if self.round_up else size

    def __iter__(self) -> Iterator[int]:
        order = _pass_order(len(self.dataset), self.seed, self.epoch, self.shuffle)
        total = self.total_size
        if self.round_up and order and len(order) < total:
            order = (order * math.ceil(total / len(order)))[:total]
        start = self.rank + self._pending_skip * self.world_size
        self._pending_skip = 0
        self.stream_seed = mix_seed(self.seed, self.epoch)
        self.position = start - self.world_size  # nothing yielded yet
        return iter(order[start:total:self.world_size])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order the next ``__iter__`` yields."""
        self.epoch = epoch

    def skip(self, num_samples: int) -> None:
        """Make the next ``__iter__`` start after this rank's first ``num_samples`` indices."""
        num_samples = _check_skip(num_samples)
        if num_samples > self.num_samples:
            raise ValueError(f'cannot skip {num_samples} samples: this rank has only '
                             f'{self.num_samples} per epoch')
        self._pending_skip = num_samples

    def state_dict(self) -> dict:
        return {'epoch': self.epoch, 'seed': self.seed, 'shuffle': self.shuffle,
                'round_up': self.round_up}

    def load_state_dict(self, state_dict: dict) -> None:
        _load_plain_state(self, state_dict, ('epoch', 'seed', 'shuffle', 'round_up'))


@DATA_SAMPLERS.register_module()
class InfiniteSampler(Sampler):
    """An endless stream of indices for iteration-based training, split across ranks.

    The stream is the concatenation of passes; pass ``k`` is a permutation seeded by
    ``seed + k`` (the same order DefaultSampler gives epoch ``k``). Rank ``r`` takes
    stream positions ``r, r + world_size, ...``. Because a pass is computed from the seed
    and its number alone, ``skip(n)`` jumps straight to this rank's ``n``-th index.
    Like MMEngine, a new ``__iter__`` continues the stream where the last one stopped.

    Args:
        dataset: anything with ``__len__``.
        shuffle: permute each pass; otherwise dataset order, repeated.
        seed: the shared seed; None draws one and syncs it across ranks.
    """

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: int | None = None) -> None:
        self.rank, self.world_size = _rank_and_world()
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = _shared_seed() if seed is None else seed
        self.epoch = 0
        self.size = len(dataset)
        self._pending_skip: int | None = None
        self._stream: Iterator[int] | None = None
        self.stream_seed: int | None = None
        self.position: int | None = None  # in the stream over all passes, of the last index batched

    def _rank_passes(self, position: int) -> Iterator[list[int]]:
        """This rank's indices from stream ``position`` on, forever, one pass at a time."""
        while True:
            pass_index, offset = divmod(position, self.size)
            chunk = _pass_order(self.size, self.seed, pass_index, self.shuffle)[offset::self.world_size]
            yield chunk
            position += len(chunk) * self.world_size

    def __iter__(self) -> Iterator[int]:
        if self._stream is None or self._pending_skip is not None:
            position = self.rank + (self._pending_skip or 0) * self.world_size
            self._stream = (itertools.chain.from_iterable(self._rank_passes(position))
                            if self.size else iter(()))
            self.position = position - self.world_size  # nothing yielded yet
            self._pending_skip = None
        self.stream_seed = mix_seed(self.seed, -1)  # one stream over every pass
        return self._stream

    def __len__(self) -> int:
        return self.size

    def set_epoch(self, epoch: int) -> None:
        """Recorded only: the stream does not restart at epoch boundaries."""
        self.epoch = epoch

    def skip(self, num_samples: int) -> None:
        """Make the next ``__iter__`` yield this rank's stream from its ``num_samples``-th
        index on, exactly as a fresh sampler with the same seed would after that many."""
        self._pending_skip = _check_skip(num_samples)

    def state_dict(self) -> dict:
        return {'epoch': self.epoch, 'seed': self.seed, 'shuffle': self.shuffle}

    def load_state_dict(self, state_dict: dict) -> None:
        _load_plain_state(self, state_dict, ('epoch', 'seed', 'shuffle'))
        # The stream so far was drawn with the old seed; start over under the loaded one.
        self._stream = None
