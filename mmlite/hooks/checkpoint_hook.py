"""CheckpointHook: saves checkpoints at intervals, keeps the best ones, rotates old ones.

Order of operations keeps a crash harmless: the new checkpoint is written completely (the
runner writes atomically), then the ``last_checkpoint`` pointer is replaced atomically, and
only then are superseded files (old rotations, the previous best) deleted. With
``background_fsync`` (the default) the training loop waits only for the file to be written;
its fsync, then the pointer, then the deletions follow in that order in a background thread
(see mmlite/runner/checkpoint_writer.py), and ``after_train`` waits for them.
"""
from __future__ import annotations

import hashlib
import io
import os
import os.path as osp
from collections import deque
from math import inf
from pathlib import Path
from typing import Any

from mmlite.registry import HOOKS

from .hook import DATA_BATCH, Hook
from .metric_rules import DEFAULT_GREATER_KEYS, DEFAULT_LESS_KEYS, RULES, check_rule, infer_rule
from .utils import check_local_backend


def _str_list(value: Any, name: str) -> list[str] | None:
    """None, a str, or a list/tuple of distinct str, as a list (None stays None)."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
        raise TypeError(f'CheckpointHook {name} must be a str, a list of str or None, got {value!r}')
    if len(set(items)) != len(items):
        raise ValueError(f'CheckpointHook {name} has duplicates: {list(items)}')
    return list(items)


@HOOKS.register_module()
class CheckpointHook(Hook):
    """Save checkpoints every ``interval`` epochs (or iterations) and the best ones by metric.

    Args:
        interval: epochs/iterations between saves; -1 saves only the last one (``save_last``).
        by_epoch: count ``interval`` in epochs (else iterations).
        save_optimizer, save_param_scheduler: include those states (needed to resume).
        out_dir: where to save; defaults to the work dir. A given folder gets a subfolder named
            like the work dir.
        max_keep_ckpts: keep only this many interval checkpoints (-1 keeps all); best
            checkpoints are not counted.
        save_last: also save after the last epoch/iteration when it is off the interval.
        save_best: metric key(s) whose best value keeps a ``best_<key>_<epoch|iter>_N.pth``;
            ``'auto'`` takes the first metric the evaluator returns.
        rule: 'greater' or 'less' (one, or one per ``save_best`` key); None infers it from the
            key name with ``greater_keys`` / ``less_keys``.
        filename_tmpl: checkpoint name with one ``{}`` for the step; ``epoch_{}.pth`` or
            ``iter_{}.pth`` by default.
        published_keys: after training, also write a copy of the last and best checkpoints
            holding only these keys (e.g. ``['meta', 'state_dict']``), named with the first 8
            hex digits of its sha256, ready to share.
        save_begin: the first epoch/iteration counted by ``interval``.
        background_fsync: make saved files durable (fsync), then move the pointer and delete
            superseded files, in a background thread, so training does not wait for the disk
            (an mmlite addition). False does it all before training goes on.
        **kwargs: passed on to ``runner.save_checkpoint``.
    """

    priority = 'VERY_LOW'
    rule_map = RULES
    init_value_map = {'greater': -inf, 'less': inf}
    _default_greater_keys = list(DEFAULT_GREATER_KEYS)
    _default_less_keys = list(DEFAULT_LESS_KEYS)

    def __init__(self, interval: int = -1, by_epoch: bool = True, save_optimizer: bool = True,
                 save_param_scheduler: bool = True, out_dir: str | Path | None = None,
                 max_keep_ckpts: int = -1, save_last: bool = True,
                 save_best: str | list[str] | None = None, rule: str | list[str] | None = None,
                 greater_keys: str | list[str] | None = None,
                 less_keys: str | list[str] | None = None, file_client_args: dict | None = None,
                 filename_tmpl: str | None = None, backend_args: dict | None = None,
                 published_keys: str | list[str] | None = None, save_begin: int = 0,
                 background_fsync: bool = True, **kwargs: Any) -> None:
        check_local_backend('CheckpointHook', file_client_args=file_client_args,
                            backend_args=backend_args)
        if save_begin < 0:
            raise ValueError(f'CheckpointHook save_begin must be >= 0, got {save_begin}')
        self.interval = interval
        self.by_epoch = by_epoch
        self.save_optimizer = save_optimizer
        self.save_param_scheduler = save_param_scheduler
        self.out_dir = None if out_dir is None else str(out_dir)
        self._out_dir_cfg = self.out_dir
        self.max_keep_ckpts = max_keep_ckpts
        self.save_last = save_last
        self.args = kwargs
        self.save_begin = save_begin
        self.background_fsync = background_fsync
        self.filename_tmpl = filename_tmpl or ('epoch_{}.pth' if by_epoch else 'iter_{}.pth')
        if '{}' not in self.filename_tmpl:
            raise ValueError(f'CheckpointHook filename_tmpl needs a "{{}}" for the epoch/iter '
                             f'number, got {self.filename_tmpl!r}')

        self.save_best = _str_list(save_best, 'save_best')
        if self.save_best and 'auto' in self.save_best and len(self.save_best) > 1:
            raise ValueError(f'CheckpointHook save_best="auto" cannot be combined with other keys, '
                             f'got {self.save_best}')
        rules = [rule] if rule is None or isinstance(rule, str) else list(rule)
        for one in rules:
            check_rule(one, 'CheckpointHook rule')
        if self.save_best is not None and len(rules) not in (1, len(self.save_best)):
            raise ValueError(f'CheckpointHook needs one rule or one per save_best key '
                             f'({len(self.save_best)}), got {len(rules)}: {rules}')
        self.greater_keys = _str_list(greater_keys, 'greater_keys') or self._default_greater_keys
        self.less_keys = _str_list(less_keys, 'less_keys') or self._default_less_keys
        self.is_better_than: dict[str, Any] = {}
        self.key_indicators: list[str] = []
        self.rules: list[str | None] = []
        if self.save_best is not None:
            self._init_rule(rules, self.save_best)
            if len(self.key_indicators) == 1:
                self.best_ckpt_path: str | None = None
            else:
                self.best_ckpt_path_dict: dict[str, str | None] = {}

        self.published_keys = _str_list(published_keys, 'published_keys')
        self.last_ckpt: str | None = None
        self.keep_ckpt_ids: deque = deque()

    def _init_rule(self, rules: list[str | None], key_indicators: list[str]) -> None:
        """Fill ``rules``/``is_better_than`` per key, inferring missing rules from the names."""
        if len(rules) == 1:
            rules = rules * len(key_indicators)
        self.rules = []
        for rule, key in zip(rules, key_indicators, strict=True):
            if rule is None and key != 'auto':
                rule = infer_rule(key, self.greater_keys, self.less_keys)
                if rule is None:
                    raise ValueError(
                        f'CheckpointHook cannot tell whether a greater or a smaller {key!r} is '
                        f'better; set rule="greater" or rule="less" (or add the key to '
                        f'greater_keys/less_keys)')
            if rule is not None:
                self.is_better_than[key] = self.rule_map[rule]
            self.rules.append(rule)
        self.key_indicators = list(key_indicators)

    # ---------------------------------------------------------------- set up
    def before_train(self, runner) -> None:
        work_dir = str(runner.work_dir)
        if self._out_dir_cfg is None:
            self.out_dir = work_dir
        else:
            self.out_dir = osp.join(self._out_dir_cfg, osp.basename(work_dir.rstrip(osp.sep)))
        runner.logger.info(f'Checkpoints will be saved to {self.out_dir}.')
        from mmlite.runner.checkpoint import prepare_torch_save
        prepare_torch_save()  # a one-time cost of the first save, paid at setup instead
        hub = runner.message_hub
        # Resumed runs continue the previous run's bookkeeping.
        self.last_ckpt = hub.get_info('last_ckpt')
        if self.save_best is not None:
            if len(self.key_indicators) == 1:
                self.best_ckpt_path = hub.get_info('best_ckpt')
            else:
                for key in self.key_indicators:
                    self.best_ckpt_path_dict[key] = hub.get_info(f'best_ckpt_{key}')
        if self.max_keep_ckpts > 0:
            kept = list(hub.get_info('keep_ckpt_ids') or [])
            while len(kept) > self.max_keep_ckpts:
                self._remove_file(runner, self._ckpt_path(kept.pop(0)))
            self.keep_ckpt_ids = deque(kept)
            hub.update_info('keep_ckpt_ids', list(kept))

    # ----------------------------------------------------------- save points
    def after_train_epoch(self, runner) -> None:
        if not self.by_epoch:
            return
        if self.every_n_epochs(runner, self.interval, self.save_begin) or (
                self.save_last and self.is_last_train_epoch(runner)):
            runner.logger.info(f'Saving checkpoint at {runner.epoch + 1} epochs')
            self._save_checkpoint(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: dict | None = None) -> None:
        if self.by_epoch:
            return
        if self.every_n_train_iters(runner, self.interval, self.save_begin) or (
                self.save_last and self.is_last_train_iter(runner)):
            runner.logger.info(f'Saving checkpoint at {runner.iter + 1} iterations')
            self._save_checkpoint(runner)

    def _after_train_iter_gap(self, runner, batch_idx: int) -> int | None:
        """None when saving by epoch (after_train_iter returns at once), else every iteration
        (see Runner.train_iter_plan)."""
        return None if self.by_epoch else 1

    def after_val_epoch(self, runner, metrics: dict[str, float] | None = None) -> None:
        if not self.save_best or self.out_dir is None or metrics is None:
            # out_dir is None in a standalone runner.val(): there is nothing to save then.
            return
        if len(metrics) == 0:
            runner.logger.warning('The evaluator returned no metrics, so no best checkpoint is '
                                  'considered in this evaluation.')
            return
        self._save_best_checkpoint(runner, metrics)

    def after_train(self, runner) -> None:
        from mmlite.runner.checkpoint_writer import wait_for_checkpoint_writes
        wait_for_checkpoint_writes()  # training is over: every checkpoint is durable now
        if self.published_keys is None or runner.rank != 0:
            return
        if self.save_last and self.last_ckpt is not None:
            self._publish_model(runner, self.last_ckpt)
        if getattr(self, 'best_ckpt_path', None) is not None:
            self._publish_model(runner, self.best_ckpt_path)
        for path in getattr(self, 'best_ckpt_path_dict', {}).values():
            if path is not None:
                self._publish_model(runner, path)

    # --------------------------------------------------------------- saving
    def _ckpt_path(self, step: int) -> str:
        return osp.join(self.out_dir, self.filename_tmpl.format(step))

    def _save_checkpoint(self, runner) -> None:
        if self.by_epoch:
            step = runner.epoch + 1
            meta = dict(epoch=step, iter=runner.iter)
        else:
            step = runner.iter + 1
            meta = dict(epoch=runner.epoch, iter=step)
        self._save_checkpoint_with_step(runner, step, meta)

    def _save(self, runner, filename: str, **kwargs: Any) -> None:
        """``runner.save_checkpoint`` into out_dir, leaving the fsync to the background if asked."""
        from mmlite.runner.checkpoint_writer import deferred_writes, wait_for_checkpoint_writes
        # The previous save is settled (durable, pointer moved) before the next one starts.
        wait_for_checkpoint_writes()
        with deferred_writes(self.background_fsync):
            runner.save_checkpoint(self.out_dir, filename, **kwargs)

    def _then(self, job, what: str) -> None:
        """Run ``job`` once the checkpoint just saved is durable."""
        from mmlite.runner import checkpoint_writer
        if self.background_fsync:
            # Queued even when the fsync is done already: the job (the pointer's own atomic
            # write and fsync, deletions) must not run on the training thread either.
            checkpoint_writer.submit(job, what)
        else:
            checkpoint_writer.after_pending_writes(job, what)

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        hub = runner.message_hub
        superseded = None
        # Saving the same step twice (interval save, then again after a new best) is one file.
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
                superseded = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        # Recorded before saving, so the checkpoint itself knows it is the latest.
        hub.update_info('last_ckpt', self.last_ckpt)
        self._save(runner, filename, save_optimizer=self.save_optimizer,
                   save_param_scheduler=self.save_param_scheduler, meta=meta,
                   by_epoch=self.by_epoch, **self.args)
        if runner.rank != 0:
            return
        from mmlite.runner.checkpoint import write_text_atomic
        pointer, target = osp.join(str(runner.work_dir), 'last_checkpoint'), self.last_ckpt
        old_path = self._ckpt_path(superseded) if superseded is not None and superseded != step \
            else None

        def publish() -> None:
            write_text_atomic(pointer, target)
            if old_path is not None:
                self._remove_file(runner, old_path)
        self._then(publish, f'pointing last_checkpoint at {target}')

    def _save_best_checkpoint(self, runner, metrics: dict[str, float]) -> None:
        if self.by_epoch:
            filename = self.filename_tmpl.format(runner.epoch)
            cur_type, cur_time = 'epoch', runner.epoch
        else:
            filename = self.filename_tmpl.format(runner.iter)
            cur_type, cur_time = 'iter', runner.iter
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        if 'auto' in self.key_indicators:
            self._init_rule(self.rules, [next(iter(metrics))])

        hub = runner.message_hub
        single = len(self.key_indicators) == 1
        updated = False
        for key, rule in zip(self.key_indicators, self.rules, strict=True):
            if key not in metrics:
                raise KeyError(f'CheckpointHook save_best={key!r} is not among the evaluation '
                               f'metrics {sorted(metrics)}; set save_best to one of them')
            score = metrics[key]
            score_key = 'best_score' if single else f'best_score_{key}'
            ckpt_key = 'best_ckpt' if single else f'best_ckpt_{key}'
            previous_path = self.best_ckpt_path if single else self.best_ckpt_path_dict.get(key)
            best_score = hub.get_info(score_key, self.init_value_map[rule])
            if score is None or not self.is_better_than[key](score, best_score):
                continue
            updated = True
            hub.update_info(score_key, score)
            best_name = f'best_{key}_{filename}'.replace('/', '_')
            best_path = osp.join(self.out_dir, best_name)
            if single:
                self.best_ckpt_path = best_path
            else:
                self.best_ckpt_path_dict[key] = best_path
            hub.update_info(ckpt_key, best_path)
            self._save(runner, best_name, save_optimizer=False, save_param_scheduler=False,
                       meta=meta, by_epoch=False)
            runner.logger.info(f'The best checkpoint with {score:0.4f} {key} at {cur_time} '
                               f'{cur_type} is saved to {best_name}.')
            # The previous best goes only once the new one is durable.
            if previous_path and previous_path != best_path and runner.rank == 0:
                def remove_previous(previous_path: str = previous_path) -> None:
                    if self._remove_file(runner, previous_path):
                        runner.logger.info(f'The previous best checkpoint {previous_path} is '
                                           'removed')
                self._then(remove_previous, f'removing the previous best {previous_path}')

        # Save the regular checkpoint again so a resume from it knows the new best score/path
        # (it was written before this evaluation).
        if updated and self.last_ckpt is not None:
            self._save_checkpoint_with_step(runner, cur_time, meta)

    @staticmethod
    def _remove_file(runner, path: str) -> bool:
        """Delete ``path`` on the main process; True if a file was removed."""
        if runner.rank != 0 or not osp.isfile(path):
            return False
        os.remove(path)
        return True

    def _publish_model(self, runner, ckpt_path: str) -> str:
        """Write ``<ckpt>-<sha256[:8]>.pth`` with only the published keys; return its path."""
        import torch

        from mmlite.runner.checkpoint import _load_checkpoint, save_checkpoint
        checkpoint = _load_checkpoint(ckpt_path, map_location='cpu')
        removed = [key for key in checkpoint if key not in self.published_keys]
        for key in removed:
            checkpoint.pop(key)
        if removed:
            runner.logger.info(f'Keys {removed} are left out of the published checkpoint; add '
                               f'them to published_keys to keep them.')
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        sha = hashlib.sha256(buffer.getvalue()).hexdigest()
        final_path = osp.splitext(ckpt_path)[0] + f'-{sha[:8]}.pth'
        save_checkpoint(checkpoint, final_path)
        runner.logger.info(f'The checkpoint ({ckpt_path}) is published to {final_path}.')
        return final_path
