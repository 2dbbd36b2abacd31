"""The DARTS cell space as SWAP scores it (``pym1024/SWAP``, ICLR 2024).

Architectures are :class:`~search_spaces.darts_genotype.Genotype` values (see
:mod:`search_spaces.darts_genotype` for the string, its parser and NB301's compact encoding; this
module re-exports those names). This module holds the ops, SWAP's scoring network and the space.

``DartsSpace(network="swap_scorer")`` builds SWAP's scoring network, which is NOT a DARTS
evaluation network (a QUIRK reproduced as is):

* no stem: the 3-channel image is both cell inputs (s0 = s1 = x) and ``C`` (= 3) doubles as
  the number of input channels;
* ``layers=1``: index 0 lies in ``[layers // 3, 2 * layers // 3] = [0, 0]``, so the only cell
  is a *reduction* cell with ``C_curr = 2 * C = 6``; every op on an edge from node 0 or 1
  has stride 2, and the cell outputs 4 * 6 = 24 channels at 16 x 16;
* ``forward`` computes the logits but returns the globally pooled features (S, 24); the
  ``Linear(24, num_classes)`` classifier is counted in the parameters but its output is
  dropped (``return_logits=True`` returns it instead);
* every op is built with ``affine=True`` BatchNorm and no BN after pooling;
* every ReLU is an ``nn.ReLU`` module, where the official ``operations.py`` has one
  (ReLUConvBN: 1, SepConv: 2, DilConv: 1, FactorizedReduce: 1; pools, skip and none: 0),
  because SWAP hooks exactly those modules.

Module and attribute names follow the official ``networks.py`` / ``operations.py`` so that
state dicts are interchangeable.

Speed: the scorer is tiny (0.3-2.7 K parameters, 6 channels), so a forward pass is a few ms
on one CPU thread; with several intra-op threads on a busy machine each op can wait ~100x
longer on OpenMP barriers. Score with ``torch.set_num_threads(1)`` and parallelise over
processes instead.
"""
from __future__ import annotations

import random
from typing import Hashable

import torch
import torch.nn.functional as F
from torch import nn

from search_spaces.base import SearchSpace, TaskInfo, check_mutation_kind, is_int, register_space, sample_distinct
from search_spaces.darts_genotype import (DARTS_OPS, DEFAULT_CONCAT, FIELDS, NB301_OP_IDS, NB301_OPS, NUM_EDGES,
                                          STEPS, Edge, Genotype, parse_genotype, with_cell)
from zc_proxies.errors import UsageError

__all__ = [
    "DARTS_OPS", "NB301_OP_IDS", "NB301_OPS", "STEPS", "NUM_EDGES", "DEFAULT_CONCAT", "FIELDS", "Edge", "Genotype",
    "parse_genotype", "with_cell", "ReLUConvBN", "DilConv", "SepConv", "Identity", "FactorizedReduce", "Zero",
    "Pooling", "make_op", "Cell", "SwapScorerNetwork", "DartsSpace",
]

# --------------------------------------------------------------------------------------
# Ops (pym1024/SWAP src/search_space/operations.py; same module order and names)


class ReLUConvBN(nn.Module):
    def __init__(self, C_in, C_out, kernel_size, stride, padding, dilation, affine,
                 track_running_stats=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride=stride, padding=padding,
                      dilation=dilation, bias=False),
            nn.BatchNorm2d(C_out, affine=affine, track_running_stats=track_running_stats),
        )

    def forward(self, x):
        return self.op(x)


class DilConv(nn.Module):
    """ReLU, dilated depthwise conv, pointwise conv, BN."""

    def __init__(self, C_in, C_out, kernel_size, stride, padding, dilation, affine=True,
                 track_running_stats=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel_size, stride=stride, padding=padding,
                      dilation=dilation, groups=C_in, bias=False),
            nn.Conv2d(C_in, C_out, 1, padding=0, bias=False),
            nn.BatchNorm2d(C_out, affine=affine, track_running_stats=track_running_stats),
        )

    def forward(self, x):
        return self.op(x)


