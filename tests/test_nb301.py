"""NAS-Bench-301 space: genotype / compact encodings, sampling, the NB301 network,
NB-Suite-Zero json ground truth, the nasbench301 surrogate adapter, the study."""
from __future__ import annotations

import json
import random
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from search_spaces import get_space
from search_spaces.base import ArchParseError, seeded_build
from search_spaces.darts import FactorizedReduce, Pooling
from search_spaces.ground_truth import (
    FORMATS,
    GroundTruthError,
    GroundTruthNotFoundError,
    NBSZ_URL,
    formats_for,
    join,
    read_ground_truth,
)
from search_spaces.nb301 import (
    NB301_MODELS_URL,
    NB301_OPS,
    NB301Network,
    SurrogateUnavailableError,
    load_surrogate,
    nb301_genotype,
    predict_surrogate,
    surrogate_ground_truth,
)

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)

#: DARTS_V2 (Liu et al. 2019), in the DARTS paper's edge order
DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
            "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
            "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
            "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
            "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))")
#: its compact tuple as NASLib's convert_genotype_to_compact writes it: (input_node, op_id) per
#: edge in genotype order, op ids 0=max_pool_3x3 1=avg_pool_3x3 2=skip_connect 3=sep_conv_3x3
#: 4=sep_conv_5x5 5=dil_conv_3x3 6=dil_conv_5x5
DARTS_V2_NASLIB = ("(((0, 3), (1, 3), (0, 3), (1, 3), (1, 3), (0, 2), (0, 2), (2, 5)), "
                   "((0, 0), (1, 0), (2, 2), (1, 0), (0, 0), (2, 2), (2, 2), (1, 0)))")
#: the same genotype with each node's edges ordered by input node, as every key of
#: zc_nasbench301.json is: the canonical key
DARTS_V2_KEY = ("(((0, 3), (1, 3), (0, 3), (1, 3), (0, 2), (1, 3), (0, 2), (2, 5)), "
                "((0, 0), (1, 0), (1, 0), (2, 2), (0, 0), (2, 2), (1, 0), (2, 2)))")


@pytest.fixture(scope="module")
def space():
    return get_space("nb301")


@pytest.fixture(scope="module")
def small():
    cls = get_space("nb301").__class__
    return get_space("nb301", **cls.small_options)


# ----------------------------------------------------------------------------- encodings


def test_genotype_and_compact_round_trips(space):
    g = space.parse(DARTS_V2)
    assert space.zc_key(g) == DARTS_V2_KEY
    assert space.from_zc_key(DARTS_V2_KEY) == g
    assert space.from_zc_key(DARTS_V2_NASLIB) == g  # another edge order, the same network
    assert space.parse(DARTS_V2_KEY) == g == space.parse(DARTS_V2_NASLIB)
    assert space.parse(str(g)) == g and str(space.parse(str(g))) == str(g)
    # canonical order: node 4 of the normal cell reads 0 (skip) then 1 (sep_conv_3x3)
    assert g.normal[4:6] == (("skip_connect", 0), ("sep_conv_3x3", 1))
    assert g.normal_concat == g.reduce_concat == (2, 3, 4, 5)
    for a in space.sample(20, seed=3):
        key = space.zc_key(a)
        assert space.from_zc_key(key) == a and space.parse(key) == a and space.parse(str(a)) == a
        assert key == str(a.to_compact())


def test_none_is_rejected_with_the_quirk_named(space):
    bad = DARTS_V2.replace("('sep_conv_3x3', 0)", "('none', 0)", 1)
    with pytest.raises(ArchParseError, match=r"op 'none' at normal\[0\]: NAS-Bench-301 has no 'none' op.*belong to the 'darts' space"):
        space.parse(bad)
    with pytest.raises(ArchParseError, match="no 'none' op"):
        space.build(get_space("darts").parse(bad), "cifar10")
    # the darts space (SWAP's CSV) keeps accepting it
    assert get_space("darts").parse(bad).normal[0] == ("none", 0)


