"""The log line layout: the quick path for ordinary records writes exactly what the
``time - name - LEVEL - message`` template writes, and the date text follows the clock."""
import logging
import sys
import time

import pytest

from mmlite.logging import MMLogger
from mmlite.logging.logger import _LevelFormatter

DATEFMT = '%Y/%m/%d %H:%M:%S'


def _record(level, msg='step %d done', args=(7,), created=None, exc_info=None):
    record = logging.LogRecord('proj', level, __file__, 10, msg, args, exc_info, func='train')
    if created is not None:
        record.created = created
    return record


@pytest.mark.parametrize('colour', [False, True])
@pytest.mark.parametrize('level', [logging.DEBUG, logging.INFO, logging.WARNING])
def test_plain_levels_match_the_template(colour, level):
    formatter = _LevelFormatter(colour, DATEFMT)
    reference = formatter._by_level[level]  # the template formatter of that level
    record = _record(level)
    text = formatter.format(record)
    assert text == reference.format(_record(level, created=record.created))
    assert ' - proj - ' in text and text.endswith(' - step 7 done')
    assert record.message == 'step 7 done'  # set as logging.Formatter sets it
    assert record.asctime == time.strftime(DATEFMT, time.localtime(record.created))


def test_tracebacks_errors_and_unknown_levels_keep_their_layouts():
    formatter = _LevelFormatter(False, DATEFMT)
    try:
        raise ValueError('bad value')
    except ValueError:
        with_traceback = _record(logging.WARNING, exc_info=sys.exc_info())
    text = formatter.format(with_traceback)
    assert ' - WARNING - step 7 done\nTraceback' in text and 'ValueError: bad value' in text

    error = formatter.format(_record(logging.ERROR))
    assert f' - ERROR - {__file__}:10 in train - step 7 done' in error
    assert ' - Level 25 - step 7 done' in formatter.format(_record(25))


def test_date_text_changes_with_the_second():
    formatter = _LevelFormatter(False, DATEFMT)
    start = float(int(time.time()))
    for created in (start, start + 0.25, start + 0.999, start + 1.0, start + 61.5, start + 1.5):
        record = _record(logging.INFO, created=created)
        formatter.format(record)
        assert record.asctime == time.strftime(DATEFMT, time.localtime(created))
    # Asked with another date format, the same second is formatted again.
    record = _record(logging.INFO, created=start)
    assert formatter.formatTime(record, '%H:%M') == time.strftime('%H:%M', time.localtime(start))


def test_logger_lines_on_console_and_in_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(MMLogger, '_instance_dict', {})
    monkeypatch.setattr(MMLogger, '_current_name', None)
    logger = MMLogger.get_instance('format_file', logger_name='proj',
                                   log_file=str(tmp_path / 'run.log'))
    logger.info('Epoch(train) [1][10/20]  loss: %.4f', 0.5)
    logger.warning('careful')
    # Written through at once: the file is complete while the handler is still open.
    lines = (tmp_path / 'run.log').read_text().splitlines()
    assert [line.split(' - ', 1)[1] for line in lines] == [
        'proj - INFO - Epoch(train) [1][10/20]  loss: 0.5000', 'proj - WARNING - careful']
    out = capsys.readouterr().out.splitlines()
    assert [line.split(' - ', 1)[1] for line in out] == [line.split(' - ', 1)[1] for line in lines]
    for handler in logger.handlers:
        handler.close()


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def _own_logger(tmp_path, monkeypatch, name='plain'):
    monkeypatch.setattr(MMLogger, '_instance_dict', {})
    monkeypatch.setattr(MMLogger, '_current_name', None)
    return MMLogger.get_instance(name, logger_name='proj', log_file=str(tmp_path / f'{name}.log'))


def test_info_lines_written_directly_match_logging_path(tmp_path, capsys, monkeypatch):
    logger = _own_logger(tmp_path, monkeypatch)
    calls = []
    real_log = logging.Logger._log
    monkeypatch.setattr(logging.Logger, '_log', lambda self, *a, **k: (calls.append(a[1]),
                                                                       real_log(self, *a, **k)))
    logger.info('Epoch(train) [1][50/300]  loss: 0.5000')  # written by MMLogger itself
    assert calls == []
    logger.filters.append(lambda record: True)  # any filter of the logger: logging's path
    logger.info('Epoch(train) [1][50/300]  loss: 0.5000')
    assert calls == ['Epoch(train) [1][50/300]  loss: 0.5000']
    file_lines = (tmp_path / 'plain.log').read_text().splitlines()
    console = capsys.readouterr().out.splitlines()
    for lines in (file_lines, console):
        assert len(lines) == 2 and lines[0].split(' - ', 1)[1] == lines[1].split(' - ', 1)[1]
        assert lines[0].split(' - ', 1)[1] == 'proj - INFO - Epoch(train) [1][50/300]  loss: 0.5000'
    assert file_lines[0][:4].isdigit() and file_lines[0][4] == '/'  # the file's date format
    for handler in logger.handlers:
        handler.close()


def test_added_handlers_filters_and_levels_are_honoured(tmp_path, capsys, monkeypatch):
    logger = _own_logger(tmp_path, monkeypatch, 'honoured')
    collector = _Collect()
    logger.addHandler(collector)
    logger.info('to every handler')
    assert [r.getMessage() for r in collector.records] == ['to every handler']
    assert collector.records[0].funcName == 'test_added_handlers_filters_and_levels_are_honoured'
    logger.removeHandler(collector)
    console, log_file = logger.handlers
    console.addFilter(lambda record: 'secret' not in record.getMessage())
    logger.info('a secret line')
    log_file.setLevel(logging.WARNING)
    logger.info('console only')
    console.filters.pop()
    console.setLevel(logging.ERROR)
    logger.info('nowhere')
    logger.disabled = True
    logger.info('disabled')
    out = [line.split(' - ')[-1] for line in capsys.readouterr().out.splitlines()]
    assert out == ['to every handler', 'console only']
    file_text = (tmp_path / 'honoured.log').read_text()
    assert 'to every handler' in file_text and 'a secret line' in file_text
    assert 'console only' not in file_text and 'nowhere' not in file_text
    for handler in logger.handlers:
        handler.close()


def test_a_failing_stream_is_reported_as_logging_reports_it(tmp_path, capsys, monkeypatch):
    logger = _own_logger(tmp_path, monkeypatch, 'failing')

    class Broken:
        def write(self, text):
            raise OSError('stream gone')

        def flush(self):
            pass
    logger.handlers[0].setStream(Broken())
    logger.info('lost line')  # reported on stderr, not raised (logging.raiseExceptions)
    assert 'stream gone' in capsys.readouterr().err
    assert 'lost line' in (tmp_path / 'failing.log').read_text()
    for handler in logger.handlers:
        handler.close()
