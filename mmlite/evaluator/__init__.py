"""Evaluation: BaseMetric and the Evaluator that drives metrics, plus ready metrics."""
from .accuracy import Accuracy
from .evaluator import Evaluator
from .metric import BaseMetric, DumpResults
from .utils import get_metric_value

__all__ = ['BaseMetric', 'Evaluator', 'DumpResults', 'Accuracy', 'get_metric_value']
