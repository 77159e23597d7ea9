"""The Runner's checkpoint methods: save, load weights, resume the whole training state.

Files are written atomically and read with the weights-only loader (see checkpoint.py); what a
checkpoint holds is listed in training_state.py.
"""
from __future__ import annotations

import os.path as osp
from typing import Any

from .checkpoint import (CheckpointError, UnsafeCheckpointError, _load_checkpoint, _revise,
                         load_state_dict, resume_candidates)
from .checkpoint import save_checkpoint as write_checkpoint
from .env import set_rng_state
from .training_state import collect_training_state, restore_training_state


class CheckpointMixin:
    """save_checkpoint / load_checkpoint / resume, as MMEngine's Runner has them."""

    def _weights_only(self) -> bool:
        return not self.cfg.get('allow_unsafe_checkpoint', False)

    def save_checkpoint(self, out_dir: str, filename: str, file_client_args: Any = None,
                        save_optimizer: bool = True, save_param_scheduler: bool = True,
                        meta: dict | None = None, by_epoch: bool = True, backend_args: Any = None) -> str:
        """Save the training state; call it from a hook at ``after_train_epoch`` (by_epoch) or
        ``after_train_iter``. Written atomically, by rank 0; returns the path."""
        if by_epoch:  # after_train_epoch runs before the epoch counter moves on
            epoch, iteration = self.epoch + 1, self.iter
        else:
            epoch, iteration = self.epoch, self.iter + 1
        return self._save_at(out_dir, filename, epoch, iteration, save_optimizer, save_param_scheduler, meta)

    def _save_at(self, out_dir: str, filename: str, epoch: int, iteration: int,
                 save_optimizer: bool = True, save_param_scheduler: bool = True,
                 meta: dict | None = None) -> str:
        checkpoint = collect_training_state(self, epoch, iteration, save_optimizer, save_param_scheduler, meta)
        self.call_hook('before_save_checkpoint', checkpoint=checkpoint)
        path = osp.join(out_dir, filename)
        if self.rank == 0:
            write_checkpoint(checkpoint, path)
        return osp.abspath(path)

    def load_checkpoint(self, filename: str, map_location: Any = 'cpu', strict: bool = False,
                        revise_keys: list = ((r'^module\.', ''),)) -> dict:
        """Load model weights (not the training state) from ``filename``."""
        checkpoint = _load_checkpoint(filename, map_location, self._weights_only())
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        state_dict = checkpoint.get('state_dict', checkpoint)
        load_state_dict(self.model, _revise(state_dict, revise_keys), strict=strict, logger=self.logger)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def resume(self, filename: str, resume_optimizer: bool = True, resume_param_scheduler: bool = True,
               map_location: Any = 'default') -> None:
        """Restore the whole training state from ``filename`` (call after the train parts exist)."""
        checkpoint = _load_checkpoint(filename, 'cpu', self._weights_only())
        rng_state = self._apply_resume(checkpoint, filename, resume_optimizer, resume_param_scheduler)
        if rng_state is not None:
            set_rng_state(rng_state)

    def _apply_resume(self, checkpoint: dict, filename: str, resume_optimizer: bool = True,
                      resume_param_scheduler: bool = True) -> dict | None:
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        self._build_train_parts()
        rng_state = restore_training_state(self, checkpoint, resume_optimizer, resume_param_scheduler)
        state_dict = checkpoint.get('state_dict', checkpoint)
        load_state_dict(self.model, _revise(state_dict, [(r'^module\.', '')]),
                        strict=self.cfg.get('resume_strict', False), logger=self.logger)
        self._has_loaded = True
        self.logger.info(f'resumed from {filename} at epoch {self.epoch}, iter {self.iter}')
        return rng_state

    def _read_resume_checkpoint(self) -> tuple[str, dict] | None:
        """The checkpoint to resume from, read early so its seed can shape the data order.

        On auto-resume a corrupt or truncated latest file is reported and the next newest
        complete one is used.
        """
        if self._has_loaded or not self._resume:
            return None
        if self._load_from is not None:
            return self._load_from, _load_checkpoint(self._load_from, 'cpu', self._weights_only())
        unreadable = []
        for path in resume_candidates(self._work_dir):
            try:
                return path, _load_checkpoint(path, 'cpu', self._weights_only())
            except UnsafeCheckpointError:
                raise  # not damaged: the user must decide whether to trust it
            except CheckpointError as exc:
                self.logger.warning(f'{exc}; trying the previous checkpoint')
                unreadable.append(path)
            except FileNotFoundError:
                self.logger.warning(f'last_checkpoint points to {path}, which is gone; trying the previous')
        if unreadable:
            raise CheckpointError(
                f'resume=True found no readable checkpoint in {self._work_dir}: '
                f'{", ".join(unreadable)} are corrupt or truncated. Resume from another file with '
                '--resume PATH (load_from=PATH, resume=True), or move them away to start from scratch.')
        self.logger.info(f'resume=True but {self._work_dir} has no checkpoint yet: starting from scratch')
        return None

    def _adopt_checkpoint_seed(self, resume: tuple[str, dict]) -> None:
        seed = resume[1].get('meta', {}).get('seed')
        if seed is None or seed == self._seed:
            return
        if self._randomness_cfg.get('seed') is not None:
            self.logger.warning(f'the checkpoint was trained with seed {seed}, the config says '
                                f'{self._randomness_cfg["seed"]}: continuing with the checkpoint\'s')
        self._randomness_cfg['seed'] = seed
        self.set_randomness(**self._randomness_cfg)

    def _load_or_resume(self, resume: tuple[str, dict] | None) -> dict | None:
        """Resume training or load ``load_from``; returns the RNG state to restore, if any."""
        if self._has_loaded:
            return None
        if resume is not None:
            return self._apply_resume(resume[1], resume[0])
        if self._load_from is not None:
            self.load_checkpoint(self._load_from)
        return None

    def _load_for_evaluation(self) -> None:
        """Before val/test: the weights of ``load_from``, or with resume=True the latest checkpoint."""
        if self._has_loaded:
            return
        if self._load_from is not None:
            self.load_checkpoint(self._load_from)
        elif self._resume:
            latest = self._read_resume_checkpoint()
            if latest is not None:
                self.load_checkpoint(latest[0])
