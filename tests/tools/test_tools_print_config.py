"""tools/misc/print_config.py: the final merged config, yapf-formatted, that reads back the same."""
from __future__ import annotations

import json
import os.path as osp

from mmlite.config import Config

from .conftest import REPO, load_tool

DIGITS = osp.join(REPO, 'configs', 'digits_mlp.py')


def test_output_reloads_to_the_merged_config(tmp_path, capsys):
    options = ['train_cfg.max_epochs=3', 'model.hidden_channels=[64,32]',
               'optim_wrapper.optimizer.lr=0.01']
    load_tool('tools/misc/print_config.py').main([DIGITS, '--cfg-options', *options])
    stdout = capsys.readouterr().out
    printed = tmp_path / 'final.py'
    printed.write_text(stdout)
    expected = Config.fromfile(DIGITS)
    expected.merge_from_dict({'train_cfg.max_epochs': 3, 'model.hidden_channels': [64, 32],
                              'optim_wrapper.optimizer.lr': 0.01})
    assert Config.fromfile(str(printed)).to_dict() == expected.to_dict()
    # The merged result, not the file: no _base_, every base's keys present.
    assert '_base_' not in stdout and 'train_dataloader = dict(' in stdout
    # yapf-formatted: no overlong lines, nested dicts broken over lines.
    assert max(len(line) for line in stdout.splitlines()) <= 100
    assert '\n    data_preprocessor=dict(' in stdout


def test_json_input_prints_python_and_save_path_writes_a_file(tmp_path, capsys):
    source = tmp_path / 'small.json'
    source.write_text(json.dumps(dict(model=dict(type='MLPClassifier', in_channels=1), lr=[0.1, 0.01])))
    saved = tmp_path / 'saved.yaml'
    load_tool('tools/misc/print_config.py').main([str(source), '--cfg-options', 'model.in_channels=3',
                                                  '--save-path', str(saved)])
    printed = tmp_path / 'printed.py'
    printed.write_text(capsys.readouterr().out)
    expected = dict(model=dict(type='MLPClassifier', in_channels=3), lr=[0.1, 0.01])
    assert Config.fromfile(str(printed)).to_dict() == expected
    assert Config.fromfile(str(saved)).to_dict() == expected


def test_a_bad_option_is_one_error_line(tmp_path, capsys):
    from mmlite.runner.cli import run_main
    tool = load_tool('tools/misc/print_config.py')
    assert run_main(tool.main, [str(tmp_path / 'missing.py')]) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'missing.py' in err
