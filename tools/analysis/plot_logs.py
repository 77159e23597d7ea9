"""Plot loss/lr/metric curves of one or more runs from their vis_data/scalars.json.

    python tools/analysis/plot_logs.py work_dirs/digits_mlp --keys loss lr accuracy/top1 --out curves.png
    python tools/analysis/plot_logs.py run_a run_b --keys loss --legend baseline wide --out loss.png

Each path is a work dir (all its runs, a resumed run stitched onto the one it continues), a run
folder (<work_dir>/<timestamp>) or a scalars.json file. One panel per key; training scalars are
drawn against iterations, validation metrics against epochs. Needs matplotlib
(pip install "mmlite[plot]").
"""
import argparse
import os.path as osp
import sys

from mmlite.runner.cli import run_main
from mmlite.visualization.plot import find_scalar_files, load_scalars, plot_scalar_curves, scalar_keys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Plot training curves from scalars.json files')
    parser.add_argument('logs', nargs='+', metavar='PATH',
                        help='work dirs, run folders or scalars.json files')
    parser.add_argument('--keys', nargs='+', default=['loss'],
                        help='scalars to plot, one panel each (default: loss), e.g. loss lr '
                        'accuracy/top1')
    parser.add_argument('--legend', nargs='+', help='one legend label per PATH (default: the '
                        'work dir names)')
    parser.add_argument('--title', help='figure title')
    parser.add_argument('--style', help='a matplotlib style, e.g. ggplot')
    parser.add_argument('--out', default='curves.png', help='the PNG to write (default: curves.png)')
    parser.add_argument('--list-keys', action='store_true',
                        help='print the scalars each log holds and exit')
    return parser.parse_args(argv)


def default_label(path):
    """The work dir's name for a work dir, ``<work dir>/<timestamp>`` for one run, else the file name."""
    path = osp.abspath(path).rstrip(osp.sep)
    first = osp.abspath(find_scalar_files(path)[0])
    run_dir = osp.dirname(osp.dirname(first))  # <work_dir>/<timestamp>/vis_data/scalars.json
    if osp.basename(osp.dirname(first)) == 'vis_data':
        work_dir = osp.dirname(run_dir)
        if path == work_dir:
            return osp.basename(work_dir)
        return f'{osp.basename(work_dir)}/{osp.basename(run_dir)}'
    return osp.splitext(osp.basename(first))[0]


def main(argv=None):
    args = parse_args(argv)
    if args.legend is not None and len(args.legend) != len(args.logs):
        raise ValueError(f'--legend has {len(args.legend)} labels for {len(args.logs)} logs; give '
                         'one per log, in the same order')
    labels = args.legend or [default_label(path) for path in args.logs]
    if len(set(labels)) < len(labels):  # e.g. two runs both called scalars
        labels = [f'{label} ({index})' for index, label in enumerate(labels, 1)]
    logs = [(label, load_scalars(path)) for label, path in zip(labels, args.logs)]
    if args.list_keys:
        for label, rows in logs:
            print(f'{label}: {", ".join(scalar_keys(rows))}')
        return
    out = plot_scalar_curves(logs, args.keys, args.out, title=args.title, style=args.style)
    print(f'saved {", ".join(args.keys)} of {len(logs)} log(s) to {out}')


if __name__ == '__main__':
    sys.exit(run_main(main))
