"""Keeping a run safe: undo a failed setup, and stop cleanly on a preemption signal.

Mixed into the Runner; kept apart so the Runner's own file stays about coordination.
"""
from __future__ import annotations

import logging
import os
import os.path as osp
import shutil
import signal
import threading
from contextlib import contextmanager

import torch

from .checkpoint import write_text_atomic

EXIT_PREEMPTED = 75  # EX_TEMPFAIL: a scheduler may requeue the job, and --resume continues it


class TrainingPreempted(SystemExit):
    """Raised after a preemption signal once the state is saved; exits with EXIT_PREEMPTED."""

    def __init__(self, message: str) -> None:
        super().__init__(EXIT_PREEMPTED)
        self.message = message


class _Preempted(Exception):
    """Unwinds the training loop at an iteration boundary after a preemption signal."""


@contextmanager
def _mark_run_errors():
    """Tag errors raised while a loop runs: the command line keeps their traceback.

    Errors whose class sets ``mmlite_clear_error`` (e.g. a non-finite loss) explain themselves
    and stay one line.
    """
    try:
        yield
    except Exception as exc:
        if not getattr(exc, 'mmlite_clear_error', False):
            exc._mmlite_during_run = True
        raise


class RunSafety:
    """Setup rollback and preemption handling for the Runner."""

    @contextmanager
    def _setup_guard(self):
        """If setting up a loop fails, remove what this run wrote so work_dir stays as it was."""
        try:
            yield
        except BaseException:
            self._discard_created()
            raise

    def _discard_created(self) -> None:
        logger = getattr(self, 'logger', None)
        if logger is not None:
            for handler in list(logger.handlers):
                if isinstance(handler, logging.FileHandler):
                    logger.removeHandler(handler)
                    handler.close()
        visualizer = getattr(self, 'visualizer', None)
        if visualizer is not None and hasattr(visualizer, 'close'):
            visualizer.close()
        for path in reversed(self._created):
            if path == self._work_dir:
                if osp.isdir(path) and not os.listdir(path):
                    os.rmdir(path)
            elif osp.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
        self._created = []

    @contextmanager
    def _preemption_signals(self):
        """SIGTERM/SIGUSR1 during training: finish the iteration, save, exit with EXIT_PREEMPTED."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        wanted = [signal.SIGTERM] + ([signal.SIGUSR1] if hasattr(signal, 'SIGUSR1') else [])
        previous = {sig: signal.getsignal(sig) for sig in wanted}

        def handler(signum, frame):
            self._preempt_signal = signum

        for sig in wanted:
            signal.signal(sig, handler)
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    def _check_preemption(self) -> None:
        """Called after every training iteration; cheap unless a signal arrived."""
        if self._distributed:
            # Ranks must stop at the same iteration: agree every 10 iterations.
            if self.iter % 10:
                return
            from mmlite.dist import all_reduce, get_comm_device
            flag = torch.tensor([0 if self._preempt_signal is None else self._preempt_signal],
                                device=get_comm_device())
            all_reduce(flag, op='max')
            if int(flag.item()):
                self._preempt_signal = int(flag.item())
        if self._preempt_signal is not None:
            raise _Preempted()

    def _stop_preempted(self) -> None:
        name = signal.Signals(self._preempt_signal).name
        path = self._save_at(self._work_dir, f'iter_{self.iter}.pth', self.epoch, self.iter)
        if self.rank == 0:
            write_text_atomic(osp.join(self._work_dir, 'last_checkpoint'), path)
        message = (f'{name} received: stopped after iteration {self.iter}, saved {path}; run again with '
                   f'--resume (or resume=True) to continue exactly from there')
        self.logger.warning(message)
        self.visualizer.close()
        raise TrainingPreempted(message)
