"""A study's proxies resolved against the registries: which are scored per network, which are
derived over a population (and from which bases), and the keys their scores are stored under."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import zc_proxies
from experiments.config import ConfigError, ProxySpec, Study
from experiments.inputs import precomputed_scores
from experiments.store import proxy_key, scoring_spec


@dataclass
class Plan:
    """A study resolved against the registries: what to score per network, what to derive."""

    scored: list[ProxySpec]
    # (spec, base labels by role), or for ensembles (spec, ((name as written, base label), ...))
    derived: list[tuple[ProxySpec, tuple]]


def plan_proxies(specs: list[ProxySpec]) -> Plan:
    """Check every proxy and its options; add the base proxies that derived ones need.

    A derived proxy's bases are its ``derived_from`` roles, or, for ``("*",)`` (the ensembles),
    the proxies its ``proxies`` option names (``"all"``: every per-network proxy of the study),
    plus LIBRA's ``params_proxy``. A base is matched by label, then by proxy name with default
    options, and added with default options when the study lacks it."""
    scored: list[ProxySpec] = []
    derived: list[ProxySpec] = []
    for spec in specs:
        info = zc_proxies.get_proxy(spec.proxy)
        info.options(spec.options)  # unknown options fail here, before any scoring
        (derived if info.derived_from else scored).append(spec)
    labels = {s.label for s in specs}

    def base(role: str, want: dict, prefix: str) -> ProxySpec:
        role_info = zc_proxies.get_proxy(role)
        if role_info.derived_from:
            raise ConfigError(f"{prefix}: {role!r} is itself a population-level proxy and cannot be a base")
        match = next((s for s in scored if s.proxy == role and role_info.options(s.options) == role_info.options(want)),
                     None)
        if match is None:
            label = role if role not in labels else f"{prefix}.{role}"
            match = ProxySpec(label, role, want)
            scored.append(match)
            labels.add(label)
        return match

    resolved = []
    for spec in derived:
        info = zc_proxies.get_proxy(spec.proxy)
        if info.derived_from != ("*",):
            bases = []
            for role in info.derived_from:
                role_info = zc_proxies.get_proxy(role)
                want = {k: v for k, v in spec.options.items() if k in role_info.defaults}
                bases.append(base(role, want, spec.label).label)
            resolved.append((spec, tuple(bases)))
            continue
        opts = info.options(spec.options)
        names = opts["proxies"]
        if names == "all":
            names = [s.label for s in scored]
        elif isinstance(names, str) or not isinstance(names, list) or not names:
            raise ConfigError(f"proxy {spec.label!r}: 'proxies' must be a list of proxy labels"
                              + (" or 'all'" if "params_proxy" in opts else "") + f", not {names!r}")
        names = list(dict.fromkeys(names + ([opts["params_proxy"]] if "params_proxy" in opts else [])))
        by_label = {s.label: s for s in scored}
        bases = [by_label[n].label if n in by_label else base(n, {}, spec.label).label for n in names]
        resolved.append((spec, tuple(zip(names, bases))))
    return Plan(scored, resolved)


def scoring_of(variant: Study) -> dict[str, Any]:
    """The scoring spec of a study variant (what, with seed, architecture and proxy, keys a score)."""
    return scoring_spec(variant.space, variant.space_options, variant.task, variant.data)


def key_of(spec: ProxySpec) -> str:
    info = zc_proxies.get_proxy(spec.proxy)
    return proxy_key(spec.proxy, info.options(spec.options), info.defaults)


def check_population(study: Study, plan: Plan, n_archs: int) -> list[str]:
    """Check, before any scoring, that the population-level proxies fit the population (LIBRA's
    calibration split must leave >= 3 evaluation architectures); a fixed calibration size
    that does not fit is scaled to a fifth of the population (at least 3), with a note (returned)."""
    notes = []
    for i, (spec, bases) in enumerate(plan.derived):
        info = zc_proxies.get_proxy(spec.proxy)
        if not info.needs_truth:
            continue
        if not study.ground_truth["path"]:
            raise ConfigError(f"{spec.label} ({spec.proxy}) chooses proxies with the ground truth; "
                              "the study has no ground_truth.path")
        cal = info.options(spec.options)["calibration"]
        if isinstance(cal, (int, float)) and not isinstance(cal, bool) and cal >= 1 and not 3 <= cal <= n_archs - 3:
            if n_archs < 6:
                raise ConfigError(f"{spec.label} needs at least 6 architectures (3 to calibrate, 3 to evaluate); "
                                  f"the study evaluates {n_archs}: raise archs.n or drop {spec.label}")
            k = max(3, n_archs // 5)
            plan.derived[i] = (ProxySpec(spec.label, spec.proxy, {**spec.options, "calibration": k}), bases)
            notes.append(f"{spec.label}: calibration={cal} does not fit a population of {n_archs} architectures; "
                         f"calibrated on a fifth of it instead ({k}; set calibration: a number or fraction to choose)")
    return notes


def label_keys(study: Study, space, plan: Plan) -> dict[str, str]:
    """{label: the proxy key its scores are stored under} for the study's per-network proxies."""
    keys = {s.label: key_of(s) for s in plan.scored}
    keys.update({label: key for label, (key, _, _) in precomputed_scores(study, space, plan).items()})
    return keys
