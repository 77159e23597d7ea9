"""iter_batches: the lean main-process iteration yields exactly what torch's iterator does."""
import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset
from torch.utils.data.dataloader import _BaseDataLoaderIter

from mmlite.dataset import DefaultSampler, default_collate
from mmlite.runner.batch_iter import PROFILE_NAME, iter_batches, lean_iterable


class Samples(torch.utils.data.Dataset):
    def __init__(self, n=13):
        self.data = torch.arange(n * 3, dtype=torch.float32).reshape(n, 3)
        self.reads = []

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        self.reads.append(index)
        return dict(inputs=self.data[index], data_samples=index)


class BatchReads(Samples):
    def __getitems__(self, indices):
        self.reads.append(tuple(indices))
        return [dict(inputs=self.data[i], data_samples=i) for i in indices]


class Stream(IterableDataset):
    def __iter__(self):
        return iter(range(5))


def _loaders(dataset_type=Samples, **kwargs):
    """Two identical loaders, each with its own dataset and generator seeded alike."""
    made = []
    for _ in range(2):
        kwargs_i = dict(kwargs)
        dataset = dataset_type()
        if kwargs_i.pop('default_sampler', False):
            kwargs_i['sampler'] = DefaultSampler(dataset, shuffle=True, seed=3)
        made.append(DataLoader(dataset, batch_size=4, collate_fn=default_collate,
                               generator=torch.Generator().manual_seed(7), **kwargs_i))
    return made


def _assert_same_batches(lean, reference):
    assert len(lean) == len(reference) > 1
    for mine, theirs in zip(lean, reference):
        assert mine.keys() == theirs.keys()
        torch.testing.assert_close(mine['inputs'], theirs['inputs'], rtol=0, atol=0)
        torch.testing.assert_close(mine['data_samples'], theirs['data_samples'], rtol=0, atol=0)


@pytest.mark.parametrize('options', [dict(default_sampler=True), dict(shuffle=True),
                                     dict(shuffle=True, drop_last=True), dict()])
def test_same_batches_and_generator_stream_as_torch(options):
    mine, reference = _loaders(**options)
    assert lean_iterable(mine)
    iterator = iter_batches(mine)
    assert not isinstance(iterator, _BaseDataLoaderIter)
    for epoch in range(2):  # the loader's generator advances alike over epochs
        lean = list(iterator if epoch == 0 else iter_batches(mine))
        _assert_same_batches(lean, list(reference))
    assert torch.equal(mine.generator.get_state(), reference.generator.get_state())
    assert mine.dataset.reads == reference.dataset.reads


def test_dataset_getitems_is_used_like_torch():
    mine, reference = _loaders(BatchReads, shuffle=True)
    _assert_same_batches(list(iter_batches(mine)), list(reference))
    assert mine.dataset.reads == reference.dataset.reads
    assert all(isinstance(read, tuple) for read in mine.dataset.reads)


def test_other_loaders_keep_torchs_iterator():
    class MyLoader(DataLoader):
        pass

    dataset = Samples()
    others = [DataLoader(dataset, batch_size=4, num_workers=1),
              DataLoader(Stream(), batch_size=2),
              DataLoader(dataset, batch_size=None),  # no automatic batching
              MyLoader(dataset, batch_size=4)]
    for loader in others:
        assert not lean_iterable(loader)
    for loader in others[1:]:  # (no worker process started for nothing)
        assert isinstance(iter_batches(loader), _BaseDataLoaderIter)


def test_batches_keep_their_profiler_label():
    loader, _ = _loaders(shuffle=True)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        batches = list(iter_batches(loader))
    labels = [event for event in prof.events() if event.name == PROFILE_NAME]
    assert len(labels) == len(batches) == 4


def test_dataset_errors_surface_unchanged():
    class Broken(Samples):
        def __getitem__(self, index):
            raise KeyError(f'sample {index} is missing')

    loader = DataLoader(Broken(), batch_size=4)
    with pytest.raises(KeyError, match='sample 0 is missing'):
        next(iter_batches(loader))


def test_training_loops_take_the_lean_path(tmp_path, monkeypatch):
    """Epoch- and iteration-based training over a plain loader never run torch's per-batch
    iterator, and still see every sample."""
    from torch.utils.data.dataloader import _SingleProcessDataLoaderIter

    from mmlite.model import BaseModel
    from mmlite.runner import Runner

    torch_batches = []
    torch_next = _SingleProcessDataLoaderIter.__next__
    monkeypatch.setattr(_SingleProcessDataLoaderIter, '__next__',
                        lambda self: torch_batches.append(1) or torch_next(self))

    class Regressor(BaseModel):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = self.fc(inputs)
            return dict(loss=out.pow(2).mean()) if mode == 'loss' else out

    for name, train_cfg in (('epochs', dict(by_epoch=True, max_epochs=2)),
                            ('iters', dict(by_epoch=False, max_iters=6))):
        dataset = Samples(12)
        loader = DataLoader(dataset, batch_size=4, shuffle=True, collate_fn=default_collate)
        Runner(model=Regressor(), work_dir=str(tmp_path / name), train_dataloader=loader,
               train_cfg=train_cfg, optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
               default_hooks=dict(checkpoint=None)).train()
        assert sorted(dataset.reads) == sorted(list(range(12)) * 2)  # two passes over the data
    assert torch_batches == []
