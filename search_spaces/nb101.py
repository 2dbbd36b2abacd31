"""NAS-Bench-101 (Ying et al., 2019) as NASLib builds and keys it for zero-cost evaluation.

**Architecture.** A cell is a DAG of at most 7 vertices given by an upper-triangular 0/1
adjacency matrix and one op per vertex: ``input`` first, ``output`` last, and in between
``conv3x3-bn-relu``, ``conv1x1-bn-relu`` or ``maxpool3x3``; at most 9 edges. As NB101's
``ModelSpec`` does, vertices that are not on an input -> output path are pruned away, and the
edge limit applies to the pruned cell. :class:`NB101Arch` holds a pruned cell as tuples, so it
is immutable and hashable.

``str(arch)`` is compact JSON, ``{"matrix":[[0,1,1],[0,0,1],[0,0,0]],"ops":["input",
"conv3x3-bn-relu","output"]}``; :meth:`NB101Space.parse` reads it back (any JSON spacing, or a
Python dict literal with single quotes) and reports a bad string with :class:`ArchParseError`.

**One value per architecture** (space option ``canonical_order``, default True). NB101 keys
its data by an isomorphism-invariant hash (:func:`module_hash`), so two specs that differ only
in the numbering of their interior vertices are the same architecture with one record. With
``canonical_order=True`` every spec the space makes or reads (``parse``, ``sample``,
``from_zc_key``, the ground-truth readers) is renumbered to one canonical order, so an
architecture sampled here, a key of NAS-Bench-Suite-Zero's json and an entry of
``nasbench_only108.pkl`` compare equal whenever NB101 would give them the same hash. The
canonical order is, among all vertex numberings that keep the matrix upper-triangular, the one
whose row-major upper-triangle bits form the largest binary number (ties: ``conv3x3`` before
``conv1x1`` before ``maxpool3x3``). QUIRK: NB101's channel split (``ComputeVertexChannels``)
gives the remainder channels to the *first* vertices feeding the output, so renumbering can
move a +1 channel from one vertex to another: NASLib built each json key in that key's own
order. ``canonical_order=False`` keeps the order of the source (the json key, the pickle's
``module_adjacency``, the parsed string) and builds exactly that; isomorphic specs are then
different values, and a sampled spec rarely matches a ground-truth entry, so use it only with
``archs: {from: ground_truth}``.

**NAS-Bench-Suite-Zero key** (NASLib ``conversions.convert_spec_to_tuple``):
``str`` of a 56-tuple, the 49 bits of the 7x7 matrix row by row, then 7 op ids (0 input,
1 output, 2 maxpool3x3, 3 conv1x1-bn-relu, 4 conv3x3-bn-relu). :meth:`NB101Space.zc_key` pads a
cell of n < 7 vertices as NASLib's ``convert_to_cell`` does: rows and columns of the first n-1
vertices stay, the output column moves to index 6, and vertices n-1..5 become disconnected
``conv3x3-bn-relu`` placeholders. The keys of ``zc_nasbench101.json`` are NASLib's raw random
7x7 samples (unreachable vertices and all), so :meth:`NB101Space.from_zc_key` prunes them; the
key ``zc_key`` writes for an architecture is one of possibly many keys of it.

**Network** (written here rather than taken from the PyPI package
``nasbench-pytorch``, see below): stem ConvBnReLU 3x3 (3 -> ``stem_channels``), then
``num_stacks`` stacks of ``num_cells`` cells with MaxPool2d(2, 2) and channel doubling before
every stack but the first, then global average pooling and Linear. Inside a cell every
input -> vertex edge is a 1x1 ConvBnReLU projection, vertex inputs are summed after truncating
channels (by at most 1), the output is the concatenation of the vertices feeding it, plus the
projected input when the input feeds the output. Init: Conv N(0, sqrt(2 / (k^2 C_out))), BN
weight 1 and bias 0, Linear N(0, 0.01) and bias 0; BN with PyTorch defaults; ReLUs not in
place. Modules are created and initialised in the order of NASLib's builder (archai's
``nasbench101/model.py``). The global average is NASLib's ``torch.mean`` over H, W, inside a
parameter-free :class:`GlobalAvgPool` module that ``zen_feature_module`` names, so that zen finds
the feature map before it, while FLOP counters that count ``nn.AdaptiveAvgPool2d`` (NB-Suite-Zero's
tensorwatch) count nothing for it, as for NASLib's network.

Why not ``nasbench-pytorch`` (1.3.1, Apache-2.0)? It installs and imports, but its network
differs from NASLib's in ways that change proxy scores: every cell carries ``Placeholder``
modules, each with a scalar ``nn.Parameter`` drawn with ``torch.randn`` (more parameters than
NB101 reports, and a shifted random stream for the weights that follow), and its ``Network``
passes BN ``momentum=0.997`` (a TensorFlow value; in PyTorch's convention it means running
statistics are replaced almost entirely by each batch) to the stem and the input projections
but not to the vertex ops, which changes zen through ``running_var``. The builder is also
short, and writing it keeps the NB101 semantics in one documented place.

**Ground truth**: format ``nb101_pickle`` reads NASLib's
``nasbench_only108.pkl`` (a pickle of ``{md5 module hash: (fixed_stats, computed_stats)}``,
with ``computed_stats[108]`` a list of 3 repeats); ``val_accuracy`` is
``final_validation_accuracy`` x 100 at 108 epochs. QUIRK: NB101's ``query`` (so NASLib) returns
one randomly chosen repeat of the 3, unseeded; option ``repeat`` is ``"random"`` (default: one
repeat per architecture, drawn reproducibly from its hash), ``"mean"`` or a repeat index 0..2.
NAS-Bench-Suite-Zero's ``zc_nasbench101.json`` is read by the generic ``nbsuite_zero`` format
through :meth:`NB101Space.from_zc_key`.
"""
from __future__ import annotations

