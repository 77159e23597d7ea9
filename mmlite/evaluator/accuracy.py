"""Top-k classification accuracy in percent, reported the way mmpretrain does (``accuracy/top1``)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from mmlite.registry import METRICS

from .metric import BaseMetric


def _field(sample: Mapping, key: str) -> torch.Tensor | None:
    value = sample.get(key)
    return None if value is None else torch.as_tensor(value)


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Share of samples whose true class is among the k highest scores, for each k in ``topk``.

    Each data sample is a dict with ``gt_label`` (a class index), and ``pred_score``
    (one score per class) and/or ``pred_label``; with only ``pred_label``, ``topk``
    must be ``(1,)``.

    Args:
        topk: the k values to report, e.g. ``(1, 5)`` gives ``top1`` and ``top5``.
        collect_device, prefix, collect_dir: see :class:`BaseMetric`.
    """

    default_prefix = 'accuracy'

    def __init__(self, topk: int | Sequence[int] = (1,), collect_device: str = 'cpu',
                 prefix: str | None = None, collect_dir: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        topk = (topk,) if isinstance(topk, int) else tuple(topk)
        if not topk or not all(isinstance(k, int) and k >= 1 for k in topk):
            raise ValueError(f'Accuracy topk must be a positive int or a tuple of them, got {topk!r}')
        self.topk = topk

    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        samples = [s.to_dict() if hasattr(s, 'to_dict') and not isinstance(s, Mapping) else s
                   for s in data_samples]
        if not samples:
            return
        for index, sample in enumerate(samples):
            if not isinstance(sample, Mapping) or sample.get('gt_label') is None:
                got = sorted(sample) if isinstance(sample, Mapping) else type(sample).__name__
                raise KeyError(f'Accuracy needs a dict with "gt_label" for every sample; sample '
                               f'{index} of the batch has {got}. The model must be given labels '
                               'in predict mode to return gt_label.')
        # One stack and one device-to-host copy per batch, not one per sample.
        gts = torch.stack([_field(s, 'gt_label').reshape(-1)[0] for s in samples]).cpu()
        if all(s.get('pred_score') is not None for s in samples):
            scores = torch.stack([_field(s, 'pred_score').reshape(-1) for s in samples]).cpu()
            # clone() so each result pickles its own row, not the whole batch's storage.
            self.results.extend(dict(pred_score=row.clone(), gt_label=gt)
                                for row, gt in zip(scores, gts.unbind()))
            return
        if max(self.topk) > 1:
            raise KeyError(f'Accuracy with topk={self.topk} needs "pred_score" in every sample; '
                           'only pred_label was given. Use topk=(1,) or return scores.')
        if any(s.get('pred_label') is None and s.get('pred_score') is None for s in samples):
            raise KeyError('Accuracy needs "pred_score" or "pred_label" in every sample; got keys '
                           f'{sorted(samples[0])}')
        labels = torch.stack([_field(s, 'pred_label').reshape(-1)[0] if s.get('pred_label') is not None
                              else _field(s, 'pred_score').argmax() for s in samples]).cpu()
        self.results.extend(dict(pred_label=label, gt_label=gt)
                            for label, gt in zip(labels.unbind(), gts.unbind()))

    def compute_metrics(self, results: list) -> dict:
        gts = torch.stack([r['gt_label'] for r in results]).long()
        if all('pred_score' in r for r in results):
            scores = torch.stack([r['pred_score'] for r in results])
            num_classes = scores.shape[1]
            if max(self.topk) > num_classes:
                raise ValueError(f'Accuracy topk={self.topk} asks for top-{max(self.topk)} but the '
                                 f'predictions score only {num_classes} classes; lower topk')
            ranked = scores.topk(max(self.topk), dim=1).indices
            hits = ranked == gts[:, None]
            # Integer counts, one division: 57 of 100 gives 57.0, not 56.99999999999999.
            return {f'top{k}': hits[:, :k].any(dim=1).sum().item() * 100 / len(results)
                    for k in self.topk}
        labels = torch.stack([r['pred_label'] if 'pred_label' in r else r['pred_score'].argmax()
                              for r in results]).long()
        return {'top1': (labels == gts).sum().item() * 100 / len(results)}
