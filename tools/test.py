"""Test a checkpoint: python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...]"""
import sys

from mmlite.runner.cli import build_runner, load_config, run_main, test_parser


def main(argv=None):
    args = test_parser().parse_args(argv)
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    build_runner(cfg).test()


if __name__ == '__main__':
    sys.exit(run_main(main))
