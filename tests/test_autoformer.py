"""The AutoFormer ViT space: the three architecture spellings, out-of-space errors, the
official sampler's order, the plain ViT (shapes, GELU modules, relative position attention,
parameter counts against the published AutoFormer-S/B numbers), CSV ground truth, mutation and
crossover, and the shipped study config (loaded, and run end to end on a tiny instance)."""
import csv
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from experiments.cli import main
from experiments.config import load_study
from experiments.plan import plan_proxies
from search_spaces import ArchParseError, get_space, list_spaces
from search_spaces.autoformer import (
    AUTOFORMER_B_SUBNET,
    AUTOFORMER_S_SUBNET,
    PRESETS,
    AutoFormerArch,
    Attention,
    autoformer_num_params,
    parse_arch,
)
from search_spaces.ground_truth import GroundTruthError, GroundTruthNotFoundError, read_ground_truth

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "experiments" / "configs" / "autoformer_imagenet.yaml"
S_STRING = ("embed384_depth13_mlp3.0-3.5-3.0-3.5-4.0-4.0-4.0-4.0-4.0-4.0-4.0-3.5-4.0"
            "_heads6-6-5-7-5-5-5-6-6-7-7-6-7")


@pytest.fixture(scope="module")
def space():
    return get_space("autoformer")


@pytest.fixture(scope="module")
def small():
    return get_space("autoformer", **get_space("autoformer").small_options)


# ---- architecture values and parsing --------------------------------------------------


def test_registered_and_canonical_string(space):
    assert "autoformer" in list_spaces()
    assert str(AUTOFORMER_S_SUBNET) == S_STRING
    assert space.parse(S_STRING) == AUTOFORMER_S_SUBNET
    a = AutoFormerArch(320, 2, (4, 3.5), (5, 7))
    assert a == AutoFormerArch(320, 2, (4.0, 3.5), (5, 7)) and hash(a) == hash(AutoFormerArch(320, 2, (4.0, 3.5), (5, 7)))
    assert str(a) == "embed320_depth2_mlp4.0-3.5_heads5-7" and a.mlp_ratio == (4.0, 3.5)
    with pytest.raises(AttributeError):
        a.depth = 3  # immutable


def test_round_trips_of_every_spelling(space):
    for a in space.sample(40, seed=3):
        assert space.parse(str(a)) == a
        cfg = a.to_config()
        assert cfg["embed_dim"] == [a.embed_dim] * a.depth and cfg["layer_num"] == a.depth
        assert space.parse(json.dumps(cfg)) == a  # JSON
        assert space.parse(repr(cfg)) == a  # Python literal, single quotes
        assert space.parse(str(a.to_cand_tuple())) == a  # AutoFormer evolution tuple
        assert space.parse(json.dumps(list(a.to_cand_tuple()))) == a
    # AutoFormer's own spellings: an int embed_dim, 'depth' for 'layer_num', no layer_num, ints as ratios
    a = AutoFormerArch(448, 12, (4.0,) * 12, (7,) * 12)
    assert space.parse(str({"embed_dim": 448, "mlp_ratio": [4] * 12, "num_heads": [7] * 12})) == a
    assert space.parse(json.dumps({"embed_dim": [448] * 12, "mlp_ratio": [4.0] * 12, "num_heads": [7] * 12,
                                   "depth": 12})) == a
    assert space.parse("  " + str(a) + "\n") == a and space.parse(a) is a


