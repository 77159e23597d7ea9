"""LoggerHook: writes a log line (and the scalars to the visualizer) every few iterations."""
from __future__ import annotations

import json
import os
import os.path as osp
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmlite.registry import HOOKS

from .hook import DATA_BATCH, Hook
from .utils import check_local_backend, training_started


def _plain_for_json(value: Any) -> Any:
    """Tensors and arrays become (nested) lists, numpy scalars Python numbers."""
    if isinstance(value, dict):
        return {key: _plain_for_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_for_json(item) for item in value]
    if hasattr(value, 'tolist'):  # torch.Tensor, np.ndarray, np.generic
        return value.tolist()
    return value


@HOOKS.register_module()
class LoggerHook(Hook):
    """Ask ``runner.log_processor`` for a line every ``interval`` iterations and send it to
    ``runner.logger``, and the tag to ``runner.visualizer``; summarise val/test epochs.

    Between log lines it only compares integers, so the scalars stay unreduced.

    Args:
        interval: iterations between two training lines (within an epoch for epoch-based
            loops; val/test lines also use it).
        ignore_last: skip the line for the last iterations of an epoch that do not fill an
            interval (unless the epoch is shorter than ``interval``).
        interval_exp_name: iterations between two ``Exp name: ...`` lines.
        out_dir: a folder to copy the log files (``out_suffix``) into after the run, under a
            subfolder named like the work dir.
        out_suffix: suffixes of the log-dir files copied to ``out_dir``.
        keep_local: keep the local log files after copying them (only with ``out_dir``).
        log_metric_by_epoch: validation metrics go to the visualizer at step=epoch (else
            step=iter).
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, interval: int = 10, ignore_last: bool = True, interval_exp_name: int = 1000,
                 out_dir: str | Path | None = None,
                 out_suffix: str | Sequence[str] = ('.json', '.log', '.py', 'yaml'),
                 keep_local: bool = True, file_client_args: dict | None = None,
                 log_metric_by_epoch: bool = True, backend_args: dict | None = None) -> None:
        if not isinstance(interval, int) or isinstance(interval, bool) or interval <= 0:
            raise ValueError(f'LoggerHook interval must be a positive int, got {interval!r}')
        if not isinstance(ignore_last, bool):
            raise TypeError(f'LoggerHook ignore_last must be a bool, got {ignore_last!r}')
        if (not isinstance(interval_exp_name, int) or isinstance(interval_exp_name, bool)
                or interval_exp_name <= 0):
            raise ValueError(f'LoggerHook interval_exp_name must be a positive int, got '
                             f'{interval_exp_name!r}')
        if out_dir is not None and not isinstance(out_dir, (str, Path)):
            raise TypeError(f'LoggerHook out_dir must be a path or None, got {out_dir!r}')
        if isinstance(out_suffix, str):
            out_suffix = (out_suffix,)
        if not (isinstance(out_suffix, (list, tuple))
                and all(isinstance(suffix, str) for suffix in out_suffix)):
            raise TypeError(f'LoggerHook out_suffix must be a str or a sequence of str, got '
                            f'{out_suffix!r}')
        if not isinstance(keep_local, bool):
            raise TypeError(f'LoggerHook keep_local must be a bool, got {keep_local!r}')
        check_local_backend('LoggerHook', file_client_args=file_client_args,
                            backend_args=backend_args)
        self.interval = interval
        self.ignore_last = ignore_last
        self.interval_exp_name = interval_exp_name
        self.out_dir = None if out_dir is None else str(out_dir)
        self.out_suffix = tuple(out_suffix)
        self.keep_local = keep_local
        self.log_metric_by_epoch = log_metric_by_epoch
        self.json_log_path: str | None = None
        self._epoch_length: int | None = None  # len(train_dataloader), read once per epoch

    def before_run(self, runner) -> None:
        if self.out_dir is not None:
            basename = osp.basename(str(runner.work_dir).rstrip(osp.sep))
            self.out_dir = osp.join(self.out_dir, basename)
            runner.logger.info(f'Text logs will be copied to {self.out_dir} after the run.')
        self.json_log_path = f'{runner.timestamp}.json'

    # ----------------------------------------------------------------- training
    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: dict | None = None) -> None:
        # Most iterations end here, after three integer tests and no call into the runner.
        done = batch_idx + 1
        epoch_length = self._epoch_length
        if epoch_length is None:
            epoch_length = self._epoch_length = len(runner.train_dataloader)
        if (done % self.interval and done != epoch_length
                and (runner.iter + 1) % self.interval_exp_name):
            return
        end_of_epoch = done == epoch_length
        if end_of_epoch:
            self._epoch_length = None  # measured again in the next epoch
        # The intervals are positive (checked in __init__): plain modulo tests, as above.
        iters_done = runner.iter + 1
        if iters_done % self.interval_exp_name == 0 or end_of_epoch:
            runner.logger.info(f'Exp name: {runner.experiment_name}')
        due = done % self.interval == 0 or (
            end_of_epoch and (not self.ignore_last or epoch_length <= self.interval))
        if not due:
            return
        tag, log_str = runner.log_processor.get_log_after_iter(runner, batch_idx, 'train')
        runner.logger.info(log_str)
        runner.visualizer.add_scalars(tag, step=iters_done, file_path=self.json_log_path)

    def _after_train_iter_gap(self, runner, batch_idx: int) -> int | None:
        """Iterations after ``batch_idx`` to the next one whose after_train_iter does more
        than the three tests above (see Runner.train_iter_plan); None: not in this epoch."""
        done = batch_idx + 1
        gap = min(self.interval - done % self.interval,
                  self.interval_exp_name - (runner.iter + 1) % self.interval_exp_name)
        epoch_length = self._epoch_length
        if epoch_length is None:
            epoch_length = len(runner.train_dataloader)
        # Past the end: an iteration-based loop, whose batch_idx runs on past one epoch.
        return min(gap, epoch_length - done) if done < epoch_length else gap

    # ------------------------------------------------------------ val and test
    def after_val_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                       outputs: Any = None) -> None:
        if self.every_n_inner_iters(batch_idx, self.interval):
            _, log_str = runner.log_processor.get_log_after_iter(runner, batch_idx, 'val')
            runner.logger.info(log_str)

    def after_test_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                        outputs: Any = None) -> None:
        if self.every_n_inner_iters(batch_idx, self.interval):
            _, log_str = runner.log_processor.get_log_after_iter(runner, batch_idx, 'test')
            runner.logger.info(log_str)

    def after_val_epoch(self, runner, metrics: dict[str, float] | None = None) -> None:
        tag, log_str = runner.log_processor.get_log_after_epoch(
            runner, len(runner.val_dataloader), 'val')
        runner.logger.info(log_str)
        # Outside training (runner.val()) there is no epoch or iteration yet: step 0.
        training = training_started(runner)
        if self.log_metric_by_epoch:
            step = runner.epoch if training else 0
        else:
            step = runner.iter if training else 0
        runner.visualizer.add_scalars(tag, step=step, file_path=self.json_log_path)

    def after_test_epoch(self, runner, metrics: dict[str, float] | None = None) -> None:
        tag, log_str = runner.log_processor.get_log_after_epoch(
            runner, len(runner.test_dataloader), 'test', with_non_scalar=True)
        runner.logger.info(log_str)
        if runner.rank != 0:  # every rank holds the same metrics; one file is enough
            return
        os.makedirs(runner.log_dir, exist_ok=True)
        with open(osp.join(runner.log_dir, self.json_log_path or 'test_results.json'), 'w') as f:
            json.dump(_plain_for_json(tag), f)

    # --------------------------------------------------------------------- end
    def after_run(self, runner) -> None:
        runner.visualizer.close()
        if self.out_dir is None:
            return
        copied = []
        for root, _, files in os.walk(runner.log_dir):
            for name in sorted(files):
                if not name.endswith(self.out_suffix):
                    continue
                local = osp.join(root, name)
                target = osp.join(self.out_dir, osp.relpath(local, runner.log_dir))
                os.makedirs(osp.dirname(target), exist_ok=True)
                shutil.copyfile(local, target)
                copied.append(local)
                runner.logger.info(f'The file {local} has been copied to {target}.')
        if not self.keep_local:
            self._remove_local(runner, copied)

    @staticmethod
    def _remove_local(runner, files: list[str]) -> None:
        import logging
        runner.logger.info(f'Removing the local copies of {len(files)} log files '
                           f'(keep_local=False).')
        # Close file handlers first: an open log file cannot be removed on Windows.
        for handler in getattr(runner.logger, 'handlers', []):
            if isinstance(handler, logging.FileHandler):
                handler.close()
        for path in files:
            os.remove(path)
