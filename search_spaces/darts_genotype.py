"""DARTS genotypes: the architectures of the ``darts`` and ``nb301`` spaces, their string (the
one of SWAP's ``DARTS_archs_CIFAR10.csv``), its parser, and NB301's compact encoding.

Architectures are :class:`Genotype` values whose ``str()`` is the DARTS genotype string of
SWAP's ``DARTS_archs_CIFAR10.csv``::

    Genotype(normal=[('none', 0), ('dil_conv_5x5', 0), ...], normal_concat=[2, 3, 4, 5],
             reduce=[...], reduce_concat=[2, 3, 4, 5])

A cell has inputs 0, 1 (the outputs of the two previous cells) and intermediate nodes
2..5. Edges ``2k`` and ``2k+1`` of a cell feed node ``k+2`` and may read any node in
``0..k+1``; the cell output is the channel concatenation of the ``concat`` nodes.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Iterable

from search_spaces.base import ArchParseError, is_int

#: The 8 ops of SWAP's DARTS CSV (the DARTS ``PRIMITIVES``, ``none`` included).
DARTS_OPS: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)

#: NB301 compact op ids (NASLib ``nasbench301/conversions.py``); ``none`` has no id.
NB301_OP_IDS: dict[str, int] = {
    "max_pool_3x3": 0,
    "avg_pool_3x3": 1,
    "skip_connect": 2,
    "sep_conv_3x3": 3,
    "sep_conv_5x5": 4,
    "dil_conv_3x3": 5,
    "dil_conv_5x5": 6,
}
NB301_OPS: tuple[str, ...] = tuple(sorted(NB301_OP_IDS, key=NB301_OP_IDS.get))

STEPS = 4  # intermediate nodes per cell
NUM_EDGES = 2 * STEPS
DEFAULT_CONCAT: tuple[int, ...] = tuple(range(2, 2 + STEPS))
FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")

Edge = tuple[str, int]


def _check_edges(edges: Any, field: str) -> tuple[Edge, ...]:
    """``edges`` as a tuple of 8 (op, input_node) pairs, or ArchParseError naming the bad one."""
    if not isinstance(edges, (list, tuple)):
        raise ArchParseError(
            f"field {field!r} must be a list of {NUM_EDGES} (op, input_node) pairs, "
            f"got {type(edges).__name__} {edges!r}"
        )
    if len(edges) != NUM_EDGES:
        raise ArchParseError(
            f"field {field!r} has {len(edges)} edges; a DARTS cell has {NUM_EDGES} "
            f"(2 per intermediate node 2..{STEPS + 1})"
        )
    out = []
    for i, edge in enumerate(edges):
        where = f"{field}[{i}]"
        if not isinstance(edge, (list, tuple)) or len(edge) != 2:
            raise ArchParseError(f"{where} is not an (op, input_node) pair: {edge!r}")
        op, node = edge
        if not isinstance(op, str):
            raise ArchParseError(f"op at {where} must be a string, got {op!r}")
        if op not in DARTS_OPS:
            raise ArchParseError(
                f"unknown op {op!r} at {where}; valid ops: {', '.join(DARTS_OPS)}"
            )
        k = i // 2
        if not is_int(node) or not 0 <= node <= k + 1:
            raise ArchParseError(
                f"input node {node!r} at {where} {tuple(edge)!r}: edges {field}[{2 * k}] and "
                f"{field}[{2 * k + 1}] feed node {k + 2}, which may take inputs 0..{k + 1}"
            )
        out.append((op, int(node)))
    return tuple(out)


def _check_concat(concat: Any, field: str) -> tuple[int, ...]:
    if isinstance(concat, range):
        concat = list(concat)
    if not isinstance(concat, (list, tuple)) or not concat:
        raise ArchParseError(
            f"field {field!r} must be a non-empty list of node ids such as [2, 3, 4, 5], "
            f"got {concat!r}"
        )
    for n in concat:
        if not is_int(n) or not 2 <= n <= STEPS + 1:
            raise ArchParseError(
                f"node {n!r} in {field} {list(concat)!r}: the cell output concatenates "
                f"intermediate nodes 2..{STEPS + 1}"
            )
    if len(set(concat)) != len(concat):
        raise ArchParseError(f"{field} {list(concat)!r} repeats a node")
    return tuple(int(n) for n in concat)


def _fmt_edges(edges: Iterable[Edge]) -> str:
    return "[" + ", ".join(f"('{op}', {node})" for op, node in edges) + "]"


def _fmt_concat(concat: Iterable[int]) -> str:
    return "[" + ", ".join(str(n) for n in concat) + "]"


@dataclass(frozen=True, repr=False)
class Genotype:
    """A DARTS genotype: 8 (op, input_node) edges and the concatenated nodes, for the normal
    and the reduction cell. Lists are stored as tuples (hashable); the fields read like the
    official ``namedtuple('Genotype', 'normal normal_concat reduce reduce_concat')``.

    ``str(g)`` is the canonical string (identical to SWAP's CSV) and
    ``parse_genotype(str(g)) == g``. Invalid values raise :class:`ArchParseError`.
    """

    normal: tuple[Edge, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Edge, ...]
    reduce_concat: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "normal", _check_edges(self.normal, "normal"))
        object.__setattr__(self, "reduce", _check_edges(self.reduce, "reduce"))
        object.__setattr__(
            self, "normal_concat", _check_concat(self.normal_concat, "normal_concat")
        )
        object.__setattr__(
            self, "reduce_concat", _check_concat(self.reduce_concat, "reduce_concat")
        )

    def __str__(self) -> str:
        return (
            f"Genotype(normal={_fmt_edges(self.normal)}, "
            f"normal_concat={_fmt_concat(self.normal_concat)}, "
            f"reduce={_fmt_edges(self.reduce)}, "
            f"reduce_concat={_fmt_concat(self.reduce_concat)})"
        )

    __repr__ = __str__

    # ---- NB301 compact encoding ------------------------------------------------------
    def to_compact(self) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
        """``((8 x (input_node, op_id)), (8 x (input_node, op_id)))`` for normal and reduce,
        op ids as in NB301 (0 = max_pool_3x3 ... 6 = dil_conv_5x5).

        NB301 has no ``none`` op and always concatenates nodes 2..5, so
        a genotype with ``none`` or another concat raises :class:`ArchParseError`.
        """
        for field in ("normal_concat", "reduce_concat"):
            if getattr(self, field) != DEFAULT_CONCAT:
                raise ArchParseError(
                    f"{field}={list(getattr(self, field))} has no NB301 compact encoding, "
                    f"which always concatenates nodes {list(DEFAULT_CONCAT)}"
                )
        cells = []
        for field in ("normal", "reduce"):
            cell = []
            for i, (op, node) in enumerate(getattr(self, field)):
                if op not in NB301_OP_IDS:
                    raise ArchParseError(
                        f"op {op!r} at {field}[{i}] has no NB301 compact id: NB301's op set "
                        f"({', '.join(NB301_OPS)}) has no 'none'"
                    )
                cell.append((node, NB301_OP_IDS[op]))
            cells.append(tuple(cell))
        return tuple(cells)  # type: ignore[return-value]

    @classmethod
    def from_compact(cls, compact: Any) -> "Genotype":
        """The inverse of :meth:`to_compact`; ``compact`` may also be its string form, as in
        the keys of NB-Suite-Zero's ``zc_nasbench301.json``."""
        if isinstance(compact, str):
            try:
                compact = ast.literal_eval(compact.strip())
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
                raise ArchParseError(f"not an NB301 compact tuple: {exc}") from None
        if not isinstance(compact, (list, tuple)) or len(compact) != 2:
            raise ArchParseError(
                "an NB301 compact genotype is ((8 x (input_node, op_id)), "
                f"(8 x (input_node, op_id))), got {compact!r}"
            )
        cells = []
        for field, cell in zip(("normal", "reduce"), compact):
            if not isinstance(cell, (list, tuple)):
                raise ArchParseError(f"compact {field} cell is not a sequence: {cell!r}")
            edges = []
            for i, edge in enumerate(cell):
                if not isinstance(edge, (list, tuple)) or len(edge) != 2:
                    raise ArchParseError(
                        f"compact {field}[{i}] is not an (input_node, op_id) pair: {edge!r}"
                    )
                node, op_id = edge
                if not is_int(op_id) or not 0 <= op_id < len(NB301_OPS):
                    raise ArchParseError(
                        f"unknown NB301 op id {op_id!r} at compact {field}[{i}]; valid ids: "
                        + ", ".join(f"{j}={op}" for j, op in enumerate(NB301_OPS))
                    )
                edges.append((NB301_OPS[op_id], node))
            cells.append(edges)
        return cls(normal=cells[0], normal_concat=DEFAULT_CONCAT, reduce=cells[1],
                   reduce_concat=DEFAULT_CONCAT)


# --------------------------------------------------------------------------------------
# Parsing (no eval: ast.parse gives a syntax tree, literal_eval reads each field's value)

_USAGE = (
    "expected 'Genotype(normal=[(op, input_node), ...], normal_concat=[2, 3, 4, 5], "
    "reduce=[...], reduce_concat=[2, 3, 4, 5])'"
)


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _field_value(node: ast.AST, field: str) -> Any:
    # ``range(2, 6)`` appears as the concat in some DARTS genotype files
    if (
        field.endswith("_concat")
        and isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
        and not node.keywords
        and 1 <= len(node.args) <= 2
        and all(isinstance(a, ast.Constant) and is_int(a.value) for a in node.args)
    ):
        return list(range(*(a.value for a in node.args)))  # type: ignore[union-attr]
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ArchParseError(
            f"field {field!r} at column {node.col_offset + 1} is not a literal: "
            f"{_short(ast.unparse(node))!r}"
        ) from None


def parse_genotype(text: str | Genotype) -> Genotype:
    """Read a DARTS genotype string (as in SWAP's CSV) without evaluating it.

    Raises :class:`ArchParseError` naming the bad token and where it is: a syntax error, not
    a ``Genotype(...)`` call, a missing, repeated or unknown field, a non-literal value, a
    wrong number of edges, an unknown op, or an input node that the edge's node cannot read.
    """
    if isinstance(text, Genotype):
        return text
    if not isinstance(text, str):
        raise ArchParseError(f"expected a Genotype string, got {type(text).__name__}")
    src = text.strip()
    if not src:
        raise ArchParseError(f"empty architecture string; {_USAGE}")
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as exc:
        raise ArchParseError(
            f"not a Genotype: syntax error ({exc.msg}) at column {exc.offset} of "
            f"{_short(src)!r}; {_USAGE}"
        ) from None
    call = tree.body
    func = getattr(call, "func", None)
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if not isinstance(call, ast.Call) or name != "Genotype":
        raise ArchParseError(f"not a Genotype: {_short(src)!r}; {_USAGE}")
    values: dict[str, Any] = {}
    if len(call.args) > len(FIELDS):
        raise ArchParseError(
            f"Genotype takes {len(FIELDS)} fields ({', '.join(FIELDS)}), got "
            f"{len(call.args)} positional values"
        )
    for field, node in zip(FIELDS, call.args):
        if isinstance(node, ast.Starred):
            raise ArchParseError(f"unexpected '*' argument at column {node.col_offset + 1}")
        values[field] = _field_value(node, field)
    for kw in call.keywords:
        if kw.arg is None:
            raise ArchParseError(f"unexpected '**' argument at column {kw.value.col_offset + 1}")
        if kw.arg not in FIELDS:
            raise ArchParseError(
                f"unknown field {kw.arg!r} at column {kw.col_offset + 1}"
                f"; Genotype fields are {', '.join(FIELDS)}"
            )
        if kw.arg in values:
            raise ArchParseError(f"field {kw.arg!r} given twice")
        values[kw.arg] = _field_value(kw.value, kw.arg)
    missing = [f for f in FIELDS if f not in values]
    if missing:
        raise ArchParseError(
            f"missing field{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
            f"in {_short(src)!r}; {_USAGE}"
        )
    return Genotype(**values)




def with_cell(g: Genotype, field: str, edges: tuple[Edge, ...], tied: bool) -> Genotype:
    """``g`` with cell ``field`` ("normal" or "reduce") replaced by ``edges`` (both cells when
    ``tied``): the one step of every mutation and crossover of a genotype."""
    normal = edges if tied or field == "normal" else g.normal
    reduce = edges if tied or field == "reduce" else g.reduce
    return Genotype(normal, g.normal_concat, reduce, g.reduce_concat)