@pytest.mark.parametrize("text,msg", [
    ("", "empty AutoFormer architecture string"),
    ("resnet50", "not an AutoFormer architecture.*expected the canonical string"),
    ("embed500_depth2_mlp3.0-3.0_heads5-5", r"embed_dim 500 is not in the AutoFormer-small space; allowed values: 320, 384, 448"),
    ("embed320_depth2_mlp3.0-3.0_heads5-5", r"depth 2 is not in .* allowed values: 12, 13, 14"),
    ("embed320_depth12_mlp" + "-".join(["3.0"] * 11 + ["2.5"]) + "_heads" + "-".join(["5"] * 12),
     r"mlp_ratio\[11\] 2.5 is not in .* allowed values: 3.0, 3.5, 4.0"),
    ("embed320_depth12_mlp" + "-".join(["3.0"] * 12) + "_heads" + "-".join(["5"] * 3 + ["8"] + ["5"] * 8),
     r"num_heads\[3\] 8 is not in .* allowed values: 5, 6, 7"),
    ("embed320_depth12_mlp3.0-3.0_heads5-5", "mlp_ratio has 2 values but depth is 12"),
    ("embedE_depth12_mlp3.0_heads5", "embed_dim 'E' .* is not a positive integer"),
    ("embed320_depth1_mlp3.x_heads5", r"mlp_ratio\[0\] '3.x' .* is not a number"),
    ("embed320_depth1_mlp3.0_heads-5", r"num_heads\[0\] '' .* is not a positive integer"),
    ("{'embed_dim': [320, 384], 'mlp_ratio': [3.0, 3.0], 'num_heads': [5, 5]}", "varies across layers"),
    ("{'embed_dim': 320, 'mlp_ratio': [3.0], 'num_heads': [5], 'dropout': 0.1}", r"unknown key\(s\) \['dropout'\]"),
    ("{'embed_dim': 320, 'num_heads': [5]}", "has no mlp_ratio"),
    ("{'embed_dim': 320, 'mlp_ratio': [3.0] * 12}", "not a JSON or Python literal"),
    ("(12, 3.0, 5, 320)", r"must have 2 \* 12 \+ 2 = 26 entries"),
    ("(0, 320)", "an AutoFormer candidate tuple is"),
])
def test_bad_strings_name_the_field_and_allowed_values(space, text, msg):
    with pytest.raises(ArchParseError, match=msg):
        space.parse(text)


def test_non_string_and_shape_errors():
    with pytest.raises(ArchParseError, match="expected an AutoFormer architecture string, got int"):
        parse_arch(12)
    with pytest.raises(ArchParseError, match=r"mlp_ratio\[0\] must be a positive number"):
        AutoFormerArch(320, 1, (-3.0,), (5,))
    with pytest.raises(ArchParseError, match="embed_dim must be a positive integer"):
        AutoFormerArch(320.0, 1, (3.0,), (5,))


def test_space_options_are_checked():
    assert get_space("autoformer", preset="base").parse(str(AUTOFORMER_B_SUBNET)) == AUTOFORMER_B_SUBNET
    tiny = get_space("autoformer", preset="tiny", depths=[2, 3])
    assert tiny.embed_dims == (192, 216, 240) and tiny.depths == (2, 3) and tiny.space_size() == 3 * (4 ** 2 + 4 ** 3)
    for opts, msg in [({"preset": "huge"}, "preset must be one of small, tiny, base"),
                      ({"embed_dims": []}, "non-empty list"), ({"num_heads": [5, 5]}, "repeats a value"),
                      ({"mlp_ratios": [3.0, -1]}, "not a positive number"),
                      ({"patch_size": 15}, "img_size 224 is not a multiple of patch_size 15"),
                      ({"width_divisor": 7}, "must divide every embed_dim and head_dim"),
                      ({"img_size": 0}, "img_size must be a positive int")]:
        with pytest.raises(ValueError, match=msg):
            get_space("autoformer", **opts)


# ---- sampling -------------------------------------------------------------------------


def _official_draw(rng, choices):
    """AutoFormer's get_random_cand order: depth, each layer's ratio, each layer's heads, embed."""
    depth = rng.choice(choices["depths"])
    ratios = [rng.choice(choices["mlp_ratios"]) for _ in range(depth)]
    heads = [rng.choice(choices["num_heads"]) for _ in range(depth)]
    return (depth, *ratios, *heads, rng.choice(choices["embed_dims"]))


def test_sample_follows_the_official_sampler_and_is_distinct(space):
    archs = space.sample(30, seed=7)
    rng = random.Random(7)
    assert [a.to_cand_tuple() for a in archs[:5]] == [_official_draw(rng, PRESETS["small"]) for _ in range(5)]
    assert len(set(archs)) == 30 and archs == space.sample(30, seed=7) and archs != space.sample(30, seed=8)
    assert all(space.parse(str(a)) == a for a in archs)
    # uniform per choice: each depth, embed_dim, ratio and head count about equally often
    many = space.sample(1500, seed=0)
    for counts in (Counter(a.depth for a in many), Counter(a.embed_dim for a in many),
                   Counter(r for a in many for r in a.mlp_ratio), Counter(h for a in many for h in a.num_heads)):
        share = np.array(list(counts.values())) / sum(counts.values())
        assert len(share) == 3 and np.all(np.abs(share - 1 / 3) < 0.04), counts
    with pytest.raises(ValueError, match="non-negative int"):
        space.sample(-1, 0)
    tiny = get_space("autoformer", embed_dims=[320], mlp_ratios=[3.0], num_heads=[5, 6], depths=[1])
    assert sorted(map(str, tiny.sample(2, 0))) == ["embed320_depth1_mlp3.0_heads5", "embed320_depth1_mlp3.0_heads6"]
    with pytest.raises(ValueError, match="cannot draw 3 distinct architectures from 2"):
        tiny.sample(3, 0)


