"""The report's data: a suite's stored scores read back into tidy pandas DataFrames, with the
population-level proxies derived per column, the ground truth joined, and the correlations,
summary and notes computed. Everything is rebuilt from ``results.sqlite`` alone (the configs are
stored with the scores), so ``zcbench report DIR`` can report the same scores against other
ground truth. The interface for notebooks::

    from experiments.frames import scores_frame, correlations_frame   # also from experiments.report
    scores = scores_frame("zcbench-out")        # one row per (column, seed, architecture, proxy)
    corr = correlations_frame("zcbench-out")    # one row per (column, proxy, seed), with CIs

A *column* is one study (one space, task and ground-truth metric; one per variant of an
ablation), as in the papers' heatmaps. Population-level proxies (reg_swap, tenas, the
ensembles, LIBRA) are computed here from the stored per-network scores of each column's
population, never stored (they depend on the population, and LIBRA on the ground truth).
Turned into text by :mod:`experiments.render`, into figures by :mod:`experiments.plots`, and
written into files by :mod:`experiments.report`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import zc_proxies
from experiments import stats
from experiments.config import ConfigError, Study, Suite, apply_overrides, parse_study
from experiments.store import ResultsNotFoundError, Store
from experiments.tidy import usable

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



def _short(v):
    """Floats of a note to 4 significant digits, in nested lists and mappings too."""
    if isinstance(v, float):
        return float(f"{v:.4g}")
    if isinstance(v, dict):
        return {k: _short(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_short(x) for x in v]
    return v


