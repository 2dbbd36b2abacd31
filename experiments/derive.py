"""Population-level proxies computed at report time over one population of stored scores."""
from __future__ import annotations

from typing import Any

import numpy as np

import zc_proxies
from experiments.config import ConfigError
from experiments.plan import Plan
from zc_proxies.population import Population


def derive(plan: Plan, base: dict[str, dict[str, float]], archs: list[str], truth: dict[str, float] | None,
           seed: int, sizes: tuple[dict[str, float], str] | None = None,
           nonfinite: dict[str, dict[str, float]] | None = None
           ) -> dict[str, tuple[dict[str, float], dict[str, Any], set[str]]]:
    """Population-level proxies (reg_swap, tenas, the ensembles, LIBRA) over one population:
    ``base`` holds each per-network label's finite scores ({label: {arch: value}}), ``archs``
    the population, ``truth`` the ground truth (LIBRA chooses with it). They are computed here,
    at report time, and never stored, because they depend on the population (µ = σ = the largest
    of its sizes, ranks) and LIBRA on the ground truth. A proxy that orients its bases (the
    ensembles) gets the scores of a lower-is-better base negated, so that higher is better.
    Returns {label: ({arch: value}, what was used or chosen, the architectures left out on
    purpose: LIBRA's calibration split)}; an architecture lacking a finite score of a base (or,
    for a proxy that needs the ground truth, a ground-truth value) gets none
    (``used["n_missing"]``), except for a proxy that takes non-finite bases (AZ-NAS, which ranks
    -inf and NaN last, as its official code): it also gets the stored non-finite scores in
    ``nonfinite`` ({label: {arch: value}}).

    ``sizes`` (:func:`experiments.inputs.theta_sizes`: {arch: millions of parameters} and what
    network that is) gives the values of a ``benchmark_size`` base (reg_swap's Θ with ``theta:
    benchmark``)."""
    out = {}
    full_base = base
    proxy_of = {s.label: s.proxy for s in plan.scored}
    for spec, bases in plan.derived:
        info = zc_proxies.get_proxy(spec.proxy)
        base = full_base
        if info.nonfinite_bases and nonfinite:
            base = {lab: {**nonfinite.get(lab, {}), **vals} for lab, vals in full_base.items()}
        opts = info.options(spec.options)
        common = set(archs).intersection(*(set(base.get(lab, {})) for _, lab in bases))
        if info.needs_truth:
            if not truth:
                raise ConfigError(f"{spec.label} ({spec.proxy}) chooses proxies with the ground truth; "
                                  "the study has no ground_truth.path")
            common &= set(truth)
        pop = sorted(common)
        if not pop:
            out[spec.label] = ({}, {"n_missing": len(archs)}, set())
            continue
        scores = {}
        for b, lab in bases:
            if b.benchmark_size:
                if sizes is None:
                    raise ValueError(f"{spec.label}: base {b.role!r} needs the benchmark network's sizes")
                v = np.array([sizes[0][a] for a in pop])
            else:
                v = np.array([base[lab][a] for a in pop])
                if info.orient and not zc_proxies.get_proxy(proxy_of[lab]).higher_is_better:
                    v = -v
            scores[b.role] = v
        population = Population(pop, scores, np.array([truth.get(a, np.nan) for a in pop]) if truth else None,
                                seed, sizes[1] if sizes else None)
        res = info.combine(population, **opts)
        keep = np.ones(len(pop), dtype=bool) if res.keep is None else np.asarray(res.keep, dtype=bool)
        used = dict(res.used)
        used["n_missing"] = len(archs) - len(pop)
        out[spec.label] = ({a: float(v) for a, v, k in zip(pop, res.values, keep) if k}, used,
                           {a for a, k in zip(pop, keep) if not k})
    return out
