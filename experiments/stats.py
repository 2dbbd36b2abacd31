"""Statistics of the reports: rank correlations with seeded bootstrap confidence intervals over
architectures, and a paired bootstrap test of whether one proxy ranks the architectures better
than another on the same architectures.

Why a paired bootstrap of the difference rather than a test for dependent correlations (Steiger's
or Williams's): those assume bivariate normal data and Pearson's r; the bootstrap needs neither,
treats Spearman and Kendall alike, handles ties, and averages over seeds by averaging the
per-seed resampled differences. Both proxies are resampled on the *same* architectures, so what
they share (the ground truth, the easy and hard cells) cancels in the difference.

Every resample is drawn from ``numpy.random.default_rng(seed)`` with a fixed seed, so a report
is the same every time it is rebuilt. Ranks are computed for all resamples at once (1000 by
default); Kendall's tau-b of a resample is computed from multinomial counts and the pairwise
sign matrix, one matrix product for all resamples.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

RESAMPLES = 1000
LEVEL = 0.95
BOOT_SEED = 0
#: scores whose relative spread (max - min) / max|score| is below this are treated as constant:
#: they differ only by floating-point noise (e.g. a proxy that sees no signal on a constant batch)
CONSTANT_RTOL = 1e-9
_KENDALL_MATRIX_MAX_N = 2500  # above, tau-b per resample with scipy (O(n log n) each)


def is_constant(scores: np.ndarray) -> bool:
    """True when the scores are equal up to floating-point noise (``CONSTANT_RTOL``)."""
    s = np.asarray(scores, dtype=float)
    if s.size == 0:
        return True
    spread = float(np.ptp(s))
    scale = float(np.max(np.abs(s)))
    return spread == 0 or spread <= CONSTANT_RTOL * scale


def correlate(scores: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Spearman, Kendall tau-b and |Pearson| (as NASLib reports it); NaN when fewer than 3
    pairs or when the scores or the truth are constant (see :func:`is_constant`)."""
    scores, truth = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    if len(scores) < 3 or is_constant(scores) or is_constant(truth):
        return {"spearman": math.nan, "kendall": math.nan, "pearson_abs": math.nan}
    return {
        "spearman": float(stats.spearmanr(scores, truth).statistic),
        "kendall": float(stats.kendalltau(scores, truth).statistic),
        "pearson_abs": float(abs(stats.pearsonr(scores, truth).statistic)),
    }


def resample_indices(n: int, resamples: int = RESAMPLES, seed: int = BOOT_SEED) -> np.ndarray:
    """(resamples, n) indices drawn with replacement; the same for the same (n, seed)."""
    return np.random.default_rng([seed, n]).integers(0, n, size=(resamples, n))


def counts(idx: np.ndarray, n: int) -> np.ndarray:
    """(resamples, n) multinomial counts: how often each architecture is drawn."""
    b = idx.shape[0]
    return np.bincount((idx + n * np.arange(b)[:, None]).ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


def _groups(v: np.ndarray, w: np.ndarray):
    """For values ``v`` and counts ``w`` (resamples x n): the order sorting ``v``, each sorted
    item's tie group, and per resample the counts before each group and in it."""
    order = np.argsort(v, kind="stable")
    vs = v[order]
    new = np.r_[True, vs[1:] != vs[:-1]]
    gid = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(v)]
    cs = np.concatenate([np.zeros((w.shape[0], 1)), np.cumsum(w[:, order], axis=1)], axis=1)
    before = cs[:, starts]
    size = cs[:, ends] - before
    return order, gid, before, size


def weighted_ranks(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties share their mean rank) of each architecture within every
    resample given by its counts ``w``: the count of smaller values plus (tie count + 1) / 2."""
    order, gid, before, size = _groups(v, w)
    r = np.empty_like(w)
    r[:, order] = before[:, gid] + (size[:, gid] + 1) / 2
    return r


def _weighted_pearson(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    sw = w.sum(axis=1, keepdims=True)
    a = a - (w * a).sum(axis=1, keepdims=True) / sw
    b = b - (w * b).sum(axis=1, keepdims=True) / sw
    num = (w * a * b).sum(axis=1)
    den = np.sqrt((w * a * a).sum(axis=1) * (w * b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-12 * np.maximum(1.0, np.abs(num)), num / np.where(den > 0, den, 1), np.nan)


def boot_spearman(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Spearman of every resample ``idx`` (rows of indices), from counts: the Pearson
    correlation of the resample's average ranks, weighted by how often each item is drawn."""
    w = counts(idx, len(x))
    return _weighted_pearson(weighted_ranks(x, w), weighted_ranks(y, w), w)


