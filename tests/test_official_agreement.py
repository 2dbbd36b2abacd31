"""AZ-NAS, MeCo and GradSign against their official code (values in tests/data/official_nb201_c16n5.csv,
procedure in tests/data/official_nb201_c16n5.md), and their behaviour where the official code
defines something unusual: -inf components ranked last, identity cells, undefined networks."""
import csv
import math

import numpy as np
import pytest
import torch
import yaml

import zc_proxies
from experiments.benchmarks.official_agreement import TOLERANCES, official_agreement, official_values
from experiments.cli import main
from experiments.config import ProxySpec
from experiments.report import load_report
from experiments.plan import plan_proxies
from search_spaces.base import SPACES, get_space, seeded_build
from tests.conftest import FMNIST
from zc_proxies.aznas import az_nas_combine, log_rank_sum

#: networks checked here per proxy (the script checks all 20): the per-sample passes of gradsign
#: cost 64 backward passes per network
IN_TESTS = {"gradsign": 3}


def test_the_official_values_file_is_complete():
    rows = official_values()
    combos = {(r["proxy"], str(sorted(r["options"].items()))) for r in rows}
    assert len(rows) == 20 * len(combos)
    assert {r["proxy"] for r in rows} == set(TOLERANCES)
    assert {r["k"] for r in rows} == set(range(20))


@pytest.mark.slow
def test_noise_input_proxies_equal_the_official_code():
    """The defaults of az_* (Gaussian input), meco (its own N(0, 1) 64x64 input) on all 20
    networks: no Fashion-MNIST needed, only the batch's shape."""
    checks = official_agreement(with_batch=False)
    assert {c.proxy for c in checks} == {"az_expressivity", "az_progressivity", "az_trainability", "az_complexity",
                                         "meco"}
    for c in checks:
        assert c.n == 20 and c.ok, (c.proxy, c.options, c.worst, c.worst_diff)
    assert all(c.exact == c.n for c in checks if c.proxy == "az_complexity")  # integer counts


@pytest.mark.slow
def test_batch_input_proxies_equal_the_official_code():
    if not FMNIST.is_dir():  # the batch the official code saw
        pytest.skip(f"needs the Fashion-MNIST files (Debian's dataset-fashion-mnist), absent: {FMNIST}")
    checks = official_agreement(networks=IN_TESTS, batch_only=True)
    assert all(c.needs_batch for c in checks)
    assert {c.proxy for c in checks} >= {"gradsign", "meco", "meco_opt", "az_expressivity", "az_trainability"}
    for c in checks:
        assert c.n == IN_TESTS.get(c.proxy, 20) and c.ok, (c.proxy, c.options, c.worst, c.worst_diff)
    # grey images replicated to 3 channels: the stem's 16 channels span a 9-dim patch space, so the
    # covariance is singular, tiny negative eigenvalues make the entropy NaN: -inf, as officially
    expr = next(c for c in checks if c.proxy == "az_expressivity")
    assert expr.both_nonfinite == 20


# ----------------------------------------------------------------------------- AZ-NAS behaviour

ZERO_CELL = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
IDENTITY_CELL = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


def _probe(arch: str, C=4, N=1, seed=0):
    space = get_space("nb201", C=C, N=N)
    net = seeded_build(space, space.parse(arch), "cifar10", seed)
    g = torch.Generator().manual_seed(0)
    return zc_proxies.Probe(net, torch.randn(8, 3, 8, 8, generator=g), torch.randint(0, 10, (8,), generator=g),
                            seed=seed, num_classes=10)


def _scores(probe, names, opts=None):
    return zc_proxies.score(probe, {n: (n, dict(opts or {})) for n in names})


def test_one_shared_pass_for_the_three_feature_components():
    p = _probe("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|")
    r = _scores(p, ["az_expressivity", "az_progressivity", "az_trainability"])
    assert all(v.status == "ok" for v in r.values()), r
    assert p.computed["az_features"] == 1
    # the components from the signal's parts, by hand
    parts = _probe("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|")\
        .signal("az_features", init="kaiming_norm_fanin", input="gaussian", bn_mode="train")
    e = np.array(parts.entropies)
    assert len(e) == 1 + 3 * 1 + 2  # stem, 3 cells, 2 reduction blocks
    assert r["az_expressivity"].value == pytest.approx(e.sum(), rel=1e-12)
    assert r["az_progressivity"].value == pytest.approx(np.min(np.diff(e)), rel=1e-12)
    assert r["az_trainability"].value == pytest.approx(np.mean(parts.pair_scores), rel=1e-12)
    assert all(s < 0 for s in parts.pair_scores)  # -σ - 1/σ + 2 <= 0, equal only at σ = 1


