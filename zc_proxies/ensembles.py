"""Ensembles over a population of stored scores: the mean rank or the sum of log-ranks of any
proxy list, and LIBRA (Casarin, Escalera, Lanz, CVPR 2025).

They are population-level proxies (:mod:`zc_proxies.population`): a study scores their base
proxies per network, then combines the stored scores of each (variant, seed) population. Base scores arrive oriented so that higher is
better (a proxy registered with ``higher_is_better=False``, such as ``ntk``, is negated first).

``rank_mean``: the mean of the base proxies' ranks (1 = worst ... n = best, ties share the
average rank). ``log_rank_mean``: Σ log(rank / n) with the same ranks, the aggregation AZ-NAS
applies to its own four proxies, here over any list (it was called ``az_nas`` before zcbench had
AZ-NAS itself, which is ``zc_proxies.aznas``). Both default to ``proxies: [swap, synflow, zico]``.

``libra``: LIBRA's triad of proxies, chosen on a *calibration split* of the population and evaluated
on the disjoint rest (the calibration architectures get no libra score, so they are outside its
correlation). On the calibration split, with the ground truth y:

1. z1 = the candidate with the highest Spearman ρ with y;
2. the window = candidates h ≠ z1 with ρ_best − ``window`` < ρ_h ≤ ρ_best;
3. z2 = the window member with the minimum information gain IG(h) = H(y | z1) − H(y | z1, h),
   entropies in bits, plug-in, every variable discretised into equal-width bins by
   ``numpy.histogram_bin_edges(x, bins=binning)`` (``sturges`` by default);
4. z3 = the remaining window member whose bias Spearman(h, params) is closest to the bias of
   the ground truth, Spearman(y, params) (bias *matching*);
5. the triad's scores are merged over the evaluation split: ``merge="rank_mean"`` (default,
   the spec's choice, since the paper does not say), ``"log_rank"``, ``"zscore"`` (sum of
   z-scores) or ``"minmax_product"``.

Ties break by name. An empty window gives {z1}; a window of one gives {z1, z2}. The triad, the
ρ and IG values and the split sizes are returned in ``used`` and stored with the results.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from zc_proxies.errors import UsageError
from zc_proxies.population import Base, Combined, Population, register_population_proxy

MERGES = ("rank_mean", "log_rank", "zscore", "minmax_product")
BINNINGS = ("sturges", "fd", "auto", "doane", "scott", "rice", "sqrt")
ENSEMBLE_DEFAULTS = {"proxies": ["swap", "synflow", "zico"]}
LIBRA_DEFAULTS = {"proxies": "all", "calibration": 100, "calibration_seed": 0, "window": 0.1,
                  "binning": "sturges", "merge": "rank_mean", "params_proxy": "params"}
LIBRA_PAPER = "Casarin, Escalera, Lanz, LIBRA, CVPR 2025"


def ranks(values) -> np.ndarray:
    """1 = lowest ... n = highest, ties share the average rank."""
    return stats.rankdata(np.asarray(values, dtype=float), method="average")


def merge_scores(columns: list[np.ndarray], how: str) -> np.ndarray:
    """One score per architecture from several oriented score columns (higher is better)."""
    if how not in MERGES:
        raise UsageError(f"merge must be one of {MERGES}, not {how!r}")
    cols = [np.asarray(c, dtype=float) for c in columns]
    n = len(cols[0])
    if how == "rank_mean":
        return np.mean([ranks(c) for c in cols], axis=0)
    if how == "log_rank":
        return np.sum([np.log(ranks(c) / n) for c in cols], axis=0)
    if how == "zscore":
        return np.sum([(c - c.mean()) / (c.std() or 1.0) for c in cols], axis=0)
    out = np.ones(n)
    for c in cols:
        span = np.ptp(c)
        out = out * ((c - c.min()) / span if span else np.ones(n))
    return out


def _columns(matrix: dict[str, np.ndarray], proxies: list[str]) -> list[np.ndarray]:
    missing = [p for p in proxies if p not in matrix]
    if missing:
        raise UsageError(f"no stored scores for {missing}; stored: {sorted(matrix)}")
    return [matrix[p] for p in proxies]


def _check_list(name: str, proxies) -> list[str]:
    if isinstance(proxies, str) or not proxies or not all(isinstance(p, str) for p in proxies):
        raise UsageError(f"{name} needs 'proxies': a list of at least one proxy label, not {proxies!r}")
    return list(proxies)


def rank_mean_combine(matrix: dict[str, np.ndarray], *, proxies, **_) -> tuple[np.ndarray, dict]:
    proxies = _check_list("rank_mean", proxies)
    return merge_scores(_columns(matrix, proxies), "rank_mean"), {"proxies": proxies}


def log_rank_mean_combine(matrix: dict[str, np.ndarray], *, proxies, **_) -> tuple[np.ndarray, dict]:
    proxies = _check_list("log_rank_mean", proxies)
    return merge_scores(_columns(matrix, proxies), "log_rank"), {"proxies": proxies}


def _ensemble_bases(opts: dict, study_labels: list[str], *, all_allowed: bool = False,
                    extra: tuple[str, ...] = ()) -> tuple[Base, ...]:
    """A base per label of ``proxies`` (``"all"``, where allowed: every per-network proxy of the
    study), then ``extra`` (LIBRA's parameter-count proxy), each once."""
    names = opts["proxies"]
    if names == "all" and all_allowed:
        names = list(study_labels)
    elif isinstance(names, str) or not isinstance(names, list) or not names:
        raise UsageError("'proxies' must be a list of proxy labels" + (" or 'all'" if all_allowed else "")
                         + f", not {names!r}")
    return tuple(Base(n, label=n) for n in dict.fromkeys(list(names) + list(extra)))


@register_population_proxy("rank_mean", bases=_ensemble_bases, family="ensemble", orient=True,
                           paper="rank aggregation (mean rank)", defaults=ENSEMBLE_DEFAULTS)
def rank_mean(population: Population, **opts) -> Combined:
    """Mean rank of a list of proxies over the population."""
    return Combined(*rank_mean_combine(population.scores, **opts))


@register_population_proxy("log_rank_mean", bases=_ensemble_bases, family="ensemble", orient=True,
                           paper="rank aggregation (sum of log-ranks, as Lee, Ham, AZ-NAS, CVPR 2024 aggregates "
                                 "its own proxies)", defaults=ENSEMBLE_DEFAULTS)
def log_rank_mean(population: Population, **opts) -> Combined:
    """Sum of log-ranks, Σ log(rank / n), of a list of proxies (AZ-NAS's aggregation)."""
    return Combined(*log_rank_mean_combine(population.scores, **opts))


# ----------------------------------------------------------------------------- LIBRA

def discretise(x, binning: str = "sturges") -> np.ndarray:
    """Bin indices 0..k-1 of equal-width bins from ``numpy.histogram_bin_edges``."""
    x = np.asarray(x, dtype=float)
    edges = np.histogram_bin_edges(x, bins=binning)
    return np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)


