"""Population-level proxies computed at report time over one population of stored scores."""
from __future__ import annotations

from typing import Any

import numpy as np

import zc_proxies
from experiments.config import ConfigError
from experiments.plan import Plan


def derive(plan: Plan, base: dict[str, dict[str, float]], archs: list[str], truth: dict[str, float] | None,
           seed: int, sizes: tuple[dict[str, float], str] | None = None,
           nonfinite: dict[str, dict[str, float]] | None = None
           ) -> dict[str, tuple[dict[str, float], dict[str, Any], set[str]]]:
    """Population-level proxies (reg_swap, tenas, the ensembles, LIBRA) over one population:
    ``base`` holds each per-network label's finite scores ({label: {arch: value}}), ``archs``
    the population, ``truth`` the ground truth LIBRA chooses with. They are computed here, at
    report time, and never stored, because they depend on the population (µ = σ = the largest
    of its sizes, ranks) and LIBRA on the ground truth. Ensembles get their bases oriented so
    that higher is better. Returns {label: ({arch: value}, what was used or chosen, the
    architectures left out on purpose: LIBRA's calibration split)}; an architecture lacking a
    finite score of a base (or, for LIBRA, ground truth) gets none (``used["n_missing"]``), except
    for a proxy registered with ``nonfinite_bases`` (AZ-NAS, which ranks -inf and NaN last, as its
    official code): it also gets the stored non-finite scores in ``nonfinite`` ({label: {arch: value}}).

    ``sizes`` (:func:`theta_sizes`) replaces the ``params`` base of a proxy with ``theta:
    benchmark`` (reg_swap): Θ is then the benchmark network's parameter count."""
    out = {}
    full_base = base
    for spec, bases in plan.derived:
        info = zc_proxies.get_proxy(spec.proxy)
        base = full_base
        if info.nonfinite_bases and nonfinite:
            base = {lab: {**nonfinite.get(lab, {}), **vals} for lab, vals in full_base.items()}
        opts = info.options(spec.options)
        ensemble = info.derived_from == ("*",)
        labels = [lab for _, lab in bases] if ensemble else list(bases)
        common = set(archs).intersection(*(set(base.get(b, {})) for b in labels))
        if info.needs_truth:
            if not truth:
                raise ConfigError(f"{spec.label} ({spec.proxy}) chooses proxies with the ground truth; "
                                  "the study has no ground_truth.path")
            common &= set(truth)
        pop = sorted(common)
        if not pop:
            out[spec.label] = ({}, {"n_missing": len(archs)}, set())
            continue
        if ensemble:
            matrix = {}
            for name, lab in bases:
                v = np.array([base[lab][a] for a in pop])
                base_info = zc_proxies.get_proxy(next(s.proxy for s in plan.scored if s.label == lab))
                matrix[name] = v if base_info.higher_is_better else -v
            values, used = info.combine(matrix, truth=np.array([truth[a] for a in pop]) if truth else None,
                                        seed=seed, **opts)
        else:
            bench = opts.get("theta") == "benchmark"
            if bench and sizes is None:
                raise ValueError(f"{spec.label}: theta 'benchmark' needs the benchmark network's sizes")
            arrays = [np.array([(sizes[0] if bench and role == "params" else base[b])[a] for a in pop])
                      for role, b in zip(info.derived_from, bases)]
            values, used = info.combine(*arrays, **opts)
            if "theta" in opts:
                used["theta"] = sizes[1] if bench else "the scoring network"
        keep = used.pop("_keep", None)
        keep = np.ones(len(pop), dtype=bool) if keep is None else np.asarray(keep)
        used["n_missing"] = len(archs) - len(pop)
        out[spec.label] = ({a: float(v) for a, v, k in zip(pop, values, keep) if k}, used,
                           {a for a, k in zip(pop, keep) if not k})
    return out
