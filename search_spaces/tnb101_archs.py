"""TransNAS-Bench-101 architectures, their strings and the benchmark's tasks (the space
classes are in :mod:`search_spaces.tnb101`).

Architectures and strings
-------------------------
* ``tnb101_micro``: :class:`MicroArch`, ``str()`` ``64-41414-a_bc_def``. The macro skeleton
  "41414" is fixed (5 modules x 2 cells; module digit 4 = stride 2 and double the channels,
  1 = keep). The cell has nodes 0..3: node 1 = a(node 0); node 2 = b(node 0) + c(node 1);
  node 3 = d(node 0) + e(node 1) + f(node 2), the output. Op digits follow the TNB/Taskonomy
  convention (not NASLib's NB201 one): 0 = Zero, 1 = skip (Identity, or FactorizedReduce when the edge
  changes stride or channels), 2 = ReLU-Conv1x1-BN, 3 = ReLU-Conv3x3-BN. Stride and channel
  changes happen only on edges leaving node 0. NASLib's ``OP_NAMES`` / ``is_valid_arch`` use
  the NB201 convention (0 = Identity) and belong to its ``create_graph=True`` path only; they
  are not used here. The space holds all 4^6 = 4096 cells.
* ``tnb101_macro``: :class:`MacroArch`, ``str()`` ``64-{digits}-basic`` with 4 to 6 module
  digits: 1 = keep, 2 = double the channels, 3 = stride 2, 4 = stride 2 and double. Each module
  is 2 ResNet basic blocks. The benchmark holds exactly the skeletons with 1..4 stride-2
  modules and 1..3 channel doublings (NASLib's macro sampler draws r in 0..2, p in 1..4,
  q in 1..3: length r + 4, p downsamples, q doublings): 210 + 750 + 2296 = 3256 archs.
  Strings outside that set are refused (:class:`ArchParseError`).
* NAS-Bench-Suite-Zero keys (``zc_transbench101_{micro,macro}.json``): micro
  ``"(a, b, c, d, e, f)"`` (the TNB digits themselves), macro the digit tuple *unpadded*,
  ``"(3, 3, 2, 3, 3)"``; NASLib's sampler pads macro tuples with zeros to length 6, and
  :meth:`TNB101MacroSpace.from_zc_key` accepts such trailing zeros.

"""
from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from search_spaces.base import ArchParseError, TaskInfo

#: Op digits of the micro cell, TNB/Taskonomy convention (not NASLib's OP_NAMES).
OP_NAMES: tuple[str, ...] = ("zero", "skip", "conv1x1", "conv3x3")
MICRO_SKELETON = "41414"
BASE_CHANNELS = 64
#: (target node, source node) of the 6 micro edges in string order a, b, c, d, e, f.
MICRO_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
MACRO_LENGTHS = (4, 5, 6)
MACRO_DIGITS = (1, 2, 3, 4)
MAX_DOWNSAMPLES, MAX_DOUBLINGS = 4, 3

TASKS: tuple[str, ...] = ("class_scene", "class_object", "room_layout", "jigsaw", "segmentsemantic",
                          "normal", "autoencoder")
JIGSAW_CLASSES = 1000
SEG_CLASSES = 17

TNB_URL = ("https://www.noahlab.com.hk/opensource/vega/page/doc.html?path=datasets/transnasbench101 "
           "(transnas-bench_v10141024.pth; also linked from https://github.com/yawen-d/TransNASBench)")
TASKONOMY_URL = "https://github.com/StanfordVL/taskonomy/tree/master/data"

_MICRO_FORM = "64-41414-a_bc_def (digits 0 = zero, 1 = skip, 2 = conv1x1, 3 = conv3x3)"
_MACRO_FORM = "64-<4 to 6 digits in 1..4>-basic (1 = keep, 2 = double channels, 3 = stride 2, 4 = both)"


# ============================================================================ architectures


def _digit(v: Any) -> int | None:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        return None
    return int(v)


