"""Population-level proxies: a score computed from other proxies' scores over a whole population
of architectures (reg_swap's µ and σ from the population's sizes, TE-NAS's and AZ-NAS's ranks, the
rank ensembles, LIBRA's choice with the ground truth), so it has no value for one network alone.

Such a proxy is a :class:`PopulationProxyInfo`, registered with
:func:`register_population_proxy` in the same registry as the per-network proxies
(:data:`zc_proxies.base.PROXIES`: one namespace, so a study's ``proxies: [reg_swap]`` resolves
like any other name). It says

* which per-network scores it needs (:meth:`PopulationProxyInfo.bases`, a tuple of
  :class:`Base`): a registered proxy with options, or a label of the study's own proxies;
* how it combines them over a population (:meth:`PopulationProxyInfo.combine`: a
  :class:`Population` in, a :class:`Combined` out);
* for a proxy that, once its population-level options are fitted, is a function of one network's
  base scores (``pointwise``, reg_swap): how to fit them (:meth:`PopulationProxyInfo.fit`).

A study scores the bases per network and stores them; its reports combine them
(``experiments.derive``), for any options, without scoring a network again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from zc_proxies.base import PROXIES, ProxyOptions, get_proxy
from zc_proxies.errors import UsageError


@dataclass(frozen=True)
class Base:
    """One per-network score a population-level proxy needs, under the name ``role`` (the key of
    :attr:`Population.scores`).

    Either ``proxy`` (a registered per-network proxy, scored with ``options``) or ``label`` (a
    label of the study's proxies; when the study has no proxy of that label, the proxy of that
    name with its default options). ``benchmark_size``: the values are the parameter count, in
    millions, of the benchmark's own network for each architecture (the network whose accuracy
    the ground truth gives) instead of this base's scores; the study still scores the base.
    ``size``: the values are a network's parameter count in millions (the ``params`` proxy of the
    scored network, or with ``benchmark_size`` the benchmark's network), so a search can fit a
    pointwise proxy on the sizes of a sample of architectures without scoring them."""

    role: str
    proxy: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    label: str | None = None
    benchmark_size: bool = False
    size: bool = False

    def __post_init__(self):
        if (self.proxy is None) == (self.label is None):
            raise TypeError(f"base {self.role!r}: give exactly one of proxy and label")


@dataclass
class Population:
    """The base scores of a population: ``scores`` {role: values aligned on ``archs``},
    ``truth`` (the ground truth on ``archs``, or None), the study ``seed``, and
    ``benchmark_network`` (what the ``benchmark_size`` bases count, for the reports). A search
    fits a pointwise proxy (:meth:`PopulationProxyInfo.fit`) on a population that holds only its
    ``size`` bases."""

    archs: list[str]
    scores: dict[str, np.ndarray]
    truth: np.ndarray | None = None
    seed: int = 0
    benchmark_network: str | None = None


@dataclass
class Combined:
    """A population-level proxy's scores over a population: ``values`` aligned on its archs,
    ``used`` (the options actually used and what was chosen, stored with the results) and
    ``keep`` (a mask of the architectures that get a score; None: all of them; LIBRA leaves its
    calibration split out)."""

    values: np.ndarray
    used: dict[str, Any]
    keep: np.ndarray | None = None


@dataclass(frozen=True)
class PopulationProxyInfo(ProxyOptions):
    """A registered population-level proxy (see the module docstring).

    ``bases_fn(options, study_labels) -> Base...``, ``combine_fn(population, **options) ->
    Combined``, ``fit_fn(population, **options) -> options``; ``needs_truth``: it chooses with
    the ground truth; ``orient``: label bases arrive negated when their proxy is lower-is-better
    (so that higher is better); ``nonfinite_bases``: it takes the stored non-finite base scores
    too (AZ-NAS ranks them last); ``pointwise``: after :meth:`fit`, :meth:`combine` of a
    one-network population is that network's score; ``sized(options, n_archs, label) ->
    (options, note)``: the options as given, fitted to a population of ``n_archs`` (or a
    :class:`~zc_proxies.errors.UsageError` when none fits)."""

    kind: ClassVar[str] = "population"
    name: str
    bases_fn: Callable[..., tuple[Base, ...]]
    combine_fn: Callable[..., Combined]
    family: str
    paper: str
    higher_is_better: bool = True
    defaults: dict[str, Any] = field(default_factory=dict)
    doc: str = ""
    option_hints: dict[str, str] = field(default_factory=dict)
    needs_truth: bool = False
    orient: bool = False
    nonfinite_bases: bool = False
    pointwise: bool = False
    fit_fn: Callable[..., dict[str, Any]] | None = None
    sized: Callable[..., tuple[dict[str, Any], str | None]] | None = None

    def bases(self, options: dict[str, Any] | None = None, study_labels=()) -> tuple[Base, ...]:
        """The per-network scores it needs with ``options``; ``study_labels``: the labels of the
        study's per-network proxies (what ``proxies: all`` of an ensemble means)."""
        return tuple(self.bases_fn(self.options(options), list(study_labels)))

    def combine(self, population: Population, **options) -> Combined:
        """Its scores over ``population`` (base scores by role) with ``options``."""
        out = self.combine_fn(population, **self.options(options))
        if not isinstance(out, Combined):
            raise TypeError(f"{self.name}: combine must return a Combined, not {type(out).__name__}")
        out.values = np.asarray(out.values, dtype=float)
        if out.values.shape != (len(population.archs),):
            raise TypeError(f"{self.name}: combine returned {out.values.shape} values for "
                            f"{len(population.archs)} architectures")
        return out

    def fit(self, population: Population, **options) -> dict[str, Any]:
        """The options with their population-level values fitted on ``population`` (reg_swap:
        ``auto`` µ and σ become numbers); the options unchanged for a proxy without any."""
        full = self.options(options)
        return dict(self.fit_fn(population, **full)) if self.fit_fn else full