def boot_kendall(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Kendall tau-b of every resample. With counts w (how often each architecture is drawn),
    tau-b = sum w_i w_j sx_ij sy_ij / sqrt(untied_x * untied_y), sx = sign(x_i - x_j)."""
    n = len(x)
    if n > _KENDALL_MATRIX_MAX_N:
        return np.array([stats.kendalltau(x[r], y[r]).statistic for r in idx], dtype=float)
    return weighted_tau_b(x, y, counts(idx, n))


def weighted_tau_b(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Kendall tau-b per row of counts ``w`` (how often each architecture is drawn):
    sum w_i w_j sx_ij sy_ij / sqrt(untied_x * untied_y), sx = sign(x_i - x_j); NaN where a side
    is constant."""
    m = np.sign(x[:, None] - x[None, :]) * np.sign(y[:, None] - y[None, :])
    num = ((w @ m) * w).sum(axis=1)
    total = w.sum(axis=1) ** 2

    def untied(v):
        size = _groups(v, w)[3]
        return total - (size * size).sum(axis=1)

    den = np.sqrt(untied(x) * untied(y))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def interval(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of bootstrap samples (NaN resamples, e.g. constant ones, ignored)."""
    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    if s.size < 10:
        return math.nan, math.nan
    a = (1 - level) / 2
    return float(np.quantile(s, a)), float(np.quantile(s, 1 - a))


def bootstrap(scores: np.ndarray, truth: np.ndarray, *, resamples: int = RESAMPLES, seed: int = BOOT_SEED,
              kendall: bool = True) -> dict[str, np.ndarray]:
    """Bootstrap distributions of Spearman (and Kendall) over architectures; empty arrays when
    the correlation itself is undefined."""
    x, y = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    if len(x) < 3 or is_constant(x) or is_constant(y):
        return {"spearman": np.array([]), "kendall": np.array([])}
    idx = resample_indices(len(x), resamples, seed)
    return {"spearman": boot_spearman(x, y, idx), "kendall": boot_kendall(x, y, idx) if kendall else np.array([])}


def correlation_ci(scores, truth, *, resamples: int = RESAMPLES, seed: int = BOOT_SEED,
                   level: float = LEVEL) -> dict[str, float]:
    """Point estimates with their bootstrap ``level`` CIs: spearman, spearman_lo, spearman_hi,
    kendall, kendall_lo, kendall_hi (and pearson_abs, without a CI)."""
    point = correlate(scores, truth)
    boot = bootstrap(scores, truth, resamples=resamples, seed=seed)
    out = dict(point)
    for k in ("spearman", "kendall"):
        out[f"{k}_lo"], out[f"{k}_hi"] = interval(boot[k], level)
    return out


def paired_test(a_by_seed: list[tuple[np.ndarray, np.ndarray, np.ndarray]], *, resamples: int = RESAMPLES,
                seed: int = BOOT_SEED, level: float = LEVEL) -> dict[str, float]:
    """Does proxy A rank the architectures better than B? ``a_by_seed``: per seed, (scores of
    A, scores of B, truth) on the same architectures. The statistic is the Spearman of A minus
    that of B, averaged over seeds; each seed's architectures are resampled (the same indices
    for A and B), the resampled differences averaged over seeds. Returns the difference, its
    CI and a two-sided bootstrap p-value (how often the resampled difference crosses 0)."""
    diffs, boots = [], []
    for a, b, t in a_by_seed:
        a, b, t = (np.asarray(v, dtype=float) for v in (a, b, t))
        if len(t) < 3 or is_constant(t):
            continue
        ra = correlate(a, t)["spearman"]
        rb = correlate(b, t)["spearman"]
        if not (np.isfinite(ra) and np.isfinite(rb)):
            continue
        idx = resample_indices(len(t), resamples, seed)
        diffs.append(ra - rb)
        boots.append(boot_spearman(a, t, idx) - boot_spearman(b, t, idx))
    if not diffs:
        return {"diff": math.nan, "diff_lo": math.nan, "diff_hi": math.nan, "p": math.nan, "seeds": 0}
    d = float(np.mean(diffs))
    boot = np.mean(boots, axis=0)
    lo, hi = interval(boot, level)
    boot = boot[np.isfinite(boot)]
    tail = min(np.mean(boot <= 0), np.mean(boot >= 0))
    p = min(1.0, 2 * (tail * len(boot) + 1) / (len(boot) + 1))
    return {"diff": d, "diff_lo": lo, "diff_hi": hi, "p": float(p), "seeds": len(diffs)}


# ----------------------------------------------------------------------------- top of the ranking
#
# Search keeps the networks a proxy ranks highest, which a global rank correlation hides. Every
# function below takes the proxy's scores oriented so that higher is better (a lower-is-better
# proxy's negated) and the truth, and works on counts ``w`` (resamples x n: how often each
# architecture is drawn; all ones for the point estimate), so one code path gives the value and
# its bootstrap distribution. Ties at a cut-off are split fairly: an architecture tied with
# others at the boundary of the top m is in it with the probability that a random order of the
# tie puts it there, so the precision is its expected value over random tie-breaks.


def top_count(n: int, fraction: float) -> int:
    """How many of ``n`` architectures are the top ``fraction`` (at least one)."""
    return max(1, math.ceil(fraction * n - 1e-9))


def _in_top(v: np.ndarray, w: np.ndarray, m: int) -> np.ndarray:
    """(resamples, n): the probability that each architecture is among the ``m`` highest values
    of ``v`` in each resample (counts ``w``), ties at the cut-off split fairly."""
    order, gid, before, size = _groups(v, w)
    total = w.sum(axis=1, keepdims=True)
    above = total - before - size  # drawn architectures with a strictly higher value
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.clip(np.where(size > 0, (m - above) / np.where(size > 0, size, 1), 0.0), 0.0, 1.0)
    out = np.empty_like(w)
    out[:, order] = frac[:, gid]
    return out


def precision_at_top(scores: np.ndarray, truth: np.ndarray, fraction: float, w: np.ndarray | None = None) -> np.ndarray:
    """Of the truly best ``fraction`` of the architectures (the top m = ceil(fraction * n) by
    truth), the share that the proxy also puts in its top m; per row of counts ``w``."""
    s, t = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    w = np.ones((1, len(s))) if w is None else w
    m = top_count(int(round(w[0].sum())), fraction)
    return (w * _in_top(s, w, m) * _in_top(t, w, m)).sum(axis=1) / m


def kendall_in_top(scores: np.ndarray, truth: np.ndarray, fraction: float, w: np.ndarray | None = None) -> np.ndarray:
    """Kendall's tau-b of the scores and the truth among the truly best ``fraction`` of the
    architectures (those whose truth is at least the m-th highest, m = ceil(fraction * n);
    ties at that value included): does the proxy order the good networks among themselves?
    NaN where fewer than 3 are in the top or one side is constant there."""
    s, t = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    w = np.ones((1, len(s))) if w is None else w
    n = len(s)
    m = top_count(int(round(w[0].sum())), fraction)
    order = np.argsort(-t, kind="stable")
    cum = np.cumsum(w[:, order], axis=1)
    pos = (cum < m).sum(axis=1)  # first position (by descending truth) where the top reaches m
    thr = t[order][np.minimum(pos, n - 1)]
    wt = w * (t[None, :] >= thr[:, None])
    if n > _KENDALL_MATRIX_MAX_N:
        out = []
        for row in wt:
            idx = np.repeat(np.arange(n), row.astype(int))
            out.append(stats.kendalltau(s[idx], t[idx]).statistic if len(idx) >= 3 and not is_constant(s[idx])
                       and not is_constant(t[idx]) else math.nan)
        return np.array(out, dtype=float)
    cand = np.flatnonzero(wt.any(axis=0))
    wt = wt[:, cand]
    return np.where(wt.sum(axis=1) >= 3, weighted_tau_b(s[cand], t[cand], wt), np.nan)


def best_percentile(scores: np.ndarray, truth: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """The true percentile of the proxy's best network: 100 x its truth's rank (1 = worst,
    ties averaged) / n, so 100 is the truly best network and 50 the median one; where several
    networks tie for the proxy's best score, their mean."""
    s, t = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    w = np.ones((1, len(s))) if w is None else w
    drawn = w > 0
    top = np.where(drawn, s[None, :], -np.inf).max(axis=1, keepdims=True)
    best = drawn & (s[None, :] == top)
    rank = weighted_ranks(t, w)
    bw = best * w
    return 100.0 * (bw * rank).sum(axis=1) / bw.sum(axis=1) / w.sum(axis=1)


TOP_METRICS = ("precision_top5", "precision_top10", "kendall_top10", "best_percentile")


def top_metrics(scores, truth, *, resamples: int = RESAMPLES, seed: int = BOOT_SEED) -> dict[str, tuple[float, np.ndarray]]:
    """``{metric: (value, bootstrap samples)}`` for :data:`TOP_METRICS` (oriented scores, see
    above), on the same resamples as the Spearman CI; NaN and no samples where the scores or
    the truth are constant or fewer than 3."""
    x, y = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    if len(x) < 3 or is_constant(x) or is_constant(y):
        return {k: (math.nan, np.array([])) for k in TOP_METRICS}
    w = counts(resample_indices(len(x), resamples, seed), len(x))
    fns = {"precision_top5": lambda w_: precision_at_top(x, y, 0.05, w_),
           "precision_top10": lambda w_: precision_at_top(x, y, 0.10, w_),
           "kendall_top10": lambda w_: kendall_in_top(x, y, 0.10, w_),
           "best_percentile": lambda w_: best_percentile(x, y, w_)}
    return {k: (float(f(None)[0]), f(w)) for k, f in fns.items()}
