"""Read the scalars a run logged (``vis_data/scalars.json``) and draw curves to PNG files.

matplotlib is an optional extra (``pip install mmlite[plot]``), imported only when drawing.
Figures are made with matplotlib's object API on the Agg canvas, never through pyplot, so
drawing needs no display and leaves a notebook's or script's pyplot backend alone.
"""
from __future__ import annotations

import glob
import json
import os
import os.path as osp
from collections.abc import Sequence
from typing import Any

SCALARS_FILE = 'scalars.json'
_NO_MATPLOTLIB = ('drawing plots needs matplotlib, which is not installed: pip install "mmlite[plot]" '
                  '(or pip install matplotlib)')


def _new_figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(_NO_MATPLOTLIB) from exc
    figure = Figure(figsize=(width, height), layout='constrained')
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, out: str) -> str:
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    figure.savefig(out, dpi=100)
    return osp.abspath(out)


# ------------------------------------------------------------------- reading
def find_scalar_files(path: str) -> list[str]:
    """The scalars files ``path`` names, oldest run first.

    ``path`` is a ``.json`` file, a run folder (``<work_dir>/<timestamp>``, holding
    ``vis_data/scalars.json``), a ``vis_data`` folder, or a work dir whose runs (one folder
    per start, e.g. a run and its resumption) are all returned in time order.
    """
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'{path} does not exist; give a work dir, a run folder or a '
                                f'{SCALARS_FILE} file')
    for candidate in (osp.join(path, 'vis_data', SCALARS_FILE), osp.join(path, SCALARS_FILE)):
        if osp.isfile(candidate):
            return [candidate]
    # Run folders are named by their start time (YYYYmmdd_HHMMSS): the names sort in time order.
    found = sorted(glob.glob(osp.join(path, '*', 'vis_data', SCALARS_FILE)))
    if not found:
        raise FileNotFoundError(f'no {SCALARS_FILE} under {path}: expected '
                                f'{path}/<timestamp>/vis_data/{SCALARS_FILE} (written by '
                                'LocalVisBackend, the default visualizer backend)')
    return found


def read_scalars(file: str) -> list[dict]:
    """The rows of one scalars file: one dict per logged step, in file order.

    A last line without its newline is the one a crash interrupted and is left out; any other
    line that is not JSON is an error naming the file and line.
    """
    with open(file, encoding='utf-8') as handle:
        text = handle.read()
    lines = text.split('\n')
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):  # the unterminated last line
                break
            raise ValueError(f'{file}:{number} is not a JSON line ({exc.msg}); each line of a '
                             f'{SCALARS_FILE} holds one dict of scalars') from None
        if not isinstance(row, dict) or 'step' not in row:
            raise ValueError(f'{file}:{number} is not a scalars row (a dict with a "step"), got '
                             f'{line[:80]!r}')
        rows.append(row)
    return rows


def _is_training(row: dict) -> bool:
    return 'iter' in row  # LoggerHook's training rows carry the iteration; val rows do not


def stitch_runs(runs: Sequence[list[dict]]) -> list[dict]:
    """One history from several runs of one work dir, oldest first.

    A run that starts where an earlier one had already been (a resumption, or a restart
    from scratch) replaces the earlier rows from that training step on; rows written before
    that point, validation included, stay. Runs without training rows (a lone
    ``runner.val()``) are left out when any run trained.
    """
    if any(_is_training(row) for rows in runs for row in rows):
        runs = [rows for rows in runs if any(_is_training(row) for row in rows)]
    history: list[dict] = []
    for rows in runs:
        first = next((row['step'] for row in rows if _is_training(row)), None)
        if first is not None:
            cut = next((i for i, row in enumerate(history)
                        if _is_training(row) and row['step'] >= first), len(history))
            history = history[:cut]
        history.extend(rows)
    return history


def load_scalars(path: str) -> list[dict]:
    """The scalar rows of ``path`` (see :func:`find_scalar_files`), runs stitched together."""
    return stitch_runs([read_scalars(file) for file in find_scalar_files(path)])


def scalar_keys(rows: list[dict]) -> list[str]:
    """The numeric keys of ``rows`` (besides step/iter/epoch), in first-seen order."""
    keys: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key not in ('step', 'iter', 'epoch') and _is_number(value):
                keys.setdefault(key, None)
    return list(keys)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def scalar_series(rows: list[dict], key: str) -> tuple[list[float], list[float], str]:
    """``(steps, values, x_label)`` of ``key``.

    Training rows win when both kinds hold the key (``time`` is in both); validation
    metrics, logged per epoch by default, are labelled so unless their steps run past the
    last training epoch (``log_metric_by_epoch=False``: iterations).
    """
    train = [row for row in rows if _is_training(row) and _is_number(row.get(key))]
    if train:
        return [row['step'] for row in train], [row[key] for row in train], 'iteration'
    other = [row for row in rows if not _is_training(row) and _is_number(row.get(key))]
    if not other:
        raise KeyError(key)
    last_epoch = max((row.get('epoch', 0) for row in rows if _is_training(row)), default=None)
    steps = [row['step'] for row in other]
    label = 'epoch' if last_epoch is None or max(steps) <= last_epoch else 'iteration'
    return steps, [row[key] for row in other], label


