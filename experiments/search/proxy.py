"""What is specific to the proxy a search scores with: reading the config's ``proxy``, scoring one
architecture as ``zcbench run`` scores it (:class:`ProxyScorer`), and everything that is
particular to reg_swap, the search's default: the checks of its options, Θ counted on the
benchmark's own network, ``auto`` µ / σ resolved before the search, and the µ = σ sweep.

The rest of the search (evolution, ground truth, run, reports) treats the proxy as a function
from an architecture to a number and asks this module for anything else.
"""
from __future__ import annotations

from typing import Any, Hashable

import numpy as np

from experiments.config import ConfigError, is_number
from zc_proxies.swap import THETA_NETWORKS, THETA_UNITS, auto_mu_sigma

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
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if name == "reg_swap":
        for key in ("mu", "sigma"):
            v = full[key]
            if v != "auto" and (not is_number(v) or (key == "sigma" and v <= 0)):
                raise ConfigError(f"reg_swap {key} must be a {'positive ' if key == 'sigma' else ''}number "
                                  f"(in theta_unit) or 'auto', not {v!r}")
        if full["theta_unit"] not in THETA_UNITS:
            raise ConfigError(f"reg_swap theta_unit must be one of {sorted(THETA_UNITS)}, not {full['theta_unit']!r}")
        if full["theta"] not in THETA_NETWORKS:
            raise ConfigError(f"reg_swap theta must be one of {list(THETA_NETWORKS)} (benchmark: Θ counts the "
                              f"benchmark's own network, ground_truth.network; scorer: the scored network), "
                              f"not {full['theta']!r}")
        q = full["auto_quantile"]
        if isinstance(q, bool) or not is_number(q) or not 0 < q <= 1:
            raise ConfigError(f"reg_swap auto_quantile must be a number in (0, 1] (1: µ = σ = the largest Θ of "
                              f"the sampled population), not {q!r}")
    return name, full


def theta_unit_of(options: dict[str, Any]) -> str:
    """The unit Θ (a network's size) is reported in: the proxy's ``theta_unit``, else thousands."""
    unit = options.get("theta_unit")
    return unit if unit in THETA_UNITS else "K"


def theta_in(params: float, unit: str) -> float:
    """``params`` parameters in ``unit`` (K: thousands, M: millions)."""
    return params / THETA_UNITS[unit]


def check_sweep_proxy(proxy: str, what: str = "the size sweep") -> None:
    """The size sweep sets µ = σ of reg_swap: a :class:`ConfigError` naming ``what`` asked for it
    when the search's proxy is another."""
    if proxy != "reg_swap":
        raise ConfigError(f"{what} sets µ = σ of reg_swap, but the proxy is {proxy!r}")


def sweep_options(options: dict[str, Any], mu: float) -> dict[str, Any]:
    """reg_swap ``options`` with µ = σ = ``mu`` (a size sweep's point)."""
    return {**options, "mu": float(mu), "sigma": float(mu)}


class ProxyScorer:
    """Scores architectures of one space with one proxy for one seed, exactly as ``zcbench run``
    does; remembers each scored network's parameter count (``params``) and failures."""

    def __init__(self, space, task: str, data: dict[str, Any], proxy: str, options: dict[str, Any], seed: int,
                 device: str = "cpu", theta_net: tuple | None = None):
        from experiments.inputs import study_batch

        self.space, self.task, self.proxy, self.options, self.seed = space, task, proxy, dict(options), seed
        # reg_swap with theta 'benchmark': (space, task) of the network whose size is Θ
        self.theta_net = theta_net if proxy == "reg_swap" else None
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
        info = zc_proxies.get_proxy(self.proxy)
        if info.kind == "network":
            res = zc_proxies.score(probe, {"score": (self.proxy, self.options)})["score"]
        else:  # a pointwise population-level proxy (reg_swap), its options fitted before the search
            # (auto µ / σ resolved): this network's bases, combined as a population of one
            from experiments.inputs import benchmark_params
            from zc_proxies.population import Population

            opts = {k: v for k, v in self.options.items() if k in info.defaults}  # less what the search adds
            bases = info.bases(opts)
            got = zc_proxies.score(probe, {b.role: (b.proxy, dict(b.options)) for b in bases if not b.benchmark_size})
            res = next((r for r in got.values() if r.status == "failed"), None)
            if res is None:
                scores = {role: np.array([r.value]) for role, r in got.items()}
                for b in bases:
                    if b.benchmark_size:  # Θ of the benchmark's network
                        theta = benchmark_params(*self.theta_net[:2], [arch])[str(arch)]
                        self.theta[str(arch)] = round(theta * 1e6)
                        scores[b.role] = np.array([theta])
                return float(info.combine(Population([str(arch)], scores), **opts).values[0])
        if res.status == "failed":
            self.failures.append(f"{arch}: {res.message}")
        return res.value


def theta_net_of(cfg) -> tuple | None:
    """(space, task, description) of the network whose size is reg-SWAP's Θ in a search:
    ``theta: benchmark`` (default) counts the benchmark's own network (ground_truth.network, else
    the space's benchmark network); None for another proxy or ``theta: scorer``."""
    from experiments.inputs import theta_network

    if cfg.proxy != "reg_swap" or cfg.proxy_options.get("theta", "benchmark") != "benchmark":
        return None
    return theta_network(cfg.space, cfg.space_options, cfg.task, (cfg.ground_truth or {}).get("network"))


def resolve_auto_mu_sigma(space, task: str, options: dict[str, Any], *, n: int = AUTO_SAMPLE) -> dict[str, Any]:
    """reg_swap options with ``auto`` µ / σ replaced by the ``auto_quantile`` (1.0: the largest)
    of Θ over ``n`` architectures sampled from the space (seed 0), in ``theta_unit``; ``space``
    and ``task`` build the network whose size is Θ (the benchmark's, :func:`theta_network`)."""
    if options.get("mu") != "auto" and options.get("sigma") != "auto":
        return dict(options)
    size = getattr(space, "space_size", None)
    n = min(n, size()) if callable(size) else n
    theta = [theta_in(space.num_params(a, task), options["theta_unit"]) for a in space.sample(n, 0)]
    mu, sigma = auto_mu_sigma(np.array(theta), options.get("auto_quantile", 1.0))
    out = dict(options)
    out["mu"] = round(mu, 6) if options["mu"] == "auto" else options["mu"]
    out["sigma"] = round(sigma, 6) if options["sigma"] == "auto" else options["sigma"]
    return out


def search_options(cfg, space) -> dict[str, Any]:
    """The proxy options a search of ``cfg`` (a :class:`~experiments.search.config.SearchConfig`)
    over ``space`` scores with, as written to search.json: reg_swap's ``auto`` µ / σ resolved to
    numbers and the network its Θ counts named (``theta_network``)."""
    options = cfg.proxy_options
    if cfg.proxy != "reg_swap":
        return options
    theta_net = theta_net_of(cfg)
    options = resolve_auto_mu_sigma(*(theta_net[:2] if theta_net else (space, cfg.task)), options)
    if theta_net:
        options = {**options, "theta_network": theta_net[2]}
    return options


def make_scorer(cfg, space, options: dict[str, Any], seed: int, device: str) -> ProxyScorer:
    """The :class:`ProxyScorer` of a search of ``cfg`` for ``seed``, with ``options`` (those of
    :func:`search_options`, or a sweep's)."""
    tn = theta_net_of(cfg)
    return ProxyScorer(space, cfg.task, cfg.data, cfg.proxy, options, seed, device, tn[:2] if tn else None)
