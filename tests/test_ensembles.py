"""Rank ensembles (mean rank, AZ-NAS) and LIBRA: hand-computed values, the calibration split,
and their place in a study."""
import csv

import numpy as np
import pytest
import yaml

from experiments.cli import main
from experiments.config import ConfigError, ProxySpec
from experiments.plan import plan_proxies
from experiments.report import load_report
from experiments.store import Store
from search_spaces.base import get_space
import zc_proxies
from zc_proxies.population import Population
from zc_proxies.ensembles import (log_rank_mean_combine, calibration_split, discretise, entropy, information_gain,
                                  libra_combine, libra_select, merge_scores, rank_mean_combine)


def test_information_gain_matches_a_hand_computed_value():
    y = np.array([0, 0, 1, 1.0])
    z1 = np.array([0, 1, 0, 1.0])
    xor = np.array([0, 1, 1, 0.0])  # with z1, determines y: H(y|z1) = 1 bit, H(y|z1,xor) = 0
    assert list(discretise(y)) == [0, 0, 2, 2]  # Sturges: ceil(log2 4) + 1 = 3 equal-width bins
    assert entropy(discretise(y), discretise(z1)) == pytest.approx(2.0)
    assert information_gain(y, z1, xor) == pytest.approx(1.0)
    assert information_gain(y, z1, z1) == pytest.approx(0.0)  # a copy of z1 adds nothing
    # 8 samples, 4 Sturges bins: y in {0,1}, z1 uninformative, zh = y on 6 of 8
    y8 = np.array([0, 0, 0, 0, 1, 1, 1, 1.0])
    z1_8 = np.array([0, 1, 0, 1, 0, 1, 0, 1.0])
    zh8 = np.array([0, 0, 0, 1, 1, 1, 1, 0.0])
    # H(y|z1) = 1; H(y|z1,zh): cells (z1,zh) = (0,0):{0,0} (1,0):{0,1} (0,1):{1,1} (1,1):{0,1} -> 0.5 bit
    assert information_gain(y8, z1_8, zh8) == pytest.approx(0.5)


def test_libra_picks_best_then_min_information_gain_then_bias_match():
    rng = np.random.default_rng(0)
    n = 200
    params = rng.normal(size=n)
    y = params + rng.normal(size=n)  # accuracy biased towards size
    cal = {
        "best": y + 0.3 * rng.normal(size=n),
        "near_copy": None,  # z1 plus a little noise: close ρ, little information gain
        "other": y + 0.45 * rng.normal(size=n),
        "sizeish": 0.5 * y + 0.5 * params + 0.35 * rng.normal(size=n),
        "bad": rng.normal(size=n),
    }
    cal["near_copy"] = cal["best"] + 0.05 * rng.normal(size=n)
    got = libra_select(cal, y, params, sorted(cal), window=0.1)
    assert got["triad"][0] == "best"
    assert "bad" not in got["window"]
    assert got["triad"][1] == min(got["window"], key=lambda c: got["information_gain"][c])
    assert got["triad"][1] == "near_copy"
    rest = [c for c in got["window"] if c != got["triad"][1]]
    assert got["triad"][2] == min(rest, key=lambda c: abs(got["bias_val"] - got["bias"][c]))


def test_libra_calibration_and_evaluation_are_disjoint():
    rng = np.random.default_rng(1)
    n = 60
    truth = rng.normal(size=n)
    matrix = {"a": truth + rng.normal(size=n), "b": truth + 2 * rng.normal(size=n), "params": rng.normal(size=n)}
    values, used = libra_combine(matrix, truth=truth, calibration=20, calibration_seed=3, seed=0)
    mask = calibration_split(n, 20, 3 * 1_000_003 + 0)
    assert mask.sum() == 20 and used["evaluation"] == 40
    # the registered proxy: the same values, and the calibration split left out through ``keep``
    libra = zc_proxies.get_proxy("libra")
    got = libra.combine(Population([str(i) for i in range(n)], matrix, truth, seed=0), calibration=20,
                        calibration_seed=3)
    assert np.array_equal(got.keep, ~mask) and "_keep" not in got.used and got.used == used
    assert np.array_equal(got.values, values, equal_nan=True)
    assert np.all(np.isnan(values[mask])) and np.all(np.isfinite(values[~mask]))
    # scrambling the evaluation architectures' scores and truth cannot change the choice
    scrambled = {k: v.copy() for k, v in matrix.items()}
    t2 = truth.copy()
    for v in list(scrambled.values()) + [t2]:
        v[~mask] = rng.permutation(v[~mask])
    _, used2 = libra_combine(scrambled, truth=t2, calibration=20, calibration_seed=3, seed=0)
    assert used2["triad"] == used["triad"] and used2["rho"] == used["rho"]
    with pytest.raises(ValueError, match="at least 3 calibration and 3 evaluation"):
        libra_combine(matrix, truth=truth, calibration=59)


