"""Fused probe vs the NASLib way (every proxy with its own copy and passes), all proxies.

    python -m experiments.benchmarks.fused_speed [--networks 100] [--proxies PATTERN ...] [--out FILE]

On NB201 networks (C=16, N=5) and one batch of 64 images, every registered per-network proxy
(or those matching ``--proxies``) is scored once with ``fused=True`` and once with
``fused=False``; the table gives total seconds, the ratio, the largest relative difference of
the scores, and each proxy's median seconds when run alone (what a user budgets per network).
"""
from __future__ import annotations

import argparse
import math
import platform
import shlex
import statistics
import time

import torch

import zc_proxies
from experiments.benchmarks import add_out_argument, publish
from search_spaces.base import derive_seed, get_space, seeded_build


def _batch(n: int):
    try:
        from search_spaces.data import load_batch

        x, y = load_batch("fashion-mnist", n, size=32)
        return x, y, "Fashion-MNIST"
    except Exception:
        g = torch.Generator().manual_seed(0)
        return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g), "Gaussian noise"


def _timed(fn):
    """(result, wall seconds, CPU seconds of this process): with one torch thread the CPU time
    is what the work cost, whatever else the machine runs."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def _run(job):
    """Both modes on a slice of the networks (one process; ``threads`` torch threads).

    The first scoring on a network costs more than the second (and the first network at a
    batch size more still), so the warm-up uses the timed batch and the mode that goes first
    alternates from one network to the next; otherwise whichever mode is timed first pays for
    it (fused-first runs reported fusion losing 0.69x on 2 networks with proxies that share
    nothing)."""
    names, archs_s, batch, seed, threads = job
    torch.set_num_threads(threads)
    x, y, _ = _batch(batch)
    space = get_space("nb201", C=16, N=5)
    warm = seeded_build(space, space.sample(1, seed + 1)[0], "cifar10", seed)
    for fused in (True, False):  # warm-up at the timed batch size
        zc_proxies.score(zc_proxies.Probe(warm, x, y, num_classes=10), {n: (n, {}) for n in names}, fused=fused)
    out = []
    for k, arch_s in enumerate(archs_s):
        arch = space.parse(arch_s)
        net = seeded_build(space, arch, "cifar10", seed)
        pseed = derive_seed(seed, arch, "probe")
        wanted = {n: (n, {}) for n in names}
        timed = {}
        for fused in ((True, False) if k % 2 == 0 else (False, True)):
            timed[fused] = _timed(lambda: zc_proxies.score(
                zc_proxies.Probe(net, x, y, seed=pseed, num_classes=10), wanted, fused=fused))
        (fused_res, wf, cf), (plain, wp, cp) = timed[True], timed[False]
        out.append({"cpu": (cf, cp), "wall": (wf, wp),
                    "scores": {n: (fused_res[n].value, plain[n].value, plain[n].seconds) for n in names}})
        print(f"[{arch_s}] CPU s: fused {cf:.2f}, one by one {cp:.2f} ({cp / cf:.2f}x; "
              f"{'fused' if k % 2 == 0 else 'one by one'} timed first)", flush=True)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--networks", type=int, default=100)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--proxies", nargs="+", default=["*"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1,
                    help="processes, each timing both modes on its share of the networks with 1 torch thread "
                         "(default 1: this process)")
    add_out_argument(ap, "fused_speed")
    args = ap.parse_args(argv)
    names = [n for n in zc_proxies.list_proxies(args.proxies) if zc_proxies.get_proxy(n).kind == "network"]
    source = _batch(args.batch)[2]
    space = get_space("nb201", C=16, N=5)
    archs = [str(a) for a in space.sample(args.networks, args.seed)]
    threads = 1  # as a study's workers
    if args.workers <= 1:
        results = _run((names, archs, args.batch, args.seed, threads))
    else:
        import multiprocessing as mp

        jobs = [(names, archs[i::args.workers], args.batch, args.seed, 1) for i in range(args.workers)]
        with mp.get_context("spawn").Pool(args.workers) as pool:
            results = [r for part in pool.map(_run, jobs) for r in part]
    cpu_f, cpu_p = ([r["cpu"][i] for r in results] for i in (0, 1))
    wall_f, wall_p = ([r["wall"][i] for r in results] for i in (0, 1))
    worst = {n: 0.0 for n in names}
    per_proxy = {n: [r["scores"][n][2] for r in results] for n in names}
    for r in results:
        for n in names:
            a, b, _ = r["scores"][n]
            if math.isfinite(a) and math.isfinite(b):
                worst[n] = max(worst[n], abs(a - b) / max(abs(a), abs(b), 1e-30))
            elif not (math.isnan(a) and math.isnan(b)) and a != b:
                worst[n] = math.inf
    ratios = [p / f for f, p in zip(cpu_f, cpu_p)]
    lines = [
        "# Fused probe vs one proxy at a time",
        "",
        f"{args.networks} NB201 networks (C=16, N=5, seed {args.seed}), batch {args.batch} x 3 x 32 x 32 of {source}, "
        f"every proxy with its default options; {platform.machine()}, "
        + (f"{threads} torch thread" if args.workers <= 1 else
           f"{args.workers} processes with 1 torch thread each, each timing both modes on its share of the networks")
        + f", torch {torch.__version__}. Both modes on each network back to back, the one timed first "
        "alternating between networks, after a warm-up at the same batch size. CPU seconds are the "
        "process's own (what the work cost on a shared machine); wall seconds for reference.",
        "",
        "| | fused (one probe) | one proxy at a time (`fused=False`) | ratio |",
        "|---|---:|---:|---:|",
        f"| CPU seconds, all networks | {sum(cpu_f):.1f} | {sum(cpu_p):.1f} | {sum(cpu_p) / sum(cpu_f):.2f}x |",
        f"| median CPU seconds per network | {statistics.median(cpu_f):.2f} | {statistics.median(cpu_p):.2f} | "
        f"{statistics.median(ratios):.2f}x (median per network; {min(ratios):.2f}x to {max(ratios):.2f}x) |",
        f"| wall seconds, all networks | {sum(wall_f):.1f} | {sum(wall_p):.1f} | {sum(wall_p) / sum(wall_f):.2f}x |",
        "",
        "| proxy | median wall seconds alone | max relative difference fused vs alone |",
        "|---|---:|---:|",
    ]
    lines += [f"| {n} | {statistics.median(per_proxy[n]):.3f} | {worst[n]:.1e} |" for n in names]
    extra = (f" --workers {args.workers}" if args.workers > 1 else "") + \
        ("" if args.proxies == ["*"] else " --proxies " + " ".join(map(shlex.quote, args.proxies)))
    lines += ["", f"Reproduce: `python -m experiments.benchmarks.fused_speed --networks {args.networks}{extra} "
              f"--out {args.out}`"]
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
