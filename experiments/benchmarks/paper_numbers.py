"""Every published figure zcbench claims to reproduce, next to zcbench's value, in one table.

    python -m experiments.benchmarks.paper_numbers [--nbsuite-zero DIR] [--out results/paper_numbers.md]

Each row: the paper, its table or figure, the quantity, the paper's value as printed, zcbench's
value with its 95 % CI, zcbench's protocol and every difference from the paper's protocol. A row
zcbench cannot compute here says why. The figures come from what is shipped in ``results/``:

- per-architecture scores (``results/default_reg_swap/scores.csv``): Spearman with a bootstrap
  CI over architectures (1000 resamples, the reports' own), the mean over seeds of the per-seed
  values and intervals, as in ``summary.md``;
- a report's ``summary.csv`` (bootstrap CI as computed by the report);
- an older report's ``correlations.csv``, which holds Spearman and n per seed but no CI: there
  the CI is Fisher's z interval with the Fieller-Hartley-Pearson variance 1.06 / (n - 3) for
  Spearman (an approximation, marked "Fisher z");
- NAS-Bench-Suite-Zero's own ``zc_<space>.json`` files (``zcbench download nbsuite-zero``; the
  folder is ``--nbsuite-zero``, default the download cache): the Spearman of each of its proxies
  with the files' ``val_accuracy``, computed here from its own scores, bootstrap CI.

``--export-scores RUN_DIR`` first writes ``results/default_reg_swap/scores.csv`` from the store
of the run described in ``results/default_reg_swap/README.md``.
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
REG_SWAP_SCORES = RESULTS / "default_reg_swap" / "scores.csv"
FIG4_NBSZ = RESULTS / "swap_fig4_nbsz"  # experiments/configs/swap_fig4_nbsz_cpu.yaml's report
FIG4_NBSZ_SCORES = FIG4_NBSZ / "scores.csv"
TOP_CELLS = RESULTS / "search_nb201_real" / "top_cells.md"  # SWAP of every NB201 cell
OLD_RULE = ("reg_swap here uses the rule before 2026-12-06 (µ = σ = the 0.9 quantile of Θ, Θ the scoring "
            "network's size); today's default is the largest Θ of the benchmark's own network")
NBSZ_FILES = {  # zc file -> (space, datasets)
    "zc_nasbench201.json": ("nb201", ["cifar10", "cifar100", "ImageNet16-120"]),
    "zc_nasbench301.json": ("nb301", ["cifar10"]),
    "zc_nasbench101.json": ("nb101", ["cifar10"]),
    "zc_transbench101_micro.json": ("tnb101_micro", ["autoencoder", "class_object", "class_scene", "jigsaw",
                                                     "normal", "room_layout", "segmentsemantic"]),
    "zc_transbench101_macro.json": ("tnb101_macro", ["autoencoder", "class_object", "class_scene", "jigsaw",
                                                     "normal", "room_layout", "segmentsemantic"]),
}


@dataclass
class Row:
    paper: str
    where: str  # table or figure
    what: str  # the quantity
    published: str  # as the paper prints it
    value: float | None = None
    lo: float | None = None
    hi: float | None = None
    ci: str = ""  # how the CI was computed
    protocol: str = ""
    differences: str = ""
    why: str = ""  # why zcbench gives no value here

    def zcbench(self) -> str:
        if self.value is None:
            return "not run here"
        if self.lo is None or not np.isfinite(self.lo):
            return f"{self.value:.3f}"
        return f"{self.value:.3f} [{self.lo:.3f}, {self.hi:.3f}]" + (f" ({self.ci})" if self.ci else "")


# ----------------------------------------------------------------------------- statistics

def fisher_ci(rho: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Fisher's z interval for Spearman's ρ with the Fieller-Hartley-Pearson variance 1.06/(n-3)."""
    from scipy.stats import norm

    if n <= 3 or not np.isfinite(rho) or abs(rho) >= 1:
        return math.nan, math.nan
    z, se = math.atanh(rho), math.sqrt(1.06 / (n - 3))
    q = norm.ppf(0.5 + level / 2)
    return math.tanh(z - q * se), math.tanh(z + q * se)


def spearman_ci(scores, truth) -> tuple[float, float, float]:
    """Spearman ρ and its bootstrap 95 % CI over architectures (the reports' statistics)."""
    from experiments import stats

    s, t = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    ok = np.isfinite(s) & np.isfinite(t)
    r = stats.correlation_ci(s[ok], t[ok])
    return r["spearman"], r["spearman_lo"], r["spearman_hi"]


