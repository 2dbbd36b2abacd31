"""Input batches for scoring: Fashion-MNIST (IDX files), CIFAR-10/100 (python pickles),
ImageNet16-120 (NAS-Bench-201's downsampled-ImageNet pickles), any folder of RGB images, and
seeded Gaussian noise, read with numpy (and Pillow for image folders; no torchvision).

``load_batch(source, n)`` returns ``(x, y)``: ``x`` float32 ``(n, 3, H, W)`` normalised with
the dataset's per-channel mean and std, ``y`` int64 ``(n,)``. ``pick="first"`` takes the first
``n`` images of the split in file order, as SWAP's ``correlation.py`` does (its DataLoader
has no shuffle); ``pick="random"`` a seeded subset.

Decoded arrays are cached in-process per (file, mtime, size), so repeated loads are cheap;
with ``pick="first"`` only the needed prefix of an IDX file (rounded up) is decompressed,
and only the CIFAR / ImageNet16 batches that hold the first ``n`` images are unpickled.

``resolve_path`` also maps ``cache:NAME`` to a file that ``zcbench download`` put in the
download cache (``$ZCBENCH_CACHE``, default ``~/.cache/zcbench``).
"""
from __future__ import annotations

import functools
import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from search_spaces import plain_pickle
from zc_proxies.errors import ZcbenchError

SOURCES: tuple[str, ...] = ("fashion-mnist", "fashion-mnist-sample", "cifar10", "cifar100", "noise",
                            "imagenet16-120", "image-folder")
SPLITS: tuple[str, ...] = ("train", "test")
PICKS: tuple[str, ...] = ("first", "random")

#: Per-channel (mean, std) applied after scaling pixels to [0, 1].
NORMALISATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "fashion-mnist": ((0.2860,) * 3, (0.3530,) * 3),
    "fashion-mnist-sample": ((0.2860,) * 3, (0.3530,) * 3),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),  # SWAP's constants
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    # NB201's constants (xautodl get_datasets: [122.68, 116.66, 104.01] / 255, [63.22, 61.26, 65.09] / 255)
    "imagenet16-120": ((122.68 / 255, 116.66 / 255, 104.01 / 255), (63.22 / 255, 61.26 / 255, 65.09 / 255)),
    "image-folder": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),  # ImageNet's
}
NUM_CLASSES: dict[str, int] = {"fashion-mnist": 10, "fashion-mnist-sample": 10, "cifar10": 10, "cifar100": 100, "noise": 10,
                               "imagenet16-120": 120}  # image-folder: its number of class subfolders

#: Where a source is looked for when ``path`` is None. CIFAR follows the torchvision habit
#: of ``./data`` (resolved against the current directory).
DEFAULT_PATHS: dict[str, str] = {
    "fashion-mnist": "/usr/share/datasets/fashion-mnist",
    "cifar10": "data",
    "cifar100": "data",
    "imagenet16-120": "data",
}

#: The package's own folder of embedded files; ``embedded:NAME`` paths point into it.
EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"
#: Shipped with the package: the last 256 Fashion-MNIST test images (see its licence file).
SAMPLE_FILE = EMBEDDED_DIR / "fashion_mnist_sample.npz"

IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049

_FMNIST_HOWTO = (
    "Get them with `apt-get install dataset-fashion-mnist` (Debian; it installs them in "
    "/usr/share/datasets/fashion-mnist) or download the four IDX files (gzipped or not) from "
    "https://github.com/zalandoresearch/fashion-mnist (folder data/fashion), then set "
    "data.path to the folder that holds them."
)
_CIFAR_HOWTO = (
    "Download the python version ({tarball}) from https://www.cs.toronto.edu/~kriz/cifar.html, "
    "extract it (tar xzf {tarball}), and set data.path to the extracted {folder}/ folder "
    "or to the folder that contains it."
)
_CIFAR = {
    "cifar10": dict(
        folder="cifar-10-batches-py",
        tarball="cifar-10-python.tar.gz",
        train=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test=("test_batch",),
        label_key=b"labels",
    ),
    "cifar100": dict(
        folder="cifar-100-python",
        tarball="cifar-100-python.tar.gz",
        train=("train",),
        test=("test",),
        label_key=b"fine_labels",
    ),
}


class DataError(ZcbenchError, ValueError):
    """Input data that cannot be loaded: a corrupt or truncated file, a bad argument, an
    unknown source. The message names the file and what was wrong."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A missing data file or folder; the message names the path looked at, the files
    expected, and how to get them."""


# --------------------------------------------------------------------------------------
# public entry point