def entropy(*labels: np.ndarray) -> float:
    """Plug-in joint entropy in bits of one or more discrete label arrays."""
    joint = np.stack([np.asarray(lab) for lab in labels], axis=1)
    _, counts = np.unique(joint, axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def information_gain(y, z1, zh, binning: str = "sturges") -> float:
    """IG(zh) = H(y | z1) − H(y | z1, zh), every variable binned with ``binning``."""
    by, b1, bh = (discretise(v, binning) for v in (y, z1, zh))
    return (entropy(by, b1) - entropy(b1)) - (entropy(by, b1, bh) - entropy(b1, bh))


def _spearman(a, b) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def libra_select(cal: dict[str, np.ndarray], truth: np.ndarray, params: np.ndarray, candidates: list[str], *,
                 window: float = 0.1, binning: str = "sturges") -> dict[str, Any]:
    """LIBRA's triad of proxies on calibration scores ``cal`` (label -> oriented scores)."""
    rho = {c: _spearman(cal[c], truth) for c in candidates}
    valid = sorted((c for c in candidates if np.isfinite(rho[c])), key=lambda c: (-rho[c], c))
    if not valid:
        raise ValueError("libra: no candidate proxy has a defined Spearman on the calibration split "
                         "(all constant); use more calibration architectures")
    z1 = valid[0]
    best = rho[z1]
    win = [c for c in valid[1:] if best - window < rho[c] <= best]
    ig = {c: information_gain(truth, cal[z1], cal[c], binning) for c in win}
    triad = [z1]
    bias_val = _spearman(truth, params)
    bias = {}
    if win:
        z2 = min(win, key=lambda c: (ig[c], c))
        triad.append(z2)
        rest = [c for c in win if c != z2]
        if rest:
            bias = {c: _spearman(cal[c], params) for c in rest}
            z3 = min(rest, key=lambda c: (abs(bias_val - bias[c]) if np.isfinite(bias[c]) else np.inf, c))
            triad.append(z3)
    return {"triad": triad, "rho": {c: round(rho[c], 4) for c in valid}, "window": win,
            "information_gain": {c: round(v, 4) for c, v in ig.items()},
            "bias_val": round(bias_val, 4) if np.isfinite(bias_val) else None,
            "bias": {c: round(v, 4) for c, v in bias.items()}}


def calibration_split(n: int, calibration, seed: int) -> np.ndarray:
    """Boolean mask of the calibration architectures among ``n``: ``calibration`` of them (an
    int, or a fraction in (0, 1)), drawn with ``numpy.random.default_rng(seed)``."""
    if isinstance(calibration, bool) or not isinstance(calibration, (int, float)) or calibration <= 0:
        raise UsageError(f"libra calibration must be a number of architectures or a fraction in (0, 1), "
                         f"not {calibration!r}")
    k = int(round(calibration * n)) if calibration < 1 else int(calibration)
    if not 3 <= k <= n - 3:
        raise UsageError(f"libra needs at least 3 calibration and 3 evaluation architectures; the population "
                         f"holds {n} and calibration={calibration!r} takes {k}")
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).choice(n, size=k, replace=False)] = True
    return mask


