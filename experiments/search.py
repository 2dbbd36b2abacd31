"""``zcbench search``: SWAP-NAS, the evolutionary search of the SWAP paper (Peng et al., ICLR
2024, Algorithm 1), with a random-search baseline that spends the same
number of proxy evaluations, a ground-truth look-up (or a training with the benchmark's own
recipe) of what each search finds, and the µ sweep of the paper's Fig. 5b.

Algorithm, per seed:

1. a seeded random population of P distinct architectures, each scored by the proxy;
2. each cycle: sample S members; the parent is the best of them or, with probability
   ``crossover_prob``, the better of the two children of a crossover between the best and the
   second best (the crossover swaps the incoming edges of one node); ``children`` children
   are made from the parent with 1..M edge-level mutations each (``op``: one edge's op;
   ``connectivity``: one edge's input node for DARTS, one edge switched between ``none`` and
   an op for NB201, whose DAG is fixed); the best child (the crossover's two children, which
   were scored to pick the parent, count as children of the cycle) joins the population and
   the WORST member (lowest score; the oldest among ties) leaves it;
3. stop at the budget (proxy evaluations or wall-clock seconds) and return the best member,
   which is the best architecture scored.

An architecture is never scored twice (scores are cached by the architecture string), and
only a score actually computed counts as an evaluation. The best-so-far score is recorded
after the initial population and after every cycle.

Config (YAML; every key but ``space`` and ``task`` optional)::

    name: my_search
    space: nb201                     # a space with mutate/crossover: nb201 or darts
    space_options: {C: 8, N: 1}
    task: fashion-mnist
    data: {source: fashion-mnist-sample, batch_size: 32, size: 16, pick: first}
    proxy: {name: reg_swap, options: {mu: 55, sigma: 55, theta_unit: K}}   # or `proxy: swap`
    population: 50                   # P
    sample_size: 10                  # S
    mutations: 3                     # M: each child gets 1..M mutations (uniform)
    mutation_kinds: [op, connectivity]
    children: 3                      # children per cycle
    crossover_prob: 0.5
    evaluations: 1000                # budget: proxy evaluations per search ...
    # seconds: 60                    # ... or wall-clock seconds per search (not both)
    seeds: [0, 1, 2]                 # or a count
    random_search: true              # the baseline, with the same number of evaluations
    ground_truth: {path: "embedded:nb201_fmnist.csv", metric: test_accuracy}
    train_missing: "embedded:nb201_fmnist.yaml"   # train what is not in the ground truth
    size_sweep: {mus: [20, 40, 60], runs: 5, evaluations: null}   # mus (or --size-sweep) runs it
    threads: 1

Defaults for what the paper does not publish (P, C, S, M, the operators, the
scorer and its repeats [UNKNOWN]); each is an option:

* ``population: 50``, ``sample_size: 10``: moderate textbook values. P = 50 spends 5 % of
  a 1000-evaluation budget on the random start; S = P / 5 gives moderate selection pressure
  (the best of 10 random members is, on average, in the top ~10 % of the population).
* ``mutations: 3`` (each child gets 1, 2 or 3 mutations, uniformly): a common choice, "1 to 3
  edge-level mutations"; one change keeps the child near its parent, up to three lets it
  leave a plateau where every single-edge neighbour scores lower.
* ``mutation_kinds: [op, connectivity]``, chosen uniformly per mutation: the paper names
  neither preference nor rate.
* ``children: 3``: "add the best child" implies more than one; three keeps about 300 cycles
  in 1000 evaluations (about 1000 cycles is the usual order; with one child per cycle "best child"
  would be meaningless).
* ``crossover_prob: 0.5``: the paper says the parent is "either the best candidate or a
  crossover of the best two", with no rate; both branches get equal odds.
* Crossover at node level (swap one node's incoming edges; for DARTS in both cells while
  reduce == normal): one-point crossover at cell level would be the usual choice, but SWAP's
  scorer reads a single cell, so a cell-level swap would only copy a parent; a node is the
  next unit down. The two crossover children are scored (to pick the better as the parent)
  and then compete with the mutated children for the place in the population.
* Budget ``evaluations: 1000`` (when neither budget is given): the usual 1000-cycle order of
  magnitude; the DARTS scorer takes 1000 evaluations in about a minute on one CPU core.
  ``evaluations`` must be at least P (the start population is always scored in full, also
  under a ``seconds`` budget).
* ``proxy``: reg_swap (the paper's search proxy). Unset ``mu``/``sigma`` (or ``auto``) are
  resolved to numbers before the search (reg_swap on a single network needs them): the
  largest Θ over 1000 architectures sampled from the space (``auto_quantile: 1.0``; another
  quantile is an option), the paper's rule ("set by the model size distribution of 1000
  randomly sampled architectures", large µ, σ for the best architectures). Θ counts the
  benchmark's own network for each architecture (``theta: benchmark``: the ground truth's
  ``network``, else the space's benchmark network, e.g. NB201's C=16, N=5), whatever network
  SWAP is scored on; ``theta: scorer`` counts the scored network. SWAP's DARTS scorer has no
  separate benchmark network: there Θ is its own size. ``theta_unit: K`` (the official
  SWAP-NAS code), ``repeats: 1`` (the proxy's own default; the paper's count is unknown and
  scores are deterministic per seed anyway). The resolved values are written to search.json.
* ``data``: ``fashion-mnist-sample`` (ships with the package), ``batch_size: 16``, ``pick:
  first``: SWAP's fixed-batch protocol (the official code: the first 16 training images, one batch reused
  for every network), on data that needs no download.
* ``random_search: true``: without the baseline a found architecture cannot be judged.
  It samples as many distinct architectures as the search scored and keeps the best by the
  same proxy.
* ``seeds: [0]``; ``threads: 1`` (torch threads while searching: the networks are tiny and
  the wall times are then comparable between machines); ``size_sweep.runs: 5`` (Fig. 5b);
  ``size_sweep.evaluations``: the search's own budget. Sweep run ``r`` uses seed ``r``.
* ``device: auto`` (CUDA when there is a GPU; ``--device`` overrides it), ``tf32: false``:
  as for ``zcbench run``.

Seeds: the start population is ``space.sample(P, derive_seed(seed, "population"))``, the
evolution's random choices come from ``random.Random(derive_seed(seed, "evolution"))``, the
random search samples with ``derive_seed(seed, "random")``, and every network is scored as
``zcbench run`` scores it for that seed (weights from ``seeded_build(space, arch, task, seed)``,
probe seed ``derive_seed(seed, arch, "probe")``), so a search is deterministic for a seed
under an evaluation budget.

Progress and resume: a bar per search (evaluations, the best score so far, the ETA) under a
bar over the seeds, and a line per finished seed on stderr (also with ``--no-progress``).
``search.json`` and ``search.md`` are rewritten (atomically) after every seed; run the same
command into the same ``--out`` again and the finished seeds are kept, the unfinished ones run
from their start (with the same results, under an evaluation budget). A different config (any
key but ``seeds``, ``name``, ``description``, ``size_sweep``) into that folder is refused with
the changed keys; ``seeds`` may grow or shrink (seeds no longer listed stay in ``other_seeds``).

``ground_truth.metric`` may be a list (e.g. one metric per dataset of NB201): the proxy scores
do not depend on it, so one search per seed is judged on every metric, the first being the
primary one. Each method also gets a ``ceiling`` per metric: the best true value among the
architectures it scored (for random search, the best of its random sample).

Outputs (``--out DIR``): ``search.json`` (per seed and method: the best architecture in the
space's own string, for DARTS also the Genotype and the NB301 compact encoding, the parameter
count of the scoring network and Θ in the proxy's unit, the score trajectory, wall seconds,
evaluations, the ground-truth accuracy and its percentile among the ground-truth
architectures, flagged ``trained_now`` when it was trained for this run), ``search.md``,
``trajectory.png``; with a size sweep ``size_sweep.csv``, ``size_sweep.png`` and
``size_sweep.md``; with ``train_missing`` the trained rows in ``trained_now.csv`` (benchmark
format, reused by a later run into the same folder).
"""
from __future__ import annotations

