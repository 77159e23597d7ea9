"""Draw the learning-rate (and momentum) schedule of a config without training.

    python tools/analysis/plot_lr.py configs/digits_mlp.py --out lr.png
    python tools/analysis/plot_lr.py CONFIG --epoch-length 500 --dummy-model --out lr.png

The optimizer wrapper and param schedulers are built from the config (against the real model,
or one dummy parameter with --dummy-model) and stepped as ParamSchedulerHook steps them during
training, with the real epoch length of the train dataloader unless --epoch-length is given.
Needs matplotlib (pip install "mmlite[plot]").
"""
import argparse
import os.path as osp
import sys

from mmlite.config import Config, DictAction
from mmlite.runner.cli import run_main
from mmlite.runner.schedule_trace import trace_param_schedule
from mmlite.visualization.plot import plot_schedule


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Plot the lr/momentum schedule of a config')
    parser.add_argument('config', help='the config file')
    parser.add_argument('--epoch-length', type=int,
                        help='iterations per epoch (default: the length of train_dataloader, '
                        'which builds the dataset)')
    parser.add_argument('--dummy-model', action='store_true',
                        help='build the optimizer for a dummy parameter instead of the model '
                        '(faster for big models; paramwise_cfg rules then match nothing)')
    parser.add_argument('--out', help='the PNG to write (default: <config name>_lr.png)')
    parser.add_argument('--title', help='figure title (default: the config name)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config values, e.g. train_cfg.max_epochs=20')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    name = osp.splitext(osp.basename(args.config))[0]
    trace = trace_param_schedule(cfg, epoch_length=args.epoch_length, dummy_model=args.dummy_model)
    out = plot_schedule(trace.values, args.out or f'{name}_lr.png',
                        epoch_length=trace.epoch_length if trace.by_epoch else None,
                        title=args.title or name)
    for key, per_iter in trace.values.items():
        first = [values[0] for values in per_iter]
        print(f'{key}: start {first[0]:.4g}, min {min(first):.4g}, max {max(first):.4g}, '
              f'end {first[-1]:.4g} (group 0)')
    print(f'{trace.max_iters} iterations ({trace.epoch_length} per epoch); saved {out}')


if __name__ == '__main__':
    sys.exit(run_main(main))
