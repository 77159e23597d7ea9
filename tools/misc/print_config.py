"""Print the final config: the file merged with its _base_ files and --cfg-options, yapf-formatted.

    python tools/misc/print_config.py configs/digits_mlp.py --cfg-options train_cfg.max_epochs=3
    python tools/misc/print_config.py CONFIG > final.py      # reads back to the same config

The output is Python source that Config.fromfile reads back to the same values.
"""
import argparse
import sys

from mmlite.config import Config, DictAction
from mmlite.runner.cli import run_main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Print the final merged config')
    parser.add_argument('config', help='the config file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config values, e.g. train_cfg.max_epochs=3 '
                        'model.hidden_channels=[64,64]')
    parser.add_argument('--save-path', help='also write the config to this file (.py, .json or '
                        '.yaml by extension)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    # Python source for every input format; dump() (unlike pretty_text) refuses a value with
    # no source form instead of printing it as a string that would read back differently.
    text = Config(cfg.to_dict()).dump()
    print(text, end='' if text.endswith('\n') else '\n')
    if args.save_path:
        cfg.dump(args.save_path)
        print(f'# saved to {args.save_path}', file=sys.stderr)


if __name__ == '__main__':
    sys.exit(run_main(main))
