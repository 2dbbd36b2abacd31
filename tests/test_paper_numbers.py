"""results/paper_numbers.md: rows computed from small fixtures (a zc_<space>.json, a scores
table, an older correlations.csv) equal the statistics computed directly."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from experiments.benchmarks import paper_numbers as P
from search_spaces.base import get_space


def test_nbsuite_zero_row_is_the_spearman_of_the_files_own_scores(tmp_path):
    space = get_space("nb201")
    archs = space.sample(30, seed=4)
    rng = np.random.default_rng(0)
    acc = rng.uniform(70, 94, 30)
    synflow = acc + rng.normal(0, 5, 30)
    data = {"cifar10": {space.zc_key(a): {"val_accuracy": float(v), "synflow": {"score": float(s), "time": 0.1},
                                          "idx": i}
                        for i, (a, v, s) in enumerate(zip(archs, acc, synflow))}}
    (tmp_path / "zc_nasbench201.json").write_text(json.dumps(data))
    got = P.nbsz_proxy_rhos(tmp_path, "zc_nasbench201.json", "cifar10")
    assert set(got) == {"synflow"}
    rho, lo, hi, n = got["synflow"]
    assert n == 30 and rho == pytest.approx(spearmanr(synflow, acc)[0], abs=1e-12)
    assert lo < rho < hi
    lines, _ = P.nbsz_section(tmp_path)  # the other four files are missing: says what to do
    assert "zcbench download nbsuite-zero" in lines[-1]


def test_table5_row_from_a_scores_table(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "scores.csv"
    rows = [["column", "seed", "arch", "swap", "params_scorer", "theta_benchmark_M", "truth"]]
    per_seed = {}
    for seed in (0, 1):
        theta = rng.uniform(0.1, 1.5, 40)
        swap = rng.uniform(1e3, 2e3, 40) * (1 + theta)
        truth = 80 + 5 * theta + rng.normal(0, 1, 40)
        per_seed[seed] = (swap, theta, truth)
        rows += [["nb201_cifar10", seed, f"a{i}", repr(float(s)), "0.01", repr(float(t)), repr(float(y))]
                 for i, (s, t, y) in enumerate(zip(swap, theta, truth))]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    table = P.reg_swap_table(path)
    got = P.reg_swap_rho(table, "nb201_cifar10", 0.7, 0.7)
    want = np.mean([spearmanr(s * np.exp(-(t - 0.7) ** 2 / 0.7), y)[0] for s, t, y in per_seed.values()])
    assert got[0] == pytest.approx(want, abs=1e-12) and got[1] < got[0] < got[2]
    plain = P.reg_swap_rho(table, "nb201_cifar10", None, None)
    assert plain[0] == pytest.approx(np.mean([spearmanr(s, y)[0] for s, _, y in per_seed.values()]), abs=1e-12)
    auto = P._auto(table, "nb201_cifar10")  # µ = σ = each seed's largest Θ
    want = np.mean([spearmanr(s * np.exp(-(t - t.max()) ** 2 / t.max()), y)[0] for s, t, y in per_seed.values()])
    assert auto[0] == pytest.approx(want, abs=1e-12)
    rows = P.swap_rows(table)
    abstract = next(r for r in rows if r.where == "Abstract" and r.what.startswith("reg-SWAP"))
    assert abstract.value is None and "scores.csv" in abstract.why  # no CIFAR-100 column in the fixture
    t5 = next(r for r in rows if r.what == "reg-SWAP µ = σ = 0.7 (Θ in M)")
    assert t5.value == pytest.approx(got[0]) and t5.published == "0.83 0.82 0.82 0.84 0.81"
    assert "| 0.83 0.82 0.82 0.84 0.81 |" in P.render([t5], [])


def test_older_correlations_get_a_fisher_interval(tmp_path):
    path = tmp_path / "correlations.csv"
    path.write_text("study,space,task,variant,proxy,seed,n,spearman\n"
                    "s,darts,cifar10,default,swap,0,1000,0.90\ns,darts,cifar10,default,swap,1,1000,0.92\n")
    rho, lo, hi, n = P.from_correlations(path, "swap")
    se = math.sqrt(1.06 / 997)
    assert (rho, n) == (pytest.approx(0.91), 1000)
    assert lo == pytest.approx(math.tanh(math.atanh(0.91) - 1.959964 * se), abs=1e-6)
    assert hi == pytest.approx(math.tanh(math.atanh(0.91) + 1.959964 * se), abs=1e-6)
    assert P.from_correlations(path, "reg_swap") is None


def test_nb101_table4_and_fig4_rows_from_the_nbsz_run(tmp_path, monkeypatch):
    """The NB101 µ/σ rows come from the Fig. 4 NB-Suite-Zero run's exported scores, the Fig. 4
    column rows from its summary.csv."""
    rng = np.random.default_rng(2)
    theta = rng.uniform(0.3, 31, 60)
    swap = rng.uniform(1e3, 2e3, 60) * np.log1p(theta)
    truth = 88 + theta / 10 + rng.normal(0, 1, 60)
    rows = [["column", "seed", "arch", "swap", "params_scorer", "theta_benchmark_M", "truth"]]
    rows += [["nb101_cifar10", 9000, f"a{i}", repr(float(s)), repr(float(t)), repr(float(t)), repr(float(y))]
             for i, (s, t, y) in enumerate(zip(swap, theta, truth))]
    with open(tmp_path / "scores.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    (tmp_path / "summary.csv").write_text(
        "column,proxy,spearman_mean,spearman_lo,spearman_hi,n\n"
        "tnb101_micro_jigsaw,swap,0.25,0.01,0.5,20\ntnb101_micro_jigsaw,reg_swap,0.3,0.05,0.55,20\n")
    monkeypatch.setattr(P, "FIG4_NBSZ", tmp_path)
    monkeypatch.setattr(P, "FIG4_NBSZ_SCORES", tmp_path / "scores.csv")
    got = P.swap_rows({})
    t4 = next(r for r in got if r.where == "Table 4 (NB101)" and r.what == "reg-SWAP µ = σ = 40 (Θ in M)")
    want = spearmanr(swap * np.exp(-(theta - 40) ** 2 / 40), truth)[0]
    assert t4.value == pytest.approx(want, abs=1e-12) and t4.published == "0.76 0.76 0.77 0.75 0.74"
    assert t4.protocol.startswith("60 of NAS-Bench-Suite-Zero's 500 NB101 networks")
    t6 = next(r for r in got if r.where == "Table 6 (NB301)" and r.what == "SWAP, no regularisation")
    assert t6.value is None and "--export-fig4-nbsz" in t6.why  # no NB301 column in the fixture
    fig = {r.what: r for r in got if r.where == "Fig. 4" and "tnb101" in r.what}
    assert fig["reg_swap on tnb101_micro_jigsaw"].value == pytest.approx(0.3)
    assert "Taskonomy" in fig["swap on tnb101_micro_jigsaw"].differences


def test_abstract_row_from_the_whole_space_table(tmp_path, monkeypatch):
    """The reg-SWAP/SWAP rows over all NB201 cells are read from search_top_cells' markdown."""
    md = tmp_path / "top_cells.md"
    md.write_text("| metric | Spearman SWAP [95 % CI] | Spearman reg-SWAP [95 % CI] |\n|---|---:|---:|\n"
                  "| cifar10_test_accuracy | 0.801 [0.795, 0.809] | 0.864 [0.859, 0.869] |\n"
                  "| cifar100_test_accuracy | 0.805 [0.797, 0.812] | 0.857 [0.852, 0.862] |\n")
    assert P.from_top_cells(md, "cifar100_test_accuracy") == ((0.805, 0.797, 0.812), (0.857, 0.852, 0.862))
    assert P.from_top_cells(md, "ImageNet16-120_test_accuracy") is None
    monkeypatch.setattr(P, "TOP_CELLS", md)
    row = next(r for r in P.swap_rows({}) if r.what == "reg-SWAP vs NB201 CIFAR-100 accuracy, all 15,625 cells")
    assert (row.value, row.lo, row.hi, row.published) == (0.857, 0.852, 0.862, "0.90")
    monkeypatch.setattr(P, "TOP_CELLS", tmp_path / "missing.md")
    row = next(r for r in P.swap_rows({}) if r.what == "reg-SWAP vs NB201 CIFAR-100 accuracy, all 15,625 cells")
    assert row.value is None and "search_top_cells" in row.why
