"""The results store: one SQLite file, one row per score, written in transactions.

An interrupted run never leaves a half-written row (each architecture's scores are one
transaction) and resumes by skipping what is stored (the primary key forbids duplicates).
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    study   TEXT NOT NULL,
    space   TEXT NOT NULL,
    task    TEXT NOT NULL,
    variant TEXT NOT NULL,
    seed    INTEGER NOT NULL,
    arch    TEXT NOT NULL,
    proxy   TEXT NOT NULL,
    value   REAL,
    seconds REAL,
    status  TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (study, space, task, variant, seed, arch, proxy)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Row:
    study: str
    space: str
    task: str
    variant: str
    seed: int
    arch: str
    proxy: str
    value: float | None
    seconds: float | None
    status: str
    message: str = ""


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)  # explicit transactions
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

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

    # ------------------------------------------------------------------ scores
    def write(self, rows: Iterable[Row], *, replace: bool = False) -> None:
        """Write rows in one transaction; existing keys are kept unless ``replace``."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        values = [(r.study, r.space, r.task, r.variant, r.seed, r.arch, r.proxy, r.value,
                   r.seconds, r.status, r.message) for r in rows]
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(f"{verb} INTO scores VALUES (?,?,?,?,?,?,?,?,?,?,?)", values)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def done(self, study: str, variant: str, seed: int) -> dict[str, set[str]]:
        """{arch: {proxy labels stored}} for one study variant and seed."""
        out: dict[str, set[str]] = {}
        for arch, proxy in self.db.execute(
            "SELECT arch, proxy FROM scores WHERE study=? AND variant=? AND seed=?", (study, variant, seed)
        ):
            out.setdefault(arch, set()).add(proxy)
        return out

    def rows(self, **where) -> list[Row]:
        sql = "SELECT study, space, task, variant, seed, arch, proxy, value, seconds, status, message FROM scores"
        if where:
            sql += " WHERE " + " AND ".join(f"{k} = ?" for k in where)
        sql += " ORDER BY study, space, task, variant, seed, arch, proxy"
        return [Row(*r) for r in self.db.execute(sql, tuple(where.values()))]

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