import ast
import hashlib
import io
import json
import math
import pickle
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Hashable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from search_spaces.base import (ArchParseError, SearchSpace, TaskInfo, derive_seed, parse_tuple_key,
                                register_space)
from search_spaces.ground_truth import GroundTruth, GroundTruthError, register_format
from search_spaces import plain_pickle

__all__ = [
    "INPUT", "OUTPUT", "CONV3X3", "CONV1X1", "MAXPOOL3X3", "OPS", "ZC_OPS", "MAX_VERTICES", "MAX_EDGES",
    "NUM_ARCHS", "NB101Arch", "module_hash", "vertex_channels", "ConvBnRelu", "NB101Cell",
    "NB101Network", "NB101Space", "read_nb101_pickle", "REPEATS", "NB101_PKL_URL",
]

INPUT = "input"
OUTPUT = "output"
CONV3X3 = "conv3x3-bn-relu"
CONV1X1 = "conv1x1-bn-relu"
MAXPOOL3X3 = "maxpool3x3"
#: The interior ops in NB101's order (``config['available_ops']``); the index is the vertex
#: label that :func:`module_hash` uses.
OPS: tuple[str, ...] = (CONV3X3, CONV1X1, MAXPOOL3X3)
#: NASLib's ``all_ops``: the op id of a NAS-Bench-Suite-Zero key is the index here.
ZC_OPS: tuple[str, ...] = (INPUT, OUTPUT, MAXPOOL3X3, CONV1X1, CONV3X3)
MAX_VERTICES = 7
MAX_EDGES = 9
#: Unique (non-isomorphic) cells in NB101.
NUM_ARCHS = 423_624

_HASH_LABEL = {op: i for i, op in enumerate(OPS)}
_ZC_ID = {op: i for i, op in enumerate(ZC_OPS)}
_RANK = {CONV3X3: 2, CONV1X1: 1, MAXPOOL3X3: 0}  # canonical-order tie-break: larger first
_FORM = '{"matrix": [[0,1,...],...], "ops": ["input", ..., "output"]}'
_ROWS: dict[tuple[int, ...], tuple[int, ...]] = {}  # interned matrix rows (a read keeps 400k cells)


def _row(bits) -> tuple[int, ...]:
    t = tuple(bits)
    return _ROWS.setdefault(t, t)


# ----------------------------------------------------------------------------- validation


_BITS = frozenset((0, 1))


def _is_bit(v: Any) -> bool:
    return (isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))) and v in (0, 1)


