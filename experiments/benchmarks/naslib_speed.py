"""NASLib's zero-cost driver against zcbench's fused probe on NB-Suite-Zero's 13 proxies, on the
same network objects and batch, interleaved per network, one torch thread.

    python -m experiments.benchmarks.naslib_speed --naslib ~/src/NASLib
        [--tensorwatch ~/src/tensorwatch-0.9.1] [--spaces nb201 nb301] [--networks 6 4]
        [--out results/naslib_speed.md]

``--naslib``: a checkout of automl/NASLib (branch Develop; only ``naslib/predictors`` is read).
NASLib is not installable here and is no dependency of zcbench: its predictor modules are
imported from that folder at run time, under empty stand-ins for the ``naslib``,
``naslib.predictors`` and ``naslib.predictors.utils`` packages (whose ``__init__`` files import
NASLib's search spaces, data sets and optimisers, none of which the driver needs). NASLib's
flops and params call tensorwatch's ``ModelStats``: ``--tensorwatch`` names an unpacked
tensorwatch 0.9.1 source folder (``pip download tensorwatch==0.9.1 --no-deps``), whose
``model_graph`` is imported the same way (tensorwatch's own ``__init__`` pulls plotly, pyzmq and
more); without it both sides run the other 11 proxies and the table says so. Without
``--naslib`` (or with a folder that lacks NASLib's predictors) the benchmark says why and stops.

Per network: NASLib's ``ZeroCost(method).query(net, dataloader)`` for each proxy (its driver,
as NB-Suite-Zero scored every architecture: a deep copy and the proxy's own passes per proxy;
the loader yields the one batch), and ``zc_proxies.score`` with the 13 proxies' defaults on one
probe (``study_probe``, as ``zcbench run``); which side goes first alternates between networks.
NASLib's graphs have a method ``forward_before_global_avg_pool`` (a full forward pass that
returns the global pool's input), which its zen calls; the networks get one for the run.
Two run-time adjustments make the values comparable, not faster: NASLib's zen draws its weights
and noise from the global RNG, which is seeded with the seed zcbench's zen generator uses (so
both draw the same numbers), and NASLib's nwot hooks every module whose type name contains
"ReLU" and not "naslib", so zcbench's ``ReLUConvBN`` containers (whose input is their inner
ReLU's) are renamed into a ``naslib`` module during NASLib's passes, as NASLib skips its own.

Batch: the first Fashion-MNIST training images at 32 x 32 (64 for NB201 C=16 N=5, the batch of
the reference values; 32 for NB301, NB-Suite-Zero's batch), their labels as targets.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import statistics
import sys
import time
import types
from pathlib import Path

import torch
import torch.nn.functional as F

from experiments.benchmarks import add_out_argument, publish

NBSZ_PROXIES = ["epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm", "nwot", "params", "plain",
                "snip", "synflow", "zen"]
SPACES = {"nb201": ({"C": 16, "N": 5}, 64), "nb301": ({}, 32)}
DEFAULT_NETWORKS = {"nb201": 6, "nb301": 4}


def _stub_package(name: str, path: Path) -> None:
    mod = types.ModuleType(name)
    mod.__path__ = [str(path)]
    sys.modules[name] = mod


def load_naslib(folder: str | Path, tensorwatch: str | Path | None):
    """NASLib's ``ZeroCost`` class from a checkout, and whether flops/params can run (tensorwatch).

    Raises ``FileNotFoundError`` with the reason when the folder holds no NASLib predictors."""
    root = Path(folder)
    zc = root / "naslib" / "predictors" / "zerocost.py"
    if not zc.is_file():
        raise FileNotFoundError(f"{zc} does not exist: --naslib must name a checkout of automl/NASLib (branch "
                                "Develop), e.g. one made with `git clone -b Develop https://github.com/automl/NASLib`")
    has_tw = False
    if tensorwatch is not None:
        tw = Path(tensorwatch) / "tensorwatch"
        if (tw / "model_graph" / "torchstat_utils.py").is_file():
            _stub_package("tensorwatch", tw)
            _stub_package("tensorwatch.model_graph", tw / "model_graph")
            import importlib

            sys.modules["tensorwatch"].ModelStats = importlib.import_module(
                "tensorwatch.model_graph.torchstat_utils").ModelStats
            has_tw = True
    if not has_tw:
        sys.modules["tensorwatch"] = types.ModuleType("tensorwatch")  # model_stats.py imports it; unused then
    _stub_package("naslib", root / "naslib")
    _stub_package("naslib.predictors", root / "naslib" / "predictors")
    _stub_package("naslib.predictors.utils", root / "naslib" / "predictors" / "utils")
    import importlib

    return importlib.import_module("naslib.predictors.zerocost").ZeroCost, has_tw


def _forward_before_global_avg_pool(self, x):
    """NASLib's graph method that its zen calls: a full forward pass, returning the input of the
    global pool (zcbench's zen feature module)."""
    from zc_proxies.zen import last_global_pool

    feats = []
    h = last_global_pool(self).register_forward_pre_hook(lambda m, inp: feats.append(inp[0]))
    try:
        self(x)
    finally:
        h.remove()
    assert len(feats) == 1
    return feats[0]


@contextlib.contextmanager
def naslib_view(net):
    """What NASLib's driver reads from its graph (``get_loss_fn``, ``num_classes``, ``forward_before_global_avg_pool``), and zcbench's
    ReLU containers renamed into a ``naslib`` module so that NASLib's nwot skips them."""
    from zc_proxies.nwot import nwot_hooked

    renamed = {}
    for m in net.modules():
        cls = type(m)
        if "ReLU" in cls.__name__ and not nwot_hooked(m) and cls not in renamed:
            renamed[cls] = cls.__module__
            cls.__module__ = "naslib_shim." + cls.__module__
    net.get_loss_fn = lambda: F.cross_entropy
    net.num_classes = 10
    net.forward_before_global_avg_pool = types.MethodType(_forward_before_global_avg_pool, net)
    try:
        yield net
    finally:
        for cls, mod in renamed.items():
            cls.__module__ = mod
        for attr in ("get_loss_fn", "num_classes", "get_prunable_copy", "forward_before_global_avg_pool"):
            net.__dict__.pop(attr, None)


def run_naslib(ZeroCost, net, loader, proxies, zen_seed: int) -> dict[str, float]:
    import warnings

    out = {}
    with naslib_view(net), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NASLib's own (full backward hooks, deprecations)
        for p in proxies:
            if p == "zen":
                torch.manual_seed(zen_seed)
            out[p] = float(ZeroCost(method_type=p).query(net, dataloader=loader))
    return out


def _cell(text: str, width: int = 90) -> str:
    """``text`` inside a markdown table cell (NB201's architecture strings hold ``|``), cut to ``width``."""
    text = text if len(text) <= width else text[: width - 3] + "..."
    return text.replace("|", "\\|")


def _rel(a: float, b: float) -> float:
    if a == b:
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b), 1e-30)


