"""Does a proxy find the good networks? Top-of-the-ranking metrics per column, proxy and seed,
with seeded bootstrap CIs on the same resamples as the Spearman's (experiments.stats):

- ``precision_top5`` / ``precision_top10``: of the truly best 5 % (10 %) of the column's
  architectures, the share the proxy also puts in its best 5 % (10 %);
- ``kendall_top10``: Kendall's tau-b among the truly best 10 % only;
- ``best_percentile``: the true percentile of the network the proxy ranks first (100 = the
  truly best one, 50 = the median).

A lower-is-better proxy (ntk) is read the way its authors mean it: its lowest scores are its
best. Over seeds, the per-seed values are averaged and so are their bootstrap distributions,
as for the Spearman CI.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from experiments import stats

METRICS = stats.TOP_METRICS
TITLES = {"precision_top5": "P@top 5 %", "precision_top10": "P@top 10 %", "kendall_top10": "Kendall in top 10 %",
          "best_percentile": "best's true percentile"}
COLUMNS = [f"{m}{s}" for m in METRICS for s in ("", "_lo", "_hi")]


def per_seed(report) -> tuple[pd.DataFrame, dict]:
    """One row per (column, proxy, seed) with every metric and its CI; and the bootstrap
    samples by (column, proxy, seed, metric) for the seed means."""
    from experiments.ranking import proxies_of, sign_of
    from experiments.tidy import usable

    proxies = proxies_of(report.columns)
    frame = report.scores
    frame = frame[usable(frame)]
    rows, boots = [], {}
    for (column, proxy, seed), g in frame.groupby(["column", "proxy", "seed"], sort=False):
        sign = sign_of(proxies.get(proxy, proxy))
        res = stats.top_metrics(sign * g["value"].to_numpy(float), g["truth"].to_numpy(float))
        rec = {"column": column, "proxy": proxy, "seed": int(seed)}
        for m, (v, b) in res.items():
            rec[m] = v
            rec[f"{m}_lo"], rec[f"{m}_hi"] = stats.interval(b)
            boots[(column, proxy, int(seed), m)] = b
        rows.append(rec)
    return pd.DataFrame(rows, columns=["column", "proxy", "seed"] + COLUMNS), boots


def summary(report, rows: pd.DataFrame, boots: dict) -> pd.DataFrame:
    """One row per (column, proxy), in the summary's order: each metric's mean over seeds and
    the CI of that mean."""
    out = []
    for _, r in report.summary[["column", "proxy"]].iterrows():
        g = rows[(rows["column"] == r["column"]) & (rows["proxy"] == r["proxy"])]
        rec = {"column": r["column"], "proxy": r["proxy"], "seeds": len(g)}
        for m in METRICS:
            vals = g[m].to_numpy(float)
            bs = [boots.get((r["column"], r["proxy"], int(s), m), np.array([])) for s in g["seed"]]
            rec[m] = float(np.mean(vals)) if len(vals) and np.isfinite(vals).all() else math.nan
            if bs and all(len(b) for b in bs) and np.isfinite(rec[m]):
                rec[f"{m}_lo"], rec[f"{m}_hi"] = stats.interval(np.mean(bs, axis=0))
            else:
                rec[f"{m}_lo"] = rec[f"{m}_hi"] = math.nan
        out.append(rec)
    return pd.DataFrame(out, columns=["column", "proxy", "seeds"] + COLUMNS)


def top_frame(report) -> pd.DataFrame:
    """The per-(column, proxy) top-of-ranking table of ``report`` (a loaded report)."""
    return summary(report, *per_seed(report))


def _cell(v: float, lo: float, hi: float, digits: int) -> str:
    if not np.isfinite(v):
        return "–"
    ci = f" [{lo:.{digits}f}, {hi:.{digits}f}]" if np.isfinite(lo) and np.isfinite(hi) else ""
    return f"{v:.{digits}f}{ci}"


def markdown(report, table: pd.DataFrame) -> list[str]:
    """summary.md's compact section: per column, the proxies (in the column table's order) x
    the four metrics, mean over seeds with the 95 % CI."""
    from experiments.tidy import label_of

    if table.empty:
        return []
    lines = ["## Top of the ranking", "",
             "Per column: of the truly best 5 % / 10 % of the architectures, the share the proxy puts in its own "
             "best 5 % / 10 % (P@top; ties at the cut-off split fairly, chance level = the fraction itself); "
             "Kendall's τ among the truly best 10 % only; and the true percentile of the network the proxy ranks "
             "first (100 = the truly best, 50 = the median). Lower-is-better proxies read by their lowest scores. "
             "Mean over seeds with the 95 % bootstrap CI (the Spearman's resamples); – where a proxy is constant or "
             "failed, or fewer than 3 networks are in the top 10 %.", ""]
    for col in report.columns:
        t = table[table["column"] == col.label]
        if t.empty:
            continue
        shown = pd.DataFrame({"proxy": [label_of(col, p) for p in t["proxy"]]})
        for m in METRICS:
            d = 1 if m == "best_percentile" else 2
            shown[TITLES[m]] = [_cell(r[m], r[f"{m}_lo"], r[f"{m}_hi"], d) for _, r in t.iterrows()]
        n = report.summary[report.summary["column"] == col.label]["n"]
        size = int(n.median()) if len(n) else 0
        lines += [f"### {col.label}", "",
                  f"top 5 % = {stats.top_count(size, 0.05)}, top 10 % = {stats.top_count(size, 0.10)} of {size} "
                  f"networks per seed (of its own n for a proxy scored on fewer, see the column's table)", "",
                  shown.to_markdown(index=False, disable_numparse=True, colalign=["left"] + ["right"] * len(METRICS)),
                  ""]
    return lines