def _check_raw(matrix: Any, ops: Any) -> tuple[tuple[tuple[int, ...], ...], tuple[str, ...]]:
    """``matrix`` and ``ops`` as tuples, checked for shape, 0/1 entries, ops and upper-triangularity
    (not yet pruned); :class:`ArchParseError` names the first problem."""
    if isinstance(matrix, np.ndarray):
        matrix = (matrix.astype(np.int64) if matrix.dtype == np.bool_ else matrix).tolist()
    if not isinstance(matrix, (list, tuple)) or not all(isinstance(r, (list, tuple, np.ndarray)) for r in matrix):
        raise ArchParseError(f"the matrix must be a list of rows (lists of 0/1), got {_short(matrix)}")
    rows = [list(r) for r in matrix]
    n = len(rows)
    if not isinstance(ops, (list, tuple)):
        raise ArchParseError(f"ops must be a list of op names, got {_short(ops)}")
    ops = list(ops)
    if n > MAX_VERTICES:
        raise ArchParseError(f"the cell has {n} vertices; NB101 cells have at most {MAX_VERTICES}")
    if n < 2:
        raise ArchParseError(f"the cell has {n} vertex(es); it needs at least an input and an output vertex")
    for i, r in enumerate(rows):
        if len(r) != n:
            raise ArchParseError(f"the matrix is not square: row {i} has {len(r)} entries, the matrix has {n} rows")
        if all(v.__class__ is int for v in r) and _BITS.issuperset(r):
            continue  # plain 0/1 ints (the common case)
        for j, v in enumerate(r):
            if not _is_bit(v):
                raise ArchParseError(f"matrix[{i}][{j}] is {v!r}; entries must be 0 or 1")
        rows[i] = [int(v) for v in r]
    if len(ops) != n:
        raise ArchParseError(f"{len(ops)} ops for a {n}x{n} matrix; give one op per vertex")
    for k, op in enumerate(ops):
        if not isinstance(op, str):
            raise ArchParseError(f"op {k} is {op!r}, not an op name")
    if ops[0] != INPUT:
        raise ArchParseError(f"op 0 is {ops[0]!r}; the first vertex must be 'input'")
    if ops[-1] != OUTPUT:
        raise ArchParseError(f"op {n - 1} is {ops[-1]!r}; the last vertex must be 'output'")
    for k in range(1, n - 1):
        if ops[k] not in _HASH_LABEL:
            raise ArchParseError(f"op {k} is {ops[k]!r}; interior vertices take one of {', '.join(OPS)}")
    for i in range(n):
        if any(rows[i][: i + 1]):
            j = rows[i].index(1)
            raise ArchParseError(
                f"matrix[{i}][{j}] is 1 on or below the diagonal; an NB101 matrix is upper-triangular "
                f"(an edge i -> j needs i < j), which makes the cell a DAG")
    return tuple(_row(r) for r in rows), tuple(ops)


def _kept_vertices(m: tuple[tuple[int, ...], ...]) -> list[int]:
    """Vertices on some input -> output path (NB101 ``ModelSpec._prune``); [] if none."""
    n = len(m)
    fwd = [False] * n
    fwd[0] = True
    for v in range(n):  # upper-triangular: one pass in index order is a full search
        if fwd[v]:
            for w in range(v + 1, n):
                if m[v][w]:
                    fwd[w] = True
    bwd = [False] * n
    bwd[n - 1] = True
    for v in range(n - 1, -1, -1):
        if bwd[v]:
            for u in range(v):
                if m[u][v]:
                    bwd[u] = True
    if not (fwd[n - 1] and bwd[0]):
        return []
    return [v for v in range(n) if fwd[v] and bwd[v]]


def _prune(m, ops):
    kept = _kept_vertices(m)
    if not kept:
        raise ArchParseError("no path from the input vertex to the output vertex; the cell computes nothing")
    if len(kept) < len(ops):
        m = tuple(_row(m[a][b] for b in kept) for a in kept)
        ops = tuple(ops[a] for a in kept)
    edges = sum(map(sum, m))
    if edges > MAX_EDGES:
        raise ArchParseError(f"the pruned cell has {edges} edges; NB101 allows at most {MAX_EDGES}")
    return m, ops


def _topological_orders(n: int, m) -> Iterator[tuple[int, ...]]:
    """Every order of the interior vertices 1..n-2 in which each edge goes forward."""
    interior = range(1, n - 1)
    preds = {v: frozenset(u for u in interior if m[u][v]) for v in interior}
    order: list[int] = []
    placed: set[int] = set()

    def rec():
        if len(order) == n - 2:
            yield tuple(order)
            return
        for v in interior:
            if v not in placed and preds[v] <= placed:
                placed.add(v)
                order.append(v)
                yield from rec()
                order.pop()
                placed.discard(v)

    yield from rec()


def _bit_table(n: int) -> tuple[tuple[int, ...], ...]:
    """``t[i][j]``: the value of entry (i, j), i < j, in the row-major upper-triangle bit string
    of an n-vertex matrix read as a binary number (entry (0, 1) is the most significant bit)."""
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    t = [[0] * n for _ in range(n)]
    for k, (i, j) in enumerate(pairs):
        t[i][j] = 1 << (len(pairs) - 1 - k)
    return tuple(tuple(r) for r in t)


_BIT_TABLES = {n: _bit_table(n) for n in range(2, MAX_VERTICES + 1)}


def _canonical(m, ops):
    """The canonical numbering of a pruned cell (see the module docstring): over all orders of
    the interior vertices that keep edges forward, the largest upper-triangle bit string, ties
    broken by the op ranks."""
    n = len(ops)
    if n <= 3:
        return m, ops
    table = _BIT_TABLES[n]
    edges = [(u, w) for u in range(n) for w in range(u + 1, n) if m[u][w]]
    pos = list(range(n))
    best_bits = -1
    best_ranks: tuple[int, ...] = ()
    best_order: tuple[int, ...] = ()
    for order in _topological_orders(n, m):
        for k, v in enumerate(order, start=1):
            pos[v] = k
        bits = sum(table[pos[u]][pos[w]] for u, w in edges)
        if bits < best_bits:
            continue
        ranks = tuple(_RANK[ops[v]] for v in order)
        if bits > best_bits or ranks > best_ranks:
            best_bits, best_ranks, best_order = bits, ranks, order
    seq = (0,) + best_order + (n - 1,)
    if seq == tuple(range(n)):
        return m, ops
    return tuple(_row(m[a][b] for b in seq) for a in seq), tuple(ops[a] for a in seq)


