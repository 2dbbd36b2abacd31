"""NAS-Bench-201 ground truth from the benchmark's own files.

Three ground-truth formats for the ``nb201`` space, registered in
:data:`search_spaces.ground_truth.FORMATS` (NAS-Bench-Suite-Zero's ``zc_nasbench201.json`` is
the generic ``nbsuite_zero`` format, keyed by NASLib op_indices through ``NB201Space.zc_key``):

* ``nb201_pth``: ``NAS-Bench-201-v1_0-e61699.pth`` / ``NAS-Bench-201-v1_1-096897.pth``, a
  ``torch.save``'d dict ``{"meta_archs": [15625 arch strings], "arch2infos": {index: {"full":
  ArchResults state, "less": ArchResults state}}, "evaluated_indexes": [...]}`` ("full" = the
  200-epoch schedule, "less" = 12 epochs);
* ``nats_tss``: NATS-Bench's topology search space (the same 15625 cells), either the folder
  ``NATS-tss-v1_0-3ffb9-simple/`` (``meta.pickle.pbz2`` with ``meta_archs`` plus one
  ``{index:06d}.pickle.pbz2`` per architecture holding ``{"12": state, "200": state}``; give
  the path of its ``meta.pickle.pbz2``) or the single ``NATS-tss-v1_0-3ffb9.pickle.pbz2``
  (bz2-compressed pickle of ``{"meta_archs", "arch2infos": {index: {"12": ..., "200": ...}},
  "evaluated_indexes"}``);
* ``naslib_nb201_pickle``: NASLib's ``nb201_<dataset>_full_training.pickle``, ``{arch string:
  {"cifar10-valid" | "cifar100" | "ImageNet16-120": {"eval_acc1es": [per epoch], "train_acc1es":
  [...], ...}}}``, the file NAS-Bench-Suite-Zero took ``val_accuracy`` from.

An ArchResults state is ``{"arch_index", "arch_str", "all_results": {(dataset, seed): ResultsCount
state}, "dataset_seed": {dataset: [seeds]}, "clear_net_done"}``; a ResultsCount state holds
``epochs``, ``train_acc1es`` ``{epoch: acc}`` and ``eval_acc1es`` ``{"<set>@<epoch>": acc}``
among others. zcbench loads the files itself, without executing code from them (a pickle reader
that refuses every global outside plain containers and numpy scalars; ``torch.load(...,
weights_only=True)`` for a ``.pth`` that holds tensors), then reads every metric through the official packages' own ``ArchResults``
class (``nas_201_api`` from ``pip install nas-bench-201``, ``nats_bench`` from
``pip install nats_bench``): ``ArchResults.create_from_state_dict(state).get_metrics(dataset,
set, iepoch=None, is_random=...)``, exactly as ``NASBench201API`` / ``nats_bench.create`` build
and query them. The APIs' constructors are not called because ``NASBench201API`` leaves the
``torch.load`` safety setting to torch's default and ``nats_bench`` unpickles without limits.

Metrics (percent, after the last epoch of the chosen schedule; NB201's own split names):

==================  ==============  ==========  ===========================
metric              cifar10-valid   cifar10     cifar100 / ImageNet16-120
==================  ==============  ==========  ===========================
``val_accuracy``    x-valid         (none)      x-valid
``test_accuracy``   ori-test        ori-test    x-test
``valtest_accuracy`` (none)         (none)      ori-test (= x-valid + x-test)
``train_accuracy``  train           train       train
==================  ==============  ==========  ===========================

Options (ground_truth config keys):

* ``dataset``: the NB201 training setting. Default: the task, with ``cifar10`` mapped to
  ``cifar10-valid`` (trained on the 25k train split, so that a validation accuracy exists), as
  NASLib does. ``dataset: cifar10`` selects the models trained on
  train+valid, which have only ``test_accuracy``.
* ``epochs``: 200 (default; NB201 "full", NATS hp "200") or 12 (NB201 "less", NATS hp "12").
* ``trials``: ``"mean"`` (default: the mean over the trained seeds, ``is_random=False``) or one
  seed (777, 888 or 999); architectures without that seed are left out.
* ``test_is_val``: QUIRK of NASLib, whose NB201 query maps both ``Metric.VAL_ACCURACY`` and
  ``Metric.TEST_ACCURACY`` to ``eval_acc1es``. False (default, the benchmark's own semantics):
  ``test_accuracy`` is the test split; True: ``test_accuracy`` equals ``val_accuracy``. In the
  ``naslib_nb201_pickle`` format the quirk is in the file itself (one ``eval_acc1es`` list).

Loaded tables are cached in-process per (file, mtime, size, options): the ``.pth`` files are
2 to 4 GB and take a minute or more to load.
"""
from __future__ import annotations

