"""NAS-Bench-101 (Ying et al., 2019) as NASLib builds and keys it for zero-cost evaluation.

The family lives in four modules: this one (the space, its options and sampling),
:mod:`search_spaces.nb101_graph` (cells as graphs: pruning, canonical order, hash, strings and
NAS-Bench-Suite-Zero keys), :mod:`search_spaces.nb101_nets` (the network) and
:mod:`search_spaces.nb101_readers` (the ground-truth pickle). This module re-exports the family's
public names, so ``from search_spaces.nb101 import NB101Arch`` keeps working.
"""
from __future__ import annotations

import random
from typing import Any, Sequence

from search_spaces.base import ArchParseError, SearchSpace, TaskInfo, register_space
from search_spaces.nb101_graph import (CONV1X1, CONV3X3, INPUT, MAX_EDGES, MAX_VERTICES, MAXPOOL3X3, NUM_ARCHS, OPS,
                                       OUTPUT, ZC_OPS, NB101Arch, arch_from_zc_key, module_hash, parse_arch)
from search_spaces.nb101_nets import ConvBnRelu, GlobalAvgPool, NB101Cell, NB101Network, vertex_channels
from search_spaces.nb101_readers import NB101_PKL_URL, REPEATS, read_nb101_pickle
from zc_proxies.errors import UsageError

__all__ = [
    "INPUT", "OUTPUT", "CONV3X3", "CONV1X1", "MAXPOOL3X3", "OPS", "ZC_OPS", "MAX_VERTICES", "MAX_EDGES",
    "NUM_ARCHS", "NB101Arch", "module_hash", "vertex_channels", "ConvBnRelu", "NB101Cell",
    "GlobalAvgPool", "NB101Network", "NB101Space", "parse_arch", "arch_from_zc_key", "read_nb101_pickle", "REPEATS",
    "NB101_PKL_URL",
]


def _positive_int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise UsageError(f"NB101 option {name} must be a positive int, got {v!r}")
    return v


@register_space("nb101")
class NB101Space(SearchSpace):
    """NAS-Bench-101: cells of at most 7 vertices and 9 edges, 3 interior ops; the network has
    ``stem_channels`` (128), ``num_stacks`` (3) stacks of ``num_cells`` (3) cells;
    ``canonical_order`` (True): one value per isomorphism class (see search_spaces/nb101_graph.py)."""

    nbsuite_zero_file = "zc_nasbench101.json"

    tasks = {"cifar10": TaskInfo("cifar10", 10, (3, 32, 32), "cross_entropy")}
    small_options = {"stem_channels": 8, "num_stacks": 1, "num_cells": 1}
    small_input_size = 8

    def __init__(self, stem_channels: int = 128, num_stacks: int = 3, num_cells: int = 3,
                 canonical_order: bool = True):
        self.stem_channels = _positive_int("stem_channels", stem_channels)
        self.num_stacks = _positive_int("num_stacks", num_stacks)
        self.num_cells = _positive_int("num_cells", num_cells)
        if not isinstance(canonical_order, bool):
            raise UsageError(f"NB101 option canonical_order must be true or false, got {canonical_order!r}")
        self.canonical_order = canonical_order

    def parse(self, text: str) -> NB101Arch:
        return parse_arch(text, self.canonical_order)

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
            raise UsageError(f"can sample 1..{NUM_ARCHS} distinct NB101 architectures, asked for {n!r} (archs.n)")
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
                    raise UsageError(f"found only {len(out)} distinct NB101 cells after many draws; ask for fewer")
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
        return arch_from_zc_key(key, self.canonical_order)
