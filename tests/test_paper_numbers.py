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
