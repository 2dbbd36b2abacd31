"""Top-of-the-ranking metrics on hand-checked cases, their bootstrap CIs, and the reports that
carry them (correlations.csv, top_of_ranking.csv, summary.md) with the suite's ranking."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sst

from experiments import stats
from experiments.cli import main
from experiments.report import correlations_frame, load_report, ranks_frame, top_frame

from .test_runner import darts_study


PROXIES = ["params", "nwot", "synflow", "flops"]


def case():
    """20 networks; the proxy ranks them 0, 1, 2, ... (scores 20 .. 1); the truly best two are
    0 and 5 (truth 10 and 9), then 4, 3, 2, 1, then the rest."""
    s = np.arange(20, 0, -1).astype(float)
    t = np.r_[10.0, 1, 2, 3, 4, 9, np.linspace(0, 0.5, 14)]
    return s, t


def test_precision_at_top_by_hand():
    s, t = case()
    # top 10 % = 2 networks: truly {0, 5}, the proxy's {0, 1}: one in common -> 1/2
    assert stats.precision_at_top(s, t, 0.10)[0] == 0.5
    # top 5 % = 1 network: 0 for both -> 1
    assert stats.precision_at_top(s, t, 0.05)[0] == 1.0
    # top 30 % = 6: truly {0, 5, 4, 3, 2, 1}, the proxy's {0..5}: all six -> 1
    assert stats.precision_at_top(s, t, 0.30)[0] == 1.0
    # a tie at the cut-off: the proxy's 2nd and 3rd tie for its last slot, each in with
    # probability 1/2; truly best two are now {0, 2} -> expected overlap 1 + 1/2 over 2
    s2, t2 = s.copy(), t.copy()
    s2[2] = s2[1]
    t2[2] = 9.5
    assert stats.precision_at_top(s2, t2, 0.10)[0] == 0.75
    # reversed proxy: its best are the truly worst
    assert stats.precision_at_top(-t, t, 0.10)[0] == 0.0
    # a constant proxy: every network ties, so its top is a fair draw: the chance level
    assert stats.precision_at_top(np.ones(20), t, 0.10)[0] == pytest.approx(0.10)


def test_kendall_in_top_and_best_percentile_by_hand():
    s, t = case()
    # top 25 % = 5 networks by truth: 0, 5, 4, 3, 2 (truth 10, 9, 4, 3, 2)
    top = [0, 5, 4, 3, 2]
    assert stats.kendall_in_top(s, t, 0.25)[0] == pytest.approx(sst.kendalltau(s[top], t[top]).statistic)
    assert stats.kendall_in_top(s, t, 0.25)[0] == pytest.approx(-0.2)  # 4 concordant, 6 discordant pairs
    assert math.isnan(stats.kendall_in_top(s, t, 0.10)[0])  # only 2 in the top 10 %
    # the proxy's best network is network 0, the truly best of 20: percentile 100 * 20 / 20
    assert stats.best_percentile(s, t)[0] == 100.0
    # the worst-scored first: network 19, truth 0.5, rank 8 of 20 (above 0 .. 0.46 ... ) -> 40
    assert stats.best_percentile(-s, t)[0] == pytest.approx(100 * (sst.rankdata(t)[19]) / 20)
    # two networks tie for the proxy's best: the mean of their percentiles
    s3 = s.copy()
    s3[5] = s3[0]
    assert stats.best_percentile(s3, t)[0] == pytest.approx(100 * (20 + 19) / 2 / 20)


def test_counts_of_a_resample_give_the_metric_of_the_resampled_networks():
    """The bootstrap path (counts) equals the metric computed on the resampled list itself."""
    rng = np.random.default_rng(4)
    s, t = rng.normal(size=60), rng.normal(size=60)
    t = np.round(t, 1)  # ties in the truth
    idx = stats.resample_indices(60, 5, 0)
    w = stats.counts(idx, 60)
    # precision: the resampled lists, with duplicates, as lists of 60 networks
    for r in range(5):
        ss, tt = s[idx[r]], t[idx[r]]
        assert stats.precision_at_top(s, t, 0.1, w[r:r + 1])[0] == pytest.approx(
            stats.precision_at_top(ss, tt, 0.1)[0])
        assert stats.best_percentile(s, t, w[r:r + 1])[0] == pytest.approx(stats.best_percentile(ss, tt)[0])
        k = stats.kendall_in_top(s, t, 0.1, w[r:r + 1])[0]
        k2 = stats.kendall_in_top(ss, tt, 0.1)[0]
        assert (math.isnan(k) and math.isnan(k2)) or k == pytest.approx(k2)


def test_top_metrics_undefined_for_constant_scores():
    s, t = case()
    res = stats.top_metrics(np.ones(20), t)
    assert all(math.isnan(v) and len(b) == 0 for v, b in res.values())
    res = stats.top_metrics(s, t)
    v, b = res["precision_top10"]
    lo, hi = stats.interval(b)
    assert v == 0.5 and len(b) == stats.RESAMPLES and 0 <= lo <= hi <= 1


def test_reports_carry_the_top_metrics_and_the_ranking_over_seeds(tmp_path):
    cfg, out = darts_study(tmp_path, seeds=[0, 1, 2], proxies=PROXIES), tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    corr = correlations_frame(out)
    for m in stats.TOP_METRICS:
        assert {m, f"{m}_lo", f"{m}_hi"} <= set(corr.columns)
    # the stored frame's values are the functions' own, on the same networks
    report = load_report(out)
    f = report.scores
    g = f[(f["proxy"] == "nwot") & (f["seed"] == 1)]
    g = g[np.isfinite(g["value"]) & np.isfinite(g["truth"])]
    row = corr[(corr["proxy"] == "nwot") & (corr["seed"] == 1)].iloc[0]
    assert row["precision_top10"] == pytest.approx(
        stats.precision_at_top(g["value"].to_numpy(), g["truth"].to_numpy(), 0.10)[0])
    assert row["best_percentile"] == pytest.approx(stats.best_percentile(g["value"].to_numpy(), g["truth"].to_numpy())[0])
    top = top_frame(out)
    gn = top[top["proxy"] == "nwot"].iloc[0]
    assert gn["seeds"] == 3 and gn["precision_top5"] == pytest.approx(
        corr[corr["proxy"] == "nwot"]["precision_top5"].mean())
    assert (out / "top_of_ranking.csv").is_file() and len(pd.read_csv(out / "top_of_ranking.csv")) == 4
    md = (out / "summary.md").read_text()
    assert "## Top of the ranking" in md and "P@top 10 %" in md
    # one column: ranked over its 3 seeds
    assert "## Mean ranks over seeds of tiny (Friedman test, Nemenyi post-hoc)" in md
    ranks = ranks_frame(out)
    assert sorted(ranks["proxy"]) == sorted(PROXIES) and (ranks["blocks"] == 3).all()
    assert (out / "cd_diagram.png").is_file() and (out / "ranks.csv").is_file()


def test_ranking_refused_with_one_seed_is_a_note_not_a_crash(tmp_path):
    cfg, out = darts_study(tmp_path, seeds=[0], proxies=PROXIES), tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    md = (out / "summary.md").read_text()
    assert "Not tested: the Friedman test needs at least 2 blocks (seeds of tiny); this suite has 1" in md
    assert not (out / "cd_diagram.png").exists() and ranks_frame(out).empty