@pytest.mark.parametrize("text, match", [
    (DARTS_V2.replace("dil_conv_3x3", "conv_7x7"),
     r"unknown op 'conv_7x7' at normal\[7\]; valid ops: max_pool_3x3, avg_pool_3x3, skip_connect, "
     r"sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5$"),
    (DARTS_V2.replace("('sep_conv_3x3', 1), ('sep_conv_3x3', 0)", "('sep_conv_3x3', 0), ('sep_conv_3x3', 0)", 1),
     r"normal\[0\] and normal\[1\] both read node 0: in NAS-Bench-301 node 2 reads 2 distinct nodes of 0\.\.1"),
    (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[4, 5]"),
     r"normal_concat=\[4, 5\]: NAS-Bench-301 cells always concatenate nodes \[2, 3, 4, 5\]"),
    ("", "empty architecture string"),
    ("(((0, 3),), ((0, 3),))", r"is not an NB301 compact genotype; expected \(\(8 x \(input_node, op_id\)\)"),
    (DARTS_V2_KEY.replace("(2, 5)", "(2, 7)"), r"unknown NB301 op id 7 at compact normal\[7\]; valid ids: 0=max_pool_3x3"),
    (DARTS_V2_KEY.replace("(2, 5)", "(5, 5)"), r"input node 5 at normal\[7\].*feed node 5, which may take inputs 0\.\.4"),
    (DARTS_V2_KEY.replace("(2, 5)", "(2, 'x')"), "is not a NAS-Bench-Suite-Zero key"),
    (DARTS_V2_KEY.replace("(2, 5)", "(2, 5, 1)"), r"compact normal\[7\] = \(2, 5, 1\) is not an \(input_node, op_id\)"),
    ("(((0, 3), (1, 3)", "is not a NAS-Bench-Suite-Zero key; expected an NB301 compact genotype"),
])
def test_bad_inputs_say_what_is_wrong(space, text, match):
    with pytest.raises(ArchParseError, match=match):
        space.parse(text)


def test_bad_zc_keys_name_the_key(space):
    with pytest.raises(ArchParseError, match=r"NAS-Bench-Suite-Zero key .*both read node 0"):
        space.from_zc_key(DARTS_V2_KEY.replace("((0, 3), (1, 3), (0, 3)", "((0, 3), (0, 4), (0, 3)", 1))
    with pytest.raises(ArchParseError, match="is not a NAS-Bench-Suite-Zero key"):
        space.from_zc_key(DARTS_V2)  # a genotype string is not a zc key
    with pytest.raises(ArchParseError, match="a zc_nasbench301.json key is a string"):
        space.from_zc_key(((0, 1),))
    with pytest.raises(ArchParseError):
        nb301_genotype(3.5)


# ----------------------------------------------------------------------------- sampling


def test_sample_is_seeded_distinct_and_in_the_space(space):
    a, b, c = space.sample(200, seed=0), space.sample(200, seed=0), space.sample(200, seed=1)
    assert a == b and a != c and len(set(a)) == 200
    for g in a:
        assert nb301_genotype(g) == g  # canonical, no 'none', distinct inputs
        for cell in (g.normal, g.reduce):
            for k in range(4):
                (_, i), (_, j) = cell[2 * k], cell[2 * k + 1]
                assert i < j <= k + 1
    ops = [op for g in a for op, _ in g.normal + g.reduce]
    assert set(ops) == set(NB301_OPS) and min(ops.count(o) for o in NB301_OPS) > 300  # 3200 edges
    assert space.sample(0, 0) == [] and space.sample(3, "any-seed") == space.sample(3, "any-seed")
    assert space.space_size() == (7 ** 8 * 1 * 3 * 6 * 10) ** 2
    with pytest.raises(ValueError, match="non-negative int"):
        space.sample(-1, 0)


def test_sample_draws_as_naslib_does(space):
    """NASLib's sample_random_architecture after np.random.seed(s): per node k, 4 op ids, then
    2 distinct inputs for the normal cell, then 2 for the reduction cell (ops 0,1 | 2,3)."""
    for seed in (0, 7, 9000):
        np.random.seed(seed)
        cells = ([], [])
        for k in range(4):
            ops = np.random.choice(range(7), 4)
            for c in (0, 1):
                ins = np.random.choice(range(k + 2), 2, replace=False)
                cells[c].extend((int(ins[e]), int(ops[2 * c + e])) for e in (0, 1))
        expected = space.from_zc_key(str((tuple(cells[0]), tuple(cells[1]))))
        assert space.sample(1, seed) == [expected]


# ----------------------------------------------------------------------------- network


