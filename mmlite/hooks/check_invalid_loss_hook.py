"""CheckInvalidLossHook: stop, skip or warn when a training loss becomes NaN or infinite.

On by default in mmlite (``default_hooks.check_invalid_loss``; set it to None to turn it off).
With ``action='raise'`` or ``'warn'`` it adds no host-device sync per iteration: the losses
stay tensors in the message hub, and every ``interval`` iterations (aligned with the logger's
lines, which read the same values) and before every checkpoint is written, it reads all the
values since the last check in one batched transfer and reports the first bad iteration. A
checkpoint is therefore never written after a non-finite loss went unnoticed.
"""
from __future__ import annotations

import math
import os
from typing import Any

from mmlite.registry import HOOKS

from .hook import DATA_BATCH, Hook

_ACTIONS = ('raise', 'skip', 'warn')


class NonFiniteLossError(FloatingPointError):
    """Training stopped because a loss became NaN or infinite; the message says where."""

    # tools/train.py prints this as one error line rather than a traceback.
    mmlite_clear_error = True


def _optim_wrappers(optim_wrapper: Any) -> list:
    """The OptimWrapper(s) of ``runner.optim_wrapper`` (a wrapper or an OptimWrapperDict)."""
    return list(optim_wrapper.values()) if hasattr(optim_wrapper, 'values') else [optim_wrapper]


def _last_complete_checkpoint(work_dir: str) -> str | None:
    """What ``work_dir/last_checkpoint`` points to: it moves only once a file is complete."""
    pointer = os.path.join(work_dir, 'last_checkpoint')
    if not os.path.isfile(pointer):
        return None
    with open(pointer) as f:
        return f.read().strip() or None


@HOOKS.register_module()
class CheckInvalidLossHook(Hook):
    """Check the training losses for NaN and infinity.

    Args:
        interval: iterations between two checks; a checkpoint save always checks first.
        action: ``'raise'`` stops training with an error naming the first bad iteration and
            the loss keys (checkpoints written before stay finite); ``'warn'`` logs that and
            trains on; ``'skip'`` skips the update of every iteration whose loss is not finite
            (the optimizer wrapper checks each loss, which costs one host-device sync per
            iteration on a GPU) and reports the skipped iterations every ``interval``.
    """

    priority = 'NORMAL'  # as MMEngine's; after RuntimeInfoHook, before CheckpointHook

    def __init__(self, interval: int = 50, action: str = 'raise') -> None:
        if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
            raise ValueError(f'CheckInvalidLossHook interval must be a positive int, got {interval!r}')
        if action not in _ACTIONS:
            raise ValueError(f'CheckInvalidLossHook action must be one of {_ACTIONS}, got {action!r}')
        self.interval = interval
        self.action = action
        self._loss_keys: list[str] = []  # hub keys of the model's losses, e.g. 'train/loss'
        self._num_outputs = -1
        self._checked_through = 0  # iterations done at the last check (the current one, inside it)

    def before_train(self, runner) -> None:
        self._checked_through = runner.iter
        if self.action == 'skip':
            for wrapper in _optim_wrappers(runner.optim_wrapper):
                wrapper.skip_nonfinite_loss = True

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: dict | None = None) -> None:
        if outputs is not None and len(outputs) != self._num_outputs:
            self._num_outputs = len(outputs)
            self._loss_keys = [f'train/{key}' for key in outputs if 'loss' in key]
        done = runner.iter + 1  # runner.iter counts the iterations before this one
        if done % self.interval == 0:
            self._check(runner, done)

    def _after_train_iter_gap(self, runner, batch_idx: int) -> int:
        """The loop calls after_train_iter only every ``interval`` iterations (see
        Runner.train_iter_plan): the check reads all the losses since the last one anyway."""
        return self.interval - (runner.iter + 1) % self.interval

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # The checkpoint names the iterations it holds, whether it is saved by epoch (after the
        # counter moved on) or by iteration (before).
        done = checkpoint.get('meta', {}).get('iter', runner.iter)
        self._check(runner, done, saving=True)

    def after_train(self, runner) -> None:
        self._check(runner, runner.iter)

    # ------------------------------------------------------------------ checks
    def _check(self, runner, done: int, saving: bool = False) -> None:
        """Check the losses of the iterations after the last check, up to ``done`` in all."""
        if self.action == 'skip':
            self._report_skipped(runner)
            return
        count = done - self._checked_through
        self._checked_through = done
        if count <= 0:
            return
        bad = self._first_bad(runner, count)
        if bad is None:
            return
        iteration, values = bad
        listed = ', '.join(f'{key}={value}' for key, value in values.items())
        message = (f'non-finite loss at iteration {iteration}: {listed} (checked iterations '
                   f'{done - count + 1}-{done}).')
        if self.action == 'warn':
            suffix = ' The checkpoint being saved holds the weights after it.' if saving else ''
            runner.logger.warning(f'{message} Training goes on (CheckInvalidLossHook action='
                                  f'"warn").{suffix}')
            return
        last = _last_complete_checkpoint(str(runner.work_dir))
        kept = f' The last checkpoint, {last}, is from before it.' if last else ''
        raise NonFiniteLossError(
            f'{message} Training stopped{" before saving a checkpoint" if saving else ""}.{kept} '
            'Lower the learning rate or clip gradients (optim_wrapper.clip_grad=dict(max_norm=...)), '
            'or set default_hooks.check_invalid_loss.action to "skip" (skip such steps) or "warn".')

    def _first_bad(self, runner, count: int) -> tuple[int, dict[str, float]] | None:
        """(iteration, {loss key: value}) of the first non-finite loss among the last ``count``."""
        scalars = runner.message_hub.log_scalars  # read once: each read flushes the hub's writers
        buffers = {key[len('train/'):]: scalars[key] for key in self._loss_keys
                   if key in scalars and len(scalars[key])}
        # A window mean reads every pending tensor in one transfer and is finite only when
        # every value in it is.
        suspects = {key: buffer for key, buffer in buffers.items()
                    if not math.isfinite(buffer.mean(min(count, len(buffer))))}
        if not suspects:
            return None
        first: dict[str, tuple[int, float]] = {}
        for key, buffer in suspects.items():
            window = buffer.data[0][-min(count, len(buffer)):]
            offset = count - len(window)  # a key logged less often than every iteration
            for pos, value in enumerate(window):
                if not math.isfinite(value):
                    first[key] = (pos + offset, float(value))
                    break
        if not first:  # finite values whose sum overflowed
            return None
        first_pos = min(pos for pos, _ in first.values())
        values = {key: value for key, (pos, value) in first.items() if pos == first_pos}
        return self._checked_through - count + first_pos + 1, values

    def _report_skipped(self, runner) -> None:
        skipped = []
        for wrapper in _optim_wrappers(runner.optim_wrapper):
            skipped.extend(getattr(wrapper, 'skipped_counts', ()))
            if hasattr(wrapper, 'skipped_counts'):
                wrapper.skipped_counts.clear()
        if skipped:
            runner.logger.warning(f'skipped the update of iteration(s) {sorted(set(skipped))}: '
                                  'their loss was NaN or infinite (CheckInvalidLossHook action="skip")')