def mean_over_seeds(per_seed: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """The mean of the per-seed values and interval ends, as the reports average them."""
    a = np.array(per_seed, dtype=float)
    return tuple(float(x) for x in np.nanmean(a, axis=0))


# ----------------------------------------------------------------------------- sources

def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def from_summary(path: Path, column: str, proxy: str) -> tuple[float, float, float, int] | None:
    """(ρ, lo, hi, n) of a new-format ``summary.csv`` row."""
    if not path.is_file():
        return None
    for r in read_csv_rows(path):
        if r["column"] == column and r["proxy"] == proxy:
            return float(r["spearman_mean"]), float(r["spearman_lo"]), float(r["spearman_hi"]), int(r["n"])
    return None


def from_correlations(path: Path, proxy: str, variant: str = "default",
                      study: str | None = None) -> tuple[float, float, float, int] | None:
    """(mean ρ over seeds, Fisher z CI of that mean's n, n) of an older ``correlations.csv``."""
    if not path.is_file():
        return None
    rows = [r for r in read_csv_rows(path) if r["proxy"] == proxy and r.get("variant", "default") == variant
            and (study is None or r["study"] == study) and r["spearman"] not in ("", "nan")]
    if not rows:
        return None
    rho = float(np.mean([float(r["spearman"]) for r in rows]))
    n = int(rows[0]["n"])
    lo, hi = fisher_ci(rho, n)
    return rho, lo, hi, n


def from_top_cells(path: Path, metric: str) -> tuple[tuple[float, float, float], tuple[float, float, float]] | None:
    """((ρ, lo, hi) of SWAP, (ρ, lo, hi) of reg-SWAP) with ``metric`` from the Spearman table of
    ``search_top_cells``' markdown (rows ``| metric | ρ [lo, hi] | ρ [lo, hi] |``)."""
    import re

    if not path.is_file():
        return None
    num = r"(-?[0-9.]+) \[(-?[0-9.]+), (-?[0-9.]+)\]"
    for line in path.read_text().splitlines():
        m = re.fullmatch(rf"\| {re.escape(metric)} \| {num} \| {num} \|", line.strip())
        if m:
            v = [float(x) for x in m.groups()]
            return (v[0], v[1], v[2]), (v[3], v[4], v[5])
    return None


def reg_swap_table(path: Path = REG_SWAP_SCORES):
    """The per-architecture scores of results/default_reg_swap as {column: [(seed, swap, theta, truth)]}."""
    out: dict[str, list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]] = {}
    if not path.is_file():
        return out
    rows = read_csv_rows(path)
    for col in dict.fromkeys(r["column"] for r in rows):
        for seed in sorted({int(r["seed"]) for r in rows if r["column"] == col}):
            sel = [r for r in rows if r["column"] == col and int(r["seed"]) == seed]
            out.setdefault(col, []).append((seed, np.array([float(r["swap"]) for r in sel]),
                                            np.array([float(r["theta_benchmark_M"]) for r in sel]),
                                            np.array([float(r["truth"]) for r in sel])))
    return out


def reg_swap_rho(table, column: str, mu: float | None, sigma: float | None) -> tuple[float, float, float] | None:
    """Spearman of reg-SWAP (µ, σ in M; None: plain SWAP; "max": the largest Θ) with the column's
    truth, mean over seeds of the bootstrap values and CIs."""
    from zc_proxies.swap import reg_swap_combine

    if column not in table:
        return None
    per_seed = []
    for _, s, theta, t in table[column]:
        if mu is None:
            v = s
        else:
            v = reg_swap_combine(s, theta, mu=mu, sigma=sigma, theta_unit="M")[0]
        per_seed.append(spearman_ci(v, t))
    return mean_over_seeds(per_seed)


#: spaces whose every parameter is used (so zcbench's count is NB-Suite-Zero's), and the space
#: task of each file dataset
ZCBENCH_PARAMS = {"nb201": {}, "nb301": {}, "nb101": {}}


def nbsz_proxy_rhos(folder: Path, file: str, dataset: str,
                    zcbench_params: bool = False) -> dict[str, tuple[float, float, float, int]]:
    """NAS-Bench-Suite-Zero's own per-proxy Spearman with its val_accuracy, from its file; with
    ``zcbench_params``, also that of zcbench's parameter count of the same networks."""
    import search_spaces  # noqa: F401
    from search_spaces.base import get_space
    from search_spaces.ground_truth import read_zc_json

    space, _ = NBSZ_FILES[file]
    sp = get_space(space)
    recs = read_zc_json(folder / file, sp, dataset)
    out = {}
    for proxy, table in sorted(recs.scores.items()):
        archs = [a for a in table if a in recs.val_accuracy]
        s = np.array([table[a][0] for a in archs])
        t = np.array([recs.val_accuracy[a] for a in archs])
        if len(archs) >= 3:
            rho, lo, hi = spearman_ci(s, t)
            out[proxy] = (rho, lo, hi, len(archs))
    if zcbench_params and space in ZCBENCH_PARAMS and len(recs.val_accuracy) >= 3:
        # zcbench's own parameter count of the same networks (its benchmark network, that task)
        from experiments.inputs import benchmark_params

        archs = list(recs.val_accuracy)
        sizes = benchmark_params(sp, ZCBENCH_PARAMS[space].get(dataset, dataset), archs)
        rho, lo, hi = spearman_ci([sizes[str(a)] for a in archs], [recs.val_accuracy[a] for a in archs])
        out["params (zcbench's count)"] = (rho, lo, hi, len(archs))
    return out