def test_full_network_structure(space):
    g = space.parse(DARTS_V2)
    net = space.build(g, "cifar10")
    assert isinstance(net, NB301Network)
    assert net.stem[0].out_channels == 96 and net.stem[1].affine
    kinds = ["R" if c.reduction else "N" for c in net.cells]
    assert "".join(kinds) == "NNRNNRNN"
    # C per cell: preprocess1's output channels
    assert [c.preprocess1.op[1].out_channels for c in net.cells] == [32, 32, 64, 64, 64, 128, 128, 128]
    assert [type(c.preprocess0).__name__ for c in net.cells] == (
        ["ReLUConvBN"] * 3 + ["FactorizedReduce"] + ["ReLUConvBN"] * 2 + ["FactorizedReduce", "ReLUConvBN"])
    assert net.classifier.in_features == 512 and net.classifier.out_features == 10
    assert isinstance(net.global_pooling, nn.AdaptiveAvgPool2d)
    assert not hasattr(net, "auxiliary_head")
    # NB301's training code: cell ops affine=False, BN(affine=False) after every pool; preprocessing affine
    for cell in net.cells:
        assert cell.preprocess1.op[2].affine
        for op in cell._ops:
            for m in op.modules():
                if isinstance(m, nn.BatchNorm2d):
                    assert not m.affine
            if isinstance(op, Pooling):
                assert isinstance(op.bn, nn.BatchNorm2d) and not op.bn.affine
    pools = [op for c in net.cells for op in c._ops if isinstance(op, Pooling)]
    assert len(pools) == 2 * 5  # DARTS_V2: 5 max pools in each of the 2 reduction cells
    # a skip on a stride-2 edge (reduction cell, input 0 or 1) is FactorizedReduce(affine=False)
    g2 = space.parse(DARTS_V2_KEY.replace("((0, 0), (1, 0), (1, 0)", "((0, 2), (1, 0), (1, 0)"))
    ops = space.build(g2, "cifar10").cells[5]._ops
    assert isinstance(ops[0], FactorizedReduce) and ops[0].stride == 2 and not ops[0].bn.affine
    assert type(ops[3]).__name__ == "Identity"  # skip from node 2: stride 1
    assert list(space.tasks) == ["cifar10"]  # NB301 is a CIFAR-10 benchmark


def test_param_counts(space):
    g = space.parse(DARTS_V2)
    # measured here: DARTS_V2 in NASLib's NB301 network (C=32, 8 cells, affine=False ops, BN after pools)
    assert space.num_params(g, "cifar10") == 909_866
    # the same builder as a DARTS evaluation network (C=36, 20 cells, affine ops, no BN after
    # pools) has the 3.349342 M parameters ("param size = 3.349342MB") of DARTS' train.py log
    darts_eval = get_space("nb301", C=36, layers=20, affine=True, bn_after_pool=False)
    assert darts_eval.num_params(g, "cifar10") == 3_349_342
    # affine=True adds 2 parameters per BN channel of the cell ops; BN after pools has none
    assert get_space("nb301", bn_after_pool=False).num_params(g, "cifar10") == 909_866
    bn_channels = sum(m.num_features for c in space.build(g, "cifar10").cells for op in c._ops
                      for m in op.modules() if isinstance(m, nn.BatchNorm2d) and not isinstance(op, Pooling))
    assert get_space("nb301", affine=True).num_params(g, "cifar10") == 909_866 + 2 * bn_channels


def test_tiny_build_forward_is_seeded(small):
    a = small.sample(2, seed=5)
    x = torch.randn(4, 3, small.small_input_size, small.small_input_size)
    n1, n2 = seeded_build(small, a[0], "cifar10", 0), seeded_build(small, a[0], "cifar10", 0)
    y = n1(x)
    assert y.shape == (4, 10) and torch.isfinite(y).all()
    assert torch.equal(y, n2(x))
    assert not torch.equal(y, seeded_build(small, a[1], "cifar10", 0)(x))
    assert sum(p.numel() for p in n1.parameters()) < 12_000
    assert "".join("R" if c.reduction else "N" for c in n1.cells) == "NRR"
    assert type(n1.cells[2].preprocess0).__name__ == "FactorizedReduce"
    with pytest.raises(ValueError, match="no task 'imagenet'"):
        small.build(a[0], "imagenet")


