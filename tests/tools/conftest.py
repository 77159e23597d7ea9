"""Fixtures for the command-line tools: loading a tool as a module, a real short training run,
and checking that a PNG holds a drawing."""
from __future__ import annotations

import importlib.util
import os.path as osp

import numpy as np
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(relative_path: str):
    """Import ``tools/...py`` (not a package) as a module, so tests call its ``main(argv)``."""
    path = osp.join(REPO, relative_path)
    name = 'tool_' + relative_path.replace('/', '_').replace('.py', '')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_drawn_png(path: str, min_width: int = 400, min_height: int = 200) -> np.ndarray:
    """The PNG exists, has a plausible size and is not blank (its pixels vary)."""
    from PIL import Image
    assert osp.isfile(path), f'{path} was not written'
    with Image.open(path) as image:
        assert image.format == 'PNG'
        pixels = np.asarray(image.convert('L'), dtype=np.float64)
    height, width = pixels.shape
    assert width >= min_width and height >= min_height, (width, height)
    assert pixels.std() > 10, 'the image is (nearly) one colour'
    # Drawn lines and text: a fair share of the pixels are not background.
    assert (pixels < 200).mean() > 0.01
    return pixels


@pytest.fixture(scope='session')
def digits_run(tmp_path_factory):
    """A real 2-epoch run of configs/digits_mlp.py (log interval 10): ``(work_dir, cfg)``."""
    from mmlite.config import Config
    from mmlite.runner import Runner
    work_dir = str(tmp_path_factory.mktemp('digits_run'))
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'digits_mlp.py'))
    cfg.merge_from_dict({'work_dir': work_dir, 'train_cfg.max_epochs': 2,
                         'default_hooks.logger.interval': 10,
                         'default_hooks.checkpoint.interval': 100})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny MLP: one thread is fastest, and robust on a busy machine
    try:
        Runner.from_cfg(cfg).train()
    finally:
        torch.set_num_threads(threads)
    return work_dir, cfg