def libra_combine(matrix: dict[str, np.ndarray], *, truth: np.ndarray, **opts) -> tuple[np.ndarray, dict]:
    """LIBRA scores for the evaluation split (NaN on the calibration split) and what was chosen;
    options as :data:`LIBRA_DEFAULTS`, plus the study ``seed`` (default 0)."""
    values, used, _ = _libra(matrix, truth=truth, **opts)
    return values, used


def _libra(matrix: dict[str, np.ndarray], *, truth: np.ndarray, proxies="all", params_proxy: str = "params",
           calibration=100, calibration_seed: int = 0, window: float = 0.1, binning: str = "sturges",
           merge: str = "rank_mean", seed: int = 0, **_) -> tuple[np.ndarray, dict, np.ndarray]:
    """libra_combine's values and choice, and the calibration split's mask."""
    if merge not in MERGES:
        raise UsageError(f"libra merge must be one of {MERGES}, not {merge!r}")
    if binning not in BINNINGS:
        raise UsageError(f"libra binning must be one of {BINNINGS}, not {binning!r}")
    if truth is None:
        raise UsageError("libra chooses its proxies with the ground truth; the study has none")
    candidates = list(matrix) if proxies == "all" else list(proxies)
    truth = np.asarray(truth, dtype=float)
    cal = calibration_split(len(truth), calibration, calibration_seed * 1_000_003 + seed)
    chosen = libra_select({c: matrix[c][cal] for c in candidates}, truth[cal], matrix[params_proxy][cal],
                          candidates, window=window, binning=binning)
    values = np.full(len(truth), np.nan)
    values[~cal] = merge_scores([matrix[c][~cal] for c in chosen["triad"]], merge)
    used = {**chosen, "merge": merge, "binning": binning, "calibration": int(cal.sum()),
            "evaluation": int((~cal).sum()), "calibration_seed": calibration_seed}
    return values, used, cal


def _libra_sized(options: dict, n_archs: int, label: str) -> tuple[dict, str | None]:
    """A fixed calibration size that leaves fewer than 3 evaluation architectures is scaled to a
    fifth of the population (at least 3), with a note."""
    cal = {**LIBRA_DEFAULTS, **options}["calibration"]
    if not (isinstance(cal, (int, float)) and not isinstance(cal, bool) and cal >= 1 and not 3 <= cal <= n_archs - 3):
        return options, None
    if n_archs < 6:
        raise UsageError(f"{label} needs at least 6 architectures (3 to calibrate, 3 to evaluate); "
                         f"the study evaluates {n_archs}: raise archs.n or drop {label}")
    k = max(3, n_archs // 5)
    return {**options, "calibration": k}, (
        f"{label}: calibration={cal} does not fit a population of {n_archs} architectures; "
        f"calibrated on a fifth of it instead ({k}; set calibration: a number or fraction to choose)")


@register_population_proxy(
    "libra", bases=lambda opts, labels: _ensemble_bases(opts, labels, all_allowed=True, extra=(opts["params_proxy"],)),
    family="ensemble", paper=LIBRA_PAPER, defaults=LIBRA_DEFAULTS, needs_truth=True, orient=True, sized=_libra_sized)
def libra(population: Population, **opts) -> Combined:
    """LIBRA: best proxy + min-information-gain + bias-matched proxy, rank-merged."""
    values, used, cal = _libra(population.scores, truth=population.truth, seed=population.seed, **opts)
    return Combined(values, used, keep=~cal)
