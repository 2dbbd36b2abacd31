"""The image datasets, read from their own files with numpy (and Pillow for image folders; no
torchvision): Fashion-MNIST (IDX files, and a sample shipped in the package), CIFAR-10/100
(python pickles), ImageNet16-120 (NAS-Bench-201's downsampled-ImageNet pickles) and any folder
of RGB images. Each reader returns the picked images and their labels; :func:`search_spaces.data.load_batch`
turns them into a normalised batch.

Decoded arrays are cached in-process per (file, mtime, size), so repeated loads are cheap;
with ``pick="first"`` only the needed prefix of an IDX file (rounded up) is decompressed,
and only the CIFAR / ImageNet16 batches that hold the first ``n`` images are unpickled.
"""
from __future__ import annotations

import functools
import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from search_spaces import plain_pickle
from search_spaces.data_base import EMBEDDED_DIR, DataError, DataNotFoundError, pick_indices

#: of ``./data`` (resolved against the current directory).
DEFAULT_PATHS: dict[str, str] = {
    "fashion-mnist": "/usr/share/datasets/fashion-mnist",
    "cifar10": "data",
    "cifar100": "data",
    "imagenet16-120": "data",
}

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

def clear_cache() -> None:
    """Forget the decoded arrays (e.g. after replacing files within one mtime tick)."""
    _read_idx.cache_clear()
    _read_cifar_file.cache_clear()
    _read_imagenet16_file.cache_clear()


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


def read_fmnist(path, split: str, n: int, pick: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` Fashion-MNIST images (uint8, (n, H, W), 28 x 28 in the real files) and labels of
    ``split`` from the IDX files in ``path`` (gzipped or not; default :data:`DEFAULT_PATHS`)."""
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
    idx = pick_indices(total, n, pick, seed, f"the Fashion-MNIST {split} split ({img_path})")
    if idx is None:
        limit = _round_up(n, total)
        images = _read_idx(*_stat_key(img_path), IDX_IMAGES_MAGIC, limit)[:n]
        labels = _read_idx(*_stat_key(lab_path), IDX_LABELS_MAGIC, limit)[:n]
    else:
        images = _read_idx(*_stat_key(img_path), IDX_IMAGES_MAGIC, None)[idx]
        labels = _read_idx(*_stat_key(lab_path), IDX_LABELS_MAGIC, None)[idx]
    return images, labels


def read_fmnist_sample(n: int, pick: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The embedded sample (``split`` does not apply: its images come from the test split)."""
    with np.load(SAMPLE_FILE) as z:
        images, labels = z["images"], z["labels"]
    total = len(images)
    if n > total:
        raise DataError(
            f"n={n} images requested but the embedded fashion-mnist-sample holds only {total}; use a "
            f"batch of at most {total}, or source: fashion-mnist with the full dataset ({_FMNIST_HOWTO})")
    idx = pick_indices(total, n, pick, seed, "the embedded sample")
    return (images[:n], labels[:n]) if idx is None else (images[idx], labels[idx])

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


def read_cifar(source: str, path, split: str, n: int, pick: str,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` CIFAR-10 or CIFAR-100 images (uint8, (n, 3, 32, 32)) and labels of ``split`` from
    the python pickles in ``path`` (the extracted folder or its parent)."""
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
    seeded subset (:func:`~search_spaces.data_base.pick_indices`)."""
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
            pick_indices(got, n, pick, seed, what)  # raises
        return np.concatenate(parts_x), np.concatenate(parts_y)
    loaded = [read(f) for f in files]
    xs = np.concatenate([a for a, _ in loaded]) if len(loaded) > 1 else loaded[0][0]
    ys = np.concatenate([b for _, b in loaded]) if len(loaded) > 1 else loaded[0][1]
    idx = pick_indices(len(xs), n, pick, seed, what)
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


def read_imagenet16(path, split: str, n: int, pick: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` ImageNet16-120 images (uint8, (n, 3, 16, 16)) and labels 0..119 of ``split`` from
    NAS-Bench-201's pickles in ``path`` (see :func:`search_spaces.data.load_batch`)."""
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


def read_image_folder(path, n: int, pick: str, seed: int, hw: tuple[int, int] | None,
                      num_classes: int | None, files_out: list[Path] | None = None) -> tuple[torch.Tensor, np.ndarray]:
    """(x float32 (n, 3, H, W) in [0, 1], each image resized to ``hw``; labels). The picked
    paths, in batch order, are appended to ``files_out`` when given."""
    files, labels, classes = image_folder_files(path)
    if num_classes is not None and len(classes) > num_classes:
        raise DataError(f"num_classes={num_classes} but image-folder {path} has {len(classes)} class "
                        f"subfolders ({', '.join(classes[:5])}{', ...' if len(classes) > 5 else ''})")
    idx = pick_indices(len(files), n, pick, seed, f"image-folder {path}")
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
