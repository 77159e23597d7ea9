"""BaseMetric.evaluate: gathering across ranks, prefixes, the empty-results warning."""
import pytest
import torch

from mmlite.evaluator import BaseMetric


class RecordingMetric(BaseMetric):
    """Keeps one result per sample (its index) and reports what compute_metrics received."""

    default_prefix = 'rec'

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.computed_on = None

    def process(self, data_batch, data_samples):
        for sample in data_samples:
            self.results.append(dict(index=sample['index'], score=sample['score']))

    def compute_metrics(self, results):
        self.computed_on = results
        return dict(count=len(results), total=float(sum(r['score'] for r in results)))


def _samples(indices):
    return [dict(index=i, score=torch.tensor(float(i))) for i in indices]


def test_single_process_prefixes_names_and_clears_results():
    metric = RecordingMetric()
    metric.process(None, _samples([0, 1, 2]))
    assert metric.evaluate(3) == {'rec/count': 3, 'rec/total': 3.0}
    assert metric.results == []


def test_prefix_argument_overrides_default_prefix():
    metric = RecordingMetric(prefix='val')
    metric.process(None, _samples([4]))
    assert metric.evaluate(1) == {'val/count': 1, 'val/total': 4.0}


def test_no_prefix_keeps_bare_names_and_warns_once(log_records):
    class Bare(RecordingMetric):
        default_prefix = None
    metric = Bare()
    for _ in range(2):
        metric.process(None, _samples([1]))
        assert metric.evaluate(1) == {'count': 1, 'total': 1.0}
    warnings = [m for m in log_records.messages() if 'no prefix' in m]
    assert len(warnings) == 1 and 'Bare' in warnings[0]


def test_rank0_of_two_sees_exactly_size_items_in_dataset_order(two_rank_world):
    # Dataset of 5 padded to 6 by the sampler: rank 0 gets 0, 2, 4 and rank 1 gets 1, 3, 0.
    rank1 = RecordingMetric()
    rank1.process(None, _samples([1, 3, 0]))
    calls = two_rank_world(rank=0, other_rank_results=rank1.results)
    metric = RecordingMetric(collect_dir='/shared/tmp')
    metric.process(None, _samples([0, 2]))
    metric.process(None, _samples([4]))

    metrics = metric.evaluate(5)

    assert [r['index'] for r in metric.computed_on] == [0, 1, 2, 3, 4]
    assert metrics == {'rec/count': 5, 'rec/total': 10.0}
    assert calls['collect'][0]['size'] == 5
    assert calls['collect'][0]['device'] == 'cpu' and calls['collect'][0]['tmpdir'] == '/shared/tmp'
    assert calls['broadcast'] == [[metrics]]
    assert metric.results == []


def test_other_rank_returns_rank0_metrics_without_computing(two_rank_world):
    from_rank0 = {'rec/count': 5, 'rec/total': 10.0}
    two_rank_world(rank=1, rank0_metrics=from_rank0)
    metric = RecordingMetric()
    metric.process(None, _samples([1, 3, 0]))
    assert metric.evaluate(5) == from_rank0
    assert metric.computed_on is None
    assert metric.results == []


def test_results_are_moved_to_cpu_before_gathering(two_rank_world):
    calls = two_rank_world(rank=0, other_rank_results=[])
    metric = RecordingMetric()
    metric.process(None, _samples([0]))
    metric.evaluate(0)
    gathered = calls['collect'][0]['results']
    assert gathered[0]['score'].device.type == 'cpu'


def test_no_results_anywhere_warns_and_returns_empty_dict(log_records):
    metric = RecordingMetric()
    assert metric.evaluate(0) == {}
    assert metric.computed_on is None
    message = ' '.join(log_records.messages())
    assert 'RecordingMetric' in message and 'empty' in message and 'process' in message


def test_compute_failure_on_rank0_is_reraised_after_broadcast(two_rank_world):
    class Broken(RecordingMetric):
        def compute_metrics(self, results):
            raise ZeroDivisionError('no classes')
    calls = two_rank_world(rank=0, other_rank_results=_samples([1]))
    metric = Broken()
    metric.process(None, _samples([0]))
    with pytest.raises(ZeroDivisionError, match='no classes'):
        metric.evaluate(2)
    assert len(calls['broadcast']) == 1  # the other ranks were told, so they do not hang
    assert metric.results == []


def test_other_ranks_raise_when_rank0_failed(two_rank_world):
    from mmlite.evaluator.metric import _RankZeroFailure
    two_rank_world(rank=1, rank0_metrics=_RankZeroFailure('ZeroDivisionError: no classes'))
    metric = RecordingMetric()
    with pytest.raises(RuntimeError, match='RecordingMetric.compute_metrics failed on rank 0'):
        metric.evaluate(2)


def test_compute_metrics_must_return_a_dict():
    class Wrong(RecordingMetric):
        def compute_metrics(self, results):
            return 0.5
    metric = Wrong()
    metric.process(None, _samples([0]))
    with pytest.raises(TypeError, match='Wrong.compute_metrics must return a dict'):
        metric.evaluate(1)


@pytest.mark.parametrize('kwargs, match', [
    (dict(collect_device='tpu'), "collect_device must be one of"),
    (dict(collect_device='gpu', collect_dir='/tmp/x'), "collect_dir='/tmp/x' only works"),
])
def test_bad_collect_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RecordingMetric(**kwargs)


def test_dataset_meta_round_trips():
    metric = RecordingMetric()
    metric.dataset_meta = dict(classes=('cat', 'dog'))
    assert metric.dataset_meta == dict(classes=('cat', 'dog'))
