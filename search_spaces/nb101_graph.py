"""NAS-Bench-101 cells as graphs: validation, pruning, the canonical vertex order, the module
hash, the architecture string and NAS-Bench-Suite-Zero's key (the space is
:class:`search_spaces.nb101.NB101Space`).

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
"""
from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from search_spaces.base import ArchParseError, parse_tuple_key

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


def parse_arch(text: Any, canonical: bool = True) -> NB101Arch:
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


def arch_from_zc_key(key: str, canonical: bool = True) -> NB101Arch:
    """The architecture of a NAS-Bench-Suite-Zero ``zc_nasbench101.json`` key (pruned;
    renumbered when ``canonical``); :class:`ArchParseError` when malformed."""
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
        return NB101Arch.from_spec(matrix, [ZC_OPS[v] for v in ids], canonical=canonical)
    except ArchParseError as exc:
        raise ArchParseError(f"NAS-Bench-Suite-Zero key {_short(key)}: {exc}") from None

