"""NAS-Bench-101 space: the spec string, pruning, canonical order, NB101's module hash, the
NAS-Bench-Suite-Zero 56-tuple keys, sampling and the network (the ground-truth readers and the
study config: tests/test_nb101_readers.py).

Published values used as test vectors (each named where it is used):
* NASLib, branch Develop, ``tests/assets/nb101_dummy.pkl``: 30 records of NB101's
  ``nasbench_only108`` data; four of them (md5 key, module_adjacency, module_operations,
  trainable_parameters) are copied below.
* NASLib, branch Develop, ``tests/test_nb101_search_space.py``: ``HASHSPEC`` and ``FIXED_ARCH``,
  the 56-tuple NASLib's ``set_spec(hash)`` gives for one of those records.
* NASLib, branch zerocost, ``naslib/data/archs/archs_nasbench101.json``: entry "0", a raw key
  of the NB101 NAS-Bench-Suite-Zero benchmark.
* google-research/nasbench ``NASBench.ipynb``: the Inception-like cell as the dataset stores
  it, 2,694,282 trainable parameters.
* google-research/nasbench ``nasbench/tests/model_builder_test.py``: channel splits of
  ``compute_vertex_channels``.
"""
import json
import math
import pickle
import random

import pytest
import torch
from torch import nn

import search_spaces
from search_spaces import nb101
from search_spaces.base import ArchParseError, get_space, seeded_build
from search_spaces.nb101 import (CONV1X1, CONV3X3, MAXPOOL3X3, NB101Arch, NB101Cell, NB101Network, NB101Space,
                                 module_hash, vertex_channels)

I, O, C3, C1, MP = "input", "output", CONV3X3, CONV1X1, MAXPOOL3X3

