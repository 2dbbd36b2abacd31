"""Shows that a change of layout left behaviour unchanged: runs the same ``zcbench`` commands
with two source trees (e.g. main's checkout and a branch's) and compares what they leave.

    python tests/same_output.py OLD_TREE NEW_TREE [--out DIR]

Each tree runs, with ``PYTHONPATH`` set to it, one torch thread and ``PYTHONHASHSEED=0``, the
default suite on a small population (``--set seeds=[0] --set archs.n=40``), which reads the
fixtures shipped in the package (the embedded Fashion-MNIST benchmark and NATS-Bench's
accuracies), and two small ``zcbench search`` runs of the shipped search configs (NB201 judged on
NATS-Bench's accuracies with ``auto`` µ / σ; the DARTS scorer with a size sweep). Then it
compares the stored rows of ``results.sqlite`` (every column except ``seconds``, a time; the
``versions`` record is left out) and every report file byte for byte, except that a CSV column
named ``seconds`` or ending ``_seconds``/``_s`` is dropped first, ``search.json`` is compared
without its times (keys with ``wall_seconds``, ``lookup_seconds``, ``train_seconds``) and package
versions, ``search.md`` without its ``wall s`` columns, and the store's ``.lock`` file (a process
id) is skipped. Second, each tree writes the reports again
(``zcbench report --to``) from the OLD tree's store, so that a difference in the reports is
told apart from one in the scores. Prints one line per file; exits 1 on any difference. Not
collected by pytest (it runs the suite twice; minutes).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

RUNS = {
    "default": ["run", "--set", "seeds=[0]", "--set", "archs.n=40", "--no-progress"],
}
SEARCHES = {  # not reported again from a store: a search writes its files itself
    "search_nb201_real": ["search", "experiments/configs/search_nb201_real.yaml", "--set", "space_options.C=4",
                          "--set", "space_options.N=1", "--set", "evaluations=30", "--set", "population=10",
                          "--set", "sample_size=4", "--set", "seeds=1", "--no-progress"],
    "search_darts": ["search", "experiments/configs/search_darts.yaml", "--set", "evaluations=24", "--set",
                     "population=8", "--set", "sample_size=4", "--set", "data.size=16", "--set", "size_sweep.runs=1",
                     "--set", "size_sweep.evaluations=16", "--size-sweep", "0.8", "1.6", "--no-progress"],
}
TIME_COLUMNS = ("seconds",)
TIME_KEYS = ("wall_seconds", "lookup_seconds", "train_seconds", "versions")  # in search.json


def run_all(tree: Path, out: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    for name, args in {**RUNS, **SEARCHES}.items():
        proc = subprocess.run([sys.executable, "-m", "experiments.cli", *args, "--out", str(out / name)],
                              cwd=tree, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{tree}: zcbench {' '.join(args)} failed:\n{proc.stderr[-3000:]}")


def report_again(tree: Path, store_dir: Path, to: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    for name in RUNS:
        proc = subprocess.run([sys.executable, "-m", "experiments.cli", "report", str(store_dir / name),
                               "--to", str(to / name)], cwd=tree, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{tree}: zcbench report failed:\n{proc.stderr[-3000:]}")


def rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        got = sorted(con.execute("SELECT scoring, seed, arch, proxy, value, status, message FROM scores"))
        meta = sorted(r for r in con.execute("SELECT key, value FROM meta") if r[0] != "versions")
        scorings = sorted(con.execute("SELECT * FROM scorings"))
    return [*got, *meta, *scorings]


def without_times(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name == "search.json":
        return json.dumps(_strip(json.loads(data)), indent=1).encode()
    if path.name == "search.md":
        return _mask_wall_columns(data.decode()).encode()
    if path.suffix != ".csv":
        return data
    table = list(csv.reader(io.StringIO(data.decode())))
    if not table:
        return data
    drop = {i for i, c in enumerate(table[0]) if c in TIME_COLUMNS or c.endswith(("_seconds", "_s"))}
    buf = io.StringIO()
    csv.writer(buf).writerows([[c for i, c in enumerate(r) if i not in drop] for r in table])
    return buf.getvalue().encode()


def _strip(v):
    if isinstance(v, dict):
        return {k: _strip(x) for k, x in v.items() if not any(t in k for t in TIME_KEYS)}
    if isinstance(v, list):
        return [_strip(x) for x in v]
    return v


def _mask_wall_columns(text: str) -> str:
    """A markdown file with the cells of its ``wall s`` columns (seconds) replaced by ``X``."""
    lines, cols = [], None
    for line in text.splitlines():
        if line.startswith("|"):
            cells = line.split(" | ")
            if cols is None:
                cols = {i for i, c in enumerate(cells) if "wall s" in c}
            else:
                cells = ["X" if i in cols else c for i, c in enumerate(cells)]
            line = " | ".join(cells)
        else:
            cols = None
        lines.append(line)
    return "\n".join(lines)


def compare(a: Path, b: Path) -> int:
    bad = 0
    files = sorted({p.relative_to(a) for p in a.rglob("*") if p.is_file()}
                   | {p.relative_to(b) for p in b.rglob("*") if p.is_file()})
    for rel in files:
        if rel.suffix == ".lock":
            continue
        pa, pb = a / rel, b / rel
        if not (pa.is_file() and pb.is_file()):
            print(f"DIFF  {rel}: only in {'old' if pa.is_file() else 'new'}")
            bad += 1
            continue
        if rel.suffix == ".sqlite":
            same = rows(pa) == rows(pb)
            what = f"{len(rows(pa))} rows"
        else:
            same = without_times(pa) == without_times(pb)
            what = f"{pa.stat().st_size} bytes"
        print(f"{'same' if same else 'DIFF'}  {rel} ({what})")
        bad += not same
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--out", type=Path, default=Path("same-output"))
    args = ap.parse_args(argv)
    for side, tree in (("old", args.old), ("new", args.new)):
        if not (args.out / side).exists():
            run_all(tree.resolve(), (args.out / side).resolve())
    bad = compare(args.out / "old", args.out / "new")
    print("runs:", "identical" if not bad else f"{bad} file(s) differ")
    for side, tree in (("old-report", args.old), ("new-report", args.new)):
        if not (args.out / side).exists():
            report_again(tree.resolve(), (args.out / "old").resolve(), (args.out / side).resolve())
    again = compare(args.out / "old-report", args.out / "new-report")
    print("reports from one store:", "identical" if not again else f"{again} file(s) differ")
    bad += again
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
