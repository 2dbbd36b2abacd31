"""TransNAS-Bench-101 (Duan et al., CVPR 2021): the micro (cell) and macro (skeleton) spaces
on the seven Taskonomy tasks, as the benchmark's own model code builds them and as
NAS-Bench-Suite-Zero scores them through NASLib.

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

Networks (``build``)
--------------------
Encoder = TNB's ``MacroNet(structure="backbone")``: stem Conv3x3 s2 (3 -> C/2) + BN, then
ReLU-Conv3x3 s2 (C/2 -> C) + BN; then the modules; Kaiming-normal (fan_out) init of the
encoder's convs, BN weight 1, bias 0 (decoders keep PyTorch's default init). For 256 x 256
inputs and C = 64 the micro encoder gives 512 x 8 x 8 features. Decoders per task:

==================  ======================================================  =================
task                decoder                                                 output
==================  ======================================================  =================
class_object        FFDecoder: GAP + Linear                                 100 (soft labels)
class_scene         FFDecoder: GAP + Linear                                 63 (soft labels)
room_layout         FFDecoder: GAP + Linear                                 9 (regression)
jigsaw              SiameseNet: encoder on each of 9 tiles, channel concat,  1000 permutations
                    GAP + Linear(9 C_enc, 1000)
segmentsemantic     SegmentationDecoder: Conv/Deconv, LeakyReLU(0.2) + BN,   17 x H x W
                    last Conv3x3 -> 17
autoencoder/normal  GAN: forward = GenerativeDecoder(encoder(x)), 14        3 x H x W
                    Conv/Deconv layers, LeakyReLU(0.2) + BN, Conv + Tanh
==================  ======================================================  =================

QUIRK (``discriminator=True``, TNB's ``GAN``): the autoencoder/normal network also holds the
pix2pix Discriminator (spectrally normalised convs, 5.17 M parameters) that its forward never
runs, so counts over all parameters (``params`` with ``counter: all``, ``num_params``) and
``l2_norm`` include it, as NASLib's l2_norm does for the module it scores; NB-Suite-Zero's
``params`` (tensorwatch: only modules that run; zcbench's default ``counter: naslib``) does not.
``discriminator=False`` leaves it out.

The dense decoders upsample by 2^k with k = log2(output size / feature size), as TNB computes
it (TNB derives the feature size from a nominal 224 input; for 256 inputs this gives the same
k for every architecture of both spaces). ``input_size`` must be a power of two >= 32.

Inputs and targets (``task_batch``)
-----------------------------------
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
import pickle
import random
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Hashable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from search_spaces import plain_pickle
from search_spaces.base import ArchParseError, SearchSpace, TaskInfo, derive_seed, parse_tuple_key, register_space
from search_spaces.ground_truth import GroundTruth, GroundTruthError, register_format

__all__ = [
    "OP_NAMES",
    "MICRO_SKELETON",
    "TASKS",
    "TASKONOMY_DOMAINS",
    "room_layout_from_point_info",
    "MicroArch",
    "MacroArch",
    "macro_valid",
    "micro_archs",
    "macro_archs",
    "MacroNet",
    "MicroCell",
    "BasicBlock",
    "FFDecoder",
    "SiameseDecoder",
    "SiameseNet",
    "SegmentationDecoder",
    "GenerativeDecoder",
    "Discriminator",
    "TNB101MicroSpace",
    "TNB101MacroSpace",
    "read_tnb101_pth",
]

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
JIGSAW_CENTERCROP = 0.9

TNB_URL = ("https://www.noahlab.com.hk/opensource/vega/page/doc.html?path=datasets/transnasbench101 "
           "(transnas-bench_v10141024.pth; also linked from https://github.com/yawen-d/TransNASBench)")
TASKONOMY_URL = "https://github.com/StanfordVL/taskonomy/tree/master/data"

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
            raise ValueError(f"a TNB micro cell has 6 edges (a_bc_def), got {len(ops)} digits: {ops!r}")
        for k, v in enumerate(ops):
            d = _digit(v)
            if d is None or not 0 <= d <= 3:
                raise ValueError(f"op digit {v!r} of edge {'abcdef'[k]} is not an integer 0..3 "
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
            raise ValueError(f"macro module digits must be integers 1..4, got {mods!r}")
        mods = tuple(int(m) for m in mods)
        why = macro_valid(mods)
        if why:
            raise ValueError(f"{mods!r} is not a TransNAS-Bench-101 macro skeleton: {why}")
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


# ============================================================================ network modules


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv(k, stride, pad, no bias) -> BN (TNB's ``ReLUConvBN``), as one Sequential."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=True, track_running_stats=True),
        )


class Zero(nn.Module):
    """The zero op: ``x * 0`` (strided) when channels are kept, else fresh zeros of the output
    shape (TNB's ``Zero``; the product keeps the output attached to the input's graph)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        if self.c_in == self.c_out:
            return (x if s == 1 else x[:, :, ::s, ::s]).mul(0.0)
        n, _, h, w = x.shape
        return x.new_zeros((n, self.c_out, -(-h // s), -(-w // s)))

    def extra_repr(self) -> str:
        return f"C_in={self.c_in}, C_out={self.c_out}, stride={self.stride}"


class FactorizedReduce(nn.Module):
    """ReLU, then two 1x1 stride-s convs (C_out/2 each), the second on the input shifted by one
    pixel (zero padded right/bottom), concatenated, BN (TNB's ``FactorizedReduce``)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.convs = nn.ModuleList(nn.Conv2d(c_in, c_out // 2, 1, stride=stride, padding=0, bias=False)
                                   for _ in range(2))
        self.pad = nn.ConstantPad2d((0, 1, 0, 1), 0.0)
        self.bn = nn.BatchNorm2d(c_out, affine=True, track_running_stats=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = self.pad(x)[:, :, 1:, 1:]
        return self.bn(torch.cat([self.convs[0](x), self.convs[1](shifted)], dim=1))


def micro_op(digit: int, c_in: int, c_out: int, stride: int) -> nn.Module:
    """The module of op ``digit`` (TNB convention) on an edge c_in -> c_out with ``stride``."""
    if digit == 0:
        return Zero(c_in, c_out, stride)
    if digit == 1:
        return nn.Identity() if stride == 1 and c_in == c_out else FactorizedReduce(c_in, c_out, stride)
    if digit == 2:
        return ReLUConvBN(c_in, c_out, 1, stride, 0)
    if digit == 3:
        return ReLUConvBN(c_in, c_out, 3, stride, 1)
    raise ValueError(f"op digit {digit!r} is not 0..3")


class MicroCell(nn.Module):
    """Nodes 0..3; node j = Σ_{i<j} op_{j<-i}(node i) (edges a; b, c; d, e, f); returns node 3.
    Only edges leaving node 0 change stride or channels. ``edges`` are in string order."""

    expansion = 1

    def __init__(self, arch: MicroArch, c_in: int, c_out: int, stride: int):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.c_in, self.c_out, self.stride = c_in, c_out, stride
        self.edges = nn.ModuleList(
            micro_op(d, c_in, c_out, stride) if i == 0 else micro_op(d, c_out, c_out, 1)
            for d, (_, i) in zip(arch.ops, MICRO_EDGES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        k = 0
        for j in (1, 2, 3):
            outs = []
            for i in range(j):
                outs.append(self.edges[k](nodes[i]))
                k += 1
            nodes.append(_node_sum(outs))
        return nodes[3]

    def extra_repr(self) -> str:
        return f"C_in={self.c_in}, C_out={self.c_out}, stride={self.stride}"


def _node_sum(outs: list[torch.Tensor]) -> torch.Tensor:
    """TNB's ``torch.stack(inputs).sum(0)`` (a fresh tensor also for a single input)."""
    return torch.stack(outs).sum(0)


class BasicBlock(nn.Module):
    """ResNet basic block of the macro space: ReLU-Conv3x3-BN (stride) -> ReLU-Conv3x3-BN, plus
    the input, through Conv1x1 (stride) + BN when the shape changes."""

    expansion = 1

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, padding=0, bias=False),
                nn.BatchNorm2d(c_out, affine=True, track_running_stats=True),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return residual + self.conv_b(self.conv_a(x))


class MacroNet(nn.Module):
    """TNB's encoder (``MacroNet(structure='backbone')``): stem (Conv3x3 s2 -> C/2 + BN,
    ReLU-Conv3x3 s2 -> C + BN), then per module digit two cells (the first with the module's
    stride and channel change), Kaiming-normal fan_out init. ``out_channels``/``strides``
    describe the output feature map."""

    def __init__(self, arch: MicroArch | MacroArch, base_channels: int = BASE_CHANNELS):
        super().__init__()
        if base_channels < 2 or base_channels % 2:
            raise ValueError(f"base_channels must be an even integer >= 2, got {base_channels}")
        self.stem = nn.Sequential(
            nn.Conv2d(3, base_channels // 2, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(base_channels // 2, affine=True, track_running_stats=True),
            ReLUConvBN(base_channels // 2, base_channels, 3, 2, 1),
        )
        if isinstance(arch, MicroArch):
            skeleton = tuple(int(ch) for ch in MICRO_SKELETON)
            make = functools.partial(MicroCell, arch)
        else:
            skeleton = arch.modules
            make = BasicBlock
        c = base_channels
        self.layers: list[str] = []
        self.strides = 4  # total downsampling factor of the stem
        for k, digit in enumerate(skeleton):
            c_out = 2 * c if digit % 2 == 0 else c
            stride = 2 if digit > 2 else 1
            self.add_module(f"layer{k}", nn.Sequential(make(c, c_out, stride), make(c_out, c_out, 1)))
            self.layers.append(f"layer{k}")
            self.strides *= stride
            c = c_out
        self.out_channels = c
        self._kaiming_init()

    def feature_size(self, input_size: int) -> int:
        """Spatial size of the output features for ``input_size`` inputs (each stride-2 layer
        maps h to ceil(h / 2))."""
        h = input_size
        for _ in range(int(round(math.log2(self.strides)))):
            h = -(-h // 2)
        return h

    def _kaiming_init(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for name in self.layers:
            x = getattr(self, name)(x)
        return x

    def cell_modules(self) -> list[nn.Module]:
        """The modules whose outputs are the per-cell features (AZ-NAS): the stem, then the
        two cells (micro) or residual blocks (macro) of every module."""
        return [self.stem, *(cell for name in self.layers for cell in getattr(self, name))]


class FFDecoder(nn.Module):
    """Classification / regression head: global average pool + Linear."""

    def __init__(self, c_in: int, out: int):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c_in, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(x), 1))


class SiameseDecoder(FFDecoder):
    """Jigsaw head: global average pool of the 9 concatenated tile features + Linear(9 C, 1000)."""

    def __init__(self, c_in: int, out: int, pieces: int = 9):
        super().__init__(c_in * pieces, out)


class SiameseNet(nn.Module):
    """Jigsaw: the encoder on each of the 9 tiles of (N, 9, 3, h, w) in turn (hooks fire 9 times
    per forward), features concatenated on channels, then the decoder."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(f"the jigsaw network takes a 5-D batch of 9 tiles (N, 9, 3, h, w) as "
                             f"space.task_batch('jigsaw', ...) builds it, got shape {tuple(x.shape)}; it cannot run "
                             "on plain 4-D images")
        feats = [self.encoder(x[:, i]) for i in range(x.shape[1])]
        return self.decoder(torch.cat(feats, dim=1))

    def zen_feature_module(self) -> nn.Module:
        """The module whose input is the feature map NASLib's zen reads: the global pool."""
        return self.decoder.avgpool

    def cell_modules(self) -> list[nn.Module]:
        """The encoder's per-cell feature modules (AZ-NAS)."""
        return self.encoder.cell_modules()


class EncoderDecoder(nn.Module):
    """``decoder(encoder(x))``: TNB's FeedForwardNet and Segmentation."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def zen_feature_module(self) -> nn.Module:
        """The module whose input is the feature map NASLib's zen reads
        (``forward_before_global_avg_pool``): the global pool of a classification head, the last
        conv of the segmentation decoder (``decoder.model[-1]``)."""
        dec = self.decoder
        return dec.model[-1] if isinstance(dec, SegmentationDecoder) else dec.avgpool

    def cell_modules(self) -> list[nn.Module]:
        """The encoder's per-cell feature modules (AZ-NAS)."""
        return self.encoder.cell_modules()


class ConvLayer(nn.Module):
    """Conv (with bias) -> optional BN -> optional activation (TNB's ``ConvLayer``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int,
                 activation: nn.Module | None, norm: bool):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding)
        self.norm = nn.BatchNorm2d(c_out) if norm else None
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        return x if self.activation is None else self.activation(x)


class DeconvLayer(nn.Module):
    """ConvTranspose 3x3 stride 2 (pad 1, output_padding 1: doubles h, w) -> BN -> activation."""

    def __init__(self, c_in: int, c_out: int, activation: nn.Module | None):
        super().__init__()
        self.conv = nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1)
        self.norm = nn.BatchNorm2d(c_out)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(x))
        return x if self.activation is None else self.activation(x)


def _leaky() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=False)


def num_upsample(feature_size: int, out_size: int) -> int:
    """k with feature_size * 2^k = out_size, 2 <= k <= 6 (TNB's decoders assert that range)."""
    ratio = out_size / feature_size
    k = int(round(math.log2(ratio))) if ratio > 0 else -1
    if 2 ** k != ratio or not 2 <= k <= 6:
        raise ValueError(f"the dense decoders upsample {feature_size}x{feature_size} features by 2^k with k in 2..6, "
                         f"which cannot give {out_size}x{out_size} outputs; use an input_size that is a power of two "
                         ">= 32 (the benchmark's is 256)")
    return k


class SegmentationDecoder(nn.Module):
    """TNB's segmentation decoder: Conv3x3 -> W (W = ``width``, 1024 in TNB), 6 - k halving
    Conv3x3 layers, k - 1 halving Deconvs, one Deconv keeping channels (all LeakyReLU(0.2) + BN),
    and a last Conv3x3 (with bias, no BN, no activation) to ``classes`` channels; k upsamplings
    take ``feature_size`` to ``out_size``."""

    def __init__(self, c_in: int, feature_size: int, out_size: int, classes: int = SEG_CLASSES,
                 width: int = 1024):
        super().__init__()
        k = num_upsample(feature_size, out_size)
        layers: list[nn.Module] = [ConvLayer(c_in, width, 3, 1, 1, _leaky(), True)]
        c = width
        for _ in range(6 - k):
            layers.append(ConvLayer(c, c // 2, 3, 1, 1, _leaky(), True))
            c //= 2
        for _ in range(k - 1):
            layers.append(DeconvLayer(c, c // 2, _leaky()))
            c //= 2
        layers.append(DeconvLayer(c, c, _leaky()))
        layers.append(ConvLayer(c, classes, 3, 1, 1, None, False))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class GenerativeDecoder(nn.Module):
    """TNB's pix2pix decoder: 14 layers ``conv1``..``conv14``, LeakyReLU(0.2) + BN, widths
    W, W, W/2, W/2, W/4, W/8, W/16, W/16, W/32, W/32, W/64, W/32, W/64 (W = ``width``, 1024 in
    TNB); layers 3, 5, 7, 9 are stride-2 Deconvs when k >= 6, 5, 4, 3 (else Conv3x3), layers 11
    and 13 always are; ``conv14`` is Conv3x3 -> ``channels`` + Tanh."""

    def __init__(self, c_in: int, feature_size: int, out_size: int, channels: int = 3, width: int = 1024):
        super().__init__()
        k = num_upsample(feature_size, out_size)
        w = width

        def conv(a, b):
            return ConvLayer(a, b, 3, 1, 1, _leaky(), True)

        def maybe_up(a, b, up):
            return DeconvLayer(a, b, _leaky()) if up else conv(a, b)

        self.conv1 = conv(c_in, w)
        self.conv2 = conv(w, w)
        self.conv3 = maybe_up(w, w // 2, k >= 6)
        self.conv4 = conv(w // 2, w // 2)
        self.conv5 = maybe_up(w // 2, w // 4, k >= 5)
        self.conv6 = conv(w // 4, w // 8)
        self.conv7 = maybe_up(w // 8, w // 16, k >= 4)
        self.conv8 = conv(w // 16, w // 16)
        self.conv9 = maybe_up(w // 16, w // 32, k >= 3)
        self.conv10 = conv(w // 32, w // 32)
        self.conv11 = DeconvLayer(w // 32, w // 64, _leaky())
        self.conv12 = conv(w // 64, w // 32)
        self.conv13 = DeconvLayer(w // 32, w // 64, _leaky())
        self.conv14 = ConvLayer(w // 64, channels, 3, 1, 1, nn.Tanh(), False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k in range(1, 15):
            x = getattr(self, f"conv{k}")(x)
        return x


class Discriminator(nn.Module):
    """TNB's pix2pix discriminator, held by the GAN but never run by its forward: convs
    6 -> 64 -> 128 -> 256 (5x5, stride 4), 256 -> 256 -> 512 -> 512 (3x3), -> 1, LeakyReLU(0.2)
    between them (channels scaled by ``width`` / 1024 with the decoder width).

    TNB wraps each conv in ``spectral_norm``; since the module never runs, zcbench stores the
    weights spectrally normalised once at init (W / σ_max(W), exact; spectral_norm estimates σ by
    one power iteration) as plain parameters: the same parameter count and about the same weight
    norms, without spectral_norm's forward hooks and power-iteration
    buffers (which would make the unused weights non-leaf tensors for proxies that differentiate
    every Conv weight). Its global average pool is a ``mean``, not a module, so proxies that hook
    pooling modules never see it."""

    def __init__(self, width: int = 1024):
        super().__init__()
        c = [max(1, width * k // 1024) for k in (64, 128, 256, 256, 512, 512)]
        spec = [(6, c[0], 5, 4, 2), (c[0], c[1], 5, 4, 2), (c[1], c[2], 5, 4, 2), (c[2], c[3], 3, 1, 1),
                (c[3], c[4], 3, 1, 1), (c[4], c[5], 3, 1, 1)]
        for k, (a, b, ker, s, p) in enumerate(spec, start=1):
            self.add_module(f"conv{k}", ConvLayer(a, b, ker, s, p, _leaky(), False))
        self.conv7 = ConvLayer(c[5], 1, 3, 1, 1, None, False)
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    m.weight.div_(torch.linalg.matrix_norm(m.weight.reshape(m.weight.shape[0], -1), ord=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k in range(1, 8):
            x = getattr(self, f"conv{k}")(x)
        return x.mean(dim=(2, 3)).flatten()


class GAN(nn.Module):
    """autoencoder / normal: ``forward = decoder(encoder(x))``; the discriminator (optional)
    is held for parameter counts only, as in TNB's ``GAN``."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, discriminator: nn.Module | None):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.discriminator = discriminator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def zen_feature_module(self) -> nn.Module:
        """The module whose input is the feature map NASLib's zen reads: ``decoder.conv14``."""
        return self.decoder.conv14

    def cell_modules(self) -> list[nn.Module]:
        """The encoder's per-cell feature modules (AZ-NAS)."""
        return self.encoder.cell_modules()


# ============================================================================ the spaces

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


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if tuple(x.shape[-2:]) == (size, size):
        return x
    shrink = x.shape[-2] > size or x.shape[-1] > size
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)


class TNB101Space(SearchSpace):
    """Shared code of the two TNB101 spaces (options and tasks; see the module docstring).

    Options: ``base_channels`` (64), ``input_size`` (256; a power of two >= 32; jigsaw images
    are input_size - 1 and tiles input_size / 4), ``decoder_width`` (1024: the first width of
    the dense decoders, a multiple of 64), ``discriminator`` (True: QUIRK, TNB's GAN holds it),
    ``targets_path`` (None, or a folder of ``<task>.npy`` real targets), ``jigsaw_permutations``
    (None, or a ``.npy`` of (P, 9) permutations, e.g. TNB's permutations_hamming_max_1000.npy),
    ``jigsaw_offsets`` ("random": seeded random tile crops as TNB; "center").
    """

    tasks = task_infos(256)
    small_options = {"base_channels": 8, "input_size": 32, "decoder_width": 64}
    small_input_size = 32

    def __init__(self, base_channels: int = BASE_CHANNELS, input_size: int = 256, decoder_width: int = 1024,
                 discriminator: bool = True, targets_path: str | None = None,
                 jigsaw_permutations: str | None = None, jigsaw_offsets: str = "random",
                 class_object_selection: str | None = None, class_scene_selection: str | None = None):
        for name, v in (("base_channels", base_channels), ("input_size", input_size),
                        ("decoder_width", decoder_width)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"TNB101 option {name} must be a positive int, got {v!r}")
        if base_channels % 2:
            raise ValueError(f"TNB101 option base_channels must be even (FactorizedReduce splits channels in two), "
                             f"got {base_channels}")
        if not _is_pow2(input_size) or input_size < 32:
            raise ValueError(f"TNB101 option input_size must be a power of two >= 32 (the benchmark's is 256), "
                             f"got {input_size}")
        if decoder_width % 64:
            raise ValueError(f"TNB101 option decoder_width must be a multiple of 64 (the decoders halve it 6 "
                             f"times; TNB's is 1024), got {decoder_width}")
        if not isinstance(discriminator, bool):
            raise ValueError(f"TNB101 option discriminator must be true or false, got {discriminator!r}")
        if jigsaw_offsets not in ("random", "center"):
            raise ValueError(f"TNB101 option jigsaw_offsets must be 'random' or 'center', got {jigsaw_offsets!r}")
        self.base_channels = base_channels
        self.input_size = input_size
        self.decoder_width = decoder_width
        self.discriminator = discriminator
        self.targets_path = None if targets_path is None else Path(os.path.expanduser(str(targets_path)))
        self.jigsaw_permutations = jigsaw_permutations
        self.jigsaw_offsets = jigsaw_offsets
        self.class_selection = {
            task: None if sel is None else Path(os.path.expanduser(str(sel)))
            for task, sel in (("class_object", class_object_selection), ("class_scene", class_scene_selection))
        }
        if input_size != 256:
            self.tasks = task_infos(input_size)
        if self.targets_path is not None and not self.targets_path.is_dir():
            raise ValueError(
                f"TNB101 option targets_path {str(self.targets_path)!r} is not a folder; it must hold one "
                f"<task>.npy per task with real targets, or Taskonomy's domain folders (class_object/, "
                f"normal/, ...; see TNB101Space.task_batch; Taskonomy: {TASKONOMY_URL})")

    # ---- the verbs every space has ------------------------------------------------------
    def all_archs(self) -> tuple:
        raise NotImplementedError

    def _arch(self, arch) -> Hashable:
        raise NotImplementedError

    def sample(self, n: int, seed) -> list:
        """``n`` distinct architectures, uniformly with ``random.Random(seed)``."""
        archs = self.all_archs()
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(archs):
            raise ValueError(f"can sample 1..{len(archs)} distinct {self.name} architectures, asked for {n!r}")
        return [archs[k] for k in random.Random(seed).sample(range(len(archs)), n)]

    def build(self, arch, task: str) -> nn.Module:
        """The TNB network of ``arch`` for ``task`` (encoder + the task's decoder)."""
        arch = self._arch(arch)
        self.task(task)
        enc = MacroNet(arch, self.base_channels)
        c = enc.out_channels
        k = _TASK_DOC[task][0]
        if task in ("class_scene", "class_object", "room_layout"):
            return EncoderDecoder(enc, FFDecoder(c, k))
        if task == "jigsaw":
            return SiameseNet(enc, SiameseDecoder(c, JIGSAW_CLASSES, 9))
        feat = enc.feature_size(self.input_size)
        if task == "segmentsemantic":
            return EncoderDecoder(enc, SegmentationDecoder(c, feat, self.input_size, SEG_CLASSES, self.decoder_width))
        dec = GenerativeDecoder(c, feat, self.input_size, 3, self.decoder_width)
        return GAN(enc, dec, Discriminator(self.decoder_width) if self.discriminator else None)

    # ---- inputs and targets ----------------------------------------------------------------
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
            from search_spaces.data import DataNotFoundError
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
        from search_spaces.data import DataError, DataNotFoundError

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
        from search_spaces.data import DataError

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
        from search_spaces.data import DataError, DataNotFoundError

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

    from search_spaces.data import DataError

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
    from search_spaces.data import DataError, DataNotFoundError

    if not path.is_file():
        raise DataNotFoundError(f"no file {path}; expected {what}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: not a readable .npy array ({exc}); expected {what}") from None


def _read_png(path: Path, what: str) -> np.ndarray:
    """The pixel array of an image file as stored (palette indices stay indices)."""
    from search_spaces.data import DataError

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
    from search_spaces.data import DataError, DataNotFoundError

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


@register_space("tnb101_micro")
class TNB101MicroSpace(TNB101Space):
    """TransNAS-Bench-101 micro space: 4096 cells ``64-41414-a_bc_def`` on 7 Taskonomy tasks."""

    def all_archs(self) -> tuple[MicroArch, ...]:
        return micro_archs()

    def parse(self, text: str) -> MicroArch:
        return parse_micro(text)

    def _arch(self, arch) -> MicroArch:
        if isinstance(arch, str):
            return parse_micro(arch)
        if not isinstance(arch, MicroArch):
            raise TypeError(f"expected a MicroArch or a TNB101 micro string, got {type(arch).__name__}")
        return arch

    def zc_key(self, arch) -> str:
        """The 6 TNB digits as a tuple string, e.g. ``"(3, 3, 3, 3, 3, 3)"`` (NB-Suite-Zero's key)."""
        return str(self._arch(arch).ops)

    def from_zc_key(self, key: str) -> MicroArch:
        t = parse_tuple_key(key, "6 TNB op digits 0..3 such as '(3, 1, 0, 2, 3, 3)'")
        try:
            return MicroArch(t)
        except ValueError as exc:
            raise ArchParseError(f"NAS-Bench-Suite-Zero key {key!r}: {exc}") from None


@register_space("tnb101_macro")
class TNB101MacroSpace(TNB101Space):
    """TransNAS-Bench-101 macro space: 3256 skeletons ``64-<4..6 digits>-basic`` on 7 tasks."""

    def all_archs(self) -> tuple[MacroArch, ...]:
        return macro_archs()

    def parse(self, text: str) -> MacroArch:
        return parse_macro(text)

    def _arch(self, arch) -> MacroArch:
        if isinstance(arch, str):
            return parse_macro(arch)
        if not isinstance(arch, MacroArch):
            raise TypeError(f"expected a MacroArch or a TNB101 macro string, got {type(arch).__name__}")
        return arch

    def zc_key(self, arch) -> str:
        """The module digits as an unpadded tuple string, e.g. ``"(3, 3, 2, 3, 3)"`` (NB-Suite-Zero's key)."""
        return str(self._arch(arch).modules)

    def from_zc_key(self, key: str) -> MacroArch:
        """Unpadded keys as in the json; trailing zeros (NASLib's padding to 6) are dropped."""
        t = parse_tuple_key(key, "4 to 6 macro module digits 1..4 such as '(3, 3, 2, 3, 3)'")
        while t and t[-1] == 0 and len(t) > 4:
            t = t[:-1]
        try:
            return MacroArch(t)
        except ValueError as exc:
            raise ArchParseError(f"NAS-Bench-Suite-Zero key {key!r}: {exc}") from None


# ============================================================================ ground truth

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