# ----------------------------------------------------------------------------- rows

DEFAULT_PROTOCOL = ("NB201 cells scored at C=8, N=1 on the first 32 shipped Fashion-MNIST images at 16x16, "
                    "500 cells (the embedded benchmark's), seeds 0-1; NATS-Bench 200-epoch test accuracy")
DEFAULT_DIFFS = ("reduced scoring network (paper: full C=16, N=5); Fashion-MNIST inputs (paper: the dataset's "
                 "own); test accuracy (paper: validation); 500 cells x 2 seeds (paper: 1000 x 5 groups)")
REG_PROTOCOL = DEFAULT_PROTOCOL + "; reg-SWAP Θ = the C=16, N=5 network's parameters (M)"


def swap_rows(table) -> list[Row]:
    rows = []
    p = "SWAP (Peng et al., ICLR 2024)"
    r = _auto(table, "nb201_cifar100") if "nb201_cifar100" in table else None
    rows.append(_row(p, "Abstract", "reg-SWAP vs NB201 CIFAR-100 accuracy (µ = σ = largest Θ)", "0.90",
                     r, "bootstrap", REG_PROTOCOL, DEFAULT_DIFFS, "needs results/default_reg_swap/scores.csv"))
    got = from_top_cells(TOP_CELLS, "cifar100_test_accuracy")
    tprot = ("every NB201 cell, SWAP of the full-size network (C=16, N=5) on the first 16 shipped Fashion-MNIST "
             "images at 32x32, one seed (the search's protocol); Θ = that network's parameters (M), µ = σ = the "
             f"largest Θ of 1000 random cells (1.289 M); NATS-Bench 200-epoch test accuracy ({_rel(TOP_CELLS)})")
    tdiff = ("Fashion-MNIST inputs (paper: the dataset's own); test accuracy (paper: validation); one seed on all "
             "cells (paper: 1000 cells x 5 groups)")
    twhy = f"needs {_rel(TOP_CELLS)} (python -m experiments.benchmarks.search_top_cells results/search_nb201_real)"
    rows.append(_row(p, "Abstract", "reg-SWAP vs NB201 CIFAR-100 accuracy, all 15,625 cells", "0.90",
                     got and got[1], "bootstrap", tprot, tdiff, twhy))
    rows.append(_row(p, "Abstract", "SWAP (no regularisation) vs NB201 CIFAR-100 accuracy, all 15,625 cells", "–",
                     got and got[0], "bootstrap", tprot, tdiff, twhy))
    nwot = from_summary(RESULTS / "default" / "summary.csv", "nb201_cifar100", "nwot")
    rows.append(_row(p, "Abstract", "NWOT vs NB201 CIFAR-100 accuracy (the paper's second best)", "0.80",
                     nwot and nwot[:3], "bootstrap", DEFAULT_PROTOCOL + " (results/default)", DEFAULT_DIFFS,
                     "needs results/default/summary.csv"))
    d = RESULTS / "swap_darts1000" / "correlations.csv"
    dprot = ("the SWAP authors' 1000 DARTS networks, their 1-cell C=3 scorer, 32 repeats, the first 16 shipped "
             "Fashion-MNIST images at 32x32, seeds 0-2 (results/swap_darts1000)")
    ddiff = "Fashion-MNIST inputs (paper: 16 CIFAR-10 images)"
    rows.append(_row(p, "Table 3 / Sec. 5 (DARTS-1000)", "SWAP, 32x32", "0.90", _c(from_correlations(d, "swap")),
                     "Fisher z", dprot, ddiff, "needs results/swap_darts1000"))
    rows.append(_row(p, "Table 3 / Sec. 5 (DARTS-1000)", "reg-SWAP, 32x32", "0.93",
                     _c(from_correlations(d, "reg_swap")), "Fisher z", dprot + "; µ = σ = 1.744 K",
                     ddiff + "; " + OLD_RULE + " (for the DARTS scorer Θ is the scorer's own size both ways)",
                     "needs results/swap_darts1000"))
    inp = RESULTS / "swap_darts1000_input_size" / "correlations.csv"
    iprot = ("the 1000 DARTS networks, SWAP's scorer, 8 repeats, 16 Fashion-MNIST images resized to the "
             "input size, one seed (results/swap_darts1000_input_size)")
    paper3 = {"sap": ("|A| (standard pattern)", ("0.86", "0.45", "0.34")),
              "swap": ("SWAP", ("0.86", "0.84", "0.90")), "reg_swap": ("reg-SWAP", ("0.89", "0.92", "0.93"))}
    for proxy, (name, vals) in paper3.items():
        for size, pub in zip((3, 15, 32), vals):
            diff = "8 repeats (paper: 32); Fashion-MNIST (paper: CIFAR-10)"
            if proxy == "reg_swap":
                diff += "; " + OLD_RULE
            got = from_correlations(inp, proxy, f"size={size}")
            why = "needs results/swap_darts1000_input_size"
            if got is None and inp.is_file():
                why = ("|A| is the same for every network at this size (all 16 samples have distinct patterns), "
                       "so ρ is undefined; the paper's |A| is constant too (31.0 ± 0.0 and 32.0 ± 0.0) yet it "
                       "prints a ρ")
            rows.append(_row(p, "Table 3", f"{name}, {size}x{size} inputs", pub, _c(got), "Fisher z", iprot, diff, why))
    # Table 5: the µ, σ grid on NB201, from the stored per-architecture scores
    t5 = [("no regularisation", None, None, "0.81 0.79 0.75 0.77 0.75"),
          ("µ = σ = 0.1", 0.1, 0.1, "0.05 0.04 0.03 0.03 0.03"),
          ("µ = σ = 0.7", 0.7, 0.7, "0.83 0.82 0.82 0.84 0.81"),
          ("µ = σ = 1.5", 1.5, 1.5, "0.89 0.87 0.87 0.89 0.87"),
          ("µ = 1.5, σ = 0.4", 1.5, 0.4, "0.83 0.78 0.83 0.79 0.79"),
          ("µ = 1.5, σ = 0.1", 1.5, 0.1, "0.54 0.54 0.53 0.54 0.51"),
          ("µ = 0.6, σ = 0.7", 0.6, 0.7, "0.82 0.82 0.82 0.83 0.81"),
          ("µ = 0.3, σ = 0.7", 0.3, 0.7, "0.51 0.49 0.51 0.54 0.50"),
          ("µ = 0.1, σ = 0.7", 0.1, 0.7, "0.23 0.21 0.23 0.24 0.21")]
    for name, mu, sigma, pub in t5:
        r = reg_swap_rho(table, "nb201_cifar10", mu, sigma) if table else None
        rows.append(_row(p, "Table 5 (NB201)", f"reg-SWAP {name} (Θ in M)", pub, r, "bootstrap",
                         REG_PROTOCOL + "; CIFAR-10 column",
                         DEFAULT_DIFFS + "; the paper's dataset for Table 5 is not stated (CIFAR-10 assumed)",
                         "needs results/default_reg_swap/scores.csv"))
    if "nb201_cifar10" in table:
        rows.append(_row(p, "Table 5 (NB201)", "reg-SWAP, µ = σ = the largest Θ (zcbench's auto; not a paper row)",
                         "–", _auto(table, "nb201_cifar10"), "bootstrap", REG_PROTOCOL + "; CIFAR-10 column",
                         DEFAULT_DIFFS, ""))
    nbsz = reg_swap_table(FIG4_NBSZ_SCORES)
    t4 = [("no regularisation", None, None, "0.46 0.49 0.45 0.45 0.44"),
          ("µ = σ = 0.3", 0.3, 0.3, "-0.77 -0.78 -0.77 -0.75 -0.75"), ("µ = σ = 5", 5, 5, "0.03 0.08 0.07 0.05 0.04"),
          ("µ = σ = 10", 10, 10, "0.61 0.63 0.64 0.60 0.64"), ("µ = σ = 15", 15, 15, "0.74 0.75 0.73 0.73 0.73"),
          ("µ = σ = 20", 20, 20, "0.72 0.75 0.75 0.74 0.73"), ("µ = σ = 25", 25, 25, "0.76 0.76 0.76 0.75 0.74"),
          ("µ = σ = 30", 30, 30, "0.76 0.77 0.76 0.74 0.74"), ("µ = σ = 35", 35, 35, "0.76 0.76 0.76 0.75 0.74"),
          ("µ = σ = 40", 40, 40, "0.76 0.76 0.77 0.75 0.74"), ("µ = 40, σ = 30", 40, 30, "0.76 0.76 0.76 0.74 0.75"),
          ("µ = 40, σ = 20", 40, 20, "0.76 0.76 0.76 0.74 0.74"), ("µ = 40, σ = 10", 40, 10, "0.75 0.74 0.73 0.73 0.73"),
          ("µ = 40, σ = 0.3", 40, 0.3, "0.04 0.04 0.03 0.03 0.03"), ("µ = 20, σ = 30", 20, 30, "0.75 0.76 0.74 0.73 0.74"),
          ("µ = 10, σ = 30", 10, 30, "0.64 0.64 0.63 0.63 0.66"), ("µ = 5, σ = 30", 5, 30, "0.04 0.08 0.06 0.04 0.06"),
          ("µ = 0.3, σ = 30", 0.3, 30, "-0.77 -0.78 -0.77 -0.74 -0.75")]
    t6 = [("no regularisation", None, None, "0.57 0.58 0.57 0.57 0.54"),
          ("µ = σ = 1.0", 1.0, 1.0, "0.57 0.58 0.57 0.57 0.55"), ("µ = σ = 1.5", 1.5, 1.5, "0.63 0.61 0.61 0.61 0.60"),
          ("µ = σ = 1.8", 1.8, 1.8, "0.63 0.63 0.63 0.63 0.62"), ("µ = 1.8, σ = 1.5", 1.8, 1.5, "0.63 0.63 0.62 0.63 0.62"),
          ("µ = 1.8, σ = 1.3", 1.8, 1.3, "0.62 0.62 0.61 0.61 0.62"),
          ("µ = 1.8, σ = 1.0", 1.8, 1.0, "0.62 0.60 0.60 0.61 0.60"),
          ("µ = 1.3, σ = 1.5", 1.3, 1.5, "0.62 0.62 0.60 0.60 0.60"),
          ("µ = 1.2, σ = 1.5", 1.2, 1.5, "0.61 0.61 0.61 0.59 0.60"),
          ("µ = 1.0, σ = 1.5", 1.0, 1.5, "0.60 0.59 0.59 0.59 0.59")]
    for where, col, grid, n_file in (("Table 4 (NB101)", "nb101_cifar10", t4, 500),
                                     ("Table 6 (NB301)", "nb301_cifar10", t6, 725)):
        n = len(nbsz[col][0][1]) if col in nbsz else "some"
        prot = (f"{n} of NAS-Bench-Suite-Zero's {n_file} {where[-6:-1]} networks (a seeded subset of its file), "
                "SWAP of the space's full-size network on the first 32 shipped Fashion-MNIST images at 32x32, seed "
                "9000; Θ = that network's parameters (M); the file's val_accuracy "
                f"({_rel(FIG4_NBSZ)})")
        diff = (f"{n} networks x 1 seed (paper: 5 groups of 1000); Fashion-MNIST inputs (paper: CIFAR-10); "
                "NB-Suite-Zero's val_accuracy as the ground truth")
        for name, mu, sigma, pub in grid:
            got = reg_swap_rho(nbsz, col, mu, sigma)
            if got is not None and not np.isfinite(got[0]):  # every value the same: ρ undefined
                rows.append(Row(p, where, f"reg-SWAP {name} (Θ in M)", pub, protocol=prot, differences=diff,
                                why="exp(-(Θ-µ)²/σ) underflows to 0 in float64 for every network of this subset "
                                    "(all are far below µ for this σ), so every score is 0 and ρ is undefined"))
                continue
            rows.append(_row(p, where, f"reg-SWAP {name} (Θ in M)" if mu else "SWAP, no regularisation", pub,
                             got, "bootstrap", prot, diff,
                             f"needs {_rel(FIG4_NBSZ_SCORES)} (experiments/configs/swap_fig4_nbsz_cpu.yaml, "
                             "then --export-fig4-nbsz)"))
        if col in nbsz:
            rows.append(_row(p, where, "reg-SWAP, µ = σ = the largest Θ (zcbench's auto; not a paper row)", "–",
                             _auto(nbsz, col), "bootstrap", prot, diff, ""))
    fig = RESULTS / "swap_fig4_cpu" / "summary.csv"
    fprot = ("full-size NB201 (C=16, N=5), 150 of the embedded benchmark's cells, 32 Fashion-MNIST images at "
             "16x16, one seed (results/swap_fig4_cpu)")
    for col, name in (("nb201_cifar10", "NB201 CIFAR-10"), ("nb201_cifar100", "NB201 CIFAR-100"),
                      ("nb201_imagenet16", "NB201 ImageNet16-120")):
        for proxy in ("swap", "reg_swap"):
            got = from_summary(fig, col, proxy)
            diff = "150 cells x 1 seed (paper: 1000 x 5); Fashion-MNIST inputs; test accuracy"
            if proxy == "reg_swap":
                diff += "; " + OLD_RULE
            rows.append(_row(p, "Fig. 4", f"{proxy} on {name}", "not printed (heatmap)", got and got[:3], "bootstrap",
                             fprot, diff, "needs results/swap_fig4_cpu"))
    summ = FIG4_NBSZ / "summary.csv"
    cols = [r["column"] for r in read_csv_rows(summ) if r["proxy"] == "swap"] if summ.is_file() else []
    if not cols:
        rows.append(Row(p, "Fig. 4", "NB101, NB301, TNB101 micro/macro columns", "not printed (heatmap)",
                        why=f"needs {_rel(summ)} (experiments/configs/swap_fig4_nbsz_cpu.yaml)"))
    for col in dict.fromkeys(cols):
        n = from_summary(summ, col, "swap")[3]
        tnb = col.startswith("tnb101")
        nprot = (f"{n} of NAS-Bench-Suite-Zero's networks for this column (a seeded subset of its file), SWAP on "
                 f"the first 32 shipped Fashion-MNIST images at {'256x256 (upsampled)' if tnb else '32x32'}, seed "
                 f"9000; the file's val_accuracy; reg-SWAP µ = σ = the column's largest Θ ({_rel(FIG4_NBSZ)})")
        ndiff = (f"{n} networks x 1 seed (paper: 1000 x 5); Fashion-MNIST inputs (paper: "
                 + ("Taskonomy RGB images)" if tnb else "CIFAR-10)"))
        for proxy in ("swap", "reg_swap"):
            got = from_summary(summ, col, proxy)
            rows.append(_row(p, "Fig. 4", f"{proxy} on {col}", "not printed (heatmap)", got and got[:3], "bootstrap",
                             nprot, ndiff, f"needs {_rel(summ)}"))
    rows.append(Row(p, "Tables 1-2 (SWAP-NAS)", "test error of the searched DARTS cells",
                    "CIFAR-10 2.65 / 2.54 / 2.48 %; ImageNet top-1 24.0 %",
                    why="needs the found networks trained for hundreds of GPU-epochs; zcbench searches and looks "
                        "found cells up in a benchmark instead (results/search_nb201_real)"))
    return rows


