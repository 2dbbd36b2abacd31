"""The foundation of the input-data side: its errors, where its files are (``embedded:`` and
``cache:`` paths, the download cache) and how a subset of a dataset is picked. The readers
(:mod:`search_spaces.image_sources`, :mod:`search_spaces.tokens`) and the batching
(:mod:`search_spaces.data`) build on it.

``resolve_path`` maps ``cache:NAME`` to a file that ``zcbench download`` put in the download
cache (``$ZCBENCH_CACHE``, default ``~/.cache/zcbench``).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from zc_proxies.errors import ZcbenchError

#: How a subset is picked: the first ``n`` in file order, or a seeded random subset.
PICKS: tuple[str, ...] = ("first", "random")

#: The package's own folder of embedded files; ``embedded:NAME`` paths point into it.
EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"


class DataError(ZcbenchError, ValueError):
    """Input data that cannot be loaded: a corrupt or truncated file, a bad argument, an
    unknown source. The message names the file and what was wrong."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A missing data file or folder; the message names the path looked at, the files
    expected, and how to get them."""


def pick_indices(total: int, n: int, pick: str, seed: int, what: str) -> np.ndarray | None:
    """Indices of ``n`` of ``total`` items to take: None (the first ``n``) for ``pick="first"``,
    else a seeded subset in file order; :class:`DataError` when ``what`` holds fewer than ``n``."""
    if n > total:
        raise DataError(f"n={n} images requested but {what} holds only {total}")
    if pick == "first":
        return None
    return np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))


def resolve_path(path: str | os.PathLike) -> Path:
    """``embedded:NAME`` is a file shipped in the package (``search_spaces/embedded/NAME``);
    ``cache:NAME`` a file that ``zcbench download`` put in the download cache
    (:func:`cache_dir`), which must exist (:class:`DataNotFoundError` saying which download
    fetches it); anything else is a path, with ``~`` expanded."""
    text = str(path)
    if text.startswith("embedded:"):
        return EMBEDDED_DIR / text[len("embedded:"):]
    if text.startswith("cache:"):
        return cached_file(text[len("cache:"):])
    return Path(text).expanduser()


#: The environment variable naming the download cache folder.
CACHE_ENV = "ZCBENCH_CACHE"
DEFAULT_CACHE = "~/.cache/zcbench"
#: Files that ``zcbench download NAME`` puts in the cache: file name -> (NAME, what, source URL).
CACHE_FILES: dict[str, tuple[str, str, str]] = {
    "DARTS_archs_CIFAR10.csv": (
        "swap-darts1000",
        "the SWAP authors' 1000 DARTS genotypes with CIFAR-10 validation accuracy",
        "https://raw.githubusercontent.com/pym1024/SWAP/main/datasets/DARTS_archs_CIFAR10.csv",
    ),
    "BERT_benchmark.json": (
        "nas-bench-bert",
        "NAS-Bench-BERT's 500 encoders with their GLUE scores (CC-BY-4.0)",
        "https://raw.githubusercontent.com/aaronserianni/training-free-nas/"
        "2d76e01b9586cad7340e8268dadba3056efd070b/data/BERT_benchmark.json",
    ),
}
#: NAS-Bench-Suite-Zero's own zc_<space>.json files as committed in NASLib's git history (automl/NASLib,
#: Apache-2.0) before the full release moved off git: (commit, sha256 of the file)
NBSUITE_ZERO_FILES: dict[str, tuple[str, str]] = {
    "zc_nasbench201.json": ("6639fd1579010457885c641553c55b0c153045aa",
                            "5dcbbcd56812a9f62164a376bc7df4082ab3af612082b6d26a845930e6eb8641"),
    "zc_nasbench301.json": ("6639fd1579010457885c641553c55b0c153045aa",
                            "537e9abd6f0b14fdffdfcb3c07b18a037647b5c80808b3b2cf9a51b1b491aba1"),
    "zc_nasbench101.json": ("6639fd1579010457885c641553c55b0c153045aa",
                            "c34840bc9af68b6ebaa7f052e42c1749a9a737d7243078be2a5548052bc5a0c2"),
    "zc_transbench101_micro.json": ("e5a821c2dadf608042e4e046e386006cf6bd0564",
                                    "f9f2c5d6d9b9a73964f1bffb2869f218e1110755d84ddd4a46a8cf482f799cd1"),
    "zc_transbench101_macro.json": ("e5a821c2dadf608042e4e046e386006cf6bd0564",
                                    "f1d393373855bd7ba29bc81b33adb947ef2518d82aa0e6c003809ce6a4d94212"),
}
for _name, (_commit, _) in NBSUITE_ZERO_FILES.items():
    CACHE_FILES[_name] = ("nbsuite-zero", f"NAS-Bench-Suite-Zero's {_name} (pre-release subset in NASLib's git "
                          "history, Apache-2.0)",
                          f"https://raw.githubusercontent.com/automl/NASLib/{_commit}/naslib/data/{_name}")


def cache_dir() -> Path:
    """The download cache: ``$ZCBENCH_CACHE``, or ``~/.cache/zcbench``."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def cached_file(name: str) -> Path:
    """``cache_dir() / name``; a :class:`DataNotFoundError` that says how to fetch it when absent."""
    if not name or name.startswith(("/", "~")) or ".." in Path(name).parts:
        raise DataError(f"cache:{name}: expected cache:FILE_NAME, a file name inside the download cache "
                        f"({cache_dir()})")
    p = cache_dir() / name
    if p.is_file():
        return p
    where = (f"{p} does not exist (the cache folder is ${CACHE_ENV}, default {DEFAULT_CACHE}, "
             f"now {cache_dir()})")
    if name in CACHE_FILES:
        cmd, what, url = CACHE_FILES[name]
        raise DataNotFoundError(
            f"cache:{name}: {where}. It is {what}: run `zcbench download {cmd}` to fetch it into the "
            f"cache, or copy the file there by hand from {url}")
    raise DataNotFoundError(f"cache:{name}: {where}; put the file there, or give its path instead")
