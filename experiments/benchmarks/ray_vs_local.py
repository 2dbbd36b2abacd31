"""The same study on the local pool and on a local Ray cluster: wall times and the stored rows,
which must be equal bit for bit.

    python -m experiments.benchmarks.ray_vs_local [--workers 2] [--seeds 1] [--rounds 2] [--out results/ray_vs_local.md]

Runs ``zcbench run`` on the embedded NB201 / Fashion-MNIST benchmark (every architecture,
``--seeds`` seeds, a few cheap proxies and reg_swap), once with ``--workers N`` (a local process
pool) and once with ``--executor ray --workers N`` (a local Ray cluster of N CPUs that the
command starts and ends), ``--rounds`` times in alternating order, each a fresh process into a
fresh folder, so each wall time includes its start-up. Needs Ray (``pip install 'zcbench[ray]'``).
"""
from __future__ import annotations

import argparse
import csv
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from experiments.benchmarks import publish

PROXIES = "[swap, {reg_swap: {mu: auto, sigma: auto, theta_unit: K}}, synflow, nwot, zico, snip, params]"
ROWS = "SELECT scoring, seed, arch, proxy, value, status FROM scores ORDER BY scoring, seed, arch, proxy"


def _run(out: Path, args: list[str], seeds: int) -> tuple[float, float]:
    """Wall seconds of one command, and the machine's mean 1-minute load average over it."""
    cmd = [sys.executable, "-m", "experiments.cli", "run", "--out", str(out), "--no-progress",
           "--set", f"seeds={seeds}", "--set", f"proxies={PROXIES}", *args]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    loads = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    while proc.poll() is None:
        loads.append(os.getloadavg()[0])
        time.sleep(1.0)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed with status {proc.returncode}")
    return time.perf_counter() - t0, sum(loads) / max(1, len(loads))


def _spearman(out: Path) -> dict[str, str]:
    with open(out / "correlations.csv") as f:
        rows = list(csv.DictReader(f))
    by: dict[str, list[str]] = {}
    for r in rows:
        by.setdefault(r["proxy"], []).append(r["spearman"])
    return {p: " / ".join(f"{float(v):.4f}" for v in vs) for p, vs in by.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--rounds", type=int, default=2, help="runs of each executor, in alternating order")
    p.add_argument("--out", default="results/ray_vs_local.md")
    a = p.parse_args(argv)
    import ray
    import torch

    runs = {"local pool": ["--workers", str(a.workers)], "local Ray cluster": ["--executor", "ray", "--workers", str(a.workers)]}
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
    stored: dict[str, list] = {k: [] for k in runs}
    csvs: dict[str, list[bytes]] = {k: [] for k in runs}
    rho: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="zcbench-ray-bench-") as tmp:
        for r in range(a.rounds):
            order = list(runs) if r % 2 == 0 else list(runs)[::-1]  # alternated: both see the same load drift
            for name in order:
                out = Path(tmp) / f"{name.replace(' ', '_')}_{r}"
                times[name].append(_run(out, runs[name], a.seeds))
                stored[name].append(sqlite3.connect(out / "results.sqlite").execute(ROWS).fetchall())
                csvs[name].append((out / "correlations.csv").read_bytes())
                rho[name] = _spearman(out)
    every_rows = [x for v in stored.values() for x in v]
    every_csv = [x for v in csvs.values() for x in v]
    same_rows = all(x == every_rows[0] for x in every_rows)
    same_csv = all(x == every_csv[0] for x in every_csv)
    rows_local = stored["local pool"][0]
    rho_local, rho_ray = rho["local pool"], rho["local Ray cluster"]
    base = statistics.median(t for t, _ in times["local pool"])
    n_archs = len({r[2] for r in rows_local})
    lines = [
        "# The same study on the local pool and on a local Ray cluster", "",
        f"`zcbench run` (the default study's embedded NB201 / Fashion-MNIST benchmark: {n_archs} architectures x "
        f"{a.seeds} seeds, proxies {PROXIES}), {a.workers} scoring processes with 1 torch thread each; each wall time "
        f"is one fresh command, start-up included (the pool's processes; Ray's: starting the local cluster and its "
        f"workers). {platform.machine()}, {os.cpu_count()} cores shared with other work, torch {torch.__version__}, "
        f"Ray {ray.__version__}. Written by `python -m experiments.benchmarks.ray_vs_local --workers {a.workers} "
        f"--seeds {a.seeds} --rounds {a.rounds}`.", "",
        f"| executor | command | wall seconds, {a.rounds} runs | median | ratio to the local pool | machine load "
        "(1-min mean per run) |", "|---|---|---:|---:|---:|---:|",
        *[f"| {name} | `zcbench run ... {' '.join(runs[name])}` | {' / '.join(f'{t:.1f}' for t, _ in times[name])} | "
          f"{statistics.median(t for t, _ in times[name]):.1f} | "
          f"{statistics.median(t for t, _ in times[name]) / base:.2f}x | "
          f"{' / '.join(f'{l:.1f}' for _, l in times[name])} |" for name in runs], "",
        "On a shared machine the wall times carry the other work's load (last column); what must hold whatever "
        "the load is the next line. Ray starts its worker processes at a higher niceness than the driver's "
        "(here 19 against the pool's 10), so it had no head start in priority.", "",
        f"Stored rows (variant, seed, architecture, proxy, value, status): {len(rows_local)} per run, "
        f"**{'identical bit for bit' if same_rows else 'DIFFERENT'}** across all {2 * a.rounds} runs; "
        f"correlations.csv **{'identical byte for byte' if same_csv else 'DIFFERENT'}**.", "",
        "| proxy | Spearman per seed, local pool | Spearman per seed, Ray |", "|---|---:|---:|",
        *[f"| {p} | {rho_local[p]} | {rho_ray.get(p, '-')} |" for p in rho_local], "",
    ]
    publish("\n".join(lines), a.out)
    if not (same_rows and same_csv):
        sys.exit(1)


if __name__ == "__main__":
    main()
