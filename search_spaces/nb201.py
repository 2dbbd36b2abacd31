"""NAS-Bench-201 as NASLib builds it for zero-cost evaluation.

Two encodings of the same 6 cell edges (QUIRK: they use different edge orders):

* the NB201 string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, grouped by target node:
  (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2) with 0-based nodes;
* NASLib's ``op_indices``, a 6-tuple in edge order (1->2), (1->3), (1->4), (2->3), (2->4),
  (3->4) with 1-based nodes, ops 0=skip_connect, 1=none, 2=nor_conv_3x3, 3=nor_conv_1x1,
  4=avg_pool_3x3. String node ``j<-i`` is NASLib edge ``(i+1 -> j+1)``.

:class:`NB201Arch` holds the ops in string order; ``str(arch)`` is the NB201 string.
"""
from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass

import torch
from torch import nn

from search_spaces.base import (ArchParseError, SearchSpace, TaskInfo, check_mutation_kind, parse_tuple_key,
                                register_space)
from zc_proxies.errors import UsageError

__all__ = [
    "OP_NAMES",
    "NUM_ARCHS",
    "EDGES",
    "NB201Arch",
    "str_to_op_indices",
    "op_indices_to_str",
    "ReLUConvBN",
    "ResNetBasicBlock",
    "NB201Cell",
    "NB201Network",
    "NB201Space",
]

#: Op names, indexed as in NASLib's op_indices.
OP_NAMES: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
_OP_INDEX = {name: i for i, name in enumerate(OP_NAMES)}

#: The 6 edges in NB201 string order, as (target node j, source node i), nodes 0..3.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))

#: Position in the NB201 string of each NASLib edge (1->2),(1->3),(1->4),(2->3),(2->4),(3->4).
#: NASLib edge (u -> v) is string edge (v-1 <- u-1). This permutation is its own inverse.
_NASLIB_TO_STR = tuple(EDGES.index((v - 1, u - 1)) for u, v in ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)))
assert _NASLIB_TO_STR == (0, 1, 3, 2, 4, 5)

NUM_ARCHS = len(OP_NAMES) ** len(EDGES)  # 15625

_FORMAT = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"
_INT_RE = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class NB201Arch:
    """One NB201 cell: 6 op names in NB201 string order (1<-0),(2<-0),(2<-1),(3<-0),(3<-1),(3<-2)."""

    ops: tuple[str, ...]

    def __post_init__(self):
        ops = tuple(self.ops)
        if len(ops) != len(EDGES):
            raise ArchParseError(f"an NB201 cell has {len(EDGES)} edges, got {len(ops)} ops: {ops!r}")
        for k, op in enumerate(ops):
            if op not in _OP_INDEX:
                j, i = EDGES[k]
                raise ArchParseError(
                    f"unknown op {op!r} on edge {j}<-{i}; valid ops: {', '.join(OP_NAMES)}"
                )
        object.__setattr__(self, "ops", ops)

    def __str__(self) -> str:
        o = self.ops
        return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"

    @property
    def op_indices(self) -> tuple[int, ...]:
        """NASLib's 6-tuple, edge order (1->2),(1->3),(1->4),(2->3),(2->4),(3->4)."""
        return tuple(_OP_INDEX[self.ops[p]] for p in _NASLIB_TO_STR)

    @classmethod
    def from_op_indices(cls, op_indices) -> "NB201Arch":
        idx = tuple(op_indices)
        if len(idx) != len(EDGES):
            raise ArchParseError(f"op_indices must have {len(EDGES)} entries, got {len(idx)}: {idx!r}")
        ops = []
        for p in _NASLIB_TO_STR:  # string position k takes NASLib entry _NASLIB_TO_STR[k]
            v = idx[p]
            if isinstance(v, bool) or int(v) != v or not 0 <= int(v) < len(OP_NAMES):
                raise ArchParseError(f"op index {v!r} in {idx!r} is not an integer 0..{len(OP_NAMES) - 1}")
            ops.append(OP_NAMES[int(v)])
        return cls(tuple(ops))

    def edge_op(self, j: int, i: int) -> str:
        """The op on string edge j<-i (nodes 0..3)."""
        return self.ops[EDGES.index((j, i))]