import bz2
import functools
import math
import os
import pickle
from pathlib import Path
from typing import Any, Callable, Hashable, Iterator

import numpy as np

from search_spaces.ground_truth import GroundTruth, GroundTruthError, GroundTruthNotFoundError, register_format
from search_spaces import plain_pickle

__all__ = [
    "NB201_URL",
    "NATS_URL",
    "NASLIB_NB201_URL",
    "DATASETS",
    "TASK_TO_DATASET",
    "SETS",
    "read_nb201_pth",
    "read_nats_tss",
    "read_naslib_nb201_pickle",
    "clear_cache",
]

NB201_URL = ("https://github.com/D-X-Y/NAS-Bench-201 (README: NAS-Bench-201-v1_0-e61699.pth or "
             "NAS-Bench-201-v1_1-096897.pth on Google Drive)")
NATS_URL = ("https://github.com/D-X-Y/NATS-Bench (README: NATS-tss-v1_0-3ffb9-simple.tar; extract it and give "
            "the path of NATS-tss-v1_0-3ffb9-simple/meta.pickle.pbz2)")
NASLIB_NB201_URL = ("https://drive.google.com/drive/folders/1rwmkqyij3I24zn5GSO6fGv2mzdEfPIEa (NASLib's "
                    "nb201_cifar10_full_training.pickle, nb201_cifar100_full_training.pickle, "
                    "nb201_ImageNet16_full_training.pickle; see automl/NASLib naslib/utils/get_dataset_api.py)")

#: The NB201 training settings (keys of ``dataset_seed`` in the benchmark files).
DATASETS: tuple[str, ...] = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
#: Default ``dataset`` per nb201 task (NASLib's mapping).
TASK_TO_DATASET: dict[str, str] = {"cifar10": "cifar10-valid", "cifar100": "cifar100",
                                   "ImageNet16-120": "ImageNet16-120"}
#: The evaluation set behind each metric, per dataset (the API's ``get_more_info``).
SETS: dict[str, dict[str, str]] = {
    "cifar10-valid": {"val_accuracy": "x-valid", "test_accuracy": "ori-test", "train_accuracy": "train"},
    "cifar10": {"test_accuracy": "ori-test", "train_accuracy": "train"},
    "cifar100": {"val_accuracy": "x-valid", "test_accuracy": "x-test", "valtest_accuracy": "ori-test",
                 "train_accuracy": "train"},
    "ImageNet16-120": {"val_accuracy": "x-valid", "test_accuracy": "x-test", "valtest_accuracy": "ori-test",
                       "train_accuracy": "train"},
}
EPOCHS: tuple[int, ...] = (200, 12)
_PTH_HP = {200: "full", 12: "less"}

_PTH_EXPECTED = ('a NAS-Bench-201 .pth: a torch.save\'d dict {"meta_archs": [arch strings], "arch2infos": '
                 '{index: {"full": ArchResults state, "less": ArchResults state}}, "evaluated_indexes": [...]}')
_NATS_EXPECTED = ('NATS-Bench topology (tss): NATS-tss-v1_0-3ffb9-simple/meta.pickle.pbz2 (with the '
                  '{index:06d}.pickle.pbz2 files beside it, each {"12": ArchResults state, "200": ...}) or '
                  'NATS-tss-v1_0-3ffb9.pickle.pbz2 ({"meta_archs", "arch2infos", "evaluated_indexes"}), '
                  'bz2-compressed pickles')
_NASLIB_EXPECTED = ('NASLib\'s nb201_<dataset>_full_training.pickle: {arch string: {"cifar10-valid" | '
                    '"cifar100" | "ImageNet16-120": {"eval_acc1es": [accuracy per epoch], ...}}}')


# --------------------------------------------------------------------------------------
# options


