"""pseudo_collate, default_collate, worker_init_fn, and Compose."""
import random
from collections import namedtuple

import numpy as np
import pytest
import torch

from mmlite.dataset import (COLLATE_FUNCTIONS, Compose, default_collate, pseudo_collate,
                            worker_init_fn)
from mmlite.registry import FUNCTIONS, TRANSFORMS
from mmlite.structures import BaseDataElement

Pair = namedtuple('Pair', ['left', 'right'])


def samples():
    return [dict(inputs=torch.full((1, 2, 2), float(i)), labels=torch.tensor(i),
                 meta=dict(name=f's{i}', size=(2, 2)), sample=BaseDataElement(idx=[i]),
                 pair=Pair(i, np.array([i, i])), extra=(i, 'x'))
            for i in range(3)]


def test_pseudo_collate_makes_lists_without_stacking():
    batch = pseudo_collate(samples())
    assert isinstance(batch['inputs'], list) and len(batch['inputs']) == 3
    assert batch['inputs'][2].shape == (1, 2, 2)
    assert batch['meta']['name'] == ['s0', 's1', 's2']
    assert batch['meta']['size'] == [[2, 2, 2], [2, 2, 2]]
    assert isinstance(batch['pair'], Pair) and batch['pair'].left == [0, 1, 2]
    assert batch['extra'] == [[0, 1, 2], ['x', 'x', 'x']]
    assert [s.idx for s in batch['sample']] == [[0], [1], [2]]


def test_default_collate_stacks_but_keeps_data_elements_as_lists():
    batch = default_collate(samples())
    assert batch['inputs'].shape == (3, 1, 2, 2) and batch['labels'].tolist() == [0, 1, 2]
    assert batch['meta']['name'] == ['s0', 's1', 's2']
    assert batch['meta']['size'][0].tolist() == [2, 2, 2]
    assert batch['pair'].left.tolist() == [0, 1, 2]
    assert batch['pair'].right.shape == (3, 2)
    assert isinstance(batch['sample'], list) and batch['sample'][1].idx == [1]


def test_default_collate_matches_torch_in_the_main_process_and_in_workers():
    data = [dict(inputs=torch.randn(2, 3), labels=torch.tensor(i), score=0.5 * i,
                 mask=torch.arange(3) > i) for i in range(4)]
    ours, theirs = default_collate(data), torch.utils.data.default_collate(data)
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert ours[key].dtype == theirs[key].dtype and torch.equal(ours[key], theirs[key])
    with pytest.raises(RuntimeError, match='stack expects each tensor to be equal size'):
        default_collate([torch.zeros(2), torch.zeros(3)])
    # In a worker, torch's collate stacks straight into shared memory: that path is kept.
    loader = torch.utils.data.DataLoader(data, batch_size=4, num_workers=1,
                                         collate_fn=_collated_into_shared_memory)
    assert next(iter(loader)) == (True, True)
    assert _collated_into_shared_memory(data) == (False, False)


def _collated_into_shared_memory(data):
    # Runs where the loader collates; the answer is read before the queue shares anything.
    batch = default_collate(data)
    return batch['inputs'].is_shared(), batch['labels'].is_shared()


def test_collate_errors_name_the_problem():
    with pytest.raises(RuntimeError, match='different lengths'):
        pseudo_collate([[1, 2], [1]])
    with pytest.raises(ValueError, match='empty batch'):
        default_collate([])


def test_functions_are_registered():
    assert COLLATE_FUNCTIONS is FUNCTIONS
    for fn in (pseudo_collate, default_collate, worker_init_fn):
        assert FUNCTIONS.get(fn.__name__) is fn


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_worker_init_fn_seeds_every_generator_by_rank_and_worker():
    worker_init_fn(worker_id=1, num_workers=4, rank=2, seed=100)
    seeded = draws()
    expected_seed = 4 * 2 + 1 + 100
    random.seed(expected_seed)
    np.random.seed(expected_seed)
    torch.manual_seed(expected_seed)
    assert draws() == seeded
    worker_init_fn(worker_id=2, num_workers=4, rank=2, seed=100)
    assert draws() != seeded


class AddOne:
    def __init__(self, amount=1):
        self.amount = amount

    def __call__(self, data):
        return dict(data, value=data['value'] + self.amount)

    def __repr__(self):
        return f'AddOne({self.amount})'


def test_compose_chains_builds_configs_and_drops_samples():
    pipeline = Compose([AddOne(), dict(type=AddOne, amount=10), lambda d: d])
    assert pipeline(dict(value=1)) == dict(value=12)
    assert 'AddOne(10)' in repr(pipeline)
    dropping = Compose([AddOne(), lambda d: None, AddOne()])
    assert dropping(dict(value=1)) is None
    assert Compose(None)(dict(value=3)) == dict(value=3)
    with pytest.raises(TypeError, match='pipeline entry 1'):
        Compose([AddOne(), 5])
    assert TRANSFORMS.get('Compose') is Compose