def other_rows() -> list[Row]:
    rows = []
    bert = RESULTS / "nasbench_bert" / "correlations.csv"
    rows.append(_row("Universal SWAP (Peng et al., TPAMI 2026)", "text", "SWAP vs GLUE on NAS-Bench-BERT", "0.71",
                     _c(from_correlations(bert, "swap")), "Fisher z",
                     "491 NAS-Bench-BERT encoders with their own sizes, 16 sequences of 64 Zipf-drawn tokens, "
                     "seeds 0-2 (results/nasbench_bert)",
                     "16 x 64 synthetic tokens (paper: 128 OpenWebText documents of up to 512 tokens); "
                     "results/nasbench_bert/table.md: 0.70 with 32 x 128 tokens on 60 encoders",
                     "needs results/nasbench_bert"))
    d = RESULTS / "swap_darts1000" / "correlations.csv"
    rows.append(_row("Universal SWAP (Peng et al., TPAMI 2026)", "text", "SWAP on the DARTS CNNs (CIFAR-10)", "0.93",
                     _c(from_correlations(d, "swap")), "Fisher z",
                     "the SWAP authors' 1000 DARTS networks, 32 repeats, 16 Fashion-MNIST images (results/swap_darts1000)",
                     "Fashion-MNIST inputs (paper: CIFAR-10); the ICLR SWAP code (paper: the universal code)",
                     "needs results/swap_darts1000"))
    summ = RESULTS / "default" / "summary.csv"
    lp = "L-SWAG and LIBRA (Casarin et al., CVPR 2025)"
    cols = (("nb201_cifar10", "NB201 C10"), ("nb201_cifar100", "NB201 C100"), ("nb201_imagenet16", "NB201 IN16-120"))
    for proxy, name, vals in (("tenas", "TE-NAS", ("0.70", "0.67", "0.64")),
                              ("az_nas", "AZ-NAS", ("0.91", "0.90", "0.89")),
                              ("libra", "LIBRA", ("0.89", "0.90", "0.87")),
                              ("lswag", "L-SWAG, layer percentile 1 (supplementary)", ("0.720", "0.752", "0.760"))):
        for (col, cname), pub in zip(cols, vals):
            got = from_summary(summ, col, proxy)
            rows.append(_row(lp, "Table 1" if proxy != "lswag" else "Supplementary", f"{name} on {cname}", pub,
                             got and got[:3], "bootstrap", DEFAULT_PROTOCOL + " (results/default)",
                             DEFAULT_DIFFS + ("; LIBRA calibrates on 100 of the 500 cells" if proxy == "libra" else "")
                             + ("; AZ-NAS's components on the shipped images (its own protocol: Gaussian noise, "
                                "see the AZ-NAS row)" if proxy == "az_nas" else ""),
                             "needs results/default/summary.csv"))
    rows.append(Row(lp, "Table 1", "T-CET rows; NB101, NB301, TNB101 columns", "see the paper",
                    why="T-CET is not implemented; on the NB101, NB301 and TNB101 columns zcbench computes SWAP and "
                        "reg-SWAP only (experiments/configs/swap_fig4_nbsz_cpu.yaml), not TE-NAS's, AZ-NAS's or "
                        "LIBRA's inputs"))
    az = RESULTS / "aznas_nb201" / "summary.csv"
    rows.append(_row("AZ-NAS (Lee & Ham, CVPR 2024)", "NB201 notebook", "AZ-NAS vs CIFAR-10 (paper: all 15,625 cells)",
                     "Spearman 0.913, Kendall 0.741", (from_summary(az, "aznas_nb201", "az_nas") or (None,))[:3]
                     if az.is_file() else None, "bootstrap",
                     "AZ-NAS's protocol (experiments/configs/aznas_nb201.yaml): full-size NB201 C=16, N=5, Kaiming "
                     "fan-in init, Gaussian input batch 64 at 32x32, train mode; 500 seeded cells, seed 0; "
                     "NATS-Bench CIFAR-10 200-epoch test accuracy (results/aznas_nb201)",
                     "500 cells (paper: all 15,625); noise and weights drawn per network from zcbench's seed "
                     "(paper: one global stream); FLOPs counted by zcbench as NATS-Bench's API counts them",
                     "needs results/aznas_nb201/summary.csv"))
    got = from_summary(summ, "nb201_cifar10", "meco")
    rows.append(_row("MeCo (Jiang et al., NeurIPS 2023)", "NB201", "MeCo vs CIFAR-10", "about 0.89",
                     got and got[:3], "bootstrap", DEFAULT_PROTOCOL + " (results/default)",
                     DEFAULT_DIFFS + "; MeCo's official input, one 64x64 Gaussian sample per network (paper's "
                     "NB201 script: one CIFAR-10 image); `meco_opt` (one real image, 8-channel subsets) is "
                     "in the same table",
                     "needs results/default/summary.csv"))
    return rows


