"""TensorboardVisBackend: the event files, read back with TensorBoard's own reader."""
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mmlite.visualization import TensorboardVisBackend


def _read(folder):
    accumulator = EventAccumulator(str(folder), size_guidance={'scalars': 0, 'images': 0, 'tensors': 0})
    accumulator.Reload()
    return accumulator


def test_scalars_read_back_with_their_steps(tmp_path):
    backend = TensorboardVisBackend(str(tmp_path / 'tb'))
    assert not (tmp_path / 'tb').exists()  # the writer is created on first use
    for step, loss in [(1, 2.0), (2, 1.5), (3, torch.tensor(1.25))]:
        backend.add_scalars({'loss': loss, 'lr': np.float64(0.1 / step)}, step=step)
    backend.add_scalar('acc', 0.5, step=3)
    backend.close()

    events = _read(tmp_path / 'tb')
    loss = events.Scalars('loss')
    assert [e.step for e in loss] == [1, 2, 3]
    assert [e.value for e in loss] == pytest.approx([2.0, 1.5, 1.25])
    assert [e.value for e in events.Scalars('lr')] == pytest.approx([0.1, 0.05, 0.1 / 3])
    assert [(e.step, e.value) for e in events.Scalars('acc')] == [(3, 0.5)]


def test_non_numeric_scalar_is_skipped_with_a_warning(tmp_path):
    backend = TensorboardVisBackend(str(tmp_path))
    with pytest.warns(UserWarning, match="skipped scalar 'name'"):
        backend.add_scalar('name', 'resnet')
    with pytest.raises(ValueError, match='"step" key'):
        backend.add_scalars({'loss': 1.0, 'step': 3})
    backend.close()


def test_image_and_config_text(tmp_path):
    from mmlite.config import Config
    image = np.zeros((4, 5, 3), dtype=np.uint8)
    image[:, :, 0] = 255
    backend = TensorboardVisBackend(str(tmp_path))
    backend.add_image('red', image, step=7)
    backend.add_config(Config(dict(lr=0.25)))
    backend.close()

    events = _read(tmp_path)
    (record,) = events.Images('red')
    assert (record.step, record.width, record.height) == (7, 5, 4)
    text_tag = next(tag for tag in events.Tags()['tensors'] if tag.startswith('config'))
    text = events.Tensors(text_tag)[0].tensor_proto.string_val[0].decode()
    assert 'lr' in text and '0.25' in text


def test_close_then_write_opens_a_new_writer(tmp_path):
    backend = TensorboardVisBackend(str(tmp_path))
    backend.add_scalar('a', 1.0, step=0)
    backend.close()
    backend.add_scalar('a', 2.0, step=1)
    backend.close()
    assert [e.value for e in _read(tmp_path).Scalars('a')] == [1.0, 2.0]