# ---- the network ----------------------------------------------------------------------


def test_tiny_forward_shapes_and_modules(small):
    for a in small.sample(2, seed=1):
        for task, classes in (("imagenet", 1000), ("cifar10", 10), ("cifar100", 100)):
            net = small.build(a, task)
            assert net(torch.randn(3, 3, 16, 16)).shape == (3, classes)
        assert len(net.blocks) == a.depth
        assert sum(isinstance(m, nn.GELU) for m in net.modules()) == a.depth
        assert not any(isinstance(m, nn.ReLU) for m in net.modules())
        E = a.embed_dim // 16
        for blk, r, h in zip(net.blocks, a.mlp_ratio, a.num_heads):
            assert blk.attn.qkv.weight.shape == (3 * h * 4, E) and blk.fc1.out_features == int(E * r)
        assert small.num_params(a, "cifar100") == sum(p.numel() for p in net.parameters())  # the last built
    with pytest.raises(ValueError, match=r"takes \(N, C, 16, 16\) images, got \(2, 3, 32, 32\); resize the data to 16"):
        net(torch.randn(2, 3, 32, 32))


def test_swap_hooks_gelu_only_with_relu_gelu(small):
    import zc_proxies

    net = small.build(small.sample(1, seed=2)[0], "cifar10")
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))
    wanted = {"icl": ("swap", {}), "universal": ("swap", {"activations": "relu_gelu"}),
              "lswag": ("lswag", {"activations": "relu_gelu"}), "nwot": ("nwot", {})}
    res = zc_proxies.score(zc_proxies.Probe(net, x, y, seed=0, num_classes=10), wanted)
    assert res["icl"].status == "failed" and "no nn.ReLU module with 4-D input; try activations='relu_gelu'" in res["icl"].message
    assert res["universal"].status == "ok" and res["universal"].value > 1
    assert res["lswag"].status == "ok" and np.isfinite(res["lswag"].value)
    assert res["nwot"].status == "failed" and "no ReLU-family module" in res["nwot"].message


