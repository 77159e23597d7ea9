"""InstanceData indexing and concatenation, LabelData conversions, PixelData shapes."""
import numpy as np
import pytest
import torch

from mmlite.structures import InstanceData, LabelData, PixelData


def make_instances():
    return InstanceData(metainfo=dict(img_shape=(8, 8)),
                        bboxes=torch.arange(16.).view(4, 4), labels=[10, 11, 12, 13],
                        ids=np.arange(4), names=('w', 'x', 'y', 'z'), chars='abcd')


def test_fields_must_share_one_length():
    instances = make_instances()
    assert len(instances) == 4 and len(InstanceData()) == 0
    with pytest.raises(ValueError, match=r"'scores' has length 3.*length 4"):
        instances.scores = torch.zeros(3)
    with pytest.raises(TypeError, match="'count'"):
        instances.count = 5
    instances['scores'] = torch.zeros(4)
    assert instances.scores.shape == (4,)
    single = InstanceData(a=torch.zeros(2))
    single.a = torch.zeros(5)  # the only field may change length
    assert len(single) == 5


@pytest.mark.parametrize('index, expected', [
    (1, [11]), (-1, [13]), (slice(1, 3), [11, 12]),
    (torch.tensor([True, False, True, False]), [10, 12]),
    (torch.tensor([3, 0]), [13, 10]), (np.array([2, -4]), [12, 10]),
    (np.array([False, True, False, True]), [11, 13]), ([0, 0], [10, 10]), ([], []),
])
def test_indexing_selects_the_same_instances_in_every_field(index, expected):
    selected = make_instances()[index]
    assert isinstance(selected, InstanceData)
    assert list(selected.labels) == expected
    assert selected.bboxes[:, 0].tolist() == [4.0 * (label - 10) for label in expected]
    assert selected.ids.tolist() == [label - 10 for label in expected]
    assert list(selected.names) == ['wxyz'[label - 10] for label in expected]
    assert isinstance(selected.names, tuple)
    assert selected.chars == ''.join('abcd'[label - 10] for label in expected)
    assert selected.metainfo == {'img_shape': (8, 8)}


def test_bad_indices_say_what_is_wrong():
    instances = make_instances()
    assert torch.equal(instances['bboxes'], instances.bboxes)
    with pytest.raises(IndexError, match='4 instances'):
        instances[4]
    with pytest.raises(IndexError, match='out of range'):
        instances[[7]]
    with pytest.raises(ValueError, match='mask of length 2'):
        instances[torch.tensor([True, False])]
    with pytest.raises(TypeError, match='float'):
        instances[torch.tensor([0.5])]


def test_cat_joins_every_field():
    a, b = make_instances(), make_instances()[2:]
    joined = InstanceData.cat([a, b])
    assert len(joined) == 6 and joined.labels == [10, 11, 12, 13, 12, 13]
    assert joined.chars == 'abcdcd' and joined.names == ('w', 'x', 'y', 'z', 'y', 'z')
    assert joined.ids.tolist() == [0, 1, 2, 3, 2, 3]
    assert joined.bboxes.shape == (6, 4) and joined.metainfo == a.metainfo
    assert InstanceData.cat([a]) is a
    with pytest.raises(ValueError, match='fields'):
        InstanceData.cat([a, InstanceData(labels=[1])])
    with pytest.raises(ValueError, match='at least one'):
        InstanceData.cat([])


def test_label_onehot_round_trip():
    onehot = LabelData.label_to_onehot(torch.tensor([1, 3]), num_classes=5)
    assert onehot.tolist() == [0, 1, 0, 1, 0]
    assert LabelData.onehot_to_label(onehot).tolist() == [1, 3]
    with pytest.raises(ValueError, match='num_classes=3'):
        LabelData.label_to_onehot(torch.tensor([3]), num_classes=3)
    with pytest.raises(ValueError, match='0, 1'):
        LabelData.onehot_to_label(torch.tensor([0, 2]))
    with pytest.raises(ValueError, match='1-D'):
        LabelData.onehot_to_label(torch.zeros(2, 2))
    labels = LabelData(metainfo=dict(num_classes=5), label=torch.tensor([1]))
    assert labels.label.tolist() == [1]


def test_pixel_data_shapes():
    pixels = PixelData(metainfo=dict(img_id=0), seg=torch.zeros(5, 6), heat=np.zeros((3, 5, 6)))
    assert pixels.seg.shape == (1, 5, 6) and pixels.shape == (5, 6)
    assert PixelData().shape is None
    with pytest.raises(ValueError, match=r"'mask'.*\(4, 6\).*\(5, 6\)"):
        pixels.mask = torch.zeros(4, 6)
    with pytest.raises(ValueError, match="'vol'.*got shape"):
        pixels.vol = torch.zeros(1, 2, 5, 6)
    with pytest.raises(TypeError, match="'listy'"):
        pixels.listy = [[0]]
    crop = pixels[1:3, -1]
    assert crop.seg.shape == (1, 2, 1) and crop.heat.shape == (3, 2, 1) and crop.img_id == 0
    with pytest.raises(TypeError, match='rows, cols'):
        pixels[0]
