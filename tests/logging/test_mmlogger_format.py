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
