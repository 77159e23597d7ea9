"""Data preprocessors: moving nested batches, uint8 until on the device, normalising, padding."""
from collections import namedtuple

import pytest
import torch

from mmlite.model import BaseDataPreprocessor, ImgDataPreprocessor, stack_batch

Pair = namedtuple('Pair', ['image', 'name'])


class Element:
    """A stand-in data element: anything with ``.to`` gets moved."""

    def __init__(self, tensor):
        self.tensor = tensor
        self.calls = []

    def to(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return Element(self.tensor.to(*args, **kwargs))


def test_cast_data_moves_tensors_anywhere_and_leaves_the_rest():
    pre = BaseDataPreprocessor(non_blocking=True).to('meta')
    element = Element(torch.ones(2))
    batch = dict(inputs=[torch.zeros(3), (torch.ones(1), 'keep')], pair=Pair(torch.ones(2), 'img.png'),
                 sample=element, name='a string', count=3, nothing=None)
    out = pre(batch)
    assert out['inputs'][0].device.type == 'meta'
    assert isinstance(out['inputs'][1], tuple) and out['inputs'][1][0].device.type == 'meta'
    assert out['inputs'][1][1] == 'keep'
    assert isinstance(out['pair'], Pair) and out['pair'].image.device.type == 'meta'
    assert out['pair'].name == 'img.png'
    assert out['sample'].tensor.device.type == 'meta'
    assert element.calls == [((torch.device('meta'),), {'non_blocking': True})]
    assert (out['name'], out['count'], out['nothing']) == ('a string', 3, None)


def test_forward_of_a_cpu_tensor_dict_returns_a_new_dict_of_the_same_tensors():
    # The CPU fast path: nothing moved, but the caller's batch is never the dict handed on.
    batch = dict(inputs=torch.randn(2, 3, 4, 4), labels=torch.tensor([0, 1]))
    out = BaseDataPreprocessor()(batch, True)
    assert out is not batch and out.keys() == batch.keys()
    assert all(out[key] is batch[key] for key in batch)
    out['extra'] = 1
    assert 'extra' not in batch
    # A value that is not a tensor still goes through cast_data: data elements are moved.
    element = Element(torch.ones(2))
    moved = BaseDataPreprocessor()(dict(inputs=batch['inputs'], data_samples=[element]), True)
    assert element.calls and isinstance(moved['data_samples'][0], Element)
    # channels_last still converts 4-D inputs on the CPU.
    preprocessor = BaseDataPreprocessor()
    preprocessor.channels_last = True
    converted = preprocessor(batch, True)['inputs']
    assert converted.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(converted, batch['inputs'])


def test_cast_data_keeps_list_and_tuple_types():
    pre = BaseDataPreprocessor()
    data = (torch.ones(1), [torch.zeros(1)])
    out = pre(data)
    assert type(out) is tuple and type(out[1]) is list
    assert torch.equal(out[0], data[0])


def test_uint8_stays_uint8_until_on_the_device():
    pre = ImgDataPreprocessor(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]).to('meta')
    seen = []
    original = pre.cast_data

    def spy(data):
        if not isinstance(data, dict):  # cast_data recurses into the batch's items
            return original(data)
        seen.append(data['inputs'].dtype)
        moved = original(data)
        seen.append((moved['inputs'].dtype, moved['inputs'].device.type))
        return moved

    pre.cast_data = spy
    out = pre(dict(inputs=torch.zeros(2, 3, 4, 4, dtype=torch.uint8)))
    # The copy to the device carried uint8; the float cast happened there.
    assert seen == [torch.uint8, (torch.uint8, 'meta')]
    assert out['inputs'].dtype == torch.float32 and out['inputs'].device.type == 'meta'


