"""The inputs and targets of the TransNAS-Bench-101 tasks: RGB batches of any source turned
into each task's input (jigsaw tiles, resized images) and its targets (Taskonomy's own files,
``.npy`` files, or seeded synthetic ones). :class:`TaskonomyInputs` is the half of
:class:`search_spaces.tnb101.TNB101Space` that does this.

The data side delivers RGB batches of any source (``search_spaces.data.load_batch``);
``task_batch`` resizes them to the task's size (bilinear, antialiased when shrinking) and:

* jigsaw: the image is resized to (S - 1)^2 (255^2), centre-cropped to 0.9 of its side and
  resized back (TNB's ``centercrop=0.9``), cut into a 3 x 3 grid of units (85 px) and tile i is
  a (S/4)^2 (64^2) crop of grid cell ``perm[i]`` at a seeded random offset (TNB's random crop),
  giving (N, 9, 3, 64, 64). The label is the index of ``perm`` in a set of 1000 permutations.
  TNB draws the index uniformly and uses its file ``permutations_hamming_max_1000.npy``; give
  that file (or any (P, 9) array of permutations of 0..8) as ``jigsaw_permutations``; without
  it a fixed seeded set of 1000 distinct permutations is used (the labels are still derived
  from the input, only the index -> permutation table differs).
* autoencoder: the target is the (resized) input image.
* class_object / class_scene / room_layout / segmentsemantic / normal: the targets come from
  Taskonomy's own files when the images are Taskonomy's (``<root>/rgb/point_<p>_view_<v>_domain_rgb.png``
  from the image-folder source): ``<root>/<domain>/point_<p>_view_<v>_domain_<domain>.<ext>``,
  read and preprocessed as TNB's loader does (:meth:`TNB101Space._taskonomy_targets`; room_layout
  also from Taskonomy's ``point_info`` json, as NASLib computes it); the root
  is ``targets_path`` when it holds the domain folders, else the parent of the images' ``rgb/``.
  Otherwise from ``targets_path`` (a folder holding ``<task>.npy``, one entry per image in the
  order the data section loads them, see :meth:`TNB101Space.task_batch`), otherwise they are
  seeded synthetic targets of the right shape and a warning says so.

TNB normalises inputs per task (0.5/0.5 for the dense tasks, its Taskonomy mean/std for the
classification ones, none for jigsaw); zcbench keeps the normalisation of the data source.
"""
from __future__ import annotations

import functools
import itertools
import math
import os
import random
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from search_spaces.base import TaskInfo, derive_seed
from search_spaces.data_base import DataError, DataNotFoundError
from search_spaces.tnb101_archs import JIGSAW_CLASSES, SEG_CLASSES, TASKONOMY_URL

JIGSAW_CENTERCROP = 0.9

#: task -> (Taskonomy domain folder, file extension) of its targets, as TNB's
#: ``taskonomy_dataset.DOMAIN_DATA_SOURCE``: ``<root>/<domain>/point_<p>_view_<v>_domain_<domain>.<ext>``.
TASKONOMY_DOMAINS: dict[str, tuple[str, str]] = {
    "class_object": ("class_object", "npy"),
    "class_scene": ("class_scene", "npy"),
    "room_layout": ("room_layout", "npy"),
    "segmentsemantic": ("segmentsemantic", "png"),
    "normal": ("normal", "png"),
}
#: Other domain folders a task's targets may come from (room_layout: Taskonomy's camera/room json,
#: from which NASLib's loader computes the vector; TNB reads its own room_layout .npy first).
TASKONOMY_FALLBACK: dict[str, tuple[str, str]] = {"room_layout": ("point_info", "json")}
#: TNB's / NASLib's standardisation of the 9-D room box (``point_info2room_layout``: centre xyz,
#: camera euler xyz, scale xyz).
ROOM_LAYOUT_MEAN = (-1.64378987e-02, 7.03680296e-02, -2.72496318e+00, 1.56155458e+00, -2.83141191e-04,
                    -1.57136446e+00, 4.81219593e+00, 3.69077521e+00, 2.61998101e+00)
