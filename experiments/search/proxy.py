"""What is specific to the proxy a search scores with: reading the config's ``proxy``, scoring one
architecture as ``zcbench run`` scores it (:class:`ProxyScorer`), and everything that is
particular to a pointwise population-level proxy such as reg_swap (the search's default), read
from its registered properties, never its name: its options checked by the proxy itself, a size
base counted on the benchmark's own network, its population-level options fitted before the
search (``auto`` µ / σ), and the µ = σ sweep.

The rest of the search (evolution, ground truth, run, reports) treats the proxy as a function
from an architecture to a number and asks this module for anything else.
"""
from __future__ import annotations

from typing import Any, Hashable

import numpy as np

from experiments.config import ConfigError
from zc_proxies.swap import THETA_UNITS

DEFAULT_PROXY = "reg_swap"
AUTO_SAMPLE = 1000  # architectures whose Θ sets µ = σ = 'auto' (the paper's 1000)


def parse_proxy(value: Any) -> tuple[str, dict[str, Any]]:
    """A search config's ``proxy`` (a name, or ``{name, options}``; unset: reg_swap) as its name
    and full options (defaults filled in); a :class:`ConfigError` for a proxy that cannot score
    one network at a time or for bad options."""
    import zc_proxies

    if value is None:
        name, opts = DEFAULT_PROXY, {}
    elif isinstance(value, str):
        name, opts = value, {}
    elif isinstance(value, dict):
        bad = sorted(set(value) - {"name", "options"})
        if bad or "name" not in value:
            raise ConfigError(f"proxy must be a name or {{name: NAME, options: {{...}}}}; got {value!r}"
                              + (f" (unknown key(s) {bad})" if bad else ""))
        name, opts = value["name"], value.get("options") or {}
        if not isinstance(opts, dict):
            raise ConfigError(f"proxy.options must be a mapping, not {opts!r}")
    else:
        raise ConfigError(f"proxy must be a name or {{name: NAME, options: {{...}}}}, not {value!r}")
    if not isinstance(name, str):
        raise ConfigError(f"proxy name must be a string, not {name!r}")
    try:
        info = zc_proxies.get_proxy(name)
    except KeyError as exc:  # UnknownNameError: its message lists close names
        raise ConfigError(f"proxy: {exc}") from None
    if info.kind == "population" and not info.pointwise:
        raise ConfigError(f"proxy {name!r} is computed over a whole population (from "
                          f"{[b.role for b in info.bases()]}) and cannot score one network at a time; a search "
                          "needs a per-network proxy such as swap, or a pointwise one such as reg_swap")
    try:
        full = info.options(opts)
        if info.kind == "population":
            info.bases(full)  # the proxy's own checks of its options (reg_swap: µ, σ, Θ)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return name, full


def theta_unit_of(options: dict[str, Any]) -> str:
    """The unit Θ (a network's size) is reported in: the proxy's ``theta_unit``, else thousands."""
    unit = options.get("theta_unit")
    return unit if unit in THETA_UNITS else "K"


def theta_in(params: float, unit: str) -> float:
    """``params`` parameters in ``unit`` (K: thousands, M: millions)."""
    return params / THETA_UNITS[unit]


def check_sweep_proxy(proxy: str, what: str = "the size sweep") -> None:
    """The size sweep sets µ = σ of a proxy's size factor: a :class:`ConfigError` naming ``what``
    asked for it when the search's proxy has no ``mu`` and ``sigma`` (reg_swap has)."""
    import zc_proxies

    if not {"mu", "sigma"} <= set(zc_proxies.get_proxy(proxy).defaults):
        raise ConfigError(f"{what} sets µ = σ of reg_swap, but the proxy is {proxy!r}")


def sweep_options(options: dict[str, Any], mu: float) -> dict[str, Any]:
    """The proxy's ``options`` with µ = σ = ``mu`` (a size sweep's point)."""
    return {**options, "mu": float(mu), "sigma": float(mu)}