# ----------------------------------------------------------------------------- architecture


@dataclass(frozen=True, slots=True)
class NB101Arch:
    """A pruned NB101 cell: ``matrix`` (tuple of row tuples of 0/1) and ``ops`` (one name per
    vertex). The constructor checks it and refuses a spec that still needs pruning; use
    :meth:`from_spec` to prune (and canonicalise) an arbitrary spec."""

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    def __post_init__(self):
        m, ops = _check_raw(self.matrix, self.ops)
        kept = _kept_vertices(m)
        if not kept:
            raise ArchParseError("no path from the input vertex to the output vertex; the cell computes nothing")
        if len(kept) < len(ops):
            drop = sorted(set(range(len(ops))) - set(kept))
            raise ArchParseError(
                f"vertices {drop} are not on an input -> output path; NB101Arch holds pruned cells, "
                f"use NB101Arch.from_spec(matrix, ops) to prune as NB101's ModelSpec does")
        edges = sum(map(sum, m))
        if edges > MAX_EDGES:
            raise ArchParseError(f"the cell has {edges} edges; NB101 allows at most {MAX_EDGES}")
        object.__setattr__(self, "matrix", m)
        object.__setattr__(self, "ops", ops)

    @classmethod
    def _unchecked(cls, m, ops) -> "NB101Arch":
        a = object.__new__(cls)
        object.__setattr__(a, "matrix", m)
        object.__setattr__(a, "ops", ops)
        return a

    @classmethod
    def from_spec(cls, matrix: Any, ops: Sequence[str], *, canonical: bool = True) -> "NB101Arch":
        """The architecture of an NB101 spec (numpy array or nested lists, may be unpruned):
        checked, pruned like NB101's ``ModelSpec``, then renumbered canonically if
        ``canonical``. :class:`ArchParseError` when it is not in the NB101 space."""
        m, o = _prune(*_check_raw(matrix, ops))
        if canonical:
            m, o = _canonical(m, o)
        return cls._unchecked(m, o)

    def __str__(self) -> str:
        rows = ",".join("[" + ",".join(map(str, r)) + "]" for r in self.matrix)
        return '{"matrix":[' + rows + '],"ops":[' + ",".join(f'"{o}"' for o in self.ops) + "]}"

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return sum(map(sum, self.matrix))

    def canonical(self) -> "NB101Arch":
        """This cell renumbered to the canonical order (equal for isomorphic cells)."""
        m, o = _canonical(self.matrix, self.ops)
        return self if m is self.matrix else NB101Arch._unchecked(m, o)

    def module_hash(self) -> str:
        """NB101's md5 key of this cell (the keys of ``nasbench_only108.pkl``)."""
        return module_hash(self.matrix, self.ops)

    def zc_tuple(self) -> tuple[int, ...]:
        """NASLib's 56-tuple for this vertex order, padded to 7 vertices as ``convert_to_cell``."""
        n = len(self.ops)
        m = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
        for i in range(n):
            for j in range(n):
                if self.matrix[i][j]:
                    m[i][j if j < n - 1 else MAX_VERTICES - 1] = 1
        ops = list(self.ops[: n - 1]) + [CONV3X3] * (MAX_VERTICES - n) + [OUTPUT]
        return tuple(v for r in m for v in r) + tuple(_ZC_ID[o] for o in ops)


