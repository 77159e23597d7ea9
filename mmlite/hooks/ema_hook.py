"""EMAHook: keeps an exponential moving average of the weights and evaluates/saves with it."""
from __future__ import annotations

import copy
import itertools
from typing import Any

from mmlite.registry import HOOKS, MODELS

from .hook import DATA_BATCH, Hook


@HOOKS.register_module()
class EMAHook(Hook):
    """Average the model's weights after every training iteration into an averaged model
    (``ema_type``, built from MODELS), swap the average in for validation and testing, and
    store it in checkpoints.

    A checkpoint's ``state_dict`` holds the averaged weights (ready for deployment) and its
    ``ema_state_dict`` the raw training weights (under ``module.``) plus the step count; loading
    such a checkpoint swaps them back, so a resumed run continues both.

    Args:
        ema_type: the averaged-model class, e.g. 'ExponentialMovingAverage'.
        strict_load: load ``ema_state_dict`` strictly.
        begin_iter / begin_epoch: start averaging from this iteration / epoch (set at most one);
            until then the average just follows the model.
        **kwargs: arguments of the averaged model (momentum, interval, update_buffers, ...).
    """

    priority = 'NORMAL'

    def __init__(self, ema_type: str = 'ExponentialMovingAverage', strict_load: bool = False,
                 begin_iter: int = 0, begin_epoch: int = 0, **kwargs: Any) -> None:
        if begin_iter != 0 and begin_epoch != 0:
            raise ValueError(f'EMAHook: set begin_iter or begin_epoch, not both (got '
                             f'begin_iter={begin_iter}, begin_epoch={begin_epoch})')
        if begin_iter < 0 or begin_epoch < 0:
            raise ValueError(f'EMAHook: begin_iter and begin_epoch must be >= 0, got '
                             f'{begin_iter} and {begin_epoch}')
        self.strict_load = strict_load
        self.ema_cfg = dict(type=ema_type, **kwargs)
        self.begin_iter = begin_iter
        self.begin_epoch = begin_epoch
        self.enabled_by_epoch = begin_epoch > 0

    def before_run(self, runner) -> None:
        from mmlite.model import is_model_wrapper
        model = runner.model
        self.src_model = model.module if is_model_wrapper(model) else model
        self.ema_model = MODELS.build(self.ema_cfg, default_args=dict(model=self.src_model))

    def before_train(self, runner) -> None:
        if self.enabled_by_epoch and self.begin_epoch > runner.max_epochs:
            raise ValueError(f'EMAHook begin_epoch={self.begin_epoch} is beyond max_epochs='
                             f'{runner.max_epochs}: the average would never start')
        if not self.enabled_by_epoch and self.begin_iter > runner.max_iters:
            raise ValueError(f'EMAHook begin_iter={self.begin_iter} is beyond max_iters='
                             f'{runner.max_iters}: the average would never start')

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: dict | None = None) -> None:
        if self._ema_started(runner):
            self.ema_model.update_parameters(self.src_model)
            return
        # Not started yet: the average mirrors the model, so it starts from current weights.
        import torch
        source = self.src_model.state_dict()
        with torch.no_grad():
            for key, tensor in self.ema_model.module.state_dict().items():
                tensor.copy_(source[key])

    def before_val_epoch(self, runner) -> None:
        self._swap_ema_parameters()

    def after_val_epoch(self, runner, metrics: dict[str, float] | None = None) -> None:
        self._swap_ema_parameters()

    def before_test_epoch(self, runner) -> None:
        self._swap_ema_parameters()

    def after_test_epoch(self, runner, metrics: dict[str, float] | None = None) -> None:
        self._swap_ema_parameters()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['ema_state_dict'] = self.ema_model.state_dict()
        # Swap dict entries, not the model's tensors: training continues untouched.
        self._swap_ema_state_dict(checkpoint)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'ema_state_dict' in checkpoint:
            # Undo the swap of before_save_checkpoint: the model gets its raw weights back.
            self._swap_ema_state_dict(checkpoint)
            self.ema_model.load_state_dict(checkpoint['ema_state_dict'], strict=self.strict_load)
            return
        runner.logger.warning('The checkpoint has no "ema_state_dict"; EMAHook starts the '
                              'average from its "state_dict".')
        from mmlite.runner.checkpoint import load_state_dict
        load_state_dict(self.ema_model.module, copy.deepcopy(checkpoint['state_dict']),
                        strict=self.strict_load)

    # ----------------------------------------------------------------- helpers
    def _swap_ema_parameters(self) -> None:
        """Exchange the values of the model's and the average's parameters (and buffers when
        the average tracks them)."""
        import torch
        if self.ema_model.update_buffers:
            averaged = itertools.chain(self.ema_model.module.parameters(),
                                       self.ema_model.module.buffers())
            source = itertools.chain(self.src_model.parameters(), self.src_model.buffers())
        else:
            averaged, source = self.ema_model.module.parameters(), self.src_model.parameters()
        with torch.no_grad():
            for p_avg, p_src in zip(averaged, source, strict=True):
                held = p_avg.detach().clone()
                p_avg.copy_(p_src.detach())
                p_src.copy_(held)

    @staticmethod
    def _swap_ema_state_dict(checkpoint: dict) -> None:
        """Exchange ``ema_state_dict['module.<k>']`` and ``state_dict['<k>']`` entries."""
        model_state, ema_state = checkpoint['state_dict'], checkpoint['ema_state_dict']
        for key in ema_state:
            if key.startswith('module.') and key[7:] in model_state:
                ema_state[key], model_state[key[7:]] = model_state[key[7:]], ema_state[key]

    def _ema_started(self, runner) -> bool:
        if self.enabled_by_epoch:
            return runner.epoch + 1 >= self.begin_epoch
        return runner.iter + 1 >= self.begin_iter
