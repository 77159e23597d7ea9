"""Every page in docs/ runs as written: its code blocks execute in order, on small data.

How a page is run (writers of docs/*.md follow these rules; docs/README.md repeats them):

- Each page runs in its own subprocess, in a fresh temporary directory that holds copies of the
  repository's ``configs/`` and ``tools/`` (what a fresh clone offers; mmlite itself is the
  installed package). ``python`` on the PATH is the interpreter running the tests.
- ```` ```python ```` blocks run in order in one namespace per page, as the script ``__main__``
  with the working directory on ``sys.path``. Tracebacks point at the page's own line numbers.
- ```` ```bash ```` / ```` ```shell ```` / ```` ```sh ```` blocks run with ``bash -e`` in the same
  directory, in the same order.
- ``<!-- file: PATH -->`` on the line before a block writes the block to ``PATH`` (relative to the
  working directory) instead of running it: config files and modules the reader saves.
- ``<!-- skip-test: REASON -->`` on the line before a block leaves it out; the reason is required.
  Use it sparingly (installing packages, downloads).
- Blocks in any other language (``text``, ``yaml`` without a file marker...) are shown, not run.

Run one page by hand: ``python tests/docs/test_docs_snippets.py docs/config.md`` (in an empty
directory holding copies of configs/ and tools/, as the test prepares).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import traceback
import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / 'docs'
PAGES = sorted(path.name for path in DOCS.glob('*.md'))
COPIED_DIRS = ('configs', 'tools')  # what a page may use from a fresh clone, copied so pages never edit the repo
PYTHON_LANGS = {'python', 'py', 'python3'}
SHELL_LANGS = {'bash', 'sh', 'shell'}
MARKERS = ('skip-test', 'file')
PAGE_TIMEOUT = 240  # seconds; generous for a loaded machine, the pages take a few seconds each
PARALLEL = max(1, min(4, os.cpu_count() or 1))
# Pages the index links to that a later change writes; a link to one may dangle until it exists.
PLANNED_PAGES = set()

_FENCE = re.compile(r'^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*)$')
_MARKER = re.compile(r'^\s*<!--\s*(?P<name>[\w-]+)\s*(?::(?P<arg>.*?))?\s*-->\s*$')


class DocsFormatError(ValueError):
    """A page breaks the rules above; the message names the page and line."""


@dataclass
class Block:
    """One fenced code block: where it starts (1-based line of its first code line), its
    language, its text, and the action its marker asks for ('run', 'skip', 'file', 'show')."""

    line: int
    lang: str
    code: str
    action: str
    arg: str = ''


def parse_blocks(text: str, page: str) -> list[Block]:
    """The fenced code blocks of a markdown page with what to do with each."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, indent = match['fence'], len(match['indent'])
        lang = (match['info'].split() or [''])[0].lower()
        start = i + 1
        end = start
        while end < len(lines) and not re.match(rf'^[ \t]*{fence[0]}{{{len(fence)},}}[ \t]*$', lines[end]):
            end += 1
        if end == len(lines):
            raise DocsFormatError(f'{page}, line {i + 1}: the code block opened here is never closed')
        body = [line[indent:] if line[:indent].strip() == '' else line.lstrip() for line in lines[start:end]]
        action, arg = _action_for(lines, i, lang, page)
        blocks.append(Block(line=start + 1, lang=lang, code='\n'.join(body) + '\n', action=action, arg=arg))
        i = end + 1
    return blocks


def _action_for(lines: list[str], fence_index: int, lang: str, page: str) -> tuple[str, str]:
    """Read the marker on the line before a fence (blank lines in between are allowed)."""
    j = fence_index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    marker = _MARKER.match(lines[j]) if j >= 0 else None
    default = 'run' if lang in PYTHON_LANGS | SHELL_LANGS else 'show'
    if marker is None:
        return default, ''
    name, arg = marker['name'], (marker['arg'] or '').strip()
    where = f'{page}, line {j + 1}'
    if name not in MARKERS:
        raise DocsFormatError(f'{where}: unknown marker <!-- {name} --> before a code block; the harness '
                              f'knows {", ".join(MARKERS)}')
    if not arg:
        hint = 'a reason' if name == 'skip-test' else 'a path'
        raise DocsFormatError(f'{where}: <!-- {name}: ... --> needs {hint} after the colon')
    if name == 'skip-test':
        return 'skip', arg
    if os.path.isabs(arg) or '..' in Path(arg).parts:
        raise DocsFormatError(f'{where}: <!-- file: {arg} --> must be a path inside the working directory')
    return 'file', arg