def _parse(text) -> NB201Arch:
    if not isinstance(text, str):
        raise ArchParseError(f"an NB201 architecture string must be a str, got {type(text).__name__}")
    s = text.strip()
    if not s:
        raise ArchParseError(f"empty NB201 architecture string; expected the form '{_FORMAT}'")
    groups = s.split("+")
    if len(groups) != 3:
        raise ArchParseError(
            f"expected 3 nodes separated by '+' (form '{_FORMAT}'), got {len(groups)} in {s!r}"
        )
    ops: list[str] = []
    for j, group in enumerate(groups, start=1):
        if len(group) < 2 or not group.startswith("|") or not group.endswith("|"):
            raise ArchParseError(f"node {j} {group!r} must start and end with '|' (in {s!r})")
        tokens = group[1:-1].split("|")
        if len(tokens) != j:
            raise ArchParseError(
                f"node {j} {group!r} has {len(tokens)} edge(s), expected {j} "
                f"(one per input 0..{j - 1}) (in {s!r})"
            )
        for pos, token in enumerate(tokens, start=1):
            where = f"in node {j} (position {pos} of {group!r})"
            if "~" not in token:
                raise ArchParseError(f"edge {token!r} {where} has no '~'; expected 'op~input'")
            op, _, idx = token.partition("~")
            if op not in _OP_INDEX:
                raise ArchParseError(f"unknown op {op!r} {where}; valid ops: {', '.join(OP_NAMES)}")
            if not _INT_RE.fullmatch(idx):
                raise ArchParseError(f"input index {idx!r} of edge {token!r} {where} is not an integer")
            i = int(idx)
            if i >= j:
                raise ArchParseError(
                    f"input {i} of edge {token!r} {where} is out of range: node {j} takes inputs 0..{j - 1}"
                )
            if i != pos - 1:
                raise ArchParseError(
                    f"input {i} of edge {token!r} {where} is out of order: position {pos} "
                    f"must be input {pos - 1} (form '{_FORMAT}')"
                )
            ops.append(op)
    return NB201Arch(tuple(ops))


def str_to_op_indices(s: str) -> tuple[int, ...]:
    """NB201 string -> NASLib op_indices (NASLib's ``convert_str_to_op_indices``, strict)."""
    return _parse(s).op_indices


def op_indices_to_str(t) -> str:
    """NASLib op_indices -> NB201 string (NASLib's ``convert_op_indices_to_str``)."""
    return str(NB201Arch.from_op_indices(t))


# ----------------------------------------------------------------------------- network


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv(k, stride, pad k//2, no bias) -> BN(affine, running stats)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(c_out, affine=True, track_running_stats=True),
        )


class ResNetBasicBlock(nn.Module):
    """NB201's reduction block: out = shortcut(x) + conv_b(conv_a(x)), stride 2."""

    def __init__(self, c_in: int, c_out: int, stride: int = 2):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


def _make_op(name: str, C: int) -> nn.Module:
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_3x3":
        return ReLUConvBN(C, C, 3)
    if name == "nor_conv_1x1":
        return ReLUConvBN(C, C, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"no module for op {name!r}")  # 'none' is never built


