"""From the store to tables and figures, for a study or a suite of studies.

Everything here is rebuilt from ``results.sqlite`` alone (the configs are stored with the
scores), so ``zcbench report DIR`` can report the same scores against other ground truth. The
interface for notebooks is two tidy pandas DataFrames::

    from experiments.report import scores_frame, correlations_frame
    scores = scores_frame("zcbench-out")        # one row per (column, seed, architecture, proxy)
    corr = correlations_frame("zcbench-out")    # one row per (column, proxy, seed), with CIs

A *column* is one study (one space, task and ground-truth metric; one per variant of an
ablation), as in the papers' heatmaps. Population-level proxies (reg_swap, tenas, the
ensembles, LIBRA) are computed here from the stored per-network scores of each column's
population, never stored (they depend on the population, and LIBRA on the ground truth).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import zc_proxies
from experiments import stats
from experiments.config import ConfigError, Study, Suite, apply_overrides, parse_study
from experiments.store import ResultsNotFoundError, Store
from experiments.tidy import label_of, usable  # noqa: F401  (usable: public here too)

SCORE_COLUMNS = ["column", "study", "variant", "metric", "space", "task", "seed", "arch", "proxy", "value",
                 "status", "message", "seconds", "truth"]
CORR_COLUMNS = ["column", "study", "variant", "metric", "space", "task", "proxy", "seed", "n", "spearman",
                "spearman_lo", "spearman_hi", "kendall", "kendall_lo", "kendall_hi", "pearson_abs",
                "reference_spearman", "n_distinct", "constant", "n_nonfinite", "n_failed", "n_no_truth",
                "n_unscored"]
# top-of-ranking metrics per (column, proxy, seed), with their CIs (experiments.topk)
TOP_COLUMNS = [f"{m}{s}" for m in stats.TOP_METRICS for s in ("", "_lo", "_hi")]
DASH = "–"


@dataclass
class Column:
    label: str
    study: Study  # the variant's study
    variant: str
    metric: str | None
    plan: Any
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    suite: Suite
    columns: list[Column]
    scores: pd.DataFrame
    correlations: pd.DataFrame
    summary: pd.DataFrame
    notes: list[str]
    derived: dict[tuple[str, str, int], dict]  # (column, label, seed) -> what was used or chosen
    warnings: list[str] = field(default_factory=list)  # what the user must know (also in notes)
    top: pd.DataFrame | None = None  # per (column, proxy): the top-of-ranking metrics (experiments.topk)


NASLIB_NONFINITE = -1e8


def naslib_nonfinite_value(proxy: str, options: dict[str, Any] | None = None) -> float:
    """The score NASLib's ``ZeroCost.query`` gives a NaN or infinite value: -1e8, and for synflow
    (log-transformed after the replacement) -log(1e8)."""
    opts = zc_proxies.get_proxy(proxy).options(options) if proxy in zc_proxies.PROXIES else {}
    if proxy == "synflow" and opts.get("log_transform", True):
        return -math.log(-NASLIB_NONFINITE)
    return NASLIB_NONFINITE


# ----------------------------------------------------------------------------- loading

def stored_suite(store: Store, overrides: list[str] | None = None, studies: list[str] | None = None) -> Suite:
    """The suite last run into ``store``, its studies re-parsed with ``overrides`` (``--set``;
    ``NAME:KEY=VALUE`` for one study), optionally only the named ``studies``."""
    from experiments.config import split_overrides

    meta = store.get_meta("suite")
    if not meta:
        raise ConfigError(f"{store.path} holds no finished study config (a run that stopped before it began?); "
                          f"run `zcbench run CONFIG.yaml --out {store.path.parent}` first")
    raws = store.get_meta("studies", {})
    names = [n for n in meta["studies"] if n in raws]
    if studies:
        unknown = [n for n in studies if n not in names]
        if unknown:
            raise ConfigError(f"{store.path} has no study {unknown}; its studies: {names}")
        names = [n for n in names if n in studies]
    sets = split_overrides(overrides or [], names)
    return Suite(meta["name"], [parse_study(apply_overrides(raws[n], sets[None] + sets.get(n, [])), name=n)
                                for n in names], meta)


def study_truth(study: Study, space) -> tuple[dict[str, float], Any, str | None]:
    from experiments.inputs import load_ground_truth

    gt = load_ground_truth(study, space)
    if gt is None:
        return {}, None, None
    metric = study.ground_truth["metric"] or gt.metrics[0]
    return {str(a): v for a, v in gt.metric(metric).items()}, gt, metric


def _reference(study: Study, space, plan) -> dict[str, dict[str, float]]:
    """{label: {arch: NB-Suite-Zero's own score}} when the ground truth is a NAS-Bench-Suite-Zero
    json, which also holds the scores it computed, for the study's proxies it has."""
    g = study.ground_truth
    name = Path(str(g["path"] or "")).name
    if not (g["format"] == "nbsuite_zero" or (g["format"] == "auto" and name.startswith("zc_")
                                               and name.endswith(".json"))):
        return {}
    from search_spaces.data import resolve_path
    from search_spaces.ground_truth import read_zc_json

    try:
        rec = read_zc_json(resolve_path(g["path"]), space, g["dataset"] or study.task)
    except (ValueError, NotImplementedError, OSError):
        return {}
    specs = list(plan.scored) + [s for s, _ in plan.derived]
    return {s.label: {str(a): v for a, (v, _) in rec.scores[s.proxy].items()}
            for s in specs if s.proxy in rec.scores and not s.options}


def collect(suite: Suite, store: Store) -> tuple[list[Column], pd.DataFrame, dict, list[str]]:
    """Every column's scores (stored, and the derived ones computed over its population) with
    the ground truth joined: the tidy scores frame."""
    from experiments.derive import derive
    from experiments.inputs import study_archs, theta_sizes
    from experiments.plan import check_population, label_keys, plan_proxies, scoring_of
    from experiments.store import scoring_id
    from search_spaces.base import get_space

    columns, parts, derived_used, notes = [], [], {}, []
    for study in suite.studies:
        space = get_space(study.space, **study.space_options)
        truth, gt, metric = study_truth(study, space)
        variants = study.variants()
        for variant, var in variants:
            plan = plan_proxies(var.proxies)
            label = study.name if len(variants) == 1 else f"{study.name}/{variant}"
            col = Column(label, var, variant, metric, plan)
            keys = label_keys(var, space, plan)
            scored = [s.label for s in plan.scored]
            scoring = scoring_id(scoring_of(var))
            for seed in study.seeds:
                arch_objs = study_archs(var, space, gt, seed)
                archs = [str(a) for a in arch_objs]
                col.notes += [n for n in check_population(var, plan, len(archs)) if n not in col.notes]
                by_key: dict[str, dict[str, Any]] = {}
                for r in store.rows(scoring=scoring, seed=seed):
                    by_key.setdefault(r.proxy, {})[r.arch] = r
                recs = []
                base: dict[str, dict[str, float]] = {}
                nonfinite: dict[str, dict[str, float]] = {}
                specs = {sp.label: sp for sp in plan.scored}
                for lab in scored:
                    stored = by_key.get(keys[lab], {})
                    base[lab] = {}
                    for a in archs:
                        r = stored.get(a)
                        if r is None:
                            recs.append((seed, a, lab, math.nan, "unscored", "", math.nan))
                            continue
                        v = math.nan if r.value is None else float(r.value)
                        if r.status == "nonfinite" and var.nonfinite == "naslib":  # NASLib's ZeroCost.query
                            v = naslib_nonfinite_value(specs[lab].proxy, specs[lab].options)
                        recs.append((seed, a, lab, v, r.status, r.message, r.seconds))
                        if r.status == "ok" and np.isfinite(v):
                            base[lab][a] = v
                        elif r.status == "nonfinite":  # stored -inf/NaN: AZ-NAS ranks them last
                            nonfinite.setdefault(lab, {})[a] = math.nan if r.value is None else float(r.value)
                try:
                    population = derive(plan, base, archs, truth, seed, theta_sizes(var, space, plan, arch_objs),
                                        nonfinite=nonfinite)
                except ValueError as exc:
                    raise type(exc)(f"{label}, seed {seed}: {exc}") from None
                for spec, _ in plan.derived:
                    values, used, skipped = population[spec.label]
                    derived_used[(label, spec.label, seed)] = used
                    for a in archs:
                        if a in values:
                            v = values[a]
                            recs.append((seed, a, spec.label, v, "ok" if np.isfinite(v) else "nonfinite", "", 0.0))
                        elif a not in skipped:  # LIBRA's calibration split gets no score
                            recs.append((seed, a, spec.label, math.nan, "failed", "not computed: a base proxy has "
                                         "no finite score here (or, for LIBRA, no ground truth)", 0.0))
                f = pd.DataFrame(recs, columns=["seed", "arch", "proxy", "value", "status", "message", "seconds"])
                f["truth"] = f["arch"].map(truth).astype(float)
                parts.append(f.assign(column=label, study=study.name, variant=variant, metric=metric,
                                      space=study.space, task=study.task))
            columns.append(col)
    frame = pd.concat(parts, ignore_index=True)[SCORE_COLUMNS] if parts else pd.DataFrame(columns=SCORE_COLUMNS)
    return columns, frame, derived_used, notes


def _correlations(columns: list[Column], frame: pd.DataFrame, references: dict) -> tuple[pd.DataFrame, dict]:
    """One row per (column, proxy, seed), and the bootstrap distributions of Spearman for the
    summary's CI over seeds."""
    rows, boots = [], {}
    for col in columns:
        cf = frame[frame["column"] == col.label]
        labels = [s.label for s in col.plan.scored] + [s.label for s, _ in col.plan.derived]
        ref = references.get(col.label, {})
        for lab in labels:
            for seed, g in cf[cf["proxy"] == lab].groupby("seed", sort=True):
                ok = usable(g)
                s, t = g.loc[ok, "value"].to_numpy(float), g.loc[ok, "truth"].to_numpy(float)
                boot = stats.bootstrap(s, t)
                point = stats.correlate(s, t)
                rec = {"column": col.label, "study": g["study"].iat[0], "variant": col.variant, "metric": col.metric,
                       "space": col.study.space, "task": col.study.task, "proxy": lab, "seed": int(seed),
                       "n": int(ok.sum()), **point}
                for k in ("spearman", "kendall"):
                    rec[f"{k}_lo"], rec[f"{k}_hi"] = stats.interval(boot[k])
                rec["reference_spearman"] = math.nan
                if lab in ref:
                    archs = g.loc[ok, "arch"]
                    rv = archs.map(ref[lab]).to_numpy(float)
                    fine = np.isfinite(rv)
                    if fine.sum() >= 3:
                        rec["reference_spearman"] = stats.correlate(rv[fine], t[fine])["spearman"]
                rec.update(n_distinct=int(len(np.unique(s))), constant=bool(len(s) and stats.is_constant(s)),
                           n_nonfinite=int((g["status"] == "nonfinite").sum()),
                           n_failed=int((g["status"] == "failed").sum()),
                           n_no_truth=int((~np.isfinite(g["truth"])).sum()),
                           n_unscored=int((g["status"] == "unscored").sum()))
                rows.append(rec)
                boots[(col.label, lab, int(seed))] = boot["spearman"]
    out = pd.DataFrame(rows, columns=CORR_COLUMNS)
    return out, boots


def _paired_vs_best(columns, frame, summary) -> pd.DataFrame:
    """For each column, the paired bootstrap test of every proxy against the column's best one
    (by mean Spearman): Δρ = ρ(proxy) − ρ(best) on the architectures both scored, and p."""
    out = []
    for col in columns:
        rows = summary[summary["column"] == col.label]
        rows = rows[np.isfinite(rows["spearman_mean"])]
        if rows.empty:
            continue
        best = rows.sort_values("spearman_mean", ascending=False)["proxy"].iat[0]
        for lab in rows["proxy"]:
            out.append({"column": col.label, "proxy": lab, "best": best,
                        **paired(frame, col.label, lab, best)})
    return pd.DataFrame(out)


def paired(frame: pd.DataFrame, column: str, a: str, b: str) -> dict[str, float]:
    """The paired bootstrap test of proxy ``a`` against ``b`` in one column of a scores frame
    (:func:`experiments.stats.paired_test`): per seed, the architectures where both are usable."""
    cf = frame[(frame["column"] == column) & usable(frame)]
    per_seed = []
    for _, g in cf.groupby("seed", sort=True):
        sa = g[g["proxy"] == a].set_index("arch")
        sb = g[g["proxy"] == b].set_index("arch")
        common = sa.index.intersection(sb.index).sort_values()
        per_seed.append((sa.loc[common, "value"].to_numpy(float), sb.loc[common, "value"].to_numpy(float),
                         sa.loc[common, "truth"].to_numpy(float)))
    return stats.paired_test(per_seed)


def _summary(columns, corr: pd.DataFrame, boots: dict) -> pd.DataFrame:
    """Mean and std over seeds per (column, proxy), the 95 % CI of the seed-mean Spearman (its
    per-seed bootstrap distributions averaged), sorted by mean Spearman within a column."""
    out = []
    for col in columns:
        cc = corr[corr["column"] == col.label]
        for lab, g in cc.groupby("proxy", sort=False):
            sp, kt = g["spearman"].to_numpy(float), g["kendall"].to_numpy(float)
            seeds = len(g)
            bs = [boots[(col.label, lab, int(s))] for s in g["seed"]]
            if all(len(b) for b in bs) and bs:
                lo, hi = stats.interval(np.mean(bs, axis=0))
            else:
                lo = hi = math.nan
            fin = np.isfinite(sp)
            out.append({
                "column": col.label, "proxy": lab, "seeds": seeds, "n": int(np.median(g["n"])),
                "n_min": int(g["n"].min()), "n_max": int(g["n"].max()),
                "spearman_mean": float(np.mean(sp[fin])) if fin.any() else math.nan,
                "spearman_std": float(np.std(sp[fin])) if fin.sum() > 1 else math.nan,
                "spearman_lo": lo, "spearman_hi": hi,
                "kendall_mean": float(np.nanmean(kt)) if np.isfinite(kt).any() else math.nan,
                "kendall_std": float(np.nanstd(kt)) if np.isfinite(kt).sum() > 1 else math.nan,
                "reference_spearman": float(np.nanmean(g["reference_spearman"]))
                if np.isfinite(g["reference_spearman"]).any() else math.nan,
                "n_nonfinite": int(g["n_nonfinite"].sum()), "n_failed": int(g["n_failed"].sum()),
                "n_no_truth": int(g["n_no_truth"].max()), "n_unscored": int(g["n_unscored"].max()),
                "constant": bool(g["constant"].all() and g["n"].max() > 0),
            })
    s = pd.DataFrame(out)
    if s.empty:
        return s
    order = {c.label: i for i, c in enumerate(columns)}
    s["_c"] = s["column"].map(order)
    s["_r"] = -s["spearman_mean"].fillna(-9)
    return s.sort_values(["_c", "_r"], kind="stable").drop(columns=["_c", "_r"]).reset_index(drop=True)


def build(suite: Suite, store: Store) -> Report:
    columns, frame, derived_used, notes = collect(suite, store)
    references = {}
    from search_spaces.base import get_space

    for col in columns:
        references[col.label] = _reference(col.study, get_space(col.study.space, **col.study.space_options), col.plan)
    corr, boots = _correlations(columns, frame, references)
    summary = _summary(columns, corr, boots)
    corr, top = _with_top(Report(suite, columns, frame, corr, summary, [], {}), corr)
    if not summary.empty:
        vs = _paired_vs_best(columns, frame, summary)
        if not vs.empty:
            summary = summary.merge(vs.rename(columns={"diff": "vs_best_diff", "diff_lo": "vs_best_lo",
                                                       "diff_hi": "vs_best_hi", "p": "vs_best_p"})
                                    .drop(columns=["seeds"]), on=["column", "proxy"], how="left")
    more, warnings = _notes(columns, frame, summary, derived_used)
    return Report(suite, columns, frame, corr, summary, notes + more, derived_used, warnings, top)


def _with_top(report: Report, corr: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The correlations with the top-of-ranking metrics joined per (column, proxy, seed), and
    their per-(column, proxy) table (experiments.topk)."""
    from experiments import topk

    rows, boots = topk.per_seed(report)
    merged = corr.merge(rows, on=["column", "proxy", "seed"], how="left")[CORR_COLUMNS + TOP_COLUMNS]
    return merged, topk.summary(report, rows, boots)


def load_report(out: str | Path, overrides: list[str] | None = None, studies: list[str] | None = None) -> Report:
    path = Path(out) / "results.sqlite"
    if not path.is_file():
        raise ResultsNotFoundError(f"no results at {path}; run `zcbench run CONFIG.yaml --out {out}` first")
    with Store(path, write=False) as store:
        return build(stored_suite(store, overrides, studies), store)


def scores_frame(out: str | Path, overrides: list[str] | None = None) -> pd.DataFrame:
    """One row per (column, seed, architecture, proxy) of the folder ``out``: the score, its
    status and message, and the column's ground truth (NaN where the file lacks the
    architecture). ``overrides``: ``--set`` strings, e.g. ``["ground_truth.metric=val_accuracy"]``."""
    return load_report(out, overrides).scores


def correlations_frame(out: str | Path, overrides: list[str] | None = None) -> pd.DataFrame:
    """One row per (column, proxy, seed): n, Spearman and Kendall with bootstrap 95 % CIs,
    |Pearson|, NB-Suite-Zero's own Spearman on the same architectures where its file holds the
    proxy, the counts of scores left out (non-finite, failed, no ground truth, unscored), and
    the top-of-ranking metrics with their CIs (precision at the top 5 % and 10 %, Kendall
    within the top 10 %, the true percentile of the proxy's best network; experiments.topk)."""
    return load_report(out, overrides).correlations


def top_frame(out: str | Path, overrides: list[str] | None = None) -> pd.DataFrame:
    """One row per (column, proxy): the top-of-ranking metrics, mean over seeds with the 95 %
    CI of that mean (``top_of_ranking.csv``)."""
    return load_report(out, overrides).top


def ranks_frame(out: str | Path, overrides: list[str] | None = None) -> pd.DataFrame:
    """One row per proxy, best first: its mean rank over the suite's columns (over seeds for a
    suite of one column), the Nemenyi p-value against the top-ranked proxy and whether it is
    within the critical difference of it (``ranks.csv``); empty where the Friedman test is
    refused (experiments.ranking says why)."""
    from experiments import ranking

    return ranking.ranks_frame(ranking.suite_ranking(load_report(out, overrides)))


# ----------------------------------------------------------------------------- notes

def _notes(columns, frame, summary, derived_used) -> tuple[list[str], list[str]]:
    notes, warnings = [], []
    for col in columns:
        cf = frame[frame["column"] == col.label]
        lines = list(col.notes)
        per_seed = cf.drop_duplicates(["seed", "arch"])
        no_truth = per_seed[~np.isfinite(per_seed["truth"])]
        if len(no_truth):
            k = no_truth.groupby("seed").size()
            lines.append(f"{int(k.max())} of {int(per_seed.groupby('seed').size().max())} evaluated architectures "
                         f"(per seed) have no {col.metric or 'ground truth'} value and are left out of every "
                         f"correlation")
        unscored = cf[cf["status"] == "unscored"]
        if len(unscored):
            lines.append(f"{unscored['arch'].nunique()} architectures have no stored score for "
                         f"{sorted(unscored['proxy'].unique())}: run `zcbench run` with this config to score them")
        rows = summary[summary["column"] == col.label] if not summary.empty else summary
        bad = []
        for lab, g in cf.groupby("proxy", sort=False):
            failed = g[g["status"] == "failed"]
            if len(g) and len(failed) == len(g):
                bad.append(lab)
                lines.append(f"{lab} failed on every architecture: {failed['message'].iat[0][:200]}")
        const = [r["proxy"] for _, r in rows.iterrows() if r["constant"]] if len(rows) else []
        if len(rows) and len(const) + len(bad) >= 3 and len(const) + len(bad) > len(rows) / 2:
            lines.append(f"{len(const)} proxies give the same score for every architecture and {len(bad)} fail on "
                         f"all of them: the input batch may be degenerate (identical images, or data.size too "
                         f"small for the network); scores equal up to a relative {stats.CONSTANT_RTOL:g} count as "
                         f"constant")
        warnings += [f"{col.label}: {l}" for l in lines if l not in col.notes]
        for spec, bases in col.plan.derived:
            useds = [(seed, derived_used.get((col.label, spec.label, seed))) for seed in col.study.seeds]
            useds = [(s, u) for s, u in useds if u]
            missing = [u.get("n_missing", 0) for _, u in useds]
            if any(missing):
                lines.append(f"{spec.label}: computed on the architectures where its base proxies all have a finite "
                             f"score; {min(missing)} to {max(missing)} per seed lack one and get none"
                             if min(missing) != max(missing) else
                             f"{spec.label}: computed on the architectures where its base proxies all have a finite "
                             f"score; {missing[0]} per seed lack one and get none")
            for seed, u in useds:
                shown = {k: _short(v) for k, v in u.items() if k != "n_missing"}
                if shown:
                    lines.append(f"`{spec.label}` seed {seed}: {shown}")
        if lines:
            notes += [f"**{col.label}**", ""] + [f"- {l}" for l in lines] + [""]
    return notes, warnings


# ----------------------------------------------------------------------------- formatting

def _short(v):
    """Floats of a note to 4 significant digits, in nested lists and mappings too."""
    if isinstance(v, float):
        return float(f"{v:.4g}")
    if isinstance(v, dict):
        return {k: _short(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_short(x) for x in v]
    return v


def _f(x: float, digits: int = 3) -> str:
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
            rec["NB-Suite-Zero ρ"] = _f(r["reference_spearman"])
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
    text["mean over columns"] = [_f(v) for v in m.mean(axis=1, skipna=True)]
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
            title = f"{label_of(col, proxy)}\nρ={_f(r, 2)} (seed {seed})"
            if len(col.study.seeds) > 1:
                title += f", mean {_f(mean.get(proxy, math.nan), 2)}"
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


# ----------------------------------------------------------------------------- writing

def export(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame by the file's suffix: .csv, .md, .tex or .parquet (needs pyarrow:
    ``pip install zcbench[parquet]``)."""
    path = Path(path)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False, float_format="%.6f")
    elif path.suffix == ".md":
        path.write_text(frame.to_markdown(index=False) + "\n")
    elif path.suffix == ".tex":
        path.write_text(frame.to_latex(index=False, escape=True))
    elif path.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ConfigError("Parquet export needs pyarrow: pip install 'zcbench[parquet]' (or pip install pyarrow)"
                              ) from None
        frame.to_parquet(path, index=False)
    else:
        raise ConfigError(f"cannot export to {path.name}: use .csv, .md, .tex or .parquet")
    return path


def write_reports(suite: Suite | Study, store: Store, out: Path, *, parquet: bool = False) -> dict[str, Any]:
    """Build the report of ``suite`` (or one study) from ``store`` and write correlations.csv,
    summary.csv, summary.md, summary.tex, heatmap.png and the scatter plots into ``out``
    (with ``parquet``, scores.parquet and correlations.parquet too)."""
    if isinstance(suite, Study):
        suite = Suite(suite.name, [suite], {"name": suite.name, "studies": [suite.name]})
    out = Path(out)
    report = build(suite, store)
    files = [export(report.correlations, out / "correlations.csv")]
    files.append(export(report.summary, out / "summary.csv"))
    (out / "summary.md").write_text(markdown(report))
    (out / "summary.tex").write_text(latex(report))
    files += [out / "summary.md", out / "summary.tex"]
    if not report.summary.empty:
        heatmap(report, out / "heatmap.png", title=suite.name)
        files.append(out / "heatmap.png")
    files += _suite_files(report, out)
    scatters = scatter(report, out)
    files += scatters
    if parquet:
        files += [export(report.scores, out / "scores.parquet"), export(report.correlations, out / "correlations.parquet")]
    return {"report": report, "records": report.correlations.to_dict("records"),
            "summary": report.summary.to_dict("records"), "scatter": scatters, "files": files}


def _suite_files(report: Report, out: Path) -> list[Path]:
    """ranks.csv and cd_diagram.png (experiments.ranking); no diagram where the test is refused."""
    from experiments import ranking

    rk = ranking.suite_ranking(report)
    files = [export(ranking.ranks_frame(rk), out / "ranks.csv")]
    if report.top is not None:
        files.append(export(report.top, out / "top_of_ranking.csv"))
    stale = out / "cd_diagram.png"
    if ranking.cd_diagram(rk, stale, title=report.suite.name):
        files.append(stale)
    elif stale.exists():
        stale.unlink()  # an earlier report's diagram would contradict this one
    return files


def reg_swap_grid(study: Study, store: Store, mus: list[float], sigmas: list[float], *, theta_unit: str = "M",
                  swap_label: str = "swap", params_label: str = "params",
                  theta: str = "benchmark") -> list[dict[str, Any]]:
    """Spearman of reg-SWAP for every (µ, σ) from stored swap and params scores (no scoring),
    like the SWAP paper's Tables 4-6; mean and std over seeds, per variant. Θ counts the
    ground truth's own network (``theta: benchmark``, as reg_swap does) or the scored one
    (``scorer``: the stored params)."""
    from experiments.inputs import benchmark_params, theta_network
    from zc_proxies.swap import reg_swap_combine

    suite = Suite(study.name, [study], {})
    columns, frame, _, _ = collect(suite, store)
    out = []
    for column, cf in frame.groupby("column", sort=False):
        variant = cf["variant"].iat[0]
        st = next(c.study for c in columns if c.label == column)
        net = theta_network(st.space, st.space_options, st.task, st.ground_truth["network"]) \
            if theta == "benchmark" else None
        per_seed = []
        for _, g in cf[usable(cf)].groupby("seed", sort=True):
            sw = g[g["proxy"] == swap_label].set_index("arch")
            pa = g[g["proxy"] == params_label].set_index("arch")
            common = sw.index.intersection(pa.index).sort_values()
            if len(common):
                size = pa.loc[common, "value"].to_numpy(float)
                if net is not None:
                    bench = benchmark_params(net[0], net[1], [net[0].parse(a) for a in common])
                    size = np.array([bench[a] for a in common])
                per_seed.append((sw.loc[common, "value"].to_numpy(float), size,
                                 sw.loc[common, "truth"].to_numpy(float)))
        if not per_seed:
            raise ConfigError(f"no stored {swap_label!r} and {params_label!r} scores with ground truth in "
                             f"{store.path} (variant {variant}); run the study with both proxies first")
        for mu in mus:
            for sigma in sigmas:
                rhos = [stats.correlate(reg_swap_combine(s, p, mu=mu, sigma=sigma, theta_unit=theta_unit)[0],
                                        t)["spearman"] for s, p, t in per_seed]
                out.append({"variant": variant, "mu": mu, "sigma": sigma, "theta_unit": theta_unit,
                            "spearman_mean": float(np.nanmean(rhos)), "spearman_std": float(np.nanstd(rhos)),
                            "seeds": len(rhos), "n": len(per_seed[0][0])})
    return out
