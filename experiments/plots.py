"""A report's figures: the heatmap of proxies x columns (SWAP's Fig. 4) and the per-column
scatter plots of score against ground truth (matplotlib and seaborn, imported on first use)."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from experiments.frames import Report
from experiments.render import fmt, wide_table
from experiments.tidy import label_of, usable

# ----------------------------------------------------------------------------- figures

def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="white", context="paper")
    return plt, sns


def heatmap(report: Report, path: Path, title: str = "") -> None:
    """Proxies (rows, sorted by mean Spearman over columns) x columns, annotated with the mean
    Spearman over seeds, like SWAP's Fig. 4; "const" where a proxy is constant."""
    plt, sns = _plt()
    m = wide_table(report, "mean")
    if m.empty:
        return
    const = report.summary.pivot(index="proxy", columns="column", values="constant").reindex_like(m)
    labels = {}
    for col in report.columns:
        for lab in m.index:
            try:
                labels.setdefault(lab, label_of(col, lab))
            except StopIteration:
                pass
    fig, ax = plt.subplots(figsize=(2.4 + 1.25 * m.shape[1], 1.0 + 0.36 * m.shape[0]))
    ax.set_facecolor("#eeeeee")  # no value: constant, failed or not scored
    sns.heatmap(m.astype(float), ax=ax, cmap="RdYlGn", vmin=-1, vmax=1, annot=True, fmt=".2f",
                annot_kws={"fontsize": 8}, linewidths=0.5, linecolor="white",
                cbar_kws={"label": "Spearman ρ (mean over seeds)", "shrink": 0.6})
    is_const = const.fillna(False).astype(bool).to_numpy()
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if not np.isfinite(m.iat[i, j]):
                ax.text(j + 0.5, i + 0.5, "const" if is_const[i, j] else "–", ha="center", va="center",
                        fontsize=7, color="grey")
    ax.set_yticklabels([labels.get(l, l) for l in m.index], rotation=0, fontsize=8)
    ax.set_xticklabels([_wrap(c) for c in m.columns], rotation=0, fontsize=8)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(title or report.suite.name, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def _wrap(text: str, width: int = 14) -> str:
    parts = re.split(r"(?<=[_/ -])", text)
    lines, cur = [], ""
    for p in parts:
        if len(cur) + len(p) > width and cur:
            lines.append(cur)
            cur = ""
        cur += p
    return "\n".join(lines + [cur])


def scatter(report: Report, out: Path) -> list[Path]:
    """Per column, each proxy's scores against the ground truth for the column's first seed,
    one panel per proxy in the summary's order. The title gives that seed's ρ (the points'
    own) and the mean over seeds; scores spanning more than 3 decades (all positive) are drawn
    on a log x axis, marked "(log)"."""
    plt, sns = _plt()
    paths = []
    frame = report.scores
    for col in report.columns:
        seed = col.study.seeds[0]
        cf = frame[(frame["column"] == col.label) & (frame["seed"] == seed)]
        cf = cf[usable(cf)]
        rows = report.summary[report.summary["column"] == col.label]
        proxies = [p for p in rows["proxy"] if (cf["proxy"] == p).any()]
        if not proxies:
            continue
        rho_seed = report.correlations.set_index(["column", "proxy", "seed"])["spearman"]
        mean = rows.set_index("proxy")["spearman_mean"]
        ncol = min(5, len(proxies))
        nrow = math.ceil(len(proxies) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.0 * ncol, 2.7 * nrow), squeeze=False)
        for ax in axes.flat[len(proxies):]:
            ax.axis("off")
        for ax, proxy in zip(axes.flat, proxies):
            g = cf[cf["proxy"] == proxy]
            x, y = g["value"].to_numpy(float), g["truth"].to_numpy(float)
            sns.scatterplot(x=x, y=y, ax=ax, s=9, alpha=0.6, linewidth=0)
            log = bool(len(x) and x.min() > 0 and x.max() / x.min() > 1e3)
            if log:
                ax.set_xscale("log")
            else:
                ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
                ax.xaxis.get_offset_text().set_fontsize(6)
            ax.set_xlabel("score (log)" if log else "score", fontsize=7)
            r = rho_seed.get((col.label, proxy, seed), math.nan)
            title = f"{label_of(col, proxy)}\nρ={fmt(r, 2)} (seed {seed})"
            if len(col.study.seeds) > 1:
                title += f", mean {fmt(mean.get(proxy, math.nan), 2)}"
            ax.set_title(title, fontsize=8)
            ax.tick_params(labelsize=6)
        for ax in axes[:, 0]:
            ax.set_ylabel(col.metric or "ground truth", fontsize=7)
        fig.suptitle(f"{col.label}: scores (seed {seed}) against {col.metric}", fontsize=10)
        fig.tight_layout()
        name = "scatter.png" if len(report.columns) == 1 else f"scatter_{_safe(col.label)}.png"
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        paths.append(out / name)
    return paths


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text)


