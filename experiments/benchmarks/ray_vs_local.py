"""The same study on the local pool and on a local Ray cluster: wall times and the stored rows,
which must be equal bit for bit.

    python -m experiments.benchmarks.ray_vs_local [--workers 2] [--out results/ray_vs_local.md]

Runs ``zcbench run`` twice on the embedded NB201 / Fashion-MNIST benchmark (every architecture,
``--seeds`` seeds, a few cheap proxies and reg_swap), once with ``--workers N`` (a local process
pool) and once with ``--executor ray --workers N`` (a local Ray cluster of N CPUs that the
command starts and ends), each a fresh process into a fresh folder, so each wall time includes
its start-up. Needs Ray (``pip install 'zcbench[ray]'``).
"""
from __future__ import annotations

import argparse
import csv
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from experiments.benchmarks import publish

PROXIES = "[swap, {reg_swap: {mu: auto, sigma: auto, theta_unit: K}}, synflow, nwot, zico, snip, params]"
ROWS = "SELECT variant, seed, arch, proxy, value, status FROM scores ORDER BY variant, seed, arch, proxy"


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
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--out", default="results/ray_vs_local.md")
    a = p.parse_args(argv)
    import ray
    import torch

    with tempfile.TemporaryDirectory(prefix="zcbench-ray-bench-") as tmp:
        local, on_ray = Path(tmp) / "local", Path(tmp) / "ray"
        t_local, load_local = _run(local, ["--workers", str(a.workers)], a.seeds)
        t_ray, load_ray = _run(on_ray, ["--executor", "ray", "--workers", str(a.workers)], a.seeds)
        rows_local = sqlite3.connect(local / "results.sqlite").execute(ROWS).fetchall()
        rows_ray = sqlite3.connect(on_ray / "results.sqlite").execute(ROWS).fetchall()
        same_rows = rows_local == rows_ray
        same_csv = (local / "correlations.csv").read_bytes() == (on_ray / "correlations.csv").read_bytes()
        rho_local, rho_ray = _spearman(local), _spearman(on_ray)
    n_archs = len({r[2] for r in rows_local})
    lines = [
        "# The same study on the local pool and on a local Ray cluster", "",
        f"`zcbench run` (the default study's embedded NB201 / Fashion-MNIST benchmark: {n_archs} architectures x "
        f"{a.seeds} seeds, proxies {PROXIES}), {a.workers} scoring processes with 1 torch thread each; each wall time "
        f"is one fresh command, start-up included (the pool's processes; Ray's: starting the local cluster and its "
        f"workers). {platform.machine()}, {os.cpu_count()} cores shared with other work, torch {torch.__version__}, "
        f"Ray {ray.__version__}. Written by `python -m experiments.benchmarks.ray_vs_local --workers {a.workers}`.", "",
        "| executor | command | wall seconds | ratio to the local pool | machine load (1-min mean) |",
        "|---|---|---:|---:|---:|",
        f"| local pool | `zcbench run ... --workers {a.workers}` | {t_local:.1f} | 1.00x | {load_local:.1f} |",
        f"| local Ray cluster | `zcbench run ... --executor ray --workers {a.workers}` | {t_ray:.1f} | "
        f"{t_ray / t_local:.2f}x | {load_ray:.1f} |", "",
        f"Stored rows (variant, seed, architecture, proxy, value, status): {len(rows_local)} on the pool, "
        f"{len(rows_ray)} on Ray, **{'identical bit for bit' if same_rows else 'DIFFERENT'}**; correlations.csv "
        f"**{'identical byte for byte' if same_csv else 'DIFFERENT'}**.", "",
        "| proxy | Spearman per seed, local pool | Spearman per seed, Ray |", "|---|---:|---:|",
        *[f"| {p} | {rho_local[p]} | {rho_ray.get(p, '-')} |" for p in rho_local], "",
    ]
    publish("\n".join(lines), a.out)
    if not (same_rows and same_csv):
        sys.exit(1)


if __name__ == "__main__":
    main()