ROOM_LAYOUT_STD = (0.73644884, 0.53726124, 1.45194796, 0.19338562, 0.01549811, 0.42258508,
                   2.80763433, 1.92678054, 0.89655357)
_TASKONOMY_RGB = re.compile(r"(point_\d+_view_\d+)_domain_rgb\.png")


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if tuple(x.shape[-2:]) == (size, size):
        return x
    shrink = x.shape[-2] > size or x.shape[-1] > size
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)


class TaskonomyInputs:
    """``task_batch`` and the target readers of the TNB101 spaces; reads the space's options
    ``input_size``, ``targets_path``, ``class_selection``, ``jigsaw_permutations`` and
    ``jigsaw_offsets``."""

    @property
    def jigsaw_geometry(self) -> tuple[int, int, int]:
        """(image side, grid unit, tile side): (255, 85, 64) for 256 inputs."""
        image = self.input_size - 1
        return image, image // 3, self.input_size // 4

    def permutations(self) -> torch.Tensor:
        """The (P, 9) jigsaw permutation set: ``jigsaw_permutations`` or 1000 seeded distinct ones."""
        if self.jigsaw_permutations is None:
            return _permutations(None, 0)
        p = Path(os.path.expanduser(str(self.jigsaw_permutations)))
        return _permutations(str(p), p.stat().st_mtime_ns if p.is_file() else 0)

    def task_batch(self, task: str, x: torch.Tensor, y: torch.Tensor, seed: int,
                   files: list[Path] | None = None) -> tuple[Any, torch.Tensor]:
        """The input and targets of ``task`` from RGB images ``x`` (N, 3, H, W) of any source.

        Inputs are resized to ``input_size`` (jigsaw: tiles, see the module docstring). Targets:
        jigsaw, the permutation index; autoencoder, the input; the others, in this order:

        1. Taskonomy's own files (:meth:`taskonomy_roots`), when ``files`` (the batch's image
           paths) are all Taskonomy RGB images ``<root>/rgb/point_<p>_view_<v>_domain_rgb.png``
           and a Taskonomy root holds the task's domain folder: ``targets_path`` when it is a
           folder holding that domain folder, otherwise each image's ``<root>`` (the parent of
           its ``rgb/`` folder) when that holds it. See :meth:`_taskonomy_targets`.
        2. ``targets_path/<task>.npy`` when ``targets_path`` is set (and is no Taskonomy root).
        3. Seeded synthetic targets, with a warning.

        ``.npy`` target files hold one entry per image, in the order the data section loads them
        (``pick: first``; the image-folder source lists files in sorted path order), at least N
        entries (the first N are used):

        * class_object / class_scene: (M, 100) / (M, 63) soft-label distributions (Taskonomy's
          class logits restricted to TNB's classes and normalised, as TNB loads them);
        * room_layout: (M, 9) float (TNB's normalised room box vector);
        * segmentsemantic: (M, h, w) integers 0..16 (Taskonomy's labels mapped as TNB does:
          0 -> 1, then minus 1), resized to input_size by nearest neighbour;
        * normal: (M, 3, h, w) or (M, h, w, 3), floats in [0, 1] or uint8, resized bilinearly.
        """
        info = self.task(task)
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"TNB101 task_batch takes RGB images (N, 3, H, W), got "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        x = x.float()
        n = int(x.shape[0])
        if task == "jigsaw":
            return self._jigsaw(x, seed)
        xs = _resize(x, self.input_size).contiguous()
        if task == "autoencoder":
            return xs, xs.clone()
        roots = self.taskonomy_roots(task, files)
        if roots is not None:
            return xs, self._taskonomy_targets(task, info, list(files), roots)
        if self.targets_path is not None:
            return xs, self._real_targets(task, info, n)
        return xs, self._synthetic_targets(task, info, n, seed)

    def taskonomy_roots(self, task: str, files) -> list[Path] | None:
        """The Taskonomy root of each image of ``files`` for ``task``'s targets, or None.

        Rule: every path must be named ``<root>/rgb/point_<p>_view_<v>_domain_rgb.png``
        (Taskonomy's layout, as TNB's ``TaskonomyDataset`` templates read it). If
        ``targets_path`` holds the task's domain folder (:data:`TASKONOMY_DOMAINS`), it is the root of
        every image; else if ``targets_path`` is unset, each image's ``<root>`` is used when it
        holds that folder (all images must agree). room_layout's folder may also be
        ``point_info/`` (:data:`TASKONOMY_FALLBACK`). Otherwise None (``.npy`` or synthetic targets).
        """
        if task not in TASKONOMY_DOMAINS or not files:
            return None
        domains = [TASKONOMY_DOMAINS[task][0]] + ([TASKONOMY_FALLBACK[task][0]] if task in TASKONOMY_FALLBACK else [])
        domain = domains[0]
        if not all(_TASKONOMY_RGB.fullmatch(Path(f).name) and Path(f).parent.name == "rgb" for f in files):
            return None
        if self.targets_path is not None:
            has = any((self.targets_path / d).is_dir() for d in domains)
            return [self.targets_path] * len(files) if has else None
        roots = [Path(f).parent.parent for f in files]
        have = [any((r / d).is_dir() for d in domains) for r in roots]
        if not any(have):
            return None
        if not all(have):
            r = roots[have.index(False)]
            raise DataNotFoundError(
                f"TNB101 task {task!r}: Taskonomy folder {r / domain} is missing, but "
                f"{roots[have.index(True)] / domain} exists for other images of the batch; every image's root "
                f"needs the {domain}/ folder "
                f"(Taskonomy data: {TASKONOMY_URL})")
        return roots

    def _taskonomy_targets(self, task: str, info: TaskInfo, files: list[Path], roots: list[Path]) -> torch.Tensor:
        """Targets of ``task`` read from Taskonomy's files beside the images, as TNB's loader
        (``lib/data/load_ops.py`` + ``taskonomy_dataset.py``, DOMAIN_DATA_SOURCE) reads them:

        * class_object / class_scene: ``class_object/..._domain_class_object.npy`` (1000 ImageNet
          probabilities) / ``class_scene/..._domain_class_scene.npy`` (365 Places probabilities;
          Taskonomy's download names them ``..._domain_class_places.npy``, which is read too);
          TNB's ``load_class_*_logits(selected=True)`` keeps the classes of its 0/1 mask file
          (``class_object_selected.npy``: 100 of 1000, ``class_scene_selected.npy``: 63 of 365;
          options ``class_object_selection`` / ``class_scene_selection``) and divides by their sum.
          Vectors that already have 100 / 63 entries are used as they are.
        * room_layout: ``room_layout/..._domain_room_layout.npy``, the 9-D standardised room box
          vector (TNB's ``room_layout`` loader: ``np.load``, no further change); when that is
          missing, Taskonomy's ``point_info/..._domain_point_info.json``, turned into the vector as
          NASLib's loader does (:func:`room_layout_from_point_info`).
        * segmentsemantic: ``segmentsemantic/..._domain_segmentsemantic.png``, one channel of
          labels 0..17; TNB's ``semantic_segment_label``: 0 -> 1, then minus 1 (0..16); resized
          to ``input_size`` by nearest neighbour (TNB: PIL NEAREST).
        * normal: ``normal/..._domain_normal.png``, RGB; ``to_tensor`` (/255, [0, 1]) and resized
          bilinearly to ``input_size`` (TNB: PIL BILINEAR before ``to_tensor``).
        """
        domain, ext = TASKONOMY_DOMAINS[task]
        paths = []
        for f, root in zip(files, roots):
            stem = _TASKONOMY_RGB.fullmatch(Path(f).name).group(1)
            p = root / domain / f"{stem}_domain_{domain}.{ext}"
            tried = [p]
            if not p.is_file() and task == "class_scene":  # Taskonomy's own name, before NASLib's renaming
                tried.append(root / domain / f"{stem}_domain_class_places.npy")
            if not p.is_file() and task in TASKONOMY_FALLBACK:
                d2, e2 = TASKONOMY_FALLBACK[task]
                tried.append(root / d2 / f"{stem}_domain_{d2}.{e2}")
            p = next((t for t in tried if t.is_file()), None)
            if p is None:
                raise DataNotFoundError(
                    f"TNB101 task {task!r}: no Taskonomy file {' or '.join(map(str, tried))} for image {f} (expected "
                    f"Taskonomy's {domain} domain file for that point and view; Taskonomy data: {TASKONOMY_URL})")
            paths.append(p)
        s = self.input_size
        if task in ("class_object", "class_scene"):
            return torch.from_numpy(np.stack([self._class_vector(task, info, p) for p in paths]))
        if task == "room_layout":
            out = []
            for p in paths:
                if p.suffix == ".json":
                    out.append(room_layout_from_point_info(p).astype(np.float32))
                    continue
                arr = _load_npy(p, "the 9-D room-layout vector of TNB's room_layout domain")
                if arr.shape != (9,) or not np.issubdtype(arr.dtype, np.number):
                    raise DataError(f"{p}: shape {arr.shape}, dtype {arr.dtype}; expected a (9,) float room-layout "
                                    f"vector (Taskonomy data: {TASKONOMY_URL})")
                out.append(arr.astype(np.float32))
            return torch.from_numpy(np.stack(out))
        if task == "segmentsemantic":
            out = []
            for p in paths:
                lab = _read_png(p, "a one-channel PNG of Taskonomy semantic labels 0..17")
                if lab.ndim != 2:
                    raise DataError(f"{p}: a {lab.shape[-1]}-channel image; expected a one-channel PNG of Taskonomy "
                                    f"semantic labels 0..17 (Taskonomy data: {TASKONOMY_URL})")
                lab = lab.astype(np.int64)
                lab[lab == 0] = 1
                lab -= 1
                if lab.min() < 0 or lab.max() >= SEG_CLASSES:
                    raise DataError(f"{p}: labels span {lab.min() + 1}..{lab.max() + 1}; expected Taskonomy semantic "
                                    f"labels 0..{SEG_CLASSES} (Taskonomy data: {TASKONOMY_URL})")
                t = torch.from_numpy(lab)[None, None].float()
                out.append(F.interpolate(t, size=(s, s), mode="nearest-exact")[0, 0].long())
            return torch.stack(out)
        out = []  # normal
        for p in paths:
            img = _read_png(p, "an RGB PNG of surface normals")
            if img.ndim != 3 or img.shape[-1] < 3:
                raise DataError(f"{p}: shape {img.shape}; expected an RGB PNG of surface normals "
                                f"(Taskonomy data: {TASKONOMY_URL})")
            t = torch.from_numpy(np.ascontiguousarray(img[..., :3].transpose(2, 0, 1))).float().div_(255.0)
            out.append(_resize(t[None], s)[0])
        return torch.stack(out).contiguous()

    def _class_vector(self, task: str, info: TaskInfo, path: Path) -> np.ndarray:
        k = info.num_classes
        full = {"class_object": 1000, "class_scene": 365}[task]
        option = f"{task}_selection"
        mask_name = f"{task}_selected.npy"
        arr = _load_npy(path, f"a ({full},) vector of class probabilities")
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.number):
            raise DataError(f"{path}: shape {arr.shape}, dtype {arr.dtype}; expected a ({full},) vector of class "
                            f"probabilities (Taskonomy data: {TASKONOMY_URL})")
        if arr.shape[0] == k:
            return arr.astype(np.float32)
        sel_path = self.class_selection[task]
        if sel_path is None:
            raise DataError(
                f"{path} holds {arr.shape[0]} class probabilities; TNB keeps {k} classes with its 0/1 mask file "
                f"{mask_name}: set space_options.{option} to it (TNB ships it in lib/data/ of "
                f"https://github.com/yawen-d/TransNASBench, NASLib in naslib/data/ of "
                f"https://github.com/automl/NASLib/tree/zerocost)")
        mask = _load_npy(sel_path, f"TNB's 0/1 class mask {mask_name}")
        if mask.shape != arr.shape or int((mask != 0).sum()) != k:
            raise DataError(
                f"{option} {sel_path}: shape {mask.shape} with {int((mask != 0).sum())} ones; expected a 0/1 mask of "
                f"shape {arr.shape} (as {path}) keeping {k} classes, TNB's {mask_name} "
                f"(lib/data/ of https://github.com/yawen-d/TransNASBench)")
        kept = arr[mask.astype(bool)].astype(np.float64)
        return (kept / kept.sum()).astype(np.float32)

    def _jigsaw(self, x: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, unit, tile = self.jigsaw_geometry
        img = _resize(x, image)
        crop = int(round(JIGSAW_CENTERCROP * image))
        top = (image - crop) // 2
        img = _resize(img[:, :, top:top + crop, top:top + crop], image)
        perms = self.permutations()
        g = torch.Generator().manual_seed(derive_seed(seed, "tnb101", "jigsaw"))
        n = img.shape[0]
        labels = torch.randint(0, perms.shape[0], (n,), generator=g)
        span = unit - tile + 1
        if self.jigsaw_offsets == "random":
            offsets = torch.randint(0, span, (n, 9, 2), generator=g)
        else:
            offsets = torch.full((n, 9, 2), (unit - tile) // 2, dtype=torch.int64)
        tiles = img.new_empty((n, 9, 3, tile, tile))
        for b in range(n):
            perm = perms[labels[b]]
            for i in range(9):
                pos = int(perm[i])
                r0 = (pos // 3) * unit + int(offsets[b, i, 0])
                c0 = (pos % 3) * unit + int(offsets[b, i, 1])
                tiles[b, i] = img[b, :, r0:r0 + tile, c0:c0 + tile]
        return tiles, labels

    def _synthetic_targets(self, task: str, info: TaskInfo, n: int, seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(derive_seed(seed, "tnb101", task, "targets"))
        s = self.input_size
        coarse = max(1, s // 16)
        if task in ("class_object", "class_scene"):
            y = torch.softmax(3.0 * torch.randn(n, info.num_classes, generator=g), dim=1)
            what = f"softmax of 3 N(0,1) logits over {info.num_classes} classes"
        elif task == "room_layout":
            y = torch.randn(n, 9, generator=g)
            what = "N(0, 1) 9-D vectors"
        elif task == "segmentsemantic":
            y = torch.randint(0, SEG_CLASSES, (n, 1, coarse, coarse), generator=g).float()
            y = F.interpolate(y, size=(s, s), mode="nearest").squeeze(1).long()
            what = f"16 x 16-pixel blocks of {SEG_CLASSES} uniform classes"
        else:  # normal
            y = torch.rand(n, 3, coarse, coarse, generator=g)
            y = F.interpolate(y, size=(s, s), mode="bilinear", align_corners=False)
            what = "smooth 3-channel maps in [0, 1]"
        # short and the same text for every call of a task, so Python shows it once per task
        warnings.warn(
            f"TNB101 task {task!r}: no Taskonomy targets, so seeded synthetic ones ({what}): loss-based "
            f"proxies score against random targets. Set space_options.targets_path to a folder holding "
            f"{task}.npy or a Taskonomy root", UserWarning, stacklevel=3)
        return y

    def _real_targets(self, task: str, info: TaskInfo, n: int) -> torch.Tensor:
        path = self.targets_path / f"{task}.npy"
        expect = {
            "class_object": f"(M, {info.num_classes}) soft-label distributions",
            "class_scene": f"(M, {info.num_classes}) soft-label distributions",
            "room_layout": "(M, 9) floats",
            "segmentsemantic": f"(M, h, w) integer labels 0..{SEG_CLASSES - 1}",
            "normal": "(M, 3, h, w) or (M, h, w, 3) images, floats in [0, 1] or uint8",
        }[task]
        hint = (f"expected {expect}, one entry per image in the order the data section loads them (pick: first), "
                f"M >= the batch size {n}; Taskonomy data: {TASKONOMY_URL}")
        if not path.is_file():
            raise DataNotFoundError(f"real targets for TNB101 task {task!r}: no file {path} ({hint})")
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DataError(f"{path}: not a readable .npy array ({exc}); {hint}") from None
        if arr.ndim < 1 or arr.shape[0] < n:
            raise DataError(f"{path} holds {arr.shape[0] if arr.ndim else 0} entries, fewer than the batch of {n}; "
                            f"{hint}")
        bad = DataError(f"{path} has shape {arr.shape} and dtype {arr.dtype}; {hint}")
        arr = arr[:n]
        s = self.input_size
        if task in ("class_object", "class_scene", "room_layout"):
            k = info.num_classes
            if arr.ndim != 2 or arr.shape[1] != k or not np.issubdtype(arr.dtype, np.number):
                raise bad
            return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        if task == "segmentsemantic":
            if arr.ndim != 3 or not np.issubdtype(arr.dtype, np.integer):
                raise bad
            if arr.min() < 0 or arr.max() >= SEG_CLASSES:
                raise DataError(f"{path}: labels span {arr.min()}..{arr.max()}, outside 0..{SEG_CLASSES - 1}; {hint}")
            y = torch.from_numpy(arr.astype(np.int64))[:, None].float()
            return F.interpolate(y, size=(s, s), mode="nearest").squeeze(1).long()
        # normal
        if arr.ndim != 4 or 3 not in (arr.shape[1], arr.shape[-1]):
            raise bad
        t = torch.from_numpy(np.ascontiguousarray(arr))
        if arr.shape[1] != 3:
            t = t.permute(0, 3, 1, 2)
        t = t.float() / 255.0 if arr.dtype == np.uint8 else t.float()
        return _resize(t, s).contiguous()


def _euler_sxyz(ax: float, ay: float, az: float) -> np.ndarray:
    """Rotation matrix of static-frame x, y, z Euler angles: Rz(az) @ Ry(ay) @ Rx(ax)."""
    cx, sx, cy, sy, cz, sz = math.cos(ax), math.sin(ax), math.cos(ay), math.sin(ay), math.cos(az), math.sin(az)
    return np.array([[cy * cz, sy * sx * cz - cx * sz, sy * cx * cz + sx * sz],
                     [cy * sz, sy * sx * sz + cx * cz, sy * cx * sz - sx * cz],
                     [-sy, cy * sx, cy * cx]])


def _matrix_euler_sxyz(m: np.ndarray) -> tuple[float, float, float]:
    """Inverse of :func:`_euler_sxyz` (the x, y, z angles of a rotation matrix)."""
    cy = math.hypot(m[0, 0], m[1, 0])
    if cy > 4 * np.finfo(float).eps:
        return math.atan2(m[2, 1], m[2, 2]), math.atan2(-m[2, 0], cy), math.atan2(m[1, 0], m[0, 0])
    return math.atan2(-m[1, 2], m[1, 1]), math.atan2(-m[2, 0], cy), 0.0


def room_layout_from_point_info(path: Path) -> np.ndarray:
    """The 9-D room-layout target of a Taskonomy ``point_info`` json, as TNB's / NASLib's
    ``load_ops.point_info2room_layout`` computes it: the room's bounding box (``bounding_box_ranges``,
    y mirrored) and the camera (``camera_location``, ``camera_rotation_final`` as sxyz Euler
    angles; rows x, y of the pose swapped with y negated) are turned by the multiple of 90 degrees
    about z that points the camera's viewing direction (-z) closest to the world's +x; the vector is
    (box centre in camera coordinates, camera Euler angles, box extents), standardised with
    :data:`ROOM_LAYOUT_MEAN` / :data:`ROOM_LAYOUT_STD`."""
    import json

    what = ("Taskonomy's point_info json with camera_location (3), camera_rotation_final (3 Euler angles) and "
            f"bounding_box_ranges {{x, y, z: [min, max]}} (Taskonomy data: {TASKONOMY_URL})")
    try:
        view = json.loads(path.read_text())
        bbox = view["bounding_box_ranges"]
        ranges = np.array([bbox["x"], -np.array(bbox["y"], dtype=float)[::-1], bbox["z"]], dtype=float)
        loc = np.asarray(view["camera_location"], dtype=float)
        rot = [float(a) for a in view["camera_rotation_final"]]
        if ranges.shape != (3, 2) or loc.shape != (3,) or len(rot) != 3:
            raise ValueError("wrong lengths")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not readable as {what} ({type(exc).__name__}: {exc})") from None
    cam = np.eye(4)
    cam[:3, :3] = _euler_sxyz(*rot)
    cam[:3, 3] = loc
    cam[[0, 1]] = cam[[1, 0]]
    cam[1] = -cam[1]  # TNB: "x and y are flipped in room layout"
    best = None
    for k in range(4):
        a = k * math.pi / 2
        turn = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
        x_in_cam = cam[:3, :3].T @ turn[:, 0]
        deg = math.degrees(math.acos(float(np.clip(-x_in_cam[2], -1.0, 1.0))))
        if best is None or deg < best[0]:
            best = (deg, np.linalg.inv(turn))
    world = np.eye(4)
    world[:3, :3] = best[1]
    ranges = np.sort(world[:3, :3] @ ranges, axis=1)
    cam = world @ cam
    euler = _matrix_euler_sxyz(cam[:3, :3])
    corners = np.array(list(itertools.product(*ranges)))
    corners_cam = (np.c_[corners, np.ones(len(corners))] @ np.linalg.inv(cam).T)[:, :3]
    vec = np.concatenate([corners_cam.mean(0), euler, ranges[:, 1] - ranges[:, 0]])
    return (vec - np.asarray(ROOM_LAYOUT_MEAN)) / np.asarray(ROOM_LAYOUT_STD)


def _load_npy(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise DataNotFoundError(f"no file {path}; expected {what}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: not a readable .npy array ({exc}); expected {what}") from None


def _read_png(path: Path, what: str) -> np.ndarray:
    """The pixel array of an image file as stored (palette indices stay indices)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        raise DataError("reading Taskonomy PNG targets needs Pillow: pip install pillow") from None
    try:
        with Image.open(path) as im:
            return np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable image ({type(exc).__name__}: {exc}); expected {what}") from None


@functools.lru_cache(maxsize=4)
def _permutations(path: str | None, mtime_ns: int) -> torch.Tensor:
    if path is None:
        rng = random.Random(derive_seed("tnb101", "jigsaw permutations"))
        seen: dict[tuple[int, ...], None] = {}
        base = list(range(9))
        while len(seen) < JIGSAW_CLASSES:
            p = base[:]
            rng.shuffle(p)
            seen.setdefault(tuple(p), None)
        return torch.tensor(list(seen), dtype=torch.int64)
    p = Path(path)
    what = ("a .npy array of shape (P, 9) whose rows are permutations of 0..8 (1-based 1..9 are accepted), "
            "such as TNB's permutations_hamming_max_1000.npy (https://github.com/yawen-d/TransNASBench, lib/data)")
    if not p.is_file():
        raise DataNotFoundError(f"jigsaw permutations: no file {p}; expected {what}")
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"jigsaw permutations {p}: not a readable .npy array ({exc}); expected {what}") from None
    if arr.ndim != 2 or arr.shape[1] != 9 or not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"jigsaw permutations {p}: shape {arr.shape}, dtype {arr.dtype}; expected {what}")
    arr = arr.astype(np.int64)
    if arr.min() == 1:
        arr = arr - 1
    if not all(sorted(row) == list(range(9)) for row in arr.tolist()):
        raise DataError(f"jigsaw permutations {p}: a row is not a permutation of 0..8; expected {what}")
    return torch.from_numpy(arr)

