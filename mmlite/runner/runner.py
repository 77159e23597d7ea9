"""The Runner: builds what a run needs, lazily, and hands control to the loops and hooks."""
from __future__ import annotations

import copy
import logging
import os
import os.path as osp
import time
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from mmlite.config import Config
from mmlite.logging import MessageHub, MMLogger, print_log
from mmlite.registry import (LOG_PROCESSORS, MODELS, RUNNERS, VISUALIZERS,
                             DefaultScope, config_key_path)
from mmlite.utils.device import get_device
from mmlite.utils.progress import is_interactive, track_progress

from . import builders
from .base_loop import BaseLoop, release_workers
from .env import collect_env, set_multi_processing, set_random_seed, set_rng_state
from .hook_dispatch import HookDispatch
from .run_safety import RunSafety, _mark_run_errors, _Preempted
from .runner_checkpoint import CheckpointMixin

# MMCV 1.x config keys that MMEngine-style runners ignore, and what replaced them.
_LEGACY_KEYS = {
    'optimizer': 'optim_wrapper=dict(optimizer=...)',
    'optimizer_config': 'optim_wrapper=dict(clip_grad=..., accumulative_counts=...)',
    'lr_config': 'param_scheduler=[...]', 'momentum_config': 'param_scheduler=[...]',
    'runner': 'train_cfg=dict(by_epoch=True, max_epochs=...)',
    'checkpoint_config': 'default_hooks.checkpoint', 'log_config': 'default_hooks.logger',
    'evaluation': 'val_cfg and val_evaluator', 'workflow': 'train_cfg.val_interval',
    'data': 'train_dataloader, val_dataloader and test_dataloader',
    'resume_from': 'resume=True with load_from', 'total_epochs': 'train_cfg.max_epochs',
}


def _warn_legacy_keys(cfg) -> None:
    found = [k for k in _LEGACY_KEYS if k in cfg]
    if found:
        hints = '; '.join(f'{k} -> {_LEGACY_KEYS[k]}' for k in found)
        print_log(f'the config has MMCV 1.x keys that this runner ignores: {hints}', logger='current',
                  level=logging.WARNING)


