"""The figures under docs/_static/ are what the pages' own code draws.

A committed PNG is regenerated here from the page that shows it and compared for size (its
pixels depend on matplotlib's version and fonts) and for holding a drawing. After changing
such a page, refresh the PNG with ``python tests/docs/test_docs_images.py``.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

DOCS = Path(__file__).resolve().parents[2] / 'docs'
LR_SCHEDULE_PNG = DOCS / '_static' / 'lr_schedule.png'
LR_SCHEDULE_CONFIG = 'configs/warmup_cosine.py'  # the config block docs/optim.md saves and plots


def _file_block(page: str, path: str) -> str:
    """The text of the ``<!-- file: path -->`` block of ``docs/<page>``, read with the harness."""
    harness = sys.modules.get('docs_harness')
    if harness is None:
        spec = importlib.util.spec_from_file_location('docs_harness',
                                                      Path(__file__).with_name('test_docs_snippets.py'))
        harness = importlib.util.module_from_spec(spec)
        sys.modules['docs_harness'] = harness  # its dataclasses look their module up there
        spec.loader.exec_module(harness)
    blocks = harness.parse_blocks((DOCS / page).read_text(encoding='utf-8'), f'docs/{page}')
    for block in blocks:
        if block.action == 'file' and block.arg == path:
            return block.code
    raise LookupError(f'docs/{page} has no <!-- file: {path} --> block')


def draw_lr_schedule(out: Path, work_dir: Path) -> Path:
    """Draw docs/optim.md's schedule figure as the page does (100 iterations per epoch)."""
    from mmlite.config import Config
    from mmlite.runner.schedule_trace import trace_param_schedule
    from mmlite.visualization.plot import plot_schedule
    config = work_dir / 'warmup_cosine.py'
    config.write_text(_file_block('optim.md', LR_SCHEDULE_CONFIG), encoding='utf-8')
    trace = trace_param_schedule(Config.fromfile(str(config)), epoch_length=100, dummy_model=True)
    plot_schedule(trace.values, str(out), epoch_length=trace.epoch_length,
                  title='warm-up, then cosine')
    return out


def _pixels(path: Path) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as image:
        assert image.format == 'PNG'
        return np.asarray(image.convert('L'), dtype=np.float64)


def test_the_lr_schedule_figure_is_the_one_optim_md_draws(tmp_path):
    pytest.importorskip('matplotlib')
    drawn = _pixels(draw_lr_schedule(tmp_path / 'lr_schedule.png', tmp_path))
    committed = _pixels(LR_SCHEDULE_PNG)
    assert drawn.shape == committed.shape, (
        f'docs/_static/lr_schedule.png is {committed.shape[::-1]} pixels but docs/optim.md now draws '
        f'{drawn.shape[::-1]}; refresh it with python tests/docs/test_docs_images.py')
    for pixels in (drawn, committed):
        assert pixels.std() > 10 and (pixels < 200).mean() > 0.01  # lines and text, not blank


if __name__ == '__main__':
    import tempfile
    with tempfile.TemporaryDirectory() as scratch:
        print(draw_lr_schedule(LR_SCHEDULE_PNG, Path(scratch)))
    sys.exit(0)