@dataclass(frozen=True)
class MicroArch:
    """One TNB micro cell: the 6 op digits (a, b, c, d, e, f), TNB convention (0 = zero,
    1 = skip, 2 = conv1x1, 3 = conv3x3); ``str()`` is ``64-41414-a_bc_def``."""

    ops: tuple[int, ...]

    def __post_init__(self):
        ops = tuple(self.ops)
        if len(ops) != 6:
            raise ArchParseError(f"a TNB micro cell has 6 edges (a_bc_def), got {len(ops)} digits: {ops!r}")
        for k, v in enumerate(ops):
            d = _digit(v)
            if d is None or not 0 <= d <= 3:
                raise ArchParseError(f"op digit {v!r} of edge {'abcdef'[k]} is not an integer 0..3 "
                                 "(0 = zero, 1 = skip, 2 = conv1x1, 3 = conv3x3)")
        object.__setattr__(self, "ops", tuple(int(v) for v in ops))

    def __str__(self) -> str:
        a, b, c, d, e, f = self.ops
        return f"{BASE_CHANNELS}-{MICRO_SKELETON}-{a}_{b}{c}_{d}{e}{f}"

    @property
    def cell_code(self) -> tuple[str, ...]:
        """TNB's ``micro_code``: ('', 'a', 'bc', 'def'), one string of input ops per node."""
        a, b, c, d, e, f = map(str, self.ops)
        return ("", a, b + c, d + e + f)


def macro_valid(modules: tuple[int, ...]) -> str:
    """Why ``modules`` is not a TransNAS-Bench-101 macro skeleton ("" when it is one)."""
    if len(modules) not in MACRO_LENGTHS:
        return f"it has {len(modules)} modules; the benchmark's skeletons have 4 to 6"
    bad = [m for m in modules if m not in MACRO_DIGITS]
    if bad:
        return f"module digit {bad[0]!r} is not in 1..4"
    down = sum(m > 2 for m in modules)
    double = sum(m % 2 == 0 for m in modules)
    if not 1 <= down <= MAX_DOWNSAMPLES:
        return f"it has {down} stride-2 modules (digits 3, 4); the benchmark's skeletons have 1 to {MAX_DOWNSAMPLES}"
    if not 1 <= double <= MAX_DOUBLINGS:
        return (f"it has {double} channel-doubling modules (digits 2, 4); the benchmark's skeletons have "
                f"1 to {MAX_DOUBLINGS}")
    return ""


@dataclass(frozen=True)
class MacroArch:
    """One TNB macro skeleton: 4 to 6 module digits (1 keep, 2 double channels, 3 stride 2,
    4 both) with 1..4 downsamples and 1..3 doublings; ``str()`` is ``64-<digits>-basic``."""

    modules: tuple[int, ...]

    def __post_init__(self):
        mods = tuple(self.modules)
        if any(_digit(m) is None for m in mods):
            raise ArchParseError(f"macro module digits must be integers 1..4, got {mods!r}")
        mods = tuple(int(m) for m in mods)
        why = macro_valid(mods)
        if why:
            raise ArchParseError(f"{mods!r} is not a TransNAS-Bench-101 macro skeleton: {why}")
        object.__setattr__(self, "modules", mods)

    def __str__(self) -> str:
        return f"{BASE_CHANNELS}-{''.join(map(str, self.modules))}-basic"


@functools.lru_cache(maxsize=1)
def micro_archs() -> tuple[MicroArch, ...]:
    """All 4096 micro cells in lexicographic digit order (NASLib's ``get_arch_iterator``)."""
    return tuple(MicroArch(t) for t in itertools.product(range(4), repeat=6))


@functools.lru_cache(maxsize=1)
def macro_archs() -> tuple[MacroArch, ...]:
    """All 3256 macro skeletons: by length 4, 5, 6, then lexicographic digit order."""
    return tuple(MacroArch(t) for n in MACRO_LENGTHS for t in itertools.product(MACRO_DIGITS, repeat=n)
                 if not macro_valid(t))


_MICRO_RE = re.compile(r"(\d+)-(\d+)-([^-]*)")
_CELL_RE = re.compile(r"(\d)_(\d\d)_(\d\d\d)")


def _check_text(text, what: str, form: str) -> str:
    if not isinstance(text, str):
        raise ArchParseError(f"a {what} architecture string must be a str, got {type(text).__name__}")
    s = text.strip()
    if not s:
        raise ArchParseError(f"empty {what} architecture string; expected {form}")
    return s


def _check_base(base: str, s: str, form: str) -> None:
    if int(base) != BASE_CHANNELS:
        raise ArchParseError(
            f"base channel count {base} in {s!r}: TransNAS-Bench-101 architectures all start with "
            f"{BASE_CHANNELS} (expected {form}); build narrower networks with the space option base_channels")