# ----------------------------------------------------------------------------- the page runner
def run_page(page_path: str) -> int:
    """Run every block of ``page_path`` in the current directory; 0 on success.

    This is what the subprocess of each test executes.
    """
    page = os.path.relpath(page_path, REPO) if page_path.startswith(str(REPO)) else page_path
    try:
        blocks = parse_blocks(Path(page_path).read_text(encoding='utf-8'), page)
    except DocsFormatError as exc:
        print(f'FAILED: {exc}', file=sys.stderr)
        return 1
    started = time.perf_counter()
    module = types.ModuleType('__main__')
    module.__file__ = page_path
    namespace = module.__dict__
    saved_main = sys.modules.get('__main__')
    sys.modules['__main__'] = module  # classes defined on the page pickle like a script's
    sys.path.insert(0, os.getcwd())  # as `python script.py` run from the working directory
    try:
        for block in blocks:
            if block.action in ('skip', 'show'):
                continue
            print(f'----- {page}, line {block.line}: {block.action} {block.arg or block.lang} '
                  f'(at {time.perf_counter() - started:.1f} s)', flush=True)
            if block.action == 'file':
                target = Path(block.arg)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.code, encoding='utf-8')
            elif block.lang in PYTHON_LANGS:
                # Padding puts the code at its line in the page, so tracebacks point into the .md file.
                code = compile('\n' * (block.line - 1) + block.code, page_path, 'exec')
                try:
                    exec(code, namespace)  # noqa: S102 - the docs are this repository's own code
                except BaseException:
                    traceback.print_exc()
                    print(f'FAILED: {page}, the python block at line {block.line}', file=sys.stderr)
                    return 1
            else:
                sys.stdout.flush()
                result = subprocess.run(['bash', '-e', '-o', 'pipefail', '-c', block.code])
                if result.returncode != 0:
                    print(f'FAILED: {page}, the shell block at line {block.line} exited with '
                          f'{result.returncode}', file=sys.stderr)
                    return 1
    finally:
        sys.modules['__main__'] = saved_main
    print(f'----- {page}: every block ran ({time.perf_counter() - started:.1f} s)', flush=True)
    return 0


def prepare_workdir(root: Path) -> tuple[Path, dict]:
    """A fresh working directory like a clone's root, and the environment to run a page in."""
    work = root / 'work'
    work.mkdir(parents=True)
    for name in COPIED_DIRS:
        shutil.copytree(REPO / name, work / name, ignore=shutil.ignore_patterns('__pycache__'))
    bin_dir = root / 'bin'
    bin_dir.mkdir()
    for name in ('python', 'python3'):  # a wrapper, not a symlink: a venv is found from the path run
        wrapper = bin_dir / name
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        wrapper.chmod(0o755)
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    env.update(PATH=f'{bin_dir}{os.pathsep}{env.get("PATH", "")}', MPLBACKEND='Agg', NO_COLOR='1',
               OMP_NUM_THREADS='1', PYTHONDONTWRITEBYTECODE='1', PYTHONUNBUFFERED='1')
    return work, env


def execute_page(page_path: Path, root: Path, timeout: float = PAGE_TIMEOUT) -> tuple[int, str]:
    """Run one page in a subprocess in a fresh directory under ``root``; (exit code, output)."""
    work, env = prepare_workdir(root)
    try:
        result = subprocess.run([sys.executable, __file__, str(page_path)], cwd=work, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode(errors='replace') if isinstance(exc.stdout, bytes) else (exc.stdout or '')
        return -1, f'{output}\nTIMEOUT: {page_path.name} ran longer than {timeout} s'
    return result.returncode, result.stdout


# ------------------------------------------------------------------------------------- tests
@pytest.fixture(scope='module')
def page_results(request, tmp_path_factory):
    """Start every selected page at once (a few at a time), so the pages' start-up overlaps."""
    selected = [item.callspec.params['page'] for item in request.session.items
                if getattr(item, 'originalname', None) == 'test_page_runs_as_written'
                and hasattr(item, 'callspec')]
    pool = ThreadPoolExecutor(max_workers=PARALLEL)
    futures = {page: pool.submit(execute_page, DOCS / page, tmp_path_factory.mktemp(Path(page).stem))
               for page in dict.fromkeys(selected)}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize('page', PAGES)
def test_page_runs_as_written(page, page_results):
    code, output = page_results[page].result()
    tail = output[-6000:]
    assert code == 0, f'docs/{page} did not run as written:\n{tail}'
    assert f'docs/{page}: every block ran' in output


@pytest.mark.parametrize('page', PAGES)
def test_page_markers_are_well_formed(page):
    blocks = parse_blocks((DOCS / page).read_text(encoding='utf-8'), f'docs/{page}')
    if page != 'README.md':  # the index only points at the pages
        assert any(b.action in ('run', 'file') for b in blocks), f'docs/{page} has no block that runs'
    skipped = [b.line for b in blocks if b.action == 'skip']
    assert len(skipped) <= 3, f'docs/{page} skips the blocks at lines {skipped}; skip sparingly'


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r'`([^`]*)`', r'\1', heading.strip()).lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def _anchors(path: Path) -> set[str]:
    text = re.sub(r'^```.*?^```', '', path.read_text(encoding='utf-8'), flags=re.S | re.M)
    return {github_anchor(m[1]) for m in re.finditer(r'^#{1,6}\s+(.+?)\s*#*\s*$', text, flags=re.M)}


