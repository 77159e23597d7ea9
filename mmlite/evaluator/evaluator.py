"""Evaluator: feeds model outputs to a set of metrics and merges what they report."""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from mmlite.registry import EVALUATOR, METRICS

from .metric import BaseMetric


def _as_plain(sample: Any) -> Any:
    """A BaseDataElement-like sample (anything with ``to_dict``) becomes a dict; the rest passes."""
    to_dict = getattr(sample, 'to_dict', None)
    if callable(to_dict) and not isinstance(sample, (dict, type)):
        return to_dict()
    return sample


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


@EVALUATOR.register_module()
class Evaluator:
    """Run several metrics over the same predictions.

    Args:
        metrics: a metric, a metric config (built from ``METRICS``), or a list of either.
    """

    def __init__(self, metrics: BaseMetric | dict | Sequence[BaseMetric | dict]) -> None:
        self._dataset_meta: dict | None = None
        if isinstance(metrics, (dict, BaseMetric)) or not isinstance(metrics, Sequence):
            metrics = [metrics]
        self.metrics: list[BaseMetric] = [self._build_metric(metric, index)
                                          for index, metric in enumerate(metrics)]

    @staticmethod
    def _build_metric(metric: Any, index: int) -> BaseMetric:
        if isinstance(metric, dict):
            return METRICS.build(metric)
        if callable(getattr(metric, 'process', None)) and callable(getattr(metric, 'evaluate', None)):
            return metric
        raise TypeError(f'Evaluator metrics[{index}] must be a BaseMetric or a config dict with a '
                        f'"type" key naming one in the METRICS registry, got {type(metric).__name__}')

    @property
    def dataset_meta(self) -> dict | None:
        """Meta information of the dataset; setting it sets it on every metric."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict | None) -> None:
        self._dataset_meta = dataset_meta
        for metric in self.metrics:
            metric.dataset_meta = dataset_meta

    def process(self, data_samples: Sequence, data_batch: Any = None) -> None:
        """Hand one batch of model outputs (and the batch they came from) to every metric."""
        samples = [_as_plain(sample) for sample in data_samples]
        for metric in self.metrics:
            metric.process(data_batch, samples)

    def evaluate(self, size: int | None = None) -> dict:
        """Collect every metric's results over the ``size`` samples of the dataset and merge them.

        ``size=None`` keeps every result, padding included (see BaseMetric.evaluate).
        """
        merged: dict = {}
        producer: dict[str, str] = {}
        for metric in self.metrics:
            metric_name = type(metric).__name__
            for key, value in metric.evaluate(size).items():
                if key in merged:
                    raise ValueError(
                        f'metric name {key!r} is reported by both {producer[key]} and {metric_name}; '
                        'give the metrics different prefixes (prefix=...)')
                merged[key] = value
                producer[key] = metric_name
        return merged

    def offline_evaluate(self, data_samples: Sequence, data: Sequence | None = None,
                         chunk_size: int = 1) -> dict:
        """Evaluate predictions saved earlier (e.g. by DumpResults) without a model.

        Args:
            data_samples: one prediction per sample.
            data: the matching inputs, one per sample, or None.
            chunk_size: how many samples each ``process`` call receives.
        """
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f'offline_evaluate: chunk_size must be a positive int, got {chunk_size!r}')
        total = len(data_samples)
        data_chunks: Iterator | None = None
        if data is not None:
            if len(data) != total:
                raise ValueError(f'offline_evaluate got {total} data_samples but {len(data)} data '
                                 'items; pass one data item per sample, or data=None')
            from mmlite.dataset import pseudo_collate
            data_chunks = (pseudo_collate(chunk) for chunk in _chunks(data, chunk_size))
        size = 0
        for chunk in _chunks(data_samples, chunk_size):
            self.process(chunk, next(data_chunks) if data_chunks is not None else None)
            size += len(chunk)
        return self.evaluate(size)