def nbsz_section(folder: Path | None) -> tuple[list[str], list[Row]]:
    """NAS-Bench-Suite-Zero's own per-proxy Spearman from its files: a matrix (proxies x columns)."""
    lines = ["## NAS-Bench-Suite-Zero's own scores (its files)", ""]
    if folder is None or not all((folder / f).is_file() for f in NBSZ_FILES):
        have = [] if folder is None else [f for f in NBSZ_FILES if (folder / f).is_file()]
        lines.append(f"Not computed: the folder {folder} lacks "
                     f"{sorted(set(NBSZ_FILES) - set(have))}; run `zcbench download nbsuite-zero` "
                     "(or pass --nbsuite-zero DIR).")
        return lines, []
    cols, rhos = [], {}
    for file, (space, datasets) in NBSZ_FILES.items():
        for ds in datasets:
            col = f"{space}/{ds}"
            cols.append(col)
            for proxy, v in nbsz_proxy_rhos(folder, file, ds, zcbench_params=True).items():
                rhos.setdefault(proxy, {})[col] = v
    lines += ["Spearman of each proxy's score with the file's `val_accuracy`, computed here from the files "
              "(the pre-release subsets committed in NASLib's git history; bootstrap 95 % CI over the "
              "architectures). These are NAS-Bench-Suite-Zero's own numbers (CIFAR and Taskonomy inputs, "
              "its networks). Beside them, zcbench's own count of the same networks' parameters (NB101, NB201, "
              "NB301: the space's full-size network, every parameter; row `params (zcbench's count)`); zcbench's "
              "SWAP and reg-SWAP on a seeded subset of these networks are the Fig. 4 rows above "
              "(`experiments/configs/swap_fig4_nbsz_cpu.yaml`, results/swap_fig4_nbsz).",
              "", "| proxy | " + " | ".join(f"{c} (n)" for c in cols) + " |",
              "|---|" + "---:|" * len(cols)]
    for proxy in sorted(rhos):
        cells = []
        for c in cols:
            v = rhos[proxy].get(c)
            cells.append("–" if v is None else f"{v[0]:.2f} [{v[1]:.2f}, {v[2]:.2f}] ({v[3]})")
        lines.append(f"| {proxy} | " + " | ".join(cells) + " |")
    return lines, []