def _official_attention(attn: Attention, x: torch.Tensor) -> torch.Tensor:
    """The official AttentionSuper.forward with relative positions, reshapes and all."""
    B, N, _ = x.shape
    h = attn.num_heads
    qkv = attn.qkv(x).reshape(B, N, 3, h, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    s = attn.scale
    a = (q @ k.transpose(-2, -1)) * s
    r_k = attn.rel_pos_embed_k()
    a = a + (q.permute(2, 0, 1, 3).reshape(N, h * B, -1) @ r_k.transpose(2, 1)).transpose(1, 0).reshape(B, h, N, N) * s
    a = a.softmax(dim=-1)
    out = (a @ v).transpose(1, 2).reshape(B, N, -1)
    r_v = attn.rel_pos_embed_v()
    a1 = a.permute(2, 0, 1, 3).reshape(N, B * h, -1)
    out = out + (a1 @ r_v).transpose(1, 0).reshape(B, h, N, -1).transpose(2, 1).reshape(B, N, -1)
    return attn.proj(out)


def test_relative_position_attention_matches_the_official_formulation():
    torch.manual_seed(0)
    grid, m = 3, 1  # distances up to 2 on a 3 x 3 grid, clipped to 1
    attn = Attention(12, 3, 4, True, True, m, grid)
    with torch.no_grad():
        for t in (attn.rel_pos_embed_k, attn.rel_pos_embed_v):
            t.embeddings_table_v.normal_()
            t.embeddings_table_h.normal_()
    x = torch.randn(2, 1 + grid * grid, 12)
    torch.testing.assert_close(attn(x), _official_attention(attn, x), rtol=1e-5, atol=1e-5)
    idx = attn.rel_pos_embed_k.index_v
    assert idx.shape == (10, 10) and idx[0].tolist() == [0] * 10 and idx[:, 0].tolist() == [0] * 10
    # token 1 is (row 0, col 0), token 9 is (row 2, col 2): row distance 2 clipped to 1 -> index 1 + m + 1
    assert idx[1, 9].item() == 3 and idx[9, 1].item() == 1 and idx[5, 5].item() == m + 1


def test_full_size_parameter_counts_match_the_published_models(space):
    # AutoFormer README (microsoft/Cream, AutoFormer/README.md): AutoFormer-S 22.9M, -B 53.7M
    # parameters; the subnets are the RETRAIN configs of experiments/subnet/AutoFormer-{S,B}.yaml.
    assert space.num_params(AUTOFORMER_S_SUBNET, "imagenet") == 22_891_432
    assert round(space.num_params(AUTOFORMER_S_SUBNET, "imagenet") / 1e6, 1) == 22.9
    base = get_space("autoformer", preset="base")
    assert round(base.num_params(AUTOFORMER_B_SUBNET, "imagenet") / 1e6, 1) == 53.7
    # without relative position embeddings the count would not round to 22.9M
    assert autoformer_num_params(AUTOFORMER_S_SUBNET, relative_position=False) == 22_791_592
    net = space.build(AUTOFORMER_S_SUBNET, "imagenet")
    assert sum(p.numel() for p in net.parameters()) == 22_891_432
    with torch.no_grad():
        assert net(torch.randn(1, 3, 224, 224)).shape == (1, 1000)
    # the formula holds for other options too
    for opts in ({"relative_position": False}, {"abs_pos": False, "qkv_bias": False}, {"head_dim": 32},
                 {"max_relative_position": 3}):
        sp = get_space("autoformer", **{**space.small_options, **opts})
        a = sp.sample(1, seed=5)[0]
        assert sp.num_params(a, "cifar100") == sum(p.numel() for p in sp.build(a, "cifar100").parameters())


def test_init_follows_the_official_init_weights(small):
    torch.manual_seed(0)
    net = small.build(small.sample(1, 0)[0], "imagenet")
    w = net.blocks[0].fc1.weight
    assert w.abs().max() <= 2.0 and 0.01 < w.std() < 0.03
    assert torch.all(net.blocks[0].fc1.bias == 0) and torch.all(net.norm.weight == 1)
    assert 0.01 < net.pos_embed.std() < 0.03


# ---- ground truth from a CSV ----------------------------------------------------------


def _write_csv(path, rows, header=("architecture", "top1")):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        if header:
            w.writerow(header)
        w.writerows(rows)


def test_csv_ground_truth(space, tmp_path):
    archs = space.sample(4, seed=2)
    path = tmp_path / "autoformer_small_imagenet.csv"
    _write_csv(path, [[str(archs[0]), "79.5"], [json.dumps(archs[1].to_config()), "80.25"],
                      [repr(archs[2].to_config()), "78.0"], [str(archs[3].to_cand_tuple()), "81.0"],
                      [str(archs[0]), "79.7"]])
    gt = read_ground_truth(path, space, "imagenet")
    assert gt.metrics == ["top1"] and gt.n_rows == 5 and gt.n_duplicates == 1
    table = gt.metric("top1")
    assert table == pytest.approx({archs[0]: 79.6, archs[1]: 80.25, archs[2]: 78.0, archs[3]: 81.0})
    # a row with an out-of-space architecture names the file, the row and the allowed values
    bad = tmp_path / "bad.csv"
    _write_csv(bad, [[str(archs[0]), "79.5"], [str(archs[1]).replace(f"embed{archs[1].embed_dim}", "embed512"), "80.0"]])
    with pytest.raises(GroundTruthError, match=r"bad.csv, row 3: cannot parse architecture .*embed_dim 512 "
                                               r"is not in the AutoFormer-small space; allowed values: 320, 384, 448"):
        read_ground_truth(bad, space, "imagenet")
    with pytest.raises(GroundTruthNotFoundError, match="no such file"):
        read_ground_truth(tmp_path / "missing.csv", space, "imagenet")


# ---- evolution ------------------------------------------------------------------------


def _diff(a, b):
    out = [f for f in ("embed_dim", "depth") if getattr(a, f) != getattr(b, f)]
    for f in ("mlp_ratio", "num_heads"):
        out += [f"{f}[{i}]" for i, (x, y) in enumerate(zip(getattr(a, f), getattr(b, f))) if x != y]
    return out


def test_mutation_changes_one_choice_and_stays_in_space(space):
    rng = random.Random(0)
    kinds = Counter()
    for a in space.sample(30, seed=4):
        child = space.mutate(a, rng, "op")
        d = _diff(a, child)
        assert len(d) == 1 and d[0].split("[")[0] in ("mlp_ratio", "num_heads") and space.check(child)
        child = space.mutate(a, rng, "connectivity")
        d = _diff(a, child)
        assert d[0] in ("embed_dim", "depth") and space.check(child)
        kinds[d[0]] += 1
        if d == ["depth"]:  # the kept layers are unchanged; only new layers are drawn
            k = min(a.depth, child.depth)
            assert child.mlp_ratio[:k] == a.mlp_ratio[:k] and child.num_heads[:k] == a.num_heads[:k]
        else:
            assert d == ["embed_dim"]
    assert set(kinds) == {"embed_dim", "depth"}
    with pytest.raises(ValueError, match="mutation kind must be one of"):
        space.mutate(a, rng, "width")


def test_crossover_children_take_each_gene_from_a_parent(space):
    rng = random.Random(1)
    archs = space.sample(20, seed=9)
    for a, b in zip(archs[::2], archs[1::2]):
        c1, c2 = space.crossover(a, b, rng)
        assert space.check(c1) and space.check(c2)
        assert {c1.embed_dim, c2.embed_dim} == {a.embed_dim, b.embed_dim}
        assert {c1.depth, c2.depth} == {a.depth, b.depth}
        for c in (c1, c2):
            for i in range(c.depth):
                assert (c.mlp_ratio[i], c.num_heads[i]) in {(p.mlp_ratio[i], p.num_heads[i]) for p in (a, b) if i < p.depth}


def test_swap_nas_evolution_runs_on_the_space(space):
    from experiments.search import evolve

    res = evolve(space, lambda a: space.num_params(a, "imagenet") / 1e6, seed=0, population=8,
                 sample_size=4, evaluations=40)
    assert space.check(res.best) and res.evaluations == 40 and res.kinds_used
    assert all(space.parse(s) for s in res.scores)  # every candidate is in the space
    assert res.score == max(res.scores.values()) and res.trajectory[-1][1] > res.trajectory[0][1]


# ---- the study config -----------------------------------------------------------------


def test_shipped_config_loads(space):
    study = load_study(CONFIG)
    assert study.space == "autoformer" and study.task == "imagenet" and study.data["size"] == 224
    assert study.ground_truth["path"] and study.archs["from"] == "ground_truth"
    sp = get_space(study.space, **study.space_options)
    assert sp.embed_dims == (320, 384, 448) and sp.depths == (12, 13, 14)
    assert sp.task(study.task).input_shape == (3, study.data["size"], study.data["size"])
    opts = {p.label: p.options for p in study.proxies}
    for label in ("swap", "reg_swap", "lswag"):
        assert opts[label]["activations"] == "relu_gelu"
    assert not {"nwot", "linear_regions", "tenas", "zen"} & set(opts)
    plan = plan_proxies(study.proxies)
    assert "swap" in {s.label for s in plan.scored} and "reg_swap.swap" not in {s.label for s in plan.scored}


def test_shipped_config_runs_end_to_end_on_a_tiny_instance(small, tmp_path):
    """The shipped config with a user's CSV, shrunk: small networks, a noise batch, 10 archs."""
    archs = small.sample(10, seed=12)
    rng = np.random.default_rng(0)
    gt = tmp_path / "my_autoformer.csv"
    _write_csv(gt, [[str(a), f"{70 + 10 * rng.random():.2f}"] for a in archs])
    raw = yaml.safe_load(CONFIG.read_text())
    raw.update(space_options={**raw["space_options"], **small.small_options}, seeds=[0],
               data={"source": "noise", "batch_size": 8, "size": 16})
    raw["ground_truth"]["path"] = str(gt)
    raw["proxies"] = [p if not (isinstance(p, dict) and "libra" in p) else {"libra": {"proxies": "all", "calibration": 0.5}}
                      for p in raw["proxies"]]
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    with open(out / "correlations.csv") as f:
        rows = list(csv.DictReader(f))
    got = {r["proxy"] for r in rows}
    assert {"swap", "reg_swap", "lswag", "zico", "params", "rank_mean", "libra"} <= got
    assert all(r["n"] == "10" for r in rows if r["proxy"] not in ("libra",))
    assert all(r["n_failed"] == "0" and r["n_nonfinite"] == "0" for r in rows), rows
    assert len(got) == len(raw["proxies"])  # every proxy of the config is defined on the ViT