@pytest.mark.parametrize('page', PAGES)
def test_relative_links_resolve(page):
    path = DOCS / page
    text = re.sub(r'^```.*?^```', '', path.read_text(encoding='utf-8'), flags=re.S | re.M)
    broken = []
    for target in re.findall(r'\]\(([^)\s]+)\)', text):
        if re.match(r'^[a-z]+:', target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition('#')
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            if linked.parent == DOCS and linked.name in PLANNED_PAGES:
                continue
            broken.append(target)
        elif anchor and linked.suffix == '.md' and anchor not in _anchors(linked):
            broken.append(target)
    assert not broken, f'docs/{page} links to missing files or headings: {broken}'


# ------------------------------------------------------------------- the harness's own rules
def _write_page(tmp_path: Path, text: str) -> Path:
    page = tmp_path / 'page.md'
    page.write_text(text, encoding='utf-8')
    return page


def test_harness_runs_blocks_in_order_in_one_namespace_and_writes_files(tmp_path):
    page = _write_page(tmp_path, '\n'.join([
        '# A page', '', '```python', 'value = 41', '```', '',
        '<!-- file: pkg/settings.py -->', '```python', 'ANSWER = 1', '```', '',
        '```text', 'this is output, never run', '```', '',
        '<!-- skip-test: would need the network -->', '```python', 'raise SystemExit(3)', '```', '',
        '```bash', 'test -f pkg/settings.py && echo "shell sees $(cat pkg/settings.py)"', '```', '',
        '```python', 'from pkg.settings import ANSWER', 'value += ANSWER', 'print("value is", value)', '```',
    ]))
    code, output = execute_page(page, tmp_path / 'run')
    assert code == 0, output
    assert 'shell sees ANSWER = 1' in output and 'value is 42' in output
    assert (tmp_path / 'run' / 'work' / 'pkg' / 'settings.py').read_text() == 'ANSWER = 1\n'
    assert (tmp_path / 'run' / 'work' / 'configs').is_dir()


def test_harness_failure_points_at_the_page_line(tmp_path):
    page = _write_page(tmp_path, 'Text\n\n```python\nx = 1\n\nx = undefined_name\n```\n')
    code, output = execute_page(page, tmp_path / 'run')
    assert code == 1
    assert f'File "{page}", line 6' in output and 'NameError' in output
    assert 'the python block at line 4' in output


def test_harness_shell_failure_stops_the_page(tmp_path):
    page = _write_page(tmp_path, '```bash\nfalse\n```\n\n```python\nprint("not reached")\n```\n')
    code, output = execute_page(page, tmp_path / 'run')
    assert code == 1 and 'not reached' not in output and 'shell block at line 2' in output


def test_harness_rejects_markers_without_a_reason_or_unknown_ones():
    with pytest.raises(DocsFormatError, match='line 1: <!-- skip-test: ... --> needs a reason'):
        parse_blocks('<!-- skip-test -->\n```python\npass\n```\n', 'p.md')
    with pytest.raises(DocsFormatError, match='unknown marker <!-- skip-tests -->'):
        parse_blocks('<!-- skip-tests: typo -->\n```python\npass\n```\n', 'p.md')
    with pytest.raises(DocsFormatError, match='inside the working directory'):
        parse_blocks('<!-- file: ../outside.py -->\n```python\npass\n```\n', 'p.md')
    with pytest.raises(DocsFormatError, match='never closed'):
        parse_blocks('```python\npass\n', 'p.md')


def test_harness_reads_indented_and_longer_fences():
    blocks = parse_blocks('1. Step:\n\n   ```python\n   a = 1\n     b = 2\n   ```\n\n````bash\n```\n````\n', 'p')
    assert [(b.lang, b.code, b.line) for b in blocks] == [('python', 'a = 1\n  b = 2\n', 4),
                                                          ('bash', '```\n', 9)]


def test_github_anchor_matches_githubs_rule():
    assert github_anchor('Hook points, in order') == 'hook-points-in-order'
    assert github_anchor('`_delete_`: replace instead of merge') == '_delete_-replace-instead-of-merge'


if __name__ == '__main__':
    sys.exit(run_page(os.path.abspath(sys.argv[1])))
