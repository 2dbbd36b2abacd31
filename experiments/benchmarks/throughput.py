"""Scoring throughput at NAS-Bench-Suite-Zero's protocol, CPU and CUDA side by side.

    python -m experiments.benchmarks.throughput [--networks 3] [--cuda-networks 20]
        [--spaces nb201 nb301 nb101] [--devices cpu cuda] [--out results/throughput.md]

NB-Suite-Zero's protocol: its 13 proxies (epe_nas, fisher, flops, grad_norm, grasp, jacov,
l2_norm, nwot, params, plain, snip, synflow, zen) with their default options, one batch of 32
images of 3 x 32 x 32 (CIFAR-10; NASLib's correlation configs all use batch 32), the benchmark's
full-size networks (NB201 C=16 N=5, NB301 C=32 with 8 cells, NB101 128 stem channels, 3 stacks of
3 cells). Every network is built and probed as ``zcbench run`` does (``study_probe`` on the
device, one fused probe); the batch is seeded Gaussian noise with random labels (the time does
not depend on the pixels, and a fresh GPU machine needs no data set). Before timing, one network
per space and device is scored unmeasured (CUDA context, cuDNN, allocator warm-up).

Per space and device: networks per second (a network's wall time from building it to its last
score), CUDA peak memory, and each proxy's median seconds. In a fused probe a shared signal is
computed once and its time goes to the first proxy that consumes it (fisher pays for the
gradients grad_norm, snip, plain and grasp also read; epe_nas or jacov for the input Jacobian).
A device torch does not see gets "no GPU" in its columns.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from experiments.benchmarks import publish

NBSZ_PROXIES = ["epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm", "nwot", "params", "plain",
                "snip", "synflow", "zen"]
SPACES = {"nb201": {"C": 16, "N": 5}, "nb301": {}, "nb101": {}}
BATCH, SIZE = 32, 32


def batch(n: int = BATCH, size: int = SIZE, classes: int = 10, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.randint(0, classes, (n,), generator=g)


def time_space(name: str, options: dict, device: str, n: int, proxies: list[str], *, seed: int = 0,
               batch_size: int = BATCH, size: int = SIZE) -> dict:
    """Score ``n`` networks of a space on ``device``; wall seconds per network, per-proxy seconds."""
    import zc_proxies
    from experiments.inputs import study_probe
    from search_spaces.base import get_space

    space = get_space(name, **options)
    x, y = batch(batch_size, size)
    x, y = x.to(device), y.to(device)
    wanted = {p: (p, {}) for p in proxies}
    archs = space.sample(n + 1, seed)
    cuda = device.startswith("cuda")
    walls, per, failed = [], {p: [] for p in proxies}, {}
    for i, arch in enumerate(archs):
        if cuda:
            torch.cuda.synchronize(device)
            if i == 1:
                torch.cuda.reset_peak_memory_stats(device)
        t = time.perf_counter()
        res = zc_proxies.score(study_probe(space, arch, "cifar10", seed, x, y, device), wanted)
        if cuda:
            torch.cuda.synchronize(device)
        wall = time.perf_counter() - t
        if i == 0:
            continue  # warm-up
        walls.append(wall)
        for p, r in res.items():
            per[p].append(r.seconds)
            if r.status == "failed":
                failed[p] = r.message
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if cuda else None
    return {"walls": walls, "per": per, "failed": failed, "peak_gib": peak}


def cuda_name() -> str | None:
    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(0)


def table(results: dict, spaces: list[str], devices: list[str], proxies: list[str], nets: dict[str, int]) -> list[str]:
    def cell(space, dev, fn, fmt):
        r = results.get((space, dev))
        if r is None:
            return "no GPU"
        return fmt.format(fn(r))

    lines = ["| space | " + " | ".join(f"{d}: networks/s" for d in devices)
             + (" | CUDA / CPU | CUDA peak memory (GiB)" if "cuda" in devices else "") + " |",
             "|---|" + "---:|" * (len(devices) + (2 if "cuda" in devices else 0))]
    for s in spaces:
        row = [s] + [cell(s, d, lambda r: len(r["walls"]) / sum(r["walls"]), "{:.3f}") + f" ({nets[d]} nets)"
                     if (s, d) in results else "no GPU" for d in devices]
        if "cuda" in devices:
            if (s, "cuda") in results and (s, "cpu") in results:
                c, g = results[(s, "cpu")], results[(s, "cuda")]
                row.append(f"{(sum(c['walls']) / len(c['walls'])) / (sum(g['walls']) / len(g['walls'])):.1f}x")
            else:
                row.append("no GPU" if (s, "cuda") not in results else "–")
            row.append(cell(s, "cuda", lambda r: r["peak_gib"], "{:.2f}"))
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Median seconds per proxy (first consumer of a shared signal pays for it):", "",
              "| proxy | " + " | ".join(f"{s} {d}" for s in spaces for d in devices) + " |",
              "|---|" + "---:|" * (len(spaces) * len(devices))]
    for p in proxies:
        cells = []
        for s in spaces:
            for d in devices:
                r = results.get((s, d))
                cells.append("no GPU" if r is None else
                             ("failed" if p in r["failed"] else f"{statistics.median(r['per'][p]):.4f}"))
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--networks", type=int, default=3, help="timed networks per space on the CPU (default 3)")
    ap.add_argument("--cuda-networks", type=int, default=20, help="timed networks per space on CUDA (default 20)")
    ap.add_argument("--spaces", nargs="+", default=list(SPACES), choices=list(SPACES))
    ap.add_argument("--devices", nargs="+", default=["cpu", "cuda"], choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=1, help="torch threads on the CPU (default 1, as zcbench run)")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 on CUDA")
    ap.add_argument("--out", default="results/throughput.md")
    args = ap.parse_args(argv)
    from tqdm import tqdm

    from experiments.devices import setup

    torch.set_num_threads(args.threads)
    has_cuda = torch.cuda.is_available()
    nets = {"cpu": args.networks, "cuda": args.cuda_networks}
    results = {}
    jobs = [(s, d) for s in args.spaces for d in args.devices if d == "cpu" or has_cuda]
    for s, d in tqdm(jobs, desc="throughput", unit="space/device"):
        dev = "cuda:0" if d == "cuda" else "cpu"
        setup(dev, tf32=args.tf32)
        results[(s, d)] = time_space(s, SPACES[s], dev, nets[d], NBSZ_PROXIES)
        print(f"{s} {d}: {len(results[(s, d)]['walls']) / sum(results[(s, d)]['walls']):.3f} networks/s", flush=True)
    gpu = cuda_name()
    lines = [
        "# Scoring throughput, NAS-Bench-Suite-Zero protocol",
        "",
        f"NB-Suite-Zero's 13 proxies ({', '.join(NBSZ_PROXIES)}), default options, one fused probe per network, "
        f"batch {BATCH} x 3 x {SIZE} x {SIZE}, full-size networks ("
        + ", ".join(f"{s} {SPACES[s] or 'defaults'}" for s in args.spaces) + "); "
        f"CPU: {platform.processor() or platform.machine()}, {args.threads} torch thread(s); "
        + (f"CUDA: {gpu}, TF32 {'on' if args.tf32 else 'off'}, deterministic algorithms; " if gpu else
           "CUDA: no GPU on this machine; ")
        + f"torch {torch.__version__}. Networks per space: {args.networks} on the CPU"
        + (f", {args.cuda_networks} on CUDA" if gpu else "") + ", after one unmeasured warm-up network.",
        "",
    ]
    lines += table(results, args.spaces, args.devices, NBSZ_PROXIES, nets)
    fails = {(s, d): r["failed"] for (s, d), r in results.items() if r["failed"]}
    if fails:
        lines += ["", "Failed: " + "; ".join(f"{s} {d} {p}: {m}" for (s, d), f in fails.items() for p, m in f.items())]
    lines += ["", "Reproduce: `python -m experiments.benchmarks.throughput --networks "
              f"{args.networks} --cuda-networks {args.cuda_networks}`"]
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