def test_zero_and_identity_cells_are_minus_inf_as_officially():
    zero = _scores(_probe(ZERO_CELL), ["az_expressivity", "az_progressivity", "az_trainability"])
    assert zero["az_expressivity"].value == -math.inf and zero["az_expressivity"].status == "nonfinite"
    assert zero["az_progressivity"].value == -math.inf
    # no gradient path through the zero cells: g_in = 0, σ = 0, the pair scores 2 - 1e6
    assert zero["az_trainability"].value < -1e5
    ident = _scores(_probe(IDENTITY_CELL), ["az_trainability"])["az_trainability"]
    assert ident.value == -math.inf
    skip = _scores(_probe(IDENTITY_CELL), ["az_trainability"], {"identity_pair": "skip"})["az_trainability"]
    assert math.isfinite(skip.value) and skip.status == "ok"


def test_az_nas_ranks_minus_inf_and_nan_last_with_average_ties():
    e = np.array([3.0, -np.inf, 1.0, np.nan])
    p = np.array([1.0, 2.0, 3.0, 4.0])
    v, used = az_nas_combine(e, p, p, p)
    # e ranks: -inf and NaN tie at 1.5, then 1.0 -> 3, 3.0 -> 4
    expect = np.log(np.array([4, 1.5, 3, 1.5]) / 4) + 3 * np.log(p / 4)
    assert np.allclose(v, expect)
    assert used["nonfinite_ranked_last"] == {"az_expressivity": 2}
    assert np.allclose(log_rank_sum([1.0, 2.0]), np.log([0.5, 1.0]))
    with pytest.raises(ValueError, match="equal length"):
        log_rank_sum([1.0, 2.0], [1.0])


def test_az_nas_is_population_level_and_its_old_usage_names_both_proxies():
    with pytest.raises(ValueError, match="no value for a single network"):
        zc_proxies.score(None, {"az_nas": ("az_nas", {})})
    plan = plan_proxies([ProxySpec("az_nas", "az_nas", {"input": "batch"})])
    assert [s.label for s in plan.scored] == ["az_expressivity", "az_progressivity", "az_trainability", "az_complexity"]
    assert [s.options for s in plan.scored][:3] == [{"input": "batch"}] * 3 and plan.scored[3].options == {}
    with pytest.raises(ValueError, match="log_rank_mean.*az_nas|az_nas.*log_rank_mean"):
        plan_proxies([ProxySpec("az_nas", "az_nas", {"proxies": ["swap", "synflow", "zico"]})])


def test_old_az_nas_config_is_a_clear_cli_error(tmp_path, capsys):
    raw = {"name": "old", "space": "nb201", "space_options": {"C": 4, "N": 1}, "task": "cifar10",
           "data": {"source": "noise", "batch_size": 8, "size": 8}, "archs": {"n": 4}, "seeds": [0],
           "proxies": [{"az_nas": {"proxies": ["swap", "synflow", "zico"]}}]}
    cfg = tmp_path / "old.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zcbench: error:") and "log_rank_mean" in err and "az_expressivity" in err


def test_a_study_ranks_a_zero_cell_last_in_az_nas(tmp_path):
    """The zero cell's -inf expressivity is stored as non-finite (left out of az_expressivity's
    own correlation) and az_nas still ranks it, last, as the official notebook."""
    space = get_space("nb201", C=4, N=1)
    archs = [str(a) for a in space.sample(9, 3)] + [ZERO_CELL]
    gt = tmp_path / "gt.csv"
    with open(gt, "w", newline="") as f:
        csv.writer(f).writerows([[a, f"{50 + 3 * a.count('conv') + i * 0.1:.2f}"] for i, a in enumerate(archs)])
    raw = {"name": "az", "space": "nb201", "space_options": {"C": 4, "N": 1}, "task": "cifar10",
           "data": {"source": "noise", "batch_size": 8, "size": 8}, "ground_truth": {"path": str(gt)},
           "archs": {"from": "ground_truth", "n": None}, "seeds": [0], "proxies": ["az_nas"]}
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    f = load_report(tmp_path / "o").scores
    az = f[f["proxy"] == "az_nas"].set_index("arch")["value"]
    assert len(az) == 10 and az.notna().all()
    assert az.idxmin() == ZERO_CELL
    expr = f[(f["proxy"] == "az_expressivity") & (f["arch"] == ZERO_CELL)].iloc[0]
    assert expr["status"] == "nonfinite" and expr["value"] == -math.inf


