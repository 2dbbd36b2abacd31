"""Proxy metadata and the proxy registry: ``register_proxy``, ``list_proxies``, ``get_proxy``.

A proxy is a plain function ``fn(probe, **options) -> float`` over the signals of a
:class:`zc_proxies.probe.Probe` (:class:`ProxyInfo`). A *population-level* proxy (reg_swap,
tenas, az_nas, the ensembles, LIBRA) is a function of other proxies' scores over a whole
population instead, so a study recomputes it for any options without scoring a network again:
it is a :class:`zc_proxies.population.PopulationProxyInfo`, registered in the same
:data:`PROXIES` (one namespace of proxy names) and told apart by its ``kind``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from zc_proxies.errors import UsageError
from zc_proxies.registry import Registry


class ProxyOptions:
    """What both kinds of proxy share: a name, a family, a paper, an orientation, option
    defaults, and the check of the options a user gives (:meth:`options`)."""

    kind: ClassVar[str]  # "network" (scored per network) | "population"
    name: str
    family: str  # expressivity | trainability | size | ensemble | ...
    paper: str
    higher_is_better: bool
    defaults: dict[str, Any]
    doc: str
    option_hints: dict[str, str]  # an option name that is not (or no longer) this proxy's -> what to write

    def options(self, given: dict[str, Any] | None = None) -> dict[str, Any]:
        """The defaults updated with ``given``; unknown option names are an error."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.defaults))
        hints = [self.option_hints[k] for k in unknown if k in self.option_hints]
        if hints:
            raise UsageError(f"proxy {self.name!r} has no option(s) {unknown}: " + " ".join(hints))
        if unknown:
            raise UsageError(
                f"proxy {self.name!r} has no option(s) {unknown}; "
                f"its options are {sorted(self.defaults) or 'none'}"
            )
        return {**self.defaults, **given}


@dataclass(frozen=True)
class ProxyInfo(ProxyOptions):
    """A proxy scored on one network: ``fn(probe, **options) -> float``."""

    kind: ClassVar[str] = "network"
    name: str
    fn: Callable[..., float]
    consumes: tuple[str, ...]  # signal names (see zc_proxies.probe.SIGNALS)
    higher_is_better: bool
    family: str
    paper: str
    defaults: dict[str, Any] = field(default_factory=dict)
    doc: str = ""
    option_hints: dict[str, str] = field(default_factory=dict)


class PopulationOnlyError(UsageError):
    """A population-level proxy asked for one network's score."""


PROXIES: Registry[ProxyOptions] = Registry(
    "proxy", entry_point_group="zcbench.proxies", plural="proxies",
    hint="A proxy of your own is registered when its module is imported: import it first (Python), list it "
         "in the study config (plugins: [my_proxy] with its folder on PYTHONPATH, or plugins: [./my_proxy.py]) "
         "or pass --import MODULE (zcbench), or install its package with a `zcbench.proxies` entry point.",
    builtins=("zc_proxies.swap", "zc_proxies.size", "zc_proxies.gradients", "zc_proxies.jacobian", "zc_proxies.nwot",
              "zc_proxies.zen", "zc_proxies.tenas", "zc_proxies.lswag", "zc_proxies.ensembles", "zc_proxies.aznas",
              "zc_proxies.meco", "zc_proxies.gradsign"))


def register_proxy(
    name: str,
    *,
    consumes: tuple[str, ...],
    family: str,
    paper: str,
    higher_is_better: bool = True,
    defaults: dict[str, Any] | None = None,
    option_hints: dict[str, str] | None = None,
):
    """Decorator registering ``fn(probe, **options) -> float`` as proxy ``name`` (a
    population-level proxy is registered with
    :func:`zc_proxies.population.register_population_proxy`)."""

    def make(fn: Callable) -> ProxyInfo:
        doc = (fn.__doc__ or "").strip().splitlines()
        return ProxyInfo(
            name=name,
            fn=fn,
            consumes=tuple(consumes),
            higher_is_better=higher_is_better,
            family=family,
            paper=paper,
            defaults=dict(defaults or {}),
            doc=doc[0] if doc else "",
            option_hints=dict(option_hints or {}),
        )

    return PROXIES.decorator(name, make)


def list_proxies(pattern: str = "*") -> list[str]:
    """Registered proxy names, of both kinds, matching a wildcard pattern, e.g.
    ``list_proxies("*swap*")``."""
    return PROXIES.names(pattern)


def get_proxy(name: str) -> ProxyOptions:
    """The registered proxy ``name``: a :class:`ProxyInfo`, or a population-level
    :class:`zc_proxies.population.PopulationProxyInfo` (``kind == "population"``)."""
    return PROXIES.get(name)


def get_network_proxy(name: str) -> ProxyInfo:
    """The per-network proxy ``name``; a population-level one is an error that says what to call."""
    info = PROXIES.get(name)
    if info.kind != "network":
        raise PopulationOnlyError(
            f"{name} is a population-level proxy: it combines the scores of a population of architectures "
            "and has no value for a single network. Score it in a study (zcbench run computes it from its "
            f"bases' stored scores), or from Python score its bases (get_proxy({name!r}).bases() lists them) "
            f"on each network and call get_proxy({name!r}).combine(Population(archs, scores))")
    return info
