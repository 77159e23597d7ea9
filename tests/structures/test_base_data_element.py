"""BaseDataElement: metainfo vs data fields, copying, conversion, and subclass properties."""
import numpy as np
import pytest
import torch

from mmlite.structures import BaseDataElement, InstanceData


def make_element():
    return BaseDataElement(metainfo=dict(img_shape=(4, 6), scale=2.0),
                           scores=torch.tensor([0.1, 0.9]), names=['a', 'b'])


def test_fields_are_routed_to_metainfo_or_data():
    element = make_element()
    assert sorted(element.metainfo_keys()) == ['img_shape', 'scale']
    assert sorted(element.keys()) == ['names', 'scores']
    assert sorted(element.all_keys()) == ['img_shape', 'names', 'scale', 'scores']
    element.labels = torch.tensor([1, 0])
    assert 'labels' in element.keys() and 'labels' in element
    assert element.metainfo == {'img_shape': (4, 6), 'scale': 2.0}
    assert dict(element.items())['names'] == ['a', 'b']
    assert sorted(dict(element.metainfo_items())) == ['img_shape', 'scale']
    assert len(element.all_values()) == 5 and len(element.metainfo_values()) == 2


def test_metainfo_is_deep_copied_and_names_cannot_switch_kind():
    meta = dict(pad=[1, 2])
    element = BaseDataElement(metainfo=meta)
    meta['pad'].append(3)
    assert element.pad == [1, 2]
    with pytest.raises(AttributeError, match='pad.*metainfo'):
        element.pad = [0]
    element.set_data(dict(boxes=torch.zeros(2)))
    with pytest.raises(AttributeError, match='boxes.*data field'):
        element.set_metainfo(dict(boxes=1))
    with pytest.raises(TypeError, match='metainfo must be a dict'):
        element.set_metainfo([1])


def test_set_field_checks_dtype_and_kind():
    element = BaseDataElement()
    element.set_field(torch.ones(1), 'weight', dtype=torch.Tensor)
    assert 'weight' in element.keys()
    with pytest.raises(TypeError, match='weight'):
        element.set_field([1], 'weight', dtype=torch.Tensor)
    with pytest.raises(ValueError, match='field_type'):
        element.set_field(1, 'x', field_type='other')


def test_get_pop_delete_and_contains():
    element = make_element()
    assert element.get('missing', 7) == 7
    assert element.pop('scale') == 2.0 and 'scale' not in element
    assert element.pop('missing', None) is None
    with pytest.raises(KeyError, match='missing'):
        element.pop('missing')
    del element.names
    assert 'names' not in element and not hasattr(element, 'names')
    del element['scores']
    assert element.keys() == []
    with pytest.raises(AttributeError, match='_data_fields'):
        element._data_fields = set()
    with pytest.raises(AttributeError, match='_metainfo_fields'):
        del element._metainfo_fields


def test_new_clone_update_share_or_replace_fields():
    element = make_element()
    clone = element.clone()
    assert clone is not element and clone.scores is element.scores
    clone.extra = 1
    assert 'extra' not in element
    replaced = element.new(metainfo=dict(img_shape=(1, 1)), scores=torch.zeros(3))
    assert replaced.metainfo == {'img_shape': (1, 1)} and replaced.keys() == ['scores']
    same = element.new()
    assert same.metainfo == element.metainfo and sorted(same.keys()) == ['names', 'scores']
    target = BaseDataElement(metainfo=dict(img_shape=(0, 0)), old=1)
    target.update(element)
    assert target.img_shape == (4, 6) and target.old == 1 and target.names == ['a', 'b']
    with pytest.raises(TypeError, match='update'):
        target.update(object())


def test_conversions_apply_to_data_and_recurse():
    inner = BaseDataElement(mask=np.ones((2, 2), dtype=np.float32))
    element = BaseDataElement(metainfo=dict(img_shape=(2, 2)), inner=inner,
                              scores=torch.ones(2, requires_grad=True) * 2, tag='x')
    as_numpy = element.numpy()
    assert isinstance(as_numpy.scores, np.ndarray) and as_numpy.tag == 'x'
    as_tensor = element.to_tensor()
    assert isinstance(as_tensor.inner.mask, torch.Tensor)
    assert as_tensor.metainfo == {'img_shape': (2, 2)}
    detached = element.detach()
    assert not detached.scores.requires_grad and element.scores.requires_grad
    doubled = element.to(torch.float64)
    assert doubled.scores.dtype == torch.float64 and element.scores.dtype == torch.float32
    assert element.cpu().scores.device.type == 'cpu'
    as_dict = element.to_dict()
    assert as_dict['img_shape'] == (2, 2) and isinstance(as_dict['inner'], dict)
    assert as_dict['inner']['mask'] is inner.mask


def test_repr_lists_metainfo_and_data():
    text = repr(make_element())
    assert text.startswith('<BaseDataElement(')
    assert 'META INFORMATION' in text and 'img_shape: (4, 6)' in text
    assert 'DATA FIELDS' in text and "names: ['a', 'b']" in text


class DetSample(BaseDataElement):
    """A downstream-style data sample exposing a typed field through a property."""

    @property
    def gt_instances(self) -> InstanceData:
        return self._gt_instances

    @gt_instances.setter
    def gt_instances(self, value: InstanceData) -> None:
        self.set_field(value, '_gt_instances', dtype=InstanceData)

    @gt_instances.deleter
    def gt_instances(self) -> None:
        del self._gt_instances


def test_property_fields_of_subclasses():
    sample = DetSample(metainfo=dict(img_id=3))
    sample.gt_instances = InstanceData(labels=torch.tensor([1, 2]))
    assert sample.keys() == ['gt_instances']
    assert sample._gt_instances is sample.gt_instances
    with pytest.raises(TypeError, match='_gt_instances'):
        sample.gt_instances = torch.zeros(1)
    moved = sample.to('cpu')
    assert isinstance(moved, DetSample) and torch.equal(moved.gt_instances.labels, torch.tensor([1, 2]))
    del sample.gt_instances
    assert sample.keys() == [] and 'gt_instances' not in sample