def load_batch(
    source: str,
    n: int,
    *,
    size: int | Sequence[int] | None = None,
    path: str | os.PathLike | None = None,
    split: str = "train",
    pick: str = "first",
    seed: int = 0,
    num_classes: int | None = None,
    with_files: bool = False,
) -> tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, list[Path] | None]:
    """``n`` images and labels from ``source`` (one of :data:`SOURCES`).

    x: float32 ``(n, 3, H, W)``, pixels scaled to [0, 1] then normalised per channel
    (:data:`NORMALISATION`); Fashion-MNIST's grey channel is replicated 3 times.
    y: int64 ``(n,)``.

    size: None keeps the native size (28x28 Fashion-MNIST, 32x32 CIFAR, 16x16 ImageNet16-120,
      32x32 noise; an image folder's images must then share one size); an int
      ``s`` or a pair ``(h, w)`` resizes the [0, 1] images with
      ``F.interpolate(mode="bilinear", align_corners=False)``, ``antialias=True`` when either
      side shrinks (e.g. 32 -> 3, as in SWAP's Table 3), before normalising. Values are
      not rounded back to 8 bits. For "noise", ``size`` is the generated size (no resize).
    path: the folder holding the files (default :data:`DEFAULT_PATHS`); for CIFAR either the
      extracted ``cifar-10-batches-py`` / ``cifar-100-python`` folder or its parent; for
      ImageNet16-120 the folder of NB201's pickles or its parent holding ``ImageNet16/``; for
      "image-folder" the folder of images (required; see :func:`image_folder_files`).
    split: "train" or "test" (Fashion-MNIST test = the ``t10k`` files; ImageNet16-120 test =
      ``val_data``). Ignored for noise, for ``fashion-mnist-sample`` (256 test images shipped
      in the package, no files needed) and for "image-folder" (point ``path`` at the split).
    pick: "first" = the first ``n`` images in file order (SWAP's protocol); "random" = a
      subset drawn with ``np.random.default_rng(seed).choice(N, n, replace=False)``, kept in
      file order. Ignored for noise.
    seed: seeds "random" picks, and the noise generator (``torch.Generator``).
    num_classes: noise labels are uniform in ``0..num_classes-1`` (default 10); for a
      dataset it is only checked against the dataset's class count (for an image folder: its
      class subfolders must not outnumber it).

    "imagenet16-120" reads NAS-Bench-201's ImageNet16-120 exactly as xautodl's ``ImageNet16``
    dataset does: the 16x16 Downsampled-ImageNet pickles ``train_data_batch_1`` ..
    ``train_data_batch_10`` (train) and ``val_data`` (test), each a dict with ``data`` (N x 768
    uint8: 16x16 RGB, channel-planar) and ``labels`` (1-based ImageNet classes 1..1000); images
    whose label is 1..120 are kept, in file order, with label ``L - 1`` (151700 train and 6000
    test images). ``pick="random"`` on the train split reads all ten batches (about 1 GB; the
    kept images, about 120 MB, stay cached).

    with_files: return ``(x, y, files)``: ``files`` is the list of the image paths picked, in
      batch order, for "image-folder", and None for every other source (their images are not
      files). A space's ``task_batch`` uses them to find per-image targets (e.g. Taskonomy's).
    """
    if with_files:
        files: list[Path] = []
        x, y = _load_batch(source, n, size=size, path=path, split=split, pick=pick, seed=seed,
                           num_classes=num_classes, files_out=files)
        return x, y, (files if source == "image-folder" else None)
    return _load_batch(source, n, size=size, path=path, split=split, pick=pick, seed=seed,
                       num_classes=num_classes, files_out=None)


