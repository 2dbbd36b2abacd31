"""Study configs: a YAML file -> a validated :class:`Study`.

A study names a space and task, the input data, the ground truth, the architectures (``n``
sampled from the space per seed, or every architecture of the ground-truth file), the seeds,
the proxies with their options, and optionally an ablation grid over config keys.
"""
from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
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
               "arch_column": 0, "metric_columns": None, "header": "auto", "duplicates": "mean"}
#: precomputed proxy scores read from a NAS-Bench-Suite-Zero zc_<space>.json instead of computed
PRECOMPUTED_DEFAULTS = {"path": None, "dataset": None, "proxies": "all"}
ARCHS_DEFAULTS = {"from": "sample", "n": 100}
TOP_KEYS = {"name", "space", "space_options", "task", "data", "ground_truth", "archs", "seeds",
            "proxies", "ablate", "description", "precomputed", "nonfinite"}
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
    precomputed: dict[str, Any] = field(default_factory=lambda: dict(PRECOMPUTED_DEFAULTS))
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

    def fingerprint(self) -> str:
        """What must not change between a run and its resumption (everything but seeds and
        the list of proxies, which may grow)."""
        raw = {k: v for k, v in self.raw.items() if k not in ("seeds", "proxies", "description", "name", "nonfinite")}
        return json.dumps(raw, sort_keys=True, default=str)


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
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return apply_overrides(raw or {}, overrides or [])


def parse_study(raw: dict[str, Any], *, name: str = "study") -> Study:
    if not isinstance(raw, dict):
        raise ConfigError("a study config is a YAML mapping with keys " + ", ".join(sorted(TOP_KEYS)))
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in the study config; known keys: {sorted(TOP_KEYS)}")
    for key in ("space", "task", "proxies"):
        if key not in raw:
            raise ConfigError(f"the study config needs {key!r}")
    data = section(raw, "data", DATA_DEFAULTS)
    gt = section(raw, "ground_truth", GT_DEFAULTS)
    pre = section(raw, "precomputed", PRECOMPUTED_DEFAULTS)
    if raw.get("precomputed") is not None and not pre["path"]:
        raise ConfigError("precomputed needs path: a NAS-Bench-Suite-Zero zc_<space>.json")
    if pre["proxies"] != "all" and (not isinstance(pre["proxies"], list)
                                    or not all(isinstance(p, str) for p in pre["proxies"])):
        raise ConfigError(f"precomputed.proxies must be 'all' or a list of proxy names, not {pre['proxies']!r}")
    archs = section(raw, "archs", ARCHS_DEFAULTS)
    if archs["from"] not in ("sample", "ground_truth"):
        raise ConfigError(f"archs.from must be 'sample' or 'ground_truth', not {archs['from']!r}")
    if archs["from"] == "ground_truth" and not gt["path"]:
        raise ConfigError("archs.from: ground_truth needs ground_truth.path")
    if archs["n"] is not None and (not isinstance(archs["n"], int) or archs["n"] < 1):
        raise ConfigError(f"archs.n must be a positive integer (or null for all), not {archs['n']!r}")
    if archs["from"] == "sample" and archs["n"] is None:
        raise ConfigError("archs.n is needed when archs.from is 'sample'")
    seeds = raw.get("seeds", [0])
    if isinstance(seeds, int):
        seeds = list(range(seeds))
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise ConfigError(f"seeds must be a list of integers or a count, not {seeds!r}")
    nonfinite = raw.get("nonfinite", "omit")
    if nonfinite not in NONFINITE:
        raise ConfigError(f"nonfinite must be one of {list(NONFINITE)} (omit: NaN/inf scores are left out of the "
                          f"correlations and counted; naslib: they become -1e8 as in NAS-Bench-Suite-Zero), "
                          f"not {nonfinite!r}")
    ablate = raw.get("ablate") or {}
    if not isinstance(ablate, dict) or not all(isinstance(v, list) and v for v in ablate.values()):
        raise ConfigError("ablate maps a dotted config key to a list of values, e.g. {data.size: [3, 15, 32]}")
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
        nonfinite=nonfinite,
    )


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``--set key.sub=value`` overrides; values are parsed as YAML (numbers, lists, null)."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set takes KEY=VALUE (e.g. ground_truth.path=FILE), not {item!r}")
        key, value = item.split("=", 1)
        _set_path(raw, key.strip(), yaml.safe_load(value))
    return raw


def load_study(path: str | Path, overrides: list[str] | None = None) -> Study:
    raw = read_yaml(path, "study config", overrides, examples="experiments/configs/")
    return parse_study(raw, name=Path(path).stem)
