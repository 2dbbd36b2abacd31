"""SWAP memory on a full-size TransNAS-Bench-101 network: zcbench's packed counting against the
plain V x S reference, each in a fresh process under an address-space cap.

    python -m experiments.benchmarks.tnb101_swap_memory [--arch 64-41414-3_33_333] [--task class_scene]
        [--batch 64] [--mem-cap-gib 10] [--out zcbench-out/tnb101_swap_memory.md]

Methods (one subprocess each, so that every peak is its own; ``resource.getrusage`` max RSS):

* ``forward``: the floor: build the network, load the batch, one Gaussian-initialised forward
  pass under ``no_grad`` without hooks;
* ``zcbench``: ``zc_proxies.score`` of ``swap`` with its default options (the
  packed distinct patterns of zc_proxies.swap: one int64 word per unit per layer);
* ``reference``: ``zc_proxies.swap.swap_reference``, the official computation: every hooked
  output kept, concatenated into the S x V float32 matrix, ``sign()``, transposed,
  ``torch.unique(dim=0)``; same weights (repeat 0 of zcbench's seeded re-initialisation).

Each child runs under ``RLIMIT_AS = --mem-cap-gib`` so that a method that needs more fails with
an allocation error that is reported, instead of pushing the machine into swap or the OOM killer.
The input batch is ``--batch`` RGB images of ``fashion-mnist-sample`` (ships with the package;
any RGB source would do for a memory measurement), resized by ``space.task_batch`` to 256 x 256.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings

METHODS = ("forward", "zcbench", "reference")


def _child(args) -> dict:
    """Run one method in this process and return what it measured."""
    cap = int(args.mem_cap_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(args.threads)
    import zc_proxies
    from search_spaces.base import derive_seed, get_space, seeded_build
    from search_spaces.data import load_batch
    from zc_proxies.probe import forward_with_hooks, mix_seed, prepare_copy
    from zc_proxies.swap import hooked_modules, swap_reference

    out = {"method": args.child}
    t0 = time.perf_counter()
    try:
        space = get_space(args.space)
        arch = space.parse(args.arch)
        x, y = load_batch("fashion-mnist-sample", args.batch)
        x, y = space.task_batch(args.task, x, y, args.seed)
        net = seeded_build(space, arch, args.task, args.seed)
        out["params_m"] = sum(p.numel() for p in net.parameters()) / 1e6
        pseed = derive_seed(args.seed, arch, "probe")
        t0 = time.perf_counter()
        if args.child == "forward":
            work = prepare_copy(net, reinit="gaussian", seed=mix_seed(pseed, 17, 0))
            units = [0]

            def count(module, inp, o):
                if inp[0].dim() == 4:
                    units[0] += o[0].numel()

            forward_with_hooks(work, x, [(m, count) for _, m in hooked_modules(work, "relu_4d")])
            out["units"] = units[0]
        elif args.child == "zcbench":
            res = zc_proxies.score(zc_proxies.Probe(net, x, y, seed=pseed), {"swap": ("swap", {})})["swap"]
            if res.status != "ok":
                raise RuntimeError(res.message)
            out["score"] = int(res.value)
        else:
            out["score"] = swap_reference(prepare_copy(net, reinit="gaussian", seed=mix_seed(pseed, 17, 0)), x)
        out["status"] = "ok"
    except (MemoryError, RuntimeError) as exc:
        out["status"] = "failed"
        out["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    out["seconds"] = time.perf_counter() - t0
    out["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return out


def _machine(threads: int) -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(line.split()[1] for line in f if line.startswith("MemTotal")))
        mem = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    return (f"{cpu}, {os.cpu_count()} cores{mem} (shared with other jobs), {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, torch {torch.__version__}, "
            f"{threads} torch thread(s)")


def main(argv=None) -> None:
    from experiments.benchmarks import add_out_argument

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--space", default="tnb101_micro")
    ap.add_argument("--arch", default="64-41414-3_33_333")
    ap.add_argument("--task", default="class_scene")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mem-cap-gib", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per method")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    add_out_argument(ap, "tnb101_swap_memory")
    ap.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args)), flush=True)
        return

    rows = []
    for method in args.methods:
        cmd = [sys.executable, "-m", "experiments.benchmarks.tnb101_swap_memory", "--child", method,
               "--space", args.space, "--arch", args.arch, "--task", args.task, "--batch", str(args.batch),
               "--seed", str(args.seed), "--threads", str(args.threads), "--mem-cap-gib", str(args.mem_cap_gib)]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode == 0 and lines:
                row = json.loads(lines[-1])
            else:
                tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1][:200]
                row = {"method": method, "status": "failed",
                       "error": f"exit status {proc.returncode}: {tail}", "seconds": time.perf_counter() - t0}
        except subprocess.TimeoutExpired:
            row = {"method": method, "status": "failed", "error": f"timed out after {args.timeout:.0f} s",
                   "seconds": args.timeout}
        rows.append(row)
        print(json.dumps(row), flush=True)

    units = next((r["units"] for r in rows if "units" in r), None)
    params = next((r["params_m"] for r in rows if "params_m" in r), None)
    ours = next((r for r in rows if r["method"] == "zcbench" and r.get("status") == "ok"), None)
    ref = next((r for r in rows if r["method"] == "reference" and r.get("status") == "ok"), None)
    from experiments.benchmarks import publish

    desc = {"forward": "forward pass only (floor: network, batch, no hooks)",
            "zcbench": "zcbench SWAP (packed distinct patterns, default options)",
            "reference": "plain reference (S x V float32 matrix, sign, unique rows)"}
    lines = [
        "# SWAP memory on a full-size TransNAS-Bench-101 network",
        "",
        f"`{args.arch}` ({args.space}, task {args.task}"
        + (f", {params:.1f} M parameters" if params else "") + f"), batch {args.batch} x 3 x 256 x 256 "
        f"(fashion-mnist-sample images resized by `task_batch`), SWAP's official protocol (N(0,1) re-init, BN "
        f"train, ReLU hooks on 4-D inputs), seed {args.seed}. Each method ran in a fresh process under an "
        f"address-space cap of {args.mem_cap_gib:g} GiB (`RLIMIT_AS`); peak memory is the process's max RSS "
        "(`getrusage`), which includes Python, torch and the network.",
        "",
        f"Machine: {_machine(args.threads)}.",
        "",
    ]
    if units:
        lines += [f"Hooked activation units V = {units / 1e6:.2f} M over the batch's S = {args.batch} samples: the "
                  f"reference's V x S float32 matrix alone is {units * args.batch * 4 / 2**30:.2f} GiB, and it holds "
                  "the hooked outputs, their concatenation, its sign and unique's sorted copy at once.", ""]
    floor = next((r["maxrss_kib"] for r in rows if r["method"] == "forward" and r.get("status") == "ok"), None)
    lines += ["| method | peak RSS (GiB) | above the forward-only floor (GiB) | seconds | SWAP score / outcome |",
              "|---|---:|---:|---:|---|"]
    for r in rows:
        rss = f"{r['maxrss_kib'] / 2**20:.2f}" if "maxrss_kib" in r else "-"
        above = (f"{(r['maxrss_kib'] - floor) / 2**20:.2f}" if floor and "maxrss_kib" in r
                 and r["method"] != "forward" else "-")
        what = (f"{r['score']:,}" if "score" in r else "-") if r.get("status") == "ok" else f"failed: {r.get('error')}"
        lines.append(f"| {desc[r['method']]} | {rss} | {above} | {r.get('seconds', 0):.1f} | {what} |")
    lines.append("")
    if ours and ref:
        same = "identical" if ours["score"] == ref["score"] else f"DIFFERENT ({ours['score']} vs {ref['score']})"
        lines.append(f"Scores {same}; zcbench's peak is {ref['maxrss_kib'] / ours['maxrss_kib']:.1f}x lower.")
    elif ours:
        lines.append(f"The reference did not finish under the {args.mem_cap_gib:g} GiB cap; zcbench needed "
                     f"{ours['maxrss_kib'] / 2**20:.2f} GiB.")
    lines += ["", "Reproduce: `python -m experiments.benchmarks.tnb101_swap_memory "
              f"--arch {args.arch} --task {args.task} --batch {args.batch} --mem-cap-gib {args.mem_cap_gib:g} --out {args.out}`"]
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
