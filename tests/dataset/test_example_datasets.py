"""DigitsDataset on the real bundled data; TorchvisionDataset on a fake on-disk FashionMNIST."""
import gzip
import struct

import numpy as np
import pytest
import torch

import mmlite.dataset.digits_dataset as digits_module
from mmlite.dataset import DefaultSampler, DigitsDataset, TorchvisionDataset, default_collate
from mmlite.registry import DATASETS


@pytest.fixture(scope='module')
def digits():
    return DigitsDataset(split='train'), DigitsDataset(split='val')


def test_digits_split_is_disjoint_complete_and_stratified(digits):
    train, val = digits
    assert len(train) + len(val) == 1797
    train_ids = {train.get_data_info(i)['source_index'] for i in range(len(train))}
    val_ids = {val.get_data_info(i)['source_index'] for i in range(len(val))}
    assert not train_ids & val_ids and len(train_ids | val_ids) == 1797
    val_counts = np.bincount([val.get_cat_ids(i)[0] for i in range(len(val))], minlength=10)
    assert val_counts.min() >= 34 and val_counts.max() <= 38  # ~20% of ~180 per class


def test_digits_samples_are_uint8_images_and_int64_labels(digits):
    train, _ = digits
    sample = train[0]
    assert set(sample) == {'inputs', 'labels'}
    assert sample['inputs'].dtype == torch.uint8 and sample['inputs'].shape == (1, 8, 8)
    assert sample['labels'].dtype == torch.int64 and sample['labels'].ndim == 0
    assert train.metainfo['classes'] == tuple('0123456789')
    brightest = max(int(train[i]['inputs'].max()) for i in range(20))
    assert brightest == 255


def test_digits_pixels_match_the_csv_file(digits):
    train, _ = digits
    with gzip.open(digits_module.digits_csv_path(), 'rt') as file:
        rows = [line for line in file]
    info = train.get_data_info(5)
    row = np.array(rows[info['source_index']].split(','), dtype=np.float64)
    assert info['gt_label'] == int(row[-1])
    np.testing.assert_array_equal(info['img'].reshape(-1), np.rint(row[:-1] * 255 / 16).astype(np.uint8))


def test_digits_split_depends_only_on_seed_and_test_names_val(digits):
    _, val = digits
    ids = [val.get_data_info(i)['source_index'] for i in range(len(val))]
    test = DATASETS.build(dict(type='DigitsDataset', split='test'))
    assert [test.get_data_info(i)['source_index'] for i in range(len(test))] == ids
    reseeded = DigitsDataset(split='val', seed=1)
    assert [reseeded.get_data_info(i)['source_index'] for i in range(len(reseeded))] != ids
    with pytest.raises(ValueError, match="split must be one of"):
        DigitsDataset(split='holdout')


def test_digits_batches_through_collate_and_pipeline():
    flipped = DigitsDataset(split='val', pipeline=[lambda s: dict(s, inputs=s['inputs'].flip(-1))])
    plain = DigitsDataset(split='val')
    assert torch.equal(flipped[3]['inputs'], plain[3]['inputs'].flip(-1))
    sampler = DefaultSampler(plain, seed=0)
    batch = default_collate([plain[i] for i in list(sampler)[:4]])
    assert batch['inputs'].shape == (4, 1, 8, 8) and batch['labels'].shape == (4,)


def test_digits_without_scikit_learn_says_how_to_install(monkeypatch):
    real_find_spec = digits_module.importlib.util.find_spec
    monkeypatch.setattr(digits_module.importlib.util, 'find_spec',
                        lambda name, *args: None if name == 'sklearn' else real_find_spec(name, *args))
    digits_module.read_digits.cache_clear()
    try:
        with pytest.raises(ImportError, match='pip install scikit-learn'):
            DigitsDataset()
    finally:
        monkeypatch.undo()
        digits_module.read_digits.cache_clear()


def test_torchvision_missing_data_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'cifar-10-batches-py.*download=True'):
        TorchvisionDataset(name='CIFAR10', data_root=str(tmp_path))
    with pytest.raises(ValueError, match='name must be one of'):
        TorchvisionDataset(name='ImageNet', data_root=str(tmp_path))
    with pytest.raises(ValueError, match='contradicts'):
        TorchvisionDataset(data_root=str(tmp_path), split='test', train=True)


def write_idx(path, array):
    """MNIST's idx format: a big-endian magic (uint8 type, ndim), the dims, then the bytes."""
    header = struct.pack('>I', 0x0800 + array.ndim) + struct.pack(f'>{array.ndim}I', *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def fake_fashion_mnist(root):
    raw = root / 'FashionMNIST' / 'raw'
    raw.mkdir(parents=True)
    for prefix, count in (('train', 4), ('t10k', 3)):
        images = np.arange(count * 5 * 6).reshape(count, 5, 6) % 256
        write_idx(raw / f'{prefix}-images-idx3-ubyte', images)
        write_idx(raw / f'{prefix}-labels-idx1-ubyte', np.arange(count) + 2)


def test_torchvision_reads_a_fake_fashion_mnist(tmp_path):
    fake_fashion_mnist(tmp_path)
    train = TorchvisionDataset(name='FashionMNIST', data_root=str(tmp_path))
    test = TorchvisionDataset(name='FashionMNIST', data_root=str(tmp_path), split='test')
    assert len(train) == 4 and len(test) == 3
    sample = train[1]
    assert sample['inputs'].dtype == torch.uint8 and sample['inputs'].shape == (1, 5, 6)
    assert sample['inputs'].flatten().tolist() == list(range(30, 60))
    assert sample['labels'].item() == 3 and sample['labels'].dtype == torch.int64
    assert train.metainfo['classes'][0] == 'T-shirt/top'
    subset = train.get_subset([3])
    assert subset._source is train._source and subset[0]['labels'].item() == 5
