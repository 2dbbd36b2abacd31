"""Input batches for scoring: Fashion-MNIST (IDX files), CIFAR-10/100 (python pickles),
ImageNet16-120 (NAS-Bench-201's downsampled-ImageNet pickles), any folder of RGB images, and
seeded Gaussian noise, read with numpy (and Pillow for image folders; no torchvision).

``load_batch(source, n)`` returns ``(x, y)``: ``x`` float32 ``(n, 3, H, W)`` normalised with
the dataset's per-channel mean and std, ``y`` int64 ``(n,)``. ``pick="first"`` takes the first
``n`` images of the split in file order, as SWAP's ``correlation.py`` does (its DataLoader
has no shuffle); ``pick="random"`` a seeded subset.

The readers of each source (and their cache of decoded arrays) are in :mod:`search_spaces.image_sources`, the errors, paths and
the download cache in :mod:`search_spaces.data_base`, token inputs in :mod:`search_spaces.tokens`;
this module re-exports their public names, so ``from search_spaces.data import DataError``
(or ``resolve_path``, ``cache_dir``, ``load_tokens``) keeps working.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from search_spaces.data_base import (CACHE_ENV, CACHE_FILES, DEFAULT_CACHE, EMBEDDED_DIR, NBSUITE_ZERO_FILES,
                                     PICKS, DataError, DataNotFoundError, cache_dir, cached_file, resolve_path)
from search_spaces.image_sources import (DEFAULT_PATHS, IMAGE_EXTENSIONS, SAMPLE_FILE, clear_cache,
                                         image_folder_files, read_cifar, read_fmnist, read_fmnist_sample,
                                         read_image_folder, read_imagenet16)
from search_spaces.tokens import (BERT_CLS, BERT_FIRST_WORD, BERT_PAD, BERT_SEP, TOKEN_SOURCES,
                                  load_tokens)

__all__ = [
    "SOURCES", "SPLITS", "PICKS", "NORMALISATION", "NUM_CLASSES", "DEFAULT_PATHS", "load_batch", "clear_cache",
    "DataError", "DataNotFoundError", "EMBEDDED_DIR", "SAMPLE_FILE", "resolve_path", "CACHE_ENV", "DEFAULT_CACHE",
    "CACHE_FILES", "NBSUITE_ZERO_FILES", "cache_dir", "cached_file", "IMAGE_EXTENSIONS", "image_folder_files",
    "TOKEN_SOURCES", "BERT_PAD", "BERT_CLS", "BERT_SEP", "BERT_FIRST_WORD", "load_tokens",
]

SOURCES: tuple[str, ...] = ("fashion-mnist", "fashion-mnist-sample", "cifar10", "cifar100", "noise",
                            "imagenet16-120", "image-folder")
SPLITS: tuple[str, ...] = ("train", "test")

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
        images, labels = read_fmnist(path, split, n, pick, seed)
        images = images[:, None]  # (n, 1, H, W)
    elif source == "fashion-mnist-sample":
        images, labels = read_fmnist_sample(n, pick, seed)
        images = images[:, None]
    elif source == "imagenet16-120":
        images, labels = read_imagenet16(path, split, n, pick, seed)
    elif source == "image-folder":
        images, labels = read_image_folder(path, n, pick, seed, hw, num_classes, files_out)
    else:
        images, labels = read_cifar(source, path, split, n, pick, seed)

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
