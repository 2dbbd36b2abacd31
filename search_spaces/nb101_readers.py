"""NAS-Bench-101 ground truth from NASLib's ``nasbench_only108.pkl``, registered as the
format ``nb101_pickle``.

**Ground truth**: format ``nb101_pickle`` reads NASLib's
``nasbench_only108.pkl`` (a pickle of ``{md5 module hash: (fixed_stats, computed_stats)}``,
with ``computed_stats[108]`` a list of 3 repeats); ``val_accuracy`` is
``final_validation_accuracy`` x 100 at 108 epochs. QUIRK: NB101's ``query`` (so NASLib) returns
one randomly chosen repeat of the 3, unseeded; option ``repeat`` is ``"random"`` (default: one
repeat per architecture, drawn reproducibly from its hash), ``"mean"`` or a repeat index 0..2.
NAS-Bench-Suite-Zero's ``zc_nasbench101.json`` is read by the generic ``nbsuite_zero`` format
through :meth:`NB101Space.from_zc_key`.
"""
from __future__ import annotations

import io
import math
import pickle
import re
from pathlib import Path
from typing import Any, Hashable

import numpy as np

from search_spaces import plain_pickle
from search_spaces.base import ArchParseError, derive_seed
from search_spaces.ground_truth import GroundTruth, GroundTruthError, register_format
from search_spaces.nb101_graph import NB101Arch

NB101_PKL_URL = ("https://drive.google.com/drive/folders/1rwmkqyij3I24zn5GSO6fGv2mzdEfPIEa (NASLib's data "
                 "folder: nasbench_only108.pkl; see NASLib's naslib/utils/get_dataset_api.py)")
NB101_PKL_EXPECTED = ("NASLib's nasbench_only108.pkl: a pickled dict {NB101 md5 module hash: (fixed_stats, "
                      "computed_stats)}, fixed_stats = {'module_adjacency': 7x7 array, 'module_operations': "
                      "[op names], 'trainable_parameters': int}, computed_stats = {108: [3 x {"
                      "'final_validation_accuracy': float, 'final_test_accuracy': ..., ...}]}")
#: Values of the ``repeat`` option besides the repeat indices 0, 1, 2.
REPEATS: tuple[str, ...] = ("random", "mean")
#: Metrics of the pickle reader: name -> (key in a repeat's record, scale).
_PKL_METRICS = {
    "val_accuracy": ("final_validation_accuracy", 100.0),
    "test_accuracy": ("final_test_accuracy", 100.0),
    "train_accuracy": ("final_train_accuracy", 100.0),
    "training_time": ("final_training_time", 1.0),
}
_HASH_RE = re.compile(r"[0-9a-f]{32}")


def _pkl_bad(path: Path, what: str) -> GroundTruthError:
    return GroundTruthError(f"{path}: {what}; expected {NB101_PKL_EXPECTED}. Download it from {NB101_PKL_URL}")


def _check_repeat(repeat: Any) -> Any:
    if repeat is None:
        return "random"
    if isinstance(repeat, str) and repeat in REPEATS:
        return repeat
    if isinstance(repeat, int) and not isinstance(repeat, bool) and repeat >= 0:
        return repeat
    raise GroundTruthError(f"ground_truth.repeat must be 'random', 'mean' or a repeat index 0, 1, 2, not {repeat!r}")


def _number(v: Any) -> float | None:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


@register_format("nb101_pickle", spaces=("nb101",), suffixes=(".pkl", ".pickle"), options=("repeat", "epochs"),
                 url=NB101_PKL_URL)
