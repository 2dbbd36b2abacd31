"""Suites (several studies, one store, one combined report), the statistics of the reports, and
the report's handling of studies that would otherwise fail late or mislead."""
import csv
import sqlite3

import numpy as np
import pytest
import yaml

from experiments import stats
from experiments.cli import main
from experiments.config import ConfigError, load_suite
from experiments.report import correlations_frame, scores_frame
from search_spaces.base import get_space

NB201 = {"space": "nb201", "space_options": {"C": 4, "N": 1}, "task": "cifar10",
         "data": {"source": "noise", "batch_size": 8, "size": 8}}


def gt_csv(path, archs, seed=0):
    """Two metrics loosely tied to the number of convolutions, with different noise."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "acc_a", "acc_b"])
        for a in archs:
            conv = str(a).count("conv")
            w.writerow([str(a), f"{70 + 3 * conv + rng.normal():.3f}", f"{50 + 2 * conv + rng.normal(0, 3):.3f}"])
    return path


def suite_file(tmp_path, n=16, seeds=(0, 1), proxies=("params", "synflow", "nwot"), extra=None):
    space = get_space("nb201", C=4, N=1)
    gt = gt_csv(tmp_path / "gt.csv", space.sample(n, 3))
    raw = {"name": "mini", "defaults": {**NB201, "archs": {"from": "ground_truth", "n": None}, "seeds": list(seeds),
                                        "proxies": list(proxies)},
           "studies": [{"name": "a", "ground_truth": {"path": str(gt), "metric": "acc_a"}},
                       {"name": "b", "ground_truth": {"path": str(gt), "metric": "acc_b"}}] + (extra or [])}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def count(out):
    return sqlite3.connect(out / "results.sqlite").execute("SELECT COUNT(*) FROM scores").fetchone()[0]


def test_a_suite_scores_shared_networks_once_and_reports_every_column(tmp_path, capsys):
    cfg, out = suite_file(tmp_path), tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    assert count(out) == 16 * 2 * 3  # the two studies differ only in ground truth: one scoring
    corr = correlations_frame(out)
    assert set(corr["column"]) == {"a", "b"} and len(corr) == 2 * 3 * 2
    a = corr[corr["column"] == "a"].set_index(["proxy", "seed"])["spearman"]
    b = corr[corr["column"] == "b"].set_index(["proxy", "seed"])["spearman"]
    assert (a != b).all()  # the same scores against two metrics
    for name in ("heatmap.png", "scatter_a.png", "scatter_b.png", "summary.md", "summary.tex", "summary.csv"):
        assert (out / name).is_file(), name
    md = (out / "summary.md").read_text()
    assert "## All columns" in md and "## a" in md and "## b" in md and "mean over columns" in md
    assert "\\begin{tabular}" in (out / "summary.tex").read_text()
    scores = scores_frame(out)
    assert set(scores.columns) >= {"column", "seed", "arch", "proxy", "value", "status", "truth"}
    assert len(scores) == 2 * 16 * 2 * 3


def test_suite_overrides_per_study_and_a_subset(tmp_path, capsys):
    cfg = suite_file(tmp_path)
    suite = load_suite(cfg, ["seeds=[5]", "b:ground_truth.metric=acc_a"])
    assert [s.seeds for s in suite.studies] == [[5], [5]]
    assert [s.ground_truth["metric"] for s in suite.studies] == ["acc_a", "acc_a"]
    with pytest.raises(ConfigError, match="no study 'c'"):
        load_suite(cfg, ["c:seeds=1"])
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress", "--study", "b", "--set", "seeds=[0]"]) == 0
    assert set(correlations_frame(out)["column"]) == {"b"}
    assert main(["run", str(cfg), "--out", str(out), "--no-progress", "--study", "z"]) == 2
    assert "not in the suite" in capsys.readouterr().err


def test_suite_entries_from_files_with_defaults_over_them(tmp_path):
    study = tmp_path / "one.yaml"
    study.write_text(yaml.safe_dump({**NB201, "ground_truth": {"path": "x.csv"}, "seeds": [0], "proxies": ["swap"]}))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"defaults": {"seeds": [1, 2], "data": {"batch_size": 4}},
                                                     "studies": ["one.yaml", {"file": "one.yaml", "name": "two",
                                                                              "task": "cifar100"}]}))
    suite = load_suite(tmp_path / "s.yaml")
    one, two = suite.studies
    assert (one.name, two.name) == ("one", "two") and one.seeds == [1, 2] and two.task == "cifar100"
    assert one.data["batch_size"] == 4 and one.data["source"] == "noise"  # sections merge key by key
    for bad, msg in [({"studies": []}, "non-empty list"), ({"studies": [{"name": "x"}, {"name": "x"}]}, "unique"),
                     ({"studies": ["one.yaml"], "colour": 1}, "unknown key"),
                     ({"studies": ["missing.yaml"]}, "no study config \\(studies\\[0\\].file\\)")]:
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
        with pytest.raises(ConfigError, match=msg):
            load_suite(tmp_path / "bad.yaml")


def test_shipped_suites_parse():
    from pathlib import Path

    from experiments.plan import plan_proxies

    configs = Path(__file__).resolve().parents[1] / "experiments" / "configs"
    suites = sorted(p for p in configs.glob("*.yaml") if "studies" in yaml.safe_load(p.read_text()))
    assert {p.stem for p in suites} >= {"default", "swap_fig4", "nbsuite_zero", "lswag_table1"}
    for path in suites:
        suite = load_suite(path)
        assert len(suite.studies) >= 4, path
        for s in suite.studies:
            plan_proxies(s.proxies)
    fig4 = load_suite(configs / "swap_fig4.yaml")
    names = [s.name for s in fig4.studies]
    assert {"nb101_cifar10", "nb201_cifar10", "nb201_cifar100", "nb201_imagenet16", "nb301_cifar10",
            "darts1000"} <= set(names)
    assert sum(n.startswith("tnb101_micro") for n in names) == 7 and sum(n.startswith("tnb101_macro") for n in names) == 7


# ----------------------------------------------------------------------------- statistics

def test_bootstrap_ci_contains_the_estimate_and_narrows_with_n():
    rng = np.random.default_rng(0)
    widths = []
    for n in (30, 120, 480):
        y = rng.normal(size=n)
        x = y + rng.normal(size=n)
        r = stats.correlation_ci(x, y)
        assert r["spearman_lo"] < r["spearman"] < r["spearman_hi"]
        assert r["kendall_lo"] < r["kendall"] < r["kendall_hi"]
        widths.append(r["spearman_hi"] - r["spearman_lo"])
    assert widths[0] > 1.5 * widths[1] > 1.5 * 1.5 * widths[2]
    assert stats.correlation_ci(x, y) == stats.correlation_ci(x, y)  # seeded: the same every time


def test_bootstrap_spearman_and_kendall_match_scipy_on_each_resample():
    from scipy.stats import kendalltau, spearmanr

    rng = np.random.default_rng(1)
    y = rng.normal(size=60)
    x = np.round(y + rng.normal(size=60), 1)  # ties
    idx = stats.resample_indices(60, 40)
    assert np.allclose(stats.boot_kendall(x, y, idx), [kendalltau(x[i], y[i]).statistic for i in idx])
    assert np.allclose(stats.boot_spearman(x, y, idx), [spearmanr(x[i], y[i]).statistic for i in idx])


def test_paired_test_detects_a_planted_difference_and_stays_quiet_on_a_null():
    rng = np.random.default_rng(2)
    n = 150
    y = rng.normal(size=n)
    better, worse = y + 0.5 * rng.normal(size=n), y + 1.5 * rng.normal(size=n)
    t = stats.paired_test([(better, worse, y)])
    assert t["diff"] > 0.15 and t["diff_lo"] > 0 and t["p"] < 0.01
    rejections = 0
    for k in range(20):
        y = rng.normal(size=n)
        a, b = y + rng.normal(size=n), y + rng.normal(size=n)
        rejections += stats.paired_test([(a, b, y)])["p"] < 0.05
    assert rejections <= 3  # about 1 of 20 expected at the 5 % level


def test_float_noise_counts_as_constant():
    x = 1.0 + np.arange(10) * 1e-13
    assert stats.is_constant(x) and np.isnan(stats.correlate(x, np.arange(10.0))["spearman"])
    assert not stats.is_constant(1.0 + np.arange(10) * 1e-6)


# ----------------------------------------------------------------------------- reports that do not mislead

def test_dropped_architectures_without_truth_are_reported(tmp_path, capsys):
    space = get_space("nb201", C=4, N=1)
    archs = space.sample(10, 0)
    gt = gt_csv(tmp_path / "gt.csv", archs[:3])
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump({**NB201, "ground_truth": {"path": str(gt), "metric": "acc_a"},
                                   "archs": {"from": "sample", "n": 10}, "seeds": [0], "proxies": ["params"]}))
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    md = (tmp_path / "o" / "summary.md").read_text()
    assert "7 of 10 evaluated architectures (per seed) have no acc_a value" in md
    assert "7 of 10" in capsys.readouterr().err
    row = correlations_frame(tmp_path / "o").iloc[0]
    assert row["n"] == 3 and row["n_no_truth"] == 7


def test_quick_look_scales_libra_calibration_before_scoring(tmp_path, capsys):
    cfg = suite_file(tmp_path, n=12, seeds=(0,), proxies=("params", "synflow", "nwot",
                                                           {"libra": {"calibration": 100}}))
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "calibration=100 does not fit a population of 12" in err
    md = (tmp_path / "o" / "summary.md").read_text()
    assert "calibrated on a fifth of it instead (3" in md
    corr = correlations_frame(tmp_path / "o")
    assert (corr.loc[corr["proxy"] == "libra", "n"] <= 12 - 3).all()  # evaluated outside its calibration split


def test_constant_batch_warns_and_reports_no_spurious_correlation(tmp_path, capsys):
    space = get_space("nb201", C=4, N=1)
    gt = gt_csv(tmp_path / "gt.csv", space.sample(10, 1))
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump({**NB201, "data": {"source": "fashion-mnist-sample", "batch_size": 8, "size": 1},
                                   "ground_truth": {"path": str(gt), "metric": "acc_a"},
                                   "archs": {"from": "ground_truth", "n": None}, "seeds": [0],
                                   "proxies": ["params", "swap", "nwot", "epe_nas", "jacov", "synflow"]}))
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    md = (tmp_path / "o" / "summary.md").read_text()
    assert "degenerate" in md and "degenerate" in err
    corr = correlations_frame(tmp_path / "o").set_index("proxy")
    for p in ("swap", "nwot", "epe_nas", "jacov"):
        assert not np.isfinite(corr.loc[p, "spearman"]), p  # constant or failed, never a number


def test_summary_labels_n_sums_lower_is_better_and_single_seed_std(tmp_path):
    cfg = suite_file(tmp_path, n=10, seeds=(0,), proxies=("params", {"ntk": {"batch": 4}}))
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    md = (tmp_path / "o" / "summary.md").read_text()
    assert "n (per seed)" in md and "non-finite (1 seed)" in md and "ntk (lower is better)" in md
    assert "± –" in md and "± 0.000" not in md
    cfg = suite_file(tmp_path, n=10, seeds=(0, 1), proxies=("params",))
    assert main(["run", str(cfg), "--out", str(tmp_path / "o2"), "--no-progress"]) == 0
    assert "failed (sum over 2 seeds)" in (tmp_path / "o2" / "summary.md").read_text()


def test_parquet_export_and_its_message_without_pyarrow(tmp_path, monkeypatch, capsys):
    import builtins

    import pandas as pd

    from experiments.report import export

    frame = pd.DataFrame({"a": [1, 2]})
    pytest.importorskip("pyarrow", reason="the parquet extra is not installed")
    assert pd.read_parquet(export(frame, tmp_path / "f.parquet"))["a"].tolist() == [1, 2]
    real = builtins.__import__
    monkeypatch.setattr(builtins, "__import__", lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name))
                        if name == "pyarrow" else real(name, *a, **k))
    with pytest.raises(ConfigError, match=r"pip install 'zcbench\[parquet\]'"):
        export(frame, tmp_path / "g.parquet")