def module_hash(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> str:
    """NB101's isomorphism-invariant hash of a (pruned) cell, ``graph_util.hash_module``.

    Vertex labels: -1 input, -2 output, else the index in :data:`OPS`. Each vertex starts
    from md5 of ``str((out_degree, in_degree, label))``; then, as many rounds as there are
    vertices, it becomes md5 of its in-neighbours' hashes sorted and joined, ``|``, its
    out-neighbours' likewise, ``|``, its own hash. The result is md5 of ``str`` of the sorted
    list of vertex hashes.
    """
    n = len(ops)
    labels = [-1] + [_HASH_LABEL[o] for o in ops[1:-1]] + [-2]
    ins = [sum(matrix[i][j] for i in range(n)) for j in range(n)]
    outs = [sum(matrix[i]) for i in range(n)]

    def md5(text: str) -> str:
        return hashlib.md5(text.encode("utf-8")).hexdigest()

    h = [md5(str((outs[v], ins[v], labels[v]))) for v in range(n)]
    for _ in range(n):
        h = [md5("".join(sorted(h[w] for w in range(n) if matrix[w][v])) + "|"
                 + "".join(sorted(h[w] for w in range(n) if matrix[v][w])) + "|" + h[v])
             for v in range(n)]
    return md5(str(sorted(h)))


def _short(value: Any, limit: int = 80) -> str:
    s = repr(value)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _parse(text: Any, canonical: bool) -> NB101Arch:
    if isinstance(text, NB101Arch):
        return text.canonical() if canonical else text
    if not isinstance(text, str):
        raise ArchParseError(f"an NB101 architecture string must be a str, got {type(text).__name__}")
    s = text.strip()
    if not s:
        raise ArchParseError(f"empty NB101 architecture string; expected the form {_FORM}")
    try:
        spec = json.loads(s)
    except ValueError:
        try:
            spec = ast.literal_eval(s)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ArchParseError(f"{_short(s)} is neither JSON nor a Python literal; expected {_FORM}") from None
    if not isinstance(spec, dict):
        raise ArchParseError(f"{_short(s)} is not a mapping; expected {_FORM}")
    missing = [k for k in ("matrix", "ops") if k not in spec]
    extra = sorted(map(str, set(spec) - {"matrix", "ops"}))
    if missing or extra:
        what = (f"no key(s) {missing}" if missing else "") + ("; " if missing and extra else "") + \
            (f"unknown key(s) {extra}" if extra else "")
        raise ArchParseError(f"{_short(s)} has {what}; expected exactly 'matrix' and 'ops': {_FORM}")
    try:
        return NB101Arch.from_spec(spec["matrix"], spec["ops"], canonical=canonical)
    except ArchParseError as exc:
        raise ArchParseError(f"{exc} (in {_short(s)})") from None


# ----------------------------------------------------------------------------- network


def vertex_channels(in_channels: int, out_channels: int, matrix: Sequence[Sequence[int]]) -> list[int]:
    """Channels of every vertex (NB101 ``ComputeVertexChannels``): the output's channels are
    split evenly over the interior vertices that feed it, the first ``out_channels % k`` of
    them (in vertex order) getting one more; every other interior vertex takes the max over
    the vertices it feeds, going backwards. Vertex 0 has ``in_channels``."""
    n = len(matrix)
    ch = [0] * n
    ch[0], ch[n - 1] = in_channels, out_channels
    if n == 2:
        return ch
    feeders = [v for v in range(1, n - 1) if matrix[v][n - 1]]
    base, extra = divmod(out_channels, len(feeders))
    for k, v in enumerate(feeders):
        ch[v] = base + (1 if k < extra else 0)
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            ch[v] = max(ch[d] for d in range(v + 1, n - 1) if matrix[v][d])
    if min(ch[1:n - 1]) <= 0:
        raise ValueError(f"{out_channels} output channels cannot be split over {len(feeders)} vertices "
                         f"feeding the output; use more channels")
    return ch


class ConvBnRelu(nn.Sequential):
    """Conv(k, stride 1, pad k//2, no bias) -> BatchNorm2d (PyTorch defaults) -> ReLU (not in place)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int):
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel_size, stride=1, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=False),
        )


def _make_op(name: str, channels: int) -> nn.Module:
    if name == CONV3X3:
        return ConvBnRelu(channels, channels, 3)
    if name == CONV1X1:
        return ConvBnRelu(channels, channels, 1)
    if name == MAXPOOL3X3:
        return nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
    raise ValueError(f"no module for op {name!r}")


def _truncate(x: torch.Tensor, channels: int) -> torch.Tensor:
    c = x.shape[1]
    if c == channels:
        return x
    if c != channels + 1:
        raise RuntimeError(f"cannot truncate {c} channels to {channels}; NB101 truncates by at most 1")
    return x[:, :channels]


class NB101Cell(nn.Module):
    """One NB101 cell (module) with ``in_channels`` -> ``out_channels``.

    ``vertex_ops[str(t)]`` is the op of interior vertex t; ``projections[str(t)]`` the 1x1
    ConvBnReLU on edge input -> t (t may be the output vertex). Created in NASLib's order:
    vertex ops, then projections.
    """

    def __init__(self, arch: NB101Arch, in_channels: int, out_channels: int):
        super().__init__()
        self.matrix = arch.matrix
        n = len(arch.ops)
        self.channels = vertex_channels(in_channels, out_channels, arch.matrix)
        self.vertex_ops = nn.ModuleDict({str(t): _make_op(arch.ops[t], self.channels[t]) for t in range(1, n - 1)})
        self.projections = nn.ModuleDict({str(t): ConvBnRelu(in_channels, self.channels[t], 1)
                                          for t in range(1, n) if arch.matrix[0][t]})
        self._n = n
        # per interior vertex: the interior sources; the vertices feeding the output
        self._srcs = tuple(tuple(s for s in range(1, t) if arch.matrix[s][t]) for t in range(n))
        self._to_out = tuple(t for t in range(1, n - 1) if arch.matrix[t][n - 1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self._n
        states: list = [x]
        for t in range(1, n - 1):
            c = self.channels[t]
            fan_in = [_truncate(states[s], c) for s in self._srcs[t]]
            if self.matrix[0][t]:
                fan_in.append(self.projections[str(t)](x))
            total = fan_in[0]
            for y in fan_in[1:]:
                total = total + y
            states.append(self.vertex_ops[str(t)](total))
        if not self._to_out:
            return self.projections[str(n - 1)](x)
        outs = [states[t] for t in self._to_out]
        out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)
        if self.matrix[0][n - 1]:
            out = out + self.projections[str(n - 1)](x)
        return out

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class GlobalAvgPool(nn.Module):
    """``x.mean((2, 3))`` as NASLib's NB101 network takes it (a functional mean there, not an
    ``nn.AdaptiveAvgPool2d``: NB-Suite-Zero's flops count nothing for it); a module so that zen
    can hook its input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.mean(x, (2, 3))


class NB101Network(nn.Module):
    """stem -> ``num_stacks`` x (``num_cells`` cells), MaxPool2d(2) + doubling between stacks -> GAP -> Linear."""

    def __init__(self, arch: NB101Arch, num_classes: int = 10, stem_channels: int = 128, num_stacks: int = 3,
                 num_cells: int = 3, in_channels: int = 3):
        super().__init__()
        self.arch = arch
        self.layers = nn.ModuleList([ConvBnRelu(in_channels, stem_channels, 3)])
        c_in = c = stem_channels
        for stack in range(num_stacks):
            if stack > 0:
                self.layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                c *= 2
            for _ in range(num_cells):
                self.layers.append(NB101Cell(arch, c_in, c))
                c_in = c
        self.global_pool = GlobalAvgPool()
        self.classifier = nn.Linear(c, num_classes)
        self._initialize_weights()

    def _initialize_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2.0 / fan))
                if m.bias is not None:
                    m.bias.data.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                m.weight.data.normal_(0, 0.01)
                m.bias.data.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.classifier(self.global_pool(x))

    def zen_feature_module(self) -> nn.Module:
        """The module whose input is the feature map zen reads (before global pooling)."""
        return self.global_pool

    def cell_modules(self) -> list[nn.Module]:
        """The modules whose outputs are the per-cell features (AZ-NAS): the stem, then every
        cell (the max-pools between stacks are not cells)."""
        return [m for m in self.layers if not isinstance(m, nn.MaxPool2d)]