def register_population_proxy(
    name: str,
    *,
    bases: Callable[..., tuple[Base, ...]],
    family: str,
    paper: str,
    higher_is_better: bool = True,
    defaults: dict[str, Any] | None = None,
    option_hints: dict[str, str] | None = None,
    needs_truth: bool = False,
    orient: bool = False,
    nonfinite_bases: bool = False,
    fit: Callable[..., dict[str, Any]] | None = None,
    sized: Callable[..., tuple[dict[str, Any], str | None]] | None = None,
):
    """Decorator registering ``combine(population, **options) -> Combined`` as population-level
    proxy ``name``; ``bases(options, study_labels)`` says which per-network scores it needs. A
    proxy given ``fit`` is ``pointwise``. The first line of the docstring is its description."""

    def make(fn: Callable) -> PopulationProxyInfo:
        doc = (fn.__doc__ or "").strip().splitlines()
        return PopulationProxyInfo(
            name=name, bases_fn=bases, combine_fn=fn, family=family, paper=paper,
            higher_is_better=higher_is_better, defaults=dict(defaults or {}), doc=doc[0] if doc else "",
            option_hints=dict(option_hints or {}), needs_truth=needs_truth, orient=orient,
            nonfinite_bases=nonfinite_bases, pointwise=fit is not None, fit_fn=fit, sized=sized)

    return PROXIES.decorator(name, make)


def per_network(role: str, options: Mapping[str, Any], proxy: str | None = None, *,
                benchmark_size: bool = False, size: bool = False) -> Base:
    """A :class:`Base` for the per-network proxy ``proxy`` (default: ``role``), with the options
    of ``options`` that are its own (the population-level proxy's options include its bases')."""
    proxy = proxy or role
    own = get_proxy(proxy).defaults
    return Base(role, proxy=proxy, options={k: v for k, v in options.items() if k in own},
                benchmark_size=benchmark_size, size=size or benchmark_size)


def get_population_proxy(name: str) -> PopulationProxyInfo:
    """The population-level proxy ``name``; a per-network one is an error."""
    info = get_proxy(name)
    if info.kind != "population":
        raise UsageError(f"{name} is scored per network, not over a population: score it with zc_proxies.score")
    return info
