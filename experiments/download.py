"""``zcbench download NAME``: fetch a public reference file into the download cache.

The cache folder is ``$ZCBENCH_CACHE`` (default ``~/.cache/zcbench``; ``--cache DIR`` for one
command); study configs refer to its files as ``cache:FILE_NAME`` (see
:func:`search_spaces.data.resolve_path`). A download is written to a temporary file beside its
target, checked (it must parse as what it claims to be), and only then renamed into place, so
the cache never holds a partial or wrong file. Without network access the error says so and
how to put the file there by hand.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from search_spaces.data import CACHE_FILES, NBSUITE_ZERO_FILES, cache_dir
from search_spaces.ground_truth import SWAP_DARTS_URL, GroundTruthError, read_csv
from zc_proxies.errors import ZcbenchError

__all__ = ["Download", "DOWNLOADS", "BUNDLES", "DownloadError", "download", "download_bundle", "check_darts_csv"]

DARTS_ROWS = 1000


class DownloadError(ZcbenchError, OSError):
    """A download that failed or fetched the wrong thing; the message names the URL, the cache
    path and what to do."""


@dataclass(frozen=True)
class Download:
    """A file that ``zcbench download <name>`` fetches: ``check(path)`` raises
    :class:`DownloadError` unless the file is what is expected, else returns a one-line summary."""

    name: str
    url: str
    filename: str
    what: str
    check: Callable[[Path], str]
    sha256: str | None = None  # pinned: any other file is refused


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def check_darts_csv(path: Path) -> str:
    """The SWAP authors' DARTS_archs_CIFAR10.csv: 1000 rows of (DARTS genotype, accuracy) that
    the darts space parses."""
    import search_spaces  # noqa: F401  (registers the spaces)
    from search_spaces.base import get_space

    try:
        gt = read_csv(path, get_space("darts"), header=False, duplicates="error")
    except GroundTruthError as exc:
        raise DownloadError(f"not the SWAP DARTS CSV: {exc}") from None
    if gt.n_rows != DARTS_ROWS or gt.metrics != ["val_accuracy"]:
        raise DownloadError(f"not the SWAP DARTS CSV: {gt.n_rows} rows and metric column(s) {gt.metrics}, "
                            f"expected {DARTS_ROWS} rows of (genotype, accuracy)")
    vals = [v["val_accuracy"] for v in gt.values.values()]
    return f"{gt.n_rows} DARTS genotypes, CIFAR-10 accuracy {min(vals):.2f} to {max(vals):.2f} %"


BERT_RECORDS = 500


def check_nasbench_bert(path: Path) -> str:
    """NAS-Bench-BERT's BERT_benchmark.json: 500 records that the nasbench_bert reader reads."""
    import search_spaces  # noqa: F401  (registers the spaces)
    from search_spaces.nasbench_bert import read_records

    try:
        records = read_records(path)
    except GroundTruthError as exc:
        raise DownloadError(f"not NAS-Bench-BERT's BERT_benchmark.json: {exc}") from None
    if len(records) != BERT_RECORDS:
        raise DownloadError(f"not NAS-Bench-BERT's BERT_benchmark.json: {len(records)} records, expected {BERT_RECORDS}")
    glue = [s["glue"] for *_, s in records]
    return f"{len(records)} NAS-Bench-BERT encoders, GLUE {min(glue):.2f} to {max(glue):.2f}"


