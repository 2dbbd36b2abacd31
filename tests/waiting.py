"""Waiting on events in tests: poll a condition until it holds, failing only past a deadline so
generous that only a hang misses it. Tests never assert how long something took (a loaded or slow
machine is not a failure), and never sleep a fixed time hoping something has happened by then."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Callable

#: seconds; a bound for "it happens at all", not for "it happens fast"
HANG = 300.0


def wait_until(condition: Callable[[], object], what: str, timeout: float = HANG, poll: float = 0.02):
    """Poll ``condition()`` until it returns something true, and return that. Raises
    AssertionError naming ``what`` if ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        got = condition()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(poll)


def stored_rows(db_path: Path) -> int:
    """Rows in a store's ``scores`` table, 0 before the store (or the table) exists."""
    if not Path(db_path).exists():
        return 0
    db = sqlite3.connect(db_path)
    try:
        return db.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    except sqlite3.OperationalError:  # the table not created yet, or locked by the writer
        return 0
    finally:
        db.close()
