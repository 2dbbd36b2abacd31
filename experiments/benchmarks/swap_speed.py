"""SWAP speed: packed counting (zcbench) against the plain reference on the same NB201
networks and inputs, with identical scores.

    python -m experiments.benchmarks.swap_speed [--networks 30] [--out zcbench-out/swap_speed.md]

Two measures per network, each the median of ``--rounds`` runs:
* counting: the hooked activations of one forward pass are captured once; the reference
  concatenates them into the S x V matrix, takes sign(), transposes and calls
  torch.unique(dim=0); zcbench feeds the same tensors to its PatternCounter (bit packing,
  per-layer distinct words, merge).
* end to end: re-initialisation copy + forward pass with hooks + counting, i.e. what one
  SWAP score costs: the reference as the official code does it, zcbench through the probe.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

import zc_proxies
from experiments.benchmarks import add_out_argument, publish
from search_spaces.base import derive_seed, get_space, seeded_build
from zc_proxies.probe import mix_seed, prepare_copy
from zc_proxies.swap import PatternCounter, hooked_modules, swap_reference


def capture(net, x):
    """(name, module, input, output) of every hooked ReLU call, in forward order."""
    calls = []
    hs = [m.register_forward_hook(lambda m, i, o, n=n: calls.append((n, m, i[0], o)))
          for n, m in hooked_modules(net, "relu_4d")]
    with torch.no_grad():
        net(x)
    for h in hs:
        h.remove()
    return [c for c in calls if c[2].dim() == 4]


def reference_count(calls) -> int:
    m = torch.cat([o.reshape(o.shape[0], -1) for *_, o in calls], dim=1).sign().t()
    return int(torch.unique(m, dim=0).shape[0])


def packed_count(calls) -> int:
    pc = PatternCounter(samples=False)
    for n, m, i, o in calls:
        pc.add(n, m, i, o)
    return pc.codes.swap()


def timed(fn, rounds):
    out, ts = None, []
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return out, statistics.median(ts)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--networks", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    add_out_argument(ap, "swap_speed")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # as a study's workers; torch's default threads fight a loaded machine
    try:
        from search_spaces.data import load_batch

        x, _ = load_batch("fashion-mnist", args.batch, size=32)
        source = "Fashion-MNIST (first training images, resized to 32x32)"
    except Exception:  # no Fashion-MNIST: same comparison on noise
        x = torch.randn(args.batch, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        source = "Gaussian noise"
    space = get_space("nb201", C=16, N=5)
    rows = []
    for k, arch in enumerate(space.sample(args.networks, args.seed)):
        net = seeded_build(space, arch, "cifar10", args.seed)
        pseed = derive_seed(args.seed, arch, "probe")
        work = prepare_copy(net, reinit="gaussian", seed=mix_seed(pseed, 17, 0))
        calls = capture(work, x)
        ref_c, t_ref_c = timed(lambda: reference_count(calls), args.rounds)
        our_c, t_our_c = timed(lambda: packed_count(calls), args.rounds)
        calls = None  # free the captured activations before the end-to-end runs
        ref_e, t_ref_e = timed(lambda: swap_reference(prepare_copy(net, reinit="gaussian", seed=mix_seed(pseed, 17, 0)), x),
                               args.rounds)
        our_e, t_our_e = timed(lambda: zc_proxies.score(zc_proxies.Probe(net, x, seed=pseed), {"swap": ("swap", {})})["swap"].value,
                               args.rounds)
        assert ref_c == our_c == ref_e == our_e, (str(arch), ref_c, our_c, ref_e, our_e)
        rows.append((str(arch), ref_c, t_ref_c, t_our_c, t_ref_e, t_our_e))
        print(f"[{k + 1}/{args.networks}] swap={ref_c} counting {t_ref_c / t_our_c:.1f}x end-to-end {t_ref_e / t_our_e:.1f}x",
              flush=True)
    med = lambda i: statistics.median(r[i] for r in rows)
    ratios_c = [r[2] / r[3] for r in rows]
    ratios_e = [r[4] / r[5] for r in rows]
    lines = [
        "# SWAP speed: packed counting vs the plain reference",
        "",
        f"{args.networks} NB201 networks (C=16, N=5, seed {args.seed}), batch {args.batch} x 3 x 32 x 32 of {source}; "
        f"official protocol (N(0,1) re-init, BN train, ReLU hooks on 4-D inputs); "
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"median of {args.rounds} runs per network. Scores identical on every network.",
        "",
        "| measure | reference (s, median/network) | zcbench (s, median/network) | ratio (median of per-network ratios) | min ratio |",
        "|---|---:|---:|---:|---:|",
        f"| pattern counting | {med(2):.4f} | {med(3):.4f} | {statistics.median(ratios_c):.1f}x | {min(ratios_c):.1f}x |",
        f"| SWAP end to end (copy + forward + counting) | {med(4):.4f} | {med(5):.4f} | {statistics.median(ratios_e):.1f}x | {min(ratios_e):.1f}x |",
        "",
        f"SWAP scores: min {min(r[1] for r in rows)}, median {int(np.median([r[1] for r in rows]))}, max {max(r[1] for r in rows)}.",
        "",
        f"Reproduce: `python -m experiments.benchmarks.swap_speed --networks {args.networks} --rounds {args.rounds} "
        f"--out {args.out}`",
    ]
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
