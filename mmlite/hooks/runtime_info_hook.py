"""RuntimeInfoHook: keeps the message hub's runtime facts (epoch, iter, lr, losses) current."""
from __future__ import annotations

import operator
from collections import OrderedDict
from typing import Any

from mmlite.registry import HOOKS

from .hook import DATA_BATCH, Hook


_COPYABLE = (OrderedDict, dict)  # the outputs parse_losses and most train_steps return
_VALUES = operator.methodcaller('values')  # each dict's own values(), called from C


def _scalar_or_none(value: Any) -> Any:
    """``value`` in a form the hub's scalar history takes, or None if it is not one number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    size = getattr(value, 'size', None)
    numel = getattr(value, 'numel', None)
    if callable(numel):  # a tensor: kept as is, the history reduces it lazily
        return value if numel() == 1 else None
    if size == 1 and hasattr(value, 'item'):  # a numpy scalar or 1-element array
        return value.item()
    return None


@HOOKS.register_module()
class RuntimeInfoHook(Hook):
    """Write epoch, iter, max_epochs, max_iters, the learning rates, the model's log variables
    and evaluation metrics into ``runner.message_hub`` for the other hooks and the log processor.

    Runs first (VERY_HIGH) so every later hook sees this iteration's numbers. Per training
    iteration it only hands values over: losses stay tensors until a log line reduces them.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self.last_loop_stage: str | None = None
        self._train_keys: dict[str, str] = {}  # 'loss' -> 'train/loss', built once per key
        self._plain_lr_type: type | None = None  # a wrapper class whose get_lr() is the base one
        # Per-iteration values held back from the hub until someone reads it (see MessageHub):
        # the training iteration number, lrs (floats, or get_lr() dicts) and model outputs.
        self._deferring = False  # from the second training iteration on
        self._hub: Any = None  # the runner's hub, held during training
        self._held_iter: int | None = None
        self._held_lrs: list = []
        self._held_lr_dicts: list[dict] = []
        self._held_outputs: list[dict] = []

    def before_run(self, runner) -> None:
        from mmlite.version import __version__
        runner.message_hub.update_info_dict(dict(
            cfg=getattr(runner.cfg, 'pretty_text', '') if runner.cfg is not None else '',
            seed=runner.seed, experiment_name=runner.experiment_name,
            mmlite_version=__version__))
        self.last_loop_stage = None

    def before_train(self, runner) -> None:
        from mmlite.optim.optimizer.base import BaseOptimWrapper
        hub = self._hub = runner.message_hub
        wrapper_type = type(runner.optim_wrapper)
        self._plain_lr_type = wrapper_type if wrapper_type.get_lr is BaseOptimWrapper.get_lr else None
        hub.update_info('loop_stage', 'train')
        hub.update_info('epoch', runner.epoch)
        hub.update_info('iter', runner.iter)
        hub.update_info('max_epochs', runner.max_epochs)
        hub.update_info('max_iters', runner.max_iters)
        dataset = getattr(runner.train_dataloader, 'dataset', None)
        if hasattr(dataset, 'metainfo'):
            hub.update_info('dataset_meta', dataset.metainfo)
        # The first iteration writes eagerly, so the hub's keys appear in their usual order.
        self._deferring = False
        hub.add_deferred_writer(self._flush)

    def after_train(self, runner) -> None:
        runner.message_hub.remove_deferred_writer(self._flush)
        self._hub, self._deferring = None, False
        runner.message_hub.pop_info('loop_stage')

    def before_train_epoch(self, runner) -> None:
        runner.message_hub.update_info('epoch', runner.epoch)

    def before_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None) -> None:
        optim_wrapper = runner.optim_wrapper
        if self._deferring:
            self._held_iter = runner.iter
            if type(optim_wrapper) is self._plain_lr_type:
                # The usual wrapper: the first group's lr, without building get_lr()'s dict.
                self._held_lrs.append(optim_wrapper.optimizer.param_groups[0]['lr'])
            else:
                self._held_lr_dicts.append(self._lr_dict(optim_wrapper))
            return
        hub = runner.message_hub
        hub.update_info('iter', runner.iter)
        if type(optim_wrapper) is self._plain_lr_type:
            hub.update_scalar('train/lr', optim_wrapper.optimizer.param_groups[0]['lr'])
            return
        self._write_lrs(hub, self._lr_dict(optim_wrapper))

    @staticmethod
    def _lr_dict(optim_wrapper: Any) -> dict:
        lr_dict = optim_wrapper.get_lr()
        if not isinstance(lr_dict, dict):
            raise TypeError(f'runner.optim_wrapper.get_lr() must return a dict such as '
                            f'{{"lr": [0.01]}}, got {type(lr_dict).__name__}; build the optimizer '
                            f'as an OptimWrapper or OptimWrapperDict')
        return lr_dict

    def _write_lrs(self, hub, lr_dict: dict) -> None:
        keys = self._train_keys
        for name, lr in lr_dict.items():
            # The first parameter group's value stands for the optimizer, as in MMEngine.
            hub.update_scalar(keys.get(name) or self._train_key(name), lr[0])

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: dict | None = None) -> None:
        if self._deferring:
            if outputs is not None:
                # A copy: a later hook may add to the dict; the hub keeps what came out of the step.
                # .copy() of parse_losses' OrderedDict costs half of dict(outputs).
                self._held_outputs.append(outputs.copy() if type(outputs) in _COPYABLE else dict(outputs))
            return
        self._deferring = self._hub is not None  # held back only once the hub runs _flush
        if outputs is None:
            return
        hub = runner.message_hub
        keys = self._train_keys
        for key, value in outputs.items():
            hub.update_scalar(keys.get(key) or self._train_key(key), value)

    def _flush(self) -> None:
        """Hand the held-back values to the hub, oldest first (MessageHub runs this before
        anyone reads it)."""
        hub = self._hub
        if self._held_iter is not None:
            hub.update_info('iter', self._held_iter)
            self._held_iter = None
        if self._held_lrs:
            lrs, self._held_lrs = self._held_lrs, []
            hub.extend_scalar('train/lr', lrs)
        if self._held_lr_dicts:
            lr_dicts, self._held_lr_dicts = self._held_lr_dicts, []
            for lr_dict in lr_dicts:
                self._write_lrs(hub, lr_dict)
        if self._held_outputs:
            outputs, self._held_outputs = self._held_outputs, []
            names = tuple(outputs[0])
            if all(map(names.__eq__, map(tuple, outputs))):  # the same losses, in the same order
                columns = dict(zip(names, map(list, zip(*map(_VALUES, outputs)))))
            else:
                columns = {}
                for output in outputs:
                    for key, value in output.items():
                        columns.setdefault(key, []).append(value)
            keys = self._train_keys
            for key, values in columns.items():
                hub.extend_scalar(keys.get(key) or self._train_key(key), values)

    def _train_key(self, key: str) -> str:
        prefixed = self._train_keys.get(key)
        if prefixed is None:
            prefixed = self._train_keys[key] = f'train/{key}'
        return prefixed

    def before_val(self, runner) -> None:
        self.last_loop_stage = runner.message_hub.get_info('loop_stage')
        runner.message_hub.update_info('loop_stage', 'val')

    def after_val_epoch(self, runner, metrics: dict[str, float] | None = None) -> None:
        self._record_metrics(runner, metrics, 'val')

    def after_val(self, runner) -> None:
        # Validation inside training hands the stage back to 'train'.
        if self.last_loop_stage == 'train':
            runner.message_hub.update_info('loop_stage', 'train')
            self.last_loop_stage = None
        else:
            runner.message_hub.pop_info('loop_stage')

    def before_test(self, runner) -> None:
        runner.message_hub.update_info('loop_stage', 'test')

    def after_test_epoch(self, runner, metrics: dict[str, float] | None = None) -> None:
        self._record_metrics(runner, metrics, 'test')

    def after_test(self, runner) -> None:
        runner.message_hub.pop_info('loop_stage')

    @staticmethod
    def _record_metrics(runner, metrics: dict | None, mode: str) -> None:
        """Scalar metrics go to the scalar histories, others (arrays, dicts) to runtime info."""
        if not metrics:
            return
        hub = runner.message_hub
        for key, value in metrics.items():
            scalar = _scalar_or_none(value)
            if scalar is not None:
                hub.update_scalar(f'{mode}/{key}', scalar)
            else:
                hub.update_info(f'{mode}/{key}', value)
