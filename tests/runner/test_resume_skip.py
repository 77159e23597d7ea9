"""A resumed run skips trained samples in the sampler: it reads exactly the samples still to
train (MMEngine's IterBasedTrainLoop loads and discards the trained ones first)."""
import os.path as osp
import sys

import pytest

sys.path.insert(0, osp.dirname(__file__))
import resume_toys as toys  # noqa: E402

from mmlite.runner import Runner  # noqa: E402


def _reads(path) -> list[int]:
    with open(path) as f:
        return [int(line) for line in f]


@pytest.mark.parametrize('loop,sampler', [('epoch', 'DefaultSampler'), ('iter', 'InfiniteSampler'),
                                          ('iter', 'DefaultSampler')])
def test_resumed_run_reads_only_the_samples_still_to_train(tmp_path, loop, sampler):
    common = dict(by_epoch=loop == 'epoch', sampler=sampler, length=4)
    reference_log = str(tmp_path / 'reference_reads.txt')
    Runner(**toys.toy_cfg(tmp_path / 'reference', read_log=reference_log, **common)).train()
    # 4 passes over 22 samples (24 iterations of 4, the last batch of each pass has 2).
    all_reads = _reads(reference_log)
    assert len(all_reads) == (88 if loop == 'epoch' or sampler == 'DefaultSampler' else 96)

    work_dir = tmp_path / 'run'
    with pytest.raises(RuntimeError, match='simulated crash'):
        Runner(**toys.toy_cfg(work_dir, crash_at=11, **common)).train()
    resumed_log = str(tmp_path / 'resumed_reads.txt')
    Runner(**toys.toy_cfg(work_dir, resume=True, read_log=resumed_log, **common)).train()

    # Resumed from iter_8, two batches into the second pass: nothing trained is read again,
    # and what is read is what the uninterrupted run read from there on, in the same order.
    trained_before = 22 + 2 * 4 if len(all_reads) == 88 else 8 * 4
    assert _reads(resumed_log) == all_reads[trained_before:]