class SepConv(nn.Module):
    """(ReLU, depthwise conv, pointwise conv, BN) twice; only the first depthwise conv strides."""

    def __init__(self, C_in, C_out, kernel_size, stride, padding, affine=True,
                 track_running_stats=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel_size, stride=stride, padding=padding, groups=C_in,
                      bias=False),
            nn.Conv2d(C_in, C_in, 1, padding=0, bias=False),
            nn.BatchNorm2d(C_in, affine=affine, track_running_stats=track_running_stats),
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel_size, stride=1, padding=padding, groups=C_in,
                      bias=False),
            nn.Conv2d(C_in, C_out, 1, padding=0, bias=False),
            nn.BatchNorm2d(C_out, affine=affine, track_running_stats=track_running_stats),
        )

    def forward(self, x):
        return self.op(x)


class Identity(nn.Module):
    def forward(self, x):
        return x


class FactorizedReduce(nn.Module):
    """Stride 2: ReLU, then two 1x1 stride-2 convs on x and on x shifted by one pixel
    (zero-padded right/bottom), concatenated, BN. Stride 1: 1x1 conv and BN, no ReLU applied
    (the ReLU module exists but is unused, as in the official code)."""

    def __init__(self, C_in, C_out, stride=2, affine=True, track_running_stats=True):
        super().__init__()
        self.stride = stride
        self.C_in = C_in
        self.C_out = C_out
        self.relu = nn.ReLU(inplace=False)
        if stride == 2:
            C_outs = [C_out // 2, C_out - C_out // 2]
            self.convs = nn.ModuleList(
                nn.Conv2d(C_in, c, 1, stride=stride, padding=0, bias=False) for c in C_outs
            )
            self.pad = nn.ConstantPad2d((0, 1, 0, 1), 0)
        elif stride == 1:
            self.conv = nn.Conv2d(C_in, C_out, 1, stride=stride, padding=0, bias=False)
        else:
            raise ValueError(f"FactorizedReduce: invalid stride {stride}")
        self.bn = nn.BatchNorm2d(C_out, affine=affine, track_running_stats=track_running_stats)

    def forward(self, x):
        if self.stride == 2:
            x = self.relu(x)
            y = self.pad(x)
            out = torch.cat([self.convs[0](x), self.convs[1](y[:, :, 1:, 1:])], dim=1)
        else:
            out = self.conv(x)
        return self.bn(out)

    def extra_repr(self):
        return f"C_in={self.C_in}, C_out={self.C_out}, stride={self.stride}"


class Zero(nn.Module):
    """``none``: zeros shaped like the strided input (no parameters, no ReLU)."""

    def __init__(self, C_in, C_out, stride):
        super().__init__()
        self.C_in = C_in
        self.C_out = C_out
        self.stride = stride
        self.is_zero = True

    def forward(self, x):
        if self.C_in == self.C_out:
            if self.stride == 1:
                return x.mul(0.0)
            return x[:, :, :: self.stride, :: self.stride].mul(0.0)
        shape = list(x.shape)
        shape[1] = self.C_out
        return x.new_zeros(shape)

    def extra_repr(self):
        return f"C_in={self.C_in}, C_out={self.C_out}, stride={self.stride}"


class Pooling(nn.Module):
    """3x3 max or average pool (``count_include_pad=False``); a ReLUConvBN first only when
    the channel count changes (never inside a cell).

    No BN after the pool by default (SWAP, DARTS evaluation nets). ``bn_after_pool=True``
    adds ``BatchNorm2d(C_out, affine=False)`` after it, as NASLib's NB301 ``MaxPool`` /
    ``AvgPool(use_bn=True)`` do."""

    def __init__(self, C_in, C_out, stride, mode, affine=True, track_running_stats=True,
                 bn_after_pool=False):
        super().__init__()
        if C_in == C_out:
            self.preprocess = None
        else:
            self.preprocess = ReLUConvBN(C_in, C_out, 1, 1, 0, 1, affine, track_running_stats)
        if mode == "avg":
            self.op = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
        elif mode == "max":
            self.op = nn.MaxPool2d(3, stride=stride, padding=1)
        else:
            raise ValueError(f"Pooling: invalid mode {mode!r}")
        self.bn = (nn.BatchNorm2d(C_out, affine=False, track_running_stats=track_running_stats)
                   if bn_after_pool else None)

    def forward(self, x):
        if self.preprocess is not None:
            x = self.preprocess(x)
        x = self.op(x)
        return x if self.bn is None else self.bn(x)


def make_op(name: str, C_in: int, C_out: int, stride: int, affine: bool = True,
            bn_after_pool: bool = False) -> nn.Module:
    """The official ``OPS[name](C_in, C_out, stride, affine)``; ``bn_after_pool`` adds NB301's
    BN(affine=False) after the pools (see :class:`Pooling`)."""
    if name == "none":
        return Zero(C_in, C_out, stride)
    if name == "avg_pool_3x3":
        return Pooling(C_in, C_out, stride, "avg", affine, bn_after_pool=bn_after_pool)
    if name == "max_pool_3x3":
        return Pooling(C_in, C_out, stride, "max", affine, bn_after_pool=bn_after_pool)
    if name == "skip_connect":
        if stride == 1 and C_in == C_out:
            return Identity()
        return FactorizedReduce(C_in, C_out, stride, affine)
    if name == "sep_conv_3x3":
        return SepConv(C_in, C_out, 3, stride, 1, affine)
    if name == "sep_conv_5x5":
        return SepConv(C_in, C_out, 5, stride, 2, affine)
    if name == "dil_conv_3x3":
        return DilConv(C_in, C_out, 3, stride, 2, 2, affine)
    if name == "dil_conv_5x5":
        return DilConv(C_in, C_out, 5, stride, 4, 2, affine)
    raise ValueError(f"unknown DARTS op {name!r}; valid ops: {', '.join(DARTS_OPS)}")


# --------------------------------------------------------------------------------------
# SWAP's scoring network (pym1024/SWAP src/search_space/networks.py)


class Cell(nn.Module):
    """A DARTS cell: preprocessing of the two inputs (ReLUConvBN 1x1, or FactorizedReduce after
    a reduction cell; always affine BN), the genotype's 8 ops, the concat of ``concat`` nodes.

    ``affine`` is the BN affine flag of the ops on the edges (SWAP, DARTS: True; NB301: False)
    and ``bn_after_pool`` adds BN after the pools (NB301's network, as NASLib builds it)."""

    def __init__(self, genotype: Genotype, C_prev_prev, C_prev, C, reduction, reduction_prev,
                 affine: bool = True, bn_after_pool: bool = False):
        super().__init__()
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(C_prev_prev, C)
        else:
            self.preprocess0 = ReLUConvBN(C_prev_prev, C, 1, 1, 0, 1, True)
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0, 1, True)
        edges = genotype.reduce if reduction else genotype.normal
        concat = genotype.reduce_concat if reduction else genotype.normal_concat
        self.reduction = reduction
        self._steps = len(edges) // 2
        self._concat = tuple(concat)
        self.multiplier = len(concat)
        self._indices = tuple(node for _, node in edges)
        self._ops = nn.ModuleList(
            make_op(op, C, C, 2 if reduction and node < 2 else 1, affine, bn_after_pool)
            for op, node in edges
        )

    def forward(self, s0, s1, drop_prob=0.0):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(self._steps):
            op1, op2 = self._ops[2 * i], self._ops[2 * i + 1]
            h1 = op1(states[self._indices[2 * i]])
            h2 = op2(states[self._indices[2 * i + 1]])
            if self.training and drop_prob > 0.0:
                # the official "drop_path" is plain element-wise dropout (never active when
                # scoring: drop_path_prob is 0)
                if not isinstance(op1, Identity):
                    h1 = F.dropout(h1, p=drop_prob)
                if not isinstance(op2, Identity):
                    h2 = F.dropout(h2, p=drop_prob)
            states.append(h1 + h2)
        return torch.cat([states[i] for i in self._concat], dim=1)


