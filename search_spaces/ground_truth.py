"""Ground-truth accuracies read from plain CSV files, keyed by the space's own architecture
values, and joined with sampled architectures.

Every architecture cell goes through ``space.parse``, so the file's strings are
canonicalised and compare equal to what ``space.sample`` returns; no glue code is needed
between a benchmark's strings and the harness.
"""
from __future__ import annotations

import csv
import functools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

import numpy as np

from search_spaces.base import ArchParseError
from zc_proxies.errors import ZcbenchError
from zc_proxies.registry import Registry

EXPECTED_FORMAT = (
    "a CSV: one architecture column with the space's own strings, then one or more accuracy "
    "columns; a header row is optional"
)
SWAP_DARTS_URL = "https://raw.githubusercontent.com/pym1024/SWAP/main/datasets/DARTS_archs_CIFAR10.csv"
DUPLICATES: tuple[str, ...] = ("mean", "first", "error")
#: Name of the metric column of a header-less file with one metric (several: metric_1, ...).
DEFAULT_METRIC = "val_accuracy"
MIN_MATCHED = 3  # fewer cannot give a rank correlation


class GroundTruthError(ZcbenchError, ValueError):
    """A ground-truth file that cannot be read or joined; the message names the file and,
    for a bad cell, the 1-based row number."""


class GroundTruthNotFoundError(GroundTruthError, FileNotFoundError):
    """A missing ground-truth file; the message says what format is expected and, for known
    files, where to download them."""


@dataclass
class GroundTruth:
    """Metric values per architecture: ``values[arch][metric]``."""

    metrics: list[str]
    values: dict[Hashable, dict[str, float]]
    source: str
    n_rows: int = 0  # data rows read
    n_duplicates: int = 0  # rows whose architecture appeared in an earlier row

    def metric(self, name: str) -> dict[Hashable, float]:
        """``{arch: value}`` for one metric."""
        if name not in self.metrics:
            raise GroundTruthError(
                f"{self.source} has no metric {name!r}; its metrics are {self.metrics}"
            )
        return {a: v[name] for a, v in self.values.items() if name in v}

    def __len__(self) -> int:
        return len(self.values)


# --------------------------------------------------------------------------------------
# reading


def _not_found(path: Path, what: str) -> GroundTruthNotFoundError:
    msg = f"ground-truth file {path}: {what}. Expected {EXPECTED_FORMAT}."
    name = path.name
    if name == "DARTS_archs_CIFAR10.csv" or name.startswith("swap_darts1000"):
        msg += (
            f" This file is the SWAP authors' DARTS_archs_CIFAR10.csv (1000 DARTS genotypes "
            f"with CIFAR-10 validation accuracy), downloadable from {SWAP_DARTS_URL}"
        )
    return GroundTruthNotFoundError(msg)


