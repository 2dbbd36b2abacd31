"""A search config (YAML; every key but ``space`` and ``task`` optional), read and checked::

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
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments.config import (GT_DEFAULTS, ConfigError, check_network, is_int, is_number, parse_device, parse_seeds,
                                read_yaml, section)
from experiments.search.evolution import DEFAULT_EVALUATIONS
from experiments.search.proxy import check_sweep_proxy, parse_proxy, theta_unit_of
from search_spaces.base import MUTATION_KINDS

TOP_KEYS = {"name", "description", "space", "space_options", "task", "data", "proxy", "population",
            "sample_size", "mutations", "mutation_kinds", "children", "crossover_prob", "evaluations",
            "seconds", "seeds", "random_search", "ground_truth", "train_missing", "size_sweep", "threads",
            "device", "tf32"}
DATA_DEFAULTS = {"source": "fashion-mnist-sample", "path": None, "batch_size": 16, "size": None,
                 "split": "train", "pick": "first"}
SWEEP_DEFAULTS = {"mus": None, "runs": 5, "evaluations": None}
DEFAULTS = {"population": 50, "sample_size": 10, "mutations": 3, "mutation_kinds": list(MUTATION_KINDS),
            "children": 3, "crossover_prob": 0.5, "seeds": [0], "random_search": True, "threads": 1,
            "device": "auto", "tf32": False}


@dataclass
class SearchConfig:
    """A checked search config with its defaults filled in (:func:`parse_search`)."""

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
        """The unit the reports give Θ (a network's size) in."""
        return theta_unit_of(self.proxy_options)

    def budget_text(self) -> str:
        return f"{self.evaluations} evaluations" if self.evaluations is not None else f"{self.seconds:g} s"


def _pos_int(raw: dict, key: str, default: Any) -> int:
    v = raw.get(key, default)
    if not is_int(v) or v < 1:
        raise ConfigError(f"{key} must be a positive integer, not {v!r}")
    return v


def resolve_config_path(path: str, base_dir: Path | None) -> Path:
    """``embedded:NAME`` (a file shipped in the package), or a path; a relative path that does
    not exist from the current folder is tried beside the config file."""
    from search_spaces.data import resolve_path

    p = resolve_path(path)
    if not p.is_absolute() and not p.exists() and base_dir is not None and (base_dir / p).exists():
        return base_dir / p
    return p


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
    proxy, proxy_options = parse_proxy(raw.get("proxy"))

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
    if not isinstance(kinds, list) or not kinds or any(k not in MUTATION_KINDS for k in kinds):
        raise ConfigError(f"mutation_kinds must be a non-empty list from {list(MUTATION_KINDS)}, not {kinds!r}")
    cp = raw.get("crossover_prob", DEFAULTS["crossover_prob"])
    if not is_number(cp) or not 0 <= cp <= 1:
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
    elif not is_number(seconds) or seconds <= 0:
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
        if not resolve_config_path(str(gt["path"]), base_dir).is_file():
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
        check_train_spec(str(train_missing), base_dir, raw, space_options, gt)

    sweep = None
    if raw.get("size_sweep") is not None:
        sweep = parse_sweep(raw["size_sweep"], proxy, population)

    return SearchConfig(
        name=str(raw.get("name") or name), space=str(raw["space"]), space_options=dict(space_options),
        task=str(raw["task"]), data=data, proxy=proxy, proxy_options=proxy_options, population=population,
        sample_size=sample_size, mutations=mutations, mutation_kinds=list(dict.fromkeys(kinds)), children=children,
        crossover_prob=float(cp), evaluations=evaluations, seconds=None if seconds is None else float(seconds),
        seeds=list(dict.fromkeys(seeds)), random_search=rs, ground_truth=gt,
        train_missing=None if train_missing is None else str(train_missing), size_sweep=sweep, threads=threads,
        raw=copy.deepcopy(raw), base_dir=base_dir, device=device, tf32=tf32)


def parse_sweep(value: Any, proxy: str, population: int) -> dict[str, Any]:
    """A ``size_sweep`` mapping (``mus``, ``runs``, ``evaluations``), checked, defaults filled in."""
    sweep = section({"size_sweep": value}, "size_sweep", SWEEP_DEFAULTS)
    check_sweep_proxy(proxy, "size_sweep")
    mus = sweep["mus"]
    if mus is not None and (not isinstance(mus, list) or not mus or not all(is_number(m) and m > 0 for m in mus)):
        raise ConfigError(f"size_sweep.mus must be a non-empty list of positive numbers (µ = σ, in theta_unit), "
                          f"not {mus!r}")
    if not is_int(sweep["runs"]) or sweep["runs"] < 1:
        raise ConfigError(f"size_sweep.runs must be a positive integer, not {sweep['runs']!r}")
    ev = sweep["evaluations"]
    if ev is not None and (not is_int(ev) or ev < population):
        raise ConfigError(f"size_sweep.evaluations must be an integer >= population ({population}) or null, "
                          f"not {ev!r}")
    return {"mus": None if mus is None else [float(m) for m in mus], "runs": sweep["runs"], "evaluations": ev}


def check_train_spec(path: str, base_dir, raw: dict, space_options: dict, gt: dict) -> dict[str, Any]:
    """The ``train_missing`` spec at ``path``, read; a :class:`ConfigError` when it trains another
    space or task than the search's, or the ground truth's metric is not one it gives."""
    from experiments.build import load_spec

    spec = load_spec(resolve_config_path(path, base_dir))
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
    """The search config in the YAML file ``path``, with ``--set KEY=VALUE`` ``overrides``."""
    path = Path(path)
    raw = read_yaml(path, "search config", overrides, examples="experiments/configs/search_*.yaml")
    return parse_search(raw, name=path.stem, base_dir=path.resolve().parent)

