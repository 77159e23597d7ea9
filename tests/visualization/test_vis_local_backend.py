"""LocalVisBackend: JSON lines, config file and PNGs on disk, read back."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from mmlite.visualization import LocalVisBackend


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_nothing_is_created_until_the_first_write(tmp_path):
    backend = LocalVisBackend(str(tmp_path / 'vis'))
    assert not (tmp_path / 'vis').exists()
    backend.add_scalar('lr', 0.1, step=1)
    assert (tmp_path / 'vis' / 'scalars.json').exists()


def test_scalars_become_one_json_line_per_call_with_python_numbers(tmp_path):
    backend = LocalVisBackend(str(tmp_path))
    backend.add_scalars({'loss': torch.tensor(0.5), 'acc': np.float32(0.25), 'n': np.int64(3),
                         'lr': 0.01}, step=10)
    backend.add_scalar('mAP', torch.tensor([0.75]), step=11)
    backend.add_scalars({'vec': np.array([1, 2]), 'epoch': 2, 'step': 99}, step=12)
    lines = _lines(tmp_path / 'scalars.json')
    assert lines == [{'loss': 0.5, 'acc': 0.25, 'n': 3, 'lr': 0.01, 'step': 10},
                     {'mAP': 0.75, 'step': 11},
                     {'vec': [1, 2], 'epoch': 2, 'step': 99}]


def test_each_call_is_on_disk_before_the_next(tmp_path):
    backend = LocalVisBackend(str(tmp_path))
    for step in range(3):
        backend.add_scalars({'loss': float(step)}, step=step)
        assert len(_lines(tmp_path / 'scalars.json')) == step + 1


def test_appends_to_an_existing_file(tmp_path):
    (tmp_path / 'scalars.json').write_text('{"loss": 9.0, "step": 0}\n')
    LocalVisBackend(str(tmp_path)).add_scalars({'loss': 1.0}, step=1)
    assert [line['step'] for line in _lines(tmp_path / 'scalars.json')] == [0, 1]


def test_file_path_writes_a_second_copy(tmp_path):
    backend = LocalVisBackend(str(tmp_path))
    backend.add_scalars({'loss': 1.0}, step=3, file_path='20240101_000000.json')
    assert _lines(tmp_path / '20240101_000000.json') == [{'loss': 1.0, 'step': 3}]
    assert _lines(tmp_path / 'scalars.json') == [{'loss': 1.0, 'step': 3}]
    with pytest.raises(ValueError, match='is the scalar_save_file itself'):
        backend.add_scalars({'loss': 1.0}, file_path='scalars.json')
    with pytest.raises(ValueError, match=r'must end in \.json'):
        backend.add_scalars({'loss': 1.0}, file_path='log.txt')


def test_unserialisable_value_names_the_key(tmp_path):
    backend = LocalVisBackend(str(tmp_path))
    with pytest.raises(TypeError, match=r"\['obj'\]"):
        backend.add_scalars({'loss': 1.0, 'obj': object()})


def test_image_written_as_png_that_reads_back(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    backend = LocalVisBackend(str(tmp_path), img_save_dir='imgs')
    backend.add_image('sample', image, step=4)
    backend.add_image('val/grey', image[:, :, 0], step=1)
    assert np.array_equal(np.asarray(Image.open(tmp_path / 'imgs' / 'sample_4.png')), image)
    grey = np.asarray(Image.open(tmp_path / 'imgs' / 'val' / 'grey_1.png'))
    assert np.array_equal(grey, image[:, :, 0])


def test_bad_images_are_explained(tmp_path):
    backend = LocalVisBackend(str(tmp_path))
    with pytest.raises(TypeError, match='uint8'):
        backend.add_image('x', np.zeros((2, 2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r'got shape \(2, 2, 5\)'):
        backend.add_image('x', np.zeros((2, 2, 5), dtype=np.uint8))


def test_config_is_dumped_and_reloads(tmp_path):
    from mmlite.config import Config
    cfg = Config(dict(model=dict(type='MLP', hidden=[64, 32]), lr=0.1))
    backend = LocalVisBackend(str(tmp_path), config_save_file='cfg.py')
    backend.add_config(cfg)
    reloaded = Config.fromfile(str(tmp_path / 'cfg.py'))
    assert reloaded.model.hidden == [64, 32] and reloaded.lr == 0.1


def test_file_names_are_checked():
    with pytest.raises(ValueError, match=r'config_save_file must end in \.py'):
        LocalVisBackend('x', config_save_file='config.yaml')
    with pytest.raises(ValueError, match=r'scalar_save_file must end in \.json'):
        LocalVisBackend('x', scalar_save_file='scalars.txt')
