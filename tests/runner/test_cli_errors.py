"""Bad input through tools/train.py: one ``error: ...`` line (plus hints) on stderr, exit status
1, no traceback, and the work_dir exactly as it was (fresh, or holding an earlier run)."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest

sys.path.insert(0, osp.dirname(__file__))
import resume_toys as toys  # noqa: E402

from mmlite.runner import Runner  # noqa: E402
from mmlite.runner.cli import run_main  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_spec = importlib.util.spec_from_file_location('mmlite_tools_train', osp.join(REPO, 'tools', 'train.py'))
train_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_tool)


def _config(tmp_path, **changes) -> str:
    # A fresh experiment_name per run: in-process runs started in the same second would
    # otherwise share one logger, which still writes to an earlier test's captured output.
    cfg = toys.toy_cfg(tmp_path / 'unused', length=1)
    cfg.pop('work_dir')
    cfg.update(changes)
    path = tmp_path / 'toy.py'
    lines = ["custom_imports = dict(imports=['resume_toys'])"]
    path.write_text('\n'.join(lines + [f'{key} = {value!r}' for key, value in cfg.items()]) + '\n')
    return str(path)


def _listing(folder) -> dict:
    """Every file and folder under ``folder`` with its size and mtime (None if absent)."""
    if not osp.exists(folder):
        return None
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = osp.join(root, name)
            info = os.stat(path)
            found[osp.relpath(path, folder)] = (info.st_size, info.st_mtime_ns)
    return found


@pytest.fixture(scope='module')
def earlier_run(tmp_path_factory):
    """A work_dir holding a finished one-epoch run (logs, checkpoints, config dump)."""
    work_dir = tmp_path_factory.mktemp('earlier') / 'work_dir'
    Runner(**toys.toy_cfg(work_dir, length=1)).train()
    return work_dir


# name -> (config changes, --cfg-options, texts the error must hold)
CASES = {
    'misspelled type': (
        {}, ['model.type=DropoutToyNot'],
        ["error: 'DropoutToyNot' is not registered in the 'model' registry",
         "Did you mean: 'DropoutToyNet'", "(config key 'model')"]),
    'wrong argument': (
        {}, ['train_dataloader.dataset.sizee=30'],
        ["error: AugToyDataset (registry 'dataset', config key 'train_dataloader.dataset') got "
         "unexpected argument 'sizee'. It accepts: size, read_log, ann_file,", "Did you mean 'size'?"]),
    'wrong nested argument': (
        dict(model=dict(type='DropoutToyNet',
                        data_preprocessor=dict(type='BaseDataPreprocessor', non_blocked=True))),
        [],
        ["error: BaseDataPreprocessor (registry 'model', config key 'model.data_preprocessor') got "
         "unexpected argument(s) 'non_blocked'. It accepts: non_blocking.",
         "Did you mean 'non_blocking' for 'non_blocked'?"]),
    'missing list index': (
        {}, ['param_scheduler.3.begin=1'],
        ["error: option 'param_scheduler.3.begin': index 3 is out of range for the list at "
         "'param_scheduler', which has 2 item(s)"]),
    'missing annotation file': (
        dict(train_dataloader=dict(
            batch_size=4, sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(type='AnnToyDataset', ann_file='nope.json', data_root='/no/such/folder'))),
        [],
        ["error: AnnToyDataset: annotation file '/no/such/folder/nope.json' does not exist; check "
         'the config keys "ann_file" and "data_root"', "config key 'train_dataloader.dataset'"]),
    'empty dataloader': (
        {}, ['train_dataloader.batch_size=64', 'train_dataloader.drop_last=True'],
        ['error: train_dataloader yields no batches: its dataset has 22 samples, batch_size is 64, '
         'drop_last is True.']),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_input_mistakes_print_one_clear_line_and_leave_the_work_dir_alone(
        case, tmp_path, capsys, earlier_run):
    changes, options, expected = CASES[case]
    for work_dir in (tmp_path / 'fresh', earlier_run):
        config = _config(tmp_path, **changes)
        before = _listing(work_dir)
        argv = [config, '--work-dir', str(work_dir)] + (['--cfg-options', *options] if options else [])
        assert run_main(train_tool.main, argv) == 1
        errors = capsys.readouterr().err
        assert errors.startswith('error: '), errors
        assert all(line.startswith('  ') for line in errors.splitlines()[1:])  # hints only
        for text in expected:
            assert text in errors, errors
        assert 'Traceback' not in errors
        assert _listing(work_dir) == before


def test_config_syntax_error_names_file_and_line(tmp_path, capsys):
    config = tmp_path / 'broken.py'
    config.write_text("model = dict(type='DropoutToyNet')\ntrain_cfg = dict(by_epoch=True,\n"
                      "optim_wrapper = 1\n")
    assert run_main(train_tool.main, [str(config), '--work-dir', str(tmp_path / 'w')]) == 1
    first_line = capsys.readouterr().err.splitlines()[0]
    assert first_line.startswith(f'error: {config}, line 2') or \
        first_line.startswith(f'error: {config}, line 3'), first_line
    assert not osp.exists(tmp_path / 'w')


def test_train_subprocess_bad_input(tmp_path, earlier_run):
    """The real command line, twice at once: a fresh work_dir and one with an earlier run."""
    config = _config(tmp_path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [osp.dirname(osp.abspath(__file__)), os.environ.get('PYTHONPATH', '')]))
    fresh = tmp_path / 'fresh'
    before = _listing(earlier_run)
    runs = [subprocess.Popen([sys.executable, 'tools/train.py', config, '--work-dir', str(work_dir),
                              '--cfg-options', option], cwd=REPO, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for work_dir, option in ((fresh, 'model.type=DropoutToyNot'),
                                     (earlier_run, 'train_dataloader.dataset.sizee=3'))]
    results = [run.communicate(timeout=300) + (run.returncode,) for run in runs]
    expected_texts = ("'DropoutToyNot' is not registered", "got unexpected argument 'sizee'")
    for (_, errors, status), expected in zip(results, expected_texts, strict=True):
        assert status == 1
        lines = errors.splitlines()
        assert lines[0].startswith('error: ') and expected in lines[0]
        assert all(line.startswith('  ') for line in lines[1:])  # hints only
        assert 'Traceback' not in errors
    assert not osp.exists(fresh)
    assert _listing(earlier_run) == before
