"""BaseDataset: annotation files, metainfo, prefixes, packing, subsets, refetch, workers."""
import functools
import json
import pickle

import numpy as np
import pytest
from torch.utils.data import DataLoader

from mmlite.dataset import BaseDataset, pseudo_collate, worker_init_fn


class ToyDataset(BaseDataset):
    METAINFO = dict(classes=('cat', 'dog'), palette='class-level')


def write_annotations(folder, count=5, metainfo=None, name='ann.json'):
    data_list = [dict(img_path=f'img_{i}.jpg', gt_label=i % 2, tags=[i]) for i in range(count)]
    payload = dict(metainfo=metainfo if metainfo is not None else dict(classes=['x'], source='file'),
                   data_list=data_list)
    (folder / name).write_text(json.dumps(payload))
    return name


@pytest.fixture
def ann_root(tmp_path):
    write_annotations(tmp_path)
    return tmp_path


def test_loads_annotations_with_prefixes_and_merged_metainfo(ann_root):
    dataset = ToyDataset(ann_file='ann.json', data_root=str(ann_root),
                         data_prefix=dict(img_path='images'), metainfo=dict(palette='arg'))
    assert dataset.ann_file == str(ann_root / 'ann.json')
    assert len(dataset) == 5
    info = dataset.get_data_info(3)
    assert info['img_path'] == str(ann_root / 'images' / 'img_3.jpg')
    assert info['sample_idx'] == 3 and info['tags'] == [3]
    assert dataset.get_data_info(-1)['sample_idx'] == 4
    # class METAINFO < argument; the file only fills keys both leave out
    assert dataset.metainfo == dict(classes=('cat', 'dog'), palette='arg', source='file')
    dataset.metainfo['classes'] = None
    assert dataset.metainfo['classes'] == ('cat', 'dog')
    assert ToyDataset.METAINFO == dict(classes=('cat', 'dog'), palette='class-level')
    with pytest.raises(IndexError, match='out of range'):
        dataset.get_data_info(5)


def test_metainfo_value_naming_a_file_is_read_as_lines(ann_root):
    classes_file = ann_root / 'classes.txt'
    classes_file.write_text('red\ngreen\n')
    dataset = BaseDataset(ann_file=str(ann_root / 'ann.json'), metainfo=dict(classes=str(classes_file)),
                          data_prefix={})
    assert dataset.metainfo['classes'] == ['red', 'green']


@pytest.mark.parametrize('serialize', [True, False])
def test_items_are_fresh_copies_in_both_storage_modes(ann_root, serialize):
    dataset = BaseDataset(ann_file='ann.json', data_root=str(ann_root), serialize_data=serialize)
    first = dataset.get_data_info(0)
    first['tags'].append(99)
    assert dataset.get_data_info(0)['tags'] == [0]
    if serialize:
        assert dataset.data_bytes.dtype == np.uint8 and dataset.data_list == []
        assert dataset.data_address.tolist()[-1] == len(dataset.data_bytes)
    else:
        assert len(dataset.data_list) == 5


def test_serialized_and_plain_storage_hold_the_same_items(ann_root):
    packed = BaseDataset(ann_file='ann.json', data_root=str(ann_root))
    plain = BaseDataset(ann_file='ann.json', data_root=str(ann_root), serialize_data=False)
    assert [packed.get_data_info(i) for i in range(5)] == [plain.get_data_info(i) for i in range(5)]
    assert [packed[i] for i in range(5)] == [plain[i] for i in range(5)]


@pytest.mark.parametrize('serialize', [True, False])
@pytest.mark.parametrize('indices, expected', [(2, [0, 1]), (-2, [3, 4]), ([4, 0, -2], [4, 0, 3]),
                                               ([], []), (0, [])])