def _float(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _column_index(col: int | str, header: list[str] | None, ncols: int, path: Path,
                  role: str) -> int:
    if isinstance(col, str):
        if header is None:
            raise GroundTruthError(
                f"{path}: {role} {col!r} is selected by name but the file has no header "
                f"row; select columns by 0-based index instead"
            )
        hits = [i for i, h in enumerate(header) if h == col]
        if not hits:
            raise GroundTruthError(f"{path}: no column named {col!r}; the header is {header}")
        if len(hits) > 1:
            raise GroundTruthError(
                f"{path}: {len(hits)} columns are named {col!r}; select by index instead"
            )
        return hits[0]
    if isinstance(col, bool) or not isinstance(col, (int, np.integer)):
        raise GroundTruthError(f"{role} must be a column index or name, got {col!r}")
    if not 0 <= col < ncols:
        raise GroundTruthError(
            f"{path}: {role} {col} is out of range; the first row has {ncols} columns "
            f"(0-based indices 0..{ncols - 1})"
        )
    return int(col)


def read_csv(
    path: str | Path,
    space: Any,
    *,
    arch_column: int | str = 0,
    metric_columns: Sequence[int | str] | None = None,
    header: bool | str = "auto",
    duplicates: str = "mean",
    delimiter: str = ",",
) -> GroundTruth:
    """Read a CSV of architecture strings and accuracies.

    arch_column / metric_columns: 0-based indices, or names when there is a header; by
      default every column other than the architecture one is a metric.
    header: True, False, or "auto": the first row is a header unless its architecture cell
      parses (or unless all its metric cells are numbers, in which case a bad first row is
      reported as such). Without a header the metric is named ``val_accuracy``, or
      ``metric_1``, ``metric_2``, ... when there are several.
    duplicates: an architecture on several rows is averaged ("mean"), kept from its first
      row ("first"), or an error ("error"); ``n_duplicates`` counts the extra rows.
    Metric cells must be finite numbers; blank lines and lines starting with ``#`` (the
    recipe header of a ``zcbench build-benchmark`` file) are skipped.
    """
    path = Path(path)
    if duplicates not in DUPLICATES:
        raise GroundTruthError(
            f"duplicates must be one of {', '.join(DUPLICATES)}, got {duplicates!r}"
        )
    if header not in (True, False, "auto"):
        raise GroundTruthError(f"header must be True, False or 'auto', got {header!r}")
    if not path.exists():
        raise _not_found(path, "no such file")
    if not path.is_file():
        raise _not_found(path, "not a file")

    rows: list[tuple[int, list[str]]] = []  # (1-based line where the row starts, cells)
    start = 1
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            for cells in reader:
                if "\0" in "".join(cells):
                    raise GroundTruthError(f"{path} is not a text CSV (a NUL byte near line {start}); "
                                           f"expected {EXPECTED_FORMAT}")
                if any(c.strip() for c in cells) and not cells[0].lstrip().startswith("#"):
                    rows.append((start, [c.strip() for c in cells]))
                start = reader.line_num + 1
    except (UnicodeDecodeError, csv.Error) as exc:
        why = f"{exc.encoding}: {exc.reason}" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise GroundTruthError(f"{path} is not a UTF-8 text CSV ({why}, near line {start}); "
                               f"expected {EXPECTED_FORMAT}") from None
    if not rows:
        raise GroundTruthError(f"{path} is empty (no rows); expected {EXPECTED_FORMAT}")

    first_line, first = rows[0]
    ncols = len(first)

    def parse(line: int, text: str) -> Hashable:
        try:
            return space.parse(text)
        except ArchParseError as exc:
            short = text if len(text) <= 80 else text[:77] + "..."
            raise GroundTruthError(
                f"{path}, row {line}: cannot parse architecture {short!r}: {exc}"
            ) from None

    # Decide on the header.
    has_header = header is True
    if header == "auto":
        if isinstance(arch_column, str) or any(isinstance(c, str) for c in metric_columns or ()):
            has_header = True
        else:
            ai = _column_index(arch_column, None, ncols, path, "arch_column")
            try:
                space.parse(first[ai])
                has_header = False
            except ArchParseError:
                others = [c for i, c in enumerate(first) if i != ai]
                if others and all(_float(c) is not None for c in others):
                    parse(first_line, first[ai])  # a bad first data row, not a header
                has_header = True
    names = first if has_header else None
    data = rows[1:] if has_header else rows
    if not data:
        raise GroundTruthError(
            f"{path} has a header row ({first}) but no data rows; expected {EXPECTED_FORMAT}"
        )

    ai = _column_index(arch_column, names, ncols, path, "arch_column")
    if metric_columns is None:
        mis = [i for i in range(ncols) if i != ai]
    else:
        mis = [_column_index(c, names, ncols, path, "metric column") for c in metric_columns]
    if not mis:
        raise GroundTruthError(
            f"{path}: no metric columns (the first row has {ncols} column(s), all taken by "
            f"the architecture); expected {EXPECTED_FORMAT}"
        )
    if ai in mis:
        raise GroundTruthError(f"{path}: column {ai} is both the architecture and a metric")
    if len(set(mis)) != len(mis):
        raise GroundTruthError(f"{path}: a metric column is selected twice: {mis}")
    if names is not None:
        metrics = [names[i] or f"metric_{k + 1}" for k, i in enumerate(mis)]
    elif len(mis) == 1:
        metrics = [DEFAULT_METRIC]
    else:
        metrics = [f"metric_{k + 1}" for k in range(len(mis))]
    if len(set(metrics)) != len(metrics):
        raise GroundTruthError(f"{path}: the metric columns have repeated names {metrics}")

    need = max([ai] + mis) + 1
    sums: dict[Hashable, list[float]] = {}
    counts: dict[Hashable, int] = {}
    first_row: dict[Hashable, int] = {}
    for line, cells in data:
        if len(cells) < need:
            raise GroundTruthError(
                f"{path}, row {line}: {len(cells)} column(s), but column {need - 1} "
                f"(0-based) is needed; expected {EXPECTED_FORMAT}"
            )
        arch = parse(line, cells[ai])
        vals = []
        for m, i in zip(metrics, mis):
            v = _float(cells[i])
            if v is None:
                raise GroundTruthError(
                    f"{path}, row {line}: metric {m!r} (column {i}) is {cells[i]!r}, "
                    f"not a finite number"
                )
            vals.append(v)
        if arch in counts:
            if duplicates == "error":
                raise GroundTruthError(
                    f"{path}, row {line}: architecture {cells[ai]!r} already appeared on row "
                    f"{first_row[arch]}; pass duplicates='mean' or 'first' to accept it"
                )
            counts[arch] += 1
            if duplicates == "mean":
                sums[arch] = [s + v for s, v in zip(sums[arch], vals)]
        else:
            counts[arch] = 1
            first_row[arch] = line
            sums[arch] = vals
    values: dict[Hashable, dict[str, float]] = {}
    for arch, s in sums.items():
        k = counts[arch] if duplicates == "mean" else 1
        values[arch] = {m: v / k for m, v in zip(metrics, s)}
    return GroundTruth(
        metrics=metrics,
        values=values,
        source=str(path),
        n_rows=len(data),
        n_duplicates=len(data) - len(values),
    )


# --------------------------------------------------------------------------------------
# benchmark file formats


@dataclass(frozen=True)
class Format:
    """A ground-truth file format: ``reader(path, space, task, **options) -> GroundTruth``."""

    name: str
    reader: Callable[..., GroundTruth]
    spaces: tuple[str, ...]  # the spaces it serves; () = any
    suffixes: tuple[str, ...]  # file name endings that select it under format "auto"
    options: tuple[str, ...]  # ground_truth config keys it takes (besides path, format, metric)
    url: str  # where users get the real file
    doc: str = ""
    needs: tuple[str, ...] = ()  # SearchSpace methods a space must override to be served
    directory: bool = False  # its path is a folder (a surrogate model), not a file


def _serves(fmt: "Format", space_name: str) -> bool:
    from search_spaces.base import SPACES, SearchSpace

    if fmt.spaces:
        return space_name in fmt.spaces
    cls = SPACES.get(space_name)
    return all(getattr(cls, m) is not getattr(SearchSpace, m) for m in fmt.needs)


FORMATS: Registry[Format] = Registry("ground-truth format", listed=False)


def register_format(name: str, *, spaces: Sequence[str] = (), suffixes: Sequence[str] = (),
                    options: Sequence[str] = (), url: str = "", needs: Sequence[str] = (),
                    directory: bool = False):
    """Decorator registering ``reader(path, space, task, **options) -> GroundTruth`` as the
    ground-truth format ``name``. Readers raise :class:`GroundTruthNotFoundError` for a missing
    file and :class:`GroundTruthError` for a bad one, naming the file, what was expected and
    (``url``) where the real file is downloaded."""

    def wrap(fn):
        doc = (fn.__doc__ or "").strip().splitlines()
        FORMATS.add(name, Format(name, fn, tuple(spaces), tuple(suffixes), tuple(options), url,
                                 doc[0] if doc else "", tuple(needs), directory))
        return fn

    return wrap


def formats_for(space_name: str) -> list[str]:
    """The format names that can serve ``space_name``."""
    return [f.name for f in FORMATS.values() if _serves(f, space_name)]


def read_ground_truth(path: str | Path, space: Any, task: str, *, format: str = "auto",
                      **options: Any) -> GroundTruth:
    """Ground truth of ``task`` from ``path`` in ``format`` (see :data:`FORMATS`); "auto"
    picks the one format for this space whose suffix the file name ends with. ``options``
    go to the reader (those it does not take are ignored when None)."""
    path = Path(path)
    if format == "auto":
        hits = [f for f in FORMATS.values() if _serves(f, space.name)
                and any(path.name.endswith(suf) for suf in f.suffixes)]
        if len(hits) != 1:
            what = (f"several formats match ({', '.join(f.name for f in hits)})" if hits
                    else "no format matches its name")
            raise GroundTruthError(
                f"ground-truth file {path}: {what} for space {space.name!r}; set ground_truth.format "
                f"to one of {', '.join(formats_for(space.name))}")
        fmt = hits[0]
    else:
        if format not in FORMATS:
            raise GroundTruthError(f"unknown ground-truth format {format!r}; known formats: "
                                   f"{', '.join(FORMATS.names())}")
        fmt = FORMATS[format]
        if not _serves(fmt, space.name):
            served = ", ".join(fmt.spaces) if fmt.spaces else "those in NAS-Bench-Suite-Zero"
            raise GroundTruthError(
                f"ground-truth format {format!r} serves space(s) {served}, not "
                f"{space.name!r}; formats for {space.name!r}: {', '.join(formats_for(space.name))}")
    bad = sorted(k for k, v in options.items() if k not in fmt.options and v is not None)
    if bad:
        raise GroundTruthError(f"ground-truth format {fmt.name!r} takes no option(s) {bad}; "
                               f"its options: {', '.join(fmt.options) or 'none'}")
    kind = "folder" if fmt.directory else "file"
    if not path.exists():
        raise _missing(path, fmt, f"no such {kind}")
    if not (path.is_dir() if fmt.directory else path.is_file()):
        raise _missing(path, fmt, f"not a {kind}")
    return fmt.reader(path, space, task, **{k: v for k, v in options.items() if k in fmt.options})


def _missing(path: Path, fmt: Format, what: str) -> GroundTruthNotFoundError:
    if fmt.name == "csv":
        return _not_found(path, what)
    msg = f"ground-truth file {path}: {what}. Expected {fmt.doc or fmt.name}"
    if fmt.url:
        msg += f"; download it from {fmt.url}"
    return GroundTruthNotFoundError(msg)


@register_format("csv", suffixes=(".csv", ".tsv", ".txt"),
                 options=("arch_column", "metric_columns", "header", "duplicates", "delimiter"),
                 url=SWAP_DARTS_URL)
def _read_csv_format(path, space, task, **options) -> GroundTruth:
    """a CSV of architecture strings and accuracies"""
    if "delimiter" not in options and path.name.endswith(".tsv"):
        options["delimiter"] = "\t"
    return read_csv(path, space, **options)


# ---- NAS-Bench-Suite-Zero zc_<space>.json ------------------------

NBSZ_URL = ("https://github.com/automl/NASLib/tree/zerocost (scripts/bash_scripts/download_nbs_zero.sh "
            "fetches zc_nasbench101.json, zc_nasbench201.json, zc_nasbench301.json, zc_transbench101_micro.json "
            "and zc_transbench101_macro.json)")
NBSZ_EXPECTED = ('NAS-Bench-Suite-Zero\'s zc_<space>.json: {"<dataset>": {"<str(arch hash)>": '
                 '{"<proxy>": {"score": float, "time": float}, ..., "val_accuracy": float}}}')


@dataclass
class ZCRecords:
    """One dataset of a ``zc_<space>.json``: ``val_accuracy`` and the precomputed proxy scores
    ``scores[proxy][arch] = (score, seconds)``, keyed by the space's architectures."""

    source: str
    dataset: str
    val_accuracy: dict[Hashable, float]
    scores: dict[str, dict[Hashable, tuple[float, float]]] = field(default_factory=dict)


def _json_bad(path: Path, what: str) -> GroundTruthError:
    return GroundTruthError(f"{path}: {what}; expected {NBSZ_EXPECTED}. The real files: {NBSZ_URL}")


@functools.lru_cache(maxsize=2)
def _load_json(path_str: str, mtime_ns: int, size: int) -> Any:
    with open(path_str, encoding="utf-8") as f:
        return json.load(f)


def zc_datasets(data: dict) -> dict[str, Any]:
    """The dataset tables of a loaded ``zc_<space>.json``: its top level, and the datasets one
    level down under a space key (the pre-release ``zc_nasbench101.json`` nests
    ``{"nasbench101": {"cifar10": {hash: record}}}``)."""
    out = dict(data)
    for name, table in data.items():
        if isinstance(table, dict) and table and all(isinstance(v, dict) and v and all(
                isinstance(r, dict) for r in v.values()) for v in table.values()):
            inner = next(iter(table.values()))
            first = next(iter(inner.values()))
            if "val_accuracy" in first or any(isinstance(e, dict) and "score" in e for e in first.values()):
                del out[name]
                for ds, t in table.items():
                    out.setdefault(ds, t)
    return out


def read_zc_json(path: str | Path, space: Any, dataset: str) -> ZCRecords:
    """Records of ``dataset`` from NAS-Bench-Suite-Zero's ``zc_<space>.json``; every key goes
    through ``space.from_zc_key``. A record's proxy entries are ``{"score", "time"}``
    mappings, or bare numbers (the pre-release NB101 file; their time is NaN); other entries
    (``idx``, ``arch``) are ignored. Datasets nested under a space key (pre-release NB101) are
    found too."""
    path = Path(path)
    if not path.is_file():
        raise GroundTruthNotFoundError(
            f"NAS-Bench-Suite-Zero file {path}: {'not a file' if path.exists() else 'no such file'}. "
            f"Expected {NBSZ_EXPECTED}; download it from {NBSZ_URL}")
    st = os.stat(path)
    try:
        data = _load_json(str(path), st.st_mtime_ns, st.st_size)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _json_bad(path, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not data:
        raise _json_bad(path, "the top level is not a non-empty mapping of datasets")
    datasets = zc_datasets(data)
    if dataset not in datasets:
        raise GroundTruthError(f"{path} has no dataset {dataset!r}; it has {sorted(datasets)} "
                               f"(set ground_truth.dataset)")
    table = datasets[dataset]
    if not isinstance(table, dict):
        raise _json_bad(path, f"{dataset!r} maps to a {type(table).__name__}, not to architecture records")
    out = ZCRecords(str(path), dataset, {})
    for key, rec in table.items():
        try:
            arch = space.from_zc_key(key)
        except ArchParseError as exc:
            raise GroundTruthError(f"{path}, {dataset!r}: {exc}") from None
        if not isinstance(rec, dict):
            raise _json_bad(path, f"the record of {key!r} in {dataset!r} is not a mapping")
        for name, entry in rec.items():
            if name == "val_accuracy":
                v = entry if isinstance(entry, (int, float)) and not isinstance(entry, bool) else None
                if v is None or not math.isfinite(v):
                    raise _json_bad(path, f"val_accuracy of {key!r} in {dataset!r} is {entry!r}, not a finite number")
                out.val_accuracy[arch] = float(v)
            elif name in ("idx", "arch"):  # the record's index and architecture, not scores
                continue
            elif (isinstance(entry, dict) and "score" in entry) or (
                    isinstance(entry, (int, float)) and not isinstance(entry, bool)):
                score, secs = (entry["score"], entry.get("time", 0.0)) if isinstance(entry, dict) \
                    else (entry, math.nan)
                try:
                    out.scores.setdefault(name, {})[arch] = (float(score), float(secs))
                except (TypeError, ValueError):
                    raise _json_bad(path, f"{name}.score of {key!r} in {dataset!r} is {score!r}, not a number") from None
    return out


@register_format("nbsuite_zero", suffixes=(".json",), options=("dataset",), url=NBSZ_URL,
                 needs=("from_zc_key",))
def _read_zc_format(path, space, task, dataset: str | None = None) -> GroundTruth:
    """NAS-Bench-Suite-Zero's zc_<space>.json (dataset key: ground_truth.dataset, default the task)"""
    rec = read_zc_json(path, space, dataset or task)
    if not rec.val_accuracy:
        raise _json_bad(Path(path), f"no record of {rec.dataset!r} has val_accuracy")
    return GroundTruth(["val_accuracy"], {a: {"val_accuracy": v} for a, v in rec.val_accuracy.items()},
                       f"{path} [{rec.dataset}]", n_rows=len(rec.val_accuracy))


# --------------------------------------------------------------------------------------
# joining


def join(gt: GroundTruth, archs: Sequence[Hashable],
         metric: str) -> tuple[list[Hashable], np.ndarray, int]:
    """The architectures of ``archs`` (in their order) that have ``metric`` in ``gt``, their
    values (float64) and how many matched. Fewer than 3 matches is an error, since no rank
    correlation can be computed."""
    table = gt.metric(metric)
    hit = [a for a in archs if a in table]
    if len(hit) < MIN_MATCHED:
        missed = [a for a in archs if a not in table]
        first_f = _short(next(iter(table))) if table else "(none)"
        if not hit:
            head = f"0 of {len(archs)} sampled architectures have ground truth"
            label = "first sampled"
        else:
            head = f"only {len(hit)} of {len(archs)} sampled architectures have ground truth"
            label = "first sampled without it"
        need = "" if not hit else f" and at least {MIN_MATCHED} are needed for a rank correlation"
        raise GroundTruthError(
            f"{head} in {gt.source} (it holds {len(table)}){need}; check the space/task and "
            f"the architecture strings, e.g. {label}: "
            f"{_short(missed[0]) if missed else '(none)'}, first in file: {first_f}"
        )
    return hit, np.array([table[a] for a in hit], dtype=np.float64), len(hit)


def _short(arch: Hashable, limit: int = 200) -> str:
    s = str(arch)
    return s if len(s) <= limit else s[: limit - 3] + "..."
