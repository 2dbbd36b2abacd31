"""From the store to tables and figures: correlations per seed, mean ± std summary, heatmap."""
from __future__ import annotations

import csv
import dataclasses
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

import zc_proxies
from experiments.config import Study
from experiments.store import Store

CORR_COLUMNS = ["study", "space", "task", "variant", "proxy", "seed", "n", "spearman", "kendall", "pearson_abs",
                "n_distinct", "n_nonfinite", "n_failed"]


def correlate(scores: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Spearman, Kendall tau-b and |Pearson| (as NASLib reports it) of finite pairs."""
    if len(scores) < 3 or np.ptp(scores) == 0 or np.ptp(truth) == 0:
        return {"spearman": math.nan, "kendall": math.nan, "pearson_abs": math.nan}
    return {
        "spearman": float(stats.spearmanr(scores, truth).statistic),
        "kendall": float(stats.kendalltau(scores, truth).statistic),
        "pearson_abs": float(abs(stats.pearsonr(scores, truth).statistic)),
    }


NASLIB_NONFINITE = -1e8


def naslib_nonfinite_value(proxy: str, options: dict[str, Any] | None = None) -> float:
    """The score NASLib's ``ZeroCost.query`` gives a NaN or infinite value: -1e8, and for synflow
    (log-transformed after the replacement) -log(1e8)."""
    opts = zc_proxies.get_proxy(proxy).options(options) if proxy in zc_proxies.PROXIES else {}
    if proxy == "synflow" and opts.get("log_transform", True):
        return -math.log(-NASLIB_NONFINITE)
    return NASLIB_NONFINITE


def apply_nonfinite(rows: list, study: Study) -> list:
    """``rows`` (one proxy label) as the correlations use them: unchanged for ``nonfinite: omit``;
    for ``nonfinite: naslib`` every ``nonfinite`` row gets NASLib's replacement value and counts
    as ok (its status stays recorded in ``n_nonfinite``). Failed rows stay out either way (NASLib
    raised on them)."""
    if study.nonfinite != "naslib":
        return rows
    specs = {s.label: s for s in study.proxies}
    out = []
    for r in rows:
        if r.status == "nonfinite":
            spec = specs.get(r.proxy)
            v = naslib_nonfinite_value(spec.proxy if spec else r.proxy, spec.options if spec else None)
            r = dataclasses.replace(r, value=v, status="ok")
        out.append(r)
    return out


def correlations(study: Study, store: Store, truth: dict[str, float]) -> list[dict[str, Any]]:
    """One record per (variant, proxy, seed): correlation with ``truth`` ({arch string: value}).
    Non-finite scores are left out, or replaced as NASLib does with ``nonfinite: naslib``
    (:func:`apply_nonfinite`); ``n_nonfinite`` counts them either way."""
    groups: dict[tuple, list] = defaultdict(list)
    for r in store.rows(study=study.name):
        groups[(r.space, r.task, r.variant, r.proxy, r.seed)].append(r)
    out = []
    for (space, task, variant, proxy, seed), rows in sorted(groups.items()):
        n_nonfinite = sum(r.status == "nonfinite" for r in rows)
        rows = apply_nonfinite(rows, study)
        ok = [r for r in rows if r.status == "ok" and r.arch in truth]
        s = np.array([r.value for r in ok], dtype=float)
        t = np.array([truth[r.arch] for r in ok], dtype=float)
        out.append({
            "study": study.name, "space": space, "task": task, "variant": variant, "proxy": proxy, "seed": seed,
            "n": len(ok), **correlate(s, t), "n_distinct": len(np.unique(s)),
            "n_nonfinite": n_nonfinite,
            "n_failed": sum(r.status == "failed" for r in rows),
        })
    return out


def _fmt(x: float) -> str:
    return "nan" if not np.isfinite(x) else f"{x:.3f}"


def summarise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and std over seeds per (space, task, variant, proxy), sorted by mean Spearman."""
    groups: dict[tuple, list] = defaultdict(list)
    for r in records:
        groups[(r["space"], r["task"], r["variant"], r["proxy"])].append(r)
    out = []
    for (space, task, variant, proxy), rs in groups.items():
        sp = np.array([r["spearman"] for r in rs], dtype=float)
        kt = np.array([r["kendall"] for r in rs], dtype=float)
        out.append({
            "space": space, "task": task, "variant": variant, "proxy": proxy, "seeds": len(rs),
            "n": int(np.median([r["n"] for r in rs])),
            "spearman_mean": float(np.nanmean(sp)) if np.isfinite(sp).any() else math.nan,
            "spearman_std": float(np.nanstd(sp)) if np.isfinite(sp).any() else math.nan,
            "kendall_mean": float(np.nanmean(kt)) if np.isfinite(kt).any() else math.nan,
            "kendall_std": float(np.nanstd(kt)) if np.isfinite(kt).any() else math.nan,
            "n_nonfinite": sum(r["n_nonfinite"] for r in rs), "n_failed": sum(r["n_failed"] for r in rs),
            "constant": all(r["n_distinct"] <= 1 for r in rs),
        })
    key = lambda r: (r["space"], r["task"], r["variant"], -np.nan_to_num(r["spearman_mean"], nan=-9))
    return sorted(out, key=key)


def markdown(study: Study, summary: list[dict[str, Any]], notes: list[str],
             labels: dict[str, str] | None = None) -> str:
    lines = [f"# {study.name}", "", f"space `{study.space}`, task `{study.task}`, seeds {study.seeds}, "
             f"data `{study.data['source']}` batch {study.data['batch_size']}", ""]
    for (space, task, variant), rows in _grouped(summary):
        lines += [f"## {space} / {task}" + ("" if variant == "default" else f" / {variant}"), "",
                  "| proxy | n | Spearman (mean ± std) | Kendall (mean ± std) | non-finite | failed |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in rows:
            if r["constant"] and r["n"]:
                corr = "n/a: the same score for every architecture | n/a"
            else:
                corr = (f"{_fmt(r['spearman_mean'])} ± {_fmt(r['spearman_std'])} | "
                        f"{_fmt(r['kendall_mean'])} ± {_fmt(r['kendall_std'])}")
            name = (labels or {}).get(r["proxy"], r["proxy"])
            lines.append(f"| {name} | {r['n']} | {corr} | {r['n_nonfinite']} | {r['n_failed']} |")
        lines.append("")
    lines += notes
    return "\n".join(lines) + "\n"


def _grouped(summary):
    groups: dict[tuple, list] = defaultdict(list)
    for r in summary:
        groups[(r["space"], r["task"], r["variant"])].append(r)
    return groups.items()


def heatmap(summary: list[dict[str, Any]], path: Path, title: str = "") -> None:
    """Proxies (rows, sorted by mean Spearman) x space-task(-variant) columns, like SWAP's Fig. 4."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = list(dict.fromkeys((r["space"], r["task"], r["variant"]) for r in summary))  # summary's order
    proxies = sorted({r["proxy"] for r in summary})
    m = np.full((len(proxies), len(cols)), np.nan)
    constant = np.zeros_like(m, dtype=bool)
    for r in summary:
        i, j = proxies.index(r["proxy"]), cols.index((r["space"], r["task"], r["variant"]))
        m[i, j] = r["spearman_mean"]
        constant[i, j] = bool(r.get("constant"))
    finite = np.isfinite(m)
    row_mean = np.where(finite.any(axis=1), np.where(finite, m, 0).sum(axis=1) / np.maximum(finite.sum(axis=1), 1), -9)
    order = np.argsort(-row_mean, kind="stable")
    m, constant = m[order], constant[order]
    proxies = [proxies[i] for i in order]
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(cols), 0.9 + 0.42 * len(proxies)))
    im = ax.imshow(m, cmap="RdYlGn", vmin=-1, vmax=1, aspect="auto")
    labels = [f"{s}\n{t}" + ("" if v == "default" else f"\n{v}") for s, t, v in cols]
    ax.set_xticks(range(len(cols)), labels, fontsize=8)
    ax.set_yticks(range(len(proxies)), proxies, fontsize=9)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if np.isfinite(m[i, j]):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=8)
            elif constant[i, j]:
                ax.text(j, i, "constant", ha="center", va="center", fontsize=7, color="grey")
    fig.colorbar(im, ax=ax, label="Spearman ρ (mean over seeds)")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def scatter(study: Study, store: Store, truth: dict[str, float], summary: list[dict[str, Any]],
            out: Path) -> list[Path]:
    """Each proxy's scores (first seed) against the ground truth, one panel per proxy sorted
    as the summary, one figure per variant: ``scatter.png`` (``scatter_<variant>.png`` with an
    ablation). Scores spanning more than 3 decades are drawn on a log axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seed = study.seeds[0]
    paths = []
    variants = [label for label, _ in study.variants()]
    metric = study.ground_truth["metric"] or "ground truth"
    for variant in variants:
        rows = [r for r in store.rows(study=study.name, variant=variant, seed=seed)
                if r.status == "ok" and r.arch in truth]
        proxies = [r["proxy"] for r in summary if r["variant"] == variant]
        proxies = [p for p in proxies if any(r.proxy == p for r in rows)]
        if not proxies:
            continue
        rho = {r["proxy"]: r["spearman_mean"] for r in summary if r["variant"] == variant}
        ncol = min(5, len(proxies))
        nrow = math.ceil(len(proxies) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.0 * ncol, 2.6 * nrow), squeeze=False)
        for ax in axes.flat[len(proxies):]:
            ax.axis("off")
        for ax, proxy in zip(axes.flat, proxies):
            pts = [(r.value, truth[r.arch]) for r in rows if r.proxy == proxy]
            x = np.array([p[0] for p in pts])
            y = np.array([p[1] for p in pts])
            ax.scatter(x, y, s=4, alpha=0.5, linewidths=0)
            if len(x) and x.min() > 0 and x.max() / x.min() > 1e3:
                ax.set_xscale("log")
            r = rho.get(proxy, math.nan)
            ax.set_title(f"{proxy}  ρ={_fmt(r)}" if np.isfinite(r) else f"{proxy}  (constant)", fontsize=9)
            ax.tick_params(labelsize=7)
        for ax in axes[:, 0]:
            ax.set_ylabel(metric, fontsize=8)
        fig.suptitle(f"{study.name} / {variant}: score (seed {seed}) vs {metric}", fontsize=10)
        fig.tight_layout()
        path = out / ("scatter.png" if len(variants) == 1 else f"scatter_{variant}.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def truth_of(study: Study, space) -> dict[str, float]:
    from experiments.runner import load_ground_truth

    gt = load_ground_truth(study, space)
    if gt is None:
        return {}
    metric = study.ground_truth["metric"] or gt.metrics[0]
    return {str(a): v for a, v in gt.metric(metric).items()}


def write_reports(study: Study, store: Store, out: Path) -> dict[str, Any]:
    from search_spaces.base import get_space

    space = get_space(study.space, **study.space_options)
    truth = truth_of(study, space)
    records = correlations(study, store, truth)
    with open(out / "correlations.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CORR_COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in records:
            w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})
    order = {label: i for i, (label, _) in enumerate(study.variants())}
    summary = sorted(summarise(records), key=lambda r: (r["space"], r["task"], order.get(r["variant"], len(order))))
    notes = []
    for key in sorted(k for k in store.db.execute("SELECT key FROM meta").fetchall()):
        if key[0].startswith("derived/"):
            notes.append(f"- `{key[0][8:]}`: {store.get_meta(key[0])}")
    if notes:
        notes = ["Population-level proxies: what each used or chose, per proxy/variant/seed:", ""] + notes
    labels = {}
    for spec in study.proxies:  # name the calibration split in the row of a proxy that calibrates
        if zc_proxies.get_proxy(spec.proxy).needs_truth:
            used = [store.get_meta(f"derived/{spec.label}/{v}/{sd}") for v, _ in study.variants() for sd in study.seeds]
            used = [u for u in used if u]
            if used:
                labels[spec.label] = (f"{spec.label} (evaluated on {used[0]['evaluation']} architectures disjoint from "
                                      f"its calibration split of {used[0]['calibration']}, drawn per seed with "
                                      f"calibration_seed {used[0]['calibration_seed']})")
    (out / "summary.md").write_text(markdown(study, summary, notes, labels))
    if summary:
        heatmap(summary, out / "heatmap.png", title=study.name)
    scatters = scatter(study, store, truth, summary, out) if truth else []
    return {"records": records, "summary": summary, "scatter": scatters}


def reg_swap_grid(study: Study, store: Store, mus: list[float], sigmas: list[float], *, theta_unit: str = "M",
                  swap_label: str = "swap", params_label: str = "params") -> list[dict[str, Any]]:
    """Spearman of reg-SWAP for every (µ, σ) from stored swap and params scores (no scoring),
    like the SWAP paper's Tables 4-6; mean and std over seeds, per variant."""
    from search_spaces.base import get_space
    from zc_proxies.swap import reg_swap_combine

    truth = truth_of(study, get_space(study.space, **study.space_options))
    out = []
    for variant, _ in study.variants():
        per_seed = []
        for seed in study.seeds:
            rows = store.rows(study=study.name, variant=variant, seed=seed)
            sw = {r.arch: r.value for r in rows if r.proxy == swap_label and r.status == "ok"}
            pa = {r.arch: r.value for r in rows if r.proxy == params_label and r.status == "ok"}
            archs = sorted(set(sw) & set(pa) & set(truth))
            if archs:
                per_seed.append((np.array([sw[a] for a in archs]), np.array([pa[a] for a in archs]),
                                 np.array([truth[a] for a in archs])))
        if not per_seed:
            raise ValueError(f"no stored {swap_label!r} and {params_label!r} scores with ground truth in "
                             f"{store.path} (variant {variant}); run the study with both proxies first")
        for mu in mus:
            for sigma in sigmas:
                rhos = [correlate(reg_swap_combine(s, p, mu=mu, sigma=sigma, theta_unit=theta_unit)[0], t)["spearman"]
                        for s, p, t in per_seed]
                out.append({"variant": variant, "mu": mu, "sigma": sigma, "theta_unit": theta_unit,
                            "spearman_mean": float(np.nanmean(rhos)), "spearman_std": float(np.nanstd(rhos)),
                            "seeds": len(rhos), "n": len(per_seed[0][0])})
    return out
