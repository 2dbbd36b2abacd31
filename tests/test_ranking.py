"""The suite's ranking: Friedman test, Nemenyi post-hoc and critical difference on fixtures with
a known answer, and the refusals where the test is undefined."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from experiments.ranking import ALPHA, critical_difference, ranks_frame, rank_values


def frame(rows, proxies=("a", "b", "c", "d")):
    return pd.DataFrame(rows, columns=list(proxies), index=[f"col{i}" for i in range(len(rows))], dtype=float)


def test_friedman_mean_ranks_and_cd_on_a_hand_computed_fixture():
    # 5 blocks, 4 proxies (higher is better). Ranks per block (1 = best):
    #   a: 1 1 2 1 1 -> 6/5 = 1.2     b: 2 2 1 2 3 -> 10/5 = 2.0
    #   c: 3 4 3 3 2 -> 15/5 = 3.0    d: 4 3 4 4 4 -> 19/5 = 3.8
    v = frame([[0.9, 0.8, 0.5, 0.1],
               [0.7, 0.6, 0.2, 0.3],
               [0.6, 0.8, 0.4, 0.3],
               [0.5, 0.4, 0.3, 0.2],
               [0.9, 0.5, 0.6, 0.4]])
    r = rank_values(v)
    assert r.refused is None
    assert list(r.mean_ranks.index) == ["a", "b", "c", "d"]
    assert np.allclose(r.mean_ranks.to_numpy(), [1.2, 2.0, 3.0, 3.8])
    # Friedman by hand: 12 N / (k (k+1)) * (sum R_j^2 - k (k+1)^2 / 4), N = 5, k = 4
    chi2 = 12 * 5 / (4 * 5) * (1.2 ** 2 + 2.0 ** 2 + 3.0 ** 2 + 3.8 ** 2 - 4 * 25 / 4)
    assert chi2 == pytest.approx(11.64)  # 3 * (28.88 - 25)
    assert r.statistic == pytest.approx(chi2, rel=1e-12)
    assert r.statistic == pytest.approx(stats.friedmanchisquare(*v.to_numpy().T).statistic, rel=1e-12)
    assert r.p == pytest.approx(stats.chi2.sf(11.64, 3), rel=1e-9)
    # Demšar's table: q_0.05 = 2.569 for k = 4; CD = 2.569 * sqrt(4 * 5 / (6 * 5)) = 2.0975
    assert r.cd == pytest.approx(2.569 * math.sqrt(20 / 30), abs=2e-3)
    # Nemenyi: a and d differ by 2.6 > CD (significant), a and c by 1.8 < CD (not)
    assert r.posthoc.loc["a", "d"] < ALPHA < r.posthoc.loc["a", "c"]
    t = ranks_frame(r)
    assert list(t["within_cd_of_top"]) == [True, True, True, False]
    assert math.isnan(t["p_vs_top"].iat[0]) and t["p_vs_top"].iat[3] == pytest.approx(r.posthoc.loc["a", "d"])


@pytest.mark.parametrize("k,q", [(2, 1.960), (3, 2.343), (5, 2.728), (10, 3.164)])
def test_critical_difference_matches_demsar_table(k, q):
    """Demšar (2006), Table 5(a): q_0.05 of the Nemenyi test (studentized range / sqrt 2)."""
    assert critical_difference(k, 6) == pytest.approx(q * math.sqrt(k * (k + 1) / 36), abs=1e-3)


def test_posthoc_significance_agrees_with_the_critical_difference():
    rng = np.random.default_rng(3)
    v = frame(rng.normal(size=(12, 6)) + np.linspace(1, 0, 6), proxies="abcdef")
    r = rank_values(v)
    m = r.mean_ranks
    for i in m.index:
        for j in m.index:
            if i != j and abs(abs(m[i] - m[j]) - r.cd) > 1e-6:
                assert (r.posthoc.loc[i, j] < ALPHA) == (abs(m[i] - m[j]) > r.cd)


def test_ties_within_blocks_use_mean_ranks():
    v = frame([[0.5, 0.5, 0.1, 0.0], [0.4, 0.3, 0.3, 0.1], [0.9, 0.8, 0.7, 0.6]])
    r = rank_values(v)
    assert np.allclose(r.mean_ranks[["a", "b", "c", "d"]], [(1.5 + 1 + 1) / 3, (1.5 + 2.5 + 2) / 3,
                                                            (3 + 2.5 + 3) / 3, 4])
    assert r.statistic == pytest.approx(stats.friedmanchisquare(*v.to_numpy().T).statistic)


def test_refusals():
    one = rank_values(frame([[0.9, 0.8, 0.5, 0.1]]))
    assert "at least 2 blocks" in one.refused and "1" in one.refused
    two = rank_values(frame([[0.9, np.nan, 0.5, np.nan], [0.8, 0.7, 0.6, 0.5]]))
    assert "at least 3 proxies" in two.refused and "b, d lack one" in two.refused
    tied = rank_values(frame([[0.5] * 4, [0.2] * 4, [0.7] * 4]))
    assert "ties everywhere" in tied.refused
    # a proxy missing in one block is left out, the others are ranked
    part = rank_values(frame([[0.9, np.nan, 0.5, 0.1], [0.8, 0.7, 0.6, 0.5], [0.7, 0.2, 0.6, 0.4]]))
    assert part.refused is None and part.dropped == ["b"] and list(part.mean_ranks.index) == ["a", "c", "d"]