def _dataset(task: str, dataset: str | None, path: Path, url: str) -> str:
    ds = dataset if dataset is not None else TASK_TO_DATASET.get(task, task)
    if ds not in DATASETS:
        raise GroundTruthError(
            f"{path}: no NAS-Bench-201 dataset {ds!r} (from "
            f"{'ground_truth.dataset' if dataset is not None else f'task {task!r}'}); the benchmark's "
            f"datasets are {', '.join(DATASETS)} (set ground_truth.dataset). The real file: {url}")
    return ds


def _check_epochs(epochs: Any) -> int:
    if isinstance(epochs, bool) or epochs not in EPOCHS:
        raise GroundTruthError(f"ground_truth.epochs must be 200 (the full schedule) or 12 (NB201 'less', "
                               f"NATS hp '12'), not {epochs!r}")
    return int(epochs)


def _check_trials(trials: Any) -> str | int:
    if trials == "mean":
        return "mean"
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)):
        raise GroundTruthError(f"ground_truth.trials must be 'mean' (the mean over the trained seeds) or one "
                               f"seed such as 777, 888 or 999, not {trials!r}")
    return int(trials)


def _check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise GroundTruthError(f"ground_truth.{name} must be true or false, not {value!r}")
    return value


# --------------------------------------------------------------------------------------
# safe loading (search_spaces.plain_pickle)


