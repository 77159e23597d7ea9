"""BaseMetric, the unit an Evaluator drives, and DumpResults, which pickles predictions.

A metric's life over one evaluation::

    for data_batch in dataloader:
        metric.process(data_batch, model.val_step(data_batch))   # appends to metric.results
    metrics = metric.evaluate(len(dataloader.dataset))           # gather, compute, prefix, clear

``evaluate`` gathers the results of every rank onto rank 0, computes there, and
broadcasts the metrics dict back so every rank returns the same dict.
"""
from __future__ import annotations

import logging
import os
import pickle
import tempfile
from abc import ABCMeta, abstractmethod
from collections.abc import Sequence
from typing import Any

from mmlite.registry import METRICS

_COLLECT_DEVICES = ('cpu', 'gpu')


def _to_cpu(data: Any) -> Any:
    """Move every tensor (and every object with a ``cpu()`` method) in nested containers to CPU."""
    if isinstance(data, dict):
        return {key: _to_cpu(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_to_cpu(item) for item in data]
    if isinstance(data, tuple):
        items = [_to_cpu(item) for item in data]
        return type(data)(*items) if hasattr(data, '_fields') else type(data)(items)
    cpu = getattr(data, 'cpu', None)
    # Tensors and BaseDataElement-like objects; classes themselves also have a ``cpu`` attribute.
    if callable(cpu) and not isinstance(data, type):
        return cpu()
    return data


def _log(message: str, level: int) -> None:
    from mmlite.logging import print_log
    print_log(message, logger='current', level=level)


class _RankZeroFailure:
    """What rank 0 broadcasts when ``compute_metrics`` raised, so other ranks fail instead of hang."""

    def __init__(self, message: str) -> None:
        self.message = message


class BaseMetric(metaclass=ABCMeta):
    """Base class of metrics: ``process`` collects per-batch results, ``compute_metrics`` reduces them.

    Args:
        collect_device: where results are gathered across ranks, ``'cpu'`` or ``'gpu'``.
        prefix: put before every metric name as ``prefix/name``; defaults to
            the class attribute ``default_prefix``.
        collect_dir: a directory shared by all ranks for gathering through pickles
            (only with ``collect_device='cpu'``); None lets the dist helpers choose.
    """

    default_prefix: str | None = None

    def __init__(self, collect_device: str = 'cpu', prefix: str | None = None,
                 collect_dir: str | None = None) -> None:
        if collect_device not in _COLLECT_DEVICES:
            raise ValueError(f'{type(self).__name__}: collect_device must be one of '
                             f'{_COLLECT_DEVICES}, got {collect_device!r}')
        if collect_dir is not None and collect_device != 'cpu':
            raise ValueError(f'{type(self).__name__}: collect_dir={collect_dir!r} only works with '
                             f"collect_device='cpu' (got {collect_device!r}); drop one of them")
        self._dataset_meta: dict | None = None
        self.collect_device = collect_device
        self.collect_dir = collect_dir
        self.results: list = []
        self.prefix = prefix or self.default_prefix
        self._warned_no_prefix = False

    @property
    def dataset_meta(self) -> dict | None:
        """Meta information of the dataset (class names, palette...), set by the Evaluator."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict | None) -> None:
        self._dataset_meta = dataset_meta

    @abstractmethod
    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        """Turn one batch of predictions into entries of ``self.results``."""

    @abstractmethod
    def compute_metrics(self, results: list) -> dict:
        """Reduce the results of the whole dataset (all ranks) into ``{name: value}``."""

    def evaluate(self, size: int | None = None) -> dict:
        """Gather results from all ranks, compute on rank 0, return the same dict on every rank.

        Args:
            size: the length of the whole dataset; results beyond it (the
                distributed sampler's padding) are dropped. None keeps every result
                (MMEngine requires it; its runner tutorial's custom loop omits it).
        """
        from mmlite import dist

        name = type(self).__name__
        if size is None:
            size = sum(dist.all_gather_object(len(self.results)))
        if self.collect_device == 'cpu':
            collected = dist.collect_results(_to_cpu(self.results), size, 'cpu',
                                             tmpdir=self.collect_dir)
        else:
            collected = dist.collect_results(self.results, size, self.collect_device)

        failure: Exception | None = None
        if dist.is_main_process():
            try:
                # CPU-collected results were moved before gathering; GPU-collected ones move now.
                results = collected or []
                if self.collect_device != 'cpu':
                    results = _to_cpu(results)
                payload: list = [self._compute_on_main(results)]
            except Exception as exc:  # re-raised below, after the other ranks are told
                failure = exc
                payload = [_RankZeroFailure(f'{type(exc).__name__}: {exc}')]
        else:
            payload = [None]
        dist.broadcast_object_list(payload)
        self.results.clear()
        if failure is not None:
            raise failure
        if isinstance(payload[0], _RankZeroFailure):
            raise RuntimeError(f'{name}.compute_metrics failed on rank 0 ({payload[0].message}); '
                               'see the rank 0 log for the traceback')
        return payload[0]

    def _compute_on_main(self, results: list) -> dict:
        name = type(self).__name__
        if not results:
            _log(f'{name} got no results on any rank, so it reports nothing. The dataloader may '
                 f'be empty, or {name}.process appends nothing to self.results.', logging.WARNING)
            return {}
        metrics = self.compute_metrics(results)
        if not isinstance(metrics, dict):
            raise TypeError(f'{name}.compute_metrics must return a dict of metric names to values, '
                            f'got {type(metrics).__name__}')
        if not self.prefix:
            if metrics and not self._warned_no_prefix:
                self._warned_no_prefix = True
                _log(f'{name} has no prefix, so its metric names ({", ".join(map(str, metrics))}) '
                     'may clash with other metrics; set prefix=... or the class attribute '
                     'default_prefix.', logging.WARNING)
            return metrics
        return {f'{self.prefix}/{key}': value for key, value in metrics.items()}


@METRICS.register_module()
class DumpResults(BaseMetric):
    """Pickle every prediction (tensors on CPU) to ``out_file_path`` instead of scoring it.

    Args:
        out_file_path: where to write, ending in ``.pkl`` or ``.pickle``.
        collect_device: see :class:`BaseMetric`.
        collect_dir: see :class:`BaseMetric`.
    """

    def __init__(self, out_file_path: str | os.PathLike, collect_device: str = 'cpu',
                 collect_dir: str | None = None) -> None:
        super().__init__(collect_device=collect_device, collect_dir=collect_dir)
        out_file_path = os.fspath(out_file_path)
        if not out_file_path.endswith(('.pkl', '.pickle')):
            raise ValueError(f'DumpResults writes pickles: out_file_path must end in .pkl or '
                             f'.pickle, got {out_file_path!r}')
        self.out_file_path = out_file_path

    def process(self, data_batch: Any, predictions: Sequence) -> None:
        self.results.extend(_to_cpu(list(predictions)))

    def compute_metrics(self, results: list) -> dict:
        _atomic_pickle(results, self.out_file_path)
        _log(f'DumpResults wrote {len(results)} predictions to {self.out_file_path}', logging.INFO)
        return {}


def _atomic_pickle(obj: Any, path: str) -> None:
    """Write ``obj`` to ``path`` through a temporary file in the same folder, then rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp_path = tempfile.mkstemp(dir=folder, prefix='.tmp_', suffix='.pkl')
    try:
        with os.fdopen(handle, 'wb') as file:
            pickle.dump(obj, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp_path, path)
    except BaseException:
        os.unlink(tmp_path)
        raise