def test_cells_are_what_each_space_names():
    nb201 = get_space("nb201", C=4, N=1)
    net = nb201.build(nb201.sample(1, 0)[0], "cifar10")
    assert nb201.cell_modules(net) == [net.stem, *net.cells]
    bert = get_space("nasbench_bert", **SPACES.get("nasbench_bert").small_options)
    bnet = bert.build(bert.sample(1, 0)[0], next(iter(bert.tasks)))
    with pytest.raises(NotImplementedError, match="undefined here"):
        bert.cell_modules(bnet)
    p = zc_proxies.Probe(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()), torch.randn(4, 3, 8, 8))
    r = zc_proxies.score(p, {"az_expressivity": ("az_expressivity", {})})["az_expressivity"]
    assert r.status == "failed" and "cell_modules()" in r.message and "undefined here" in r.message


def test_bad_options_say_what_is_allowed():
    p = _probe(ZERO_CELL)
    for name, opts, needle in [("az_expressivity", {"init": "orthogonal"}, "init must be one of"),
                               ("az_expressivity", {"input": "images"}, "input must be one of"),
                               ("az_trainability", {"identity_pair": "zero"}, "identity_pair must be one of"),
                               ("az_complexity", {"counter": "fvcore"}, "counter must be one of"),
                               ("meco", {"input": "images"}, "input must be one of"),
                               ("meco", {"drop": "none"}, "drop must be one of"),
                               ("gradsign", {"reduce": "max"}, "reduce must be one of")]:
        r = zc_proxies.score(p, {name: (name, opts)})[name]
        assert r.status == "failed" and needle in r.message, (name, r.message)


# ----------------------------------------------------------------------------- MeCo, GradSign behaviour

def test_meco_ignores_the_batch_by_default_and_meco_opt_needs_8_channels():
    a, b = _probe(IDENTITY_CELL, C=8), _probe(IDENTITY_CELL, C=8)
    b.inputs = b.inputs * 0 + 1.0  # another batch of the same shape
    va = _scores(a, ["meco"])["meco"].value
    assert math.isfinite(va) and va == _scores(b, ["meco"])["meco"].value
    on_batch = {"input": "batch"}
    assert _scores(a, ["meco"], on_batch)["meco"].value != _scores(b, ["meco"], on_batch)["meco"].value
    narrow = _scores(_probe(IDENTITY_CELL, C=4), ["meco_opt"])["meco_opt"]
    assert narrow.status == "failed" and "samples 8 rows" in narrow.message
    wide = _scores(_probe(IDENTITY_CELL, C=8), ["meco_opt"])["meco_opt"]
    assert wide.status == "ok"


def test_gradsign_counts_agreeing_signs_by_hand():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    p = zc_proxies.Probe(net, x, y, num_classes=3)
    got = _scores(p, ["gradsign"])["gradsign"].value
    signs = []
    for i in range(5):
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(x[i:i + 1]), y[i:i + 1]).backward()
        signs.append(torch.sign(net[1].weight.grad.flatten()))
    assert got == float(torch.stack(signs).sum(0).abs().sum())
    assert _scores(p, ["gradsign"], {"reduce": "mean"})["gradsign"].value == pytest.approx(got / 12)
    assert _scores(p, ["gradsign"], {"accumulate": "float32"})["gradsign"].value == got
    one = zc_proxies.Probe(net, x[:1], y[:1], num_classes=3)
    r = _scores(one, ["gradsign"])["gradsign"]
    assert r.status == "failed" and "at least 2" in r.message


def test_too_few_rows_for_the_covariance_is_undefined_but_trainability_is_not():
    space = get_space("nb201", C=4, N=1)
    net = seeded_build(space, space.parse(IDENTITY_CELL.replace("skip_connect~0", "nor_conv_3x3~0")), "cifar10", 0)
    p = zc_proxies.Probe(net, torch.randn(2, 3, 4, 4), torch.tensor([0, 1]), num_classes=10)
    r = _scores(p, ["az_expressivity", "az_progressivity", "az_trainability"])
    for name in ("az_expressivity", "az_progressivity"):
        assert r[name].status == "failed" and "too few for a covariance of full rank" in r[name].message
    assert r["az_trainability"].status == "ok"
