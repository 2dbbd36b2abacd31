"""A report's tables as text: the per-column and combined tables of summary.md, its markdown and
LaTeX, and the number formats they share (:func:`format_ci`, :func:`format_p`)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.frames import DASH, Column, Report
from experiments.tidy import label_of

# ----------------------------------------------------------------------------- formatting

def fmt(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` decimals; a dash for a missing or non-finite value."""
    return DASH if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _mean_std(mean: float, std: float, seeds: int) -> str:
    if not np.isfinite(mean):
        return "nan"
    return f"{mean:.3f} ± {DASH if seeds < 2 or not np.isfinite(std) else f'{std:.3f}'}"


def format_ci(lo: float, hi: float) -> str:
    return DASH if not (np.isfinite(lo) and np.isfinite(hi)) else f"[{lo:.3f}, {hi:.3f}]"


def format_p(p: float) -> str:
    if not np.isfinite(p):
        return DASH
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def column_table(report: Report, col: Column) -> pd.DataFrame:
    """The per-column table of summary.md as a DataFrame (strings, ready to export)."""
    rows = report.summary[report.summary["column"] == col.label]
    seeds = len(col.study.seeds)
    has_ref = np.isfinite(rows["reference_spearman"]).any()
    out = []
    for _, r in rows.iterrows():
        rec = {"proxy": label_of(col, r["proxy"]), "n (per seed)": r["n"] if r["n_min"] == r["n_max"]
               else f"{r['n_min']}-{r['n_max']}"}
        if r["constant"]:
            rec.update({"Spearman": "constant", "95 % CI": DASH, "Kendall": "constant"})
        else:
            rec.update({"Spearman": _mean_std(r["spearman_mean"], r["spearman_std"], seeds),
                        "95 % CI": format_ci(r["spearman_lo"], r["spearman_hi"]),
                        "Kendall": _mean_std(r["kendall_mean"], r["kendall_std"], seeds)})
        if "vs_best_p" in r and isinstance(r.get("best"), str):
            rec["Δρ vs best, p"] = (DASH if r["proxy"] == r["best"] or not np.isfinite(r["vs_best_diff"])
                                    else f"{r['vs_best_diff']:+.3f}, {format_p(r['vs_best_p'])}")
        else:
            rec["Δρ vs best, p"] = DASH
        if has_ref:
            rec["NB-Suite-Zero ρ"] = fmt(r["reference_spearman"])
        rec[f"non-finite ({'sum over ' + str(seeds) + ' seeds' if seeds > 1 else '1 seed'})"] = r["n_nonfinite"]
        rec[f"failed ({'sum over ' + str(seeds) + ' seeds' if seeds > 1 else '1 seed'})"] = r["n_failed"]
        out.append(rec)
    return pd.DataFrame(out)


def wide_table(report: Report, cell: str = "mean") -> pd.DataFrame:
    """Proxies (rows, sorted by their mean over columns) x columns: the mean Spearman over seeds
    (``cell="mean"``: floats), or "mean ± std [CI]" strings (``cell="text"``)."""
    s = report.summary
    if s.empty:
        return pd.DataFrame()
    m = s.pivot(index="proxy", columns="column", values="spearman_mean")
    cols = [c.label for c in report.columns if c.label in m.columns]
    m = m[cols]
    order = m.mean(axis=1, skipna=True).fillna(-9).sort_values(ascending=False, kind="stable").index
    m = m.loc[order]
    if cell == "mean":
        return m
    seeds = {c.label: len(c.study.seeds) for c in report.columns}
    text = pd.DataFrame(index=m.index, columns=cols, dtype=object)
    for _, r in s.iterrows():
        if r["constant"]:
            t = "constant"
        else:
            t = f"{_mean_std(r['spearman_mean'], r['spearman_std'], seeds[r['column']])} {format_ci(r['spearman_lo'], r['spearman_hi'])}"
        text.loc[r["proxy"], r["column"]] = t
    text["mean over columns"] = [fmt(v) for v in m.mean(axis=1, skipna=True)]
    return text.fillna(DASH)


def markdown(report: Report) -> str:
    suite = report.suite
    lines = [f"# {suite.name}", ""]
    lines += ["Spearman ρ between each proxy's scores and the ground truth over the evaluated architectures: mean ± "
              "std over seeds (– with one seed), its 95 % bootstrap CI over architectures (1000 resamples, the "
              "per-seed resamples averaged), and Δρ vs best with the p-value of a paired bootstrap test on the same "
              "architectures. `n` is per seed; non-finite and failed scores are left out of the correlation.", ""]
    if len(report.columns) > 1:
        wide = wide_table(report, "text").reset_index().rename(columns={"proxy": "proxy"})
        lines += ["## All columns", "", wide.to_markdown(index=False, disable_numparse=True,
                                                         colalign=["left"] + ["right"] * (wide.shape[1] - 1)), ""]
    for col in report.columns:
        st = col.study
        gt = st.ground_truth
        lines += [f"## {col.label}", "",
                  f"space `{st.space}`" + (f" {st.space_options}" if st.space_options else "") + f", task `{st.task}`, ground truth `{gt['path']}` "
                  f"({col.metric}), seeds {st.seeds}, data `{st.data['source']}` batch {st.data['batch_size']}"
                  + (f" size {st.data['size']}" if st.data["size"] else ""), ""]
        table = column_table(report, col)
        if not table.empty:
            lines += [table.to_markdown(index=False, disable_numparse=True,
                                        colalign=["left"] + ["right"] * (table.shape[1] - 1)), ""]
    lines += _suite_sections(report)
    if report.notes:
        lines += ["## Notes", ""] + report.notes
    return "\n".join(lines).rstrip() + "\n"


def _suite_sections(report: Report) -> list[str]:
    """summary.md's sections after the column tables: mean ranks with the Friedman test
    (experiments.ranking), then the top-of-ranking tables (experiments.topk)."""
    from experiments import ranking, topk

    return ranking.markdown(ranking.suite_ranking(report)) + (topk.markdown(report, report.top)
                                                              if report.top is not None else [])


def latex(report: Report) -> str:
    """The combined table (or the one column's) as a LaTeX tabular, through pandas."""
    if len(report.columns) > 1:
        t = wide_table(report, "text")
    else:
        t = column_table(report, report.columns[0]).set_index("proxy")
    return t.to_latex(escape=True)


