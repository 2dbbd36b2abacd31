"""The GPU check (about 5 minutes on one GPU): every proxy's CUDA values against the CPU's on
20 NB201 networks, then the throughput table.

    python -m experiments.benchmarks.gpu_check [--networks 20] [--device cuda] [--out results/gpu_check.md]

It needs only torch and this repository (no data set, no network access). Part 1: 20 full-size
NB201 networks (C=16, N=5), a seeded Gaussian batch of 64 x 3 x 32 x 32 with random labels,
every per-network proxy with its default options, scored as ``zcbench run`` scores them
(``study_probe``, one fused probe) once on the CPU (in ``--cpu-workers`` processes, one torch
thread each, as ``zcbench run --workers``) and once on ``--device`` (deterministic algorithms,
TF32 off). Per proxy: on how many networks the values are equal, the largest relative
difference, and the Spearman correlation of the two devices' values over the networks (what a
study's ranking sees). Part 2 runs :mod:`experiments.benchmarks.throughput` (results/throughput.md).

``--device cpu`` compares the CPU with itself (a smoke run of the script on a machine without
a GPU: every value must be equal).
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np
import torch

from experiments.benchmarks import publish

SPACE_OPTIONS = {"C": 16, "N": 5}


def proxies() -> list[str]:
    import zc_proxies

    return [n for n in zc_proxies.list_proxies("*") if zc_proxies.get_proxy(n).kind == "network"]


def score_networks(task) -> list[tuple[str, dict[str, tuple[float, str]]]]:
    """``(archs, device, options, batch, size)`` -> per network {proxy: (value, status)}."""
    import zc_proxies
    from experiments.inputs import study_probe
    from search_spaces.base import get_space

    arch_strings, device, options, batch_size, size = task
    from experiments.benchmarks.throughput import batch

    space = get_space("nb201", **options)
    x, y = batch(batch_size, size)
    x, y = x.to(device), y.to(device)
    wanted = {p: (p, {}) for p in proxies()}
    out = []
    for a in arch_strings:
        res = zc_proxies.score(study_probe(space, space.parse(a), "cifar10", 0, x, y, device), wanted)
        out.append((a, {k: (r.value, r.status) for k, r in res.items()}))
    return out


def compare(cpu: dict, dev: dict, names: list[str]) -> list[dict]:
    from scipy.stats import spearmanr

    rows = []
    for p in names:
        a = np.array([cpu[n][p][0] for n in cpu])
        b = np.array([dev[n][p][0] for n in cpu])
        ok = np.isfinite(a) & np.isfinite(b)
        equal = int(np.sum((a == b) | (np.isnan(a) & np.isnan(b))))
        rel = np.abs(a[ok] - b[ok]) / np.maximum(np.maximum(np.abs(a[ok]), np.abs(b[ok])), 1e-30)
        worst = float(rel.max()) if rel.size else float("nan")
        rho = float(spearmanr(a[ok], b[ok]).statistic) if ok.sum() > 2 and np.ptp(a[ok]) > 0 else float("nan")
        status = {s for n in cpu for s in (cpu[n][p][1], dev[n][p][1]) if s != "ok"}
        rows.append({"proxy": p, "equal": equal, "n": len(a), "max_rel": worst, "spearman": rho,
                     "status": ",".join(sorted(status)) or "ok"})
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--networks", type=int, default=20)
    ap.add_argument("--device", default="cuda", help="the device compared with the CPU (default cuda)")
    ap.add_argument("--cpu-workers", type=int, default=min(8, os.cpu_count() or 1))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--C", type=int, default=SPACE_OPTIONS["C"])
    ap.add_argument("--N", type=int, default=SPACE_OPTIONS["N"])
    ap.add_argument("--throughput-networks", type=int, default=2, help="CPU networks per space in part 2")
    ap.add_argument("--throughput-cuda-networks", type=int, default=10, help="CUDA networks per space in part 2")
    ap.add_argument("--no-throughput", action="store_true", help="part 1 only")
    ap.add_argument("--out", default="results/gpu_check.md")
    ap.add_argument("--throughput-out", default="results/throughput.md")
    args = ap.parse_args(argv)
    from experiments.devices import resolve_device, setup
    from experiments.executors import make_executor
    from search_spaces.base import get_space

    torch.set_num_threads(1)
    device = resolve_device(args.device)
    options = {"C": args.C, "N": args.N}
    archs = [str(a) for a in get_space("nb201", **options).sample(args.networks, 0)]
    names = proxies()
    t0 = time.perf_counter()
    workers = max(1, min(args.cpu_workers, len(archs)))
    tasks = [(archs[i::workers], "cpu", options, args.batch, args.size) for i in range(workers)]
    cpu: dict = {}
    with make_executor(workers, devices=["cpu"]) as ex:
        for _, part in ex.map(score_networks, tasks):
            cpu.update(dict(part))
    t_cpu = time.perf_counter() - t0
    setup(device)
    t0 = time.perf_counter()
    dev = dict(score_networks((archs, device, options, args.batch, args.size)))
    t_dev = time.perf_counter() - t0
    rows = compare(cpu, dev, names)
    gpu = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else None
    lines = [
        f"# CPU against {device}: every proxy on {len(archs)} NB201 networks",
        "",
        f"NB201 C={args.C}, N={args.N} (seed 0 sample), batch {args.batch} x 3 x {args.size} x {args.size} of seeded "
        f"Gaussian noise with random labels, every per-network proxy with default options, fused probe as "
        f"`zcbench run`. CPU: {platform.processor() or platform.machine()}, {workers} process(es) x 1 thread, "
        f"{t_cpu:.0f} s; {device}{f' ({gpu})' if gpu else ''}: deterministic algorithms, TF32 off, {t_dev:.0f} s; "
        f"torch {torch.__version__}.",
        "",
        "| proxy | equal values | max relative difference | Spearman CPU vs device | status |",
        "|---|---:|---:|---:|---|",
    ]
    for r in rows:
        rho = "–" if math.isnan(r["spearman"]) else f"{r['spearman']:.4f}"
        lines.append(f"| {r['proxy']} | {r['equal']}/{r['n']} | {r['max_rel']:.2e} | {rho} | {r['status']} |")
    exact = [r["proxy"] for r in rows if r["equal"] == r["n"]]
    lines += ["", f"Equal on every network: {', '.join(exact) or 'none'}.",
              f"Within a tolerance only: {', '.join(r['proxy'] for r in rows if r['equal'] < r['n']) or 'none'}.",
              "", f"Reproduce: `python -m experiments.benchmarks.gpu_check --networks {args.networks} "
              f"--device {args.device}`"]
    publish("\n".join(lines) + "\n", args.out)
    if not args.no_throughput:
        from experiments.benchmarks import throughput

        throughput.main(["--networks", str(args.throughput_networks), "--cuda-networks",
                         str(args.throughput_cuda_networks), "--out", args.throughput_out])


if __name__ == "__main__":
    main()
