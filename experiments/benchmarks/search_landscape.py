"""How well SWAP-NAS's evolution optimises its proxy, against random search with the same budget,
measured on a fixed table of proxy scores for every NB201 cell (so hundreds of searches cost
seconds and the found score can be ranked in the whole space).

    python -m experiments.benchmarks.search_landscape [--table swap_table_c8n1.npz] \
        [--out results/search_landscape_c8n1/landscape.md]

The table holds the SWAP score and the parameter count of all 15,625 cells, scored as
``zcbench search`` scores them for seed 0 (C=8, N=1 networks, the cifar10 network, the first 16
images of the shipped Fashion-MNIST sample at 32x32); it is computed once (about 8 min on one
core) and cached in ``--table``. reg-SWAP is then Ψ · exp(-(Θ-µ)²/σ) with µ = σ = the 0.9
quantile of Θ over 1000 sampled cells (the search's ``auto`` rule), in K and in M parameters.
Each search runs :func:`experiments.search.evolve` / :func:`random_search` with the table as
its score function (the same proxy landscape for every seed: only the optimiser varies).

Reported per setting and budget, over ``--seeds`` seeds: the median rank percentile of the
found score among all cells (100 = the space's maximum), how often the evolution ends with a
higher score than random search on the same seed (ties apart), and two diagnostics of the
settings: the share of evaluations spent on crossover children, and how often the best
architecture the evolution scored is not the one it returns; and, against the shipped NB201
ground truth, the CIFAR-10 accuracy of the cells with the highest reg-SWAP.
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

import search_spaces  # noqa: F401
from experiments.benchmarks import publish
from experiments.search import ProxyScorer, evolve, random_search
from search_spaces.base import get_space
from search_spaces.data import resolve_path
from search_spaces.ground_truth import read_ground_truth
from search_spaces.nb201 import NB201Space
from zc_proxies.swap import THETA_UNITS, size_factor

DATA = {"source": "fashion-mnist-sample", "path": None, "batch_size": 16, "size": 32, "split": "train",
        "pick": "first"}


def swap_table(path: Path) -> dict[str, tuple[float, float]]:
    """arch string -> (SWAP score, parameters) for every NB201 cell (computed once, cached)."""
    if not path.exists():
        import zc_proxies
        from tqdm import tqdm

        space = get_space("nb201", C=8, N=1)
        scorer = ProxyScorer(space, "cifar10", DATA, "swap", zc_proxies.get_proxy("swap").options({}), 0)
        archs = NB201Space.all_archs()
        swap = np.array([scorer(a) for a in tqdm(archs, desc="SWAP of every cell", mininterval=10)])
        params = np.array([scorer.params[str(a)] for a in archs], dtype=float)
        np.savez_compressed(path, arch=np.array([str(a) for a in archs]), swap=swap, params=params)
    z = np.load(path)
    return {str(a): (float(s), float(p)) for a, s, p in zip(z["arch"], z["swap"], z["params"])}


class Counting:
    """The NB201 space, counting the children its crossover makes (a diagnostic)."""

    def __init__(self, space):
        self.space, self.kids = space, set()

    def __getattr__(self, name):
        return getattr(self.space, name)

    def crossover(self, a, b, rng):
        kids = self.space.crossover(a, b, rng)
        self.kids.update(str(k) for k in kids)
        return kids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", type=Path, default=Path("swap_table_c8n1.npz"))
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--budgets", type=int, nargs="+", default=[100, 300, 1000])
    ap.add_argument("--out", default="results/search_landscape_c8n1/landscape.md")
    args = ap.parse_args()
    torch.set_num_threads(1)
    table = swap_table(args.table)
    truth = {str(a): v for a, v in read_ground_truth(resolve_path("embedded:nb201_nats_bench.csv"), get_space("nb201"),
                                                     "cifar10").metric("cifar10_test_accuracy").items()}
    acc_sorted = np.sort(np.array(list(truth.values())))
    space = get_space("nb201", C=8, N=1)
    theta_all = {a: p for a, (_, p) in table.items()}
    sample = [str(a) for a in space.sample(1000, 0)]
    settings = {
        "default (P 50, S 10, 1..3 mutations, 3 children, crossover 0.5)": {},
        "no crossover": {"crossover_prob": 0.0},
        "1 mutation per child": {"mutations": 1},
        "P 20, S 5": {"population": 20, "sample_size": 5},
    }
    lines = ["# SWAP-NAS's evolution against random search on a fixed proxy table (NB201, C=8, N=1)", "",
             f"{args.seeds} seeds per cell of the table; the proxy is the same table for every seed. Percentile: "
             "rank of the found reg-SWAP score among all 15,625 cells (100 = the maximum). `evo > random`: seeds "
             "on which the evolution's best score beats random search's with the same number of evaluations "
             "(`=`: equal).", ""]
    for unit in ("K", "M"):
        theta = {a: p / THETA_UNITS[unit] for a, p in theta_all.items()}
        mu = float(np.quantile([theta[a] for a in sample], 0.9))
        reg = {a: table[a][0] * float(size_factor(theta[a], mu, mu)) for a in table}
        ranked = np.sort(np.array(list(reg.values())))

        def pct(v):
            return 100.0 * np.searchsorted(ranked, v, side="right") / len(ranked)

        def score(a):
            return reg[str(a)]

        order = sorted(reg, key=reg.get, reverse=True)
        lines += [f"## Θ in {unit}: µ = σ = {mu:.4g} {unit}", "",
                  f"Spearman(reg-SWAP, CIFAR-10 test accuracy) over the space: "
                  f"{spearmanr([reg[a] for a in order], [truth[a] for a in order]).statistic:.3f}. The cells with "
                  "the highest reg-SWAP and their true accuracy (median; percentile in the space):", "",
                  "| top k by reg-SWAP | median CIFAR-10 accuracy | percentile |", "|---:|---:|---:|"]
        for k in (1, 3, 10, 50, 300):
            med = statistics.median(truth[a] for a in order[:k])
            lines.append(f"| {k} | {med:.2f} | {100 * np.searchsorted(acc_sorted, med, side='right') / len(acc_sorted):.1f} |")
        lines += ["",
                  "| setting | budget | evolution: median percentile | random: median percentile | evo > random | "
                  "= | crossover evaluations | best scored but not returned |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for label, kw in settings.items():
            for budget in args.budgets:
                pe, pr, wins, ties, cx, lost = [], [], 0, 0, [], 0
                for seed in range(args.seeds):
                    sp = Counting(space)
                    e = evolve(sp, score, seed=seed, evaluations=budget, **kw)
                    r = random_search(space, score, e.evaluations, seed=seed)
                    pe.append(pct(e.score))
                    pr.append(pct(r.score))
                    wins += e.score > r.score
                    ties += e.score == r.score
                    cx.append(len(sp.kids & set(e.scores)) / e.evaluations)
                    lost += max(e.scores.values()) > e.score
                lines.append(f"| {label} | {budget} | {statistics.median(pe):.2f} | {statistics.median(pr):.2f} | "
                             f"{wins} | {ties} | {100 * statistics.mean(cx):.0f} % | {lost} |")
        lines.append("")
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
