"""Memory at benchmark scale: score thousands of NB201 cells in one process and record the
resident set size (and CUDA memory where there is a GPU) as it goes. It must stay flat:
NASLib's users ran out of memory near 6,000 cells.

    python -m experiments.benchmarks.memory_flat [--cells 2000] [--device auto] [--every 250]

Every cell is scored the way ``zcbench run`` scores it (``experiments.runner.Context``: the
seeded network, the study's batch, one fused probe) with a handful of proxies that hold every
kind of signal (activation patterns, gradients, the input Jacobian, the NWOT kernel, zen's
passes); by default with a small scoring network (C=4, N=1, 8x8 Fashion-MNIST sample, batch
8) so a few thousand cells fit in minutes on a CPU. The table gives RSS every ``--every``
cells and the least-squares slope after the first tenth (warm-up: allocator pools, caches).
"""
from __future__ import annotations

import argparse
import gc
import platform
import resource
import sys
import time

import numpy as np
import torch

from experiments.benchmarks import publish

PROXIES = ["swap", "sap", "nwot", "jacov", "epe_nas", "grad_norm", "snip", "synflow", "zen", "zico", "lswag",
           "params"]


def rss_mib() -> float:
    """This process's resident set size now (Linux /proc), else its peak (getrusage)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def slope_per_1000(cells: list[int], mib: list[float]) -> float:
    """Least-squares MiB per 1000 cells."""
    if len(cells) < 2:
        return float("nan")
    return float(np.polyfit(np.asarray(cells, float), np.asarray(mib, float), 1)[0] * 1000)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=2000)
    ap.add_argument("--every", type=int, default=250, help="a table row every this many cells")
    ap.add_argument("--C", type=int, default=4)
    ap.add_argument("--N", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=8)
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="results/memory_flat.md")
    args = ap.parse_args(argv)
    from tqdm import tqdm

    from experiments.config import parse_study
    from experiments.devices import resolve_device, setup
    from experiments.runner import Context

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    setup(device)
    cuda = device.startswith("cuda")
    raw = {"name": "memory_flat", "space": "nb201", "space_options": {"C": args.C, "N": args.N},
           "task": "fashion-mnist", "device": device,
           "data": {"source": "fashion-mnist-sample", "batch_size": args.batch, "size": args.size},
           "archs": {"from": "sample", "n": args.cells}, "seeds": [0], "proxies": PROXIES}
    ctx = Context(parse_study(raw), device=device)
    archs = ctx.space.sample(args.cells, 0)
    labels = [s.label for s in ctx.plan.scored]
    marks: list[tuple[int, float, float, float, float]] = []  # cells, seconds, RSS, CUDA allocated, reserved
    t0 = time.perf_counter()
    failed: dict[str, int] = {}

    def mark(n):
        gc.collect()
        alloc = torch.cuda.memory_allocated(device) / 2**20 if cuda else float("nan")
        reserved = torch.cuda.memory_reserved(device) / 2**20 if cuda else float("nan")
        marks.append((n, time.perf_counter() - t0, rss_mib(), alloc, reserved))

    mark(0)
    for i, arch in enumerate(tqdm(archs, desc="memory_flat", unit="cell", file=sys.stderr, dynamic_ncols=True), 1):
        res = ctx.score("default", 0, arch, labels)
        for k, r in res.items():
            if r.status == "failed":
                failed[k] = failed.get(k, 0) + 1
        if i % args.every == 0 or i == len(archs):
            mark(i)
    warm = [m for m in marks if m[0] >= max(args.every, len(archs) // 10)]
    slope = slope_per_1000([m[0] for m in warm], [m[2] for m in warm])
    growth = warm[-1][2] - warm[0][2] if warm else float("nan")
    cuda_slope = slope_per_1000([m[0] for m in warm], [m[3] for m in warm]) if cuda else float("nan")
    flat = abs(slope) * len(archs) / 1000 < 16 and (not cuda or abs(cuda_slope) * len(archs) / 1000 < 16)
    lines = [
        "# Memory over a long scoring run",
        "",
        f"{len(archs)} NB201 cells (C={args.C}, N={args.N}, sampled with seed 0) scored one after the other in one "
        f"process as `zcbench run` scores them, on {device}, batch {args.batch} x 1 x {args.size} x {args.size} "
        f"(Fashion-MNIST sample), proxies {', '.join(PROXIES)}; {platform.machine()}, {args.threads} torch "
        f"thread(s), torch {torch.__version__}; failed scores: "
        f"{', '.join(f'{k} {v}' for k, v in sorted(failed.items())) or 'none'}.",
        "",
        "| cells scored | minutes | RSS (MiB) | CUDA allocated (MiB) | CUDA reserved (MiB) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n, secs, rss, alloc, reserved in marks:
        cu = ("–", "–") if not cuda else (f"{alloc:.1f}", f"{reserved:.1f}")
        lines.append(f"| {n} | {secs / 60:.1f} | {rss:.1f} | {cu[0]} | {cu[1]} |")
    lines += [
        "",
        f"Slope after the first tenth (least squares over the rows from cell {warm[0][0] if warm else '-'}): "
        f"**{slope:+.2f} MiB per 1000 cells** of RSS (RSS from there to the end: {growth:+.1f} MiB)"
        + (f", {cuda_slope:+.2f} MiB per 1000 cells of CUDA memory allocated" if cuda else "")
        + ". " + ("Flat: no growth with the number of cells." if flat else "**Growing**: a leak to find."),
        "",
        f"Reproduce: `python -m experiments.benchmarks.memory_flat --cells {args.cells} --device {args.device}`",
    ]
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