def _load_batch(
    source: str,
    n: int,
    *,
    size,
    path,
    split: str,
    pick: str,
    seed: int,
    num_classes: int | None,
    files_out: list[Path] | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`load_batch`; appends the picked image paths to ``files_out`` (image-folder)."""
    if source not in SOURCES:
        raise DataError(f"unknown data source {source!r}; valid sources: {', '.join(SOURCES)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise DataError(f"n must be a positive int (number of images), got {n!r}")
    n = int(n)
    hw = _check_size(size)
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer))
        or num_classes < 1
    ):
        raise DataError(f"num_classes must be a positive int, got {num_classes!r}")

    if source == "noise":
        h, w = hw if hw is not None else (32, 32)
        k = 10 if num_classes is None else int(num_classes)
        gen = torch.Generator().manual_seed(int(seed))
        x = torch.randn(n, 3, h, w, generator=gen, dtype=torch.float32)
        y = torch.randint(0, k, (n,), generator=gen, dtype=torch.int64)
        return x, y

    if num_classes is not None and source in NUM_CLASSES and num_classes != NUM_CLASSES[source]:
        raise DataError(
            f"num_classes={num_classes} but {source} has {NUM_CLASSES[source]} classes"
        )
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    if pick not in PICKS:
        raise DataError(f"unknown pick {pick!r}; valid picks: {', '.join(PICKS)}")

    if source == "fashion-mnist":
        images, labels = _fmnist(path, split, n, pick, seed)
        images = images[:, None]  # (n, 1, H, W)
    elif source == "fashion-mnist-sample":
        images, labels = _fmnist_sample(n, pick, seed)
        images = images[:, None]
    elif source == "imagenet16-120":
        images, labels = _imagenet16(path, split, n, pick, seed)
    elif source == "image-folder":
        images, labels = _image_folder(path, n, pick, seed, hw, num_classes, files_out)
    else:
        images, labels = _cifar(source, path, split, n, pick, seed)

    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(images.astype(np.float32)).div_(255.0)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if hw is not None and tuple(x.shape[-2:]) != hw:
        shrink = hw[0] < x.shape[-2] or hw[1] < x.shape[-1]
        x = F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=shrink)
    mean, std = NORMALISATION[source]
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    x = ((x - mean_t) / std_t).contiguous()
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def clear_cache() -> None:
    """Forget the decoded arrays (e.g. after replacing files within one mtime tick)."""
    _read_idx.cache_clear()
    _read_cifar_file.cache_clear()
    _read_imagenet16_file.cache_clear()


# --------------------------------------------------------------------------------------
# helpers


def _check_size(size) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        hw = (int(size), int(size))
    elif (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in size)
    ):
        hw = (int(size[0]), int(size[1]))
    else:
        raise DataError(f"size must be None, an int or a pair (h, w) of ints, got {size!r}")
    if min(hw) < 1:
        raise DataError(f"size must be positive, got {size!r}")
    return hw


def _select(total: int, n: int, pick: str, seed: int, what: str) -> np.ndarray | None:
    """Indices to take (None = the first n)."""
    if n > total:
        raise DataError(f"n={n} images requested but {what} holds only {total}")
    if pick == "first":
        return None
    return np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


# --------------------------------------------------------------------------------------
# Fashion-MNIST (IDX)

_FMNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _fmnist_dir(path) -> Path:
    base = Path(path if path is not None else DEFAULT_PATHS["fashion-mnist"]).expanduser()
    # Also accept a parent folder in the two usual layouts.
    for cand in (base, base / "fashion-mnist", base / "FashionMNIST" / "raw"):
        if cand.is_dir() and any(_idx_candidates(cand, s) for s in _FMNIST_FILES["train"]):
            return cand
    return base


def _idx_candidates(folder: Path, stem: str) -> list[Path]:
    dotted = stem.replace("-idx", ".idx")  # the dotted names some mirrors (e.g. Kaggle) use
    names = (stem, stem + ".gz", dotted, dotted + ".gz")
    return [folder / nm for nm in names if (folder / nm).is_file()]


def _what_is_missing(folder: Path, missing: str) -> str:
    """Why ``folder`` does not hold the files: it is absent, not a folder, or lacks ``missing``."""
    if not folder.exists():
        return f"folder {folder.resolve()} does not exist"
    if not folder.is_dir():
        return f"{folder.resolve()} is not a folder"
    return f"{folder.resolve()} has no {missing}"


def _fmnist_missing(folder: Path, split: str, missing: list[str]) -> DataNotFoundError:
    expected = ", ".join(f"{s}.gz (or {s})" for s in _FMNIST_FILES[split])
    what = _what_is_missing(folder, f"{' and no '.join(missing)} (gzipped or not)")
    return DataNotFoundError(
        f"Fashion-MNIST ({split} split): {what}. Expected the IDX files {expected} in that "
        f"folder. {_FMNIST_HOWTO}"
    )


def _fmnist(path, split: str, n: int, pick: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    folder = _fmnist_dir(path)
    found, missing = [], []
    for stem in _FMNIST_FILES[split]:
        cands = _idx_candidates(folder, stem) if folder.is_dir() else []
        (found if cands else missing).append(cands[0] if cands else stem)
    if missing:
        raise _fmnist_missing(folder, split, missing)
    img_path, lab_path = found
    img_dims = _idx_header(img_path, IDX_IMAGES_MAGIC)
    lab_dims = _idx_header(lab_path, IDX_LABELS_MAGIC)
    if img_dims[0] != lab_dims[0]:
        raise DataError(
            f"{img_path} holds {img_dims[0]} images but {lab_path} holds {lab_dims[0]} labels; "
            f"the two files must come from the same split"
        )
    total = img_dims[0]
    idx = _select(total, n, pick, seed, f"the Fashion-MNIST {split} split ({img_path})")
    if idx is None:
        limit = _round_up(n, total)
        images = _read_idx(*_stat_key(img_path), IDX_IMAGES_MAGIC, limit)[:n]
        labels = _read_idx(*_stat_key(lab_path), IDX_LABELS_MAGIC, limit)[:n]
    else:
        images = _read_idx(*_stat_key(img_path), IDX_IMAGES_MAGIC, None)[idx]
        labels = _read_idx(*_stat_key(lab_path), IDX_LABELS_MAGIC, None)[idx]
    return images, labels


def _fmnist_sample(n: int, pick: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The embedded sample (``split`` does not apply: its images come from the test split)."""
    with np.load(SAMPLE_FILE) as z:
        images, labels = z["images"], z["labels"]
    total = len(images)
    if n > total:
        raise DataError(
            f"n={n} images requested but the embedded fashion-mnist-sample holds only {total}; use a "
            f"batch of at most {total}, or source: fashion-mnist with the full dataset ({_FMNIST_HOWTO})")
    idx = _select(total, n, pick, seed, "the embedded sample")
    return (images[:n], labels[:n]) if idx is None else (images[idx], labels[idx])


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


def _round_up(n: int, total: int) -> int | None:
    """Prefix length to decode for the first n items: a power of two >= max(n, 1024), so
    that different small n share one cache entry; None (= all) once that covers the file."""
    k = 1024
    while k < n:
        k *= 2
    return None if k >= total else k


def _open(path: Path):
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def _idx_header(path: Path, magic: int) -> tuple[int, ...]:
    """The dims of an IDX file after checking its magic number."""
    kind = "image" if magic == IDX_IMAGES_MAGIC else "label"
    ndim = magic & 0xFF
    try:
        with _open(path) as f:
            head = f.read(4 + 4 * ndim)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read it as an IDX {kind} file: {exc}") from None
    if len(head) < 4 + 4 * ndim:
        raise DataError(
            f"{path}: truncated IDX {kind} file: {len(head)} bytes, shorter than its "
            f"{4 + 4 * ndim}-byte header"
        )
    (found,) = struct.unpack(">i", head[:4])
    if found != magic:
        hint = ""
        if found in (IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC):
            other = "image" if found == IDX_IMAGES_MAGIC else "label"
            hint = f" (that is the magic of an IDX {other} file: images and labels swapped?)"
        raise DataError(
            f"{path}: bad magic number {found} (0x{found & 0xFFFFFFFF:08x}); an IDX {kind} "
            f"file starts with {magic} (0x{magic:08x}){hint}"
        )
    dims = struct.unpack(f">{ndim}i", head[4:])
    if any(d < 1 for d in dims):
        raise DataError(f"{path}: bad IDX dimensions {dims} in the header")
    return dims


@functools.lru_cache(maxsize=16)
def _read_idx(path_str: str, mtime_ns: int, file_size: int, magic: int,
              limit: int | None) -> np.ndarray:
    """The first ``limit`` items (all when None) of an IDX file, read-only. Checks that the
    file holds exactly what its header promises (cheaply for gzip: the ISIZE trailer)."""
    path = Path(path_str)
    kind = "image" if magic == IDX_IMAGES_MAGIC else "label"
    dims = _idx_header(path, magic)
    header = 4 + 4 * len(dims)
    item = int(np.prod(dims[1:], dtype=np.int64)) if len(dims) > 1 else 1
    expected = header + dims[0] * item
    count = dims[0] if limit is None else min(limit, dims[0])
    gz = _is_gzip(path)

    def truncated(got: int) -> DataError:
        shape = "x".join(map(str, dims))
        return DataError(
            f"{path}: truncated or corrupt IDX {kind} file: its header promises {shape} "
            f"(={expected} bytes with the header) but it holds {got} bytes"
            + (" once decompressed" if gz else "")
        )

    if not gz:
        if file_size != expected:
            raise truncated(file_size)
    else:
        # The gzip trailer's ISIZE is the uncompressed length mod 2**32: a cheap check that
        # avoids decompressing everything when only a prefix is needed. On a mismatch
        # (truncated file, or a rare multi-member gzip) decompress all to be sure.
        with open(path, "rb") as f:
            f.seek(max(file_size - 4, 0))
            isize = struct.unpack("<I", f.read(4).rjust(4, b"\0"))[0]
        if isize != expected % 2**32:
            got = _gunzip_len(path, kind)
            if got != expected:
                raise truncated(got)
    try:
        with _open(path) as f:
            f.seek(header)
            data = f.read(count * item)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt IDX {kind} file: {exc}") from None
    if len(data) != count * item:
        raise truncated(header + len(data))
    arr = np.frombuffer(data, dtype=np.uint8).reshape((count,) + tuple(dims[1:]))
    arr.flags.writeable = False
    return arr


def _gunzip_len(path: Path, kind: str) -> int:
    total = 0
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(1 << 22):
                total += len(chunk)
    except EOFError:
        raise DataError(
            f"{path}: truncated gzip file (the compressed stream ends early; after "
            f"{total} bytes of IDX {kind} data); download it again"
        ) from None
    except (OSError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt gzip file ({exc}); download it again") from None
    return total


# --------------------------------------------------------------------------------------
# CIFAR (python pickles)


def _cifar_dir(source: str, path) -> Path:
    spec = _CIFAR[source]
    base = Path(path if path is not None else DEFAULT_PATHS[source]).expanduser()
    first = spec["train"][0]
    if (base / spec["folder"]).is_dir() and not (base / first).is_file():
        return base / spec["folder"]
    return base


def _cifar(source: str, path, split: str, n: int, pick: str,
           seed: int) -> tuple[np.ndarray, np.ndarray]:
    spec = _CIFAR[source]
    folder = _cifar_dir(source, path)
    names: tuple[str, ...] = spec[split]
    missing = [nm for nm in names if not (folder / nm).is_file()]
    if missing:
        what = _what_is_missing(folder, ", ".join(missing))
        raise DataNotFoundError(
            f"{source} ({split} split): {what}. Expected the python-pickle files "
            f"{', '.join(names)} of {spec['folder']}/ in that folder (or in a "
            f"{spec['folder']}/ folder inside it). "
            + _CIFAR_HOWTO.format(tarball=spec["tarball"], folder=spec["folder"])
        )
    files = [folder / nm for nm in names]
    return _take(files, lambda f: _read_cifar_file(*_stat_key(f), spec["label_key"]), n, pick, seed,
                 f"the {source} {split} split ({folder})")


def _take(files: list[Path], read, n: int, pick: str, seed: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (images, labels) from batch ``files`` read with ``read(file) -> (xs, ys)``: with
    ``pick="first"`` only the files that hold the first ``n`` are read; otherwise all, then a
    seeded subset (:func:`_select`)."""
    if pick == "first":
        parts_x, parts_y, got = [], [], 0
        for f in files:
            xs, ys = read(f)
            parts_x.append(xs[: n - got])
            parts_y.append(ys[: n - got])
            got += len(parts_x[-1])
            if got >= n:
                break
        if got < n:
            _select(got, n, pick, seed, what)  # raises
        return np.concatenate(parts_x), np.concatenate(parts_y)
    loaded = [read(f) for f in files]
    xs = np.concatenate([a for a, _ in loaded]) if len(loaded) > 1 else loaded[0][0]
    ys = np.concatenate([b for _, b in loaded]) if len(loaded) > 1 else loaded[0][1]
    idx = _select(len(xs), n, pick, seed, what)
    return xs[idx], ys[idx]


@functools.lru_cache(maxsize=8)
def _read_cifar_file(path_str: str, mtime_ns: int, file_size: int,
                     label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of one CIFAR pickle, read-only."""
    path = Path(path_str)
    try:
        with open(path, "rb") as f:
            d = plain_pickle.load(f, encoding="bytes")
    except Exception as exc:  # truncated/corrupt pickles raise many kinds of error
        raise DataError(
            f"{path}: not a readable CIFAR python pickle ({type(exc).__name__}: {exc}); "
            f"download and extract it again"
        ) from None
    if not isinstance(d, dict):
        raise DataError(f"{path}: expected a pickled dict, found {type(d).__name__}")
    keys = sorted(k.decode() if isinstance(k, bytes) else str(k) for k in d)
    for key in (b"data", label_key):
        if key not in d:
            raise DataError(
                f"{path}: the pickled dict has no {key!r} entry (keys: {keys}); "
                + ("is this a CIFAR-100 file read as CIFAR-10 or the other way round?"
                   if key == label_key else "is this a CIFAR python batch?")
            )
    data = np.asarray(d[b"data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(
            f"{path}: b'data' should be uint8 of shape (N, 3072), found {data.dtype} "
            f"{data.shape}"
        )
    labels = np.asarray(d[label_key], dtype=np.int64)
    if labels.shape != (data.shape[0],):
        raise DataError(
            f"{path}: {len(data)} images but {labels.size} entries in {label_key!r}"
        )
    images = data.reshape(-1, 3, 32, 32)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


# --------------------------------------------------------------------------------------
# ImageNet16-120 (NAS-Bench-201's downsampled-ImageNet pickles)

_IN16_FILES = {
    "train": tuple(f"train_data_batch_{i}" for i in range(1, 11)),
    "test": ("val_data",),
}
_IN16_FOLDER = "ImageNet16"
IMAGENET16_CLASSES = 120  # NB201 keeps ImageNet classes 1..120 (``use_num_of_class_only=120``)
_IN16_HOWTO = (
    "These are the 16x16 'Downsampled ImageNet' pickles (Chrabaszcz et al. 2017; Imagenet16_train.zip "
    "and Imagenet16_val.zip from https://image-net.org/download-images, or the ImageNet16 folder that "
    "https://github.com/D-X-Y/NAS-Bench-201 links to); extract them into one folder and set data.path "
    "to it (or to a folder holding ImageNet16/)."
)


def _imagenet16_dir(path) -> Path:
    base = Path(path if path is not None else DEFAULT_PATHS["imagenet16-120"]).expanduser()
    if (base / _IN16_FOLDER).is_dir() and not (base / _IN16_FILES["test"][0]).is_file():
        return base / _IN16_FOLDER
    return base


def _imagenet16(path, split: str, n: int, pick: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    folder = _imagenet16_dir(path)
    names = _IN16_FILES[split]
    missing = [nm for nm in names if not (folder / nm).is_file()]
    if missing:
        what = _what_is_missing(folder, ", ".join(missing))
        raise DataNotFoundError(
            f"imagenet16-120 ({split} split): {what}. Expected NAS-Bench-201's ImageNet16 pickles "
            f"{', '.join(names)} in that folder (or in an {_IN16_FOLDER}/ folder inside it). {_IN16_HOWTO}"
        )
    files = [folder / nm for nm in names]
    return _take(files, lambda f: _read_imagenet16_file(*_stat_key(f)), n, pick, seed,
                 f"the imagenet16-120 {split} split ({folder}, classes 1..{IMAGENET16_CLASSES})")


@functools.lru_cache(maxsize=11)
def _read_imagenet16_file(path_str: str, mtime_ns: int, file_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (K, 3, 16, 16), labels int64 (K,) in 0..119) of one ImageNet16 pickle: its
    images with 1-based label 1..120, in file order, label minus 1 (xautodl ``ImageNet16`` with
    ``use_num_of_class_only=120``). Read-only."""
    path = Path(path_str)
    try:
        with open(path, "rb") as f:
            d = plain_pickle.load(f, encoding="latin1")  # as xautodl: the files may come from Python 2
    except Exception as exc:  # truncated/corrupt pickles raise many kinds of error
        raise DataError(
            f"{path}: not a readable ImageNet16 pickle ({type(exc).__name__}: {exc}); download and extract "
            f"it again. {_IN16_HOWTO}"
        ) from None
    if not isinstance(d, dict):
        raise DataError(f"{path}: expected a pickled dict with 'data' and 'labels', found {type(d).__name__}")
    d = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in d.items()}
    for key in ("data", "labels"):
        if key not in d:
            raise DataError(f"{path}: the pickled dict has no {key!r} entry (keys: {sorted(map(str, d))}); "
                            f"is this an ImageNet16 batch? {_IN16_HOWTO}")
    data = np.asarray(d["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 16 * 16:
        raise DataError(
            f"{path}: 'data' should be uint8 of shape (N, 768), 16x16 RGB images channel-planar, found "
            f"{data.dtype} {data.shape}" + (" (32x32 images: the ImageNet32 files?)" if data.ndim == 2
                                             and data.shape[1] == 3072 else "")
        )
    labels = np.asarray(d["labels"], dtype=np.int64)
    if labels.shape != (data.shape[0],):
        raise DataError(f"{path}: {len(data)} images but {labels.size} entries in 'labels'")
    if labels.size and labels.min() < 1:
        raise DataError(f"{path}: a label is {labels.min()}; ImageNet16 labels are 1-based (1..1000)")
    keep = labels <= IMAGENET16_CLASSES
    images = np.ascontiguousarray(data[keep].reshape(-1, 3, 16, 16))
    labels = labels[keep] - 1
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


# --------------------------------------------------------------------------------------
# a folder of RGB images

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg")


def image_folder_files(path) -> tuple[list[Path], list[int], list[str]]:
    """The images of an image folder, their labels and the class names.

    Two layouts: images directly in the folder (labels all 0, no class names), or one
    subfolder per class (images anywhere below it; label = index of the subfolder in sorted
    name order, as torchvision's ``ImageFolder``). Files with the extensions in
    :data:`IMAGE_EXTENSIONS` (any case) count as images; names starting with "." are skipped.
    Images are listed in sorted order of their path relative to the folder.
    """
    if path is None:
        raise DataError("source image-folder needs data.path: a folder of .png/.jpg images, or of one "
                        "subfolder of images per class")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise DataNotFoundError(f"image-folder: {_what_is_missing(folder, '')}".rstrip() +
                                "; set data.path to a folder of .png/.jpg images, or of one subfolder of "
                                "images per class")

    def images_below(d: Path) -> list[Path]:
        return sorted((p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                       and not any(part.startswith(".") for part in p.relative_to(folder).parts)),
                      key=lambda p: p.relative_to(folder).as_posix())

    top = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                 and not p.name.startswith("."))
    subdirs = sorted((d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")),
                     key=lambda d: d.name)
    classes = [d for d in subdirs if images_below(d)]
    if top and classes:
        raise DataError(
            f"image-folder {folder}: it holds images both directly ({top[0].name}, ...) and in subfolders "
            f"({classes[0].name}/, ...); use one layout: all images in the folder (labels 0), or one "
            f"subfolder per class")
    if classes:
        files, labels = [], []
        for k, d in enumerate(classes):
            below = images_below(d)
            files += below
            labels += [k] * len(below)
        return files, labels, [d.name for d in classes]
    if not top:
        raise DataError(f"image-folder {folder}: no images (files ending in "
                        f"{', '.join(IMAGE_EXTENSIONS)}) in it or in its subfolders")
    return top, [0] * len(top), []


def _image_folder(path, n: int, pick: str, seed: int, hw: tuple[int, int] | None,
                  num_classes: int | None, files_out: list[Path] | None = None) -> tuple[torch.Tensor, np.ndarray]:
    """(x float32 (n, 3, H, W) in [0, 1], each image resized to ``hw``; labels). The picked
    paths, in batch order, are appended to ``files_out`` when given."""
    files, labels, classes = image_folder_files(path)
    if num_classes is not None and len(classes) > num_classes:
        raise DataError(f"num_classes={num_classes} but image-folder {path} has {len(classes)} class "
                        f"subfolders ({', '.join(classes[:5])}{', ...' if len(classes) > 5 else ''})")
    idx = _select(len(files), n, pick, seed, f"image-folder {path}")
    take = list(range(n)) if idx is None else [int(i) for i in idx]
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        raise DataError("source image-folder needs Pillow: pip install pillow") from None
    out = []
    for i in take:
        f = files[i]
        try:
            with Image.open(f) as im:
                arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise DataError(f"{f}: not a readable image ({type(exc).__name__}: {exc})") from None
        x = torch.from_numpy(arr.transpose(2, 0, 1).astype(np.float32)).div_(255.0)[None]
        if hw is not None and tuple(x.shape[-2:]) != hw:
            shrink = hw[0] < x.shape[-2] or hw[1] < x.shape[-1]
            x = F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=shrink)
        if out and x.shape != out[0].shape:
            raise DataError(
                f"image-folder {path}: {f.name} is {x.shape[-2]}x{x.shape[-1]} but {files[take[0]].name} is "
                f"{out[0].shape[-2]}x{out[0].shape[-1]} (height x width); set data.size to resize them all")
        out.append(x)
    if files_out is not None:
        files_out.extend(files[i] for i in take)
    return torch.cat(out), np.asarray([labels[i] for i in take], dtype=np.int64)


# --------------------------------------------------------------------------------------
# token inputs (language models: the nasbench_bert space)

TOKEN_SOURCES: tuple[str, ...] = ("zipf", "text")
#: BERT/ELECTRA uncased WordPiece ids (google/electra-small-discriminator's vocab.txt).
BERT_PAD, BERT_CLS, BERT_SEP = 0, 101, 102
#: first id after the special and ``[unused]`` tokens and the single characters of that
#: vocabulary: from here on its whole words come roughly in corpus-frequency order ("the" = 1996)
BERT_FIRST_WORD = 1996


def load_tokens(source: str, n: int, *, seq_len: int = 128, vocab_size: int = 30522,
                path: str | os.PathLike | None = None, tokenizer: str | os.PathLike | None = None,
                pick: str = "first", seed: int = 0, zipf_exponent: float = 1.0,
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` token sequences: ``(ids, mask)``, both int64 ``(n, L)``; ``mask`` is 1 on real
    tokens and 0 on padding, ``L <= seq_len``.

    source "zipf" (the offline default; downloads nothing): every sequence is ``[CLS]``, then
      ``seq_len - 2`` word ids drawn i.i.d. from a Zipf law over the vocabulary's words, then
      ``[SEP]``; no padding (the universal SWAP script's OpenWebText documents are nearly all
      longer than its 512-token limit, so they are not padded either). Word of rank ``r`` (1 =
      most frequent) is id ``BERT_FIRST_WORD + r - 1`` with probability proportional to
      ``r ** -zipf_exponent``, drawn with ``np.random.default_rng(seed)``. Why Zipf: at
      initialisation the embedding rows are i.i.d., so *which* ids a batch holds does not matter
      to a training-free score, only *how the tokens repeat* within and across sequences, and
      natural text repeats its words by Zipf's law with an exponent near 1. Uniform ids would
      almost never repeat; a shipped corpus would need a shipped tokenizer and a licence.
    source "text": the non-empty lines of the UTF-8 text file ``path`` are the documents
      (``pick`` "first": the first ``n`` in file order; "random": a seeded subset); each is
      tokenised by the HF ``tokenizers`` file ``tokenizer`` (a ``tokenizer.json``, e.g. the
      electra-small-discriminator one the universal SWAP script uses, with its own special
      tokens), truncated to ``seq_len`` and padded to the longest (with its ``[PAD]`` id, else 0), as
      ``DataCollatorWithPadding(padding="longest")`` does. Needs the optional package
      ``tokenizers`` (``pip install zcbench[text]``).
    Every id must be below ``vocab_size``.
    """
    if source not in TOKEN_SOURCES:
        raise DataError(f"unknown token source {source!r}; valid sources: {', '.join(TOKEN_SOURCES)}")
    for name, v, low in (("n", n, 1), ("seq_len", seq_len, 3), ("vocab_size", vocab_size, BERT_FIRST_WORD + 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise DataError(f"{name} must be an int >= {low}, got {v!r}")
    if source == "zipf":
        if not isinstance(zipf_exponent, (int, float)) or not zipf_exponent > 0:
            raise DataError(f"zipf_exponent must be a positive number, got {zipf_exponent!r}")
        ranks = np.arange(1, vocab_size - BERT_FIRST_WORD + 1, dtype=np.float64)
        p = ranks ** -float(zipf_exponent)
        p /= p.sum()
        words = np.random.default_rng(int(seed)).choice(ranks.size, size=(n, seq_len - 2), p=p) + BERT_FIRST_WORD
        ids = np.concatenate([np.full((n, 1), BERT_CLS), words, np.full((n, 1), BERT_SEP)], axis=1)
        return torch.from_numpy(ids.astype(np.int64)), torch.ones(n, seq_len, dtype=torch.int64)
    return _text_tokens(path, tokenizer, int(n), int(seq_len), int(vocab_size), pick, int(seed))


def _text_tokens(path, tokenizer, n: int, seq_len: int, vocab_size: int, pick: str, seed: int):
    if path is None or tokenizer is None:
        raise DataError("token source 'text' needs both a text file (text_path) and a tokenizers file "
                        "(tokenizer_path, a HF tokenizer.json)")
    if pick not in PICKS:
        raise DataError(f"unknown pick {pick!r}; valid picks: {', '.join(PICKS)}")
    path, tok_path = resolve_path(path), resolve_path(tokenizer)
    for p, what in ((path, "text file (one document per non-empty line)"), (tok_path, "HF tokenizers file (tokenizer.json)")):
        if not p.is_file():
            raise DataNotFoundError(f"{p}: no such file; expected a {what}")
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise DataError("token source 'text' needs the optional package tokenizers: "
                        "pip install 'zcbench[text]' (or pip install tokenizers)") from None
    try:
        tok = Tokenizer.from_file(str(tok_path))
    except Exception as exc:  # the library raises its own exception type
        raise DataError(f"{tok_path}: not a HF tokenizers file ({exc})") from None
    try:
        docs = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    if len(docs) < n:
        raise DataError(f"{path} holds {len(docs)} non-empty lines (documents); {n} are needed")
    keep = _select(len(docs), n, pick, seed, "documents")
    docs = docs if keep is None else [docs[i] for i in keep]
    tok.no_padding()
    tok.enable_truncation(seq_len)
    encs = tok.encode_batch(docs[:n])
    longest = max(len(e.ids) for e in encs)
    pad = tok.token_to_id("[PAD]")
    pad = 0 if pad is None else pad
    ids = torch.full((n, longest), pad, dtype=torch.int64)
    mask = torch.zeros(n, longest, dtype=torch.int64)
    for i, e in enumerate(encs):
        ids[i, :len(e.ids)] = torch.tensor(e.ids, dtype=torch.int64)
        mask[i, :len(e.ids)] = 1
    if int(ids.max()) >= vocab_size:
        raise DataError(f"{tok_path} gives token id {int(ids.max())}, beyond the encoder's vocabulary of {vocab_size}; "
                        "use a tokenizer with that vocabulary (NAS-Bench-BERT: the 30522-word uncased BERT WordPiece)")
    return ids, mask
