"""Layer calibration for L-SWAG: choose the depth-percentile interval
[l1, l2] of a study's space and task on architectures that the study never evaluates.

Protocol (:func:`calibrate_layers`):

1. The calibration pool is every ground-truth architecture that the study does *not* score
   for any of its seeds (and any ablation variant); ``n`` of them (default min(200, pool))
   are drawn with ``random.Random(seed)``. Without ground truth there is no Spearman to
   select on, and a study that evaluates every ground-truth architecture leaves no pool:
   both are errors that say what to change.
2. Each calibration network is built and probed as ``zcbench run`` does it (``seeded_build``
   with the calibration seed, the study's first data batch, its loss and number of classes,
   probe seed ``derive_seed(seed, arch, "probe")``). The chunk_grads and codes signals are
   computed once per network (:func:`zc_proxies.lswag.lswag_parts`): the per-layer log terms
   of Λ with their bins, and for every interval of call bins its Ψ.
3. Per percentile bin: mean ± std of the per-layer log term over all (architecture, layer)
   pairs in the bin (the paper's Fig. 2b), and the Spearman with the ground truth of L-SWAG
   restricted to that bin, L-SWAG(b, b) (Fig. 2a); ``spearman_lambda`` is that of Λ(b, b) alone.
4. Grid search over l1 <= l2 of the Spearman of L-SWAG(l1, l2) on the calibration
   architectures. Only intervals defined on every calibration network are candidates (an
   interval empty for some network would make the study fail there); the first maximum in
   (l1, l2) order wins.

The lswag options other than l1/l2 (grad_stat, perc_bins, chunks, SWAP options,
psi_from_first_layer) are those of the study's first ``lswag`` proxy entry, else the defaults.

Writes ``layer_calibration.png``, ``layer_calibration.csv`` and ``layers.yaml`` into the
output folder.
"""
from __future__ import annotations

import csv
import math
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

from zc_proxies.errors import UsageError

CSV_COLUMNS = ["bin", "n_layers", "mean", "std", "spearman", "n_archs", "spearman_lambda"]


def _spearman(scores, truth) -> float:
    from scipy import stats

    s = np.asarray(scores, dtype=float)
    t = np.asarray(truth, dtype=float)
    ok = np.isfinite(s) & np.isfinite(t)
    s, t = s[ok], t[ok]
    if len(s) < 3 or np.ptp(s) == 0 or np.ptp(t) == 0:
        return math.nan
    return float(stats.spearmanr(s, t).statistic)


def _lswag_options(study) -> dict[str, Any]:
    import zc_proxies

    info = zc_proxies.get_proxy("lswag")
    spec = next((s for s in study.proxies if s.proxy == "lswag"), None)
    return info.options(spec.options if spec is not None else {})


def calibration_pool(study, space, gt) -> tuple[list, int]:
    """(ground-truth architectures no seed or variant of ``study`` evaluates, how many were
    excluded)."""
    from experiments.config import ConfigError
    from experiments.inputs import study_archs

    if gt is None:
        raise ConfigError(
            f"layer calibration needs ground truth to select l1, l2 by Spearman, and study {study.name!r} has "
            "none: set ground_truth.path to a CSV of architectures and accuracies of this space and task")
    evaluated = set()
    for _, var in study.variants():
        for seed in study.seeds:
            evaluated.update(study_archs(var, space, gt, seed))
    pool = [a for a in gt.values if a not in evaluated]
    excluded = len(gt.values) - len(pool)
    if not pool:
        raise ConfigError(
            f"the study evaluates all {len(gt.values)} ground-truth architectures (archs.n is "
            f"{study.archs['n']!r}), so none is left for calibration; set archs.n smaller than the ground truth "
            f"(< {len(gt.values)}) so that a calibration pool of architectures the study never scores remains")
    return pool, excluded