# ----------------------------------------------------------------------------- helpers

def _rel(path: Path):
    """``path`` relative to the repository, for the table (as given when it lies elsewhere)."""
    try:
        return path.relative_to(ROOT)
    except ValueError:
        return path


def _c(got):
    return None if got is None else got[:3]


def _auto(table, column):
    """reg-SWAP with µ = σ = the largest Θ of each seed's population (the default rule)."""
    from zc_proxies.swap import reg_swap_combine

    per_seed = []
    for _, s, theta, t in table[column]:
        per_seed.append(spearman_ci(reg_swap_combine(s, theta, theta_unit="M")[0], t))
    return mean_over_seeds(per_seed)


def _row(paper, where, what, published, got, ci, protocol, differences, why_missing) -> Row:
    if got is None:
        return Row(paper, where, what, published, protocol=protocol, differences=differences, why=why_missing)
    rho, lo, hi = got
    return Row(paper, where, what, published, rho, lo, hi, ci, protocol, differences)


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render(rows: list[Row], extra: list[str]) -> str:
    out = ["# Published numbers and zcbench's", "",
           "Generated by `python -m experiments.benchmarks.paper_numbers` from what `results/` holds (and "
           "NAS-Bench-Suite-Zero's files). Spearman ρ unless said. zcbench's CI: `bootstrap` = 95 % bootstrap "
           "over architectures (the reports' own, mean over seeds); `Fisher z` = Fisher's z interval with "
           "variance 1.06/(n-3), for older results that stored no CI. A paper's five groups are printed as it "
           "prints them. reg-SWAP rows say which µ/σ rule they use.", "",
           "| paper | table / figure | quantity | published | zcbench [95 % CI] | zcbench protocol | "
           "differences from the paper's protocol |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        z = r.zcbench() if r.value is not None else f"not run here: {r.why}"
        out.append("| " + " | ".join(_cell(x) for x in (r.paper, r.where, r.what, r.published, z, r.protocol,
                                                          r.differences)) + " |")
    return "\n".join(out + [""] + extra) + "\n"


def export_scores(run_dir: Path, out: Path = REG_SWAP_SCORES) -> Path:
    """results/default_reg_swap/scores.csv from that run's store: per column, seed and cell, SWAP,
    the scorer's params, the benchmark network's Θ (M) and the ground truth."""
    from experiments.report import load_report
    from experiments.inputs import benchmark_params, theta_network

    report = load_report(run_dir)
    frame = report.scores
    lines = [["column", "seed", "arch", "swap", "params_scorer", "theta_benchmark_M", "truth"]]
    for col in report.columns:
        st = col.study
        space, task, _ = theta_network(st.space, st.space_options, st.task, st.ground_truth["network"])
        cf = frame[frame["column"] == col.label]
        for seed, g in cf.groupby("seed", sort=True):
            sw = g[g["proxy"] == "swap"].set_index("arch")
            pa = g[g["proxy"] == "params"].set_index("arch")
            archs = [a for a in sw.index if np.isfinite(sw.at[a, "value"]) and np.isfinite(sw.at[a, "truth"])]
            theta = benchmark_params(space, task, [space.parse(a) for a in archs])
            for a in archs:
                lines.append([col.label, int(seed), a, repr(float(sw.at[a, "value"])), repr(float(pa.at[a, "value"])),
                              repr(theta[a]), repr(float(sw.at[a, "truth"]))])
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        csv.writer(f).writerows(lines)
    return out


def main(argv: list[str] | None = None) -> int:
    from search_spaces.data import cache_dir

    ap = argparse.ArgumentParser(prog="python -m experiments.benchmarks.paper_numbers", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(RESULTS / "paper_numbers.md"))
    ap.add_argument("--nbsuite-zero", default=None, metavar="DIR",
                    help="folder of NAS-Bench-Suite-Zero's zc_<space>.json files (default: the download cache)")
    ap.add_argument("--export-scores", default=None, metavar="RUN_DIR",
                    help="first write results/default_reg_swap/scores.csv from this run's store")
    ap.add_argument("--export-fig4-nbsz", default=None, metavar="RUN_DIR",
                    help="first write results/swap_fig4_nbsz/scores.csv from the store of "
                         "experiments/configs/swap_fig4_nbsz_cpu.yaml's run")
    args = ap.parse_args(argv)
    if args.export_scores:
        print(f"wrote {export_scores(Path(args.export_scores))}")
    if args.export_fig4_nbsz:
        print(f"wrote {export_scores(Path(args.export_fig4_nbsz), FIG4_NBSZ_SCORES)}")
    table = reg_swap_table()
    rows = swap_rows(table) + other_rows()
    folder = Path(args.nbsuite_zero).expanduser() if args.nbsuite_zero else cache_dir()
    extra, _ = nbsz_section(folder)
    Path(args.out).write_text(render(rows, extra))
    print(f"wrote {args.out}: {sum(r.value is not None for r in rows)} of {len(rows)} rows with a zcbench value",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