def compare(space_name: str, n: int, ZeroCost, proxies: list[str], seed: int = 0) -> list[dict]:
    import zc_proxies
    from experiments.inputs import study_probe
    from search_spaces.base import get_space
    from search_spaces.data import load_batch
    from zc_proxies.probe import mix_seed

    options, batch = SPACES[space_name]
    space = get_space(space_name, **options)
    x, y = load_batch("fashion-mnist", batch, size=32, split="train", pick="first")
    loader = [(x, y)]
    wanted = {p: (p, {}) for p in proxies}
    rows = []
    for i, arch in enumerate(space.sample(n + 1, seed)):
        probe = study_probe(space, arch, "cifar10", seed, x, y)
        zen_seed = mix_seed(probe.seed, 26, 0)  # zen_generator(probe.seed, 0)'s seed
        timed = {}
        for side in (("zcbench", "naslib") if i % 2 == 0 else ("naslib", "zcbench")):
            w, c = time.perf_counter(), time.process_time()
            if side == "zcbench":
                res = zc_proxies.score(probe, wanted)
                vals = {p: (r.value if r.status != "failed" else math.nan) for p, r in res.items()}
            else:
                vals = run_naslib(ZeroCost, probe.net, loader, proxies, zen_seed)
            timed[side] = (vals, time.process_time() - c, time.perf_counter() - w)
        if i == 0:
            continue  # warm-up network, both sides
        zv, nv = timed["zcbench"][0], timed["naslib"][0]
        diffs = {}
        for p in proxies:
            a, b = zv[p], nv[p]
            diffs[p] = 0.0 if (b == -1e8 and not math.isfinite(a)) else _rel(a, b)
        rows.append({"arch": str(arch), "zc_cpu": timed["zcbench"][1], "nl_cpu": timed["naslib"][1],
                     "zc_wall": timed["zcbench"][2], "nl_wall": timed["naslib"][2], "diffs": diffs,
                     "first": "zcbench" if i % 2 == 0 else "naslib"})
        r = rows[-1]
        worst = max(diffs, key=diffs.get)
        print(f"{space_name} {arch}: NASLib {r['nl_cpu']:.2f} s, zcbench {r['zc_cpu']:.2f} s CPU "
              f"({r['nl_cpu'] / r['zc_cpu']:.2f}x); max rel. diff {diffs[worst]:.1e} ({worst})", flush=True)
    return rows