def test_options_are_checked():
    for bad in ({"C": 0}, {"layers": 2}, {"stem_multiplier": 1.5}, {"affine": "no"}, {"auxiliary": 1}):
        with pytest.raises(ValueError, match="NB301 option"):
            get_space("nb301", **bad)
    with pytest.raises(ValueError, match="bad options for space 'nb301'"):
        get_space("nb301", network="swap_scorer")


def test_auxiliary_head_is_optional_and_not_in_the_output():
    sp = get_space("nb301", C=4, auxiliary=True)
    g = sp.parse(DARTS_V2)
    net = sp.build(g, "cifar10")
    assert net.auxiliary_head.features[2].in_channels == 4 * 4 * 4  # after the second reduction: 4 x 4C
    x = torch.randn(2, 3, 32, 32)
    torch.manual_seed(0)
    y = net(x)
    logits, aux = net(x, return_auxiliary=True)
    assert y.shape == (2, 10) and aux.shape == (2, 10) and torch.allclose(logits, y)
    plain = get_space("nb301", C=4).build(g, "cifar10")
    with pytest.raises(ValueError, match="no auxiliary head; build it with auxiliary=True"):
        plain(x, return_auxiliary=True)
    # num_params skips the head (DARTS' count_parameters_in_MB does the same)
    assert sp.num_params(g, "cifar10") == sum(p.numel() for p in plain.parameters())


# ----------------------------------------------------------------------------- search verbs


def test_mutate_and_crossover_stay_in_the_space(space):
    rng = random.Random(0)
    pop = space.sample(10, seed=2)
    for _ in range(200):
        a = rng.choice(pop)
        kind = rng.choice(["op", "connectivity"])
        child = space.mutate(a, rng, kind)
        assert nb301_genotype(child) == child and child != a
        diff = [(x, y) for x, y in zip(a.normal + a.reduce, child.normal + child.reduce) if x != y]
        assert 1 <= len(diff) <= 2  # one edge, maybe reordered with its sibling
        if kind == "op":
            assert len(diff) == 1 and diff[0][0][1] == diff[0][1][1]
        c1, c2 = space.crossover(a, rng.choice(pop), rng)
        assert nb301_genotype(c1) == c1 and nb301_genotype(c2) == c2
    assert space.mutate(pop[0], random.Random(4), "op") == space.mutate(pop[0], random.Random(4), "op")
    with pytest.raises(ValueError, match="mutation kind"):
        space.mutate(pop[0], rng, "width")


# ----------------------------------------------------------------------------- NB-Suite-Zero json


def write_zc_json(path, space, archs, dataset="cifar10"):
    """A zc_nasbench301.json in NB-Suite-Zero's layout."""
    recs = {}
    for k, a in enumerate(archs):
        recs[space.zc_key(a)] = {"synflow": {"score": 10.0 + k, "time": 0.5},
                                 "jacov": {"score": -60.0 - k, "time": 0.7},
                                 "val_accuracy": 90.0 + 0.01 * k}
    path.write_text(json.dumps({dataset: recs}))
    return path


def test_nbsuite_zero_json_ground_truth(tmp_path, space):
    archs = space.sample(12, seed=4) + [space.parse(DARTS_V2)]
    p = write_zc_json(tmp_path / "zc_nasbench301.json", space, archs)
    assert formats_for("nb301") == ["csv", "nbsuite_zero", "nb301_surrogate"]
    gt = read_ground_truth(p, space, "cifar10")  # "auto" picks nbsuite_zero for .json
    assert gt.metrics == ["val_accuracy"] and len(gt) == 13
    assert gt.values[space.parse(DARTS_V2)]["val_accuracy"] == pytest.approx(90.12)
    hit, vals, n = join(gt, archs[::-1], "val_accuracy")
    assert n == 13 and hit[0] == space.parse(DARTS_V2)
    # a key in NASLib's (non-canonical) order joins with the canonical genotype
    p.write_text(json.dumps({"cifar10": {DARTS_V2_NASLIB: {"val_accuracy": 93.1}}}))
    assert read_ground_truth(p, space, "cifar10").values == {space.parse(DARTS_V2): {"val_accuracy": 93.1}}


