"""ConcatDataset, RepeatDataset and ClassBalancedDataset over small in-memory datasets."""
import pytest

from mmlite.dataset import BaseDataset, ClassBalancedDataset, ConcatDataset, RepeatDataset
from mmlite.registry import DATASETS


class ListDataset(BaseDataset):
    """Items given directly: ``cats`` lists each item's category ids."""

    METAINFO = dict(classes=('a', 'b', 'c'))

    def __init__(self, cats, name='d', **kwargs):
        self.cats, self.name = cats, name
        super().__init__(**kwargs)

    def load_data_list(self):
        return [dict(name=self.name, pos=i, cats=list(c)) for i, c in enumerate(self.cats)]

    def get_cat_ids(self, idx):
        return self.get_data_info(idx)['cats']


def names(dataset):
    return [(item['name'], item['pos']) for item in (dataset[i] for i in range(len(dataset)))]


def test_concat_chains_built_datasets_and_configs():
    first = ListDataset([[0]] * 2, name='first')
    concat = ConcatDataset([first, dict(type=ListDataset, cats=[[1]] * 3, name='second')])
    assert len(concat) == 5
    assert names(concat) == [('first', 0), ('first', 1), ('second', 0), ('second', 1), ('second', 2)]
    assert concat[-1]['pos'] == 2 and concat.get_data_info(2)['name'] == 'second'
    assert concat.get_cat_ids(3) == [1]
    assert concat.metainfo == dict(classes=('a', 'b', 'c'))
    with pytest.raises(IndexError, match='out of range'):
        concat[5]
    with pytest.raises(NotImplementedError, match='inner dataset first'):
        concat.get_subset(1)


def test_concat_checks_metainfo_agreement():
    plain = ListDataset([[0]])
    other = ListDataset([[0]], metainfo=dict(classes=('x',)))
    with pytest.raises(ValueError, match="'classes' of dataset 1"):
        ConcatDataset([plain, other])
    assert len(ConcatDataset([plain, other], ignore_keys='classes')) == 2
    extra = ListDataset([[0]], metainfo=dict(palette=[1]))
    with pytest.raises(ValueError, match="'palette' is in dataset 1 but not in dataset 0"):
        ConcatDataset([plain, extra])
    with pytest.raises(TypeError, match='ignore_keys'):
        ConcatDataset([plain], ignore_keys=3)
    with pytest.raises(TypeError, match='DATASETS config'):
        ConcatDataset([plain, 5])


def test_lazy_wrappers_initialise_on_first_use():
    inner = ListDataset([[0]] * 3, lazy_init=True)
    repeated = RepeatDataset(inner, times=2, lazy_init=True)
    assert not inner._fully_initialized
    assert len(repeated) == 6 and inner._fully_initialized
    lazy_concat = ConcatDataset([ListDataset([[0]], lazy_init=True)], lazy_init=True)
    assert lazy_concat[0]['pos'] == 0


def test_repeat_cycles_through_the_dataset():
    repeated = DATASETS.build(dict(type='RepeatDataset', times=3,
                                   dataset=dict(type=ListDataset, cats=[[0], [1]])))
    assert [pos for _, pos in names(repeated)] == [0, 1, 0, 1, 0, 1]
    assert repeated.get_cat_ids(3) == [1] and repeated.get_data_info(4)['pos'] == 0
    with pytest.raises(ValueError, match='times'):
        RepeatDataset(ListDataset([[0]]), times=0)


def test_class_balanced_repeats_items_of_rare_categories():
    # category 1 is in 1 of 10 items: r = sqrt(0.5 / 0.1) ~ 2.24 -> 3 copies of item 9;
    # category 0 (9 of 10) stays at 1; the item with no categories keeps 1 copy.
    cats = [[0]] * 8 + [[]] + [[0, 1]]
    balanced = ClassBalancedDataset(ListDataset(cats), oversample_thr=0.5)
    assert balanced.repeat_indices == list(range(9)) + [9, 9, 9]
    assert len(balanced) == 12 and balanced[11]['pos'] == 9
    assert balanced.get_cat_ids(10) == [0, 1] and balanced.get_data_info(0)['pos'] == 0
    with pytest.raises(NotImplementedError, match='ClassBalancedDataset'):
        balanced.get_subset_(1)


def test_class_balanced_needs_get_cat_ids():
    class NoCats(BaseDataset):
        def load_data_list(self):
            return [dict(x=1)]

    with pytest.raises(NotImplementedError, match='get_cat_ids'):
        ClassBalancedDataset(NoCats(data_prefix={}), oversample_thr=0.1)
