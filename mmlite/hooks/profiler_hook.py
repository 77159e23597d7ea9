"""ProfilerHook: runs torch.profiler over the first epochs/iterations and writes a Chrome trace."""
from __future__ import annotations

import os
import os.path as osp
from collections.abc import Callable
from typing import Any

from mmlite.registry import HOOKS

from .hook import DATA_BATCH, Hook


@HOOKS.register_module()
class ProfilerHook(Hook):
    """Profile the first ``profile_times`` epochs (``by_epoch``) or iterations with
    ``torch.profiler.profile`` and export a Chrome trace (open it in chrome://tracing or
    Perfetto).

    Args:
        by_epoch: profile whole epochs (only the first one: profiling slows training) or
            ``profile_times`` iterations.
        profile_times: how many epochs/iterations to profile.
        activity_with_cpu / activity_with_cuda: the activities recorded.
        schedule: keyword arguments of ``torch.profiler.schedule`` (wait, warmup, active, ...).
        on_trace_ready: a callable, or ``dict(type='log_trace', **table_kwargs)`` to print the
            summary table, or ``dict(type='tb_trace', dir_name=...)`` for TensorBoard
            (``dir_name`` relative to the log dir).
        record_shapes, profile_memory, with_stack, with_flops: as in ``torch.profiler.profile``.
        json_trace_path: where to write the Chrome trace (relative paths are under the log
            dir). By default ``<log_dir>/profiler_trace.json`` when neither ``schedule`` nor
            ``on_trace_ready`` is set, else no trace file.
    """

    priority = 'VERY_LOW'

    def __init__(self, *, by_epoch: bool = True, profile_times: int = 1,
                 activity_with_cpu: bool = True, activity_with_cuda: bool = False,
                 schedule: dict | None = None,
                 on_trace_ready: Callable | dict | None = None, record_shapes: bool = False,
                 profile_memory: bool = False, with_stack: bool = False, with_flops: bool = False,
                 json_trace_path: str | None = None) -> None:
        from torch import profiler
        if not isinstance(by_epoch, bool):
            raise TypeError(f'ProfilerHook by_epoch must be a bool, got {by_epoch!r}')
        if profile_times < 1:
            raise ValueError(f'ProfilerHook profile_times must be >= 1, got {profile_times}')
        if by_epoch and profile_times > 1:
            raise ValueError(f'ProfilerHook profiles at most 1 epoch (got profile_times='
                             f'{profile_times}): profiling slows training down; profile one '
                             f'epoch, or set by_epoch=False and count iterations')
        if schedule is not None and not isinstance(schedule, dict):
            raise TypeError(f'ProfilerHook schedule must be a dict of torch.profiler.schedule '
                            f'arguments, got {schedule!r}')
        if not (on_trace_ready is None or callable(on_trace_ready)
                or isinstance(on_trace_ready, dict)):
            raise TypeError(f'ProfilerHook on_trace_ready must be a callable, a dict or None, '
                            f'got {on_trace_ready!r}')
        self.by_epoch = by_epoch
        self.profile_times = profile_times
        self.activities = []
        if activity_with_cpu:
            self.activities.append(profiler.ProfilerActivity.CPU)
        if activity_with_cuda:
            self.activities.append(profiler.ProfilerActivity.CUDA)
        self.schedule = profiler.schedule(**schedule) if schedule is not None else None
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.json_trace_path = json_trace_path
        self.profiler: Any = None
        self._closed = True

    def before_run(self, runner) -> None:
        if runner.rank != 0:
            return
        import torch
        max_times = runner.max_epochs if self.by_epoch else runner.max_iters
        if max_times < self.profile_times:
            raise ValueError(f'ProfilerHook profile_times={self.profile_times} exceeds the '
                             f'{"epochs" if self.by_epoch else "iterations"} of training '
                             f'({max_times})')
        self.profiler = torch.profiler.profile(
            activities=self.activities, schedule=self.schedule,
            on_trace_ready=self._parse_trace_config(runner), record_shapes=self.record_shapes,
            profile_memory=self.profile_memory, with_stack=self.with_stack,
            with_flops=self.with_flops)
        self.profiler.__enter__()
        self._closed = False
        runner.logger.info('profiler is profiling...')

    def _parse_trace_config(self, runner) -> Callable | None:
        if self.on_trace_ready is None or callable(self.on_trace_ready):
            return self.on_trace_ready
        trace_cfg = dict(self.on_trace_ready)
        trace_type = trace_cfg.pop('type', None)
        if trace_type == 'log_trace':
            def print_table(prof) -> None:
                print(prof.key_averages().table(**trace_cfg))
            return print_table
        if trace_type == 'tb_trace':
            import torch
            dir_name = trace_cfg.get('dir_name', 'tf_tracing_logs')
            trace_cfg['dir_name'] = osp.join(runner.log_dir, dir_name)
            runner.logger.info(f'ProfilerHook writes TensorBoard traces to {trace_cfg["dir_name"]}.')
            return torch.profiler.tensorboard_trace_handler(**trace_cfg)
        raise ValueError(f'ProfilerHook on_trace_ready type must be "log_trace" or "tb_trace", '
                         f'got {trace_type!r}')

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: dict | None = None) -> None:
        if self._closed:
            return
        self.profiler.step()
        if not self.by_epoch and runner.iter + 1 >= self.profile_times:
            self._export_chrome_trace(runner)

    def after_train_epoch(self, runner) -> None:
        if not self._closed and self.by_epoch and runner.epoch + 1 >= self.profile_times:
            self._export_chrome_trace(runner)

    def after_run(self, runner) -> None:
        # Training ended (e.g. early stopping) before the profiled span did: still close it.
        if not self._closed:
            self._export_chrome_trace(runner)

    def _trace_path(self, runner) -> str | None:
        if self.json_trace_path is not None:
            return osp.join(runner.log_dir, self.json_trace_path)  # absolute paths stay as they are
        if self.schedule is None and self.on_trace_ready is None:
            return osp.join(runner.log_dir, 'profiler_trace.json')
        return None

    def _export_chrome_trace(self, runner) -> None:
        self._closed = True
        runner.logger.info('profiler may take a few minutes...')
        self.profiler.__exit__(None, None, None)
        path = self._trace_path(runner)
        if path is not None:
            os.makedirs(osp.dirname(path) or '.', exist_ok=True)
            self.profiler.export_chrome_trace(path)
            runner.logger.info(f'ProfilerHook wrote the Chrome trace to {path}')
