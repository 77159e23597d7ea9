"""LogProcessor: turns the message hub's scalar histories into one log line and a tag dict.

The loop and hooks leave raw values in the hub every iteration (losses as 0-d tensors, times and
learning rates as floats); this is the only place they are reduced, once per log line. The line
layout follows MMEngine's so existing log parsers keep working::

    Epoch(train)  [1][ 10/100]  lr: 1.0000e-02  eta: 0:00:10  time: 0.0100  data_time: 0.0010  loss: 0.1234
    Iter(train) [  10/1000]  lr: 1.0000e-02  eta: ...
    Epoch(val) [1][100/100]  accuracy/top1: 95.0000  data_time: 0.0010  time: 0.0100
"""
from __future__ import annotations

import copy
import re
from collections import OrderedDict
from itertools import chain
from typing import Any

from mmlite.hooks.utils import training_started
from mmlite.registry import LOG_PROCESSORS

_MODES = ('train', 'val', 'test')
_WINDOW_WORDS = ('epoch', 'global')


def _remove_prefix(key: str, prefix: str) -> str:
    return key[len(prefix):] if key.startswith(prefix) else key


def _duration_text(seconds: int) -> str:
    """``str(datetime.timedelta(seconds=seconds))``: '0:00:10', '1 day, 2:03:04'.

    Written out because on a log line, between training iterations that leave the caches
    cold, building and printing a timedelta costs as much as the rest of the line's header.
    """
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f'{hours}:{minutes:02d}:{secs:02d}'
    if days:
        text = f'{days} day{"" if abs(days) == 1 else "s"}, {text}'
    return text