def parse_micro(text) -> MicroArch:
    """``64-41414-a_bc_def`` -> :class:`MicroArch`; :class:`ArchParseError` naming the bad part."""
    s = _check_text(text, "TNB101 micro", _MICRO_FORM)
    if s.endswith("-basic"):
        raise ArchParseError(f"{s!r} is a macro architecture (…-basic); use the space tnb101_macro, "
                             f"or write a micro one as {_MICRO_FORM}")
    m = _MICRO_RE.fullmatch(s)
    if not m:
        raise ArchParseError(f"{s!r} is not a TNB101 micro architecture; expected {_MICRO_FORM}")
    base, skeleton, cell = m.groups()
    _check_base(base, s, _MICRO_FORM)
    if skeleton != MICRO_SKELETON:
        raise ArchParseError(f"macro skeleton {skeleton!r} in {s!r}: the micro space fixes it to "
                             f"{MICRO_SKELETON!r} (expected {_MICRO_FORM})")
    c = _CELL_RE.fullmatch(cell)
    if not c:
        raise ArchParseError(f"cell code {cell!r} in {s!r} must be a_bc_def: 1, 2 and 3 digits joined by '_' "
                             f"(expected {_MICRO_FORM})")
    digits = "".join(c.groups())
    for k, ch in enumerate(digits):
        if ch not in "0123":
            j, i = MICRO_EDGES[k]
            raise ArchParseError(f"op digit {ch!r} of edge {'abcdef'[k]} (node {j} <- node {i}) in {s!r} is not "
                                 "0..3 (0 = zero, 1 = skip, 2 = conv1x1, 3 = conv3x3)")
    return MicroArch(tuple(int(ch) for ch in digits))


def parse_macro(text) -> MacroArch:
    """``64-<digits>-basic`` -> :class:`MacroArch`; :class:`ArchParseError` naming the bad part."""
    s = _check_text(text, "TNB101 macro", _MACRO_FORM)
    parts = s.split("-")
    if len(parts) != 3 or parts[2] != "basic":
        if len(parts) == 3 and parts[1] == MICRO_SKELETON and "_" in parts[2]:
            raise ArchParseError(f"{s!r} is a micro architecture (64-41414-a_bc_def); use the space tnb101_micro, "
                                 f"or write a macro one as {_MACRO_FORM}")
        raise ArchParseError(f"{s!r} is not a TNB101 macro architecture; expected {_MACRO_FORM}")
    base, digits, _ = parts
    if not base.isdigit():
        raise ArchParseError(f"base channel count {base!r} in {s!r} is not an integer (expected {_MACRO_FORM})")
    _check_base(base, s, _MACRO_FORM)
    if not digits.isdigit():
        raise ArchParseError(f"module digits {digits!r} in {s!r} are not digits (expected {_MACRO_FORM})")
    mods = tuple(int(ch) for ch in digits)
    why = macro_valid(mods)
    if why:
        raise ArchParseError(f"{s!r} is not in TransNAS-Bench-101's macro space: {why} (expected {_MACRO_FORM})")
    return MacroArch(mods)


# ============================================================================ tasks

_TASK_DOC = {
    # name: (num_classes / output size, loss, metric (NB-Suite-Zero's, per task), target kind)
    "class_scene": (63, "soft_cross_entropy", "valid_top1", "soft_label"),
    "class_object": (100, "soft_cross_entropy", "valid_top1", "soft_label"),
    "room_layout": (9, "mse", "valid_neg_loss", "vector"),
    "jigsaw": (JIGSAW_CLASSES, "cross_entropy", "valid_top1", "label"),
    "segmentsemantic": (SEG_CLASSES, "cross_entropy", "valid_acc", "pixel_label"),
    "normal": (3, "l1", "valid_ssim", "image"),
    "autoencoder": (3, "l1", "valid_ssim", "image"),
}


def task_infos(input_size: int = 256) -> dict[str, TaskInfo]:
    """TaskInfo per task for ``input_size`` inputs (jigsaw: the (S-1)^2 image its tiles come from)."""
    out = {}
    for name in TASKS:
        k, loss, metric, target = _TASK_DOC[name]
        s = input_size - 1 if name == "jigsaw" else input_size
        out[name] = TaskInfo(name, k, (3, s, s), loss, metric, target)
    return out


#: The metric of each task in the benchmark file (NASLib's VAL_ACCURACY).
TASK_METRIC: dict[str, str] = {t: v[2] for t, v in _TASK_DOC.items()}