class SwapScorerNetwork(nn.Module):
    """``Network(C, num_classes, layers, genotype)`` of the official SWAP code: no stem,
    ``layers`` cells (reductions at indices ``layers // 3`` and ``2 * layers // 3``), input
    channels = ``C``, s0 = s1 = input. Returns the pooled features unless ``return_logits``.
    """

    def __init__(self, C: int, num_classes: int, layers: int, genotype: Genotype,
                 return_logits: bool = False):
        super().__init__()
        self.drop_path_prob = 0.0
        self.return_logits = return_logits
        self._layers = layers
        C_prev_prev, C_prev, C_curr = C, C, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                C_curr *= 2
            cell = Cell(genotype, C_prev_prev, C_prev, C_curr, reduction, reduction_prev)
            reduction_prev = reduction
            self.cells.append(cell)
            C_prev_prev, C_prev = C_prev, cell.multiplier * C_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def forward(self, x):
        s0 = s1 = x
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
        out = self.global_pooling(s1)
        out = out.view(out.size(0), -1)
        # the official forward computes the logits and returns ``out`` (QUIRK); the classifier
        # still runs so that hooks on it fire as they do there
        logits = self.classifier(out)
        return logits if self.return_logits else out

    def cell_modules(self) -> list[nn.Module]:
        """The modules whose outputs are the per-cell features (AZ-NAS): every cell (this
        network has no stem: its first cell reads the input)."""
        return list(self.cells)


