"""Study configs: a YAML file -> a validated :class:`Study`.

A study names a space and task, the input data, the ground truth, the architectures (``n``
sampled from the space per seed, or every architecture of the ground-truth file), the seeds,
the proxies with their options, and optionally an ablation grid over config keys.
"""
from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from zc_proxies.errors import ZcbenchError


class ConfigError(ZcbenchError, ValueError):
    """A study config that cannot run; the message names the key and what to write."""


DATA_DEFAULTS = {"source": "fashion-mnist", "path": None, "batch_size": 64, "size": None,
                 "split": "train", "pick": "first"}
GT_DEFAULTS = {"path": None, "format": "auto", "metric": None, "dataset": None,
               # NAS-Bench-201 .pth / NATS / NASLib pickle (epochs also NB101)
               "epochs": None, "trials": None, "test_is_val": None,
               # NAS-Bench-101 pickle
               "repeat": None,
               # TransNAS-Bench-101 .pth: final (default), "best" or an epoch number
               "epoch": None,
               # nb301_surrogate: predict for space.sample(n, seed)
               "n": None, "seed": None, "with_noise": None,
               # csv only
               "arch_column": 0, "metric_columns": None, "header": "auto", "duplicates": "mean",
               # the benchmark's own network for each architecture (whose accuracy this ground truth
               # gives), counted for reg-SWAP's Θ: null, the space's benchmark network; "scorer", the
               # network the study scores; or a mapping of space options (over the space's benchmark
               # network's) plus optionally its "task" (default: the study's)
               "network": None}
#: precomputed proxy scores read from a NAS-Bench-Suite-Zero zc_<space>.json instead of computed
PRECOMPUTED_DEFAULTS = {"path": None, "dataset": None, "proxies": "all"}
#: archs.path: with from: ground_truth, take the architectures of this file (any ground-truth
#: format of the space) instead of ground_truth.path's, e.g. to report one scoring of a fixed
#: set of cells against another benchmark's accuracies
ARCHS_DEFAULTS = {"from": "sample", "n": 100, "path": None}
#: where the scoring runs (not part of what is computed: a study resumes on any executor);
#: kind local or ray, address a Ray cluster's (an address alone means ray)
EXECUTOR_DEFAULTS = {"kind": None, "address": None}
TOP_KEYS = {"name", "space", "space_options", "task", "data", "ground_truth", "archs", "seeds",
            "proxies", "ablate", "description", "precomputed", "executor", "device", "tf32", "plugins",
            "nonfinite"}
#: what the correlations do with a NaN or infinite score: "omit" (left out and counted) or
#: "naslib" (NASLib's ZeroCost.query: the score becomes -1e8, then synflow's log); reports only
NONFINITE = ("omit", "naslib")


@dataclass
class ProxySpec:
    label: str  # the name results are stored under
    proxy: str  # the registered proxy
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Study:
    name: str
    space: str
    task: str
    space_options: dict[str, Any]
    data: dict[str, Any]
    ground_truth: dict[str, Any]
    archs: dict[str, Any]
    seeds: list[int]
    proxies: list[ProxySpec]
    ablate: dict[str, list[Any]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    plugins: list[str] = field(default_factory=list)
    precomputed: dict[str, Any] = field(default_factory=lambda: dict(PRECOMPUTED_DEFAULTS))
    executor: dict[str, Any] = field(default_factory=lambda: dict(EXECUTOR_DEFAULTS))
    device: str = "auto"  # auto | cpu | cuda | cuda:N (experiments.devices)
    tf32: bool = False  # allow TF32 matmuls/convolutions on CUDA
    nonfinite: str = "omit"

    def variants(self) -> list[tuple[str, "Study"]]:
        """(label, study) per point of the ablation grid; ``[("default", self)]`` without one."""
        if not self.ablate:
            return [("default", self)]
        keys = list(self.ablate)
        out = []
        for values in itertools.product(*(self.ablate[k] for k in keys)):
            raw = copy.deepcopy(self.raw)
            raw.pop("ablate", None)
            for k, v in zip(keys, values):
                _set_path(raw, k, v)
            label = ",".join(f"{k.rsplit('.', 1)[-1]}={_fmt(v)}" for k, v in zip(keys, values))
            out.append((label, parse_study(raw, name=self.name)))
        return out


def _fmt(v: Any) -> str:
    return "x".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)