def check_zc_json(path: Path) -> str:
    """A NAS-Bench-Suite-Zero zc_<space>.json: a JSON mapping of task to architecture records."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DownloadError(f"not a NAS-Bench-Suite-Zero zc_<space>.json (not JSON: {exc})") from None
    if not isinstance(data, dict) or not data:
        raise DownloadError("not a NAS-Bench-Suite-Zero zc_<space>.json (not a mapping of tasks)")
    return "tasks " + ", ".join(f"{k} ({len(v) if isinstance(v, dict) else '?'} entries)" for k, v in data.items())


NBSUITE_ZERO_NOTICE = (
    "NAS-Bench-Suite-Zero (Krishnakumar, White, Zela, Tu, Safari, Hutter, NeurIPS 2022 Datasets and Benchmarks), "
    "its zc_<space>.json files from NASLib's public git history (https://github.com/automl/NASLib, commits "
    + ", ".join(sorted({c for c, _ in NBSUITE_ZERO_FILES.values()})) + "). Copyright the NASLib authors, "
    "licensed under the Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0); unmodified copies.")

DOWNLOADS: dict[str, Download] = {
    d.name: d for d in (
        Download("swap-darts1000", SWAP_DARTS_URL, "DARTS_archs_CIFAR10.csv",
                 "the SWAP authors' 1000 DARTS genotypes with CIFAR-10 validation accuracy (200 epochs)",
                 check_darts_csv),
        Download("nas-bench-bert", CACHE_FILES["BERT_benchmark.json"][2], "BERT_benchmark.json",
                 "NAS-Bench-BERT's 500 encoders with their GLUE scores (aaronserianni/training-free-nas, CC-BY-4.0)",
                 check_nasbench_bert),
        *(Download(f"nbsuite-zero:{name}", CACHE_FILES[name][2], name, CACHE_FILES[name][1], check_zc_json, sha)
          for name, (_, sha) in NBSUITE_ZERO_FILES.items()),
    )
}
#: names that fetch several downloads, and the notice printed and written beside them
BUNDLES: dict[str, tuple[list[str], str]] = {
    "nbsuite-zero": ([f"nbsuite-zero:{n}" for n in NBSUITE_ZERO_FILES], NBSUITE_ZERO_NOTICE),
}
assert all(CACHE_FILES[d.filename][0] == d.name.split(":")[0] and CACHE_FILES[d.filename][2] == d.url
           for d in DOWNLOADS.values())


def _checked(d: Download, path: Path) -> str:
    if d.sha256 is not None:
        got = sha256_of(path)
        if got != d.sha256:
            raise DownloadError(f"not the pinned {d.filename}: its sha256 is {got}, expected {d.sha256}")
    return d.check(path)


def download_bundle(name: str, cache: str | os.PathLike | None = None, *, force: bool = False,
                    timeout: float = 60.0) -> tuple[list[tuple[Path, str, bool]], str]:
    """Every download of bundle ``name`` (see :func:`download`), then its notice written as
    ``<name>-NOTICE.txt`` beside them. Returns the downloads' results and the notice."""
    names, notice = BUNDLES[name]
    results = [download(n, cache, force=force, timeout=timeout) for n in names]
    (results[0][0].parent / f"{name}-NOTICE.txt").write_text(notice + "\n", encoding="utf-8")
    return results, notice


def download(name: str, cache: str | os.PathLike | None = None, *, force: bool = False,
             timeout: float = 60.0) -> tuple[Path, str, bool]:
    """Fetch download ``name`` into ``cache`` (default :func:`search_spaces.data.cache_dir`).

    Returns (path, summary of the checked file, whether it was fetched now). A file already in
    the cache that passes the check is kept unless ``force``; one that fails it is fetched again.
    """
    if name not in DOWNLOADS:
        raise DownloadError(f"unknown download {name!r}; known: {', '.join(sorted(set(DOWNLOADS) | set(BUNDLES)))}")
    d = DOWNLOADS[name]
    folder = Path(cache).expanduser() if cache is not None else cache_dir()
    target = folder / d.filename
    if target.is_file() and not force:
        try:
            return target, _checked(d, target), False
        except DownloadError:
            pass  # a damaged or foreign file: fetch it again
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the cache folder {folder}: {exc}") from None
    by_hand = (f"Copy the file by hand to {target} (on a machine with internet access: "
               f"curl -L -o {d.filename} {d.url}), or set ZCBENCH_CACHE / --cache to a folder that holds it")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{d.filename}.", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                req = urllib.request.Request(d.url, headers={"User-Agent": "zcbench"})
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    while chunk := resp.read(1 << 16):
                        out.write(chunk)
            except urllib.error.HTTPError as exc:
                raise DownloadError(f"cannot download {name}: {d.url} answered HTTP {exc.code} {exc.reason}. "
                                    f"{by_hand}.") from None
            except urllib.error.URLError as exc:
                raise DownloadError(f"cannot download {name}: {d.url} is unreachable ({exc.reason}); you seem to "
                                    f"be offline. {by_hand}.") from None
            except (socket.timeout, TimeoutError):
                raise DownloadError(f"cannot download {name}: {d.url} did not answer within {timeout:g} s; you "
                                    f"may be offline. {by_hand}.") from None
            except (OSError, http.client.HTTPException) as exc:
                raise DownloadError(f"cannot download {name}: the transfer from {d.url} broke off "
                                    f"({type(exc).__name__}: {exc}). Try again, or: {by_hand}.") from None
        try:
            summary = _checked(d, tmp)
        except DownloadError as exc:
            raise DownloadError(f"{d.url} sent a file that is {exc}; nothing was written to {target}") from None
        os.replace(tmp, target)
        return target, summary, True
    finally:
        if tmp.exists():
            tmp.unlink()
