"""Train a model from a config: python tools/train.py CONFIG [--resume [CKPT]] [--amp] [--cfg-options k=v ...]"""
import sys

from mmlite.runner.cli import apply_train_flags, build_runner, load_config, run_main, train_parser


def main(argv=None):
    args = train_parser().parse_args(argv)
    cfg = apply_train_flags(load_config(args), args)
    build_runner(cfg).train()


if __name__ == '__main__':
    sys.exit(run_main(main))