import copy
import csv
import json
import math
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable

import numpy as np

from experiments.config import (GT_DEFAULTS, ConfigError, check_network, is_int, parse_device, parse_seeds, read_yaml,
                                section)
from experiments.executors import set_threads
from zc_proxies.errors import UsageError

KINDS = ("op", "connectivity")
TOP_KEYS = {"name", "description", "space", "space_options", "task", "data", "proxy", "population",
            "sample_size", "mutations", "mutation_kinds", "children", "crossover_prob", "evaluations",
            "seconds", "seeds", "random_search", "ground_truth", "train_missing", "size_sweep", "threads",
            "device", "tf32"}
DATA_DEFAULTS = {"source": "fashion-mnist-sample", "path": None, "batch_size": 16, "size": None,
                 "split": "train", "pick": "first"}
SWEEP_DEFAULTS = {"mus": None, "runs": 5, "evaluations": None}
DEFAULTS = {"population": 50, "sample_size": 10, "mutations": 3, "mutation_kinds": list(KINDS), "children": 3,
            "crossover_prob": 0.5, "seeds": [0], "random_search": True, "threads": 1,
            "device": "auto", "tf32": False}
DEFAULT_EVALUATIONS = 1000
DEFAULT_PROXY = "reg_swap"
AUTO_SAMPLE = 1000  # architectures whose Θ sets µ = σ = 'auto' (the paper's 1000)
MAX_REDRAWS = 20  # tries to make a child that was never scored before
STALL_CYCLES = 200  # cycles in a row without a new evaluation end a search ("stalled")
THETA_UNITS = {"K": 1e3, "M": 1e6}


# ----------------------------------------------------------------------------- config


@dataclass
class SearchConfig:
    name: str
    space: str
    space_options: dict[str, Any]
    task: str
    data: dict[str, Any]
    proxy: str
    proxy_options: dict[str, Any]  # the proxy's full options (defaults filled in)
    population: int
    sample_size: int
    mutations: int
    mutation_kinds: list[str]
    children: int
    crossover_prob: float
    evaluations: int | None
    seconds: float | None
    seeds: list[int]
    random_search: bool
    ground_truth: dict[str, Any] | None
    train_missing: str | None
    size_sweep: dict[str, Any] | None
    threads: int
    raw: dict[str, Any] = field(default_factory=dict)
    base_dir: Path | None = None  # the config file's folder (relative paths are tried there too)
    device: str = "auto"  # auto | cpu | cuda | cuda:N (experiments.devices)
    tf32: bool = False

    @property
    def higher_is_better(self) -> bool:
        import zc_proxies

        return zc_proxies.get_proxy(self.proxy).higher_is_better

    @property
    def theta_unit(self) -> str:
        unit = self.proxy_options.get("theta_unit")
        return unit if unit in THETA_UNITS else "K"

    def budget_text(self) -> str:
        return f"{self.evaluations} evaluations" if self.evaluations is not None else f"{self.seconds:g} s"


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _pos_int(raw: dict, key: str, default: Any) -> int:
    v = raw.get(key, default)
    if not is_int(v) or v < 1:
        raise ConfigError(f"{key} must be a positive integer, not {v!r}")
    return v


def _resolve(path: str, base_dir: Path | None) -> Path:
    """``embedded:NAME`` (a file shipped in the package), or a path; a relative path that does
    not exist from the current folder is tried beside the config file."""
    from search_spaces.data import resolve_path

    p = resolve_path(path)
    if not p.is_absolute() and not p.exists() and base_dir is not None and (base_dir / p).exists():
        return base_dir / p
    return p


def _parse_proxy(value: Any) -> tuple[str, dict[str, Any]]:
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
    if info.derived_from and name != "reg_swap":
        raise ConfigError(f"proxy {name!r} is computed over a whole population (from {list(info.derived_from)}) "
                          "and cannot score one network at a time; a search needs a per-network proxy "
                          "such as reg_swap or swap")
    try:
        full = info.options(opts)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if name == "reg_swap":
        for key in ("mu", "sigma"):
            v = full[key]
            if v != "auto" and (not _is_num(v) or (key == "sigma" and v <= 0)):
                raise ConfigError(f"reg_swap {key} must be a {'positive ' if key == 'sigma' else ''}number "
                                  f"(in theta_unit) or 'auto', not {v!r}")
        if full["theta_unit"] not in THETA_UNITS:
            raise ConfigError(f"reg_swap theta_unit must be one of {sorted(THETA_UNITS)}, not {full['theta_unit']!r}")
        from zc_proxies.swap import THETA_NETWORKS

        if full["theta"] not in THETA_NETWORKS:
            raise ConfigError(f"reg_swap theta must be one of {list(THETA_NETWORKS)} (benchmark: Θ counts the "
                              f"benchmark's own network, ground_truth.network; scorer: the scored network), "
                              f"not {full['theta']!r}")
        q = full["auto_quantile"]
        if isinstance(q, bool) or not _is_num(q) or not 0 < q <= 1:
            raise ConfigError(f"reg_swap auto_quantile must be a number in (0, 1] (1: µ = σ = the largest Θ of "
                              f"the sampled population), not {q!r}")
    return name, full


