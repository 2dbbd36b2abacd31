"""A search from end to end (:func:`run_search`): per seed SWAP-NAS, then the random-search baseline
with as many evaluations, the ground truth of what each finds, and ``search.json`` /
``search.md`` rewritten after every seed; resumption of an earlier search into the same folder.

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

import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from experiments.config import ConfigError
from experiments.executors import set_threads
from experiments.search.config import SearchConfig
from experiments.search.evolution import SearchResult, evolve, random_search
from experiments.search.proxy import ProxyScorer, make_scorer, search_options, theta_in
from experiments.search.report import METHODS, plot_trajectories, search_markdown, truth_of
from experiments.search.truth import Truth


def _describe(space, arch, params: int, unit: str, theta_params: int | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"arch": str(arch)}
    if callable(getattr(arch, "to_compact", None)):  # a DARTS genotype: also NB301's compact encoding
        d["genotype"] = str(arch)
        try:
            d["nb301_compact"] = [[list(e) for e in cell] for cell in arch.to_compact()]
        except ValueError as exc:
            d["nb301_compact"] = None
            d["nb301_compact_note"] = str(exc)
    d["params"] = int(params)
    d["params_K"] = round(params / 1e3, 4)
    if theta_params is not None:  # the proxy's Θ counts another network than the scored one
        d["theta_params"] = int(theta_params)
    d["theta"] = round(theta_in(params if theta_params is None else theta_params, unit), 6)
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


def search_device(cfg: SearchConfig) -> str:
    """The config's device, resolved, with this process set up for it."""
    from experiments.devices import resolve_device, setup

    device = resolve_device(cfg.device)
    setup(device, tf32=cfg.tf32)
    return device


def progress_bar(total, progress: bool, desc: str, **kw):
    """A tqdm bar on stderr (counting evaluations unless ``unit`` says otherwise); none without ``progress``."""
    from tqdm import tqdm

    kw = {"unit": "eval", "smoothing": 0.05, **kw}
    return tqdm(total=total, desc=desc, disable=not progress, file=sys.stderr, dynamic_ncols=True, **kw)


def search_space(cfg: SearchConfig):
    """The space of ``cfg``, with its options."""
    import search_spaces  # noqa: F401
    from search_spaces.base import get_space

    return get_space(cfg.space, **cfg.space_options)


# Bump when evolve() or random_search() change what a seed finds: a search.json written by another
# version is then refused instead of being resumed into a mixture of both.
ALGORITHM = 2
SETTINGS = ("population", "sample_size", "mutations", "mutation_kinds", "children", "crossover_prob", "evaluations",
            "seconds", "random_search", "threads")


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
        self.bar = progress_bar(cfg.evaluations, progress, desc, leave=False, position=1)

    def __call__(self, best: float | None) -> None:
        self.bar.update(1)
        if best is not None:
            self.bar.set_postfix_str(f"best {best:.5g}", refresh=False)

    def close(self):
        self.bar.close()


def _run_seed(cfg: SearchConfig, space, options: dict, truth: "Truth", seed: int, progress: bool,
              device: str = "cpu") -> dict[str, Any]:
    unit = cfg.theta_unit
    scorer = make_scorer(cfg, space, options, seed, device)
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
        rscorer = make_scorer(cfg, space, options, seed, device)
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
    device = search_device(cfg)
    try:
        space = search_space(cfg)
        options = search_options(cfg, space)
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
        bar = progress_bar(len(cfg.seeds), progress, f"{cfg.name} seeds", unit="seed",
                           initial=len(cfg.seeds) - len(todo), position=0)
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
            m: {"median_accuracy": _median([truth_of(r, m) for r in rows]),
                "median_percentile": _median([truth_of(r, m, "percentile") for r in rows]),
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
            "by_metric": {m: _wins([(truth_of(s["swap_nas"], m), truth_of(s["random_search"], m)) for s in pairs])
                          for m in metrics}}
    return out


def _wins(pairs: list[tuple]) -> dict[str, int]:
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
    return {"better": sum(a > b for a, b in pairs), "equal": sum(a == b for a, b in pairs),
            "worse": sum(a < b for a, b in pairs)}