def test_rank_ensembles_by_hand():
    m = {"a": np.array([1.0, 2, 3, 4]), "b": np.array([4.0, 3, 2, 1]), "c": np.array([10.0, 30, 20, 20])}
    v, used = rank_mean_combine(m, proxies=["a", "c"])
    assert list(v) == [1.0, 3.0, 2.75, 3.25]  # ranks a: 1 2 3 4, c: 1 4 2.5 2.5
    v, _ = log_rank_mean_combine(m, proxies=["a", "b"])
    expect = np.log(np.array([1, 2, 3, 4]) / 4) + np.log(np.array([4, 3, 2, 1]) / 4)
    assert np.allclose(v, expect)
    assert np.allclose(merge_scores([m["a"]], "zscore"), (m["a"] - 2.5) / m["a"].std())
    with pytest.raises(ValueError, match="no stored scores"):
        rank_mean_combine(m, proxies=["zz"])


def test_plan_adds_bases_and_rejects_bad_lists():
    plan = plan_proxies([ProxySpec("rank_mean", "rank_mean", {"proxies": ["swap", "ntk"]})])
    assert [s.label for s in plan.scored] == ["swap", "ntk"]
    assert [(b.role, b.label, lab) for b, lab in plan.derived[0][1]] == [("swap", "swap", "swap"), ("ntk", "ntk", "ntk")]
    plan = plan_proxies([ProxySpec("params", "params", {}), ProxySpec("libra", "libra", {"proxies": "all"})])
    assert [lab for _, lab in plan.derived[0][1]] == ["params"]
    with pytest.raises(ConfigError, match="must be a list"):
        plan_proxies([ProxySpec("log_rank_mean", "log_rank_mean", {"proxies": "swap"})])
    with pytest.raises(ConfigError, match="cannot be a base"):
        plan_proxies([ProxySpec("rank_mean", "rank_mean", {"proxies": ["reg_swap"]})])


def test_a_study_stores_ensembles_and_libra_only_on_evaluation_architectures(tmp_path, capsys):
    space = get_space("nb201", C=4, N=1)
    archs = space.sample(24, 5)
    rng = np.random.default_rng(0)
    gt = tmp_path / "gt.csv"
    with open(gt, "w", newline="") as f:
        csv.writer(f).writerows([[str(a), f"{70 + rng.normal() + 3 * str(a).count('conv'):.3f}"] for a in archs])
    raw = {"name": "ens", "space": "nb201", "space_options": {"C": 4, "N": 1}, "task": "cifar10",
           "data": {"source": "noise", "batch_size": 8, "size": 8}, "ground_truth": {"path": str(gt)},
           "archs": {"from": "ground_truth", "n": None}, "seeds": [0, 1],
           "proxies": ["params", "synflow", "nwot", {"ntk": {"batch": 4}},
                       {"rank_mean": {"proxies": ["synflow", "params"]}},
                       {"log_rank_mean": {"proxies": ["synflow", "ntk"]}},
                       {"libra": {"calibration": 10}}]}
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    report = load_report(tmp_path / "o")
    frame = report.scores
    for seed in (0, 1):
        rows = frame[(frame["seed"] == seed) & (frame["status"] == "ok")]
        lib = set(rows.loc[rows["proxy"] == "libra", "arch"])
        assert len(lib) == 14 and set(rows.loc[rows["proxy"] == "rank_mean", "arch"]) == {str(a) for a in archs}
        used = report.derived[("ens", "libra", seed)]
        assert used["calibration"] == 10 and used["evaluation"] == 14 and 1 <= len(used["triad"]) <= 3
        assert set(used["triad"]) <= {"params", "synflow", "nwot", "ntk"}
    with Store(tmp_path / "o" / "results.sqlite") as st:  # derived proxies are computed, never stored
        assert {r.proxy for r in st.rows()} == {"params", "synflow", "nwot", 'ntk{"batch":4}'}
    summary = (tmp_path / "o" / "summary.md").read_text()
    assert "libra" in summary and "triad" in summary