def read_nb101_pickle(path, space, task: str, repeat: Any = None, epochs: int | None = None) -> GroundTruth:
    """NASLib's nasbench_only108.pkl (NB101 training results, 3 repeats per cell)

    Metrics: ``val_accuracy``, ``test_accuracy``, ``train_accuracy`` (x 100, as NASLib's
    query returns them), ``training_time`` (seconds) of one repeat at ``epochs`` (108), chosen
    by ``repeat``: ``"random"`` (default; NB101's query draws one repeat unseeded, here it is
    drawn once per cell from its hash, so every read gives the same values), ``"mean"`` (the
    mean over the repeats) or an index; and ``trainable_parameters``. Reading the full file
    (423,624 cells) takes a minute or two and up to about 2 GB of memory while it loads.
    """
    path = Path(path)
    if task != "cifar10":
        raise GroundTruthError(f"{path}: NB101 has results for cifar10 only, not for task {task!r}")
    repeat = _check_repeat(repeat)
    epochs = 108 if epochs is None else epochs
    if isinstance(epochs, bool) or not isinstance(epochs, int):
        raise GroundTruthError(f"ground_truth.epochs must be an integer (108 in nasbench_only108.pkl), not {epochs!r}")
    canonical = getattr(space, "canonical_order", True)
    try:
        with open(path, "rb") as f:
            data = plain_pickle.load(io.BufferedReader(f, buffer_size=1 << 20))
    except OSError as exc:
        raise GroundTruthError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            ImportError, MemoryError) as exc:
        raise _pkl_bad(path, f"not a readable NB101 pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or not data:
        raise _pkl_bad(path, f"the pickle holds a {type(data).__name__}"
                       + (" that is empty" if isinstance(data, dict) else "") + ", not a mapping of cells")

    values: dict[Hashable, dict[str, float]] = {}
    n_dup = 0
    first = True
    for key, entry in data.items():
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], dict)
                and isinstance(entry[1], dict)):
            raise _pkl_bad(path, f"the entry of {key!r} is not a pair (fixed_stats, computed_stats) of dicts")
        fixed, computed = entry
        if "module_adjacency" not in fixed or "module_operations" not in fixed:
            raise _pkl_bad(path, f"fixed_stats of {key!r} lacks module_adjacency or module_operations "
                                 f"(it has {sorted(map(str, fixed))})")
        try:
            arch = NB101Arch.from_spec(fixed["module_adjacency"], fixed["module_operations"], canonical=canonical)
        except ArchParseError as exc:
            raise _pkl_bad(path, f"the cell of {key!r} is not an NB101 cell: {exc}") from None
        if first:
            first = False
            if not (isinstance(key, str) and _HASH_RE.fullmatch(key)) or key != arch.module_hash():
                raise _pkl_bad(path, f"its first key {key!r} is not the NB101 module hash of its cell "
                                     f"({arch.module_hash()})")
        runs = computed.get(epochs)
        if not isinstance(runs, (list, tuple)) or not runs:
            have = sorted(k for k in computed if isinstance(k, int))
            raise _pkl_bad(path, f"{key!r} has no results at {epochs} epochs (it has epochs {have}); "
                                 f"set ground_truth.epochs")
        for k, r in enumerate(runs):
            if not isinstance(r, dict) or _number(r.get("final_validation_accuracy")) is None:
                raise _pkl_bad(path, f"repeat {k} of {key!r} at {epochs} epochs has no finite "
                                     f"final_validation_accuracy")
        if repeat == "mean":
            picked = list(runs)
        else:
            idx = derive_seed("nb101 repeat", key) % len(runs) if repeat == "random" else repeat
            if idx >= len(runs):
                raise GroundTruthError(f"{path}: {key!r} has {len(runs)} repeats at {epochs} epochs; "
                                       f"ground_truth.repeat {repeat} is out of range")
            picked = [runs[idx]]
        row: dict[str, float] = {}
        for name, (field, scale) in _PKL_METRICS.items():
            vals = [_number(r.get(field)) for r in picked]
            if all(v is not None for v in vals):
                row[name] = scale * sum(vals) / len(vals)
        params = _number(fixed.get("trainable_parameters"))
        if params is not None:
            row["trainable_parameters"] = params
        if arch in values:
            n_dup += 1
            continue
        values[arch] = row
    metrics = [m for m in (*_PKL_METRICS, "trainable_parameters") if any(m in v for v in values.values())]
    return GroundTruth(metrics, values, f"{path} [cifar10, {epochs} epochs, repeat={repeat}]",
                       n_rows=len(data), n_duplicates=n_dup)