def _unpickle(path: Path, *, compressed: bool, expected: str, url: str) -> Any:
    try:
        with (bz2.open(path, "rb") if compressed else open(path, "rb")) as f:
            return plain_pickle.load(f, encoding="latin1")
    except pickle.UnpicklingError as exc:
        raise GroundTruthError(f"{path}: not a plain-data pickle ({exc}); expected {expected}. The real file: "
                               f"{url}") from None
    except (OSError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as exc:
        what = "bz2-compressed pickle" if compressed else "pickle"
        raise GroundTruthError(f"{path}: not a readable {what} ({type(exc).__name__}: {exc}; a truncated "
                               f"download?); expected {expected}. The real file: {url}") from None


def _torch_load(path: Path) -> Any:
    try:
        return plain_pickle.torch_load(path)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GroundTruthError(
            f"{path}: torch.load(weights_only=True) refused it ({first}); a NAS-Bench-201 .pth holds only "
            f"dicts, lists, numbers and strings. Expected {_PTH_EXPECTED}. The real file: {NB201_URL}") from None
    except Exception as exc:  # truncated / not a torch file: many error types
        raise GroundTruthError(
            f"{path}: not a readable torch file ({type(exc).__name__}: {str(exc)[:200]}; a truncated "
            f"download?). Expected {_PTH_EXPECTED}. The real file: {NB201_URL}") from None


# --------------------------------------------------------------------------------------
# the official ArchResults classes


def _arch_results_class(package: str) -> Any:
    """``ArchResults`` of the official API package ("nas_201_api" or "nats_bench")."""
    try:
        if package == "nas_201_api":
            from nas_201_api.api_utils import ArchResults
        else:
            from nats_bench.api_utils import ArchResults
    except ImportError:
        pip = "nas-bench-201" if package == "nas_201_api" else "nats_bench"
        raise GroundTruthError(
            f"reading this ground-truth file needs the benchmark's official package {package!r}: "
            f"pip install {pip}") from None
    return ArchResults


def _metrics(ar: Any, dataset: str, trials: str | int, test_is_val: bool) -> dict[str, float] | None:
    """The metrics of one ArchResults on ``dataset`` (None when it was not trained there, or not
    with the requested seed)."""
    seeds = ar.dataset_seed.get(dataset) if isinstance(getattr(ar, "dataset_seed", None), dict) else None
    if not seeds:
        return None
    if trials != "mean" and trials not in seeds:
        return None
    is_random = False if trials == "mean" else trials
    out: dict[str, float] = {}
    for metric, setname in SETS[dataset].items():
        info = ar.get_metrics(dataset, setname, iepoch=None, is_random=is_random)
        out[metric] = float(info["accuracy"])
    if test_is_val and "val_accuracy" in out:
        out["test_accuracy"] = out["val_accuracy"]
    return out


def _table(entries: Iterator[tuple[int, str, Any]], dataset: str, trials: str | int, test_is_val: bool,
           path: Path, expected: str, url: str) -> tuple[dict[str, dict[str, float]], int, set[str]]:
    """``{arch string: metrics}`` from (index, arch string, ArchResults), the number of
    architectures read and the datasets seen."""
    table: dict[str, dict[str, float]] = {}
    seen: set[str] = set()
    n = 0
    for idx, arch_str, ar in entries:
        n += 1
        seen.update(getattr(ar, "dataset_seed", {}) or {})
        try:
            m = _metrics(ar, dataset, trials, test_is_val)
        except (KeyError, ValueError, AssertionError, TypeError, IndexError, ZeroDivisionError) as exc:
            raise GroundTruthError(
                f"{path}: architecture {idx} ({arch_str}) has no complete {dataset!r} results "
                f"({type(exc).__name__}: {exc}); expected {expected}. The real file: {url}") from None
        if m is None:
            continue
        bad = [k for k, v in m.items() if not math.isfinite(v)]
        if bad:
            raise GroundTruthError(f"{path}: architecture {idx} ({arch_str}): {bad[0]} on {dataset!r} is {m[bad[0]]}")
        table[arch_str] = m
    return table, n, seen


def _to_ground_truth(table: dict[str, dict[str, float]], space: Any, source: str, path: Path,
                     dataset: str, n: int, seen: set[str], trials: str | int, url: str) -> GroundTruth:
    if not table:
        why = (f"no architecture has results on {dataset!r}" if dataset not in seen else
               f"no architecture has a trial with seed {trials} on {dataset!r}")
        raise GroundTruthError(f"{path}: {why} ({n} architecture(s) read; datasets in the file: "
                               f"{sorted(seen) or 'none'}); set ground_truth.dataset / trials / epochs. "
                               f"The real file: {url}")
    values: dict[Hashable, dict[str, float]] = {}
    for arch_str, m in table.items():
        try:
            values[space.parse(arch_str)] = m
        except ValueError as exc:
            raise GroundTruthError(f"{path}: architecture string {arch_str!r}: {exc}") from None
    metrics = [m for m in ("val_accuracy", "test_accuracy", "valtest_accuracy", "train_accuracy")
               if any(m in v for v in table.values())]
    return GroundTruth(metrics=metrics, values=values, source=source, n_rows=len(values),
                       n_duplicates=len(table) - len(values))


def _stat(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


def _source(path: Path, dataset: str, epochs: int | None, trials: str | int, test_is_val: bool) -> str:
    bits = [dataset] + ([f"{epochs} epochs"] if epochs else [])
    bits.append("mean over trials" if trials == "mean" else f"seed {trials}")
    if test_is_val:
        bits.append("test_is_val")
    return f"{path} [{', '.join(bits)}]"


# --------------------------------------------------------------------------------------
# NAS-Bench-201 .pth


def _require_dict(obj: Any, what: str, path: Path, expected: str, url: str) -> dict:
    if not isinstance(obj, dict):
        raise GroundTruthError(f"{path}: {what} is a {type(obj).__name__}, not a dict; expected {expected}. "
                               f"The real file: {url}")
    return obj


def _meta_archs(data: dict, path: Path, expected: str, url: str) -> list[str]:
    meta = data.get("meta_archs")
    if not isinstance(meta, (list, tuple)) or not all(isinstance(s, str) for s in meta):
        raise GroundTruthError(f"{path}: 'meta_archs' is missing or not a list of architecture strings "
                               f"(keys: {sorted(map(str, data))}); expected {expected}. The real file: {url}")
    return list(meta)


@functools.lru_cache(maxsize=4)
def _pth_table(path_str: str, mtime_ns: int, size: int, dataset: str, epochs: int, trials: str | int,
               test_is_val: bool) -> tuple[dict[str, dict[str, float]], int, frozenset]:
    path = Path(path_str)
    ArchResults = _arch_results_class("nas_201_api")
    data = _require_dict(_torch_load(path), "the top level", path, _PTH_EXPECTED, NB201_URL)
    meta = _meta_archs(data, path, _PTH_EXPECTED, NB201_URL)
    infos = _require_dict(data.get("arch2infos"), "'arch2infos'", path, _PTH_EXPECTED, NB201_URL)
    hp = _PTH_HP[epochs]

    def entries():
        for idx in sorted(infos):
            all_info = infos[idx]
            if not isinstance(all_info, dict) or hp not in all_info:
                have = sorted(all_info) if isinstance(all_info, dict) else type(all_info).__name__
                raise GroundTruthError(f"{path}: arch2infos[{idx}] has no {hp!r} results ({epochs} epochs); it has "
                                       f"{have}; expected {_PTH_EXPECTED}. The real file: {NB201_URL}")
            if not isinstance(idx, int) or not 0 <= idx < len(meta):
                raise GroundTruthError(f"{path}: arch2infos key {idx!r} is not an index into meta_archs "
                                       f"(0..{len(meta) - 1})")
            try:
                ar = ArchResults.create_from_state_dict(all_info[hp])
            except Exception as exc:
                raise GroundTruthError(f"{path}: arch2infos[{idx}][{hp!r}] is not an ArchResults state "
                                       f"({type(exc).__name__}: {exc}); expected {_PTH_EXPECTED}") from None
            yield idx, meta[idx], ar

    table, n, seen = _table(entries(), dataset, trials, test_is_val, path, _PTH_EXPECTED, NB201_URL)
    return table, n, frozenset(seen)


def read_nb201_pth(path: str | os.PathLike, space: Any, task: str, *, dataset: str | None = None,
                   epochs: int = 200, trials: str | int = "mean", test_is_val: bool = False) -> GroundTruth:
    """NAS-Bench-201 accuracies of ``task`` from a ``NAS-Bench-201-v1_*.pth`` (see the module
    docstring for the metrics and options)."""
    path = Path(path)
    if not path.is_file():
        raise GroundTruthNotFoundError(f"NAS-Bench-201 file {path}: {'not a file' if path.exists() else 'no such file'}. "
                                       f"Expected {_PTH_EXPECTED}; download it from {NB201_URL}")
    ds = _dataset(task, dataset, path, NB201_URL)
    ep, tr, tv = _check_epochs(epochs), _check_trials(trials), _check_flag(test_is_val, "test_is_val")
    table, n, seen = _pth_table(*_stat(path), ds, ep, tr, tv)
    return _to_ground_truth(table, space, _source(path, ds, ep, tr, tv), path, ds, n, set(seen), tr, NB201_URL)


# --------------------------------------------------------------------------------------
# NATS-Bench topology (tss)


def _nats_arch_file(folder: Path, idx: int) -> Path | None:
    for name in (f"{idx:06d}.pickle.pbz2", f"{idx}.pickle.pbz2"):
        if (folder / name).is_file():
            return folder / name
    return None


@functools.lru_cache(maxsize=4)
def _nats_table(path_str: str, mtime_ns: int, size: int, dataset: str, epochs: int, trials: str | int,
                test_is_val: bool) -> tuple[dict[str, dict[str, float]], int, frozenset]:
    path = Path(path_str)
    ArchResults = _arch_results_class("nats_bench")
    folder = path if path.is_dir() else path.parent
    meta_path = folder / "meta.pickle.pbz2" if path.is_dir() else path
    if not meta_path.is_file():
        raise GroundTruthNotFoundError(f"NATS-Bench folder {folder}: no meta.pickle.pbz2 in it. Expected "
                                       f"{_NATS_EXPECTED}; download it from {NATS_URL}")
    data = _require_dict(_unpickle(meta_path, compressed=True, expected=_NATS_EXPECTED, url=NATS_URL),
                         "the top level", meta_path, _NATS_EXPECTED, NATS_URL)
    meta = _meta_archs(data, meta_path, _NATS_EXPECTED, NATS_URL)
    hp = str(epochs)
    if "arch2infos" in data:  # the single-file benchmark
        infos = _require_dict(data["arch2infos"], "'arch2infos'", meta_path, _NATS_EXPECTED, NATS_URL)
        items: Iterator[tuple[int, Callable[[], Any], str]] = (
            (idx, (lambda v=infos[idx]: v), f"{meta_path} arch2infos[{idx}]") for idx in sorted(infos))
    else:  # the -simple folder: one file per architecture beside meta.pickle.pbz2
        missing = [i for i in range(len(meta)) if _nats_arch_file(folder, i) is None]
        if missing:
            raise GroundTruthNotFoundError(
                f"NATS-Bench folder {folder}: {len(missing)} of {len(meta)} architecture files are missing, e.g. "
                f"{missing[0]:06d}.pickle.pbz2 (an incomplete extraction?). Expected {_NATS_EXPECTED}; download "
                f"it from {NATS_URL}")
        items = ((i, (lambda f=_nats_arch_file(folder, i): _unpickle(f, compressed=True, expected=_NATS_EXPECTED,
                                                                      url=NATS_URL)),
                  str(_nats_arch_file(folder, i))) for i in range(len(meta)))

    def entries():
        for idx, load, where in items:
            hp2state = load()
            if not isinstance(hp2state, dict) or hp not in hp2state:
                have = sorted(map(str, hp2state)) if isinstance(hp2state, dict) else type(hp2state).__name__
                raise GroundTruthError(f"{where}: no results for hp {hp!r} ({epochs} epochs); it has {have}; "
                                       f"expected {_NATS_EXPECTED}. The real file: {NATS_URL}")
            if not isinstance(idx, int) or not 0 <= idx < len(meta):
                raise GroundTruthError(f"{where}: index {idx!r} is not an index into meta_archs (0..{len(meta) - 1})")
            try:
                ar = ArchResults.create_from_state_dict(hp2state[hp])
            except Exception as exc:
                raise GroundTruthError(f"{where}: hp {hp!r} is not an ArchResults state ({type(exc).__name__}: "
                                       f"{exc}); expected {_NATS_EXPECTED}") from None
            yield idx, meta[idx], ar

    table, n, seen = _table(entries(), dataset, trials, test_is_val, meta_path, _NATS_EXPECTED, NATS_URL)
    return table, n, frozenset(seen)


def read_nats_tss(path: str | os.PathLike, space: Any, task: str, *, dataset: str | None = None,
                  epochs: int = 200, trials: str | int = "mean", test_is_val: bool = False) -> GroundTruth:
    """NATS-Bench topology accuracies of ``task`` from ``NATS-tss-v1_0-3ffb9-simple/meta.pickle.pbz2``
    (or that folder, or ``NATS-tss-v1_0-3ffb9.pickle.pbz2``); metrics and options as for the .pth."""
    path = Path(path)
    if not path.exists():
        raise GroundTruthNotFoundError(f"NATS-Bench file {path}: no such file or folder. Expected {_NATS_EXPECTED}; "
                                       f"download it from {NATS_URL}")
    ds = _dataset(task, dataset, path, NATS_URL)
    ep, tr, tv = _check_epochs(epochs), _check_trials(trials), _check_flag(test_is_val, "test_is_val")
    meta_file = path / "meta.pickle.pbz2" if path.is_dir() else path
    if not meta_file.is_file():
        raise GroundTruthNotFoundError(f"NATS-Bench folder {path}: no meta.pickle.pbz2 in it. Expected "
                                       f"{_NATS_EXPECTED}; download it from {NATS_URL}")
    _, mtime_ns, size = _stat(meta_file)
    table, n, seen = _nats_table(str(path), mtime_ns, size, ds, ep, tr, tv)
    return _to_ground_truth(table, space, _source(path, ds, ep, tr, tv), path, ds, n, set(seen), tr, NATS_URL)


# --------------------------------------------------------------------------------------
# NASLib's nb201_<dataset>_full_training.pickle


@functools.lru_cache(maxsize=2)
def _naslib_table(path_str: str, mtime_ns: int, size: int, dataset: str) -> tuple[dict[str, dict[str, float]], frozenset]:
    path = Path(path_str)
    data = _require_dict(_unpickle(path, compressed=False, expected=_NASLIB_EXPECTED, url=NASLIB_NB201_URL),
                         "the top level", path, _NASLIB_EXPECTED, NASLIB_NB201_URL)
    table: dict[str, dict[str, float]] = {}
    seen: set[str] = set()
    for key, rec in data.items():
        if not isinstance(rec, dict):
            raise GroundTruthError(f"{path}: the record of {key!r} is a {type(rec).__name__}, not a dict; expected "
                                   f"{_NASLIB_EXPECTED}. The real file: {NASLIB_NB201_URL}")
        seen.update(map(str, rec))
        if dataset not in rec:
            continue
        res = rec[dataset]
        out: dict[str, float] = {}
        for metric, field in (("val_accuracy", "eval_acc1es"), ("train_accuracy", "train_acc1es")):
            lc = res.get(field) if isinstance(res, dict) else None
            if lc is None and field == "train_acc1es":
                continue
            try:
                v = float(lc[-1])  # NASLib's query(..., epoch=-1): the last epoch
            except (TypeError, IndexError, KeyError, ValueError):
                raise GroundTruthError(f"{path}: {key!r} / {dataset!r}: {field} is {type(lc).__name__}, not a "
                                       f"non-empty list of accuracies per epoch; expected {_NASLIB_EXPECTED}. "
                                       f"The real file: {NASLIB_NB201_URL}") from None
            if not math.isfinite(v):
                raise GroundTruthError(f"{path}: {key!r} / {dataset!r}: the last {field} is {v}")
            out[metric] = v
        out["test_accuracy"] = out["val_accuracy"]  # QUIRK: NASLib maps VAL and TEST to eval_acc1es
        table[_naslib_key(key, path)] = out
    return table, frozenset(seen)


def _naslib_key(key: Any, path: Path) -> str:
    """An NB201 string; op_indices tuples (some NASLib conversions key by them) are converted."""
    if isinstance(key, str):
        return key
    if isinstance(key, tuple) and len(key) == 6:
        from search_spaces.nb201 import op_indices_to_str

        try:
            return op_indices_to_str(key)
        except ValueError as exc:
            raise GroundTruthError(f"{path}: key {key!r}: {exc}") from None
    raise GroundTruthError(f"{path}: key {key!r} is neither an NB201 architecture string nor NASLib op_indices; "
                           f"expected {_NASLIB_EXPECTED}")


def read_naslib_nb201_pickle(path: str | os.PathLike, space: Any, task: str, *,
                             dataset: str | None = None) -> GroundTruth:
    """``eval_acc1es`` at the last epoch from NASLib's ``nb201_<dataset>_full_training.pickle``:
    ``val_accuracy`` and (NASLib's QUIRK) the same value as ``test_accuracy``; ``train_accuracy``
    from ``train_acc1es``. ``dataset`` defaults to the task with cifar10 -> cifar10-valid."""
    path = Path(path)
    if not path.is_file():
        raise GroundTruthNotFoundError(f"NASLib NB201 file {path}: {'not a file' if path.exists() else 'no such file'}. "
                                       f"Expected {_NASLIB_EXPECTED}; download it from {NASLIB_NB201_URL}")
    ds = _dataset(task, dataset, path, NASLIB_NB201_URL)
    table, seen = _naslib_table(*_stat(path), ds)
    return _to_ground_truth(table, space, f"{path} [{ds}, last epoch of eval_acc1es]", path, ds, len(table),
                            set(seen), "mean", NASLIB_NB201_URL)


def clear_cache() -> None:
    """Forget the loaded tables (e.g. after replacing a file within one mtime tick)."""
    _pth_table.cache_clear()
    _nats_table.cache_clear()
    _naslib_table.cache_clear()


# --------------------------------------------------------------------------------------
# registration

_OPTIONS = ("dataset", "epochs", "trials", "test_is_val")


@register_format("nb201_pth", spaces=("nb201",), suffixes=(".pth",), options=_OPTIONS, url=NB201_URL)
def _nb201_pth_format(path, space, task, **options) -> GroundTruth:
    """a NAS-Bench-201 .pth (NAS-Bench-201-v1_0-e61699.pth or NAS-Bench-201-v1_1-096897.pth)"""
    return read_nb201_pth(path, space, task, **{k: v for k, v in options.items() if v is not None})


@register_format("nats_tss", spaces=("nb201",), suffixes=(".pbz2",), options=_OPTIONS, url=NATS_URL)
def _nats_tss_format(path, space, task, **options) -> GroundTruth:
    """NATS-Bench topology: NATS-tss-v1_0-3ffb9-simple/meta.pickle.pbz2 or NATS-tss-v1_0-3ffb9.pickle.pbz2"""
    return read_nats_tss(path, space, task, **{k: v for k, v in options.items() if v is not None})


@register_format("naslib_nb201_pickle", spaces=("nb201",), suffixes=(".pickle",), options=("dataset",),
                 url=NASLIB_NB201_URL)
def _naslib_format(path, space, task, dataset=None) -> GroundTruth:
    """NASLib's nb201_<dataset>_full_training.pickle (eval_acc1es at the last epoch)"""
    return read_naslib_nb201_pickle(path, space, task, dataset=dataset)