# (md5 key, module_adjacency, module_operations, trainable_parameters) from NASLib's
# tests/assets/nb101_dummy.pkl (branch Develop)
NASLIB_RECORDS = [
    ("ff940d27cbe9ed0a639a68a9c3f87283",
     [[0, 1, 1, 0, 1, 1, 0], [0, 0, 0, 0, 1, 0, 0], [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0],
      [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
     [I, MP, C3, C1, C1, C3, O], 24169098),
    ("ff958f8d8f556448ff2a5973f17ff22a",
     [[0, 1, 1, 0, 0, 1], [0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 1],
      [0, 0, 0, 0, 0, 0]],
     [I, C3, C1, MP, MP, O], 2624049),
    ("ff962d027e8b90bd76038b817e250a89",
     [[0, 1, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 1, 0], [0, 0, 0, 1, 1, 0, 1], [0, 0, 0, 0, 0, 0, 1],
      [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
     [I, C1, C3, MP, MP, C3, O], 2484039),
    ("ff9707907f5c17ef8f80cc68fff30f74",
     [[0, 1, 0, 1, 0, 1], [0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1],
      [0, 0, 0, 0, 0, 0]],
     [I, C1, C1, MP, C3, O], 14000266),
]
# NASLib tests/test_nb101_search_space.py (Develop): set_spec(HASHSPEC) -> get_hash() == FIXED_ARCH
HASHSPEC = "ff940d27cbe9ed0a639a68a9c3f87283"
FIXED_ARCH = (0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0,
              0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 4, 3, 3, 4, 1)
# entry "0" of NASLib's naslib/data/archs/archs_nasbench101.json (zerocost): a raw random 7x7 sample
NASLIB_RAW_KEY = ("(0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, "
                  "0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 4, 2, 2, 1)")
# NB101 NASBench.ipynb: the Inception-like cell as the dataset returns it (module_adjacency)
INCEPTION = ([[0, 1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
             [I, C3, C1, MP, C3, C3, O])
INCEPTION_PARAMS = 2694282

CHAIN = NB101Arch(((0, 1, 0), (0, 0, 1), (0, 0, 0)), (I, C3, O))
CHAIN_STR = '{"matrix":[[0,1,0],[0,0,1],[0,0,0]],"ops":["input","conv3x3-bn-relu","output"]}'


@pytest.fixture(scope="module")
def space():
    return NB101Space()


@pytest.fixture(scope="module")
def raw_space():
    return NB101Space(canonical_order=False)


def relabel(arch: NB101Arch, rng: random.Random) -> NB101Arch:
    """``arch`` with its interior vertices renumbered at random (upper-triangular kept)."""
    n = arch.num_vertices
    while True:
        perm = [0] + rng.sample(range(1, n - 1), n - 2) + [n - 1]  # new position -> old vertex
        m = [[arch.matrix[a][b] for b in perm] for a in perm]
        if all(m[i][j] == 0 for i in range(n) for j in range(i + 1)):
            return NB101Arch(m, [arch.ops[a] for a in perm])


# ----------------------------------------------------------------------------- strings


def test_str_is_compact_json_and_parses_back(space, raw_space):
    assert str(CHAIN) == CHAIN_STR
    assert json.loads(CHAIN_STR) == {"matrix": [[0, 1, 0], [0, 0, 1], [0, 0, 0]], "ops": [I, C3, O]}
    assert space.parse(CHAIN_STR) == CHAIN
    spaced = '  { "ops": ["input", "conv3x3-bn-relu", "output"],\n "matrix": [[0, 1, 0], [0, 0, 1], [0, 0, 0]] } '
    assert space.parse(spaced) == CHAIN
    literal = "{'matrix': ((0, 1, 0), (0, 0, 1), (0, 0, 0)), 'ops': ['input', 'conv3x3-bn-relu', 'output']}"
    assert space.parse(literal) == CHAIN
    for a in space.sample(40, 3) + raw_space.sample(40, 3):
        assert space.parse(str(a)) == a.canonical()
        assert raw_space.parse(str(a)) == a
        assert hash(raw_space.parse(str(a))) == hash(a)


def test_arch_is_immutable_hashable_and_picklable():
    a = NB101Arch(*INCEPTION)
    assert isinstance(a.matrix, tuple) and all(isinstance(r, tuple) for r in a.matrix) and isinstance(a.ops, tuple)
    with pytest.raises(AttributeError):
        a.ops = ()
    assert pickle.loads(pickle.dumps(a)) == a
    assert len({a, NB101Arch(*INCEPTION), CHAIN}) == 2
    assert a.num_vertices == 7 and a.num_edges == 9


_MAT7 = [[0] * 7 for _ in range(7)]


@pytest.mark.parametrize("text,needle", [
    ("", "empty"),
    ("   ", "empty"),
    ("matrix=[[0,1],[0,0]]", "neither JSON nor a Python literal"),
    ("[[0, 1], [0, 0]]", "not a mapping"),
    ('{"matrix": [[0,1],[0,0]]}', "no key(s) ['ops']"),
    ('{"matrix": [[0,1],[0,0]], "ops": ["input","output"], "hash": "x"}', "unknown key(s) ['hash']"),
    ('{"matrix": [[0,1],[1,0]], "ops": ["input","output"]}', "upper-triangular"),
    ('{"matrix": [[1,1],[0,0]], "ops": ["input","output"]}', "on or below the diagonal"),
    ('{"matrix": [[0,0],[0,0]], "ops": ["input","output"]}', "no path from the input vertex"),
    ('{"matrix": [[0,1,0],[0,0,0],[0,0,0]], "ops": ["input","conv3x3-bn-relu","output"]}', "no path"),
    ('{"matrix": [[0,1,1],[0,0,1],[0,0,0]], "ops": ["input","conv5x5","output"]}', "op 1 is 'conv5x5'"),
    ('{"matrix": [[0,1,1],[0,0,1],[0,0,0]], "ops": ["input","input","output"]}', "op 1 is 'input'"),
    ('{"matrix": [[0,1],[0,0]], "ops": ["conv3x3-bn-relu","output"]}', "first vertex must be 'input'"),
    ('{"matrix": [[0,1],[0,0]], "ops": ["input","maxpool3x3"]}', "last vertex must be 'output'"),
    ('{"matrix": [[0,1],[0,0]], "ops": ["input","conv3x3-bn-relu","output"]}', "3 ops for a 2x2 matrix"),
    ('{"matrix": [[0,2],[0,0]], "ops": ["input","output"]}', "matrix[0][1] is 2"),
    ('{"matrix": [[0,true],[0,0]], "ops": ["input","output"]}', "entries must be 0 or 1"),
    ('{"matrix": [[0,1],[0,0,0]], "ops": ["input","output"]}', "not square"),
    ('{"matrix": [0, 1], "ops": ["input","output"]}', "list of rows"),
    ('{"matrix": [[0]], "ops": ["input"]}', "at least an input and an output"),
    (json.dumps({"matrix": [[0] * 8] * 8, "ops": [I] + [C3] * 6 + [O]}), "8 vertices; NB101 cells have at most 7"),
    (json.dumps({"matrix": [[0, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1]] + [[0] * 6 + [1]] * 4 + [[0] * 7],
                 "ops": [I] + [C3] * 5 + [O]}), "15 edges; NB101 allows at most 9"),
])
def test_parse_errors(space, text, needle):
    with pytest.raises(ArchParseError) as e:
        space.parse(text)
    assert needle in str(e.value)


def test_parse_rejects_non_strings(space):
    with pytest.raises(ArchParseError, match="must be a str"):
        space.parse(42)


# ----------------------------------------------------------------------------- pruning / canonical order


def test_pruning_like_nb101_modelspec():
    # vertex 1 is fed by the input but feeds nothing; vertex 3 feeds the output but is never reached
    m = [[0, 1, 1, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]
    ops = [I, C1, C3, MP, O]
    a = NB101Arch.from_spec(m, ops, canonical=False)
    assert a == NB101Arch(((0, 1, 0), (0, 0, 1), (0, 0, 0)), (I, C3, O))
    with pytest.raises(ArchParseError, match=r"vertices \[1, 3\] are not on an input -> output path"):
        NB101Arch(m, ops)
    # 10 edges before pruning, 3 after: valid, as in NB101's API (it prunes, then checks)
    m = [[0, 1, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]] + [[0, 0, 0, 0, 0, 0, 0] for _ in range(5)]
    m[2] = [0, 0, 0, 1, 1, 1, 1]
    m[3] = [0, 0, 0, 0, 1, 1, 1]
    m[4] = [0, 0, 0, 0, 0, 0, 1]
    assert sum(map(sum, m)) == 10
    a = NB101Arch.from_spec(m, [I, C3, C3, C3, C3, C3, O])
    assert a == NB101Arch(((0, 1), (0, 0)), (I, O)) and a.num_edges == 1


def test_canonical_order_merges_isomorphic_cells(space, raw_space):
    rng = random.Random(0)
    for a in raw_space.sample(60, 11):
        b = relabel(a, rng)
        assert b.module_hash() == a.module_hash()  # NB101 treats them as one cell
        assert b.canonical() == a.canonical()
        assert space.parse(str(b)) == space.parse(str(a))
        assert raw_space.parse(str(b)) == b  # canonical_order=False keeps the given numbering
        c = a.canonical()
        assert c.canonical() is c
        # the canonical numbering is the largest upper-triangle bit string
        n = c.num_vertices
        bits = [c.matrix[i][j] for i in range(n) for j in range(i + 1, n)]
        bits_b = [b.matrix[i][j] for i in range(n) for j in range(i + 1, n)]
        assert bits >= bits_b


def test_canonical_tie_break_on_ops():
    a = NB101Arch.from_spec([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], [I, MP, C3, O])
    assert a.ops == (I, C3, MP, O)  # same bits either way: conv3x3 before maxpool3x3
    b = NB101Arch.from_spec([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], [I, C1, C3, O])
    assert b.ops == (I, C3, C1, O)


# ----------------------------------------------------------------------------- NB101 module hash


@pytest.mark.parametrize("key,matrix,ops,params", NASLIB_RECORDS)
def test_module_hash_matches_nb101_records(key, matrix, ops, params):
    """Keys of NASLib's tests/assets/nb101_dummy.pkl (records of NB101's nasbench_only108)."""
    assert module_hash(matrix, ops) == key
    a = NB101Arch.from_spec(matrix, ops)
    assert a.module_hash() == key  # invariant under the canonical renumbering
    assert relabel(NB101Arch(matrix, ops), random.Random(1)).module_hash() == key


def test_module_hash_separates_ops_and_wiring():
    h = module_hash(CHAIN.matrix, CHAIN.ops)
    assert module_hash(CHAIN.matrix, (I, C1, O)) != h
    assert module_hash(((0, 1, 1), (0, 0, 1), (0, 0, 0)), CHAIN.ops) != h
    assert len(h) == 32 and int(h, 16) >= 0


# ----------------------------------------------------------------------------- NAS-Bench-Suite-Zero keys


def test_zc_key_known_naslib_value(space, raw_space):
    """NASLib's set_spec(HASHSPEC) gives FIXED_ARCH (tests/test_nb101_search_space.py)."""
    key, matrix, ops, _ = NASLIB_RECORDS[0]
    assert key == HASHSPEC
    a = NB101Arch(matrix, ops)  # the dataset's own numbering, as NASLib reads it
    assert raw_space.zc_key(a) == str(FIXED_ARCH)
    assert raw_space.from_zc_key(str(FIXED_ARCH)) == a
    b = space.from_zc_key(str(FIXED_ARCH))
    assert b == a.canonical() and b.module_hash() == HASHSPEC


def test_zc_key_pads_small_cells_like_naslib(raw_space):
    """convert_to_cell: first n-1 vertices stay, the output column moves to 6, the rest are
    disconnected conv3x3 placeholders (worked out by hand for a 6-vertex NB101 record)."""
    _, matrix, ops, _ = NASLIB_RECORDS[1]
    a = NB101Arch(matrix, ops)
    expected = ((0, 1, 1, 0, 0, 0, 1),
                (0, 0, 0, 0, 1, 0, 1),
                (0, 0, 0, 1, 0, 0, 0),
                (0, 0, 0, 0, 1, 0, 1),
                (0, 0, 0, 0, 0, 0, 1),
                (0, 0, 0, 0, 0, 0, 0),
                (0, 0, 0, 0, 0, 0, 0))
    t = sum(expected, ()) + (0, 4, 3, 2, 2, 4, 1)
    assert a.zc_tuple() == t and len(t) == 56
    assert raw_space.zc_key(a) == str(t)
    assert raw_space.from_zc_key(str(t)) == a
    two = NB101Arch(((0, 1), (0, 0)), (I, O))
    assert two.zc_tuple()[:7] == (0, 0, 0, 0, 0, 0, 1) and two.zc_tuple()[49:] == (0, 4, 4, 4, 4, 4, 1)


def test_from_zc_key_prunes_naslib_raw_keys(space):
    """Entry "0" of archs_nasbench101.json: only 0 -> 3 -> 5 -> 6 is on an input-output path."""
    a = space.from_zc_key(NASLIB_RAW_KEY)
    assert a == NB101Arch(((0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1), (0, 0, 0, 0)), (I, C3, MP, O))
    assert space.from_zc_key(space.zc_key(a)) == a
    assert space.from_zc_key(NASLIB_RAW_KEY.replace(" ", "")) == a
    assert space.from_zc_key("(0, 1, 0, 0, 0, 1)") == NB101Arch(((0, 1), (0, 0)), (I, O))  # n*n + n, n = 2


def test_zc_key_round_trip(space, raw_space):
    for sp in (space, raw_space):
        for a in sp.sample(60, 5):
            k = sp.zc_key(a)
            assert len(eval(k)) == 56
            assert sp.from_zc_key(k) == a
    assert space.zc_key(CHAIN_STR) == space.zc_key(CHAIN)


@pytest.mark.parametrize("key,needle", [
    ("(1, 2, 3)", "has 3 entries"),
    ("[0, 1, 0, 0, 0, 1]", "not a NAS-Bench-Suite-Zero key"),
    ("((0, 1), (0, 0))", "has 2 entries"),
    ("not a key", "not a NAS-Bench-Suite-Zero key"),
    ("(0, 2, 0, 0, 0, 1)", "adjacency entry 2 is not 0 or 1"),
    ("(0, 1, 0, 0, 0, 5)", "op id 5 is not one of 0..4"),
    ("(0, 1, 0, 0, 1, 0)", "first vertex must be 'input'"),
    ("(0, 0, 0, 0, 0, 1)", "no path from the input"),
    ("(0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1)", "op 1 is 'input'"),
])
def test_from_zc_key_errors(space, key, needle):
    with pytest.raises(ArchParseError) as e:
        space.from_zc_key(key)
    assert needle in str(e.value)


# ----------------------------------------------------------------------------- sampling


def test_sample_deterministic_distinct_valid(space):
    a = space.sample(200, 7)
    assert a == space.sample(200, 7)
    assert len(set(a)) == 200
    assert a != space.sample(200, 8)
    assert all(isinstance(x, NB101Arch) and x.num_edges <= 9 and x.num_vertices <= 7 for x in a)
    assert all(x.canonical() == x for x in a)
    assert {x.num_vertices for x in a} >= {5, 6, 7}  # NB101's random_spec: pruned cells are common


@pytest.mark.parametrize("n", [0, -1, 1.5, True, nb101.NUM_ARCHS + 1])
def test_sample_bad_n(space, n):
    with pytest.raises(ValueError, match="can sample"):
        space.sample(n, 0)


# ----------------------------------------------------------------------------- network


@pytest.mark.parametrize("cin,cout,matrix,expected", [
    # google-research/nasbench nasbench/tests/model_builder_test.py
    (8, 16, [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], [8, 16, 16, 16]),
    (5, 1, [[0, 1], [0, 0]], [5, 1]),
    (8, 15, [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], [8, 8, 7, 15]),
    (8, 8, [[0, 1, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]], [8, 3, 3, 2, 8]),
    (8, 9, [[0, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]], [8, 5, 5, 4, 9]),
    (8, 15, [[0, 1, 0, 1, 0], [0, 0, 1, 0, 1], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]], [8, 8, 7, 7, 15]),
])
def test_vertex_channels_nb101_cases(cin, cout, matrix, expected):
    assert vertex_channels(cin, cout, matrix) == expected


def _count_full_size(arch) -> int:
    with torch.device("meta"):  # structure only: no memory, no init cost
        net = NB101Network(arch)
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("key,matrix,ops,params", NASLIB_RECORDS)
def test_param_count_matches_nb101(key, matrix, ops, params):
    """trainable_parameters of NB101 records (TF networks) = our PyTorch count, in the record's numbering."""
    assert _count_full_size(NB101Arch(matrix, ops)) == params


def test_param_count_inception_cell_nb101_colab():
    """NB101's NASBench.ipynb: the Inception-like cell has 2,694,282 trainable parameters."""
    assert _count_full_size(NB101Arch(*INCEPTION)) == INCEPTION_PARAMS
    assert _count_full_size(NB101Arch.from_spec(*INCEPTION)) == INCEPTION_PARAMS  # 4 feeders: even split


def test_canonical_order_can_move_a_remainder_channel():
    """QUIRK (module docstring): 3 vertices feed the output, 128 = 43 + 43 + 42, and the
    renumbering gives the 42 to another vertex."""
    _, matrix, ops, params = NASLIB_RECORDS[2]
    a = NB101Arch(matrix, ops)
    c = a.canonical()
    assert c != a and c.module_hash() == a.module_hash()
    assert _count_full_size(a) == params
    assert _count_full_size(c) != params and abs(_count_full_size(c) - params) / params < 0.01


def test_build_small_forward_shapes(space):
    small = NB101Space(**NB101Space.small_options)
    for a in space.sample(6, 1) + [NB101Arch(((0, 1), (0, 0)), (I, O)), NB101Arch(*INCEPTION)]:
        net = small.build(a, "cifar10")
        y = net(torch.randn(2, 3, 8, 8))
        assert y.shape == (2, 10) and torch.isfinite(y).all()
    two = NB101Space(stem_channels=8, num_stacks=2, num_cells=2)
    net = two.build(NB101Arch(*INCEPTION), "cifar10")
    assert net(torch.randn(3, 3, 8, 8)).shape == (3, 10)
    kinds = [type(m).__name__ for m in net.layers]
    assert kinds == ["ConvBnRelu", "NB101Cell", "NB101Cell", "MaxPool2d", "NB101Cell", "NB101Cell"]
    assert [m.channels[-1] for m in net.layers if isinstance(m, NB101Cell)] == [8, 8, 16, 16]
    assert net.classifier.in_features == 16
    # NASLib's global average is a functional mean (no nn.AdaptiveAvgPool2d for FLOP counters to
    # count); zen reads the feature map at the module the network names
    assert not any(isinstance(m, nn.AdaptiveAvgPool2d) for m in net.modules())
    assert net.zen_feature_module() is net.global_pool
    assert all(not m.inplace for m in net.modules() if isinstance(m, nn.ReLU))


def test_full_size_layout(space):
    with torch.device("meta"):
        net = space.build(NB101Arch(*INCEPTION), "cifar10")
    assert net.layers[0][0].out_channels == 128
    cells = [m for m in net.layers if isinstance(m, NB101Cell)]
    assert len(cells) == 9 and sum(isinstance(m, nn.MaxPool2d) for m in net.layers) == 2
    assert [c.channels[-1] for c in cells] == [128] * 3 + [256] * 3 + [512] * 3
    assert cells[0].channels == [128, 32, 32, 32, 32, 32, 128]
    assert cells[3].channels[0] == 128 and cells[4].channels[0] == 256
    assert net.classifier.in_features == 512 and net.classifier.out_features == 10


def test_cell_wiring_matches_manual_computation():
    # input -> 1 (conv3x3) -> 2 (maxpool) -> output; input -> 2; 1 -> output; input -> output
    a = NB101Arch(((0, 1, 1, 1), (0, 0, 1, 1), (0, 0, 0, 1), (0, 0, 0, 0)), (I, C3, MP, O))
    torch.manual_seed(0)
    cell = NB101Cell(a, 4, 7)
    assert cell.channels == [4, 4, 3, 7]  # 7 = 4 + 3 over the two feeders; 1 takes max(4, 3)
    assert sorted(cell.projections) == ["1", "2", "3"]
    cell.train()
    x = torch.randn(2, 4, 5, 5)
    p = cell.projections
    v1 = cell.vertex_ops["1"](p["1"](x))
    v2 = cell.vertex_ops["2"](v1[:, :3] + p["2"](x))  # truncated to 3 channels
    expected = torch.cat([v1, v2], dim=1) + p["3"](x)
    assert torch.allclose(cell(x), expected, atol=1e-6)
    only_input = NB101Cell(NB101Arch(((0, 1), (0, 0)), (I, O)), 4, 6)
    assert torch.allclose(only_input(x), only_input.projections["1"](x))


def test_init_follows_nb101(space):
    torch.manual_seed(0)
    net = NB101Space(stem_channels=32, num_stacks=1, num_cells=1).build(NB101Arch(*INCEPTION), "cifar10")
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            assert m.bias is None and abs(m.weight.std().item() / math.sqrt(2.0 / k) - 1) < 0.25
        elif isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
            assert m.momentum == 0.1 and m.eps == 1e-5  # PyTorch defaults, as NASLib
    assert abs(net.classifier.weight.std().item() - 0.01) < 0.003 and torch.all(net.classifier.bias == 0)


def test_seeded_build_is_deterministic():
    small = NB101Space(**NB101Space.small_options)
    a = NB101Arch(*INCEPTION)
    n1, n2 = seeded_build(small, a, "cifar10", 3), seeded_build(small, a, "cifar10", 3)
    assert all(torch.equal(p, q) for p, q in zip(n1.state_dict().values(), n2.state_dict().values()))
    loss = nn.functional.cross_entropy(n1(torch.randn(4, 3, 8, 8)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert all(p.grad is not None for p in n1.parameters())


def test_registry_tasks_and_options():
    assert "nb101" in search_spaces.list_spaces()
    sp = get_space("nb101")
    assert isinstance(sp, NB101Space) and sp.stem_channels == 128 and sp.canonical_order is True
    info = sp.task("cifar10")
    assert (info.num_classes, info.input_shape, info.loss, info.target) == (10, (3, 32, 32), "cross_entropy", "label")
    with pytest.raises(ValueError, match="no task 'cifar100'"):
        sp.task("cifar100")
    for bad in ({"stem_channels": 0}, {"num_stacks": 1.5}, {"canonical_order": "yes"}, {"C": 16}):
        with pytest.raises(ValueError):
            get_space("nb101", **bad)
    with pytest.raises(TypeError):
        sp.build(("not", "an arch"), "cifar10")
    with pytest.raises(ValueError, match="cannot be split"):
        NB101Space(stem_channels=2, num_stacks=1, num_cells=1).build(NB101Arch(*INCEPTION), "cifar10")
