"""Proxy metadata and the proxy registry: ``register_proxy``, ``list_proxies``, ``get_proxy``.

A proxy is a plain function ``fn(probe, **options) -> float`` over the signals of a
:class:`zc_proxies.probe.Probe`. A *derived* proxy (reg_swap, tenas, the ensembles) is a
function of other proxies' stored scores over a whole population (``combine``), so a study can recompute it for
any options without scoring a network again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from zc_proxies.errors import UsageError
from zc_proxies.registry import Registry


@dataclass(frozen=True)
class ProxyInfo:
    name: str
    fn: Callable[..., float]
    consumes: tuple[str, ...]  # signal names (see zc_proxies.probe.SIGNALS)
    higher_is_better: bool
    family: str  # expressivity | trainability | size | ensemble | ...
    paper: str
    defaults: dict[str, Any] = field(default_factory=dict)
    doc: str = ""
    # derived proxies: the proxies whose stored scores ``combine`` needs, keyed by role
    derived_from: tuple[str, ...] = ()
    combine: Callable[..., np.ndarray] | None = None
    needs_truth: bool = False  # a derived proxy that chooses with the ground truth (LIBRA)
    # an option name that is not (or no longer) this proxy's -> what to write instead
    option_hints: dict[str, str] = field(default_factory=dict)
    # a derived proxy whose ``combine`` takes non-finite base scores (and ranks them last)
    nonfinite_bases: bool = False

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


PROXIES: Registry[ProxyInfo] = Registry(
    "proxy", entry_point_group="zcbench.proxies", plural="proxies",
    hint="A proxy of your own is registered when its module is imported: import it first (Python), list it "
         "in the study config (plugins: [my_proxy] with its folder on PYTHONPATH, or plugins: [./my_proxy.py]) "
         "or pass --import MODULE (zcbench), or install its package with a `zcbench.proxies` entry point.")


def register_proxy(
    name: str,
    *,
    consumes: tuple[str, ...],
    family: str,
    paper: str,
    higher_is_better: bool = True,
    defaults: dict[str, Any] | None = None,
    derived_from: tuple[str, ...] = (),
    combine: Callable[..., np.ndarray] | None = None,
    needs_truth: bool = False,
    option_hints: dict[str, str] | None = None,
    nonfinite_bases: bool = False,
):
    """Decorator registering ``fn(probe, **options) -> float`` as proxy ``name``."""

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
            derived_from=tuple(derived_from),
            combine=combine,
            needs_truth=needs_truth,
            option_hints=dict(option_hints or {}),
            nonfinite_bases=nonfinite_bases,
        )

    return PROXIES.decorator(name, make)


def list_proxies(pattern: str = "*") -> list[str]:
    """Registered proxy names matching a wildcard pattern, e.g. ``list_proxies("*swap*")``."""
    return PROXIES.names(pattern)


def get_proxy(name: str) -> ProxyInfo:
    return PROXIES.get(name)