class NB201Cell(nn.Module):
    """Nodes 0..3; node j = sum over i<j of op_{j<-i}(node i); returns node 3.

    ``none`` edges are not built and are left out of the sums; a node whose incoming edges
    are all ``none`` is ``zeros_like`` of the cell input. ``ops`` holds the built edge ops in
    string order, with ``edges[k] = (j, i)`` for ``ops[k]``.
    """

    def __init__(self, arch: NB201Arch, C: int):
        super().__init__()
        self.C = C
        built = [(EDGES[k], op) for k, op in enumerate(arch.ops) if op != "none"]
        self.edges: tuple[tuple[int, int], ...] = tuple(e for e, _ in built)
        self.ops = nn.ModuleList(_make_op(op, C) for _, op in built)
        self._dst = tuple(j for j, _ in self.edges)
        self._src = tuple(i for _, i in self.edges)
        fed = set(self._dst)
        self._zero_nodes = tuple(j for j in (1, 2, 3) if j not in fed)

    def edge_module(self, j: int, i: int) -> nn.Module | None:
        """The module on edge j<-i, or None for a ``none`` edge."""
        for k, e in enumerate(self.edges):
            if e == (j, i):
                return self.ops[k]
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states: list = [x, None, None, None]
        for j in self._zero_nodes:  # no incoming edges: nothing will add into these
            states[j] = torch.zeros_like(x)
        # edges are in string order, i.e. sorted by target node, so every source node is
        # complete before it is read
        for src, dst, op in zip(self._src, self._dst, self.ops):
            y = op(states[src])
            cur = states[dst]
            states[dst] = y if cur is None else cur + y  # never in place: y may alias a node
        return states[3]

    def extra_repr(self) -> str:
        return f"C={self.C}, edges={list(self.edges)}"


class NB201Network(nn.Module):
    """stem -> N cells (C) -> block -> N cells (2C) -> block -> N cells (4C) -> head."""

    def __init__(self, arch: NB201Arch, num_classes: int, C: int = 16, N: int = 5, in_channels: int = 3):
        super().__init__()
        self.arch = arch
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(C),
        )
        layers: list[nn.Module] = []
        c = C
        for stage in range(3):
            if stage > 0:
                layers.append(ResNetBasicBlock(c, 2 * c, stride=2))
                c *= 2
            layers.extend(NB201Cell(arch, c) for _ in range(N))
        self.cells = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=False),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(c, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.cells(self.stem(x)))

    def cell_modules(self) -> list[nn.Module]:
        """The modules whose outputs are the per-cell features (AZ-NAS): the stem, then every
        cell, the two residual reduction blocks included (as AZ-NAS's NB201 network)."""
        return [self.stem, *self.cells]


# ----------------------------------------------------------------------------- space