# ----------------------------------------------------------------------------- space


def _positive_int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"NB101 option {name} must be a positive int, got {v!r}")
    return v


@register_space("nb101")
class NB101Space(SearchSpace):
    """NAS-Bench-101: cells of at most 7 vertices and 9 edges, 3 interior ops; the network has
    ``stem_channels`` (128), ``num_stacks`` (3) stacks of ``num_cells`` (3) cells;
    ``canonical_order`` (True): one value per isomorphism class (see the module docstring)."""

    tasks = {"cifar10": TaskInfo("cifar10", 10, (3, 32, 32), "cross_entropy")}
    small_options = {"stem_channels": 8, "num_stacks": 1, "num_cells": 1}
    small_input_size = 8

    def __init__(self, stem_channels: int = 128, num_stacks: int = 3, num_cells: int = 3,
                 canonical_order: bool = True):
        self.stem_channels = _positive_int("stem_channels", stem_channels)
        self.num_stacks = _positive_int("num_stacks", num_stacks)
        self.num_cells = _positive_int("num_cells", num_cells)
        if not isinstance(canonical_order, bool):
            raise ValueError(f"NB101 option canonical_order must be true or false, got {canonical_order!r}")
        self.canonical_order = canonical_order

    def parse(self, text: str) -> NB101Arch:
        return _parse(text, self.canonical_order)

    def from_spec(self, matrix: Any, ops: Sequence[str]) -> NB101Arch:
        """The architecture of an NB101 spec (pruned; renumbered if ``canonical_order``)."""
        return NB101Arch.from_spec(matrix, ops, canonical=self.canonical_order)

    def sample(self, n: int, seed) -> list[NB101Arch]:
        """``n`` distinct cells drawn as NB101's ``random_spec`` and NASLib's
        ``sample_random_architecture`` draw them: each of the 21 upper-triangle bits of a 7x7
        matrix is 1 with probability 1/2, each of the 5 interior ops is uniform over 3, and a
        draw that is not a valid NB101 cell after pruning is rejected. This is not uniform
        over the 423,624 cells (small cells come up more often)."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= NUM_ARCHS:
            raise ValueError(f"can sample 1..{NUM_ARCHS} distinct NB101 architectures, asked for {n!r}")
        rng = random.Random(seed)
        out: dict[NB101Arch, None] = {}
        misses = 0
        while len(out) < n:
            bits = rng.getrandbits(21)
            m = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
            k = 20
            for i in range(MAX_VERTICES):
                for j in range(i + 1, MAX_VERTICES):
                    m[i][j] = (bits >> k) & 1
                    k -= 1
            ops = (INPUT,) + tuple(OPS[rng.randrange(3)] for _ in range(MAX_VERTICES - 2)) + (OUTPUT,)
            try:
                a = NB101Arch.from_spec(m, ops, canonical=self.canonical_order)
            except ArchParseError:
                continue
            if a in out:
                misses += 1
                if misses > 100_000 + 10 * n:
                    raise ValueError(f"found only {len(out)} distinct NB101 cells after many draws; ask for fewer")
                continue
            out[a] = None
        return list(out)

    def build(self, arch, task: str) -> NB101Network:
        if isinstance(arch, str):
            arch = self.parse(arch)
        if not isinstance(arch, NB101Arch):
            raise TypeError(f"expected an NB101Arch or NB101 string, got {type(arch).__name__}")
        info = self.task(task)
        return NB101Network(arch, info.num_classes, stem_channels=self.stem_channels, num_stacks=self.num_stacks,
                            num_cells=self.num_cells, in_channels=info.input_shape[0])

    def zc_key(self, arch) -> str:
        """NASLib's 56-tuple of ``arch`` in its vertex order, padded to 7 vertices, as a string."""
        if isinstance(arch, str):
            arch = self.parse(arch)
        if not isinstance(arch, NB101Arch):
            raise TypeError(f"expected an NB101Arch or NB101 string, got {type(arch).__name__}")
        return str(arch.zc_tuple())

    def from_zc_key(self, key: str) -> NB101Arch:
        what = ("NASLib's NB101 tuple: 49 adjacency bits of a 7x7 matrix, then 7 op ids "
                "(0 input, 1 output, 2 maxpool3x3, 3 conv1x1-bn-relu, 4 conv3x3-bn-relu)")
        t = parse_tuple_key(key, what)
        n = next((v for v in range(2, MAX_VERTICES + 1) if v * v + v == len(t)), None)
        if n is None or any(isinstance(v, tuple) for v in t):
            raise ArchParseError(f"NAS-Bench-Suite-Zero key {_short(key)} has {len(t)} entries; expected {what} "
                                 f"(56 entries, or n*n + n for a cell of n < 7 vertices)")
        bad = next((v for v in t[: n * n] if v not in (0, 1)), None)
        if bad is not None:
            raise ArchParseError(f"NAS-Bench-Suite-Zero key {_short(key)}: adjacency entry {bad} is not 0 or 1")
        ids = t[n * n:]
        bad = next((v for v in ids if not 0 <= v < len(ZC_OPS)), None)
        if bad is not None:
            raise ArchParseError(f"NAS-Bench-Suite-Zero key {_short(key)}: op id {bad} is not one of 0..4 ({what})")
        matrix = [t[i * n:(i + 1) * n] for i in range(n)]
        try:
            return NB101Arch.from_spec(matrix, [ZC_OPS[v] for v in ids], canonical=self.canonical_order)
        except ArchParseError as exc:
            raise ArchParseError(f"NAS-Bench-Suite-Zero key {_short(key)}: {exc}") from None