def test_nbsuite_zero_json_errors(tmp_path, space):
    p = tmp_path / "zc_nasbench301.json"
    p.write_text(json.dumps({"cifar10": {DARTS_V2_KEY.replace("(2, 5)", "(2, 9)"): {"val_accuracy": 90.0}}}))
    with pytest.raises(GroundTruthError, match=r"zc_nasbench301.json, 'cifar10': NAS-Bench-Suite-Zero key .*op id 9"):
        read_ground_truth(p, space, "cifar10")
    with pytest.raises(GroundTruthNotFoundError, match=r"missing.json: no such file.*download_nbs_zero.sh"):
        read_ground_truth(tmp_path / "missing.json", space, "cifar10")
    write_zc_json(p, space, space.sample(3, 0))
    with pytest.raises(GroundTruthError, match="has no dataset 'cifar100'"):
        read_ground_truth(p, space, "cifar10", dataset="cifar100")
    assert "download_nbs_zero.sh" in NBSZ_URL


# ----------------------------------------------------------------------------- surrogate


def _config_dict(genotype) -> dict:
    """The ConfigSpace dictionary nasbench301 builds from a genotype (edge ids per cell:
    node 2: 0-1, node 3: 2-4, node 4: 5-8, node 5: 9-13; inputs of nodes 3..5 as 'i_j')."""
    base = "NetworkSelectorDatasetInfo:darts:"
    out = {}
    for cell_type in ("normal", "reduce"):
        cell = getattr(genotype, cell_type)
        start = 0
        for k in range(4):
            pair = cell[2 * k: 2 * k + 2]
            for op, node in pair:
                assert op in NB301_OPS
                out[f"{base}edge_{cell_type}_{start + node}"] = op
            if k:
                out[f"{base}inputs_node_{cell_type}_{k + 2}"] = "_".join(str(n) for n in sorted(n for _, n in pair))
            start += k + 2
    return out


class FakeEnsemble:
    """Mimics nasbench301's SurrogateAPI: predict(config, representation, with_noise) -> mean of
    the members, plus numpy-global normal noise when with_noise."""

    def __init__(self, path):
        self.path = path
        self.calls = []

    def predict(self, config, representation, with_noise=True):
        assert representation == "genotype"
        assert list(config.normal_concat) == [2, 3, 4, 5] == list(config.reduce_concat)
        d = _config_dict(config)
        self.calls.append(d)
        mean = 88.0 + sum(NB301_OPS.index(v) for k, v in sorted(d.items()) if "edge_" in k) / 20
        return np.float64(mean + (np.random.normal(0, 0.3, 1)[0] if with_noise else 0.0))


def fake_nasbench301(monkeypatch, fail=None):
    mod = types.ModuleType("nasbench301")
    loaded = []

    def load_ensemble(ensemble_parent_directory):
        if fail is not None:
            raise fail
        members = sorted(Path(ensemble_parent_directory).rglob("*surrogate_model.model"))
        assert members
        loaded.append(FakeEnsemble(ensemble_parent_directory))
        return loaded[-1]

    mod.load_ensemble = load_ensemble
    monkeypatch.setitem(sys.modules, "nasbench301", mod)
    return loaded


def model_dir(tmp_path):
    d = tmp_path / "nb_models_1.0" / "xgb_v1.0"
    for i in range(2):
        m = d / f"surrogate_model_{i}"
        m.mkdir(parents=True, exist_ok=True)
        (m / "surrogate_model.model").write_bytes(b"xgb")
        (m / "data_config.json").write_text("{}")
        (m / "model_config.json").write_text('{"model": "xgb"}')
    return d


def test_surrogate_missing_package(tmp_path, monkeypatch, space):
    monkeypatch.setitem(sys.modules, "nasbench301", None)  # import nasbench301 -> ImportError
    with pytest.raises(SurrogateUnavailableError, match=r"needs the nasbench301 package.*pip install nasbench301.*"
                       r"figshare.com/articles/software/nasbench301_models_v1_0_zip/13061510.*zc_nasbench301.json"):
        load_surrogate(model_dir(tmp_path))
    with pytest.raises(ImportError):
        FORMATS["nb301_surrogate"].reader(model_dir(tmp_path), space, "cifar10")


