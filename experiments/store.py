"""The results store: one SQLite file, one row per score, written in transactions.

A score is keyed by what determines it, and nothing else: the *scoring* (space and its
options, task, the resolved input-data section), the seed, the architecture (the space's own
string) and the proxy with its options (:func:`proxy_key`). Study names, ground truth and the
choice of architectures are not part of the key, so several studies share scores, and a new
ground-truth file, metric or split re-scores nothing: the truth is joined at report time.

An interrupted run never leaves a half-written row (each architecture's scores are one
transaction) and resumes by skipping what is stored (the primary key forbids duplicates).
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from zc_proxies.errors import ZcbenchError

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS scorings (
    id    TEXT PRIMARY KEY,
    space TEXT NOT NULL,
    task  TEXT NOT NULL,
    spec  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scores (
    scoring TEXT NOT NULL,
    seed    INTEGER NOT NULL,
    arch    TEXT NOT NULL,
    proxy   TEXT NOT NULL,
    value   REAL,
    seconds REAL,
    status  TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (scoring, seed, arch, proxy)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Row:
    scoring: str
    seed: int
    arch: str
    proxy: str  # a proxy key (proxy_key), not a study's label
    value: float | None
    seconds: float | None
    status: str
    message: str = ""


class StoreError(ZcbenchError, ValueError):
    """A results store that cannot be opened or written; the message says what to do."""


class ResultsNotFoundError(StoreError, FileNotFoundError):
    """No results store where a command looks for one."""


class StoreFormatError(StoreError):
    """A results.sqlite this version of zcbench cannot use; the message says what to do."""


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def scoring_spec(space: str, space_options: dict, task: str, data: dict) -> dict[str, Any]:
    """What, besides the seed, architecture and proxy, determines a score."""
    return {"space": space, "space_options": dict(space_options), "task": task, "data": dict(data)}


def scoring_id(spec: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(spec).encode()).hexdigest()[:16]


def proxy_key(proxy: str, options: dict[str, Any], defaults: dict[str, Any] | None = None) -> str:
    """The stored name of a proxy setting: the proxy's name, followed by the options that
    differ from its defaults (``swap{"repeats":32}``); a study's label is not part of it."""
    defaults = defaults or {}
    own = {k: v for k, v in options.items() if k not in defaults or defaults[k] != v}
    return proxy if not own else proxy + canonical(own)


class Store:
    """``Store(path)`` opens (or creates) a results file for writing and holds a lock on it, so
    that a second run into the same folder stops at once instead of doing the work again;
    ``Store(path, write=False)`` opens an existing one to read, without the lock."""

    def __init__(self, path: str | Path, *, write: bool = True):
        self.path = Path(path)
        self._lock = None
        if not write and not self.path.is_file():
            raise StoreError(f"no results at {self.path}; run `zcbench run STUDY.yaml --out {self.path.parent}` first")
        existed = self.path.exists()
        try:
            if write:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._lock = _lock(self.path)
            self.db = sqlite3.connect(self.path if write else self.path.resolve().as_uri() + "?mode=ro",
                                      uri=not write, isolation_level=None)  # explicit transactions
            bad = self.db.execute("PRAGMA quick_check").fetchone()[0]
            if bad != "ok":
                raise sqlite3.DatabaseError(bad)
            self._check_format()
            if write:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.executescript(SCHEMA)
                if self.get_meta("schema") is None:
                    self.set_meta("schema", SCHEMA_VERSION)
        except (sqlite3.DatabaseError, OSError, StoreError) as exc:
            if hasattr(self, "db"):
                self.db.close()
            self._release()
            raise _store_error(self.path, exc, existed) from None

    def _check_format(self) -> None:
        cols = [r[1] for r in self.db.execute("PRAGMA table_info(scores)")]
        if cols and "scoring" not in cols:
            raise StoreFormatError(
                f"{self.path} was written by an earlier zcbench, which keyed scores by study name; this "
                "version keys them by what determines them (space, task, data, seed, architecture, proxy). "
                f"Move that file aside (or delete it) and run again to score into a new store")

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock
            self._lock = None

    def close(self) -> None:
        if hasattr(self, "db"):
            self.db.close()
        self._release()

    def remove_if_empty(self) -> bool:
        """Delete the file (and SQLite's side files) if it holds no score: a run that failed
        before scoring anything leaves no empty store behind."""
        if self.count():
            return False
        self.close()
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        return True

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, key: str, value) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, default=str)))

    # ------------------------------------------------------------------ scorings
    def scoring(self, spec: dict[str, Any]) -> str:
        """The id of a scoring spec (:func:`scoring_spec`), recorded on first use."""
        sid = scoring_id(spec)
        self.db.execute("INSERT OR IGNORE INTO scorings VALUES (?, ?, ?, ?)",
                        (sid, spec["space"], spec["task"], canonical(spec)))
        return sid

    def scorings(self) -> dict[str, dict[str, Any]]:
        return {i: json.loads(s) for i, s in self.db.execute("SELECT id, spec FROM scorings")}

    # ------------------------------------------------------------------ scores
    def write(self, rows: Iterable[Row], *, replace: bool = False) -> None:
        """Write rows in one transaction; existing keys are kept unless ``replace``."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        values = [(r.scoring, r.seed, r.arch, r.proxy, r.value, r.seconds, r.status, r.message) for r in rows]
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(f"{verb} INTO scores VALUES (?,?,?,?,?,?,?,?)", values)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def done(self, scoring: str, seed: int) -> dict[str, set[str]]:
        """{arch: {proxy keys stored}} for one scoring and seed."""
        out: dict[str, set[str]] = {}
        for arch, proxy in self.db.execute("SELECT arch, proxy FROM scores WHERE scoring=? AND seed=?",
                                           (scoring, seed)):
            out.setdefault(arch, set()).add(proxy)
        return out

    def rows(self, **where) -> list[Row]:
        sql = "SELECT scoring, seed, arch, proxy, value, seconds, status, message FROM scores"
        if where:
            sql += " WHERE " + " AND ".join(f"{k} = ?" for k in where)
        sql += " ORDER BY scoring, seed, arch, proxy"
        return [Row(*r) for r in self.db.execute(sql, tuple(where.values()))]

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM scores").fetchone()[0]


def _lock(path: Path):
    """An exclusive lock on ``path``.lock for as long as the returned file is open; the
    operating system drops it when the process dies, so a killed run never leaves it behind."""
    f = open(str(path) + ".lock", "a+")
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return f
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        pid = f.read().strip() or "?"
        f.close()
        raise StoreError(f"another zcbench process (pid {pid}) is writing to {path}; wait for it to finish, "
                         "or use another --out folder") from None
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f


def _store_error(path: Path, exc: BaseException, existed: bool) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    text = str(exc)
    if isinstance(exc, PermissionError) or "readonly" in text or "read-only" in text or (
            isinstance(exc, sqlite3.OperationalError) and "unable to open" in text):
        return StoreError(f"cannot write the results store {path} ({text}); choose a writable --out folder")
    if isinstance(exc, OSError):
        return StoreError(f"cannot create the results store {path} ({exc.strerror or text}); "
                          "choose another --out folder")
    if existed:
        return StoreError(f"{path} is not a readable zcbench results store (SQLite says: {text}); it is damaged or "
                          "another kind of file. Move it away (or delete it) to start over, or use another --out "
                          "folder")
    return StoreError(f"cannot open the results store {path} ({text})")
