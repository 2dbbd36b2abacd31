"""Which proxy is best across a whole suite: mean ranks, the Friedman test and its post-hoc.

The proxies are ranked within each *block* by their Spearman ρ with the ground truth (rank 1 =
the best; ties share their mean rank), the ranks are averaged over the blocks, and the
Friedman test asks whether those mean ranks differ more than chance would make them; the
Nemenyi post-hoc test then says which pairs differ, and its critical difference (CD) is the
smallest gap in mean rank that is significant (Demšar, JMLR 2006). The blocks are the suite's
columns (each proxy's ρ there is its mean over seeds); a suite of one column is ranked over its
seeds instead, which says how stable the order is under re-initialisation, not how it
generalises across benchmarks. A proxy registered as lower-is-better (ntk) is ranked by −ρ, so
that its good ranking counts as good.

Why scikit-posthocs (with scipy's Friedman test): it is maintained, depends only on what the
reports already use (scipy, pandas, seaborn, matplotlib) and statsmodels, gives the Nemenyi
p-values for every pair and draws the critical-difference diagram from them. autorank does the
whole analysis in one call but refuses fewer than five blocks (the default suite has four
columns) and pulls in baycomp for its Bayesian mode, which the reports do not use.

The test is refused, with the reason as a note, where it is undefined: fewer than two blocks,
fewer than three proxies with a value in every block (scipy's Friedman test needs three), or
every block ranking all proxies equal. With few blocks the chi-square approximation of the
Friedman statistic is rough (Demšar advises more than about 10 blocks) and the CD is large:
few differences are significant, which is the honest answer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import zc_proxies

ALPHA = 0.05
MIN_BLOCKS = 2
MIN_PROXIES = 3


@dataclass
class Ranking:
    """The suite's ranking: ``values`` (blocks x proxies, oriented ρ), ``mean_ranks`` (best
    first), the Friedman statistic and p-value, the Nemenyi p-values of every pair and the
    critical difference at ``ALPHA``; ``refused`` says why there is no test (then the other
    fields may be empty)."""

    blocks_are: str  # "columns" or "seeds of <column>"
    values: pd.DataFrame
    mean_ranks: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    statistic: float = math.nan
    p: float = math.nan
    cd: float = math.nan
    posthoc: pd.DataFrame = field(default_factory=pd.DataFrame)
    dropped: list[str] = field(default_factory=list)  # proxies without a value in every block
    refused: str | None = None

    @property
    def n_blocks(self) -> int:
        return int(self.values.shape[0])

    @property
    def k(self) -> int:
        return int(len(self.mean_ranks))


def sign_of(proxy: str) -> float:
    try:
        return 1.0 if zc_proxies.get_proxy(proxy).higher_is_better else -1.0
    except Exception:  # noqa: BLE001  (a label whose proxy is not registered here: as written)
        return 1.0


def oriented_values(report) -> tuple[pd.DataFrame, str]:
    """Blocks x proxy labels of ρ, lower-is-better proxies negated: the suite's columns (mean
    over seeds) when it has several, else the one column's seeds."""
    proxies = proxies_of(report.columns)
    if len(report.columns) > 1:
        s = report.summary
        m = s.pivot(index="column", columns="proxy", values="spearman_mean")
        m = m.reindex([c.label for c in report.columns])
        what = "columns"
    else:
        col = report.columns[0].label
        c = report.correlations[report.correlations["column"] == col]
        m = c.pivot(index="seed", columns="proxy", values="spearman")
        m.index = [f"seed {s}" for s in m.index]
        what = f"seeds of {col}"
    order = [p for p in report.summary["proxy"].drop_duplicates() if p in m.columns]
    m = m[order]
    for p in m.columns:
        m[p] = m[p] * sign_of(proxies.get(p, p))
    return m.astype(float), what


def proxies_of(columns) -> dict[str, str]:
    """{label: proxy name} over the report's columns."""
    out = {}
    for col in columns:
        for s in col.plan.scored:
            out.setdefault(s.label, s.proxy)
        for s, _ in col.plan.derived:
            out.setdefault(s.label, s.proxy)
    return out


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference of mean ranks for ``k`` treatments over ``n`` blocks:
    q_alpha * sqrt(k (k + 1) / (6 n)), q_alpha the studentized range quantile over sqrt(2)."""
    from scipy.stats import studentized_range

    q = studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n)))


def rank_values(values: pd.DataFrame, blocks_are: str = "columns") -> Ranking:
    """The Friedman test and Nemenyi post-hoc over ``values`` (blocks x proxies, higher is
    better); refused, with the reason, where undefined."""
    from scipy import stats

    complete = values.columns[values.notna().all(axis=0) & np.isfinite(values).all(axis=0)]
    dropped = [p for p in values.columns if p not in complete]
    v = values[list(complete)]
    out = Ranking(blocks_are, v, dropped=dropped)
    if v.shape[0] < MIN_BLOCKS:
        out.refused = (f"the Friedman test needs at least {MIN_BLOCKS} blocks ({blocks_are}); this suite has "
                       f"{v.shape[0]}: run more seeds, or more columns")
        return out
    if v.shape[1] < MIN_PROXIES:
        out.refused = (f"the Friedman test needs at least {MIN_PROXIES} proxies with a Spearman in every block; "
                       f"{v.shape[1]} have one" + (f" ({', '.join(dropped)} lack one somewhere)" if dropped else ""))
        return out
    a = v.to_numpy(float)
    ranks = np.vstack([stats.rankdata(-row) for row in a])  # 1 = the highest ρ
    out.mean_ranks = pd.Series(ranks.mean(axis=0), index=v.columns).sort_values(kind="stable")
    if all(len(np.unique(row)) == 1 for row in a):
        out.refused = "every block ranks all proxies equal (ties everywhere): the Friedman test is undefined"
        return out
    res = stats.friedmanchisquare(*a.T)
    out.statistic, out.p = float(res.statistic), float(res.pvalue)
    import scikit_posthocs as sp

    ph = sp.posthoc_nemenyi_friedman(a)
    ph.index = ph.columns = list(v.columns)
    out.posthoc = ph.loc[out.mean_ranks.index, out.mean_ranks.index]
    out.cd = critical_difference(v.shape[1], v.shape[0])
    return out


def suite_ranking(report) -> Ranking:
    """The ranking of ``report``'s proxies over its columns (or seeds; see the module)."""
    if report.summary.empty:
        return Ranking("columns", pd.DataFrame(), refused="no proxy has a correlation to rank")
    values, what = oriented_values(report)
    return rank_values(values, what)


