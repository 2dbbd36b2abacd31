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
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

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


class StoreFormatError(ValueError):
    """A results.sqlite this version of zcbench cannot use; the message says what to do."""


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
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)  # explicit transactions
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._check_format()
        self.db.executescript(SCHEMA)
        if self.get_meta("schema") is None:
            self.set_meta("schema", SCHEMA_VERSION)

    def _check_format(self) -> None:
        cols = [r[1] for r in self.db.execute("PRAGMA table_info(scores)")]
        if cols and "scoring" not in cols:
            self.db.close()
            raise StoreFormatError(
                f"{self.path} was written by an earlier zcbench, which keyed scores by study name; this "
                "version keys them by what determines them (space, task, data, seed, architecture, proxy). "
                f"Move that file aside (or delete it) and run again to score into a new store")

    def close(self) -> None:
        self.db.close()

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
