"""L-SWAG: the proxy against a hand-written reference on NB201
networks, percentile bins, option errors, signal sharing with zico and swap, the calibration
parts, the conformance check, and the layer calibration of a tiny study."""
import copy
import csv
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from torch import nn

import zc_proxies
import zc_proxies.lswag  # noqa: F401  (registers "lswag")
from experiments.calibrate import calibrate_layers
from experiments.config import load_study
from experiments.inputs import load_ground_truth, study_archs
from search_spaces.base import get_space
from search_spaces.data import load_batch
from zc_proxies.lswag import LSWAG_DEFAULTS, lswag_from_parts, lswag_parts, percentile_bins
from zc_proxies.probe import mix_seed
from experiments.conformance import check_proxy

SPACE = get_space("nb201", C=4, N=1)
# no conv edge: 8 weight layers (stem, 2 x 3 in the reduction blocks, classifier), 5 ReLU calls
NO_CONV = SPACE.parse("|skip_connect~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|skip_connect~2|")
ARCHS = [SPACE.parse("|nor_conv_1x1~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|none~1|avg_pool_3x3~2|"),
         SPACE.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"),
         NO_CONV]
# node 1 has only a none edge and feeds everything: the output does not depend on the input
DISCONNECTED = SPACE.parse("|none~0|+|none~0|skip_connect~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|")
X, Y = load_batch("noise", 16, size=8)
SEED = 7


def probe_for(arch):
    torch.manual_seed(0)
    return zc_proxies.Probe(SPACE.build(arch, "cifar10"), X, Y, seed=SEED, num_classes=10)


def run_lswag(probe, **opts):
    info = zc_proxies.get_proxy("lswag")
    return info.fn(probe, **info.options(opts))


# ----------------------------------------------------------------------------- reference

