"""Visualizer: building backends, fanning out writes, instances, rank 0 only."""
import json
import warnings

import numpy as np
import pytest

from mmlite.registry import VISBACKENDS, VISUALIZERS
from mmlite.visualization import BaseVisBackend, LocalVisBackend, TensorboardVisBackend, Visualizer


def test_backends_from_configs_write_under_vis_data(tmp_path):
    vis = Visualizer(name='vis_cfg', save_dir=str(tmp_path),
                     vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
    assert isinstance(vis.get_backend('LocalVisBackend'), LocalVisBackend)
    assert isinstance(vis.get_backend('TensorboardVisBackend'), TensorboardVisBackend)
    assert vis.get_backend('Missing') is None
    vis.add_scalars({'loss': 0.5}, step=2, file_path='run.json')
    vis.add_scalar('acc', 0.75, step=2)
    vis.close()
    lines = (tmp_path / 'vis_data' / 'scalars.json').read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{'loss': 0.5, 'step': 2}, {'acc': 0.75, 'step': 2}]
    assert json.loads((tmp_path / 'vis_data' / 'run.json').read_text()) == {'loss': 0.5, 'step': 2}
    assert any(p.name.startswith('events.out.tfevents') for p in (tmp_path / 'vis_data').iterdir())


def test_named_backends_and_duplicate_names(tmp_path):
    configs = [dict(type='LocalVisBackend', name='a'),
               dict(type='LocalVisBackend', name='b', scalar_save_file='b.json')]
    vis = Visualizer(name='vis_named', save_dir=str(tmp_path), vis_backends=configs)
    assert set(vis._vis_backends) == {'a', 'b'}
    assert configs[0] == dict(type='LocalVisBackend', name='a')  # the caller's config is untouched
    with pytest.raises(ValueError, match="two backends named 'LocalVisBackend'"):
        Visualizer(name='vis_dup', save_dir=str(tmp_path),
                   vis_backends=[dict(type='LocalVisBackend'), dict(type='LocalVisBackend')])


def test_without_save_dir_file_backends_are_skipped_with_one_warning():
    with pytest.warns(UserWarning) as caught:
        vis = Visualizer(name='vis_nodir', vis_backends=[dict(type='LocalVisBackend'),
                                                         dict(type='TensorboardVisBackend')])
    assert len(caught) == 1
    message = str(caught[0].message)
    assert 'LocalVisBackend' in message and 'TensorboardVisBackend' in message and 'save_dir' in message
    assert vis.get_backend('LocalVisBackend') is None
    vis.add_scalars({'loss': 1.0})  # nothing to write to, and no error


def test_backend_with_its_own_save_dir_or_as_instance_is_kept(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        vis = Visualizer(name='vis_own', vis_backends=[
            dict(type='LocalVisBackend', save_dir=str(tmp_path / 'own')),
            TensorboardVisBackend(str(tmp_path / 'tb'))])
    vis.add_scalar('x', 1, step=0)
    vis.close()
    assert (tmp_path / 'own' / 'scalars.json').exists()


def test_unknown_backend_type_names_the_registry():
    with pytest.raises(KeyError, match="'LocalVisBackand' is not registered.*Did you mean"):
        Visualizer(name='vis_typo', save_dir='unused', vis_backends=[dict(type='LocalVisBackand')])


class RecordingBackend(BaseVisBackend):
    def __init__(self, save_dir=None):
        super().__init__(save_dir)
        self.calls = []

    @property
    def experiment(self):
        return self

    def _init_env(self):
        pass

    def add_config(self, config, **kwargs):
        self.calls.append(('config', config))

    def add_image(self, name, image, step=0, **kwargs):
        self.calls.append(('image', name, step))

    def add_scalar(self, name, value, step=0, **kwargs):
        self.calls.append(('scalar', name, value, step))

    def add_scalars(self, scalar_dict, step=0, file_path=None, **kwargs):
        self.calls.append(('scalars', scalar_dict, step, file_path))


def test_calls_fan_out_to_every_backend():
    first, second = RecordingBackend(), RecordingBackend()
    vis = Visualizer(name='vis_fan', vis_backends=[first])
    vis._vis_backends['second'] = second
    vis.add_config({'lr': 1})
    vis.add_scalar('a', 1.0, step=3)
    vis.add_scalars({'b': 2.0}, step=4, file_path='f.json')
    vis.add_image('img', np.zeros((2, 2, 3), np.uint8), step=5)
    vis.add_graph(None, None)
    vis.add_datasample('s', np.zeros((2, 2, 3), np.uint8))
    expected = [('config', {'lr': 1}), ('scalar', 'a', 1.0, 3), ('scalars', {'b': 2.0}, 4, 'f.json'),
                ('image', 'img', 5)]
    assert first.calls == expected and second.calls == expected


def test_only_rank_zero_writes(monkeypatch):
    import mmlite.dist as dist
    backend = RecordingBackend()
    vis = Visualizer(name='vis_rank', vis_backends=[backend])
    monkeypatch.setattr(dist, 'is_main_process', lambda group=None: False, raising=False)
    vis.add_scalars({'loss': 1.0})
    vis.add_config({'lr': 1})
    assert backend.calls == []
    monkeypatch.setattr(dist, 'is_main_process', lambda group=None: True, raising=False)
    vis.add_scalars({'loss': 1.0})
    assert len(backend.calls) == 1


def test_built_from_registry_as_a_named_instance(tmp_path):
    vis = VISUALIZERS.build(dict(type='Visualizer', name='vis_registry', save_dir=str(tmp_path),
                                 vis_backends=[dict(type='LocalVisBackend')]))
    assert Visualizer.get_current_instance() is vis
    assert Visualizer.get_instance('vis_registry') is vis
    assert 'LocalVisBackend' in VISBACKENDS and 'TensorboardVisBackend' in VISBACKENDS


def test_subclass_instance_is_the_base_class_current_instance():
    class TaskVisualizer(Visualizer):
        pass
    vis = TaskVisualizer.get_instance('vis_task')
    assert Visualizer.get_current_instance() is vis
    assert TaskVisualizer.get_current_instance() is vis


def test_image_and_dataset_meta():
    vis = Visualizer(name='vis_image', image=np.full((3, 4), 7, dtype=np.int32))
    image = vis.get_image()
    assert image.shape == (3, 4, 3) and image.dtype == np.uint8 and (image == 7).all()
    assert (vis.height, vis.width) == (3, 4)
    image[:] = 0
    assert (vis.get_image() == 7).all()  # callers get a copy
    vis.dataset_meta = dict(classes=('a',))
    assert vis.dataset_meta == dict(classes=('a',))
    with pytest.raises(RuntimeError, match='set_image'):
        Visualizer(name='vis_noimage').get_image()
    with pytest.raises(ValueError, match='shape'):
        vis.set_image(np.zeros((2, 2, 2), np.uint8))
