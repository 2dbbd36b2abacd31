"""Fused probe vs the NASLib way (every proxy with its own copy and passes), all proxies.

    python -m experiments.benchmarks.fused_speed [--networks 100] [--proxies PATTERN ...]

On NB201 networks (C=16, N=5) and one batch of 64 images, every registered per-network proxy
(or those matching ``--proxies``) is scored once with ``fused=True`` and once with
``fused=False``; the table gives total seconds, the ratio, the largest relative difference of
the scores, and each proxy's median seconds when run alone (what a user budgets per network).
"""
from __future__ import annotations

import argparse
import math
import platform
import statistics
import time

import torch

import zc_proxies
from experiments.benchmarks import publish
from search_spaces.base import derive_seed, get_space, seeded_build


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--networks", type=int, default=100)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--proxies", nargs="+", default=["*"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="results/fused_speed.md")
    args = ap.parse_args(argv)
    names = [n for n in zc_proxies.list_proxies(args.proxies) if not zc_proxies.get_proxy(n).derived_from]
    try:
        from search_spaces.data import load_batch

        x, y = load_batch("fashion-mnist", args.batch, size=32)
        source = "Fashion-MNIST"
    except Exception:
        g = torch.Generator().manual_seed(0)
        x, y = torch.randn(args.batch, 3, 32, 32, generator=g), torch.randint(0, 10, (args.batch,), generator=g)
        source = "Gaussian noise"
    space = get_space("nb201", C=16, N=5)
    warm = seeded_build(space, space.sample(1, args.seed + 1)[0], "cifar10", args.seed)
    zc_proxies.score(zc_proxies.Probe(warm, x[:8], y[:8], num_classes=10), {n: (n, {}) for n in names})  # warm-up
    t_fused, t_plain, worst, per_proxy = [], [], {n: 0.0 for n in names}, {n: [] for n in names}
    for k, arch in enumerate(space.sample(args.networks, args.seed)):
        net = seeded_build(space, arch, "cifar10", args.seed)
        pseed = derive_seed(args.seed, arch, "probe")
        wanted = {n: (n, {}) for n in names}
        t = time.perf_counter()
        fused = zc_proxies.score(zc_proxies.Probe(net, x, y, seed=pseed, num_classes=10), wanted)
        t_fused.append(time.perf_counter() - t)
        t = time.perf_counter()
        plain = zc_proxies.score(zc_proxies.Probe(net, x, y, seed=pseed, num_classes=10), wanted, fused=False)
        t_plain.append(time.perf_counter() - t)
        for n in names:
            per_proxy[n].append(plain[n].seconds)
            a, b = fused[n].value, plain[n].value
            if math.isfinite(a) and math.isfinite(b):
                worst[n] = max(worst[n], abs(a - b) / max(abs(a), abs(b), 1e-30))
            elif not (math.isnan(a) and math.isnan(b)) and a != b:
                worst[n] = math.inf
        print(f"[{k + 1}/{args.networks}] fused {t_fused[-1]:.1f}s, one by one {t_plain[-1]:.1f}s", flush=True)
    lines = [
        "# Fused probe vs one proxy at a time",
        "",
        f"{args.networks} NB201 networks (C=16, N=5, seed {args.seed}), batch {args.batch} x 3 x 32 x 32 of {source}, "
        f"every proxy with its default options; {platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}.",
        "",
        "| | fused (one probe) | one proxy at a time (`fused=False`) | ratio |",
        "|---|---:|---:|---:|",
        f"| total seconds, all networks | {sum(t_fused):.1f} | {sum(t_plain):.1f} | {sum(t_plain) / sum(t_fused):.2f}x |",
        f"| median seconds per network | {statistics.median(t_fused):.2f} | {statistics.median(t_plain):.2f} | |",
        "",
        "| proxy | median seconds alone | max relative difference fused vs alone |",
        "|---|---:|---:|",
    ]
    lines += [f"| {n} | {statistics.median(per_proxy[n]):.3f} | {worst[n]:.1e} |" for n in names]
    lines += ["", f"Reproduce: `python -m experiments.benchmarks.fused_speed --networks {args.networks}`"]
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
