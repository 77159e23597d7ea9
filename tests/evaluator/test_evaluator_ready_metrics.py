"""DumpResults writes a pickle that reads back; Accuracy reports percent top-k like mmpretrain."""
import pickle

import pytest
import torch

from mmlite.evaluator import Accuracy, DumpResults, Evaluator
from mmlite.registry import METRICS


def test_dump_results_pickles_predictions_on_cpu(tmp_path):
    out = tmp_path / 'sub' / 'preds.pkl'
    evaluator = Evaluator(METRICS.build(dict(type='DumpResults', out_file_path=str(out))))
    batches = [[dict(pred=torch.tensor([1.0, 2.0]), idx=0)], [dict(pred=torch.tensor([3.0]), idx=1)]]
    for batch in batches:
        evaluator.process(batch)
    assert evaluator.evaluate(2) == {}
    with open(out, 'rb') as file:
        loaded = pickle.load(file)
    assert [item['idx'] for item in loaded] == [0, 1]
    assert torch.equal(loaded[0]['pred'], torch.tensor([1.0, 2.0]))
    assert loaded[1]['pred'].device.type == 'cpu'
    assert [p.name for p in out.parent.iterdir()] == ['preds.pkl']  # no temporary file left


def test_dump_results_replaces_an_existing_file(tmp_path):
    out = tmp_path / 'preds.pickle'
    out.write_bytes(b'old')
    metric = DumpResults(out)
    metric.process(None, [1, 2])
    metric.evaluate(2)
    assert pickle.loads(out.read_bytes()) == [1, 2]


def test_dump_results_rejects_other_suffixes(tmp_path):
    with pytest.raises(ValueError, match=r'must end in \.pkl or \.pickle.*preds\.json'):
        DumpResults(str(tmp_path / 'preds.json'))


def _sample(scores, gt):
    scores = torch.tensor(scores)
    return dict(pred_score=scores, pred_label=scores.argmax(), gt_label=torch.tensor(gt))


def test_accuracy_top1_and_top2_in_percent():
    metric = Accuracy(topk=(1, 2))
    metric.process(None, [_sample([0.7, 0.2, 0.1], 0),    # top1 hit
                          _sample([0.5, 0.3, 0.2], 1),    # top2 hit
                          _sample([0.1, 0.3, 0.6], 0),    # miss
                          _sample([0.2, 0.5, 0.3], 1)])   # top1 hit
    result = metric.evaluate(4)
    assert result == {'accuracy/top1': 50.0, 'accuracy/top2': 75.0}  # exact: integer counts, one division
    assert all(isinstance(v, float) for v in result.values())


def test_accuracy_with_labels_only():
    metric = METRICS.build(dict(type='Accuracy'))
    samples = [dict(pred_label=torch.tensor(p), gt_label=torch.tensor(g))
               for p, g in [(0, 0), (1, 0), (2, 2)]]
    metric.process(None, samples)
    assert metric.evaluate(3) == {'accuracy/top1': pytest.approx(200 / 3)}


def test_accuracy_accepts_int_topk_and_prefix():
    metric = Accuracy(topk=1, prefix='val_acc')
    metric.process(None, [_sample([0.1, 0.9], 1)])
    assert metric.evaluate(1) == {'val_acc/top1': pytest.approx(100.0)}


def test_accuracy_topk_beyond_class_count_is_a_clear_error():
    metric = Accuracy(topk=(1, 5))
    metric.process(None, [_sample([0.6, 0.3, 0.1], 0)])
    with pytest.raises(ValueError, match=r'top-5 but the predictions score only 3 classes'):
        metric.evaluate(1)


def test_accuracy_needs_scores_for_topk_above_one_and_a_gt_label():
    metric = Accuracy(topk=(1, 5))
    with pytest.raises(KeyError, match='needs "pred_score"'):
        metric.process(None, [dict(pred_label=torch.tensor(0), gt_label=torch.tensor(0))])
    with pytest.raises(KeyError, match='"gt_label"'):
        metric.process(None, [dict(pred_score=torch.tensor([0.5, 0.5]))])


def test_accuracy_results_are_one_small_cpu_tensor_per_sample():
    metric = Accuracy()
    metric.process(None, [_sample([0.2, 0.8], 1), _sample([0.9, 0.1], 1)])
    assert len(metric.results) == 2
    row = metric.results[0]['pred_score']
    assert row.device.type == 'cpu' and row.untyped_storage().nbytes() == 2 * row.element_size()