@LOG_PROCESSORS.register_module()
class LogProcessor:
    """Format the hub's scalars into log lines, smoothing them over a window.

    Args:
        window_size: how many recent updates a smoothed value averages.
        by_epoch: epoch-style headers (``Epoch(train) [e][i/n]``) or iteration-style ones
            (``Iter(train) [i/max_iters]``).
        custom_cfg: extra statistics, each a dict with ``data_src`` (a hub key without the
            ``train/`` prefix), ``method_name`` (mean, min, max, current or a registered
            HistoryBuffer statistic), optional ``window_size`` (an int, ``'epoch'`` or
            ``'global'``) and optional ``log_name`` (logs under a new name instead of
            overwriting ``data_src``).
        num_digits: decimals of floats in the line.
        log_with_hierarchy: keep the ``train/``/``val/`` prefixes in the returned tag (for
            visualizer backends); the printed line never shows them.
        mean_pattern: keys matching it are window means; the others show their latest value.
    """

    def __init__(self, window_size: int = 10, by_epoch: bool = True,
                 custom_cfg: list[dict] | None = None, num_digits: int = 4,
                 log_with_hierarchy: bool = False,
                 mean_pattern: str = r'.*(loss|time|data_time|grad_norm).*') -> None:
        self.window_size = window_size
        self.by_epoch = by_epoch
        self.custom_cfg = list(custom_cfg) if custom_cfg else []
        self.num_digits = num_digits
        self.log_with_hierarchy = log_with_hierarchy
        self.mean_pattern = mean_pattern
        self._cuda_available: bool | None = None  # asked once, on the first line
        # mode -> (dataloader, epoch, len(dataloader)); see _dataloader_length
        self._dataloader_lengths: dict[str, tuple[Any, int, int]] = {}
        self._check_custom_cfg()

    @property
    def mean_pattern(self) -> re.Pattern:
        """Keys it matches are window means; the others show their latest value."""
        return self._mean_pattern

    @mean_pattern.setter
    def mean_pattern(self, pattern: str | re.Pattern) -> None:
        self._mean_pattern = re.compile(pattern)
        # The hub's keys repeat on every line: each is matched once, then looked up.
        self._key_uses_mean: dict[str, bool] = {}

    # ------------------------------------------------------------------ checks
    def _check_custom_cfg(self) -> None:
        """Reject configs MMEngine rejects, naming the entry and the fix."""
        seen: dict[str, str] = {}
        for index, log_cfg in enumerate(self.custom_cfg):
            where = f'log_processor.custom_cfg[{index}]'
            if not isinstance(log_cfg, dict) or 'data_src' not in log_cfg:
                raise ValueError(f'{where} must be a dict with a "data_src" key (the hub key to '
                                 f'log, e.g. "loss"), got {log_cfg!r}')
            data_src = log_cfg['data_src']
            log_name = log_cfg.get('log_name', data_src)
            if log_name in seen:
                raise ValueError(
                    f'{where}: log name {log_name!r} is already produced by the entry for '
                    f'{seen[log_name]!r}. Give each statistic its own "log_name"; an entry '
                    f'without "log_name" overwrites its data_src, which only one entry may do.')
            seen[log_name] = data_src
            window = log_cfg.get('window_size')
            if window is not None and not isinstance(window, int) and window not in _WINDOW_WORDS:
                raise TypeError(f'{where}: window_size must be an int, "epoch" or "global", got '
                                f'{window!r}')
            if window == 'epoch' and not self.by_epoch:
                raise ValueError(f'{where}: window_size="epoch" needs epochs, but '
                                 f'log_processor.by_epoch is False; use an int or "global"')

    # --------------------------------------------------------------- log lines
    def get_log_after_iter(self, runner, batch_idx: int, mode: str) -> tuple[dict, str]:
        """The tag (for visualizer backends) and the log line after iteration ``batch_idx``."""
        if mode not in _MODES:
            raise ValueError(f'mode must be one of {_MODES}, got {mode!r}')
        parsed_cfg = (self._parse_windows_size(runner, batch_idx, self.custom_cfg)
                      if self.custom_cfg else [])
        # log_tag feeds the printed line (no prefixes); tag goes to the backends.
        log_tag = self._collect_scalars(parsed_cfg, runner, mode)
        tag = (log_tag.copy() if not self.log_with_hierarchy
               else self._collect_scalars(parsed_cfg, runner, mode, reserve_prefix=True))

        lr_items = []
        for key, value in tag.items():
            if key.endswith('lr'):
                short = _remove_prefix(key, f'{mode}/')
                log_tag.pop(short, None)
                lr_items.append(f'{short}: {value:.{self.num_digits}e}')
        training = training_started(runner)
        log_str = self._iter_header(runner, batch_idx, mode, tag, training)
        tag['iter'] = runner.iter + 1 if training else 0
        if lr_items:
            log_str += ' '.join(lr_items) + '  '

        eta = runner.message_hub.get_info('eta')
        if 'time' in log_tag and 'data_time' in log_tag and eta is not None:
            log_str += f'eta: {_duration_text(int(eta))}  '
            log_str += (f'time: {log_tag.pop("time"):.{self.num_digits}f}  '
                        f'data_time: {log_tag.pop("data_time"):.{self.num_digits}f}  ')

        memory = self._get_max_memory(runner)
        if memory is not None:
            log_str += f'memory: {memory}  '
            tag['memory'] = memory

        if mode in ('train', 'val'):
            items = []
            for name, value in log_tag.items():
                # Validation lines show losses only; metrics come in the epoch summary.
                if mode == 'val' and not _remove_prefix(name, 'val/').startswith('loss'):
                    continue
                items.append(f'{name}: {self._format(value)}')
            log_str += '  '.join(items)
        return tag, log_str.rstrip()

    def _iter_header(self, runner, batch_idx: int, mode: str, tag: dict, training: bool) -> str:
        """``Epoch(train)  [1][ 10/100]  `` or ``Iter(train) [  10/1000]  `` (adds 'epoch' to tag).

        ``training``: whether a training run set up its counters (``training_started``).
        """
        if self.by_epoch:
            total = self._dataloader_length(runner, mode)
            current = str(self._get_iter(runner, batch_idx)).rjust(len(str(total)))
            if mode == 'test':
                return f'Epoch({mode}) [{current}/{total}]  '
            epoch = self._get_epoch(runner, mode, training)
            epoch_str = f'[{epoch}]'
            if training:
                # Right-align so lines of epoch 9 and 10 of 12 line up: '[ 9]' -> '  [9]'.
                epoch_str = epoch_str.rjust(len(str(runner.max_epochs)) + 3)
            tag['epoch'] = epoch
            return f'Epoch({mode}){epoch_str}[{current}/{total}]  '
        if mode == 'train':
            current = str(runner.iter + 1).rjust(len(str(runner.max_iters)))
            return f'Iter({mode}) [{current}/{runner.max_iters}]  '
        total = self._dataloader_length(runner, mode)
        current = str(batch_idx + 1).rjust(len(str(total)))
        return f'Iter({mode}) [{current}/{total}]  '

    def get_log_after_epoch(self, runner, batch_idx: int, mode: str,
                            with_non_scalar: bool = False) -> tuple[dict, str]:
        """The summary after a val/test epoch: metrics first, then epoch-mean times.

        ``with_non_scalar`` also returns non-scalar results (e.g. a confusion matrix) in the tag;
        they are always printed.
        """
        if mode not in ('val', 'test'):
            raise ValueError(f'get_log_after_epoch summarises val or test, got mode {mode!r}')
        total = len(self._get_cur_loop(runner, mode).dataloader)
        if self.by_epoch and mode == 'val':
            log_str = f'Epoch({mode}) [{self._get_epoch(runner, mode)}][{total}/{total}]  '
        elif self.by_epoch:
            log_str = f'Epoch({mode}) [{total}/{total}]  '
        else:
            log_str = f'Iter({mode}) [{total}/{total}]  '

        custom_cfg = copy.deepcopy(self.custom_cfg)
        custom_keys = {_remove_prefix(cfg['data_src'], f'{mode}/') for cfg in custom_cfg}
        # Times are averaged over the whole epoch, not the smoothing window.
        for key in ('time', 'data_time'):
            if key not in custom_keys:
                custom_cfg.append(dict(data_src=key, window_size='epoch', method_name='mean'))
        parsed_cfg = self._parse_windows_size(runner, batch_idx, custom_cfg)
        scalars = self._collect_scalars(parsed_cfg, runner, mode, self.log_with_hierarchy)
        non_scalars = self._collect_non_scalars(runner, mode)

        tag: OrderedDict[str, Any] = OrderedDict()
        time_tag: OrderedDict[str, Any] = OrderedDict()
        time_keys = ('time', 'data_time', f'{mode}/time', f'{mode}/data_time')
        for key, value in scalars.items():
            (time_tag if key in time_keys else tag)[key] = value
        items = [f'{name}: {self._format(value)}'
                 for name, value in chain(tag.items(), non_scalars.items(), time_tag.items())]
        log_str += '  '.join(items)
        if with_non_scalar:
            tag.update(non_scalars)
        tag.update(time_tag)
        return dict(tag), log_str.rstrip()

    # ----------------------------------------------------------------- helpers
    def _format(self, value: Any) -> str:
        if isinstance(value, float):
            return f'{value:.{self.num_digits}f}'
        if hasattr(value, 'shape') and getattr(value, 'ndim', 0) > 0:
            # Arrays and tensors get their own lines.
            return f'\n{value}\n'
        return f'{value}'

    def _parse_windows_size(self, runner, batch_idx: int, custom_cfg: list[dict]) -> list[dict]:
        """A copy of ``custom_cfg`` with 'epoch'/'global' windows turned into counts."""
        # Entries hold names and numbers: copying each dict leaves the caller's untouched.
        parsed = [dict(log_cfg) for log_cfg in custom_cfg]
        for log_cfg in parsed:
            window = log_cfg.get('window_size')
            if window == 'epoch':
                log_cfg['window_size'] = batch_idx + 1
            elif window == 'global':
                log_cfg['window_size'] = runner.iter + 1
            elif window is not None and not isinstance(window, int):
                raise TypeError(f'window_size must be an int, "epoch" or "global", got {window!r}')
        return parsed

    def _collect_scalars(self, custom_cfg: list[dict], runner, mode: str,
                         reserve_prefix: bool = False) -> OrderedDict:
        """The ``mode`` scalars of the hub, smoothed or current, plus the custom statistics."""
        prefix = f'{mode}/'
        uses_mean = self._key_uses_mean
        buffers: dict[str, Any] = {}
        tag: OrderedDict[str, Any] = OrderedDict()
        for key, buffer in runner.message_hub.log_scalars.items():
            if not key.startswith(prefix):
                continue
            if not reserve_prefix:
                key = key[len(prefix):]
            buffers[key] = buffer
            mean = uses_mean.get(key)
            if mean is None:
                mean = uses_mean[key] = self._mean_pattern.search(key) is not None
            tag[key] = buffer.mean(self.window_size) if mean else buffer.current()
        for log_cfg in custom_cfg:
            log_cfg = dict(log_cfg)
            data_src = log_cfg.pop('data_src')
            log_name = log_cfg.pop('log_name', data_src)
            if reserve_prefix:
                data_src, log_name = f'{prefix}{data_src}', f'{prefix}{log_name}'
            if data_src in buffers:
                tag[log_name] = buffers[data_src].statistics(**log_cfg)
        return tag

    def _collect_non_scalars(self, runner, mode: str) -> OrderedDict:
        """Runtime-info entries of ``mode`` (non-scalar metrics RuntimeInfoHook stored)."""
        prefix = f'{mode}/'
        infos: OrderedDict[str, Any] = OrderedDict()
        for key, value in runner.message_hub.runtime_info.items():
            if key.startswith(prefix):
                infos[key if self.log_with_hierarchy else key[len(prefix):]] = value
        return infos

    def _get_iter(self, runner, batch_idx: int) -> int:
        """1-based iteration shown in the header: within the epoch, or global."""
        return batch_idx + 1 if self.by_epoch else runner.iter + 1

    def _get_epoch(self, runner, mode: str, training: bool | None = None) -> int:
        """1-based epoch of a training line; for validation, the epochs trained so far.

        ``training``: ``training_started(runner)`` if the caller knows it already.
        """
        if mode == 'train':
            return runner.epoch + 1
        if mode == 'val':
            if training is None:
                training = training_started(runner)
            # The train loop counts the epoch as done before it validates.
            return runner.epoch if training else 0
        raise ValueError(f'only train and val lines show an epoch, got mode {mode!r}')

    def _dataloader_length(self, runner, mode: str) -> int:
        """``len`` of the ``mode`` loop's dataloader, asked once per dataloader and epoch.

        A DataLoader answers ``len`` by walking its batch sampler, sampler and dataset in
        Python, which costs more than the rest of the header on every line.
        """
        dataloader = self._get_cur_loop(runner, mode).dataloader
        epoch = runner.epoch
        known = self._dataloader_lengths.get(mode)
        if known is None or known[0] is not dataloader or known[1] != epoch:
            known = self._dataloader_lengths[mode] = (dataloader, epoch, len(dataloader))
        return known[2]

    @staticmethod
    def _get_cur_loop(runner, mode: str):
        # Only the loop asked for: the loop properties build on access, and a test run must not
        # build the training data.
        if mode not in ('train', 'val', 'test'):
            raise ValueError(f"mode must be 'train', 'val' or 'test', got {mode!r}")
        return getattr(runner, f'{mode}_loop')

    def _get_max_memory(self, runner) -> int | None:
        """Peak CUDA memory in MB since the last line (None without CUDA); resets the peak."""
        if self._cuda_available is None:  # it cannot change within a process
            import torch
            self._cuda_available = torch.cuda.is_available()
        if not self._cuda_available:
            return None
        from mmlite.device import get_max_cuda_memory
        return get_max_cuda_memory(getattr(runner.model, 'output_device', None))
