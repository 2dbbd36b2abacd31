"""TransNAS-Bench-101 ground truth from the benchmark's own results file
(``transnas-bench_v10141024.pth``), registered as the format ``tnb101_pth``."""
from __future__ import annotations

import functools
import math
import os
import pickle
import warnings
from pathlib import Path
from typing import Any, Hashable

from search_spaces import plain_pickle
from search_spaces.base import ArchParseError
from search_spaces.ground_truth import GroundTruth, GroundTruthError, register_format
from search_spaces.tnb101_archs import TASK_METRIC, TNB_URL

TNB_EXPECTED = ("TransNAS-Bench-101's results file transnas-bench_v10141024.pth: a torch.save'd dict with "
                "'metrics_dict' {task: [metric names]}, 'task_list', 'info_names' and 'data' {'micro'|'macro': "
                "{arch string: {task: {'metrics': {metric: [value per epoch]}, 'total_epochs', 'model_info'}}}}")
EPOCHS = ("final", "best")


def _tnb_bad(path: Path, what: str) -> GroundTruthError:
    return GroundTruthError(f"{path}: {what}; expected {TNB_EXPECTED}. Download: {TNB_URL}")


@functools.lru_cache(maxsize=1)
def _load_pth(path_str: str, mtime_ns: int, size: int) -> Any:
    return plain_pickle.torch_load(path_str)


def _value(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def read_tnb101_pth(path: str | Path, space: Any, task: str, *, epoch: str | int | None = "final") -> GroundTruth:
    """Ground truth of ``task`` from TNB101's own ``.pth`` for ``space`` (its 'micro' or 'macro'
    part): every metric of the task at ``epoch`` ("final": the last epoch, what NASLib's
    ``query`` returns; "best": the maximum over epochs, as TNB's API's mode='best', which for
    *_loss metrics is the worst epoch; an int: that epoch index). ``metrics[0]`` is the task's
    metric (NB-Suite-Zero's: valid_top1, valid_neg_loss, valid_acc or valid_ssim), so a config with
    ``ground_truth.metric: null`` uses it. Non-finite values are left out. ``epoch=None`` is "final"."""
    path = Path(path)
    epoch = "final" if epoch is None else epoch
    if not (epoch in EPOCHS or (isinstance(epoch, int) and not isinstance(epoch, bool))):
        raise GroundTruthError(f"epoch must be 'final', 'best' or an epoch index, got {epoch!r}")
    st = os.stat(path)
    try:
        db = _load_pth(str(path), st.st_mtime_ns, st.st_size)
    except Exception as exc:  # noqa: BLE001 - truncated / not a torch file / not plain data: many types
        why = ("torch's safe loader refuses it" if isinstance(exc, pickle.UnpicklingError)
               else f"{type(exc).__name__}: {str(exc)[:200]}")
        raise _tnb_bad(path, f"not a readable plain-data torch file ({why}; a truncated download?)") from None
    if not isinstance(db, dict) or not {"data", "metrics_dict"} <= set(db):
        keys = sorted(map(str, db)) if isinstance(db, dict) else type(db).__name__
        raise _tnb_bad(path, f"it holds {keys}, not the benchmark's dict")
    part = {"tnb101_micro": "micro", "tnb101_macro": "macro"}.get(getattr(space, "name", ""))
    if part is None:
        raise GroundTruthError(f"{path}: the TNB101 results file serves the spaces tnb101_micro and tnb101_macro, "
                               f"not {getattr(space, 'name', space)!r}")
    data, metrics_dict = db["data"], db["metrics_dict"]
    if not isinstance(data, dict) or part not in data or not isinstance(data[part], dict):
        raise _tnb_bad(path, f"'data' has no {part!r} search space (it has "
                             f"{sorted(data) if isinstance(data, dict) else type(data).__name__})")
    if not isinstance(metrics_dict, dict) or task not in metrics_dict:
        have = sorted(metrics_dict) if isinstance(metrics_dict, dict) else type(metrics_dict).__name__
        raise GroundTruthError(f"{path} has no task {task!r}; its tasks are {have}")
    names = list(metrics_dict[task])
    primary = TASK_METRIC.get(task)
    if primary in names:
        names = [primary] + [m for m in names if m != primary]
    else:
        warnings.warn(f"{path}: task {task!r} has no metric {primary!r}; its metrics are "
                      f"{names}, and the first, {names[0]!r}, is used unless ground_truth.metric names another",
                      UserWarning)
    values: dict[Hashable, dict[str, float]] = {}
    for arch_str, rec in data[part].items():
        try:
            arch = space.parse(arch_str)
        except ArchParseError as exc:
            raise GroundTruthError(f"{path}, data[{part!r}]: cannot parse architecture {arch_str!r}: {exc}") from None
        try:
            series = rec[task]["metrics"]
        except (KeyError, TypeError):
            raise _tnb_bad(path, f"data[{part!r}][{arch_str!r}] has no {task!r} entry with 'metrics'") from None
        row: dict[str, float] = {}
        for m in names:
            seq = series.get(m) if isinstance(series, dict) else None
            if seq is None:
                continue
            seq = list(seq) if not isinstance(seq, (int, float)) else [seq]
            if not seq:
                continue
            if epoch == "final":
                v = _value(seq[-1])
            elif epoch == "best":
                vals = [f for f in (_value(s) for s in seq) if f is not None]
                v = max(vals) if vals else None
            else:
                if not -len(seq) <= epoch < len(seq):
                    raise GroundTruthError(f"{path}: epoch {epoch} is out of range for {arch_str!r} on {task!r}, "
                                           f"which has {len(seq)} epochs")
                v = _value(seq[epoch])
            if v is not None:
                row[m] = v
        if row:
            values[arch] = row
    if not values:
        raise _tnb_bad(path, f"no architecture of {part!r} has a finite value of {names[0]!r} for {task!r}")
    return GroundTruth(names, values, f"{path} [{part}/{task}, epoch {epoch}]", n_rows=len(data[part]))


@register_format("tnb101_pth", spaces=("tnb101_micro", "tnb101_macro"), suffixes=(".pth",), options=("epoch",),
                 url=TNB_URL)
def _read_tnb101_format(path, space, task, epoch: str | int | None = None) -> GroundTruth:
    """TransNAS-Bench-101's own results file transnas-bench_v10141024.pth (the task's metric at the final epoch)"""
    return read_tnb101_pth(path, space, task, epoch=epoch)