def test_normalise_and_channel_flip_values():
    images = torch.stack([torch.full((4, 4), v, dtype=torch.uint8) for v in (10, 20, 30)])[None]
    pre = ImgDataPreprocessor(mean=[1, 2, 3], std=[1, 2, 3], bgr_to_rgb=True)
    out = pre(dict(inputs=images, data_samples=['meta']))
    # Channels flipped first (30, 20, 10), then normalised with the per-channel mean/std.
    assert out['inputs'][0, :, 0, 0].tolist() == pytest.approx([29.0, 9.0, 7 / 3])
    assert out['data_samples'] == ['meta']
    gray = ImgDataPreprocessor(mean=[100], std=[50])(dict(inputs=torch.full((1, 1, 2, 2), 200, dtype=torch.uint8)))
    assert torch.all(gray['inputs'] == 2.0)
    assert gray['data_samples'] is None  # MMEngine adds the key


def test_variable_size_images_pad_to_the_rounded_max():
    images = [torch.ones(3, 5, 7, dtype=torch.uint8), torch.ones(3, 8, 4, dtype=torch.uint8)]
    pre = ImgDataPreprocessor(pad_size_divisor=4, pad_value=-1)
    out = pre(dict(inputs=images, labels=torch.tensor([1, 2])))
    batch = out['inputs']
    assert batch.shape == (2, 3, 8, 8) and batch.dtype == torch.float32
    assert torch.all(batch[0, :, :5, :7] == 1) and torch.all(batch[0, :, 5:, :] == -1)
    assert torch.all(batch[0, :, :, 7:] == -1)
    assert torch.all(batch[1, :, :8, :4] == 1) and torch.all(batch[1, :, :, 4:] == -1)
    assert out['labels'].tolist() == [1, 2]  # other keys pass through
    stacked = pre(dict(inputs=torch.ones(2, 1, 5, 6)))['inputs']
    assert stacked.shape == (2, 1, 8, 8) and stacked[0, 0, 7, 7] == -1


def test_same_size_list_is_stacked_and_matches_the_tensor_path():
    pre = ImgDataPreprocessor(mean=[10.0], std=[2.0], pad_size_divisor=3)
    images = [torch.arange(16, dtype=torch.uint8).view(1, 4, 4) for _ in range(2)]
    from_list = pre(dict(inputs=images))['inputs']
    from_tensor = pre(dict(inputs=torch.stack(images)))['inputs']
    assert from_list.shape == (2, 1, 6, 6) and torch.equal(from_list, from_tensor)


def test_tuple_batch_processes_its_first_item():
    pre = ImgDataPreprocessor(mean=[0.0], std=[255.0])
    labels = torch.tensor([3])
    out = pre((torch.full((1, 1, 2, 2), 255, dtype=torch.uint8), labels))
    assert isinstance(out, tuple) and torch.all(out[0] == 1.0) and torch.equal(out[1], labels)
    out = pre([torch.zeros(1, 1, 2, 2), labels])
    assert isinstance(out, list) and out[0].dtype == torch.float32


def test_errors_name_the_culprits():
    with pytest.raises(ValueError, match=r'mean has 3 values and std has 2'):
        ImgDataPreprocessor(mean=[1, 2, 3], std=[1, 2])
    with pytest.raises(ValueError, match='both mean and std'):
        ImgDataPreprocessor(mean=[1, 2, 3])
    with pytest.raises(ValueError, match='at most one'):
        ImgDataPreprocessor(bgr_to_rgb=True, rgb_to_bgr=True)
    pre = ImgDataPreprocessor(mean=[1, 2, 3], std=[1, 2, 3])
    with pytest.raises(ValueError, match='3 values but the images have 1 channels'):
        pre(dict(inputs=torch.zeros(1, 1, 2, 2)))
    with pytest.raises(KeyError, match="'inputs'"):
        pre(dict(img=torch.zeros(1, 3, 2, 2)))
    with pytest.raises(ValueError, match=r'\(B, C, H, W\)'):
        pre(dict(inputs=torch.zeros(3, 2, 2)))


def test_stack_batch_pads_trailing_dims_only():
    out = stack_batch([torch.ones(2, 3), torch.ones(2, 5)], pad_size_divisor=2, pad_value=7)
    assert out.shape == (2, 2, 6)
    assert torch.all(out[0, :, 3:] == 7) and torch.all(out[1, :, 5:] == 7)
    with pytest.raises(ValueError, match='channel'):
        stack_batch([torch.ones(1, 3), torch.ones(2, 3)])