def parse_search(raw: dict[str, Any], *, name: str = "search", base_dir: Path | None = None) -> SearchConfig:
    """Validate a search config (a mapping, as read from YAML) and fill in its defaults."""
    import search_spaces  # noqa: F401  (registers the built-in spaces)
    from search_spaces.base import SearchSpace, get_space

    if not isinstance(raw, dict):
        raise ConfigError("a search config is a YAML mapping with keys " + ", ".join(sorted(TOP_KEYS)))
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in the search config; known keys: {sorted(TOP_KEYS)}")
    for key in ("space", "task"):
        if not raw.get(key):
            raise ConfigError(f"the search config needs {key!r}")
    space_options = raw.get("space_options") or {}
    if not isinstance(space_options, dict):
        raise ConfigError(f"space_options must be a mapping, not {space_options!r}")
    space = get_space(str(raw["space"]), **space_options)
    if type(space).mutate is SearchSpace.mutate or type(space).crossover is SearchSpace.crossover:
        from search_spaces.base import evolvable_spaces

        raise ConfigError(f"space {raw['space']!r} does not support mutation; search needs one of "
                          f"{', '.join(evolvable_spaces())}")
    space.task(str(raw["task"]))  # unknown task: a clear error now

    data = section(raw, "data", DATA_DEFAULTS)
    if not is_int(data["batch_size"]) or data["batch_size"] < 1:
        raise ConfigError(f"data.batch_size must be a positive integer, not {data['batch_size']!r}")
    proxy, proxy_options = _parse_proxy(raw.get("proxy"))

    population = _pos_int(raw, "population", DEFAULTS["population"])
    if population < 2:
        raise ConfigError(f"population must be at least 2 (a best and a worst member), not {population}")
    sample_size = _pos_int(raw, "sample_size", DEFAULTS["sample_size"])
    if sample_size > population:
        raise ConfigError(f"sample_size ({sample_size}) cannot exceed population ({population})")
    mutations = _pos_int(raw, "mutations", DEFAULTS["mutations"])
    children = _pos_int(raw, "children", DEFAULTS["children"])
    kinds = raw.get("mutation_kinds", DEFAULTS["mutation_kinds"])
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, list) or not kinds or any(k not in KINDS for k in kinds):
        raise ConfigError(f"mutation_kinds must be a non-empty list from {list(KINDS)}, not {kinds!r}")
    cp = raw.get("crossover_prob", DEFAULTS["crossover_prob"])
    if not _is_num(cp) or not 0 <= cp <= 1:
        raise ConfigError(f"crossover_prob must be a number in [0, 1], not {cp!r}")
    if cp > 0 and sample_size < 2:
        raise ConfigError("crossover needs the best two of the sample: set sample_size >= 2 or crossover_prob: 0")

    evaluations, seconds = raw.get("evaluations"), raw.get("seconds")
    if evaluations is not None and seconds is not None:
        raise ConfigError("give the budget as either evaluations or seconds, not both")
    if evaluations is None and seconds is None:
        evaluations = DEFAULT_EVALUATIONS
    if evaluations is not None:
        if not is_int(evaluations) or evaluations < population:
            raise ConfigError(f"evaluations (the budget in proxy evaluations per search) must be an integer "
                              f">= population ({population}), not {evaluations!r}")
    elif not _is_num(seconds) or seconds <= 0:
        raise ConfigError(f"seconds (the wall-clock budget per search) must be a positive number, not {seconds!r}")

    seeds = parse_seeds(raw.get("seeds", DEFAULTS["seeds"]))
    rs = raw.get("random_search", DEFAULTS["random_search"])
    if not isinstance(rs, bool):
        raise ConfigError(f"random_search must be true or false, not {rs!r}")
    threads = _pos_int(raw, "threads", DEFAULTS["threads"])
    device, tf32 = parse_device(raw.get("device") or DEFAULTS["device"], raw.get("tf32", DEFAULTS["tf32"]))

    gt = None
    if raw.get("ground_truth") is not None:
        gt = section(raw, "ground_truth", GT_DEFAULTS)
        check_network(gt["network"])
        if not gt["path"]:
            raise ConfigError("ground_truth needs a path (a CSV of architectures and accuracies; "
                              "'embedded:NAME' for a file shipped in the package)")
        if not _resolve(str(gt["path"]), base_dir).is_file():
            raise ConfigError(f"ground_truth.path {gt['path']!r} is not a file")
        m = gt["metric"]
        if isinstance(m, list):
            if not m or not all(isinstance(x, str) and x for x in m) or len(set(m)) != len(m):
                raise ConfigError(f"ground_truth.metric must be a metric name or a list of distinct names, not {m!r}")
            if len(m) == 1:
                gt["metric"] = m[0]
        elif m is not None and not isinstance(m, str):
            raise ConfigError(f"ground_truth.metric must be a metric name or a list of distinct names, not {m!r}")
    train_missing = raw.get("train_missing")
    if train_missing is not None:
        if gt is None:
            raise ConfigError("train_missing needs ground_truth (its metric and the architectures to compare with)")
        _check_train_spec(str(train_missing), base_dir, raw, space_options, gt)

    sweep = None
    if raw.get("size_sweep") is not None:
        sweep = _parse_sweep(raw["size_sweep"], proxy, population)

    return SearchConfig(
        name=str(raw.get("name") or name), space=str(raw["space"]), space_options=dict(space_options),
        task=str(raw["task"]), data=data, proxy=proxy, proxy_options=proxy_options, population=population,
        sample_size=sample_size, mutations=mutations, mutation_kinds=list(dict.fromkeys(kinds)), children=children,
        crossover_prob=float(cp), evaluations=evaluations, seconds=None if seconds is None else float(seconds),
        seeds=list(dict.fromkeys(seeds)), random_search=rs, ground_truth=gt,
        train_missing=None if train_missing is None else str(train_missing), size_sweep=sweep, threads=threads,
        raw=copy.deepcopy(raw), base_dir=base_dir, device=device, tf32=tf32)


def _parse_sweep(value: Any, proxy: str, population: int) -> dict[str, Any]:
    sweep = section({"size_sweep": value}, "size_sweep", SWEEP_DEFAULTS)
    if proxy != "reg_swap":
        raise ConfigError(f"size_sweep sets µ = σ of reg_swap, but the proxy is {proxy!r}")
    mus = sweep["mus"]
    if mus is not None and (not isinstance(mus, list) or not mus or not all(_is_num(m) and m > 0 for m in mus)):
        raise ConfigError(f"size_sweep.mus must be a non-empty list of positive numbers (µ = σ, in theta_unit), "
                          f"not {mus!r}")
    if not is_int(sweep["runs"]) or sweep["runs"] < 1:
        raise ConfigError(f"size_sweep.runs must be a positive integer, not {sweep['runs']!r}")
    ev = sweep["evaluations"]
    if ev is not None and (not is_int(ev) or ev < population):
        raise ConfigError(f"size_sweep.evaluations must be an integer >= population ({population}) or null, "
                          f"not {ev!r}")
    return {"mus": None if mus is None else [float(m) for m in mus], "runs": sweep["runs"], "evaluations": ev}


def _check_train_spec(path: str, base_dir, raw: dict, space_options: dict, gt: dict) -> dict[str, Any]:
    from experiments.build import load_spec

    spec = load_spec(_resolve(path, base_dir))
    mine = (str(raw["space"]), dict(space_options), str(raw["task"]))
    theirs = (spec["space"], spec["space_options"], spec["task"])
    if mine != theirs:
        raise ConfigError(f"train_missing spec {path!r} trains space {theirs[0]} {theirs[1]} on {theirs[2]}, but the "
                          f"search is over {mine[0]} {mine[1]} on {mine[2]}: its accuracies would not be comparable")
    if gt["metric"] is not None and gt["metric"] not in ("val_accuracy", "test_accuracy"):
        raise ConfigError(f"train_missing gives val_accuracy and test_accuracy, not ground_truth.metric "
                          f"{gt['metric']!r}")
    return spec


def load_search(path: str | Path, overrides: list[str] | None = None) -> SearchConfig:
    path = Path(path)
    raw = read_yaml(path, "search config", overrides, examples="experiments/configs/search_*.yaml")
    return parse_search(raw, name=path.stem, base_dir=path.resolve().parent)


# ----------------------------------------------------------------------------- scoring


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
        if self.theta_net is None:
            res = zc_proxies.score(probe, {"score": (self.proxy, self.options)})["score"]
        else:  # reg-SWAP with Θ of the benchmark's network: SWAP of the scorer, then the size factor
            from experiments.inputs import benchmark_params
            from zc_proxies.swap import SWAP_DEFAULTS, reg_swap_combine

            theta = benchmark_params(*self.theta_net, [arch])[str(arch)]
            self.theta[str(arch)] = round(theta * 1e6)
            res = zc_proxies.score(probe, {"score": ("swap", {k: v for k, v in self.options.items()
                                                               if k in SWAP_DEFAULTS})})["score"]
            if res.status != "failed":
                o = self.options
                return float(reg_swap_combine([res.value], [theta], mu=o["mu"], sigma=o["sigma"],
                                              theta_unit=o["theta_unit"])[0][0])
        if res.status == "failed":
            self.failures.append(f"{arch}: {res.message}")
        return res.value


def theta_net_of(cfg: SearchConfig) -> tuple | None:
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
    from zc_proxies.swap import auto_mu_sigma

    if options.get("mu") != "auto" and options.get("sigma") != "auto":
        return dict(options)
    size = getattr(space, "space_size", None)
    n = min(n, size()) if callable(size) else n
    theta = [space.num_params(a, task) / THETA_UNITS[options["theta_unit"]] for a in space.sample(n, 0)]
    mu, sigma = auto_mu_sigma(np.array(theta), options.get("auto_quantile", 1.0))
    out = dict(options)
    out["mu"] = round(mu, 6) if options["mu"] == "auto" else options["mu"]
    out["sigma"] = round(sigma, 6) if options["sigma"] == "auto" else options["sigma"]
    return out


# ----------------------------------------------------------------------------- search


@dataclass
class SearchResult:
    best: Hashable
    score: float  # the proxy's value for ``best``
    trajectory: list[tuple[int, float]]  # (evaluations so far, best-so-far score)
    evaluations: int
    cycles: int
    wall_seconds: float
    stop: str  # evaluations | seconds | stalled
    scores: dict[str, float]  # every architecture scored (string -> proxy value)
    events: list[dict[str, Any]] = field(default_factory=list)  # per cycle (evolution only)
    kinds_used: dict[str, int] = field(default_factory=dict)


class _Budget:
    def __init__(self, evaluations: int | None, seconds: float | None):
        if (evaluations is None) == (seconds is None):
            raise UsageError("give exactly one budget: evaluations or seconds")
        self.evaluations, self.seconds = evaluations, seconds
        self.t0 = time.perf_counter()

    def exhausted(self, n: int) -> bool:
        if self.evaluations is not None:
            return n >= self.evaluations
        return time.perf_counter() - self.t0 >= self.seconds

    @property
    def reason(self) -> str:
        return "evaluations" if self.evaluations is not None else "seconds"