def _set_path(raw: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = raw
    for p in parts[:-1]:
        if p == "proxies":
            # proxies.<label>.<option>: find the entry with that label
            raise ConfigError("ablate over proxy options with the entry's own options, not proxies.*")
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot set {dotted!r}: {p!r} is not a mapping")
    node[parts[-1]] = value


def _proxy_specs(items: Any) -> list[ProxySpec]:
    if not isinstance(items, list) or not items:
        raise ConfigError("'proxies' must be a non-empty list, e.g. [swap, {reg_swap: {mu: 1.5, sigma: 1.5}}]")
    specs: list[ProxySpec] = []
    for item in items:
        if isinstance(item, str):
            specs.append(ProxySpec(item, item, {}))
        elif isinstance(item, dict) and len(item) == 1:
            (label, opts), = item.items()
            opts = dict(opts or {})
            specs.append(ProxySpec(str(label), str(opts.pop("proxy", label)), opts))
        else:
            raise ConfigError(f"bad proxies entry {item!r}: write a name, or {{name: {{option: value}}}}, "
                              "or {label: {proxy: name, option: value}}")
    labels = [s.label for s in specs]
    dup = sorted({l for l in labels if labels.count(l) > 1})
    if dup:
        raise ConfigError(f"proxy labels must be unique; repeated: {dup} (give each its own label with proxy: NAME)")
    return specs


def check_network(network: Any) -> None:
    """``ground_truth.network`` is null, "scorer" or a mapping of space options (and "task")."""
    if network is None or network == "scorer" or isinstance(network, dict):
        return
    raise ConfigError(f"ground_truth.network must be null (the space's benchmark network), 'scorer' (the network "
                      f"the study scores) or a mapping of space options such as {{C: 16, N: 5, task: cifar100}}, "
                      f"not {network!r}")


def section(raw: dict[str, Any], key: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """``raw[key]`` (a mapping, or absent/null) merged over ``defaults``; unknown keys are an error."""
    given = raw.get(key)
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ConfigError(f"{key!r} must be a mapping of options, not {given!r}")
    bad = sorted(set(given) - set(defaults))
    if bad:
        raise ConfigError(f"unknown key(s) {bad} in {key!r}; known: {sorted(defaults)}")
    return {**defaults, **given}


def read_yaml(path: str | Path, what: str, overrides: list[str] | None = None, *, examples: str = "") -> dict[str, Any]:
    """A YAML config file as a dict, with ``--set`` overrides applied; a missing or malformed
    file is a ConfigError that says ``what`` it should have been and where ``examples`` are."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no {what} at {path}" + (f"; see {examples} for examples" if examples else ""))
    try:
        with path.open(encoding="utf-8") as stream:  # the stream's name goes into YAML's error location
            raw = yaml.safe_load(stream)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not a text file ({exc.encoding}: {exc.reason}); "
                          f"a {what} is UTF-8 YAML") from None
    return apply_overrides(raw or {}, overrides or [])


def is_int(v: Any) -> bool:
    """An integer, and not a bool (YAML's ``true`` is not a count or a seed)."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    """A finite int or float, and not a bool."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse_seeds(seeds: Any) -> list[int]:
    """A config's ``seeds``: a list of integers, or a positive count n (seeds 0..n-1)."""
    if is_int(seeds):
        if seeds < 1:
            raise ConfigError(f"seeds must be a list of integers or a positive count, not {seeds!r}")
        seeds = list(range(seeds))
    if not isinstance(seeds, list) or not seeds or not all(is_int(s) for s in seeds):
        raise ConfigError(f"seeds must be a list of integers or a positive count, not {seeds!r}")
    return seeds


def parse_device(device: Any, tf32: Any) -> tuple[str, bool]:
    """A config's ``device`` (checked: cpu, cuda, cuda:N, mps, auto) and ``tf32`` (true or false)."""
    from experiments.devices import DeviceError, check_device

    try:
        device = check_device(device)
    except DeviceError as exc:
        raise ConfigError(str(exc)) from None
    if not isinstance(tf32, bool):
        raise ConfigError(f"tf32 must be true or false, not {tf32!r}")
    return device, tf32


def parse_study(raw: dict[str, Any], *, name: str = "study") -> Study:
    if not isinstance(raw, dict):
        raise ConfigError("a study config is a YAML mapping with keys " + ", ".join(sorted(TOP_KEYS)))
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in the study config; known keys: {sorted(TOP_KEYS)}")
    for key in ("space", "task", "proxies"):
        if key not in raw:
            raise ConfigError(f"the study config needs {key!r}")
    plugins = import_study_plugins(raw.get("plugins"))
    data = section(raw, "data", DATA_DEFAULTS)
    bs = data["batch_size"]
    if isinstance(bs, bool) or not isinstance(bs, int) or bs < 1:
        raise ConfigError(f"data.batch_size must be a positive integer (images per batch), not {bs!r}; "
                          "e.g. --set data.batch_size=32")
    gt = section(raw, "ground_truth", GT_DEFAULTS)
    check_network(gt["network"])
    pre = section(raw, "precomputed", PRECOMPUTED_DEFAULTS)
    if raw.get("precomputed") is not None and not pre["path"]:
        raise ConfigError("precomputed needs path: a NAS-Bench-Suite-Zero zc_<space>.json")
    if pre["proxies"] != "all" and (not isinstance(pre["proxies"], list)
                                    or not all(isinstance(p, str) for p in pre["proxies"])):
        raise ConfigError(f"precomputed.proxies must be 'all' or a list of proxy names, not {pre['proxies']!r}")
    archs = section(raw, "archs", ARCHS_DEFAULTS)
    executor = section(raw, "executor", EXECUTOR_DEFAULTS)
    if executor["kind"] not in (None, "local", "ray"):
        raise ConfigError(f"executor.kind must be 'local' or 'ray', not {executor['kind']!r}")
    if archs["from"] not in ("sample", "ground_truth"):
        raise ConfigError(f"archs.from must be 'sample' or 'ground_truth', not {archs['from']!r}")
    if archs["from"] == "ground_truth" and not gt["path"]:
        raise ConfigError("archs.from: ground_truth needs ground_truth.path")
    if archs["path"] is not None and archs["from"] != "ground_truth":
        raise ConfigError("archs.path (the file whose architectures are evaluated) needs archs.from: ground_truth")
    if archs["n"] is not None and (not is_int(archs["n"]) or archs["n"] < 1):
        raise ConfigError(f"archs.n must be a positive integer (or null for all), not {archs['n']!r}")
    if archs["from"] == "sample" and archs["n"] is None:
        raise ConfigError("archs.n is needed when archs.from is 'sample'")
    seeds = parse_seeds(raw.get("seeds", [0]))
    nonfinite = raw.get("nonfinite", "omit")
    if nonfinite not in NONFINITE:
        raise ConfigError(f"nonfinite must be one of {list(NONFINITE)} (omit: NaN/inf scores are left out of the "
                          f"correlations and counted; naslib: they become -1e8 as in NAS-Bench-Suite-Zero), "
                          f"not {nonfinite!r}")
    ablate = raw.get("ablate") or {}
    if not isinstance(ablate, dict) or not all(isinstance(v, list) and v for v in ablate.values()):
        raise ConfigError("ablate maps a dotted config key to a list of values, e.g. {data.size: [3, 15, 32]}")
    device, tf32 = parse_device(raw.get("device") or "auto", raw.get("tf32", False))
    return Study(
        name=str(raw.get("name") or name),
        space=str(raw["space"]),
        task=str(raw["task"]),
        space_options=dict(raw.get("space_options") or {}),
        data=data,
        ground_truth=gt,
        archs=archs,
        seeds=list(dict.fromkeys(seeds)),
        proxies=_proxy_specs(raw["proxies"]),
        ablate=ablate,
        raw=raw,
        precomputed=pre,
        executor=executor,
        device=device,
        tf32=tf32,
        plugins=plugins,
        nonfinite=nonfinite,
    )


def import_study_plugins(plugins: Any) -> list[str]:
    """Import a study's ``plugins``: module names or ``.py`` paths whose import registers
    proxies (or spaces) that the study uses; every process that parses the study imports them."""
    from zc_proxies.registry import PluginImportError, import_plugins

    if plugins is None:
        return []
    if isinstance(plugins, str):
        plugins = [plugins]
    if not isinstance(plugins, list) or not all(isinstance(p, str) and p for p in plugins):
        raise ConfigError(f"plugins must be a list of module names or .py paths, e.g. [my_proxy] or "
                          f"[./my_proxy.py], not {plugins!r}")
    try:
        import_plugins(plugins)
    except PluginImportError as exc:
        raise ConfigError(str(exc)) from None
    return list(plugins)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``--set key.sub=value`` overrides; values are parsed as YAML (numbers, lists, null)."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set takes KEY=VALUE (e.g. ground_truth.path=FILE), not {item!r}")
        key, value = item.split("=", 1)
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" at column {where.column + 1}" if where is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({problem}{at}); quote a string "
                              "(--set 'key=\"text\"') and close every bracket, e.g. --set 'seeds=[0, 1]'") from None
        _set_path(raw, key.strip(), parsed)
    return raw


def _with_imports(raw: dict[str, Any], imports: list[str] | None) -> dict[str, Any]:
    """Add ``--import`` modules to a study config's ``plugins`` (so every scoring process
    imports them too)."""
    if imports and isinstance(raw, dict):
        have = raw.get("plugins") or []
        have = [have] if isinstance(have, str) else list(have) if isinstance(have, list) else have
        if isinstance(have, list):
            raw["plugins"] = have + [m for m in imports if m not in have]
    return raw


def load_study(path: str | Path, overrides: list[str] | None = None, *, imports: list[str] | None = None) -> Study:
    """A study file with ``--set`` overrides; ``imports`` (``--import``) are added to its plugins."""
    raw = read_yaml(path, "study config", overrides, examples="experiments/configs/")
    _with_imports(raw, imports)
    if is_suite(raw):
        names = [e.get("name") or e.get("file") if isinstance(e, dict) else e for e in raw.get("studies") or []]
        raise ConfigError(f"{path} is a suite of studies ({names}); this command takes one study config "
                          "(`zcbench run` and `zcbench compare` take suites)")
    return parse_study(raw, name=Path(path).stem)


# ----------------------------------------------------------------------------- suites

SUITE_KEYS = {"name", "description", "defaults", "studies"}
_MERGED_SECTIONS = ("space_options", "data", "ground_truth", "archs", "precomputed")


@dataclass
class Suite:
    """Studies reported together: one column per study (and ablation variant) in one heatmap
    and one table. Their scores share the store, so studies that differ only in ground truth
    (or in which of the scored architectures they evaluate) score each network once."""

    name: str
    studies: list[Study]
    raw: dict[str, Any] = field(default_factory=dict)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if k in _MERGED_SECTIONS and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **copy.deepcopy(v)}
        else:
            out[k] = copy.deepcopy(v)
    return out


