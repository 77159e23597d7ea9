"""Evaluator: building metrics, feeding them, merging their results; the tutorial metric works as is."""
import pytest
import torch

from mmlite.evaluator import BaseMetric, Evaluator, get_metric_value
from mmlite.registry import EVALUATOR, METRICS


class FashionMnistMetric(BaseMetric):  # the MMEngine tutorial's metric, unchanged
    def process(self, data, preds) -> None:
        self.results.append(((data[1] == preds[0].cpu()).sum(), preds[1], len(preds[0])))

    def compute_metrics(self, results):
        correct, loss, batch_size = zip(*results)
        test_loss, correct = sum(loss) / len(self.results), sum(correct) / sum(batch_size)
        return dict(Accuracy=correct, Avg_loss=test_loss)


class CountMetric(BaseMetric):
    def __init__(self, prefix=None, **kwargs):
        super().__init__(prefix=prefix, **kwargs)
        self.seen = []

    def process(self, data_batch, data_samples):
        self.seen.append((data_batch, list(data_samples)))
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        return dict(n=len(results))


def test_tutorial_metric_through_evaluator():
    evaluator = Evaluator(FashionMnistMetric())
    labels = [torch.tensor([1, 2, 3, 4]), torch.tensor([0, 0])]
    preds = [torch.tensor([1, 2, 0, 4]), torch.tensor([0, 1])]
    losses = [0.5, 1.5]
    for label, pred, loss in zip(labels, preds, losses):
        data_batch = (torch.zeros(len(label), 1, 28, 28), label)
        evaluator.process(data_samples=(pred, loss), data_batch=data_batch)
    metrics = evaluator.evaluate(6)
    assert float(metrics['Accuracy']) == pytest.approx(4 / 6)
    assert metrics['Avg_loss'] == pytest.approx(1.0)


def test_metric_configs_are_built_from_the_registry_and_evaluator_from_its_own():
    name = 'CountMetricForEvaluatorTest'
    METRICS.register_module(name=name, module=CountMetric, force=True)
    evaluator = EVALUATOR.build(dict(type='Evaluator', metrics=[dict(type=name, prefix='a'),
                                                                 dict(type=name, prefix='b')]))
    assert isinstance(evaluator, Evaluator)
    assert [m.prefix for m in evaluator.metrics] == ['a', 'b']
    evaluator.process([1, 2, 3])
    assert evaluator.evaluate(3) == {'a/n': 3, 'b/n': 3}


def test_data_elements_become_dicts_and_batch_is_passed_positionally():
    from mmlite.structures import BaseDataElement
    metric = CountMetric(prefix='c')
    evaluator = Evaluator([metric])
    sample = BaseDataElement(metainfo=dict(img_id=7), pred=torch.tensor([0.1, 0.9]))
    evaluator.process([sample, 'plain'], data_batch={'inputs': 'x'})
    data_batch, samples = metric.seen[0]
    assert data_batch == {'inputs': 'x'}
    assert isinstance(samples[0], dict) and samples[0]['img_id'] == 7
    assert torch.equal(samples[0]['pred'], torch.tensor([0.1, 0.9]))
    assert samples[1] == 'plain'


def test_same_metric_name_twice_is_an_error_naming_both():
    class Other(CountMetric):
        pass
    evaluator = Evaluator([CountMetric(prefix='p'), Other(prefix='p')])
    evaluator.process([1])
    with pytest.raises(ValueError, match=r"'p/n' is reported by both CountMetric and Other"):
        evaluator.evaluate(1)


def test_dataset_meta_reaches_every_metric():
    evaluator = Evaluator([CountMetric(prefix='a'), CountMetric(prefix='b')])
    evaluator.dataset_meta = dict(classes=('a', 'b'))
    assert all(m.dataset_meta == dict(classes=('a', 'b')) for m in evaluator.metrics)
    assert evaluator.dataset_meta == dict(classes=('a', 'b'))


def test_offline_evaluate_feeds_chunks():
    metric = CountMetric(prefix='off')
    evaluator = Evaluator(metric)
    assert evaluator.offline_evaluate(list(range(5)), chunk_size=2) == {'off/n': 5}
    assert [samples for _, samples in metric.seen] == [[0, 1], [2, 3], [4]]
    assert all(batch is None for batch, _ in metric.seen)


def test_offline_evaluate_collates_data_chunks():
    metric = CountMetric(prefix='off')
    Evaluator(metric).offline_evaluate([10, 11, 12], data=[dict(x=0), dict(x=1), dict(x=2)],
                                       chunk_size=2)
    assert [batch for batch, _ in metric.seen] == [dict(x=[0, 1]), dict(x=[2])]


def test_offline_evaluate_length_mismatch_is_explained():
    with pytest.raises(ValueError, match='3 data_samples but 2 data items'):
        Evaluator(CountMetric()).offline_evaluate([1, 2, 3], data=[1, 2])


def test_non_metric_is_rejected_with_its_position():
    with pytest.raises(TypeError, match=r'metrics\[1\] must be a BaseMetric'):
        Evaluator([CountMetric(), 42])


def test_get_metric_value_full_and_short_names():
    metrics = {'accuracy/top1': 90.0, 'accuracy/top5': 99.0, 'loss/top1': 1.0}
    assert get_metric_value('accuracy/top1', metrics) == 90.0
    assert get_metric_value('top5', metrics) == 99.0
    with pytest.raises(ValueError, match='ambiguous'):
        get_metric_value('top1', metrics)
    with pytest.raises(ValueError, match="no metric named 'mAP'"):
        get_metric_value('mAP', metrics)
