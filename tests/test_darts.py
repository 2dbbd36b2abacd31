"""The DARTS space: genotype strings, the NB301 compact encoding, sampling, and SWAP's
1-cell scoring network (pym1024/SWAP ``networks.py`` / ``operations.py``)."""
from __future__ import annotations

import csv
import dataclasses
import statistics

import pytest
import torch
from torch import nn

from search_spaces.base import ArchParseError, get_space
from search_spaces.darts import (
    DARTS_OPS,
    NB301_OPS,
    DartsSpace,
    FactorizedReduce,
    Genotype,
    Identity,
    Pooling,
    SwapScorerNetwork,
    Zero,
    parse_genotype,
)

from tests.conftest import DARTS_CSV as CSV  # ../shared/data beside the project
from zc_proxies.probe import forward_with_hooks
needs_csv = pytest.mark.skipif(
    not CSV.is_file(),
    reason=f"reference data {CSV} is absent (it lives in ../shared/data beside the project, "
    "not in a user's clone)",
)

ROW0 = (
    "Genotype(normal=[('none', 0), ('dil_conv_5x5', 0), ('sep_conv_5x5', 0), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('dil_conv_5x5', 2), ('sep_conv_5x5', 3), "
    "('skip_connect', 4)], normal_concat=[2, 3, 4, 5], reduce=[('none', 0), "
    "('dil_conv_5x5', 0), ('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), "
    "('dil_conv_5x5', 2), ('sep_conv_5x5', 3), ('skip_connect', 4)], reduce_concat=[2, 3, 4, 5])"
)
CELL7 = [
    ("sep_conv_5x5", 0), ("sep_conv_5x5", 1), ("max_pool_3x3", 2), ("dil_conv_5x5", 2),
    ("dil_conv_3x3", 0), ("none", 0), ("skip_connect", 2), ("none", 4),
]  # CSV row 7
ROW7 = str(Genotype(CELL7, [2, 3, 4, 5], CELL7, [2, 3, 4, 5]))
CELL_NO_NONE = [
    ("max_pool_3x3", 0), ("avg_pool_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 2),
    ("sep_conv_5x5", 1), ("dil_conv_3x3", 3), ("dil_conv_5x5", 4), ("skip_connect", 2),
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These networks are tiny: with 2 intra-op threads on a 2-core machine that is busy with
    anything else, every op waits on an OpenMP barrier (about 100x slower per op)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def rows() -> list[tuple[str, float]]:
    if not CSV.is_file():
        pytest.skip(f"reference data {CSV} is absent")
    with CSV.open(newline="") as f:
        return [(r[0], float(r[1])) for r in csv.reader(f)]


@pytest.fixture(scope="module")
def space() -> DartsSpace:
    return DartsSpace()


# ---- genotype strings ------------------------------------------------------------------


@needs_csv
def test_every_csv_row_parses_and_round_trips(rows):
    assert len(rows) == 1000
    seen = set()
    for text, _ in rows:
        g = parse_genotype(text)
        assert str(g) == text
        assert parse_genotype(str(g)) == g
        assert g.normal == g.reduce  # true of all 1000 rows
        seen.add(g)
    assert len(seen) == 1000
    assert {op for g in seen for op, _ in g.normal} == set(DARTS_OPS)


def test_genotype_value_semantics():
    g = parse_genotype(ROW0)
    assert str(g) == ROW0 and repr(g) == ROW0
    assert g.normal[0] == ("none", 0) and g.normal_concat == (2, 3, 4, 5)
    same = Genotype(list(g.normal), [2, 3, 4, 5], [list(e) for e in g.reduce], range(2, 6))
    assert same == g and hash(same) == hash(g) and len({g, same}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.normal = ()  # type: ignore[misc]
    assert DartsSpace().parse(ROW0) == g
    # whitespace, positional fields and range(2, 6) are accepted; the canonical form is not
    loose = ROW0.replace("normal=", "").replace("normal_concat=[2, 3, 4, 5]", "range(2, 6)")
    loose = "  " + loose.replace("reduce=", "").replace("reduce_concat=", "") + "\n"
    assert parse_genotype(loose) == g


@pytest.mark.parametrize(
    "text, needle",
    [
        (ROW0.replace("('sep_conv_3x3', 1), ('sep_conv_3x3', 1)",
                      "('sep_conv_7x7', 1), ('sep_conv_3x3', 1)", 1),
         "unknown op 'sep_conv_7x7' at normal[3]; valid ops: none, max_pool_3x3"),
        (ROW0.replace("('sep_conv_5x5', 0), ('sep_conv_3x3', 1)",
                      "('sep_conv_5x5', 4), ('sep_conv_3x3', 1)", 1),
         "input node 4 at normal[2]"),
        (ROW0.replace("('none', 0)", "('none', 1)", 1).replace(
            "('dil_conv_5x5', 0)", "('dil_conv_5x5', 2)", 1),
         "feed node 2, which may take inputs 0..1"),
        (ROW0.replace("('skip_connect', 4)", "('skip_connect', -1)"), "input node -1 at normal[7]"),
        (ROW0.replace("('skip_connect', 4)", "('skip_connect', 2.0)"), "input node 2.0 at normal[7]"),
        (ROW0.replace(", ('skip_connect', 4)]", "]"), "has 7 edges; a DARTS cell has 8"),
        (ROW0.replace("('skip_connect', 4)]", "('skip_connect', 4), ('none', 0)]"),
         "has 9 edges"),
        (ROW0.replace("('none', 0)", "('none', 0, 1)", 1), "normal[0] is not an (op, input_node) pair"),
        (ROW0.replace("('none', 0)", "(3, 0)", 1), "op at normal[0] must be a string"),
        (ROW0.replace(", reduce_concat=[2, 3, 4, 5]", ""), "missing field 'reduce_concat'"),
        (ROW0.replace("normal_concat=", "normal_cat="), "unknown field 'normal_cat'"),
        (ROW0.replace("reduce_concat=[2, 3, 4, 5]", "reduce_concat=[2, 3, 4, 5], reduce=[]"),
         "field 'reduce' given twice"),
        (ROW0.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[1, 2, 3]"),
         "node 1 in normal_concat"),
        (ROW0.replace("reduce_concat=[2, 3, 4, 5]", "reduce_concat=[2, 2]"), "repeats a node"),
        (ROW0.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=list(x)"), "is not a literal"),
        (ROW0.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=__import__('os')"),
         "is not a literal"),
        (ROW0[:-1], "syntax error"),
        (ROW0.replace("Genotype(", "Genome("), "not a Genotype"),
        ("|nor_conv_3x3~0|+|skip_connect~0|none~1|", "not a Genotype"),
        (f'"{ROW0}",85.0', "not a Genotype"),
        ("((0, 1), (1, 2))", "not a Genotype"),
        ("", "empty architecture string"),
        ("Genotype(normal=3, normal_concat=[2], reduce=[], reduce_concat=[2])",
         "field 'normal' must be a list of 8"),
    ],
)
def test_parse_errors_name_the_bad_token(text, needle):
    with pytest.raises(ArchParseError) as info:
        parse_genotype(text)
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError)


def test_parse_rejects_non_strings():
    with pytest.raises(ArchParseError, match="expected a Genotype string, got int"):
        parse_genotype(3)  # type: ignore[arg-type]


# ---- NB301 compact encoding ------------------------------------------------------------


def test_compact_round_trip_and_ids():
    g = Genotype(CELL_NO_NONE, [2, 3, 4, 5], list(reversed(CELL_NO_NONE[:2])) + CELL_NO_NONE[2:],
                 [2, 3, 4, 5])
    c = g.to_compact()
    assert c[0] == ((0, 0), (1, 1), (0, 2), (2, 3), (1, 4), (3, 5), (4, 6), (2, 2))
    assert c[1][:2] == ((1, 1), (0, 0))
    assert Genotype.from_compact(c) == g
    assert Genotype.from_compact(str(c)) == g
    assert Genotype.from_compact([list(map(list, cell)) for cell in c]) == g
    assert NB301_OPS == ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                         "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
    for h in DartsSpace(ops=NB301_OPS, same_cells=False).sample(50, seed=3):
        assert Genotype.from_compact(h.to_compact()) == h


def test_compact_errors():
    with pytest.raises(ValueError, match=r"op 'none' at normal\[0\] has no NB301 compact id"):
        parse_genotype(ROW0).to_compact()
    g = Genotype(CELL_NO_NONE, [2, 3, 4], CELL_NO_NONE, [2, 3, 4, 5])
    with pytest.raises(ValueError, match="normal_concat"):
        g.to_compact()
    good = Genotype(CELL_NO_NONE, [2, 3, 4, 5], CELL_NO_NONE, [2, 3, 4, 5]).to_compact()
    bad = (tuple(good[0][:7]) + ((4, 7),), good[1])
    with pytest.raises(ArchParseError, match=r"unknown NB301 op id 7 at compact normal\[7\]"):
        Genotype.from_compact(bad)
    with pytest.raises(ArchParseError, match="has 7 edges"):
        Genotype.from_compact((good[0][:7], good[1]))
    with pytest.raises(ArchParseError, match="input node 5 at reduce"):
        Genotype.from_compact((good[0], good[1][:7] + ((5, 0),)))
    with pytest.raises(ArchParseError):
        Genotype.from_compact("((0, 1)")


# ---- sampling --------------------------------------------------------------------------


def test_sample_is_deterministic_distinct_and_parses(space):
    a = space.sample(200, seed=7)
    assert a == space.sample(200, seed=7)
    assert a[:50] == space.sample(50, seed=7)
    assert a != space.sample(200, seed=8)
    assert len(set(a)) == 200
    for g in a:
        assert isinstance(g, Genotype)
        assert parse_genotype(str(g)) == g
        assert g.normal == g.reduce and g.normal_concat == g.reduce_concat == (2, 3, 4, 5)
    # inputs cover 0..k+1 for every node, and every op occurs
    for k in range(4):
        inputs = {g.normal[2 * k + j][1] for g in a for j in (0, 1)}
        assert inputs == set(range(k + 2))
    assert {op for g in a for op, _ in g.normal} == set(DARTS_OPS)
    # repeated inputs to a node occur (as in the CSV)
    assert any(g.normal[2 * k][1] == g.normal[2 * k + 1][1] for g in a for k in range(4))


def test_sample_options():
    indep = DartsSpace(same_cells=False).sample(20, seed=0)
    assert sum(g.normal != g.reduce for g in indep) == 20
    few = DartsSpace(ops=("sep_conv_3x3", "none")).sample(30, seed=1)
    assert {op for g in few for op, _ in g.normal} == {"sep_conv_3x3", "none"}
    tiny = DartsSpace(ops=("none",))
    assert tiny.space_size() == 14400
    with pytest.raises(ValueError, match="cannot draw 14401 distinct"):
        tiny.sample(14401, seed=0)
    assert DartsSpace().sample(0, seed=0) == []


def test_space_registry_and_options():
    sp = get_space("darts")
    assert isinstance(sp, DartsSpace) and sp.name == "darts"
    assert sp.ops == DARTS_OPS and sp.C == 3 and sp.layers == 1
    assert sp.task("cifar10").num_classes == 10 and sp.task("cifar100").num_classes == 100
    assert sp.task("cifar10").input_shape == (3, 32, 32)
    assert sp.task("cifar10").loss == "cross_entropy"
    with pytest.raises(ValueError, match="arrives with the 'nb301' space"):
        DartsSpace(network="nb301")
    with pytest.raises(ValueError, match="ops must be distinct names"):
        DartsSpace(ops=("sep_conv_7x7",))
    with pytest.raises(ValueError, match="no task"):
        sp.build(ROW0, "imagenet")


# ---- SWAP's scoring network ------------------------------------------------------------


def _relus_expected(cell) -> int:
    """ReLU modules that fire in SWAP's reduction cell: 2 preprocess + per edge
    sep 2, dil 1, skip from node 0/1 (FactorizedReduce) 1, others 0."""
    n = 2
    for op, node in cell:
        n += {"sep": 2, "dil": 1}.get(op[:3], 0) + (op == "skip_connect" and node < 2)
    return n


def test_network_structure_matches_official(space):
    g = parse_genotype(ROW0)
    net = space.build(g, "cifar10")
    assert isinstance(net, SwapScorerNetwork)
    assert len(net.cells) == 1
    cell = net.cells[0]
    assert cell.reduction
    assert [name for name, _ in net.named_children()] == ["cells", "global_pooling", "classifier"]
    assert [name for name, _ in cell.named_children()] == ["preprocess0", "preprocess1", "_ops"]
    # preprocess: ReLU, Conv 1x1 3->6, BN(affine): 18 + 12 = 30 parameters each
    for pre in (cell.preprocess0, cell.preprocess1):
        assert [type(m) for m in pre.op] == [nn.ReLU, nn.Conv2d, nn.BatchNorm2d]
        assert sum(p.numel() for p in pre.parameters()) == 30
    assert net.classifier.in_features == 24 and net.classifier.out_features == 10
    assert sum(p.numel() for p in net.classifier.parameters()) == 250
    # every BN is affine with running stats; every ReLU is a module and not in place
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(m.affine and m.track_running_stats for m in bns)
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == _relus_expected(g.reduce) == 12
    assert not any(m.inplace for m in relus)
    # the first depthwise conv of edges from nodes 0/1 has stride 2, others stride 1
    for (op, node), mod in zip(g.reduce, cell._ops):
        if op.startswith(("sep", "dil")):
            assert mod.op[1].stride == ((2, 2) if node < 2 else (1, 1))
        if op == "none":
            assert isinstance(mod, Zero) and mod.stride == (2 if node < 2 else 1)
        if op == "skip_connect":
            assert isinstance(mod, FactorizedReduce if node < 2 else Identity)


def test_pooling_has_no_bn_and_skip_reduces():
    g = parse_genotype(ROW7)
    net = DartsSpace().build(g, "cifar10")
    pools = [m for m in net.modules() if isinstance(m, Pooling)]
    assert len(pools) == 1 and pools[0].preprocess is None
    assert list(pools[0].children()) == [pools[0].op]
    assert isinstance(pools[0].op, nn.MaxPool2d)
    cell = [(op, 0) for op, _ in CELL_NO_NONE]  # every edge from node 0: stride 2
    net = DartsSpace().build(Genotype(cell, [2, 3, 4, 5], cell, [2, 3, 4, 5]), "cifar10")
    ops = net.cells[0]._ops
    assert isinstance(ops[1].op, nn.AvgPool2d) and ops[1].op.count_include_pad is False
    fr = ops[2]
    assert isinstance(fr, FactorizedReduce) and fr.stride == 2
    assert sum(p.numel() for p in fr.parameters()) == 2 * 3 * 6 + 12


def test_output_shapes():
    x = torch.randn(5, 3, 32, 32)
    sp = DartsSpace()
    g = parse_genotype(ROW0)
    net = sp.build(g, "cifar10")
    with torch.no_grad():
        assert net(x).shape == (5, 24)
        assert net.cells[0](x, x).shape == (5, 24, 16, 16)
        assert DartsSpace(return_logits=True).build(g, "cifar10")(x).shape == (5, 10)
        assert DartsSpace(return_logits=True).build(g, "cifar100")(x).shape == (5, 100)
        assert sp.build(ROW0, "cifar100")(x).shape == (5, 24)  # build accepts the string
        # layers > 1 follows the official macro layout (reductions at layers//3, 2*layers//3)
        deep = DartsSpace(layers=3).build(g, "cifar10")
        assert [c.reduction for c in deep.cells] == [False, True, True]
        assert deep(x).shape == (5, 48)


def _gaussian_init(net: nn.Module) -> None:
    """SWAP's network_weight_gaussian_init."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def _swap(net: nn.Module, x: torch.Tensor) -> tuple[int, int, int]:
    """(SWAP-Score, hooked ReLU calls, V) as the ICLR code computes them."""
    feats: list[torch.Tensor] = []

    def hook(_m, inp, out):
        if inp[0].dim() == 4:
            feats.append(out.detach())

    forward_with_hooks(net, x, [(m, hook) for m in net.modules() if isinstance(m, nn.ReLU)])
    a = torch.cat([f.reshape(x.size(0), -1) for f in feats], 1).sign().T
    return torch.unique(a, dim=0).size(0), len(feats), a.size(0)


@pytest.mark.parametrize(
    "text, expected",
    # computed with the official pym1024/SWAP Network (commit f6049f7) under the same
    # seed, init and input; V counts the ReLU outputs (2 x 3x32x32 for the preprocess)
    [(ROW0, (19605, 12, 39936)), (ROW7, (16365, 8, 29184))],
)
def test_swap_values_match_official_network(text, expected):
    net = DartsSpace().build(text, "cifar10")
    torch.manual_seed(0)
    _gaussian_init(net)  # draws in module order, so this also checks the module order
    x = torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    psi, calls, v = _swap(net, x)
    assert (calls, v) == expected[1:]
    assert calls == _relus_expected(parse_genotype(text).reduce)
    assert abs(psi - expected[0]) <= 2  # sign flips of values within rounding of 0


@needs_csv
def test_parameter_counts_over_csv(rows, space):
    """Theta (K) over the 1000 scoring nets spans 0.31 to 2.69, median 1.21."""
    counts = []
    for text, _ in rows:  # about 4 ms per build (module construction), no forward
        net = space.build(text, "cifar10")
        counts.append(
            sum(p.numel() for n, p in net.named_parameters() if "auxiliary" not in n) / 1e3
        )
    assert round(min(counts), 2) == 0.31
    assert round(max(counts), 2) == 2.69
    assert round(statistics.median(counts), 2) == 1.21
    # the same count through the space's own helper
    assert space.num_params(rows[0][0], "cifar10") == round(counts[0] * 1e3)
    # per-op sizes at C_curr = 6: base 310 = 250 classifier + 2 x 30 preprocess
    base = 310
    per_op = {"none": 0, "max_pool_3x3": 0, "avg_pool_3x3": 0, "skip_connect": 48,
              "sep_conv_3x3": 204, "sep_conv_5x5": 396, "dil_conv_3x3": 102, "dil_conv_5x5": 198}
    for (text, _), k in zip(rows[:50], counts):
        g = parse_genotype(text)
        expect = base + sum(0 if (op == "skip_connect" and node >= 2) else per_op[op]
                            for op, node in g.reduce)
        assert round(k * 1e3) == expect