# --------------------------------------------------------------------------------------
# The space


@register_space("darts")
class DartsSpace(SearchSpace):
    """DARTS cells (SWAP's CSV: 8 ops including ``none``).

    Options: ``network`` ("swap_scorer" only, for now), ``C`` (= input channels of the
    stem-less scorer, 3), ``layers`` (1), ``ops`` (the ops ``sample`` draws from),
    ``same_cells`` (``sample`` sets reduce = normal, as in all 1000 CSV rows) and
    ``return_logits`` (the scorer returns the unused classifier's logits instead of the
    pooled features that SWAP hooks).
    """

    tasks = {
        "cifar10": TaskInfo("cifar10", 10, (3, 32, 32), loss="cross_entropy"),
        "cifar100": TaskInfo("cifar100", 100, (3, 32, 32), loss="cross_entropy"),
    }

    # conformance checks use logits, so that loss-based proxies are defined (see return_logits)
    small_options = {"return_logits": True}
    # SWAP's own DARTS experiments take Θ of this scoring network (in thousands of parameters):
    # the trained networks of its 1000-network table are not part of the space
    benchmark_options = None

    def __init__(self, network: str = "swap_scorer", C: int = 3, layers: int = 1,
                 ops: tuple = DARTS_OPS, same_cells: bool = True,
                 return_logits: bool = False):
        if network != "swap_scorer":
            raise UsageError(
                f"space 'darts' builds only network='swap_scorer' (SWAP's 1-cell, stem-less "
                f"C=3 scoring net), got {network!r}; the full NB301 training network "
                f"(stem, 8 cells, C=32) arrives with the 'nb301' space"
            )
        if not is_int(C) or C < 1:
            raise UsageError(f"C must be a positive int, got {C!r}")
        if not is_int(layers) or layers < 1:
            raise UsageError(f"layers must be a positive int, got {layers!r}")
        ops = (ops,) if isinstance(ops, str) else tuple(ops)
        bad = [op for op in ops if op not in DARTS_OPS]
        if bad or not ops or len(set(ops)) != len(ops):
            raise UsageError(
                f"ops must be distinct names from {', '.join(DARTS_OPS)}; got {list(ops)}"
            )
        self.network = network
        self.C = C
        self.layers = layers
        self.ops = ops
        self.same_cells = bool(same_cells)
        self.return_logits = bool(return_logits)

    # ---- verbs -----------------------------------------------------------------------
    def parse(self, text: str) -> Genotype:
        return parse_genotype(text)

    def _sample_cell(self, rng: random.Random) -> tuple[Edge, ...]:
        edges = []
        for k in range(STEPS):
            for _ in range(2):
                op = rng.choice(self.ops)
                node = rng.randint(0, k + 1)
                edges.append((op, node))
        return tuple(edges)

    def space_size(self) -> int:
        """Number of distinct genotypes ``sample`` can draw."""
        per_cell = len(self.ops) ** NUM_EDGES
        for k in range(STEPS):
            per_cell *= (k + 2) ** 2
        return per_cell if self.same_cells else per_cell**2

    def sample(self, n: int, seed: int) -> list[Genotype]:
        """``n`` distinct genotypes, drawn with ``random.Random(seed)``: per edge (in order
        normal[0..7], then reduce[0..7] unless ``same_cells``) an op uniform over ``ops``,
        then an input node uniform over 0..k+1 (repeated inputs allowed, as in the CSV);
        duplicates are redrawn. Concats are [2, 3, 4, 5]."""
        rng = random.Random(seed)

        def draw() -> Genotype:
            normal = self._sample_cell(rng)
            reduce = normal if self.same_cells else self._sample_cell(rng)
            return Genotype(normal, DEFAULT_CONCAT, reduce, DEFAULT_CONCAT)

        return sample_distinct(draw, n, self.space_size(), "genotypes")

    def build(self, arch: Hashable, task: str) -> nn.Module:
        info = self.task(task)
        genotype = parse_genotype(arch)  # type: ignore[arg-type]
        if info.input_shape[0] != self.C:
            raise UsageError(
                f"the swap_scorer has no stem, so C={self.C} must equal the input channels "
                f"of task {task!r} ({info.input_shape[0]}); set space_options.C to {info.input_shape[0]}"
            )
        return SwapScorerNetwork(self.C, info.num_classes, self.layers, genotype,
                                 return_logits=self.return_logits)

    # ---- evolution (zcbench search) -------------------------------------------------------
    def mutate(self, arch, rng, kind: str) -> Genotype:
        """``arch`` with exactly one edge changed, drawn with ``rng`` (``random.Random``):

        * ``"op"``: the edge gets another op from ``ops`` (its input node is kept); where no
          edge can change op (a single op already everywhere) a connectivity mutation is made;
        * ``"connectivity"``: the edge reads another input node (edge ``i`` feeds node
          ``i // 2 + 2``, which may read nodes ``0..i // 2 + 1``); its op is kept.

        With ``same_cells`` and reduce == normal (as ``sample`` draws), the same change is made
        in both cells so the genotype stays in the sampled space; otherwise one cell, drawn with
        ``rng``, changes. (SWAP's 1-cell scorer only reads the reduce cell.)
        """
        g = parse_genotype(arch)
        check_mutation_kind(kind)
        tied = self.same_cells and g.normal == g.reduce
        field = "normal" if tied else rng.choice(("normal", "reduce"))
        edges = list(getattr(g, field))
        movable = [i for i, (op, _) in enumerate(edges) if any(o != op for o in self.ops)]
        if kind == "op" and movable:
            i = rng.choice(movable)
            op, node = edges[i]
            edges[i] = (rng.choice([o for o in self.ops if o != op]), node)
        else:
            i = rng.randrange(NUM_EDGES)
            op, node = edges[i]
            edges[i] = (op, rng.choice([n for n in range(i // 2 + 2) if n != node]))
        return with_cell(g, field, tuple(edges), tied)

    def crossover(self, a, b, rng) -> tuple[Genotype, Genotype]:
        """Swap the two incoming edges of one intermediate node (2..5) between ``a`` and
        ``b``; returns both children. The node is drawn with ``rng`` among those whose
        incoming edges differ (among all four when none does); the cell as in :meth:`mutate`
        (both cells when both parents have reduce == normal and ``same_cells``)."""
        a, b = parse_genotype(a), parse_genotype(b)
        tied = self.same_cells and a.normal == a.reduce and b.normal == b.reduce
        field = "normal" if tied else rng.choice(("normal", "reduce"))
        ea, eb = getattr(a, field), getattr(b, field)
        nodes = [n for n in range(2, 2 + STEPS)
                 if ea[2 * (n - 2)] != eb[2 * (n - 2)] or ea[2 * (n - 2) + 1] != eb[2 * (n - 2) + 1]]
        n = rng.choice(nodes or list(range(2, 2 + STEPS)))
        swap = {2 * (n - 2), 2 * (n - 2) + 1}
        c1 = tuple(eb[i] if i in swap else ea[i] for i in range(NUM_EDGES))
        c2 = tuple(ea[i] if i in swap else eb[i] for i in range(NUM_EDGES))
        return with_cell(a, field, c1, tied), with_cell(b, field, c2, tied)
