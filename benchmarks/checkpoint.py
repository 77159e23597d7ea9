"""Checkpoint save and load of a ~100 MB training state: mmlite against bare torch.save/torch.load.

    python benchmarks/checkpoint.py [--megabytes 100] [--repeats 5]

mmlite's ``save_checkpoint`` writes atomically (temporary file, fsync, rename, fsync of the
folder) and checks that the state holds only what the weights-only loader reads;
``torch.save`` leaves the bytes in the page cache, where a power cut can lose them. Both
sides are measured in the same run, alternating, median of ``--repeats``:

- save: bare ``torch.save(state, path)`` against ``save_checkpoint(state, path)``;
- save, background: how long ``save_checkpoint`` inside ``deferred_writes()`` (what
  CheckpointHook does by default) blocks the caller -- ``torch.save`` into the temporary file
  (a state under 4 MB is serialised into memory and written by the background thread) -- and
  how long until the file is durable;
- load: bare ``torch.load(path)`` (weights_only=True, torch's default) against
  ``_load_checkpoint(path)``; the file is in the page cache for both.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch


def make_state(megabytes: int) -> dict:
    """A training-state-like dict: half weights, half optimizer moments, in layers of mixed sizes."""
    generator = torch.Generator().manual_seed(0)
    floats_per_half = megabytes * 2**20 // 4 // 2
    sizes = []
    while sum(sizes) < floats_per_half:  # a few big layers and many small ones, like a ResNet
        sizes += [min(2**20, floats_per_half - sum(sizes)), 64, 256, 4096]
    weights = {f'layer{i}.weight': torch.randn(n, generator=generator) for i, n in enumerate(sizes)}
    moments = {i: {'momentum_buffer': torch.randn(n, generator=generator)}
               for i, n in enumerate(sizes)}
    return {'meta': {'epoch': 3, 'iter': 3000, 'seed': 0, 'experiment_name': 'bench'},
            'state_dict': weights,
            'optimizer': {'state': moments, 'param_groups': [{'lr': 0.1, 'momentum': 0.9,
                                                              'params': list(range(len(sizes)))}]},
            'message_hub': {'log_scalars': {'train/loss': {'log_history': torch.rand(3000).double(),
                                                           'count_history': torch.ones(3000).long(),
                                                           'max_length': 1000000}},
                            'runtime_info': {'epoch': 3, 'iter': 3000}, 'resumed_keys': {}}}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--megabytes', type=int, default=100, help='size of the state')
    parser.add_argument('--repeats', type=int, default=7, help='runs of each (median reported)')
    parser.add_argument('--dir', default=None, help='folder to write in (default: a temporary one '
                        'under the current directory, so the disk is the one you train on)')
    args = parser.parse_args()

    from mmlite.runner.checkpoint import (_load_checkpoint, deferred_writes, save_checkpoint,
                                          wait_for_checkpoint_writes)
    state = make_state(args.megabytes)
    size = sum(t.numel() * t.element_size() for t in _tensors(state)) / 2**20
    times: dict[str, list[float]] = {key: [] for key in (
        'bare save', 'mmlite save', 'mmlite save blocked', 'mmlite save durable', 'bare load',
        'mmlite load')}
    with tempfile.TemporaryDirectory(prefix='ckpt_bench_', dir=args.dir or os.getcwd()) as folder:
        for index in range(args.repeats):
            # Fresh names each round: replacing an existing file is never deferred.
            bare_path = os.path.join(folder, f'bare_{index}.pth')
            mmlite_path = os.path.join(folder, f'mmlite_{index}.pth')
            background_path = os.path.join(folder, f'background_{index}.pth')

            def background_save():
                start = time.perf_counter()
                with deferred_writes():
                    save_checkpoint(state, background_path)
                times['mmlite save blocked'].append(time.perf_counter() - start)
                wait_for_checkpoint_writes()
                times['mmlite save durable'].append(time.perf_counter() - start)
            saves = [lambda: times['bare save'].append(_timed(lambda: torch.save(state, bare_path))),
                     lambda: times['mmlite save'].append(
                         _timed(lambda: save_checkpoint(state, mmlite_path))),
                     background_save]
            # Rotate the order: the disk is still writing back whatever was saved just before.
            for save in saves[index % 3:] + saves[:index % 3]:
                save()
                os.sync()
            loads = [lambda: times['bare load'].append(
                         _timed(lambda: torch.load(bare_path, map_location='cpu'))),
                     lambda: times['mmlite load'].append(_timed(lambda: _load_checkpoint(mmlite_path)))]
            for load in loads[index % 2:] + loads[:index % 2]:  # the first pays fresh memory
                load()
            for path in (bare_path, mmlite_path, background_path):
                os.remove(path)

    median = {key: statistics.median(values) for key, values in times.items()}
    print(f'state: {size:.0f} MB of tensors; median of {args.repeats} runs, seconds')
    rows = [('save (atomic + fsync)', 'mmlite save', 'bare save'),
            ('save, background: loop blocked', 'mmlite save blocked', 'bare save'),
            ('save, background: until durable', 'mmlite save durable', 'bare save'),
            ('load (weights_only)', 'mmlite load', 'bare load')]
    print(f'{"what":<34} {"mmlite":>8} {"bare":>8} {"ratio":>7}')
    for label, ours, theirs in rows:
        print(f'{label:<34} {median[ours]:8.3f} {median[theirs]:8.3f} '
              f'{median[ours] / median[theirs]:7.2f}')


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _tensors(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _tensors(value)


if __name__ == '__main__':
    main()
