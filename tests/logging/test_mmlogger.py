"""MMLogger and print_log: routing, format, colour, files and rank awareness."""
import io
import logging

import pytest

from mmlite.logging import MMLogger, print_log
from mmlite.logging import logger as logger_module

ANSI = '\x1b['


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def fresh_loggers(monkeypatch):
    """An empty MMLogger table for this test; the global one comes back afterwards."""
    monkeypatch.setattr(MMLogger, '_instance_dict', {})
    monkeypatch.setattr(MMLogger, '_current_name', None)
    yield
    for instance in MMLogger._instance_dict.values():
        for handler in instance.handlers:
            handler.close()


def test_console_line_has_time_name_level_and_message(fresh_loggers, capsys):
    logger = MMLogger.get_instance('console', logger_name='myproj')
    logger.info('hello world')
    out = capsys.readouterr().out
    assert out.endswith(' - myproj - INFO - hello world\n')
    assert ANSI not in out  # captured stdout is not a terminal


def test_errors_name_the_file_and_line(fresh_loggers, capsys):
    MMLogger.get_instance('located').error('boom')
    out = capsys.readouterr().out
    assert 'test_mmlogger.py:' in out and 'in test_errors_name_the_file_and_line' in out
    assert out.rstrip().endswith('boom')


def test_level_filters_and_set_level_takes_effect(fresh_loggers, capsys):
    logger = MMLogger.get_instance('levels', log_level='WARNING')
    logger.info('quiet')
    logger.warning('loud')
    out = capsys.readouterr().out
    assert 'quiet' not in out and 'loud' in out
    logger.setLevel('ERROR')
    logger.warning('now quiet')
    assert capsys.readouterr().out == ''


def test_colour_on_terminal_unless_no_color(fresh_loggers, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr('sys.stdout', terminal)
    monkeypatch.delenv('NO_COLOR', raising=False)
    MMLogger.get_instance('tty').warning('painted')
    assert ANSI in terminal.getvalue()

    plain = _Terminal()
    monkeypatch.setattr('sys.stdout', plain)
    monkeypatch.setenv('NO_COLOR', '1')
    MMLogger.get_instance('tty_no_color').warning('unpainted')
    assert 'unpainted' in plain.getvalue() and ANSI not in plain.getvalue()


def test_log_file_is_plain_text_even_when_console_is_coloured(fresh_loggers, tmp_path, monkeypatch):
    monkeypatch.setattr('sys.stdout', _Terminal())
    monkeypatch.delenv('NO_COLOR', raising=False)
    log_file = tmp_path / 'sub' / 'run.log'
    logger = MMLogger.get_instance('filed', log_file=str(log_file), log_level='DEBUG')
    logger.debug('first')
    logger.error('second')
    for handler in logger.handlers:
        handler.flush()
    text = log_file.read_text()
    assert ' - DEBUG - first' in text and 'second' in text
    assert ANSI not in text
    assert logger.log_file == str(log_file)


def test_duplicate_warnings_are_shown_once(fresh_loggers, capsys):
    logger = MMLogger.get_instance('dups')
    for _ in range(3):
        logger.warning('same thing')
    logger.warning('other thing')
    out = capsys.readouterr().out
    assert out.count('same thing') == 1 and out.count('other thing') == 1


def test_non_zero_rank_prints_errors_only_and_writes_no_file(fresh_loggers, tmp_path, capsys,
                                                              monkeypatch):
    monkeypatch.setattr(logger_module, '_rank_and_world_size', lambda: (1, 2))
    logger = MMLogger.get_instance('rank1', log_file=str(tmp_path / 'run.log'))
    logger.info('info')
    logger.warning('warn')
    logger.error('err')
    out = capsys.readouterr().out
    assert 'info' not in out and 'warn' not in out and 'err' in out
    assert not (tmp_path / 'run.log').exists() and logger.log_file is None


def test_distributed_non_zero_rank_writes_its_own_file(fresh_loggers, tmp_path, monkeypatch):
    monkeypatch.setattr(logger_module, '_rank_and_world_size', lambda: (3, 4))
    logger = MMLogger.get_instance('rank3', log_file=str(tmp_path / 'run.log'), distributed=True)
    logger.info('from rank three')
    for handler in logger.handlers:
        handler.flush()
    assert logger.log_file == str(tmp_path / 'run_rank3.log')
    assert 'from rank three' in (tmp_path / 'run_rank3.log').read_text()
    assert not (tmp_path / 'run.log').exists()


def test_file_mode_append_keeps_old_lines(fresh_loggers, tmp_path):
    path = tmp_path / 'run.log'
    path.write_text('old line\n')
    logger = MMLogger.get_instance('append', log_file=str(path), file_mode='a')
    logger.info('new line')
    for handler in logger.handlers:
        handler.flush()
    assert path.read_text().startswith('old line\n') and 'new line' in path.read_text()


def test_logger_lives_outside_the_logging_tree(fresh_loggers):
    logger = MMLogger.get_instance('outside', logger_name='outside_name')
    assert logger.name == 'outside_name' and logger.instance_name == 'outside'
    assert logging.getLogger('outside_name') is not logger


def test_no_last_resort_output_without_handlers(fresh_loggers, capsys):
    logger = MMLogger.get_instance('bare')
    logger.handlers.clear()
    logger.error('nowhere')
    captured = capsys.readouterr()
    assert captured.out == '' and captured.err == ''


def test_get_current_instance_creates_default_logger(fresh_loggers):
    current = MMLogger.get_current_instance()
    assert current.instance_name == 'mmlite' and current.name == 'mmlite'
    made = MMLogger.get_instance('later')
    assert MMLogger.get_current_instance() is made


def test_print_log_routes(fresh_loggers, capsys):
    print_log('to stdout')
    assert capsys.readouterr().out == 'to stdout\n'
    print_log('dropped', logger='silent')
    assert capsys.readouterr().out == ''

    named = MMLogger.get_instance('named')
    current = MMLogger.get_instance('current_one')
    print_log('via name', logger='named', level='WARNING')
    assert ' - WARNING - via name' in capsys.readouterr().out
    assert MMLogger.get_current_instance() is current  # printing by name does not switch
    print_log('via current', logger='current', level=logging.ERROR)
    assert 'via current' in capsys.readouterr().out
    print_log('via object', logger=named)
    assert 'via object' in capsys.readouterr().out

    stream = io.StringIO()
    std_logger = logging.getLogger('mmlite_test_std')
    std_logger.addHandler(logging.StreamHandler(stream))
    std_logger.setLevel(logging.INFO)
    std_logger.propagate = False
    print_log('via std logger', logger=std_logger)
    assert stream.getvalue() == 'via std logger\n'


def test_print_log_errors_name_the_fix(fresh_loggers):
    with pytest.raises(ValueError, match="no MMLogger named 'ghost'"):
        print_log('x', logger='ghost')
    with pytest.raises(TypeError, match='logger must be'):
        print_log('x', logger=3)
    with pytest.raises(ValueError, match='Unknown log level'):
        print_log('x', logger='current', level='LOUD')