def ranks_frame(ranking: Ranking) -> pd.DataFrame:
    """One row per ranked proxy, best first: mean rank, the Nemenyi p-value against the
    top-ranked proxy, and whether it is within the critical difference of it."""
    if ranking.mean_ranks.empty:
        return pd.DataFrame(columns=["proxy", "mean_rank", "p_vs_top", "within_cd_of_top", "blocks"])
    top = ranking.mean_ranks.index[0]
    rows = []
    for p, r in ranking.mean_ranks.items():
        pv = float(ranking.posthoc.loc[top, p]) if not ranking.posthoc.empty and p != top else math.nan
        rows.append({"proxy": p, "mean_rank": float(r), "p_vs_top": pv,
                     "within_cd_of_top": bool(np.isfinite(ranking.cd) and r - ranking.mean_ranks.iloc[0] <= ranking.cd),
                     "blocks": ranking.n_blocks})
    return pd.DataFrame(rows)


def markdown(ranking: Ranking) -> list[str]:
    """The summary.md section: what was ranked, the test, the table (or the refusal)."""
    lines = ["## Mean ranks over " + ranking.blocks_are + " (Friedman test, Nemenyi post-hoc)", ""]
    if ranking.refused:
        return lines + [f"Not tested: {ranking.refused}.", ""]
    n, k = ranking.n_blocks, ranking.k
    lines += [f"Each proxy's Spearman ρ ranked within each of the {n} {ranking.blocks_are.split(' ')[0]} "
              f"(1 = best; lower-is-better proxies ranked by −ρ), then averaged. Friedman χ²({k - 1}) = "
              f"{ranking.statistic:.2f}, p {_p(ranking.p)} over {n} blocks and {k} proxies; Nemenyi critical "
              f"difference at α = {ALPHA}: CD = {ranking.cd:.2f}. Proxies within CD of each other are not "
              f"significantly different (`cd_diagram.png` joins them by a bar)."
              + (" With fewer than about 10 blocks the chi-square approximation is rough." if n < 10 else ""), ""]
    if ranking.dropped:
        lines += [f"Left out (no ρ in every block): {', '.join(ranking.dropped)}.", ""]
    t = ranks_frame(ranking)
    top = t["proxy"].iat[0]
    table = pd.DataFrame({
        "proxy": t["proxy"],
        "mean rank": [f"{r:.2f}" for r in t["mean_rank"]],
        f"Nemenyi p vs {top}": ["–" if not np.isfinite(p) else _p(p).lstrip("= ") for p in t["p_vs_top"]],
        f"within CD of {top}": ["yes" if w else "no" for w in t["within_cd_of_top"]],
    })
    return lines + [table.to_markdown(index=False, disable_numparse=True, colalign=["left", "right", "right", "right"]),
                    ""]


def _p(p: float) -> str:
    if not np.isfinite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def cd_diagram(ranking: Ranking, path, title: str = "") -> bool:
    """Draw the critical-difference diagram (scikit-posthocs): mean ranks on the axis, best at
    the left, proxies not significantly different (Nemenyi, α = 0.05) joined by a bar, the CD
    in the title. False (nothing written) when the test was refused."""
    if ranking.refused or ranking.mean_ranks.empty:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import scikit_posthocs as sp

    k = ranking.k
    fig, ax = plt.subplots(figsize=(8.5, 1.6 + 0.22 * k))
    sp.critical_difference_diagram(ranking.mean_ranks, ranking.posthoc, alpha=ALPHA, ax=ax,
                                   label_fmt_left="{label} ({rank:.1f})", label_fmt_right="({rank:.1f}) {label}",
                                   label_props={"fontsize": 8}, text_h_margin=0.02)
    ax.set_title((title + ": " if title else "") + f"mean rank over {ranking.n_blocks} {ranking.blocks_are} "
                 f"(1 = best); Friedman p {_p(ranking.p)}, Nemenyi CD = {ranking.cd:.2f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return True