class _Evaluator:
    """Score cache by architecture string; only new architectures call ``score_fn``, and then
    ``on_eval(best)`` with the best score computed so far (None while none is finite)."""

    def __init__(self, score_fn: Callable[[Hashable], float], higher_is_better: bool,
                 on_eval: Callable[[float | None], None] | None):
        self.score_fn, self.sign, self.on_eval = score_fn, 1.0 if higher_is_better else -1.0, on_eval
        self.scores: dict[str, float] = {}
        self.best: float | None = None

    @property
    def n(self) -> int:
        return len(self.scores)

    def known(self, arch) -> bool:
        return str(arch) in self.scores

    def __call__(self, arch) -> float:
        s = str(arch)
        if s not in self.scores:
            v = self.scores[s] = float(self.score_fn(arch))
            if math.isfinite(v) and (self.best is None or self.sign * v > self.sign * self.best):
                self.best = v
            if self.on_eval is not None:
                self.on_eval(self.best)
        return self.scores[s]

    def key(self, arch) -> float:
        """Fitness (higher is better); non-finite and failed scores rank last."""
        v = self.scores[str(arch)]
        return self.sign * v if math.isfinite(v) else -math.inf


def _check_population(ev: _Evaluator, archs: list, failures: list[str] | None) -> None:
    if all(ev.key(a) == -math.inf for a in archs):
        why = f": {failures[0]}" if failures else " (every value is NaN or infinite)"
        raise UsageError(f"the proxy gave no finite score on any of the {len(archs)} start architectures{why}")


def evolve(space, score_fn: Callable[[Hashable], float], *, seed: int, population: int = 50, sample_size: int = 10,
           mutations: int = 3, kinds: list[str] | tuple[str, ...] = KINDS, children: int = 3,
           crossover_prob: float = 0.5, evaluations: int | None = None, seconds: float | None = None,
           higher_is_better: bool = True, on_eval: Callable[[float | None], None] | None = None,
           failures: list[str] | None = None) -> SearchResult:
    """SWAP-NAS (see the module docstring) over ``space`` with ``score_fn(arch) -> float``."""
    from search_spaces.base import derive_seed

    if evaluations is None and seconds is None:
        evaluations = DEFAULT_EVALUATIONS
    if evaluations is not None and evaluations < population:
        raise UsageError(f"the budget ({evaluations} evaluations) must cover the population ({population})")
    budget = _Budget(evaluations, seconds)
    ev = _Evaluator(score_fn, higher_is_better, on_eval)
    rng = random.Random(derive_seed(seed, "evolution"))
    pop = list(space.sample(population, derive_seed(seed, "population")))
    for a in pop:
        ev(a)
    _check_population(ev, pop, failures)

    def best_of(archs):
        return max(archs, key=lambda a: ev.key(a))  # the first among ties

    trajectory = [(ev.n, ev.scores[str(best_of(pop))])]
    events: list[dict[str, Any]] = []
    kinds_used = {k: 0 for k in kinds}
    cycles, idle, stop = 0, 0, budget.reason

    def make_child(parent, members: set[str]):
        fallback = None
        for _ in range(MAX_REDRAWS):
            child = parent
            for _ in range(rng.randint(1, mutations)):
                kind = rng.choice(list(kinds))
                kinds_used[kind] += 1
                child = space.mutate(child, rng, kind)
            s = str(child)
            if s in members:
                continue
            if not ev.known(child):
                return child
            fallback = child
        return fallback

    while True:
        if budget.exhausted(ev.n):
            break
        n_before = ev.n
        idx = sorted(rng.sample(range(len(pop)), sample_size), key=lambda i: (-ev.key(pop[i]), i))
        parent, how = pop[idx[0]], "best"
        members = {str(a) for a in pop}
        made = []
        if len(idx) > 1 and crossover_prob > 0 and rng.random() < crossover_prob:
            kids = []
            for k in space.crossover(pop[idx[0]], pop[idx[1]], rng):
                if ev.known(k) or not budget.exhausted(ev.n):
                    ev(k)
                    kids.append(k)
            if kids:
                parent, how = best_of(kids), "crossover"
                # the scored crossover children compete with the mutated ones for the place in the
                # population (they cost evaluations; a better one must not be thrown away)
                made = [k for k in kids if str(k) not in members]
        for _ in range(children):
            if budget.exhausted(ev.n):
                break
            child = make_child(parent, members)
            if child is not None:
                ev(child)
                made.append(child)
        if made:
            child = best_of(made)
            pop.append(child)
            worst = min(range(len(pop)), key=lambda i: (ev.key(pop[i]), i))  # the oldest among ties
            removed = pop.pop(worst)
            events.append({"cycle": cycles, "parent": how, "children": len(made), "added": str(child),
                           "added_score": ev.scores[str(child)], "removed": str(removed),
                           "removed_score": ev.scores[str(removed)], "evaluations": ev.n})
        cycles += 1
        trajectory.append((ev.n, ev.scores[str(best_of(pop))]))
        idle = idle + 1 if ev.n == n_before else 0
        if idle >= STALL_CYCLES:
            stop = "stalled"
            break
    best = best_of(pop)
    return SearchResult(best, ev.scores[str(best)], trajectory, ev.n, cycles, time.perf_counter() - budget.t0, stop,
                        ev.scores, events, kinds_used)


def random_search(space, score_fn: Callable[[Hashable], float], n: int, *, seed: int, higher_is_better: bool = True,
                  on_eval: Callable[[float | None], None] | None = None, failures: list[str] | None = None) -> SearchResult:
    """Score ``n`` distinct architectures sampled from ``space``; keep the best by the proxy."""
    from search_spaces.base import derive_seed

    t0 = time.perf_counter()
    ev = _Evaluator(score_fn, higher_is_better, on_eval)
    archs = space.sample(n, derive_seed(seed, "random"))
    best, trajectory = None, []
    for a in archs:
        ev(a)
        if best is None or ev.key(a) > ev.key(best):
            best = a
            trajectory.append((ev.n, ev.scores[str(best)]))
    _check_population(ev, archs, failures)
    if trajectory[-1][0] != ev.n:
        trajectory.append((ev.n, ev.scores[str(best)]))
    return SearchResult(best, ev.scores[str(best)], trajectory, ev.n, 0, time.perf_counter() - t0, "evaluations",
                        ev.scores)


# ----------------------------------------------------------------------------- ground truth