def test_surrogate_missing_or_empty_folder(tmp_path, monkeypatch):
    fake_nasbench301(monkeypatch)
    with pytest.raises(GroundTruthNotFoundError, match=r"nope: no such folder\. Expected the folder of one "
                       r"NAS-Bench-301 surrogate ensemble, e\.g\. nb_models_1\.0/xgb_v1\.0.*13061510"):
        load_surrogate(tmp_path / "nope")
    f = tmp_path / "file.json"
    f.write_text("{}")
    with pytest.raises(GroundTruthNotFoundError, match="file.json: not a folder"):
        load_surrogate(f)
    with pytest.raises(GroundTruthNotFoundError, match=r"no '\*surrogate_model.model' file below it"):
        load_surrogate(tmp_path)


def test_surrogate_load_failure_is_wrapped(tmp_path, monkeypatch):
    fake_nasbench301(monkeypatch, fail=KeyError("seed"))
    with pytest.raises(GroundTruthError, match=r"nasbench301 could not load the surrogate ensemble in .*xgb_v1.0 "
                       r"\(KeyError: 'seed'\)"):
        load_surrogate(model_dir(tmp_path))


def test_surrogate_predictions(tmp_path, monkeypatch, space):
    loaded = fake_nasbench301(monkeypatch)
    d = model_dir(tmp_path)
    archs = space.sample(6, seed=1) + [space.parse(DARTS_V2)]
    gt = surrogate_ground_truth(d, archs, with_noise=False)
    assert gt.metrics == ["val_accuracy"] and set(gt.values) == set(archs)
    # the config dict the package builds from our genotype: DARTS_V2's reduce node 3 reads 1, 2
    v2 = loaded[-1].calls[-1]
    assert v2["NetworkSelectorDatasetInfo:darts:inputs_node_reduce_3"] == "1_2"
    assert v2["NetworkSelectorDatasetInfo:darts:edge_normal_11"] == "dil_conv_3x3"  # node 5 edges 9..13, input 2
    assert len([k for k in v2 if "edge_" in k]) == 16
    expected = 88.0 + sum(NB301_OPS.index(v) for k, v in v2.items() if "edge_" in k) / 20
    assert gt.values[space.parse(DARTS_V2)]["val_accuracy"] == pytest.approx(expected)
    # noise: seeded per architecture, independent of order, numpy's global state untouched
    model = load_surrogate(d)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    noisy = predict_surrogate(model, archs, with_noise=True, seed=0)
    assert np.array_equal(np.random.get_state()[1], before)
    assert predict_surrogate(model, archs[::-1], with_noise=True, seed=0) == noisy
    assert predict_surrogate(model, archs, with_noise=True, seed=1) != noisy
    mean = predict_surrogate(model, archs, with_noise=False)
    assert all(abs(noisy[a] - mean[a]) < 2 for a in archs) and noisy != mean
    # strings and compact keys are accepted; 'none' is not
    assert predict_surrogate(model, [DARTS_V2_KEY], with_noise=False) == {space.parse(DARTS_V2): mean[archs[-1]]}
    with pytest.raises(ArchParseError, match="no 'none' op"):
        predict_surrogate(model, [DARTS_V2.replace("dil_conv_3x3", "none")])


def test_surrogate_format_reader(tmp_path, monkeypatch, space):
    fake_nasbench301(monkeypatch)
    d = model_dir(tmp_path)
    fmt = FORMATS["nb301_surrogate"]
    assert fmt.spaces == ("nb301",) and fmt.url == NB301_MODELS_URL
    assert set(fmt.options) == {"n", "seed", "with_noise"}
    gt = fmt.reader(d, space, "cifar10", n=8, seed=3)
    assert list(gt.values) == space.sample(8, 3) and "n=8, seed=3, with_noise=True" in gt.source
    assert gt == fmt.reader(d, space, "cifar10", n=8, seed=3)  # reproducible, noise included
    # a study drawing its architectures from this ground truth joins all of them
    archs = random.Random(0).sample(list(gt.values), 5)
    assert join(gt, archs, "val_accuracy")[2] == 5
    default = fmt.reader(d, space, "cifar10", n=None, seed=None, with_noise=False)
    assert len(default) == 1000 and "seed=0, with_noise=False" in default.source
    with pytest.raises(GroundTruthError, match="predicts CIFAR-10 validation accuracy only; task 'cifar100'"):
        fmt.reader(d, space, "cifar100")
    with pytest.raises(GroundTruthError, match="option n must be a positive int"):
        fmt.reader(d, space, "cifar10", n=0)
    with pytest.raises(GroundTruthError, match="option with_noise must be true or false"):
        fmt.reader(d, space, "cifar10", n=2, with_noise="yes")