def ref_bin(l, n):
    return int((l / n * 100) // 10)


def ref_lambda(net, l1, l2, grad_stat, chunks=2):
    """Per-chunk backward passes on a train-mode copy, then Σ_layers log Σ 1/stat."""
    work = copy.deepcopy(net).train()
    layers = [m for m in work.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    n = X.shape[0]
    rows = [[] for _ in layers]
    for c in range(chunks):
        work.zero_grad(set_to_none=True)
        sl = slice(c * n // chunks, (c + 1) * n // chunks)
        F.cross_entropy(work(X[sl]), Y[sl]).backward()
        for k, m in enumerate(layers):
            g = m.weight.grad if m.weight.grad is not None else torch.zeros_like(m.weight)
            rows[k].append(g.detach().flatten().double())
    total, used = 0.0, 0
    for k, r in enumerate(rows):
        if not l1 <= ref_bin(k + 1, len(layers)) <= l2:
            continue
        used += 1
        g = torch.stack(r)
        v = g.abs() if grad_stat == "abs_var" else g
        stat = ((v - v.mean(0)) ** 2).mean(0).sqrt()
        s = (1.0 / stat[stat != 0]).sum().item()
        if s != 0:
            total += math.log(s)
    assert used
    return total


def ref_psi(net, lo, hi, repeat=0):
    """SWAP's Gaussian re-init (seeded as the codes signal), ReLU outputs with 4-D input of the
    calls in bins [lo, hi], S x V sign matrix, transposed, torch.unique."""
    work = copy.deepcopy(net)
    g = torch.Generator().manual_seed(mix_seed(SEED, 17, repeat))
    with torch.no_grad():
        for m in work.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.normal_(0.0, 1.0, generator=g)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1.0)
                m.bias.zero_()
    work.train()
    outs = []

    def hook(module, inp, out):
        if inp[0].dim() == 4:
            outs.append(out.detach().reshape(out.shape[0], -1))

    handles = [m.register_forward_hook(hook) for m in work.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        work(X)
    for h in handles:
        h.remove()
    sel = [o for k, o in enumerate(outs) if lo <= ref_bin(k + 1, len(outs)) <= hi]
    assert sel
    return torch.unique(torch.cat(sel, dim=1).sign().t(), dim=0).shape[0]


CASES = [
    {},
    {"l1": 3, "l2": 7},
    {"grad_stat": "signed_std"},
    {"l1": 3, "l2": 7, "grad_stat": "signed_std"},
    {"l1": 3, "l2": 7, "psi_from_first_layer": True},
    {"l1": 2, "l2": 8, "grad_stat": "signed_std", "psi_from_first_layer": True, "repeats": 2},
]


@pytest.mark.parametrize("opts", CASES, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_lswag_equals_reference(opts):
    o = {**LSWAG_DEFAULTS, **opts}
    for arch in ARCHS:
        probe = probe_for(arch)
        lam = ref_lambda(probe.net, o["l1"], o["l2"], o["grad_stat"])
        lo = 0 if o["psi_from_first_layer"] else o["l1"]
        psi = np.mean([ref_psi(probe.net, lo, o["l2"], r) for r in range(o["repeats"])])
        got = run_lswag(probe, **opts)
        assert got == pytest.approx(lam * psi, rel=1e-9), arch
        assert lam > 0 and psi > 0


def test_interval_matters_and_default_covers_everything():
    probe = probe_for(ARCHS[0])
    full = run_lswag(probe)
    mid = run_lswag(probe, l1=3, l2=7)
    assert mid < full  # a subset of the layers and of the patterns (all terms positive here)
    assert run_lswag(probe, l1=0, l2=10) == full
    swap = zc_proxies.get_proxy("swap")
    assert full / swap.fn(probe, **swap.options()) == pytest.approx(ref_lambda(probe.net, 0, 10, "abs_var"))


def test_disconnected_network_scores_zero():
    """Identical gradients in every chunk: every layer is skipped, Λ = 0 (as ZiCo gives 0)."""
    probe = probe_for(DISCONNECTED)
    assert ref_lambda(probe.net, 0, 10, "abs_var") == 0.0
    assert run_lswag(probe) == 0.0 and run_lswag(probe, grad_stat="signed_std") == 0.0
    assert all(math.isnan(t) for t in lswag_parts(probe).lambda_terms)


# ----------------------------------------------------------------------------- bins

def test_percentile_bins_by_hand():
    assert percentile_bins(10) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    # 14.3, 28.6, 42.9, 57.1, 71.4, 85.7, 100 -> // 10
    assert percentile_bins(7) == [1, 2, 4, 5, 7, 8, 10]
    assert percentile_bins(1) == [10]
    assert percentile_bins(8, perc_bins=4) == [0, 1, 1, 2, 2, 3, 3, 4]
    for n in range(1, 150):
        b = percentile_bins(n)
        assert b == sorted(b) and b[-1] == 10 and 10 not in b[:-1] and min(b) >= 0
        if n > 10:
            assert set(b) == set(range(11))


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("opts,needle", [
    ({"l1": -1}, "l1"),
    ({"l2": 11}, "l2"),
    ({"l1": "3"}, "l1"),
    ({"l2": 2.5}, "l2"),
    ({"l1": True}, "l1"),
    ({"l1": 6, "l2": 4}, "l1=6 and l2=4"),
    ({"perc_bins": 0}, "perc_bins"),
    ({"perc_bins": 5}, "l2=10 is outside the percentile bins 0..5"),
    ({"grad_stat": "abs_std"}, "grad_stat"),
    ({"psi_from_first_layer": "yes"}, "psi_from_first_layer"),
    ({"repeats": 0}, "repeats"),
    ({"chunks": 1}, "chunks"),
])
def test_bad_options_name_the_option(opts, needle):
    with pytest.raises(ValueError, match=needle):
        run_lswag(probe_for(ARCHS[0]), **opts)


def test_unknown_option_is_refused():
    with pytest.raises(ValueError, match="no option"):
        zc_proxies.get_proxy("lswag").options({"l3": 1})


def test_empty_interval_is_a_clear_error():
    probe = probe_for(NO_CONV)  # weight layers in bins [1, 2, 3, 5, 6, 7, 8, 10], calls in [2, 4, 6, 8, 10]
    with pytest.raises(ValueError, match=r"no weight layer .* bins \[l1, l2\] = \[4, 4\]"):
        run_lswag(probe, l1=4, l2=4)
    with pytest.raises(ValueError, match=r"no hooked activation call .* \[3, 3\]"):
        run_lswag(probe, l1=3, l2=3)
    assert run_lswag(probe, l1=3, l2=3, psi_from_first_layer=True) > 0  # Ψ over [0, 3] holds bin 2
    res = zc_proxies.score(probe, {"x": ("lswag", {"l1": 4, "l2": 4})})["x"]
    assert res.status == "failed" and "widen the interval" in res.message


# ----------------------------------------------------------------------------- sharing

def test_shares_signals_with_zico_and_swap_and_fused_equals_unfused():
    proxies = {"lswag": ("lswag", {}), "lswag37": ("lswag", {"l1": 3, "l2": 7, "grad_stat": "signed_std"}),
               "zico": ("zico", {}), "swap": ("swap", {})}
    probe = probe_for(ARCHS[1])
    fused = zc_proxies.score(probe, proxies)
    assert probe.computed["chunk_grads"] == 1 and probe.computed["codes"] == 1
    assert probe.cached() == []
    probe2 = probe_for(ARCHS[1])
    unfused = zc_proxies.score(probe2, proxies, fused=False)
    assert probe2.computed["chunk_grads"] == 3 and probe2.computed["codes"] == 3
    for k in proxies:
        assert fused[k].status == "ok" and fused[k].value == unfused[k].value, k


def test_parts_give_the_proxy_for_every_interval():
    for arch in ARCHS[::2]:
        for first in (False, True):
            for stat in ("abs_var", "signed_std"):
                probe = probe_for(arch)
                parts = lswag_parts(probe, grad_stat=stat, repeats=2)
                n_defined = 0
                for l1 in range(11):
                    for l2 in range(l1, 11):
                        opts = {"l1": l1, "l2": l2, "psi_from_first_layer": first, "grad_stat": stat, "repeats": 2}
                        if parts.defined(l1, l2, first):
                            n_defined += 1
                            assert lswag_from_parts(parts, l1, l2, first) == run_lswag(probe, **opts)
                        else:
                            with pytest.raises(ValueError, match="widen the interval"):
                                run_lswag(probe, **opts)
                            with pytest.raises(ValueError, match="widen the interval"):
                                lswag_from_parts(parts, l1, l2, first)
                assert n_defined >= 30
                assert probe.computed["chunk_grads"] == 1 and probe.computed["codes"] == 2


def test_parts_with_multi_word_patterns():
    """More than 64 samples: patterns are several int64 words (void rows) in the codes signal."""
    x, y = load_batch("noise", 70, size=8)
    probe = zc_proxies.Probe(SPACE.build(ARCHS[1], "cifar10"), x, y, seed=1, num_classes=10)
    parts = lswag_parts(probe)
    for l1, l2 in [(0, 10), (3, 7), (5, 5), (9, 10)]:
        assert parts.score(l1, l2) == run_lswag(probe, l1=l1, l2=l2)


def test_conformance():
    report = check_proxy("lswag")
    assert report.cases and not report.failures
    assert all(c.status == "ok" for c in report.cases if c.space == "nb201")
    assert {c.space for c in report.cases} >= {"nb201", "darts"}


# ----------------------------------------------------------------------------- calibration

def tiny_study(tmp_path, n=10, **extra):
    archs = SPACE.sample(30, seed=11)
    rng = np.random.default_rng(0)
    gt = tmp_path / "gt.csv"
    with open(gt, "w", newline="") as f:
        w = csv.writer(f)
        for a in archs:  # made-up accuracies: more convolutions, higher accuracy
            convs = sum(op.startswith("nor_conv") for op in str(a).replace("+", "").strip("|").split("|"))
            w.writerow([str(a), f"{70 + 3 * convs + rng.normal(0, 2):.2f}"])
    raw = {"name": "cal", "space": "nb201", "space_options": {"C": 4, "N": 1}, "task": "cifar10",
           "data": {"source": "noise", "batch_size": 16, "size": 8}, "ground_truth": {"path": str(gt)},
           "archs": {"from": "ground_truth", "n": n}, "seeds": [0, 1],
           "proxies": ["zico", {"lswag": {"grad_stat": "abs_var"}}]}
    raw.update(extra)
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    return load_study(cfg)


def test_calibrate_layers_on_a_tiny_study(tmp_path):
    study = tiny_study(tmp_path)
    out = tmp_path / "cal"
    res = calibrate_layers(study, out, progress=False)
    space = get_space("nb201", C=4, N=1)
    gt = load_ground_truth(study, space)
    evaluated = {str(a) for s in study.seeds for a in study_archs(study, space, gt, s)}
    assert 10 <= len(evaluated) <= 20
    cal = set(res["archs"])
    assert cal and not cal & evaluated  # disjoint from every seed's evaluated architectures
    assert len(cal) == res["calibration"]["n"] == 30 - len(evaluated)  # default n: the whole pool (< 200)
    assert res["calibration"]["excluded"] == len(evaluated)
    assert 0 <= res["l1"] <= res["l2"] <= 10 and -1 <= res["spearman"] <= 1
    assert res["spearman"] == max(v for v in res["grid"].values() if np.isfinite(v))
    for name in ("layer_calibration.png", "layer_calibration.csv", "layers.yaml"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    text = (out / "layers.yaml").read_text()
    assert f"lswag: {{l1: {res['l1']}, l2: {res['l2']}}}" in text
    saved = yaml.safe_load(text)
    assert {k: saved[k] for k in ("space", "task", "l1", "l2")} == {"space": "nb201", "task": "cifar10",
                                                                    "l1": res["l1"], "l2": res["l2"]}
    assert saved["calibration"]["n"] == len(cal) and saved["calibration"]["seed"] == 0
    with open(out / "layer_calibration.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["bin"]) for r in rows] == list(range(11))
    assert {"n_layers", "mean", "std", "spearman"} <= set(rows[0])
    assert sum(int(r["n_layers"]) for r in rows) > 0
    # seeded: the same calibration again
    again = calibrate_layers(study, tmp_path / "cal2", progress=False, n=5, seed=1)
    assert len(again["archs"]) == 5 and not set(again["archs"]) & evaluated


def test_calibration_needs_a_pool_and_ground_truth(tmp_path):
    with pytest.raises(ValueError, match="set archs.n smaller than the ground truth"):
        calibrate_layers(tiny_study(tmp_path, n=None), tmp_path / "o", progress=False)
    with pytest.raises(ValueError, match="needs ground truth"):
        calibrate_layers(tiny_study(tmp_path, archs={"from": "sample", "n": 5}, ground_truth={}),
                         tmp_path / "o", progress=False)


def test_calibrate_layers_command(tmp_path, capsys):
    from experiments.cli import main

    tiny_study(tmp_path)
    cfg = tmp_path / "study.yaml"
    assert main(["calibrate-layers", str(cfg), "--out", str(tmp_path / "c"), "--n", "6", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "use it in the study's proxies as:  - lswag: {l1:" in out and "layers.yaml" in out
    assert main(["calibrate-layers", str(cfg), "--set", "archs.n=null", "--out", str(tmp_path / "c2")]) == 2
    assert "set archs.n smaller than the ground truth" in capsys.readouterr().err