def split_overrides(overrides: list[str], names: list[str]) -> dict[str | None, list[str]]:
    """``KEY=VALUE`` applies to every study of a suite, ``NAME:KEY=VALUE`` to study NAME."""
    out: dict[str | None, list[str]] = {None: []}
    for item in overrides:
        key = item.split("=", 1)[0]
        if ":" in key:
            name, rest = item.split(":", 1)
            if name not in names:
                raise ConfigError(f"--set {item!r}: the suite has no study {name!r}; its studies: {names}")
            out.setdefault(name, []).append(rest)
        else:
            out[None].append(item)
    return out


def is_suite(raw: Any) -> bool:
    return isinstance(raw, dict) and "studies" in raw


def parse_suite(raw: dict[str, Any], *, name: str = "suite", base_dir: str | Path = ".",
                overrides: list[str] | None = None) -> Suite:
    """A suite config: ``studies``, a list of study mappings or ``{file: STUDY.yaml, ...}``
    entries (a plain string is a file; relative to the suite's folder). Each study is its
    file's keys, then the suite's ``defaults`` over them, then the entry's own keys (mapping
    sections such as ``data`` merge key by key). ``overrides`` as ``--set``: ``KEY=VALUE`` for
    every study, ``NAME:KEY=VALUE`` for study NAME."""
    unknown = sorted(set(raw) - SUITE_KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in the suite config; known keys: {sorted(SUITE_KEYS)}")
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError("the suite's 'defaults' must be a mapping of study keys")
    entries = raw.get("studies")
    if not isinstance(entries, list) or not entries:
        raise ConfigError("a suite's 'studies' must be a non-empty list of studies (mappings, or "
                          "{file: STUDY.yaml, ...overrides})")
    merged, names = [], []
    for i, entry in enumerate(entries):
        entry = {"file": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict):
            raise ConfigError(f"studies[{i}] must be a mapping or a study file name, not {entry!r}")
        entry = dict(entry)
        file = entry.pop("file", None)
        base: dict[str, Any] = {}
        stem = f"study{i + 1}"
        if file is not None:
            path = Path(file).expanduser()
            path = path if path.is_absolute() else Path(base_dir) / path
            base = read_yaml(path, f"study config (studies[{i}].file)", examples="experiments/configs/")
            stem = path.stem
        study_raw = _merge(_merge(base, defaults), entry)
        study_raw.pop("description", None)
        names.append(str(study_raw.get("name") or stem))
        study_raw["name"] = names[-1]
        merged.append(study_raw)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"study names in a suite must be unique; repeated: {dup} (give each entry its own name:)")
    sets = split_overrides(overrides or [], names)
    studies = [parse_study(apply_overrides(r, sets[None] + sets.get(n, [])), name=n) for r, n in zip(merged, names)]
    return Suite(str(raw.get("name") or name), studies, raw)


def load_suite(path: str | Path, overrides: list[str] | None = None, *, imports: list[str] | None = None) -> Suite:
    """A suite file, or a study file as a suite of one study; ``imports`` (``--import``) are
    added to every study's plugins."""
    path = Path(path)
    raw = read_yaml(path, "study or suite config", examples="experiments/configs/")
    if is_suite(raw):
        suite = parse_suite(raw, name=path.stem, base_dir=path.parent, overrides=overrides)
        if imports:
            suite.studies = [parse_study(_with_imports(s.raw, imports), name=s.name) for s in suite.studies]
        return suite
    study = parse_study(_with_imports(apply_overrides(raw, overrides or []), imports), name=path.stem)
    return Suite(study.name, [study], {"name": study.name, "studies": [study.raw]})
