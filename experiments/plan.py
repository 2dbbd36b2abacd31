"""A study's proxies resolved against the registries: which are scored per network, which are
population-level (and from which bases they are derived), and the keys their scores are stored
under."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import zc_proxies
from experiments.config import ConfigError, ProxySpec, Study
from experiments.inputs import precomputed_scores
from experiments.store import proxy_key, scoring_spec
from zc_proxies.errors import UsageError
from zc_proxies.population import Base


@dataclass
class Plan:
    """A study resolved against the registries: what to score per network, what to derive."""

    scored: list[ProxySpec]
    # each population-level proxy with its bases, each paired with the label of the study's
    # per-network proxy whose scores it takes
    derived: list[tuple[ProxySpec, tuple[tuple[Base, str], ...]]]


def plan_proxies(specs: list[ProxySpec]) -> Plan:
    """Check every proxy and its options; add the per-network proxies that population-level
    ones need (:meth:`zc_proxies.population.PopulationProxyInfo.bases`).

    A base given by label takes the scores of the study's proxy of that label (or, when there
    is none, of the proxy of that name with its default options); a base given by proxy those of
    the study's proxy with the same name and options. A base the study lacks is added, under
    the proxy's name or, when that label is taken, ``LABEL.proxy``; its options are written as
    given (the ones the user set on the population-level proxy, and those that differ from the
    base proxy's defaults)."""
    scored: list[ProxySpec] = []
    derived: list[ProxySpec] = []
    for spec in specs:
        info = zc_proxies.get_proxy(spec.proxy)
        info.options(spec.options)  # unknown options fail here, before any scoring
        (derived if info.kind == "population" else scored).append(spec)
    labels = {s.label for s in specs}

    def base(role: str, want: dict, prefix: str) -> ProxySpec:
        role_info = zc_proxies.get_proxy(role)
        if role_info.kind != "network":
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
        try:
            bases = info.bases(spec.options, [s.label for s in scored])
        except UsageError as exc:
            raise ConfigError(f"proxy {spec.label!r}: {exc}") from None
        by_label = {s.label: s for s in scored}
        pairs = []
        for b in bases:
            if b.label is not None:
                found = by_label[b.label] if b.label in by_label else base(b.label, {}, spec.label)
            else:
                own = zc_proxies.get_proxy(b.proxy).defaults
                want = {k: b.options[k] for k in spec.options if k in b.options}
                want.update({k: v for k, v in b.options.items() if k not in want and (k not in own or v != own[k])})
                found = base(b.proxy, want, spec.label)
            pairs.append((b, found.label))
        resolved.append((spec, tuple(pairs)))
    return Plan(scored, resolved)


def scoring_of(variant: Study) -> dict[str, Any]:
    """The scoring spec of a study variant (what, with seed, architecture and proxy, keys a score)."""
    return scoring_spec(variant.space, variant.space_options, variant.task, variant.data)


def key_of(spec: ProxySpec) -> str:
    info = zc_proxies.get_proxy(spec.proxy)
    return proxy_key(spec.proxy, info.options(spec.options), info.defaults)


def check_population(study: Study, plan: Plan, n_archs: int) -> list[str]:
    """Check, before any scoring, that the population-level proxies fit the study and its
    population: one that chooses with the ground truth needs ``ground_truth.path``, and one
    whose options do not fit a population of ``n_archs`` has them fitted (``sized``: LIBRA's
    calibration split), with a note (returned)."""
    notes = []
    for i, (spec, bases) in enumerate(plan.derived):
        info = zc_proxies.get_proxy(spec.proxy)
        if info.needs_truth and not study.ground_truth["path"]:
            raise ConfigError(f"{spec.label} ({spec.proxy}) chooses proxies with the ground truth; "
                              "the study has no ground_truth.path")
        if info.sized is None:
            continue
        try:
            options, note = info.sized(spec.options, n_archs, spec.label)
        except UsageError as exc:
            raise ConfigError(str(exc)) from None
        if note:
            plan.derived[i] = (ProxySpec(spec.label, spec.proxy, options), bases)
            notes.append(note)
    return notes


def label_keys(study: Study, space, plan: Plan) -> dict[str, str]:
    """{label: the proxy key its scores are stored under} for the study's per-network proxies."""
    keys = {s.label: key_of(s) for s in plan.scored}
    keys.update({label: key for label, (key, _, _) in precomputed_scores(study, space, plan).items()})
    return keys
