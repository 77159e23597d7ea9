"""What tools/train.py and tools/test.py share: arguments, config overrides, error reporting."""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
from collections.abc import Callable, Sequence

from mmlite.config import Config, DictAction

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--work-dir', help='where logs and checkpoints go (default: '
                        'work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config values, e.g. train_cfg.max_epochs=3 '
                        'optim_wrapper.optimizer.lr=0.01 model.hidden_channels=[64,64]')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    # torchrun passes --local-rank to old-style scripts; LOCAL_RANK in the environment is what counts.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)


def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description='Train a model from a config file')
    parser.add_argument('config', help='the config file')
    parser.add_argument('--resume', nargs='?', const='auto', metavar='CHECKPOINT',
                        help='continue training: from CHECKPOINT, or without a value from the latest '
                        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', help='mixed precision (bfloat16 on the CPU, '
                        'float16 on a GPU)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the real batch size (needs '
                        'auto_scale_lr.base_batch_size in the config)')
    parser.add_argument('--compile', action='store_true', help='torch.compile the model')
    add_common_arguments(parser)
    return parser


def test_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description='Test a checkpoint with a config file')
    parser.add_argument('config', help='the config file')
    parser.add_argument('checkpoint', help='the checkpoint to test')
    add_common_arguments(parser)
    return parser


def load_config(args: argparse.Namespace) -> Config:
    """The config file with the command line's overrides applied."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def apply_train_flags(cfg: Config, args: argparse.Namespace) -> Config:
    """--amp, --auto-scale-lr, --resume and --compile as config changes."""
    if args.amp:
        wrapper = cfg.get('optim_wrapper')
        if wrapper is None:
            raise KeyError('--amp needs an optim_wrapper in the config')
        if wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print('--amp: the config already uses AmpOptimWrapper', file=sys.stderr)
        else:
            wrapper['type'] = 'AmpOptimWrapper'
            wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        if not cfg.get('auto_scale_lr') or 'base_batch_size' not in cfg.auto_scale_lr:
            raise KeyError('--auto-scale-lr needs auto_scale_lr=dict(base_batch_size=...) in the config: '
                           'the total batch size its learning rate was tuned for')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.compile:
        cfg.compile = True
    return cfg


def build_runner(cfg: Config):
    """``runner_type`` in the config picks a custom runner registered in RUNNERS."""
    from mmlite.registry import RUNNERS
    from mmlite.runner import Runner
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def run_main(main: Callable[[Sequence[str] | None], object], argv: Sequence[str] | None = None) -> int:
    """Run ``main``; a mistake in the input becomes one error line (and its hints), exit status 1.

    Errors raised while training runs keep their traceback; MMLITE_DEBUG=1 shows it always.
    """
    try:
        main(argv)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        if os.environ.get('MMLITE_DEBUG') or getattr(exc, '_mmlite_during_run', False):
            raise
        message = str(exc) or type(exc).__name__
        if isinstance(exc, KeyError) and message.startswith(("'", '"')) and len(exc.args) == 1:
            message = str(exc.args[0])
        print(f'error: {message}', file=sys.stderr)
        for note in getattr(exc, '__notes__', []):
            print(f'  {note}', file=sys.stderr)
        print('  (set MMLITE_DEBUG=1 to see the traceback)', file=sys.stderr)
        return 1
    return 0

