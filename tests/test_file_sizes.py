"""Small files: no module of the three packages runs over 600 lines unless its docstring says
why, in a line that starts with ``Long file:`` (for example "Long file: one network family and
its quirks, kept together because ..."). Read from the source, so nothing is imported here."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("zc_proxies", "search_spaces", "experiments")
MAX_LINES = 600
MARKER = "Long file:"


def has_reason(source: str) -> bool:
    """Whether the module docstring of ``source`` has a line starting with :data:`MARKER`
    followed by some words (the reason)."""
    doc = ast.get_docstring(ast.parse(source)) or ""
    return any(line.strip().startswith(MARKER) and line.strip()[len(MARKER):].strip()
               for line in doc.splitlines())


def long_files(root: Path = ROOT, packages=PACKAGES, limit: int = MAX_LINES) -> list[str]:
    """``path: N lines`` for each .py file under ``packages`` longer than ``limit`` lines
    whose docstring gives no reason."""
    out = []
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            text = path.read_text()
            n = len(text.splitlines())
            if n > limit and not has_reason(text):
                out.append(f"{path.relative_to(root).as_posix()}: {n} lines")
    return out


def test_no_long_file_without_a_reason():
    bad = long_files()
    assert bad == [], (f"over {MAX_LINES} lines with no '{MARKER} <why>' line in the module docstring "
                       f"(split the file by job, or say why it stays whole): " + "; ".join(bad))


def test_the_check_catches_a_long_file_and_accepts_a_reason(tmp_path):
    """The check fails on what it looks for (so a passing run means something)."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    body = "x = 1\n" * MAX_LINES
    (pkg / "short.py").write_text('"""Short."""\n' + "x = 1\n" * (MAX_LINES - 1))
    (pkg / "long.py").write_text('"""A long file."""\n' + body)
    (pkg / "empty_reason.py").write_text('"""Long file:\n"""\n' + body)
    (pkg / "marked.py").write_text('"""A long file.\n\nLong file: one table, kept whole because it is one.\n"""\n'
                                   + body)
    (pkg / "in_a_comment.py").write_text('"""No reason here."""\n# Long file: a comment is not the docstring\n' + body)
    assert long_files(tmp_path, ("pkg",)) == [f"pkg/empty_reason.py: {MAX_LINES + 2} lines",
                                             f"pkg/in_a_comment.py: {MAX_LINES + 2} lines",
                                             f"pkg/long.py: {MAX_LINES + 1} lines"]