# ----------------------------------------------------------------------------- ground truth

NB101_PKL_URL = ("https://drive.google.com/drive/folders/1rwmkqyij3I24zn5GSO6fGv2mzdEfPIEa (NASLib's data "
                 "folder: nasbench_only108.pkl; see NASLib's naslib/utils/get_dataset_api.py)")
NB101_PKL_EXPECTED = ("NASLib's nasbench_only108.pkl: a pickled dict {NB101 md5 module hash: (fixed_stats, "
                      "computed_stats)}, fixed_stats = {'module_adjacency': 7x7 array, 'module_operations': "
                      "[op names], 'trainable_parameters': int}, computed_stats = {108: [3 x {"
                      "'final_validation_accuracy': float, 'final_test_accuracy': ..., ...}]}")
#: Values of the ``repeat`` option besides the repeat indices 0, 1, 2.
REPEATS: tuple[str, ...] = ("random", "mean")
#: Metrics of the pickle reader: name -> (key in a repeat's record, scale).
_PKL_METRICS = {
    "val_accuracy": ("final_validation_accuracy", 100.0),
    "test_accuracy": ("final_test_accuracy", 100.0),
    "train_accuracy": ("final_train_accuracy", 100.0),
    "training_time": ("final_training_time", 1.0),
}
_HASH_RE = re.compile(r"[0-9a-f]{32}")


def _pkl_bad(path: Path, what: str) -> GroundTruthError:
    return GroundTruthError(f"{path}: {what}; expected {NB101_PKL_EXPECTED}. Download it from {NB101_PKL_URL}")


def _check_repeat(repeat: Any) -> Any:
    if repeat is None:
        return "random"
    if isinstance(repeat, str) and repeat in REPEATS:
        return repeat
    if isinstance(repeat, int) and not isinstance(repeat, bool) and repeat >= 0:
        return repeat
    raise GroundTruthError(f"ground_truth.repeat must be 'random', 'mean' or a repeat index 0, 1, 2, not {repeat!r}")


