"""Scores other tools read: ``zcbench export DIR --to nbsuite-zero OUT/``.

NAS-Bench-Suite-Zero's ``zc_<space>.json`` is what NASLib's zero-cost predictors, zc_combine and
GRAF consume. Its final layout, one file per search space::

    {"<dataset or task>": {"<str(arch hash)>": {"<proxy>": {"score": float, "time": float}, ...,
                                                "val_accuracy": float}}}

with the keys NASLib writes (each space's ``zc_key``: NB201 op indices ``"(4, 0, 3, 1, 4, 3)"``,
NB301's compact tuple ``"(((0, 0), (1, 5), ...), (...))"``, NB101's 56-tuple under its dataset
at the top level, TNB101's digit tuples). NB301 and NB101 keys are zcbench's canonical ones: each
NB301 node's two edges ordered by input node, an NB101 cell's vertices renumbered; the file's
own key for the same architecture may list them in another order (its reader, and zcbench's,
parse both to the same architecture; a tool that looks keys up as text may not). Every proxy of the store is written under its label in
the study (computed, read from a precomputed file, or derived by the reports such as reg_swap,
whose ``time`` is 0: it is computed from its bases' stored scores), for one seed (``seed``) or
averaged over seeds (``average``: the mean of the finite scores, and of their seconds). A
non-finite score is written as NASLib's replacement (-1e8; synflow -log(1e8)), as
NB-Suite-Zero's own files hold it; a failed or missing score is left out of its record.
``val_accuracy`` is written where the column's ground truth has a validation accuracy; a column
whose ground truth has none (e.g. NATS-Bench test accuracy) gets records without it, and a note
says so. The dataset key is the study's task (or its ``ground_truth.dataset``); columns of one
space that would share a key (one scoring reported against several ground truths) are keyed by
their column labels instead.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.config import ConfigError

FORMATS = ("nbsuite-zero",)
#: the file NAS-Bench-Suite-Zero names for each space it covers


def zc_files() -> dict[str, str]:
    """{space: the name of its NAS-Bench-Suite-Zero file} for every registered space that has
    one (its ``nbsuite_zero_file``)."""
    from search_spaces.base import SPACES

    return {n: SPACES.get(n).nbsuite_zero_file for n in SPACES.names() if SPACES.get(n).nbsuite_zero_file}


def export(src: str | Path, to: str, dest: str | Path, *, seed: int | None = None, average: bool = False,
           overrides: list[str] | None = None, studies: list[str] | None = None,
           force: bool = False) -> tuple[list[Path], list[str]]:
    """Write the scores of the run folder ``src`` in format ``to`` into the folder ``dest``;
    returns the files written and notes for the user."""
    if to not in FORMATS:
        raise ConfigError(f"unknown export format {to!r}; formats: {', '.join(FORMATS)}")
    if seed is not None and average:
        raise ConfigError("--seed and --average exclude each other: choose one seed's scores or their mean")
    from experiments.frames import collect, stored_suite
    from experiments.store import ResultsNotFoundError, Store

    path = Path(src) / "results.sqlite"
    if not path.is_file():
        raise ResultsNotFoundError(f"no results at {path}; run `zcbench run CONFIG.yaml --out {src}` first")
    with Store(path, write=False) as store:
        columns, frame, _, _ = collect(stored_suite(store, overrides, studies), store)
    tables, notes = nbsuite_zero_tables(columns, frame, seed=seed, average=average)
    dest = Path(dest)
    paths = [dest / name for name in tables]
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"{dest} is a file; give a folder to write the zc_<space>.json files into")
    there = [p for p in paths if p.exists()]
    if there and not force:
        raise ConfigError(f"{', '.join(str(p) for p in there)} already exist{'s' if len(there) == 1 else ''}; "
                          "remove it, choose another folder, or add --force to overwrite")
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for p in paths:
            tmp = p.with_name(p.name + ".tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(tables[p.name], f, allow_nan=False)
            tmp.replace(p)
    except OSError as exc:
        raise ConfigError(f"cannot write {dest} ({exc.strerror or exc}); choose a writable folder") from None
    return paths, notes


def _seeds(frame: pd.DataFrame, seed: int | None, average: bool) -> list[int]:
    have = sorted(int(s) for s in frame["seed"].unique())
    if seed is not None:
        if seed not in have:
            raise ConfigError(f"--seed {seed}: the store has seeds {have}")
        return [seed]
    if average or len(have) == 1:
        return have
    raise ConfigError(f"the store has seeds {have}: choose one with --seed N, or --average for their mean")


def nbsuite_zero_tables(columns, frame: pd.DataFrame, *, seed: int | None = None, average: bool = False
                        ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``{file name: {dataset: {key: record}}}`` of a run's columns and scores frame
    (:func:`experiments.frames.collect`; see the module) and notes for the user."""
    from experiments.ranking import proxies_of
    from experiments.frames import naslib_nonfinite_value, study_truth
    from search_spaces.base import get_space

    stored = frame[frame["status"].isin(["ok", "nonfinite"])]
    if stored.empty:
        raise ConfigError("the store holds no scores to export; run `zcbench run CONFIG.yaml --out DIR` first")
    seeds = _seeds(stored, seed, average)
    proxies = proxies_of(columns)
    notes: list[str] = []
    files = zc_files()
    cols = [c for c in columns if c.study.space in files]
    for c in columns:
        if c.study.space not in files:
            notes.append(f"{c.label}: space {c.study.space!r} is not in NAS-Bench-Suite-Zero (it covers "
                         f"{', '.join(files)}); not exported")
    if not cols:
        have = sorted({c.study.space for c in columns})
        raise ConfigError(f"no column of this run is in a NAS-Bench-Suite-Zero space: its space{'s' * (len(have) > 1)} "
                          f"{', '.join(repr(h) for h in have)}, NB-Suite-Zero's {', '.join(files)}; "
                          "nothing to export")
    keys: dict[tuple[str, str], list] = {}
    for c in cols:
        keys.setdefault((c.study.space, c.study.ground_truth.get("dataset") or c.study.task), []).append(c)
    out: dict[str, dict[str, Any]] = {}
    for (space_name, dataset), group in keys.items():
        for c in group:
            name = dataset if len(group) == 1 else c.label
            if len(group) > 1:
                notes.append(f"{c.label}: keyed {name!r}, not {dataset!r}, since {len(group)} columns of "
                             f"{space_name} share that task")
            space = get_space(c.study.space, **c.study.space_options)
            cf = stored[(stored["column"] == c.label) & stored["seed"].isin(seeds)]
            if cf.empty:
                notes.append(f"{c.label}: no stored score for seed(s) {seeds}; not exported")
                continue
            va = _val_accuracy(c, cf, space, study_truth)
            if va is None:
                notes.append(f"{c.label}: its ground truth ({c.metric}) has no validation accuracy; records "
                             f"without val_accuracy")
            table: dict[str, dict[str, Any]] = {}
            zc_key: dict[str, str] = {}
            for (arch_s, label), g in cf.groupby(["arch", "proxy"], sort=True):
                v = g["value"].to_numpy(float)
                fin = np.isfinite(v)
                value = float(v[fin].mean()) if fin.any() else naslib_nonfinite_value(proxies.get(label, label))
                secs = g["seconds"].to_numpy(float)
                secs = float(np.nanmean(secs)) if np.isfinite(secs).any() else 0.0
                if arch_s not in zc_key:
                    zc_key[arch_s] = space.zc_key(space.parse(arch_s))
                table.setdefault(zc_key[arch_s], {})[label] = {"score": value, "time": secs}
            if va is not None:
                for arch_s, key in zc_key.items():
                    if arch_s in va and math.isfinite(va[arch_s]):
                        table[key]["val_accuracy"] = float(va[arch_s])
            out.setdefault(files[space_name], {})[name] = table
    return out, notes


def _val_accuracy(col, cf: pd.DataFrame, space, truth_of) -> dict[str, float] | None:
    """{arch string: validation accuracy} of the column's ground truth, or None without one."""
    if col.metric == "val_accuracy":
        t = cf.drop_duplicates("arch")
        return dict(zip(t["arch"], t["truth"].astype(float)))
    _, gt, _ = truth_of(col.study, space)
    if gt is None or "val_accuracy" not in gt.metrics:
        return None
    return {str(a): float(v) for a, v in gt.metric("val_accuracy").items()}