# ------------------------------------------------------------------- drawing
def plot_scalar_curves(logs: Sequence[tuple[str, list[dict]]], keys: Sequence[str], out: str,
                       title: str | None = None, style: str | None = None) -> str:
    """Draw ``keys`` of each ``(legend label, rows)`` log, one panel per key; return the PNG path.

    A key missing from one log is an error listing the keys that log has.
    """
    if not keys:
        raise ValueError('give at least one key to plot, e.g. loss or accuracy/top1')
    series = []
    for key in keys:
        lines = []
        for label, rows in logs:
            try:
                lines.append((label, *scalar_series(rows, key)))
            except KeyError:
                raise KeyError(f'no scalar {key!r} in {label}; it has: '
                               f'{", ".join(scalar_keys(rows)) or "nothing"}') from None
        series.append((key, lines))
    context = _style_context(style)
    with context:
        figure = _new_figure(8, 2.6 * len(keys) + 0.6)
        axes = figure.subplots(len(keys), 1, squeeze=False)[:, 0]
        for ax, (key, lines) in zip(axes, series):
            for label, steps, values, x_label in lines:
                marker = 'o' if len(steps) <= 30 else None
                ax.plot(steps, values, marker=marker, markersize=3, label=label)
            ax.set_ylabel(key)
            ax.set_xlabel(lines[0][3])
            if lines[0][3] == 'epoch':
                from matplotlib.ticker import MaxNLocator
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            if len(logs) > 1:
                ax.legend()
        if title:
            figure.suptitle(title)
        return _save(figure, out)


def plot_schedule(values: dict[str, list[list[float]]], out: str, epoch_length: int | None = None,
                  title: str | None = None) -> str:
    """Draw parameter schedules, one panel per kind (``lr``, ``momentum``); return the PNG path.

    ``values`` maps a name (``lr``, ``momentum``, ``generator.lr``...) to one list of
    param-group values per iteration. Groups whose curves coincide are drawn once; an
    all-zero momentum (an optimizer without one) is left out. With ``epoch_length`` a top
    axis counts epochs.
    """
    panels: dict[str, list[tuple[str, list[float]]]] = {}
    for name, per_iter in values.items():
        kind = name.rsplit('.', 1)[-1]
        curves = _distinct_group_curves(per_iter)
        if kind == 'momentum' and all(v == 0 for _, curve in curves for v in curve):
            continue
        for groups, curve in curves:
            label = name if len(curves) == 1 else f'{name} (group {groups})'
            panels.setdefault(kind, []).append((label, curve))
    if not panels:
        raise ValueError('nothing to plot: the schedule has no values')
    figure = _new_figure(8, 2.8 * len(panels) + 0.6)
    axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (kind, curves) in zip(axes, panels.items()):
        for label, curve in curves:
            ax.plot(range(len(curve)), curve, label=label)
        ax.set_ylabel('learning rate' if kind == 'lr' else kind)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
        if len(curves) > 1:
            ax.legend()
        if epoch_length:
            top = ax.secondary_xaxis('top', functions=(lambda x: x / epoch_length,
                                                       lambda x: x * epoch_length))
            top.set_xlabel('epoch')
    if title:
        figure.suptitle(title)
    return _save(figure, out)


def _distinct_group_curves(per_iter: list[list[float]]) -> list[tuple[str, list[float]]]:
    """``[(group numbers, curve)]`` with one entry per distinct curve."""
    if not per_iter:
        return []
    distinct: dict[tuple, list[int]] = {}
    for group in range(len(per_iter[0])):
        curve = tuple(values[group] for values in per_iter)
        distinct.setdefault(curve, []).append(group)
    return [(','.join(map(str, groups)), list(curve)) for curve, groups in distinct.items()]


def _style_context(style: str | None) -> Any:
    import contextlib
    if style is None:
        return contextlib.nullcontext()
    try:
        import matplotlib.style
    except ImportError as exc:
        raise ImportError(_NO_MATPLOTLIB) from exc
    if style not in matplotlib.style.available and style != 'default':
        raise ValueError(f'unknown matplotlib style {style!r}; available: '
                         f'{", ".join(sorted(matplotlib.style.available))}')
    return matplotlib.style.context(style)
