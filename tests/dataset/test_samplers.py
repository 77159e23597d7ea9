"""DefaultSampler and InfiniteSampler: rank layout, epochs, exact-resume skip, state."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

import mmlite.dataset.sampler as sampler_module
from mmlite.dataset import DefaultSampler, InfiniteSampler, pseudo_collate
from mmlite.registry import DATA_SAMPLERS


def as_rank(monkeypatch, rank, world):
    monkeypatch.setattr(sampler_module, '_rank_and_world', lambda: (rank, world))


def perm(size, seed):
    generator = torch.Generator()
    generator.manual_seed(seed)
    return torch.randperm(size, generator=generator).tolist()


def test_default_sampler_round_up_pads_and_splits_across_ranks(monkeypatch):
    data = list(range(10))
    order = perm(10, 7 + 2)
    padded = (order + order)[:12]
    seen = []
    for rank in range(3):
        as_rank(monkeypatch, rank, 3)
        sampler = DefaultSampler(data, seed=7)
        sampler.set_epoch(2)
        indices = list(sampler)
        assert indices == padded[rank::3] and len(sampler) == 4
        seen += indices
    assert sorted(set(seen)) == data and len(seen) == 12


def test_default_sampler_without_round_up_partitions_exactly(monkeypatch):
    parts = []
    for rank in range(3):
        as_rank(monkeypatch, rank, 3)
        sampler = DefaultSampler(range(10), shuffle=False, seed=0, round_up=False)
        parts.append(list(sampler))
        assert len(sampler) == len(parts[-1])
    assert [len(p) for p in parts] == [4, 3, 3]
    assert sorted(sum(parts, [])) == list(range(10)) and parts[1] == [1, 4, 7]


def test_default_sampler_epochs_reorder_reproducibly(monkeypatch):
    as_rank(monkeypatch, 0, 1)
    sampler = DefaultSampler(range(50), seed=3)
    first = list(sampler)
    assert list(sampler) == first == perm(50, 3)
    sampler.set_epoch(1)
    assert list(sampler) != first and sorted(sampler) == list(range(50))


def test_default_sampler_skip_applies_once(monkeypatch):
    as_rank(monkeypatch, 1, 2)
    sampler = DefaultSampler(range(9), seed=5)
    full = list(sampler)
    sampler.skip(3)
    assert list(sampler) == full[3:]
    assert list(sampler) == full
    sampler.skip(len(sampler))
    assert list(sampler) == []
    with pytest.raises(ValueError, match='only 5'):
        sampler.skip(6)
    with pytest.raises(ValueError, match='non-negative int'):
        sampler.skip(-1)


def test_skip_never_reads_skipped_samples_through_a_dataloader(monkeypatch):
    as_rank(monkeypatch, 0, 1)

    class Recording:
        def __init__(self):
            self.read = []

        def __len__(self):
            return 12

        def __getitem__(self, idx):
            self.read.append(idx)
            return idx

    dataset = Recording()
    sampler = DefaultSampler(dataset, seed=1)
    full = list(sampler)
    sampler.skip(8)
    batches = list(DataLoader(dataset, batch_size=4, sampler=sampler, collate_fn=pseudo_collate))
    assert batches == [full[8:]] and sorted(dataset.read) == sorted(full[8:])


def test_default_sampler_state_round_trip(monkeypatch):
    as_rank(monkeypatch, 0, 1)
    sampler = DefaultSampler(range(20), seed=11)
    sampler.set_epoch(4)
    state = sampler.state_dict()
    assert state == {'epoch': 4, 'seed': 11, 'shuffle': True, 'round_up': True}
    monkeypatch.setattr(sampler_module, '_shared_seed', lambda: 999)
    resumed = DefaultSampler(range(20))
    assert resumed.seed == 999
    resumed.load_state_dict(state)
    assert list(resumed) == list(sampler)
    with pytest.raises(KeyError, match='bogus'):
        resumed.load_state_dict({'bogus': 1})


def test_samplers_are_registered_and_use_mmlite_dist_by_default():
    sampler = DATA_SAMPLERS.build(dict(type='DefaultSampler', dataset=range(4), shuffle=False))
    assert list(sampler) == [0, 1, 2, 3] and isinstance(sampler.seed, int)
    stream = DATA_SAMPLERS.build(dict(type='InfiniteSampler', dataset=range(3), shuffle=False))
    assert [next(iter(stream)) for _ in range(5)] == [0, 1, 2, 0, 1]


def global_stream(size, seed, shuffle, length):
    out, k = [], 0
    while len(out) < length:
        out += perm(size, seed + k) if shuffle else list(range(size))
        k += 1
    return out[:length]


def take(sampler, count):
    iterator = iter(sampler)
    return [next(iterator) for _ in range(count)]


def test_infinite_sampler_stream_is_the_concatenation_of_seeded_passes(monkeypatch):
    as_rank(monkeypatch, 1, 3)
    sampler = InfiniteSampler(range(7), seed=4)
    assert take(sampler, 20) == global_stream(7, 4, True, 61)[1::3]
    assert len(sampler) == 7


def test_infinite_sampler_continues_across_iter_calls(monkeypatch):
    as_rank(monkeypatch, 0, 1)
    sampler = InfiniteSampler(range(5), seed=0)
    first, second = take(sampler, 3), take(sampler, 4)
    assert first + second == global_stream(5, 0, True, 7)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 12), world=st.integers(1, 4), data=st.data(),
       skip=st.integers(0, 80), seed=st.integers(0, 2**20), shuffle=st.booleans())
def test_infinite_sampler_skip_matches_a_fresh_stream(size, world, data, skip, seed, shuffle):
    rank = data.draw(st.integers(0, world - 1))
    original = sampler_module._rank_and_world
    sampler_module._rank_and_world = lambda: (rank, world)
    try:
        fresh = take(InfiniteSampler(range(size), shuffle=shuffle, seed=seed), skip + 15)
        resumed = InfiniteSampler(range(size), shuffle=shuffle, seed=seed)
        take(resumed, 2)  # a stream in progress is replaced by the skip
        resumed.skip(skip)
        assert take(resumed, 15) == fresh[skip:]
    finally:
        sampler_module._rank_and_world = original


def test_infinite_sampler_state_round_trip(monkeypatch):
    as_rank(monkeypatch, 0, 2)
    sampler = InfiniteSampler(range(6), seed=8, shuffle=False)
    sampler.set_epoch(3)
    assert sampler.state_dict() == {'epoch': 3, 'seed': 8, 'shuffle': False}
    other = InfiniteSampler(range(6), seed=1)
    take(other, 3)
    other.load_state_dict(sampler.state_dict())
    assert take(other, 4) == [0, 2, 4, 0]