@register_space("nb201")
class NB201Space(SearchSpace):
    """NAS-Bench-201: 15625 cells, 5 ops on 6 edges; C channels in the first stage, N cells per stage."""

    nbsuite_zero_file = "zc_nasbench201.json"

    tasks = {
        "cifar10": TaskInfo("cifar10", 10, (3, 32, 32), "cross_entropy"),
        "cifar100": TaskInfo("cifar100", 100, (3, 32, 32), "cross_entropy"),
        "ImageNet16-120": TaskInfo("ImageNet16-120", 120, (3, 16, 16), "cross_entropy"),
        # the embedded benchmark (search_spaces/embedded/): grey images replicated to 3 channels
        "fashion-mnist": TaskInfo("fashion-mnist", 10, (3, 28, 28), "cross_entropy"),
    }
    small_options = {"C": 4, "N": 1}
    benchmark_options = {"C": 16, "N": 5}  # NAS-Bench-201's trained networks
    small_input_size = 8

    def __init__(self, C: int = 16, N: int = 5):
        for name, v in (("C", C), ("N", N)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise UsageError(f"NB201 option {name} must be a positive int, got {v!r}")
        self.C = C
        self.N = N

    def parse(self, text: str) -> NB201Arch:
        return _parse(text)

    def sample(self, n: int, seed) -> list[NB201Arch]:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= NUM_ARCHS:
            raise UsageError(f"can sample 1..{NUM_ARCHS} distinct NB201 architectures, asked for {n!r} (archs.n)")
        rng = random.Random(seed)
        return [self.from_index(k) for k in rng.sample(range(NUM_ARCHS), n)]

    @staticmethod
    def from_index(k: int) -> NB201Arch:
        """Architecture number ``k`` (0..15624) in op-index order (base-5 digits of k, most
        significant first, are the op_indices)."""
        if not 0 <= k < NUM_ARCHS:
            raise UsageError(f"NB201 index must be in 0..{NUM_ARCHS - 1}, got {k}")
        digits = []
        for _ in EDGES:
            k, d = divmod(k, len(OP_NAMES))
            digits.append(d)
        return NB201Arch.from_op_indices(reversed(digits))

    @staticmethod
    def all_archs() -> list[NB201Arch]:
        """All 15625 architectures in op-index (lexicographic) order."""
        return [NB201Arch.from_op_indices(t) for t in itertools.product(range(len(OP_NAMES)), repeat=len(EDGES))]

    def build(self, arch, task: str) -> NB201Network:
        if isinstance(arch, str):
            arch = _parse(arch)
        if not isinstance(arch, NB201Arch):
            raise TypeError(f"expected an NB201Arch or NB201 string, got {type(arch).__name__}")
        info = self.task(task)
        return NB201Network(arch, info.num_classes, C=self.C, N=self.N, in_channels=info.input_shape[0])

    def zc_key(self, arch) -> str:
        """NASLib's op_indices as a string, e.g. ``"(4, 0, 3, 1, 4, 3)"``."""
        return str(_evo_arch(arch).op_indices)

    def from_zc_key(self, key: str) -> NB201Arch:
        idx = parse_tuple_key(key, "NASLib op_indices, 6 integers 0..4 such as '(4, 0, 3, 1, 4, 3)'")
        try:
            return NB201Arch.from_op_indices(idx)
        except ValueError as exc:
            raise ArchParseError(f"NAS-Bench-Suite-Zero key {key!r}: {exc}") from None

    # ---- evolution (zcbench search) -------------------------------------------------------
    def mutate(self, arch, rng, kind: str) -> NB201Arch:
        """``arch`` with exactly one edge changed, drawn with ``rng`` (``random.Random``).

        The NB201 DAG is fixed (every node reads every earlier node), so the two kinds are:

        * ``"op"``: an edge whose op is not ``none`` gets another op that is not ``none``
          (a cell whose edges are all ``none`` gets a connectivity mutation instead);
        * ``"connectivity"``: an edge is switched off (op -> ``none``) or on (``none`` -> an
          op other than ``none``).
        """
        arch = _evo_arch(arch)
        check_mutation_kind(kind)
        ops = list(arch.ops)
        live = [k for k, op in enumerate(ops) if op != "none"]
        if kind == "op" and live:
            k = rng.choice(live)
            ops[k] = rng.choice([op for op in _EVO_LIVE_OPS if op != ops[k]])
        else:
            k = rng.randrange(len(ops))
            ops[k] = rng.choice(_EVO_LIVE_OPS) if ops[k] == "none" else "none"
        return NB201Arch(tuple(ops))

    def crossover(self, a, b, rng) -> tuple[NB201Arch, NB201Arch]:
        """Swap the incoming edges of one node between ``a`` and ``b``; returns both children.

        The node (1, 2 or 3) is drawn with ``rng`` among those whose incoming edges differ
        between the parents (among all three when the parents are equal).
        """
        a, b = _evo_arch(a), _evo_arch(b)
        nodes = [j for j in (1, 2, 3)
                 if any(a.ops[k] != b.ops[k] for k, (dst, _) in enumerate(EDGES) if dst == j)]
        j = rng.choice(nodes or [1, 2, 3])
        swap = {k for k, (dst, _) in enumerate(EDGES) if dst == j}
        c1 = tuple(b.ops[k] if k in swap else a.ops[k] for k in range(len(EDGES)))
        c2 = tuple(a.ops[k] if k in swap else b.ops[k] for k in range(len(EDGES)))
        return NB201Arch(c1), NB201Arch(c2)


_EVO_LIVE_OPS = tuple(op for op in OP_NAMES if op != "none")


def _evo_arch(arch) -> NB201Arch:
    if isinstance(arch, NB201Arch):
        return arch
    if isinstance(arch, str):
        return _parse(arch)
    raise TypeError(f"expected an NB201Arch or NB201 string, got {type(arch).__name__}")