def space_lines(name: str, rows: list[dict], proxies: list[str]) -> list[str]:
    options, batch = SPACES[name]
    ratios = [r["nl_cpu"] / r["zc_cpu"] for r in rows]
    wratios = [r["nl_wall"] / r["zc_wall"] for r in rows]
    lines = [f"## {name} ({', '.join(f'{k}={v}' for k, v in options.items()) or 'defaults'}), batch {batch}, "
             f"{len(rows)} networks", "",
             f"Median ratio NASLib / zcbench: **{statistics.median(ratios):.2f}x** CPU ({min(ratios):.2f}x to "
             f"{max(ratios):.2f}x), {statistics.median(wratios):.2f}x wall. Totals: NASLib "
             f"{sum(r['nl_cpu'] for r in rows):.1f} s, zcbench {sum(r['zc_cpu'] for r in rows):.1f} s CPU.", "",
             "| network | first | NASLib CPU s | zcbench CPU s | ratio | NASLib wall s | zcbench wall s | wall ratio "
             "| max rel. diff of the values (proxy) |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        worst = max(r["diffs"], key=r["diffs"].get)
        lines.append(f"| `{_cell(r['arch'])}` | {r['first']} | {r['nl_cpu']:.2f} | {r['zc_cpu']:.2f} | "
                     f"{r['nl_cpu'] / r['zc_cpu']:.2f}x | {r['nl_wall']:.2f} | {r['zc_wall']:.2f} | "
                     f"{r['nl_wall'] / r['zc_wall']:.2f}x | {r['diffs'][worst]:.1e} ({worst}) |")
    lines += ["", "Values, max relative difference over the networks per proxy: " + ", ".join(
        f"{p} {max(r['diffs'][p] for r in rows):.1e}" for p in proxies) + ".", ""]
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--naslib", default=None, help="a checkout of automl/NASLib, branch Develop")
    ap.add_argument("--tensorwatch", default=None,
                    help="an unpacked tensorwatch 0.9.1 source folder (for NASLib's flops and params)")
    ap.add_argument("--spaces", nargs="+", default=list(SPACES), choices=list(SPACES))
    ap.add_argument("--networks", nargs="+", type=int, default=None,
                    help="timed networks per space, in --spaces order (default 6 NB201, 4 NB301), after one "
                         "unmeasured warm-up network")
    ap.add_argument("--seed", type=int, default=0)
    add_out_argument(ap, "naslib_speed")
    args = ap.parse_args(argv)
    nets = args.networks or [DEFAULT_NETWORKS[s] for s in args.spaces]
    if len(nets) != len(args.spaces):
        ap.error("give one --networks count per space")
    if args.naslib is None:
        print("naslib_speed: skipped: no NASLib checkout given (--naslib FOLDER, a clone of automl/NASLib, "
              "branch Develop)")
        return 0
    try:
        ZeroCost, has_tw = load_naslib(args.naslib, args.tensorwatch)
    except (FileNotFoundError, ImportError) as exc:
        print(f"naslib_speed: skipped: NASLib's predictors cannot be imported from {args.naslib}: {exc}")
        return 0
    torch.set_num_threads(1)
    proxies = NBSZ_PROXIES if has_tw else [p for p in NBSZ_PROXIES if p not in ("flops", "params")]
    load0 = os.getloadavg()
    out = {s: compare(s, n, ZeroCost, proxies, args.seed) for s, n in zip(args.spaces, nets)}
    load1 = os.getloadavg()
    commit = ""
    with contextlib.suppress(Exception):
        import subprocess

        commit = subprocess.run(["git", "-C", args.naslib, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
    lines = ["# NASLib's zero-cost driver against zcbench on NB-Suite-Zero's proxies", "",
             f"{len(proxies)} proxies ({', '.join(proxies)})"
             + ("" if has_tw else "; flops and params left out on both sides: no tensorwatch for NASLib's")
             + f", on the same network objects and batch (the first Fashion-MNIST training images at 32 x 32, their "
             f"labels), NASLib {commit or '(commit unknown)'} `ZeroCost(method).query` per proxy against one fused "
             f"zcbench probe with the defaults; the side that goes first alternates; one unmeasured warm-up network "
             f"per space. {platform.machine()}, 1 torch thread, torch {torch.__version__}. **The machine was "
             f"loaded** (2 cores shared with other jobs; load average {load0[0]:.1f} at the start, {load1[0]:.1f} at "
             "the end): CPU seconds of this process are the measure, wall seconds for reference; read the medians "
             "and ratios, not the absolute times. How NASLib is loaded and the two adjustments for comparable "
             "values: `python -m experiments.benchmarks.naslib_speed --help`. A relative difference of 0 means "
             "equal; NASLib's -1e8 for a non-finite score counts as equal to zcbench's non-finite one.", ""]
    for s in args.spaces:
        lines += space_lines(s, out[s], proxies)
    lines += [f"Reproduce: `python -m experiments.benchmarks.naslib_speed --naslib {args.naslib}"
              + (f" --tensorwatch {args.tensorwatch}" if has_tw else "")
              + f" --spaces {' '.join(args.spaces)} --networks {' '.join(map(str, nets))} --out {args.out}`"]
    publish("\n".join(lines) + "\n", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