@RUNNERS.register_module()
class Runner(HookDispatch, RunSafety, CheckpointMixin):
    """Train, validate and test a model from objects or configs, as MMEngine's Runner does.

    Nothing a loop needs is built before that loop runs: ``runner.test()`` needs only the
    test parts. Component arguments may be built objects or config dicts.
    """

    def __init__(self, model: nn.Module | dict, work_dir: str,
                 train_dataloader: DataLoader | dict | None = None,
                 val_dataloader: DataLoader | dict | None = None,
                 test_dataloader: DataLoader | dict | None = None,
                 train_cfg: dict | None = None, val_cfg: dict | None = None, test_cfg: dict | None = None,
                 auto_scale_lr: dict | None = None, optim_wrapper: Any = None,
                 param_scheduler: Any = None, val_evaluator: Any = None, test_evaluator: Any = None,
                 default_hooks: dict | None = None, custom_hooks: list | None = None,
                 data_preprocessor: dict | None = None, load_from: str | None = None,
                 resume: bool = False, launcher: str = 'none', env_cfg: dict | None = None,
                 log_processor: dict | None = None, log_level: str | int = 'INFO',
                 visualizer: Any = None, default_scope: str = 'mmlite',
                 randomness: dict | None = None, experiment_name: str | None = None,
                 cfg: dict | None = None) -> None:
        self._work_dir = osp.abspath(work_dir)
        self._created: list[str] = []  # what this run made in work_dir, removed if setup fails
        if not osp.isdir(self._work_dir):
            self._created.append(self._work_dir)
        try:
            self._setup(locals())
        except BaseException:
            self._discard_created()
            raise

    def _setup(self, args: dict) -> None:
        cfg = args['cfg']
        if cfg is None:
            self.cfg = Config(dict())
        elif isinstance(cfg, Config):
            self.cfg = copy.deepcopy(cfg)
        else:
            self.cfg = Config(copy.deepcopy(dict(cfg)))
        for kind in ('train', 'val', 'test'):
            self._check_parts(kind, args)
        self._train_dataloader, self._val_dataloader = args['train_dataloader'], args['val_dataloader']
        self._test_dataloader = args['test_dataloader']
        self._train_loop, self._val_loop, self._test_loop = args['train_cfg'], args['val_cfg'], \
            args['test_cfg']
        self.optim_wrapper, self.param_schedulers = args['optim_wrapper'], args['param_scheduler']
        self._val_evaluator, self._test_evaluator = args['val_evaluator'], args['test_evaluator']
        self.auto_scale_lr = args['auto_scale_lr']
        self._load_from, self._resume, self._has_loaded = args['load_from'], args['resume'], False
        self._preempt_signal: int | None = None
        self._launcher = args['launcher']
        self._distributed = self._launcher != 'none'
        self.setup_env(args['env_cfg'] or {})
        self._randomness_cfg = dict(args['randomness'] or {})
        self.set_randomness(**self._randomness_cfg)
        self._init_names(args['experiment_name'])
        self.default_scope = DefaultScope.get_instance(self._experiment_name,
                                                       scope_name=args['default_scope'])
        self._log_dir = osp.join(self._work_dir, self._timestamp)
        if self.rank == 0:
            os.makedirs(self._log_dir, exist_ok=True)
            self._created.append(self._log_dir)
        self.logger = self.build_logger(log_level=args['log_level'])
        self._log_env()
        self.message_hub = self.build_message_hub()
        self.visualizer = self.build_visualizer(args['visualizer'])
        if self.cfg:
            self.visualizer.add_config(self.cfg)
        self.log_processor = self.build_log_processor(args['log_processor'])
        self.model = self.build_model(args['model'], args['data_preprocessor'])
        if self.cfg.get('channels_last', False):  # before DDP wraps it, as PyTorch advises
            self._use_channels_last()
        self.model = self.wrap_model(self.cfg.get('model_wrapper_cfg'), self.model)
        inner = self.model.module if hasattr(self.model, 'module') else self.model
        self._model_name = type(inner).__name__
        self._init_hooks()
        self.register_hooks(args['default_hooks'], args['custom_hooks'])
        self.logger.info(f'Hooks will be executed in the following order:\n{self.get_hooks_info()}')

    @staticmethod
    def _check_parts(kind: str, args: dict) -> None:
        """The parts of one loop come together or not at all, as in MMEngine."""
        keys = {'train': ('train_dataloader', 'train_cfg', 'optim_wrapper'),
                'val': ('val_dataloader', 'val_cfg', 'val_evaluator'),
                'test': ('test_dataloader', 'test_cfg', 'test_evaluator')}[kind]
        given = [k for k in keys if args[k] is not None]
        if given and len(given) != len(keys):
            missing = [k for k in keys if args[k] is None]
            raise ValueError(f'{", ".join(keys)} must be given together or not at all: the config has '
                             f'{", ".join(given)} but lacks {", ".join(missing)}')

    @classmethod
    def from_cfg(cls, cfg: Config | dict) -> Runner:
        """Build a runner from a whole config (``Config.fromfile(...)``)."""
        cfg = copy.deepcopy(cfg)
        _warn_legacy_keys(cfg)
        if 'model' not in cfg or 'work_dir' not in cfg:
            missing = [k for k in ('model', 'work_dir') if k not in cfg]
            raise KeyError(f'the config lacks {", ".join(missing)}: a runner needs a model and a work_dir '
                           '(tools/train.py sets work_dir from the config file name)')
        return cls(
            model=cfg['model'], work_dir=cfg['work_dir'],
            train_dataloader=cfg.get('train_dataloader'), val_dataloader=cfg.get('val_dataloader'),
            test_dataloader=cfg.get('test_dataloader'), train_cfg=cfg.get('train_cfg'),
            val_cfg=cfg.get('val_cfg'), test_cfg=cfg.get('test_cfg'),
            auto_scale_lr=cfg.get('auto_scale_lr'), optim_wrapper=cfg.get('optim_wrapper'),
            param_scheduler=cfg.get('param_scheduler'), val_evaluator=cfg.get('val_evaluator'),
            test_evaluator=cfg.get('test_evaluator'), default_hooks=cfg.get('default_hooks'),
            custom_hooks=cfg.get('custom_hooks'), data_preprocessor=cfg.get('data_preprocessor'),
            load_from=cfg.get('load_from'), resume=cfg.get('resume', False),
            launcher=cfg.get('launcher', 'none'), env_cfg=cfg.get('env_cfg'),
            log_processor=cfg.get('log_processor'), log_level=cfg.get('log_level', 'INFO'),
            visualizer=cfg.get('visualizer'), default_scope=cfg.get('default_scope', 'mmlite'),
            randomness=cfg.get('randomness', dict(seed=None)),
            experiment_name=cfg.get('experiment_name'), cfg=cfg)

    # ------------------------------------------------------------ properties
    experiment_name = property(lambda self: self._experiment_name)
    model_name = property(lambda self: self._model_name)
    work_dir = property(lambda self: self._work_dir)
    log_dir = property(lambda self: self._log_dir)
    timestamp = property(lambda self: self._timestamp)
    seed = property(lambda self: self._seed)
    launcher = property(lambda self: self._launcher)
    distributed = property(lambda self: self._distributed)
    rank = property(lambda self: self._rank)
    world_size = property(lambda self: self._world_size)
    deterministic = property(lambda self: self._deterministic)

    @property
    def device_type(self) -> str:
        param = next(iter(self.model.parameters()), None)
        return param.device.type if param is not None else get_device()

    @property
    def epoch(self) -> int:
        return self._train_loop.epoch if isinstance(self._train_loop, BaseLoop) else 0

    @property
    def iter(self) -> int:
        return self._train_loop.iter if isinstance(self._train_loop, BaseLoop) else 0

    @property
    def max_epochs(self) -> int:
        return self._train_loop.max_epochs if isinstance(self._train_loop, BaseLoop) else 0

    @property
    def max_iters(self) -> int:
        return self._train_loop.max_iters if isinstance(self._train_loop, BaseLoop) else 0

    @property
    def train_loop(self) -> BaseLoop:
        if self._train_loop is None or isinstance(self._train_loop, BaseLoop):
            return self._train_loop
        self._train_loop = self.build_train_loop(self._train_loop)
        return self._train_loop

    @property
    def val_loop(self) -> BaseLoop | None:
        if self._val_loop is None or isinstance(self._val_loop, BaseLoop):
            return self._val_loop
        self._val_loop = self.build_val_loop(self._val_loop)
        return self._val_loop

    @property
    def test_loop(self) -> BaseLoop | None:
        if self._test_loop is None or isinstance(self._test_loop, BaseLoop):
            return self._test_loop
        self._test_loop = self.build_test_loop(self._test_loop)
        return self._test_loop

    @property
    def train_dataloader(self) -> DataLoader:
        return self.train_loop.dataloader

    @property
    def val_dataloader(self) -> DataLoader:
        return self.val_loop.dataloader

    @property
    def test_dataloader(self) -> DataLoader:
        return self.test_loop.dataloader

    @property
    def val_evaluator(self):
        return self.val_loop.evaluator

    @property
    def test_evaluator(self):
        return self.test_loop.evaluator

    def _built_train_dataloader(self) -> DataLoader | None:
        return self._train_loop.dataloader if isinstance(self._train_loop, BaseLoop) else None

    # ------------------------------------------------------------ environment
    def setup_env(self, env_cfg: dict) -> None:
        """Multiprocessing, cudnn, and the process group when launched for several processes."""
        from mmlite.dist import get_dist_info, init_dist, is_distributed
        if env_cfg.get('cudnn_benchmark'):
            torch.backends.cudnn.benchmark = True
        set_multi_processing(**(env_cfg.get('mp_cfg') or {}), distributed=self._distributed)
        if self._distributed and not is_distributed():
            dist_cfg = dict(env_cfg.get('dist_cfg') or {})
            nccl_without_cuda = dist_cfg.get('backend') == 'nccl' and not torch.cuda.is_available()
            if nccl_without_cuda:
                dist_cfg['backend'] = 'gloo'
            init_dist(self._launcher, **dist_cfg)
            if nccl_without_cuda:  # warned once the rank is known, so only rank 0 prints it
                print_log('env_cfg.dist_cfg.backend is nccl but CUDA is not available: using gloo',
                          logger='current', level=30)
        self._rank, self._world_size = get_dist_info()

    def set_randomness(self, seed: int | None = None, diff_rank_seed: bool = False,
                       deterministic: bool = False) -> None:
        """Seed every RNG (see :func:`set_random_seed`) and remember the choice."""
        self._deterministic = deterministic
        self._seed = set_random_seed(seed=seed, deterministic=deterministic,
                                     diff_rank_seed=diff_rank_seed)

    def _init_names(self, experiment_name: str | None) -> None:
        from mmlite.dist import broadcast_object_list
        stamp = [time.strftime('%Y%m%d_%H%M%S', time.localtime())]
        # A run started in the same second keeps its log folder to itself.
        base, suffix = stamp[0], 0
        while self._rank == 0 and osp.exists(osp.join(self._work_dir, stamp[0])):
            suffix += 1
            stamp[0] = f'{base}_{suffix}'
        broadcast_object_list(stamp)  # every rank names its files after rank 0's start time
        self._timestamp = stamp[0]
        if experiment_name is not None:
            self._experiment_name = f'{experiment_name}_{self._timestamp}'
        elif getattr(self.cfg, 'filename', None):
            base = osp.splitext(osp.basename(self.cfg.filename))[0]
            self._experiment_name = f'{base}_{self._timestamp}'
        else:
            self._experiment_name = self._timestamp
        # The logger, message hub, visualizer and default scope are looked up by this name: a
        # second runner made in the same second in this process (another work_dir) needs its own.
        name, count = self._experiment_name, 0
        while any(kind.check_instance_created(self._experiment_name)
                  for kind in (MMLogger, MessageHub, DefaultScope)):
            count += 1
            self._experiment_name = f'{name}_{count}'

    def _log_env(self) -> None:
        env = '\n'.join(f'    {k}: {v}' for k, v in collect_env().items())
        dist = f'    launcher: {self._launcher}, world size: {self._world_size}, seed: {self._seed}'
        bar = '-' * 60
        self.logger.info(f'\n{bar}\nEnvironment:\n{env}\n{dist}\n{bar}')
        if self.cfg:
            self.logger.info(f'Config:\n{self.cfg.pretty_text}')

    # ---------------------------------------------------------------- builders
    def build_logger(self, log_level: int | str = 'INFO', log_file: str | None = None,
                     **kwargs: Any) -> MMLogger:
        log_file = log_file or osp.join(self._log_dir, f'{self._timestamp}.log')
        return MMLogger.get_instance(self._experiment_name, log_file=log_file, log_level=log_level,
                                     **kwargs)

    def build_message_hub(self, message_hub: dict | None = None) -> MessageHub:
        cfg = dict(message_hub or {})
        cfg.setdefault('name', self._experiment_name)
        return MessageHub.get_instance(**cfg)

    def build_visualizer(self, visualizer: Any = None):
        from mmlite.visualization import Visualizer
        if isinstance(visualizer, Visualizer):
            return visualizer
        cfg = dict(visualizer or dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]))
        cfg.setdefault('type', 'Visualizer')
        cfg.setdefault('name', self._experiment_name)
        cfg.setdefault('save_dir', self._log_dir)  # backends write into <save_dir>/vis_data
        if self.rank != 0:
            cfg['vis_backends'] = None  # only rank 0 writes files
        with config_key_path('visualizer'):
            return VISUALIZERS.build(cfg)

    def build_log_processor(self, log_processor: Any = None):
        if log_processor is not None and not isinstance(log_processor, dict):
            return log_processor
        cfg = dict(log_processor or {})
        cfg.setdefault('type', 'LogProcessor')
        if 'by_epoch' not in cfg and isinstance(self._train_loop, dict) and 'type' not in self._train_loop:
            cfg['by_epoch'] = bool(self._train_loop.get('by_epoch', True))
        with config_key_path('log_processor'):
            return LOG_PROCESSORS.build(cfg)

    def build_model(self, model: nn.Module | dict, data_preprocessor: dict | None = None) -> nn.Module:
        if isinstance(model, nn.Module):
            return model
        if not isinstance(model, dict):
            raise TypeError(f'model must be an nn.Module or a config dict, got {type(model).__name__}')
        cfg = copy.deepcopy(model)
        if data_preprocessor is not None:
            cfg.setdefault('data_preprocessor', data_preprocessor)
        with config_key_path('model'):
            return MODELS.build(cfg)

    def wrap_model(self, model_wrapper_cfg: dict | None, model: nn.Module) -> nn.Module:
        return builders.wrap_model(model, model_wrapper_cfg, self._distributed, get_device(),
                                   find_unused_parameters=self.cfg.get('find_unused_parameters', False),
                                   sync_bn=self.cfg.get('sync_bn'))

    @staticmethod
    def build_dataloader(dataloader: DataLoader | dict, seed: int | None = None,
                         diff_rank_seed: bool = False) -> DataLoader:
        return builders.build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)

    def build_evaluator(self, evaluator: Any):
        return builders.build_evaluator(evaluator)

    def build_optim_wrapper(self, optim_wrapper: Any):
        from mmlite.optim import OptimWrapper, OptimWrapperDict, build_optim_wrapper
        if isinstance(optim_wrapper, (OptimWrapper, OptimWrapperDict)):
            return optim_wrapper
        if isinstance(optim_wrapper, torch.optim.Optimizer):
            raise TypeError('optim_wrapper must be an OptimWrapper or a config, not a bare optimizer: use '
                            'optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01)) or '
                            'OptimWrapper(optimizer)')
        inner = self.model.module if hasattr(self.model, 'module') else self.model
        with config_key_path('optim_wrapper'):
            return build_optim_wrapper(inner, optim_wrapper)

    def build_param_scheduler(self, scheduler: Any):
        epoch_length = len(self.train_dataloader) if self._train_loop is not None else None
        return builders.build_param_schedulers(scheduler, self.optim_wrapper, epoch_length)

    def build_train_loop(self, loop: Any) -> BaseLoop:
        return builders.build_loop(loop, 'train', self, self._train_dataloader)

    def build_val_loop(self, loop: Any) -> BaseLoop:
        return builders.build_loop(loop, 'val', self, self._val_dataloader, self._val_evaluator)

    def build_test_loop(self, loop: Any) -> BaseLoop:
        return builders.build_loop(loop, 'test', self, self._test_dataloader, self._test_evaluator)

    def scale_lr(self, optim_wrapper: Any, auto_scale_lr: dict | None = None) -> None:
        loader = self.train_dataloader
        batch = getattr(loader.batch_sampler, 'batch_size', None) or loader.batch_size
        builders.scale_lr(optim_wrapper, auto_scale_lr, batch, self._world_size)

    # ---------------------------------------------------------------- running
    def train(self) -> nn.Module:
        """Build the training parts, load or resume, and run the training loop."""
        if self._train_loop is None:
            raise RuntimeError('runner.train() needs train_dataloader, train_cfg and optim_wrapper; add '
                               'them to the config (or the Runner arguments)')
        inner = self.model.module if hasattr(self.model, 'module') else self.model
        if not hasattr(inner, 'train_step'):
            raise TypeError(f'{type(inner).__name__} has no train_step: derive it from mmlite.model.'
                            'BaseModel or define train_step(data, optim_wrapper)')
        with self._setup_guard():
            resume_ckpt = self._read_resume_checkpoint()
            if resume_ckpt is not None:
                self._adopt_checkpoint_seed(resume_ckpt)
            loop = self.train_loop
            self._build_train_parts()
            if self._val_loop is not None:
                self.val_loop  # noqa: B018  (build it now so config errors surface before training)
            self.call_hook('before_run')
            self._init_model_weights()
            rng_state = self._load_or_resume(resume_ckpt)
            self.optim_wrapper.initialize_count_status(self.model, loop.iter, loop.max_iters)
            self._maybe_compile()
            self.dump_config()
            if rng_state is not None:
                set_rng_state(rng_state)  # last, so nothing in setup shifts the streams
        with self._preemption_signals(), _mark_run_errors():
            try:
                model = loop.run()
            except _Preempted:
                self._stop_preempted()
            finally:
                release_workers(loop, self._val_loop)
        self.call_hook('after_run')
        return model

    def val(self) -> dict:
        """Run the validation loop once and return its metrics."""
        return self._evaluate('val')

    def test(self) -> dict:
        """Run the test loop once and return its metrics."""
        return self._evaluate('test')

    def _evaluate(self, kind: str) -> dict:
        if getattr(self, f'_{kind}_loop') is None:
            raise RuntimeError(f'runner.{kind}() needs {kind}_dataloader, {kind}_cfg and {kind}_evaluator; '
                               'add them to the config (or the Runner arguments)')
        with self._setup_guard():
            loop = getattr(self, f'{kind}_loop')
            self.call_hook('before_run')
            self._load_for_evaluation()
            self.dump_config()
        with _mark_run_errors():
            try:
                metrics = loop.run()
            finally:
                release_workers(loop)
        self.call_hook('after_run')
        return metrics

    def _build_train_parts(self) -> None:
        """The optimizer wrapper (with auto_scale_lr) and schedulers, once."""
        if getattr(self, '_train_parts_built', False):
            return
        self.train_loop  # noqa: B018  (schedulers need the epoch length)
        self.optim_wrapper = self.build_optim_wrapper(self.optim_wrapper)
        self.scale_lr(self.optim_wrapper, self.auto_scale_lr)
        if self.param_schedulers is not None:
            self.param_schedulers = self.build_param_scheduler(self.param_schedulers)
        self._train_parts_built = True

    def _init_model_weights(self) -> None:
        inner = self.model.module if hasattr(self.model, 'module') else self.model
        if hasattr(inner, 'init_weights'):
            inner.init_weights()
            if self._distributed:
                # init_weights ran on every rank after DDP had copied rank 0's weights, and with
                # diff_rank_seed each rank drew different values: make rank 0's win again.
                from mmlite.dist import broadcast_module_state
                broadcast_module_state(inner)

    def _use_channels_last(self) -> None:
        """``channels_last=True``: 4-D weights and the preprocessed images in channels-last layout."""
        from mmlite.model.base_model.data_preprocessor import use_channels_last
        if use_channels_last(self.model) == 0:
            self.logger.warning('channels_last=True converted the weights, but the model has no '
                                'BaseDataPreprocessor to convert its images: convert them in forward')
        self.logger.info('model and input images use the channels_last memory format')

    def _maybe_compile(self) -> None:
        """``compile=True`` (or a dict of torch.compile options) compiles the model's forward."""
        compile_cfg = self.cfg.get('compile', False)
        if not compile_cfg:
            return
        options = dict(compile_cfg) if isinstance(compile_cfg, dict) else {}
        inner = self.model.module if hasattr(self.model, 'module') else self.model
        inner.forward = torch.compile(inner.forward, **options)
        self.logger.info(f'model forward compiled with torch.compile({options})')

    @contextmanager
    def progress(self, iterable: Any, mode: str):
        """A progress bar for val/test loops on rank 0 when on a terminal."""
        enabled = self.rank == 0 and is_interactive() and self.cfg.get('progress', True)
        with track_progress(iterable, description=f'{mode} epoch {self.epoch}', enabled=enabled) as it:
            yield it

    def dump_config(self) -> None:
        """Write the final config into work_dir (rank 0), once per run."""
        if self.rank != 0 or not self.cfg or getattr(self, '_config_dumped', False):
            return
        name = osp.basename(self.cfg.filename) if getattr(self.cfg, 'filename', None) \
            else f'{self._timestamp}.py'
        self.cfg.dump(osp.join(self._work_dir, name))
        self._config_dumped = True