class ProxyScorer:
    """Scores architectures of one space with one proxy for one seed, exactly as ``zcbench run``
    does; remembers each scored network's parameter count (``params``) and failures."""

    def __init__(self, space, task: str, data: dict[str, Any], proxy: str, options: dict[str, Any], seed: int,
                 device: str = "cpu", theta_net: tuple | None = None):
        from experiments.inputs import study_batch

        import zc_proxies

        self.space, self.task, self.proxy, self.options, self.seed = space, task, proxy, dict(options), seed
        self.info = zc_proxies.get_proxy(proxy)
        self.own = own_options(self.info, self.options)  # less what the search adds (theta_network)
        self.bases = self.info.bases(self.own) if self.info.kind == "population" else ()
        # a proxy with a benchmark_size base (reg_swap, theta: benchmark): (space, task) of the
        # network whose size that base is
        self.theta_net = theta_net
        self.theta: dict[str, int] = {}
        self.device = device  # resolved (experiments.devices.resolve_device)
        space.task(task)  # an unknown task fails here, before any scoring
        x, y = study_batch(space, task, data, seed)
        self.x, self.y = x.to(device), y.to(device) if hasattr(y, "to") else y
        self.params: dict[str, int] = {}
        self.failures: list[str] = []

    def __call__(self, arch: Hashable) -> float:
        import zc_proxies
        from experiments.inputs import study_probe
        from zc_proxies.size import count_params

        probe = study_probe(self.space, arch, self.task, self.seed, self.x, self.y, self.device)
        self.params[str(arch)] = count_params(probe.net)
        if self.info.kind == "network":
            res = zc_proxies.score(probe, {"score": (self.proxy, self.options)})["score"]
        else:  # a pointwise population-level proxy (reg_swap), its options fitted before the search
            # (auto µ / σ resolved): this network's bases, combined as a population of one
            from experiments.inputs import benchmark_params
            from zc_proxies.population import Population

            got = zc_proxies.score(probe, {b.role: (b.proxy, dict(b.options)) for b in self.bases
                                           if not b.benchmark_size})
            res = next((r for r in got.values() if r.status == "failed"), None)
            if res is None:
                scores = {role: np.array([r.value]) for role, r in got.items()}
                for b in self.bases:
                    if b.benchmark_size:  # Θ of the benchmark's network
                        theta = benchmark_params(*self.theta_net[:2], [arch])[str(arch)]
                        self.theta[str(arch)] = round(theta * 1e6)
                        scores[b.role] = np.array([theta])
                return float(self.info.combine(Population([str(arch)], scores), **self.own).values[0])
        if res.status == "failed":
            self.failures.append(f"{arch}: {res.message}")
        return res.value


def own_options(info, options: dict[str, Any]) -> dict[str, Any]:
    """The options of ``options`` that are the proxy ``info``'s own (a search adds others, such
    as ``theta_network``, to what it writes)."""
    return {k: v for k, v in options.items() if k in info.defaults}


def _bases(cfg) -> tuple:
    """The per-network bases of the search's proxy (none for a per-network proxy)."""
    import zc_proxies

    info = zc_proxies.get_proxy(cfg.proxy)
    if info.kind != "population":
        return ()
    return info.bases(own_options(info, cfg.proxy_options))


def theta_net_of(cfg) -> tuple | None:
    """(space, task, description) of the benchmark's own network (ground_truth.network, else the
    space's benchmark network) when the search's proxy has a base that counts its size
    (reg_swap's Θ with ``theta: benchmark``, the default); None otherwise."""
    from experiments.inputs import theta_network

    if not any(b.benchmark_size for b in _bases(cfg)):
        return None
    return theta_network(cfg.space, cfg.space_options, cfg.task, (cfg.ground_truth or {}).get("network"))


def fit_options(cfg, space, options: dict[str, Any], *, n: int = AUTO_SAMPLE) -> dict[str, Any]:
    """The options of a pointwise population-level proxy (reg_swap) fitted before the search:
    its ``fit`` on a population of ``n`` architectures sampled from the space (seed 0) that holds
    its ``size`` bases (the parameter counts, in millions, of the benchmark's network for a
    ``benchmark_size`` base, else of the scoring network). reg_swap: ``auto`` µ / σ become the
    ``auto_quantile`` (1.0: the largest) of Θ over the sample, the paper's rule. An option
    turned from ``auto`` into a number is rounded to 6 decimals (as written to search.json).
    Options without ``auto`` are returned as they are, and so are a per-network proxy's."""
    import zc_proxies
    from zc_proxies.population import Population

    info = zc_proxies.get_proxy(cfg.proxy)
    if info.kind != "population" or "auto" not in options.values():
        return dict(options)
    bases = [b for b in _bases(cfg) if b.size]
    theta_net = theta_net_of(cfg)
    size_of = getattr(space, "space_size", None)
    n = min(n, size_of()) if callable(size_of) else n
    scores = {}
    for b in bases:
        sp, task = theta_net[:2] if b.benchmark_size else (space, cfg.task)
        scores[b.role] = np.array([sp.num_params(a, task) / 1e6 for a in sp.sample(n, 0)])
    pop = Population([str(i) for i in range(n)], scores)
    own = own_options(info, options)
    fitted = info.fit(pop, **own)
    out = dict(options)
    for k, v in own.items():
        out[k] = round(float(fitted[k]), 6) if v == "auto" else v
    return out


def search_options(cfg, space) -> dict[str, Any]:
    """The proxy options a search of ``cfg`` (a :class:`~experiments.search.config.SearchConfig`)
    over ``space`` scores with, as written to search.json: a pointwise proxy's options fitted
    (:func:`fit_options`: reg_swap's ``auto`` µ / σ resolved to numbers) and the network its size
    base counts named (``theta_network``)."""
    options = fit_options(cfg, space, cfg.proxy_options)
    theta_net = theta_net_of(cfg)
    if theta_net:
        options = {**options, "theta_network": theta_net[2]}
    return options


def make_scorer(cfg, space, options: dict[str, Any], seed: int, device: str) -> ProxyScorer:
    """The :class:`ProxyScorer` of a search of ``cfg`` for ``seed``, with ``options`` (those of
    :func:`search_options`, or a sweep's)."""
    tn = theta_net_of(cfg)
    return ProxyScorer(space, cfg.task, cfg.data, cfg.proxy, options, seed, device, tn[:2] if tn else None)