def calibrate_layers(study, out_dir, *, n: int | None = None, seed: int = 0, progress: bool = True,
                     device: str | None = None) -> dict:
    """Choose L-SWAG's (l1, l2) for ``study``'s space and task on a disjoint calibration split;
    write the per-bin table, its figure and ``layers.yaml`` into ``out_dir``; return the values.
    Scored on ``device`` (default: the study's ``device``)."""
    from tqdm import tqdm

    from experiments.devices import resolve_device, setup
    from experiments.inputs import load_ground_truth, study_probe
    from experiments.runner import Context
    from zc_proxies.lswag import lswag_parts

    ctx = Context(study, device=resolve_device(device or study.device))
    setup(ctx.device, tf32=study.tf32)
    space = ctx.space
    gt = load_ground_truth(study, space)
    pool, excluded = calibration_pool(study, space, gt)
    if n is None:
        n = min(200, len(pool))
    if isinstance(n, bool) or not isinstance(n, int) or n < 3:
        raise UsageError(f"n must be an integer >= 3 (a Spearman needs 3 architectures), not {n!r}")
    if n > len(pool):
        raise UsageError(f"n={n} calibration architectures asked for, but only {len(pool)} ground-truth "
                         f"architectures are outside the study's evaluated ones ({excluded} excluded)")
    archs = random.Random(seed).sample(pool, n)
    metric = study.ground_truth["metric"] or gt.metrics[0]
    table = gt.metric(metric)
    missing = [a for a in archs if a not in table]
    if missing:
        raise UsageError(f"calibration architecture {missing[0]} has no {metric!r} in {gt.source}")
    truth = np.array([table[a] for a in archs], dtype=float)

    opts = _lswag_options(study)
    perc_bins = opts["perc_bins"]
    psi_first = bool(opts["psi_from_first_layer"])
    first_label = next(iter(ctx.variants))
    x, y = ctx.batch(first_label, study.seeds[0])

    parts = []
    bar = tqdm(archs, desc=f"calibrate {study.name}", unit="arch", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    try:
        for arch in bar:
            probe = study_probe(space, arch, study.task, seed, x, y, ctx.device)
            try:
                parts.append(lswag_parts(probe, **opts))
            except Exception as exc:
                raise UsageError(f"lswag cannot be computed on calibration architecture {arch}: "
                                 f"{type(exc).__name__}: {exc}") from exc
    finally:
        bar.close()

    def scores(l1, l2, lambda_only=False):
        out = np.full(len(parts), np.nan)
        for i, p in enumerate(parts):
            if p.defined(l1, l2, psi_first):
                out[i] = p.lambda_(l1, l2) if lambda_only else p.score(l1, l2, psi_first)
        return out

    bins = []
    for b in range(perc_bins + 1):
        terms = np.array([t for p in parts for t, lb in zip(p.lambda_terms, p.layer_bins) if lb == b], dtype=float)
        finite = terms[np.isfinite(terms)]
        s = scores(b, b)
        bins.append({
            "bin": b, "n_layers": int(finite.size),
            "mean": float(finite.mean()) if finite.size else math.nan,
            "std": float(finite.std()) if finite.size else math.nan,
            "spearman": _spearman(s, truth), "n_archs": int(np.isfinite(s).sum()),
            "spearman_lambda": _spearman(scores(b, b, lambda_only=True), truth),
        })

    grid: dict[tuple[int, int], float] = {}
    best = None
    for l1 in range(perc_bins + 1):
        for l2 in range(l1, perc_bins + 1):
            s = scores(l1, l2)
            if not np.isfinite(s).all():
                continue  # empty on some calibration network
            rho = _spearman(s, truth)
            grid[(l1, l2)] = rho
            if np.isfinite(rho) and (best is None or rho > best[2]):
                best = (l1, l2, rho)
    if best is None:
        raise UsageError("no interval [l1, l2] gives a defined Spearman on the calibration architectures "
                         "(constant scores or constant ground truth); use more calibration architectures")
    l1, l2, rho = best

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "space": study.space, "task": study.task, "l1": int(l1), "l2": int(l2), "spearman": float(rho),
        "calibration": {"n": len(archs), "seed": int(seed), "excluded": int(excluded), "pool": len(pool),
                        "metric": metric, "perc_bins": int(perc_bins), "psi_from_first_layer": psi_first,
                        "grad_stat": opts["grad_stat"]},
    }
    _write_yaml(out / "layers.yaml", result)
    _write_csv(out / "layer_calibration.csv", bins)
    _plot(out / "layer_calibration.png", bins, l1, l2, rho, study)
    return {**result, "bins": bins, "grid": grid, "archs": [str(a) for a in archs],
            "files": {k: str(out / k) for k in ("layers.yaml", "layer_calibration.csv", "layer_calibration.png")}}


def _write_yaml(path: Path, result: dict) -> None:
    import yaml

    head = (f"# L-SWAG layer interval chosen by `zcbench calibrate-layers` on {result['calibration']['n']} "
            f"architectures the study does not evaluate.\n"
            f"# Use it in the study's proxies as:  - lswag: {{l1: {result['l1']}, l2: {result['l2']}}}\n")
    path.write_text(head + yaml.safe_dump(result, sort_keys=False))


def _write_csv(path: Path, bins: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for r in bins:
            w.writerow({k: (f"{r[k]:.6g}" if isinstance(r[k], float) else r[k]) for k in CSV_COLUMNS})


def _plot(path: Path, bins: list[dict], l1: int, l2: int, rho: float, study) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = np.array([r["bin"] for r in bins])
    mean = np.array([r["mean"] for r in bins])
    std = np.array([r["std"] for r in bins])
    sp = np.array([r["spearman"] for r in bins])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.errorbar(b, mean, yerr=std, fmt="o-", capsize=3)
    ax1.set_xlabel("depth percentile bin")
    ax1.set_ylabel("per-layer log Σ 1/σ (Λ term)")
    ax1.set_title("Λ term per bin (mean ± std)")
    ax2.bar(b, np.nan_to_num(sp), color=["C1" if l1 <= x <= l2 else "C0" for x in b])
    ax2.axhline(0, color="k", lw=0.5)
    ax2.set_xlabel("depth percentile bin")
    ax2.set_ylabel("Spearman ρ")
    ax2.set_title("L-SWAG restricted to one bin")
    for ax in (ax1, ax2):
        ax.axvspan(l1 - 0.5, l2 + 0.5, color="C1", alpha=0.1)
        ax.set_xticks(b)
    fig.suptitle(f"{study.name}: {study.space}/{study.task}, chosen [l1, l2] = [{l1}, {l2}] (ρ = {rho:.3f})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