def _number(v: Any) -> float | None:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


@register_format("nb101_pickle", spaces=("nb101",), suffixes=(".pkl", ".pickle"), options=("repeat", "epochs"),
                 url=NB101_PKL_URL)
def read_nb101_pickle(path, space, task: str, repeat: Any = None, epochs: int | None = None) -> GroundTruth:
    """NASLib's nasbench_only108.pkl (NB101 training results, 3 repeats per cell)

    Metrics: ``val_accuracy``, ``test_accuracy``, ``train_accuracy`` (x 100, as NASLib's
    query returns them), ``training_time`` (seconds) of one repeat at ``epochs`` (108), chosen
    by ``repeat``: ``"random"`` (default; NB101's query draws one repeat unseeded, here it is
    drawn once per cell from its hash, so every read gives the same values), ``"mean"`` (the
    mean over the repeats) or an index; and ``trainable_parameters``. Reading the full file
    (423,624 cells) takes a minute or two and up to about 2 GB of memory while it loads.
    """
    path = Path(path)
    if task != "cifar10":
        raise GroundTruthError(f"{path}: NB101 has results for cifar10 only, not for task {task!r}")
    repeat = _check_repeat(repeat)
    epochs = 108 if epochs is None else epochs
    if isinstance(epochs, bool) or not isinstance(epochs, int):
        raise GroundTruthError(f"ground_truth.epochs must be an integer (108 in nasbench_only108.pkl), not {epochs!r}")
    canonical = getattr(space, "canonical_order", True)
    try:
        with open(path, "rb") as f:
            data = plain_pickle.load(io.BufferedReader(f, buffer_size=1 << 20))
    except OSError as exc:
        raise GroundTruthError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            ImportError, MemoryError) as exc:
        raise _pkl_bad(path, f"not a readable NB101 pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or not data:
        raise _pkl_bad(path, f"the pickle holds a {type(data).__name__}"
                       + (" that is empty" if isinstance(data, dict) else "") + ", not a mapping of cells")

    values: dict[Hashable, dict[str, float]] = {}
    n_dup = 0
    first = True
    for key, entry in data.items():
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], dict)
                and isinstance(entry[1], dict)):
            raise _pkl_bad(path, f"the entry of {key!r} is not a pair (fixed_stats, computed_stats) of dicts")
        fixed, computed = entry
        if "module_adjacency" not in fixed or "module_operations" not in fixed:
            raise _pkl_bad(path, f"fixed_stats of {key!r} lacks module_adjacency or module_operations "
                                 f"(it has {sorted(map(str, fixed))})")
        try:
            arch = NB101Arch.from_spec(fixed["module_adjacency"], fixed["module_operations"], canonical=canonical)
        except ArchParseError as exc:
            raise _pkl_bad(path, f"the cell of {key!r} is not an NB101 cell: {exc}") from None
        if first:
            first = False
            if not (isinstance(key, str) and _HASH_RE.fullmatch(key)) or key != arch.module_hash():
                raise _pkl_bad(path, f"its first key {key!r} is not the NB101 module hash of its cell "
                                     f"({arch.module_hash()})")
        runs = computed.get(epochs)
        if not isinstance(runs, (list, tuple)) or not runs:
            have = sorted(k for k in computed if isinstance(k, int))
            raise _pkl_bad(path, f"{key!r} has no results at {epochs} epochs (it has epochs {have}); "
                                 f"set ground_truth.epochs")
        for k, r in enumerate(runs):
            if not isinstance(r, dict) or _number(r.get("final_validation_accuracy")) is None:
                raise _pkl_bad(path, f"repeat {k} of {key!r} at {epochs} epochs has no finite "
                                     f"final_validation_accuracy")
        if repeat == "mean":
            picked = list(runs)
        else:
            idx = derive_seed("nb101 repeat", key) % len(runs) if repeat == "random" else repeat
            if idx >= len(runs):
                raise GroundTruthError(f"{path}: {key!r} has {len(runs)} repeats at {epochs} epochs; "
                                       f"ground_truth.repeat {repeat} is out of range")
            picked = [runs[idx]]
        row: dict[str, float] = {}
        for name, (field, scale) in _PKL_METRICS.items():
            vals = [_number(r.get(field)) for r in picked]
            if all(v is not None for v in vals):
                row[name] = scale * sum(vals) / len(vals)
        params = _number(fixed.get("trainable_parameters"))
        if params is not None:
            row["trainable_parameters"] = params
        if arch in values:
            n_dup += 1
            continue
        values[arch] = row
    metrics = [m for m in (*_PKL_METRICS, "trainable_parameters") if any(m in v for v in values.values())]
    return GroundTruth(metrics, values, f"{path} [cifar10, {epochs} epochs, repeat={repeat}]",
                       n_rows=len(data), n_duplicates=n_dup)
