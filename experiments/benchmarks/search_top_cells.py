"""What explains a search's outcome: the proxy's own top cells and where each method's pick sits.

    python -m experiments.benchmarks.search_top_cells results/search_nb201_real [--n N] \
        [--table FILE.npz] [--out results/search_nb201_real/top_cells.md]

Reads a finished ``zcbench search`` folder (its ``search.json``: config, resolved µ and σ, the
found cells), scores SWAP of a table of NB201 cells exactly as the search scores them (its
scoring network, batch and task; probe seed of search seed 0) plus every found cell, and counts
Θ of the network reg-SWAP's Θ counts in the search (:func:`experiments.search.theta_net_of`).
reg-SWAP is then Ψ · exp(-(Θ-µ)²/σ) with the search's own µ and σ. The table is every cell of
the space (``--n`` unset: 15,625) or a seeded subset of ``--n`` cells (``random.Random(0)``);
it is cached in ``--table`` (default ``<folder>/top_cells.npz``, not meant for git) and filled
in chunks, so a stopped run resumes.

Reported: Spearman of SWAP and reg-SWAP with each ground-truth metric over the table, the true
accuracy of the table's top cells by reg-SWAP (percentile among all ground-truth cells), and per
search seed the reg-SWAP rank of each method's pick within the table with its accuracy.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

CHUNK = 50


def _table_archs(space, n: int | None, found: list[str]) -> list[str]:
    """The found cells first (so that a stopped run has them), then the table's cells; a
    smaller ``n`` gives a prefix of a larger one's table (``random.sample`` picks in order)."""
    from search_spaces.nb201 import NB201Space

    every = [str(a) for a in NB201Space.all_archs()]
    picked = every if n is None or n >= len(every) else random.Random(0).sample(every, n)
    return list(dict.fromkeys(found + picked))


def score_table(folder: Path, n: int | None, table: Path, progress: bool = True) -> dict:
    """{arch: (swap, theta_M)} for the table's cells and the found ones, computed as the search
    of ``folder`` scores them (seed 0), cached in ``table`` (resumable)."""
    from experiments.inputs import benchmark_params
    from experiments.search import ProxyScorer, parse_search, theta_net_of
    from zc_proxies.swap import SWAP_DEFAULTS

    res = json.loads((folder / "search.json").read_text())
    cfg = parse_search(res["config"], name=res["name"], base_dir=folder)
    space = __import__("search_spaces.base", fromlist=["get_space"]).get_space(cfg.space, **cfg.space_options)
    found = [s[k]["arch"] for s in res["seeds"] for k in ("swap_nas", "random_search") if k in s]
    archs = _table_archs(space, n, found)
    done: dict[str, tuple[float, float]] = {}
    if table.is_file():
        z = np.load(table)
        done = {str(a): (float(s), float(t)) for a, s, t in zip(z["arch"], z["swap"], z["theta"])}
    todo = [a for a in archs if a not in done]
    tn = theta_net_of(cfg) or (space, cfg.task, "the scoring network")
    opts = {k: v for k, v in res["proxy"]["options"].items() if k in SWAP_DEFAULTS}
    from experiments.executors import set_threads

    set_threads(cfg.threads)  # as the search scores
    scorer = ProxyScorer(space, cfg.task, cfg.data, "swap", opts, 0)
    t0 = time.time()
    for i in range(0, len(todo), CHUNK):
        chunk = [space.parse(a) for a in todo[i:i + CHUNK]]
        theta = benchmark_params(tn[0], tn[1], chunk)
        for a in chunk:
            done[str(a)] = (scorer(a), theta[str(a)])
        keys = list(done)
        np.savez_compressed(table, arch=np.array(keys), swap=np.array([done[k][0] for k in keys]),
                            theta=np.array([done[k][1] for k in keys]))
        if progress:
            k = i + len(chunk)
            print(f"scored {k}/{len(todo)} cells ({(time.time() - t0) / k:.2f} s each)", file=sys.stderr)
    return {"result": res, "cfg": cfg, "space": space, "cells": {a: done[a] for a in archs},
            "table": [a for a in _table_archs(space, n, [])], "theta_network": tn[2]}