def test_indices_and_subsets(ann_root, serialize, indices, expected):
    def tags(dataset):
        return [dataset.get_data_info(i)['tags'][0] for i in range(len(dataset))]

    limited = BaseDataset(ann_file='ann.json', data_root=str(ann_root), indices=indices,
                          serialize_data=serialize) if expected else None
    if limited is not None:
        assert tags(limited) == expected
    full = BaseDataset(ann_file='ann.json', data_root=str(ann_root), serialize_data=serialize)
    subset = full.get_subset(indices)
    assert tags(subset) == expected and type(subset) is BaseDataset
    assert tags(full) == [0, 1, 2, 3, 4]
    full.get_subset_(indices)
    assert tags(full) == expected


def test_subset_index_errors(ann_root):
    dataset = BaseDataset(ann_file='ann.json', data_root=str(ann_root))
    with pytest.raises(IndexError, match='more items than the 5'):
        dataset.get_subset(6)
    with pytest.raises(IndexError, match='index 5 is out of range'):
        dataset.get_subset([5])


def test_lazy_init_defers_loading_until_needed(tmp_path):
    dataset = BaseDataset(ann_file='ann.json', data_root=str(tmp_path), lazy_init=True)
    assert not dataset._fully_initialized
    write_annotations(tmp_path, count=3)
    assert len(dataset) == 3 and dataset._fully_initialized


def test_missing_or_empty_or_malformed_annotations_say_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.json.*ann_file"):
        BaseDataset(ann_file='nope.json', data_root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match='ann_file'):
        BaseDataset()
    write_annotations(tmp_path, count=0, name='empty.json')
    with pytest.raises(ValueError, match='no data items'):
        BaseDataset(ann_file=str(tmp_path / 'empty.json'))
    (tmp_path / 'bad.json').write_text(json.dumps(dict(data_list=[])))
    with pytest.raises(ValueError, match='"metainfo" and "data_list"'):
        BaseDataset(ann_file=str(tmp_path / 'bad.json'))
    write_annotations(tmp_path, name='ok.json')
    with pytest.raises(KeyError, match="'seg_path'.*data_prefix"):
        BaseDataset(ann_file=str(tmp_path / 'ok.json'), data_prefix=dict(seg_path='seg'))


def test_parse_data_info_may_split_items(ann_root):
    class Doubling(BaseDataset):
        def parse_data_info(self, raw):
            return [dict(raw, half=0), dict(raw, half=1)]

    dataset = Doubling(ann_file=str(ann_root / 'ann.json'))
    assert len(dataset) == 10 and dataset.get_data_info(3)['half'] == 1


def keep_even(data):
    return data if data['sample_idx'] % 2 == 0 else None


def test_dropped_items_are_refetched_from_random_others(ann_root):
    np.random.seed(0)
    dataset = BaseDataset(ann_file='ann.json', data_root=str(ann_root), pipeline=[keep_even])
    assert all(dataset[1]['sample_idx'] % 2 == 0 for _ in range(10))
    never = BaseDataset(ann_file='ann.json', data_root=str(ann_root), pipeline=[lambda d: None],
                        max_refetch=3)
    with pytest.raises(RuntimeError, match='dropped item 2 and 3 random'):
        never[2]
    strict = BaseDataset(ann_file='ann.json', data_root=str(ann_root), pipeline=[keep_even],
                         test_mode=True)
    assert strict[0]['sample_idx'] == 0
    with pytest.raises(RuntimeError, match='test pipeline.*item 1'):
        strict[1]


def test_dataset_pickles_and_feeds_worker_processes(ann_root):
    dataset = ToyDataset(ann_file='ann.json', data_root=str(ann_root), pipeline=[keep_even])
    restored = pickle.loads(pickle.dumps(dataset))
    assert restored.get_data_info(2) == dataset.get_data_info(2)
    loader = DataLoader(dataset, batch_size=2, num_workers=2, collate_fn=pseudo_collate,
                        sampler=[0, 2, 4, 0],
                        worker_init_fn=functools.partial(worker_init_fn, num_workers=2, rank=0, seed=1))
    batches = list(loader)
    assert [batch['sample_idx'] for batch in batches] == [[0, 2], [4, 0]]
