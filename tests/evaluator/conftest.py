"""Fixtures shared by the evaluator tests: a log capture and a fake two-rank world."""
import logging

import pytest


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def messages(self, level=logging.WARNING):
        return [r.getMessage() for r in self.records if r.levelno == level]


@pytest.fixture
def log_records():
    """Every record the current MMLogger receives during the test."""
    from mmlite.logging import MMLogger
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def two_rank_world(monkeypatch):
    """Make mmlite.dist behave like one rank of a 2-process run with a padded, interleaving sampler.

    ``install(rank, other_rank_results, rank0_metrics=None)``: on rank 0, collect_results
    zips this rank's results with ``other_rank_results`` (rank 1's) as a distributed
    sampler interleaves them, and drops the padding beyond ``size``; on rank 1 it returns
    None and broadcast_object_list delivers ``rank0_metrics``. Returns the call log.
    """
    import mmlite.dist as dist
    calls = {'collect': [], 'broadcast': []}

    def install(rank, other_rank_results=(), rank0_metrics=None):
        def collect_results(results, size, device='cpu', tmpdir=None):
            calls['collect'].append(dict(results=list(results), size=size, device=device, tmpdir=tmpdir))
            if rank != 0:
                return None
            ordered = []
            for mine, theirs in zip(results, other_rank_results):
                ordered.extend([mine, theirs])
            return ordered[:size]

        def broadcast_object_list(objects, src=0, group=None):
            calls['broadcast'].append(list(objects))
            if rank != 0:
                objects[0] = rank0_metrics

        monkeypatch.setattr(dist, 'collect_results', collect_results, raising=False)
        monkeypatch.setattr(dist, 'broadcast_object_list', broadcast_object_list, raising=False)
        monkeypatch.setattr(dist, 'is_main_process', lambda group=None: rank == 0, raising=False)
        return calls
    return install