class Truth:
    """Accuracy of found architectures: from the ground truth (one or several metrics, e.g. one
    per dataset), else (``train_missing``) trained now with the benchmark's recipe (cached in
    ``out/trained_now.csv``)."""

    def __init__(self, cfg: SearchConfig, space, out: Path):
        from experiments.inputs import ground_truth_from

        self.metrics: list[str] = []
        self.values: dict[str, dict[Hashable, float]] = {}  # metric -> architecture -> value
        self.sorted: dict[str, np.ndarray] = {}
        self.path = None
        self.spec = None
        self.trainer = None
        self.trained: dict[str, dict[str, Any]] = {}
        self.space = space
        self.on_train: Callable[[], None] | None = None  # called before each training (progress)
        g = cfg.ground_truth
        if g is None:
            return
        self.path = str(g["path"])
        gt = ground_truth_from(g, _resolve(self.path, cfg.base_dir), space, cfg.task)
        m = g["metric"]
        self.metrics = list(m) if isinstance(m, list) else \
            [m or ("val_accuracy" if "val_accuracy" in gt.metrics else gt.metrics[0])]
        for name in self.metrics:
            self.values[name] = gt.metric(name)
            self.sorted[name] = np.sort(np.array(list(self.values[name].values()), dtype=float))
        if cfg.train_missing:
            from experiments.build import read_done

            self.spec = _check_train_spec(cfg.train_missing, cfg.base_dir, cfg.raw, cfg.space_options, g)
            self.spec_path = cfg.train_missing
            self.cache_file = out / "trained_now.csv"
            for arch_s, row in read_done(self.cache_file, self.spec).items():
                self.trained[arch_s] = {k: float(v) for k, v in row.items() if k != "arch"}

    @property
    def metric(self) -> str | None:
        """The first (primary) metric: the one of ``accuracy`` and ``percentile``."""
        return self.metrics[0] if self.metrics else None

    def describe(self) -> dict[str, Any] | None:
        if not self.metrics:
            return None
        return {"path": self.path, "metric": self.metric, "metrics": self.metrics,
                "architectures": len(self.values[self.metric]),
                "best": {m: float(self.sorted[m][-1]) for m in self.metrics},
                "median": {m: float(np.median(self.sorted[m])) for m in self.metrics},
                "train_missing": self.spec_path if self.spec is not None else None}

    def percentile(self, acc: float, metric: str | None = None) -> float:
        """Percent of the ground-truth architectures whose ``metric`` is <= ``acc``."""
        srt = self.sorted[metric or self.metric]
        return round(100.0 * float(np.searchsorted(srt, acc, side="right")) / len(srt), 2)

    def lookup(self, arch) -> dict[str, Any]:
        """The primary metric's ``accuracy`` and ``percentile``, and every metric's under ``truth``."""
        out: dict[str, Any] = {"accuracy": None, "percentile": None, "trained_now": False, "accuracy_source": None}
        if self.metric is None:
            return out
        if arch in self.values[self.metric]:
            out["accuracy_source"] = "ground_truth"
            out["truth"] = {}
            for m in self.metrics:
                acc = self.values[m].get(arch)
                out["truth"][m] = {"accuracy": acc, "percentile": self.percentile(acc, m)
                                   if acc is not None and math.isfinite(acc) else None}
        elif self.spec is not None:
            row = self._train(arch)
            out.update(trained_now=True, accuracy_source=f"trained now with {self.spec_path}",
                       train_seconds=row["train_seconds"])
            acc = row[self.metric]
            out["truth"] = {self.metric: {"accuracy": acc, "percentile": self.percentile(acc)
                                          if math.isfinite(acc) else None}}
        else:
            out["accuracy_source"] = "not in the ground truth"
            return out
        out["accuracy"] = out["truth"][self.metric]["accuracy"]
        out["percentile"] = out["truth"][self.metric]["percentile"]
        return out

    def ceiling(self, archs) -> dict[str, dict[str, Any]]:
        """Per metric, the best true value among ``archs`` (those in the ground truth): what a
        perfect proxy would have picked from the same scored architectures."""
        archs = [self.space.parse(a) if isinstance(a, str) else a for a in archs]
        out = {}
        for m in self.metrics:
            vals = [(v, str(a)) for a in archs if (v := self.values[m].get(a)) is not None and math.isfinite(v)]
            if not vals:
                out[m] = {"accuracy": None, "percentile": None, "arch": None, "in_truth": 0}
                continue
            best, arch = max(vals)
            out[m] = {"accuracy": best, "percentile": self.percentile(best, m), "arch": arch, "in_truth": len(vals)}
        return out

    def _train(self, arch) -> dict[str, Any]:
        from experiments.build import COLUMNS, FORMAT_LINE, Trainer, recipe_key

        s = str(arch)
        if s not in self.trained:
            if self.on_train is not None:
                self.on_train()
            if self.trainer is None:
                self.trainer = Trainer(self.spec)
            row = self.trainer.run(arch)
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            new = not self.cache_file.exists() or self.cache_file.stat().st_size == 0
            with open(self.cache_file, "a") as f:
                if new:
                    f.write(f"{FORMAT_LINE}\n# name: {self.spec['name']} (architectures found by zcbench search)\n"
                            f"# recipe: {json.dumps(recipe_key(self.spec))}\n{','.join(COLUMNS)}\n")
                f.write(",".join(str(row[c]) for c in COLUMNS) + "\n")
            self.trained[s] = {k: float(v) for k, v in row.items() if k != "arch"}
        return self.trained[s]


# ----------------------------------------------------------------------------- running


def _describe(space, arch, params: int, unit: str, theta_params: int | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"arch": str(arch)}
    if callable(getattr(arch, "to_compact", None)):  # a DARTS genotype (darts, nb301): also NB301's compact form
        d["genotype"] = str(arch)
        try:
            d["nb301_compact"] = [[list(e) for e in cell] for cell in arch.to_compact()]
        except ValueError as exc:
            d["nb301_compact"] = None
            d["nb301_compact_note"] = str(exc)
    d["params"] = int(params)
    d["params_K"] = round(params / 1e3, 4)
    if theta_params is not None:  # reg-SWAP's Θ counts the benchmark's network, not the scorer
        d["theta_params"] = int(theta_params)
    d["theta"] = round((params if theta_params is None else theta_params) / THETA_UNITS[unit], 6)
    d["theta_unit"] = unit
    return d