def report(data: dict, n: int | None) -> str:
    from experiments.benchmarks.paper_numbers import spearman_ci
    from experiments.search import Truth
    from zc_proxies.swap import THETA_UNITS, reg_swap_combine

    res, cfg, space, cells = data["result"], data["cfg"], data["space"], data["cells"]
    opts = res["proxy"]["options"]
    mu, sigma, unit = opts["mu"], opts["sigma"], opts["theta_unit"]
    truth = Truth(cfg, space, Path("."))
    table = data["table"]
    sw = np.array([cells[a][0] for a in table])
    th = np.array([cells[a][1] for a in table])
    scale = 1e6 / THETA_UNITS[unit]  # Θ (millions) in the search's unit, for display
    reg = reg_swap_combine(sw, th, mu=mu, sigma=sigma, theta_unit=unit)[0]
    found_reg = {a: float(reg_swap_combine([cells[a][0]], [cells[a][1]], mu=mu, sigma=sigma,
                                           theta_unit=unit)[0][0]) for a in cells}
    acc = {m: np.array([truth.values[m].get(space.parse(a), np.nan) for a in table]) for m in truth.metrics}
    size = "every NB201 cell (15,625)" if n is None or n >= 15625 else f"a seeded subset of {len(table)} NB201 cells (random.Random(0))"
    lines = [f"# {res['name']}: the proxy's own top cells and where the searches' picks sit", "",
             f"Table: {size}, plus the cells the searches found, scored as the search scores them: SWAP of "
             f"{cfg.space} {cfg.space_options} ({cfg.task} network) on {cfg.data['batch_size']} "
             f"{cfg.data['source']} images at {cfg.data['size']}x{cfg.data['size']} ({cfg.data['pick']}), probe "
             f"seed of search seed 0; Θ = parameters of {data['theta_network']} in {unit}; reg-SWAP with the "
             f"search's µ = σ = {mu:g} {unit}. Generated by `python -m experiments.benchmarks.search_top_cells "
             f"{'' if n is None else f'--n {n} '}<search folder>`.", "",
             "| metric | Spearman SWAP [95 % CI] | Spearman reg-SWAP [95 % CI] |", "|---|---:|---:|"]
    for m in truth.metrics:
        a, b = spearman_ci(sw, acc[m]), spearman_ci(reg, acc[m])
        lines.append(f"| {m} | {a[0]:.3f} [{a[1]:.3f}, {a[2]:.3f}] | {b[0]:.3f} [{b[1]:.3f}, {b[2]:.3f}] |")
    order = np.argsort(-reg, kind="stable")
    m0 = truth.metric
    lines += ["", f"The table's cells with the highest reg-SWAP and their true {m0} (median; percentile among all "
              f"{len(truth.sorted[m0])} ground-truth cells):", "",
              "| top k by reg-SWAP | median accuracy | percentile |", "|---:|---:|---:|"]
    for k in (1, 3, 10, 50, 300):
        if k <= len(order):
            med = float(np.nanmedian(acc[m0][order[:k]]))
            lines.append(f"| {k} | {med:.2f} | {truth.percentile(med, m0):.1f} |")
    lines += ["", "The table's top 5 by reg-SWAP:", "", f"| cell | reg-SWAP | Θ ({unit}) | {m0} |", "|---|---:|---:|---:|"]
    for i in order[:5]:
        lines.append(f"| `{table[i]}` | {reg[i]:.5g} | {th[i] * scale:.4g} | {acc[m0][i]:.2f} |")
    lines += ["", "Each seed's picks, rescored at seed 0: reg-SWAP rank percentile within the table (100 = its "
              f"maximum) and true {m0} (percentile among all ground-truth cells):", "",
              "| seed | SWAP-NAS pick: reg-SWAP pct | accuracy (pct) | random search pick: reg-SWAP pct | accuracy (pct) |",
              "|---:|---:|---:|---:|---:|"]
    srt = np.sort(reg)
    pct = lambda v: 100.0 * float(np.searchsorted(srt, v, side="right")) / len(srt)  # noqa: E731
    evo_pcts, rs_pcts = [], []
    for s in res["seeds"]:
        cells_out = []
        for k, store in (("swap_nas", evo_pcts), ("random_search", rs_pcts)):
            m = s.get(k)
            if m is None:
                cells_out += ["–", "–"]
                continue
            p = pct(found_reg[m["arch"]])
            store.append(p)
            cells_out += [f"{p:.2f}", f"{m['accuracy']:.2f} ({m['percentile']:.1f})"]
        lines.append(f"| {s['seed']} | " + " | ".join(cells_out) + " |")
    if evo_pcts:
        lines += ["", f"Median reg-SWAP percentile of the picks: SWAP-NAS {statistics.median(evo_pcts):.2f}, "
                  f"random search {statistics.median(rs_pcts):.2f}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.benchmarks.search_top_cells", description=__doc__.split("\n")[0])
    ap.add_argument("folder", help="a finished `zcbench search` --out folder (with search.json)")
    ap.add_argument("--n", type=int, default=None, help="score a seeded subset of N cells (default: all 15,625)")
    ap.add_argument("--table", default=None, help="cache of the scores (default: FOLDER/top_cells.npz)")
    ap.add_argument("--out", default=None, help="default: FOLDER/top_cells.md")
    args = ap.parse_args(argv)
    folder = Path(args.folder)
    data = score_table(folder, args.n, Path(args.table) if args.table else folder / "top_cells.npz")
    out = Path(args.out) if args.out else folder / "top_cells.md"
    out.write_text(report(data, args.n))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