def test_surrogate_nonfinite_prediction(tmp_path, monkeypatch, space):
    class Bad:
        def predict(self, config, representation, with_noise=True):
            return float("nan")
    with pytest.raises(GroundTruthError, match="predicted nan for Genotype"):
        predict_surrogate(Bad(), space.sample(1, 0))


# ----------------------------------------------------------------------------- study config


def test_study_config_loads():
    from experiments.config import load_study
    from experiments.plan import plan_proxies

    study = load_study(ROOT / "experiments" / "configs" / "nb301_cifar10.yaml",
                       ["ground_truth.path=/data/zc_nasbench301.json"])
    assert (study.space, study.task) == ("nb301", "cifar10")
    assert study.data["batch_size"] == 32 and study.data["source"] == "cifar10"
    assert study.ground_truth["format"] == "nbsuite_zero" and study.ground_truth["dataset"] == "cifar10"
    assert study.ground_truth["path"] == "/data/zc_nasbench301.json"
    assert study.archs == {"from": "ground_truth", "n": 1000, "path": None}
    sp = get_space(study.space, **study.space_options)
    assert vars(sp) == vars(get_space("nb301"))  # the options written out are the defaults
    names = {s.proxy for s in study.proxies}
    assert {"epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm", "nwot", "params",
            "plain", "snip", "synflow", "zen", "zico", "swap", "reg_swap"} <= names
    plan_proxies(study.proxies)


def test_study_runs_end_to_end_on_a_zc_json(tmp_path):
    """The shipped config, shrunk (tiny network, noise input, 3 proxies), on a fixture json."""
    from experiments.cli import main

    space = get_space("nb301")
    archs = space.sample(6, seed=8)
    p = write_zc_json(tmp_path / "zc_nasbench301.json", space, archs)
    cfg = ROOT / "experiments" / "configs" / "nb301_cifar10.yaml"
    out = tmp_path / "out"
    sets = [f"ground_truth.path={p}", "space_options={C: 4, layers: 3}", "archs.n=null", "seeds=[0]",
            "data={source: noise, batch_size: 8, size: 8}", "proxies=[params, synflow, nwot]"]
    argv = ["run", str(cfg), "--out", str(out), "--no-progress"]
    for s in sets:
        argv += ["--set", s]
    assert main(argv) == 0
    rows = (out / "correlations.csv").read_text().splitlines()
    assert len(rows) == 4 and all(",6," in r for r in rows[1:])  # 3 proxies, n = 6


def test_surrogate_through_read_ground_truth_and_a_study(tmp_path, monkeypatch, space):
    from experiments.cli import main

    fake_nasbench301(monkeypatch)
    d = model_dir(tmp_path)
    gt = read_ground_truth(d, space, "cifar10", format="nb301_surrogate", n=6, seed=2)
    assert list(gt.values) == space.sample(6, 2)
    with pytest.raises(GroundTruthNotFoundError, match=r"nope: no such folder\. Expected the folder of a "
                       r"NAS-Bench-301 surrogate ensemble.*13061510"):
        read_ground_truth(tmp_path / "nope", space, "cifar10", format="nb301_surrogate")
    f = write_zc_json(tmp_path / "zc_nasbench301.json", space, space.sample(3, 0))
    with pytest.raises(GroundTruthNotFoundError, match="zc_nasbench301.json: not a folder"):
        read_ground_truth(f, space, "cifar10", format="nb301_surrogate")
    cfg = ROOT / "experiments" / "configs" / "nb301_cifar10.yaml"
    out = tmp_path / "out"
    argv = ["run", str(cfg), "--out", str(out), "--no-progress"]
    for s in [f"ground_truth={{path: {d}, format: nb301_surrogate, n: 8, seed: 1, metric: val_accuracy}}",
              "space_options={C: 4, layers: 3}", "archs.n=null", "seeds=[0]",
              "data={source: noise, batch_size: 8, size: 8}", "proxies=[params, synflow]"]:
        argv += ["--set", s]
    assert main(argv) == 0
    rows = (out / "correlations.csv").read_text().splitlines()
    assert len(rows) == 3 and all(",8," in r for r in rows[1:])