def _finite(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def _device(cfg: SearchConfig) -> str:
    """The config's device, resolved, with this process set up for it."""
    from experiments.devices import resolve_device, setup

    device = resolve_device(cfg.device)
    setup(device, tf32=cfg.tf32)
    return device


def _bar(total, progress: bool, desc: str, **kw):
    from tqdm import tqdm

    kw = {"unit": "eval", "smoothing": 0.05, **kw}
    return tqdm(total=total, desc=desc, disable=not progress, file=sys.stderr, dynamic_ncols=True, **kw)


def _space(cfg: SearchConfig):
    import search_spaces  # noqa: F401
    from search_spaces.base import get_space

    return get_space(cfg.space, **cfg.space_options)


# Bump when evolve() or random_search() change what a seed finds: a search.json written by another
# version is then refused instead of being resumed into a mixture of both.
ALGORITHM = 2
SETTINGS = ("population", "sample_size", "mutations", "mutation_kinds", "children", "crossover_prob", "evaluations",
            "seconds", "random_search", "threads")
METHODS = (("swap_nas", "SWAP-NAS"), ("random_search", "random search"))


def search_fingerprint(cfg: SearchConfig) -> dict[str, Any]:
    """What must not change between a search and its resumption: everything that decides what a
    seed finds or how it is judged; the seeds, name, description and size sweep may change."""
    fp = {"algorithm": ALGORITHM, "space": cfg.space, "space_options": cfg.space_options, "task": cfg.task,
          "data": cfg.data, "proxy": cfg.proxy, "proxy_options": cfg.proxy_options,
          **{k: getattr(cfg, k) for k in SETTINGS}, "ground_truth": cfg.ground_truth,
          "train_missing": cfg.train_missing}
    return json.loads(json.dumps(fp, default=str))


def _changed(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out += _changed(a, b, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k} {json.dumps(a)} -> {json.dumps(b)}")
    return out


def finished_seeds(out: Path, cfg: SearchConfig) -> dict[int, dict[str, Any]]:
    """The finished seeds of an earlier search into ``out`` (``search.json``), by seed; a
    ConfigError when that search had another config (resuming would mix results)."""
    path = out / "search.json"
    if not path.exists():
        return {}
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read ({exc}); delete it to start over, or use another --out folder") \
            from None
    fp = old.get("fingerprint") if isinstance(old, dict) else None
    if fp is None:
        raise ConfigError(f"{path} was written by an older zcbench without a config fingerprint and cannot be "
                          "resumed; use another --out folder, or delete it to start over")
    mine = search_fingerprint(cfg)
    if fp != mine:
        changed = _changed(fp, mine)
        why = ("it was written by another version of the search algorithm" if fp.get("algorithm") != ALGORITHM
               else "changed: " + "; ".join(changed))
        raise ConfigError(f"{out} holds a search with another config ({why}); resuming would mix results. "
                          f"Use another --out folder, or delete {path} to start over")
    return {e["seed"]: e for e in old.get("seeds", []) + old.get("other_seeds", [])}


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class _SearchBar:
    """One search's progress bar: evaluations, the best score so far, the ETA (tqdm)."""

    def __init__(self, cfg: SearchConfig, progress: bool, desc: str):
        self.bar = _bar(cfg.evaluations, progress, desc, leave=False, position=1)

    def __call__(self, best: float | None) -> None:
        self.bar.update(1)
        if best is not None:
            self.bar.set_postfix_str(f"best {best:.5g}", refresh=False)

    def close(self):
        self.bar.close()


def _run_seed(cfg: SearchConfig, space, options: dict, truth: "Truth", seed: int, progress: bool,
              device: str = "cpu") -> dict[str, Any]:
    unit = cfg.theta_unit
    tn = theta_net_of(cfg)
    tn = tn[:2] if tn else None
    scorer = ProxyScorer(space, cfg.task, cfg.data, cfg.proxy, options, seed, device, tn)
    bar = _SearchBar(cfg, progress, f"seed {seed} SWAP-NAS")
    try:
        res = evolve(space, scorer, seed=seed, population=cfg.population, sample_size=cfg.sample_size,
                     mutations=cfg.mutations, kinds=cfg.mutation_kinds, children=cfg.children,
                     crossover_prob=cfg.crossover_prob, evaluations=cfg.evaluations, seconds=cfg.seconds,
                     higher_is_better=cfg.higher_is_better, on_eval=bar, failures=scorer.failures)
    finally:
        bar.close()
    entry = {"seed": seed, "swap_nas": _method_entry(space, res, scorer, unit, truth)}
    entry["swap_nas"].update(cycles=res.cycles, stop=res.stop, mutations_by_kind=res.kinds_used,
                             crossover_parents=sum(e["parent"] == "crossover" for e in res.events))
    if cfg.random_search:
        rscorer = ProxyScorer(space, cfg.task, cfg.data, cfg.proxy, options, seed, device, tn)
        bar = _SearchBar(cfg, progress, f"seed {seed} random search")
        if cfg.evaluations is not None:
            bar.bar.total = res.evaluations  # the same number as the evolution spent
        try:
            rres = random_search(space, rscorer, res.evaluations, seed=seed, higher_is_better=cfg.higher_is_better,
                                 on_eval=bar, failures=rscorer.failures)
        finally:
            bar.close()
        entry["random_search"] = _method_entry(space, rres, rscorer, unit, truth)
    return _finite(entry)


def _seed_line(cfg: SearchConfig, entry: dict, done: int, truth: "Truth") -> str:
    parts = []
    for key, label in METHODS:
        if key in entry:
            m = entry[key]
            acc = "" if m["accuracy"] is None else f", {truth.metric} {m['accuracy']:.2f}"
            parts.append(f"{label} score {m['score']:.5g}{acc}")
    return (f"{cfg.name}: seed {entry['seed']} done ({done}/{len(cfg.seeds)}): " + "; ".join(parts)
            + f" [{sum(entry[k]['wall_seconds'] for k, _ in METHODS if k in entry):.1f} s]")


def run_search(cfg: SearchConfig, out: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Every seed: SWAP-NAS, then (``random_search``) the baseline with the same number of
    evaluations; look up or train what they find; write search.json and search.md into ``out``
    after each seed and trajectory.png at the end. Returns the search.json content.

    An earlier search into ``out`` with the same config is resumed: its finished seeds are kept,
    the others run from their start (deterministic under an evaluation budget); one with another
    config is refused (ConfigError). A line per finished seed goes to stderr (above the bars
    with ``progress``)."""
    from tqdm import tqdm

    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    done = finished_seeds(out, cfg)
    old = set_threads(cfg.threads)
    device = _device(cfg)
    try:
        space = _space(cfg)
        options = cfg.proxy_options
        theta_net = theta_net_of(cfg)
        if cfg.proxy == "reg_swap":
            options = resolve_auto_mu_sigma(*(theta_net[:2] if theta_net else (space, cfg.task)), options)
            if theta_net:
                options = {**options, "theta_network": theta_net[2]}
        truth = Truth(cfg, space, out)
        todo = [s for s in cfg.seeds if s not in done]

        def say(line: str) -> None:
            (tqdm.write if progress else print)(line, file=sys.stderr)

        if not todo:
            say(f"{cfg.name}: all {len(cfg.seeds)} seed(s) already finished in {out / 'search.json'}; "
                "rewriting the reports only")
        elif len(todo) < len(cfg.seeds):
            say(f"{cfg.name}: resuming {out / 'search.json'}: {len(cfg.seeds) - len(todo)} of {len(cfg.seeds)} "
                f"seeds finished; running seed(s) {', '.join(map(str, todo))}")
        bar = _bar(len(cfg.seeds), progress, f"{cfg.name} seeds", unit="seed", initial=len(cfg.seeds) - len(todo),
                   position=0)
        truth.on_train = lambda: bar.set_description(f"{cfg.name}: training a found cell ({cfg.train_missing})")
        try:
            for seed in todo:
                bar.set_description(f"{cfg.name} seeds")
                done[seed] = _run_seed(cfg, space, options, truth, seed, progress, device)
                _write_results(out, cfg, options, truth, done, device=device)
                bar.update(1)
                say(_seed_line(cfg, done[seed], sum(s in done for s in cfg.seeds), truth))
        finally:
            bar.close()
    finally:
        set_threads(old)
    return _write_results(out, cfg, options, truth, done, final=True, device=device)


def _write_results(out: Path, cfg: SearchConfig, options: dict, truth: "Truth", done: dict[int, dict],
                   final: bool = False, device: str = "cpu") -> dict[str, Any]:
    seeds_out = [done[s] for s in cfg.seeds if s in done]
    result = {
        "name": cfg.name,
        "space": cfg.space, "space_options": cfg.space_options, "task": cfg.task, "data": cfg.data,
        "proxy": {"name": cfg.proxy, "options": options},
        "settings": {k: getattr(cfg, k) for k in SETTINGS} | {"device": device},
        "ground_truth": truth.describe(),
        "complete": len(seeds_out) == len(cfg.seeds),
        "seeds_done": len(seeds_out), "seeds_planned": list(cfg.seeds),
        "seeds": seeds_out,
        "summary": _summary(seeds_out, truth.metrics, cfg.higher_is_better),
        "config": cfg.raw,
        "fingerprint": search_fingerprint(cfg),
        "versions": _versions(),
    }
    other = [done[s] for s in sorted(done) if s not in cfg.seeds]
    if other:  # finished by an earlier run with more seeds: kept, not summarised
        result["other_seeds"] = other
    result = _finite(result)
    _atomic_write(out / "search.json", json.dumps(result, indent=1, default=str) + "\n")
    _atomic_write(out / "search.md", search_markdown(result))
    if final:
        plot_trajectories(result, out / "trajectory.png")
    return result


def _versions() -> dict[str, str]:
    try:
        from experiments.build import machine
        from experiments.runner import versions

        return {**versions(), "cpu": machine()}
    except Exception:  # reporting only
        return {}


def _method_entry(space, res: SearchResult, scorer: ProxyScorer, unit: str, truth: Truth) -> dict[str, Any]:
    d = _describe(space, res.best, scorer.params[str(res.best)], unit, scorer.theta.get(str(res.best)))
    d.update(score=res.score, evaluations=res.evaluations, wall_seconds=round(res.wall_seconds, 3),
             trajectory=[[n, s] for n, s in res.trajectory], failed=len(scorer.failures))
    t0 = time.perf_counter()
    d.update(truth.lookup(res.best))
    if d.get("trained_now"):
        d["lookup_seconds"] = round(time.perf_counter() - t0, 2)
    if truth.metrics:
        d["ceiling"] = truth.ceiling(list(res.scores))
    return d


def _median(xs):
    xs = [x for x in xs if x is not None and (not isinstance(x, float) or math.isfinite(x))]
    return statistics.median(xs) if xs else None


def _truth_of(m: dict, metric: str, key: str = "accuracy"):
    return (m.get("truth") or {}).get(metric, {}).get(key)


def _summary(seeds: list[dict], metrics: list[str] = (), higher_is_better: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, _ in METHODS:
        rows = [s[key] for s in seeds if key in s]
        if not rows:
            continue
        out[key] = {"median_accuracy": _median([r["accuracy"] for r in rows]),
                    "median_percentile": _median([r["percentile"] for r in rows]),
                    "median_score": _median([r["score"] for r in rows]),
                    "median_wall_seconds": _median([r["wall_seconds"] for r in rows]),
                    "median_evaluations": _median([r["evaluations"] for r in rows]),
                    "median_theta": _median([r["theta"] for r in rows]),
                    "trained_now": sum(bool(r.get("trained_now")) for r in rows), "runs": len(rows)}
        out[key]["by_metric"] = {
            m: {"median_accuracy": _median([_truth_of(r, m) for r in rows]),
                "median_percentile": _median([_truth_of(r, m, "percentile") for r in rows]),
                "median_ceiling": _median([r["ceiling"][m]["accuracy"] for r in rows if "ceiling" in r]),
                "median_ceiling_percentile": _median([r["ceiling"][m]["percentile"] for r in rows if "ceiling" in r])}
            for m in metrics}
    pairs = [s for s in seeds if "swap_nas" in s and "random_search" in s]
    if pairs:
        def fit(v):  # the proxy's direction; a failed (None) score ranks last
            return -math.inf if v is None else (v if higher_is_better else -v)

        out["head_to_head"] = {
            "seeds": len(pairs),
            "higher_score": sum(fit(s["swap_nas"]["score"]) > fit(s["random_search"]["score"]) for s in pairs),
            "by_metric": {m: _wins([(_truth_of(s["swap_nas"], m), _truth_of(s["random_search"], m)) for s in pairs])
                          for m in metrics}}
    return out


def _wins(pairs: list[tuple]) -> dict[str, int]:
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
    return {"better": sum(a > b for a, b in pairs), "equal": sum(a == b for a, b in pairs),
            "worse": sum(a < b for a, b in pairs)}


# ----------------------------------------------------------------------------- reports


def _f(v, fmt="{:.2f}", none="–"):
    return none if v is None else fmt.format(v)


def _cell(arch: str) -> str:
    """An architecture string as a markdown table cell (NB201 strings are full of pipes)."""
    return "`" + arch.replace("|", "\\|") + "`"


def search_markdown(r: dict[str, Any]) -> str:
    p, s = r["proxy"], r["settings"]
    opts = ", ".join(f"{k}={v}" for k, v in p["options"].items() if k in ("mu", "sigma", "theta_unit", "repeats"))
    budget = f"{s['evaluations']} evaluations" if s["evaluations"] is not None else f"{s['seconds']:g} s"
    gt = r["ground_truth"]
    metrics = gt["metrics"] if gt else []
    metric = gt["metric"] if gt else "accuracy"
    unit = r["seeds"][0]["swap_nas"]["theta_unit"] if r["seeds"] else "K"
    lines = [f"# SWAP-NAS search: {r['name']}", "",
             f"Space {r['space']} {r['space_options'] or ''} on {r['task']}; proxy {p['name']} ({opts}); "
             f"P = {s['population']}, S = {s['sample_size']}, 1..{s['mutations']} mutations per child "
             f"({', '.join(s['mutation_kinds'])}), {s['children']} children per cycle, crossover probability "
             f"{s['crossover_prob']:g}; budget {budget} per search; data {r['data']['source']} batch "
             f"{r['data']['batch_size']}, size {r['data']['size']}, pick {r['data']['pick']}; "
             f"{s['threads']} torch thread(s).", ""]
    if not r.get("complete", True):
        lines += [f"**Incomplete: {r['seeds_done']} of {len(r['seeds_planned'])} seeds finished** (run the same "
                  "command again to resume).", ""]
    if gt:
        best = ", ".join(f"{m} best {gt['best'][m]:.2f}, median {gt['median'][m]:.2f}" for m in metrics)
        lines += [f"Ground truth: {gt['path']} ({gt['architectures']} architectures; {best}). Percentile: percent "
                  "of them at or below the found architecture's value. Ceiling: the best true value among the "
                  "architectures the method scored (what a perfect proxy would have picked from them)."
                  + (" `*`: not in the ground truth, trained now with " + str(gt['train_missing']) + "."
                     if gt.get("train_missing") else " `–`: not in the ground truth (set train_missing to train "
                     "it with the benchmark's recipe)."), ""]
    lines += [f"| seed | method | {metric} | percentile | ceiling | score | Θ ({unit}) | evaluations | wall s | "
              "architecture |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for e in r["seeds"]:
        for key, label in METHODS:
            if key not in e:
                continue
            m = e[key]
            acc = _f(m["accuracy"]) + ("*" if m.get("trained_now") else "")
            ceil = _f(m["ceiling"][metric]["accuracy"]) if m.get("ceiling") else "–"
            lines.append(f"| {e['seed']} | {label} | {acc} | {_f(m['percentile'], '{:.1f}')} | {ceil} | "
                         f"{_f(m['score'], '{:.5g}')} | {m['theta']:.4g} | {m['evaluations']} | "
                         f"{m['wall_seconds']:.1f} | {_cell(m['arch'])} |")
    both = [e for e in r["seeds"] if "swap_nas" in e and "random_search" in e]
    for mname in metrics if len(metrics) > 1 else []:
        lines += ["", f"## {mname}", "",
                  "| seed | SWAP-NAS | percentile | random search | percentile | ceiling: best of the random sample | "
                  "percentile |", "|---:|---:|---:|---:|---:|---:|---:|"]
        for e in both:
            a, b = e["swap_nas"], e["random_search"]
            c = b.get("ceiling", {}).get(mname, {})
            lines.append(f"| {e['seed']} | {_f(_truth_of(a, mname))} | {_f(_truth_of(a, mname, 'percentile'), '{:.1f}')} "
                         f"| {_f(_truth_of(b, mname))} | {_f(_truth_of(b, mname, 'percentile'), '{:.1f}')} | "
                         f"{_f(c.get('accuracy'))} | {_f(c.get('percentile'), '{:.1f}')} |")
    lines += ["", "## Summary", ""]
    sm = r["summary"]
    if metrics:
        lines += ["| method | metric | runs | median | median percentile | median ceiling | median ceiling percentile |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for mname in metrics:
            for key, label in METHODS:
                if key in sm:
                    x = sm[key]["by_metric"][mname]
                    lines.append(f"| {label} | {mname} | {sm[key]['runs']} | {_f(x['median_accuracy'])} | "
                                 f"{_f(x['median_percentile'], '{:.1f}')} | {_f(x['median_ceiling'])} | "
                                 f"{_f(x['median_ceiling_percentile'], '{:.1f}')} |")
        lines.append("")
    lines += [f"| method | runs | median score | median Θ ({unit}) | median wall s | median evaluations | trained now |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for key, label in METHODS:
        if key in sm:
            m = sm[key]
            lines.append(f"| {label} | {m['runs']} | {_f(m['median_score'], '{:.5g}')} | "
                         f"{_f(m['median_theta'], '{:.4g}')} | {_f(m['median_wall_seconds'], '{:.1f}')} | "
                         f"{_f(m['median_evaluations'], '{:g}')} | {m['trained_now']} |")
    if "head_to_head" in sm:
        h = sm["head_to_head"]
        lines += ["", f"SWAP-NAS against random search on the same seed ({h['seeds']} seeds): better proxy score on "
                  f"{h['higher_score']}"
                  + "".join(f"; {mname}: better on {w['better']}, equal on {w['equal']}, worse on {w['worse']}"
                            for mname, w in h["by_metric"].items()) + "."]
    return "\n".join(lines) + "\n"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_trajectories(r: dict[str, Any], path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, e in enumerate(r["seeds"]):
        for key, colour, style, label in (("swap_nas", "C0", "-", "SWAP-NAS"), ("random_search", "C1", "--",
                                                                              "random search")):
            if key not in e:
                continue
            t = [(n, s) for n, s in e[key]["trajectory"] if s is not None]
            if not t:
                continue
            xs, ys = zip(*t)
            xs, ys = list(xs) + [e[key]["evaluations"]], list(ys) + [ys[-1]]
            ax.step(xs, ys, where="post", color=colour, linestyle=style, alpha=0.7, linewidth=1.2,
                    label=label if i == 0 else None)
    ax.set_xlabel("proxy evaluations")
    ax.set_ylabel(f"best-so-far {r['proxy']['name']} score")
    ax.set_title(f"{r['name']}: best score per cycle ({len(r['seeds'])} seed(s))")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------- size sweep


def run_size_sweep(cfg: SearchConfig, out: str | Path, mus: list[float], *, runs: int = 5,
                   evaluations: int | None = None, progress: bool = True) -> dict[str, Any]:
    """SWAP-NAS with reg_swap µ = σ = each of ``mus`` (``runs`` runs each, seeds 0..runs-1):
    the size of what it finds (Θ in the proxy's theta unit) against µ, as in the SWAP paper's
    Fig. 5b. Writes size_sweep.csv, size_sweep.png and size_sweep.md."""
    from scipy.stats import spearmanr

    if cfg.proxy != "reg_swap":
        raise ConfigError(f"the size sweep sets µ = σ of reg_swap, but the proxy is {cfg.proxy!r}")
    if not mus or any(not _is_num(m) or m <= 0 for m in mus):
        raise ConfigError(f"size-sweep µ values must be positive numbers, not {mus!r}")
    budget_ev = evaluations if evaluations is not None else cfg.evaluations
    seconds = None if budget_ev is not None else cfg.seconds
    if budget_ev is not None and budget_ev < cfg.population:
        raise ConfigError(f"size sweep evaluations ({budget_ev}) must be >= population ({cfg.population})")
    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    unit = cfg.theta_unit
    old = set_threads(cfg.threads)
    device = _device(cfg)
    rows = []
    try:
        space = _space(cfg)
        bar = _bar(None if budget_ev is None else budget_ev * runs * len(mus), progress, f"{cfg.name} size sweep")
        try:
            for mu in mus:
                opts = {**cfg.proxy_options, "mu": float(mu), "sigma": float(mu)}
                for run in range(runs):
                    bar.set_description(f"{cfg.name} µ=σ={mu:g} run {run}")
                    tn = theta_net_of(cfg)
                    scorer = ProxyScorer(space, cfg.task, cfg.data, cfg.proxy, opts, run, device, tn and tn[:2])
                    res = evolve(space, scorer, seed=run, population=cfg.population, sample_size=cfg.sample_size,
                                 mutations=cfg.mutations, kinds=cfg.mutation_kinds, children=cfg.children,
                                 crossover_prob=cfg.crossover_prob, evaluations=budget_ev, seconds=seconds,
                                 on_eval=lambda best: bar.update(1), failures=scorer.failures)
                    if budget_ev is not None:
                        bar.total = bar.total - budget_ev + res.evaluations
                    params = scorer.params[str(res.best)]
                    theta = scorer.theta.get(str(res.best), params)
                    rows.append({"mu": float(mu), "sigma": float(mu), "run": run, "seed": run,
                                 "theta": theta / THETA_UNITS[unit], "theta_unit": unit, "params": params,
                                 "score": res.score, "evaluations": res.evaluations,
                                 "wall_seconds": round(res.wall_seconds, 3), "arch": str(res.best)})
        finally:
            bar.close()
    finally:
        set_threads(old)
    with open(out / "size_sweep.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    x = [r["mu"] for r in rows]
    y = [r["theta"] for r in rows]
    rho = float(spearmanr(x, y).statistic) if len(set(x)) > 1 and len(set(y)) > 1 else float("nan")
    per_mu = {mu: statistics.median(r["theta"] for r in rows if r["mu"] == mu) for mu in dict.fromkeys(x)}
    md = [f"# Size sweep: {cfg.name}", "",
          f"SWAP-NAS with reg_swap µ = σ swept (Θ in {unit}), {runs} run(s) per µ (seeds 0..{runs - 1}), "
          f"budget {budget_ev if budget_ev is not None else cfg.seconds} "
          f"{'evaluations' if budget_ev is not None else 's'} per run. The SWAP paper (Fig. 5b) shows the found "
          "model size following µ.", "",
          f"Spearman(µ, found Θ) = {rho:.3f} over {len(rows)} runs.", "",
          f"| µ = σ ({unit}) | median found Θ ({unit}) | found Θ per run |", "|---:|---:|---|"]
    for mu, med in per_mu.items():
        md.append(f"| {mu:g} | {med:.4g} | " + ", ".join(f"{r['theta']:.4g}" for r in rows if r["mu"] == mu) + " |")
    (out / "size_sweep.md").write_text("\n".join(md) + "\n")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.scatter(x, y, s=18, alpha=0.7, label="found architecture (one per run)")
    ax.plot(list(per_mu), list(per_mu.values()), "o-", color="C3", label="median per µ")
    lo, hi = min(min(x), min(y)), max(max(x), max(y))
    pad = 0.05 * (hi - lo or 1)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", linewidth=1, label="y = x")
    ax.set_xlabel(f"µ = σ ({unit} parameters)")
    ax.set_ylabel(f"found model size Θ ({unit} parameters)")
    ax.set_title(f"{cfg.name}: found size vs µ (Spearman {rho:.3f})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "size_sweep.png", dpi=120)
    plt.close(fig)
    return {"rows": rows, "spearman": rho, "median_theta": per_mu, "theta_unit": unit}


# ----------------------------------------------------------------------------- CLI


def add_parser(subparsers) -> Any:
    """Register ``zcbench search`` on an ``argparse`` subparsers object."""
    s = subparsers.add_parser(
        "search", help="SWAP-NAS: evolutionary search scored by a zero-cost proxy (reg-SWAP), with a "
        "random-search baseline; writes search.json, search.md, trajectory.png")
    s.add_argument("config", metavar="SEARCH.yaml", help="search config (see experiments/configs/search_*.yaml)")
    s.add_argument("--out", default="zcbench-search", help="output folder (default: ./zcbench-search)")
    s.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set evaluations=200 --set proxy.options.mu=40")
    s.add_argument("--size-sweep", dest="size_sweep", type=float, nargs="+", default=None, metavar="MU",
                   help="also repeat the search with reg_swap µ = σ = each MU (size_sweep.runs runs each, default "
                   "5) and write size_sweep.csv/.png/.md")
    s.add_argument("--sweep-only", action="store_true", help="run only the size sweep, not the search itself")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    from experiments.devices import add_device_args

    add_device_args(s)
    return s


def cmd_search(args) -> int:
    from experiments.devices import apply_device_args

    cfg = load_search(args.config, args.overrides)
    apply_device_args(cfg, args)
    sweep = dict(cfg.size_sweep or {})
    if args.size_sweep:
        if cfg.proxy != "reg_swap":
            raise ConfigError(f"--size-sweep sets µ = σ of reg_swap, but the proxy is {cfg.proxy!r}")
        sweep = {**SWEEP_DEFAULTS, **sweep, "mus": [float(m) for m in args.size_sweep]}
        sweep = _parse_sweep(sweep, cfg.proxy, cfg.population)
    if getattr(args, "sweep_only", False) and not sweep.get("mus"):
        raise ConfigError("--sweep-only needs --size-sweep MU [MU ...] or size_sweep in the config")
    out = Path(args.out)
    written = []
    if not getattr(args, "sweep_only", False):
        try:
            run_search(cfg, out, progress=not args.no_progress)
        except KeyboardInterrupt:
            n = len(finished_seeds(out, cfg))
            print(f"\nzcbench: interrupted; {n} of {len(cfg.seeds)} seed(s) finished and kept in "
                  f"{out / 'search.json'}; run the same command again to resume (unfinished seeds restart from "
                  "their beginning, with the same results)", file=sys.stderr)
            return 130
        print((out / "search.md").read_text())
        written += [out / "search.json", out / "search.md", out / "trajectory.png"]
        if (out / "trained_now.csv").exists():
            written.append(out / "trained_now.csv")
    if sweep.get("mus"):
        run_size_sweep(cfg, out, sweep["mus"], runs=sweep["runs"], evaluations=sweep["evaluations"],
                       progress=not args.no_progress)
        print((out / "size_sweep.md").read_text())
        written += [out / "size_sweep.csv", out / "size_sweep.md", out / "size_sweep.png"]
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
