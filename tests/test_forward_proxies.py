"""jacov, epe_nas, nwot, zen, ntk, linear_regions and tenas against straightforward reference
computations written here in the style of the original code (NASLib, TE-NAS): a fresh copy,
their own passes, Python loops. Networks: a small conv net with BN, a small NB201 network (8x8)
and the DARTS scorer (32x32)."""
import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

import zc_proxies
from search_spaces.base import get_space, seeded_build
from zc_proxies.jacobian import epe_nas_score
from zc_proxies.tenas import RANK_METHODS, tenas_combine, tenas_generator
from zc_proxies.zen import zen_generator

FORWARD = ("jacov", "epe_nas", "nwot", "zen", "ntk", "linear_regions")
LR_SMALL = {"n_samples": 60, "batches": 2, "input_size": 4}  # TE-NAS defaults are 3 x 1000 of 3x3


def small_net(act=nn.ReLU, classes=5):
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), act(),
        nn.Conv2d(6, 8, 3, padding=1, stride=2), nn.BatchNorm2d(8), act(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes))


def batch(n, shape, classes, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, *shape), generator=g), torch.randint(classes, (n,), generator=g)


NB201_ARCH = "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"



def make_case(name):
    """(network, inputs, labels) for one of the three test networks."""
    if name == "small":
        torch.manual_seed(0)
        x, y = batch(12, (3, 8, 8), 5, 1)
        return small_net(), x, y
    if name == "nb201":
        space = get_space("nb201", C=4, N=1)
        x, y = batch(10, (3, 8, 8), 10, 2)
        return seeded_build(space, space.parse(NB201_ARCH), "cifar10", 0), x, y
    space = get_space("darts")
    x, y = batch(8, (3, 32, 32), 10, 3)
    return seeded_build(space, space.sample(1, 4)[0], "cifar10", 0), x, y


CASES = ("small", "nb201", "darts")


@pytest.fixture(scope="module", params=CASES)
def case(request):
    return make_case(request.param)


def close(a, b, rel=1e-6):
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


def run(net, x, y, proxy, seed=0, **opts):
    probe = zc_proxies.Probe(net, x, y, seed=seed)
    r = zc_proxies.score(probe, {proxy: (proxy, opts)})[proxy]
    assert r.status != "failed", r.message
    return r.value


# ----------------------------------------------------------------------------- references


def ref_jacobian(net, x):
    """NASLib get_batch_jacobian on a deep copy in train mode."""
    net = copy.deepcopy(net).train()
    net.zero_grad()
    x = x.clone().requires_grad_(True)
    out = net(x)
    out.backward(torch.ones_like(out))
    return x.grad.detach().reshape(x.shape[0], -1).numpy(), out.shape[-1]


def ref_jacov(net, x):
    jac, _ = ref_jacobian(net, x)
    corrs = np.corrcoef(jac)
    v, _ = np.linalg.eig(corrs)
    k = 1e-5
    return float(np.real(-np.sum(np.log(v + k) + 1.0 / (v + k))))


def ref_eval_score_perclass(jacob, labels, n_classes):
    """NASLib epe_nas.eval_score_perclass, verbatim in substance."""
    k = 1e-5
    per_class = {}
    for i, label in enumerate(labels[0]):
        if label in per_class:
            per_class[label] = np.vstack((per_class[label], jacob[i]))
        else:
            per_class[label] = jacob[i]
    ind = {}
    for c in per_class.keys():
        try:
            corrs = np.corrcoef(per_class[c])
            s = np.sum(np.log(abs(corrs) + k))
            if n_classes > 100:
                s /= len(corrs)
        except Exception:
            continue
        ind[c] = s
    score = 0
    if n_classes <= 100:
        for c in ind:
            score += np.absolute(ind[c])
    else:
        for c in ind:
            for cj in ind:
                score += np.absolute(ind[c] - ind[cj])
        score /= len(ind)
    return float(score)


def ref_epe_nas(net, x, y):
    jac, n_classes = ref_jacobian(net, x)
    return ref_eval_score_perclass(jac, [y.numpy()], n_classes)


def ref_nwot(net, x, kinds=(nn.ReLU, nn.LeakyReLU)):
    """NASLib compute_nwot: float32 matmuls per hook, K accumulated in a float64 numpy array."""
    net = copy.deepcopy(net).train()
    K = np.zeros((x.shape[0], x.shape[0]))

    def hook(module, inp, out):
        nonlocal K
        a = inp[0].view(inp[0].size(0), -1)
        c = (a > 0).float()
        K = K + (c @ c.t()).numpy() + ((1.0 - c) @ (1.0 - c.t())).numpy()

    for m in net.modules():
        if type(m) in kinds:
            m.register_forward_hook(hook)
    with torch.no_grad():
        net(x.clone())
    return float(np.linalg.slogdet(K)[1])


def ref_zen(net, x, seed, bn_var_source="running"):
    """NASLib compute_zen_score (repeat=1) with forward_before_global_avg_pool; the random draws
    come from zcbench's per-probe generator in NASLib's order (weights, input, input2)."""
    net = copy.deepcopy(net).train()
    g = zen_generator(seed, 0)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, generator=g)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, generator=g)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        inp = torch.randn(size=list(x.shape), generator=g)
        inp2 = torch.randn(size=list(x.shape), generator=g)
        mixup = inp + 1e-2 * inp2

        def before_gap(z):
            outs = []
            h = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d)][-1].register_forward_hook(
                lambda mod, i, o: outs.append(i[0]))
            net.forward(z)
            h.remove()
            assert len(outs) == 1
            return outs[0]

        batch_vars = []
        hooks = [m.register_forward_pre_hook(lambda mod, i: batch_vars.append(
            i[0].permute(1, 0, 2, 3).reshape(i[0].shape[1], -1).var(dim=1, unbiased=False).mean()))
            for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
        out = before_gap(inp)
        for h in hooks:
            h.remove()
        mout = before_gap(mixup)
        score = torch.mean(torch.sum(torch.abs(out - mout), dim=[1, 2, 3]))
        log_bn = 0.0
        if bn_var_source == "batch":
            for v in batch_vars:
                log_bn += torch.log(torch.sqrt(v))
        else:
            for m in net.modules():
                if isinstance(m, nn.BatchNorm2d):
                    log_bn += torch.log(torch.sqrt(torch.mean(m.running_var)))
        return float(torch.log(score) + log_bn)


def ref_ntk(net, x, init_gen=None, weights="named_weight"):
    """TE-NAS get_ntk_n (train mode, one batch): backward of each sample's logits, collect the
    grads of every parameter named "weight" (BN included; ``weights="conv_linear"``: Conv/Linear
    weights only), NTK = G Gᵀ (float64 here), cond = λ_max / λ_min."""
    net = copy.deepcopy(net).train()
    if init_gen is not None:  # TE-NAS kaiming_normal_fanout_init
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=init_gen)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight.data)
                nn.init.constant_(m.bias.data, 0.0)
    if weights == "named_weight":
        weights = [p for n, p in net.named_parameters() if "weight" in n]
    else:
        weights = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    net.zero_grad()
    logit = net(x.clone())
    grads = []
    for i in range(len(x)):
        logit[i:i + 1].backward(torch.ones_like(logit[i:i + 1]), retain_graph=True)
        grads.append(torch.cat([w.grad.view(-1).detach() for w in weights if w.grad is not None]))
        net.zero_grad()
    G = torch.stack(grads).double()
    ev = torch.linalg.eigvalsh(G @ G.T)
    return float(ev[-1] / ev[0])


def ref_linear_regions(net, x, seed, n_samples, batches, input_size):
    """TE-NAS Linear_Region_Collector: ReLU (4-D input) outputs, sign, concatenated per sample;
    LinearRegionCount.calc_LR (in float64): Σ_i 1 / #{j : pattern_j == pattern_i}."""
    net = copy.deepcopy(net).train()
    g = tenas_generator(seed, "linear_regions", 0)
    feats = []

    def hook(module, inp, out):
        if len(inp[0].size()) == 4:
            feats.append(out.detach())

    for m in net.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(hook)
    rows = []
    with torch.no_grad():
        for _ in range(batches):
            data = torch.randn((n_samples, x.shape[1], input_size, input_size), generator=g)
            feats.clear()
            net(data)
            rows.append(torch.sign(torch.cat([f.view(n_samples, -1) for f in feats], 1)))
    act = torch.cat(rows).double()
    res = act @ (1 - act).T
    res = res + res.T
    res = 1 - torch.sign(res)
    n_lr = (1.0 / res.sum(1)).sum().item()
    assert abs(n_lr - round(n_lr)) < 1e-6
    assert round(n_lr) == torch.unique(act, dim=0).shape[0]
    return round(n_lr)


# ----------------------------------------------------------------------------- exactness


def test_jacov_matches_naslib(case):
    net, x, y = case
    assert close(run(net, x, y, "jacov"), ref_jacov(net, x))


def test_epe_nas_matches_naslib(case):
    net, x, y = case
    assert close(run(net, x, y, "epe_nas"), ref_epe_nas(net, x, y))


def test_nwot_matches_naslib(case):
    net, x, y = case
    assert close(run(net, x, y, "nwot"), ref_nwot(net, x))


def test_zen_matches_naslib(case):
    net, x, y = case
    assert close(run(net, x, y, "zen", seed=7), ref_zen(net, x, 7))
    assert run(net, x, y, "zen", seed=7, accumulate="float32") == ref_zen(net, x, 7)  # bit for bit


def test_zen_batch_variance_option(case):
    net, x, y = case
    assert close(run(net, x, y, "zen", seed=7, bn_var_source="batch"), ref_zen(net, x, 7, "batch"))


def test_ntk_matches_tenas(case):
    net, x, y = case
    assert close(run(net, x, y, "ntk"), ref_ntk(net, x))
    assert close(run(net, x, y, "ntk", weights="conv_linear"), ref_ntk(net, x, weights="conv_linear"))
    # float32 as TE-NAS: float32 NTK and eigensolver, within float32 eigensolver rounding
    assert run(net, x, y, "ntk", accumulate="float32") == pytest.approx(ref_ntk(net, x), rel=1e-3)


def test_linear_regions_match_tenas(case):
    net, x, y = case
    want = ref_linear_regions(net, x, 3, **LR_SMALL)
    assert run(net, x, y, "linear_regions", seed=3, **LR_SMALL) == want
    assert 1 <= want <= LR_SMALL["n_samples"] * LR_SMALL["batches"]


def test_ntk_kaiming_repeats_and_batch_subset():
    net, x, y = make_case("small")
    want = np.mean([ref_ntk(net, x, tenas_generator(5, "ntk", r)) for r in range(2)])
    assert close(run(net, x, y, "ntk", seed=5, init="kaiming", repeats=2), want)
    assert close(run(net, x, y, "ntk", batch=6), ref_ntk(net, x[:6]))


def test_unused_weights_and_constant_outputs():
    """NB201 builds no module for ``none``: a conv whose node feeds only ``none`` edges gets no
    gradient (TE-NAS skips it); a cell of ``none`` edges makes the output independent of x."""
    space = get_space("nb201", C=4, N=1)
    x, y = batch(10, (3, 8, 8), 10, 2)
    net = seeded_build(space, space.parse(
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"), "cifar10", 0)
    assert close(run(net, x, y, "ntk"), ref_ntk(net, x))
    assert close(run(net, x, y, "jacov"), ref_jacov(net, x))
    dead = seeded_build(space, space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), "cifar10", 0)
    with pytest.raises(ValueError, match="does not depend on its input"):
        zc_proxies.get_proxy("jacov").fn(zc_proxies.Probe(dead, x, y), bn_mode="train", eig="eig")


def test_ntk_with_the_network_init_is_computed_once():
    net, x, y = make_case("small")
    probe = zc_proxies.Probe(net, x, y)
    value = zc_proxies.score(probe, {"ntk": ("ntk", {"repeats": 3})})["ntk"].value
    assert probe.computed["ntk"] == 1 and close(value, ref_ntk(net, x))


def test_epe_nas_score_branches_match_naslib():
    """Both NASLib branches (n_classes <= 100 and > 100, where lone-sample classes drop out)."""
    g = np.random.default_rng(0)
    jac = g.normal(size=(20, 30)).astype(np.float32)
    labels = np.array([0, 1, 1, 2, 2, 2, 3, 4, 4, 5, 6, 6, 6, 6, 7, 8, 8, 9, 9, 9])
    for n_classes in (10, 100, 101, 120):
        assert close(epe_nas_score(jac, labels, n_classes), ref_eval_score_perclass(jac, [labels], n_classes))
    with pytest.raises(ValueError, match="no class among these 4 labels has two samples"):
        epe_nas_score(jac[:4], np.arange(4), 120)  # NASLib: 0/0 = NaN


def test_jacov_eigvalsh_close_to_eig():
    net, x, y = make_case("small")
    a, b = run(net, x, y, "jacov"), run(net, x, y, "jacov", eig="eigvalsh")
    assert math.isclose(a, b, rel_tol=1e-6)


# ----------------------------------------------------------------------------- house rules


def test_jacov_and_epe_nas_share_one_jacobian():
    net, x, y = make_case("small")
    probe = zc_proxies.Probe(net, x, y)
    res = zc_proxies.score(probe, {"jacov": ("jacov", {}), "epe_nas": ("epe_nas", {})})
    assert all(r.status == "ok" for r in res.values())
    assert probe.computed["input_jacobian"] == 1
    assert probe.cached() == []  # freed once no remaining proxy consumes it


def test_network_state_and_mode_unchanged():
    net, x, y = make_case("nb201")
    with torch.no_grad():
        net(x)  # running stats away from their initial values
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    modes = [m.training for m in net.modules()]
    x0 = x.clone()
    probe = zc_proxies.Probe(net, x, y, seed=1)
    res = zc_proxies.score(probe, {p: (p, LR_SMALL if p == "linear_regions" else {}) for p in FORWARD})
    assert all(r.status == "ok" for r in res.values()), {k: r.message for k, r in res.items()}
    after = net.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [m.training for m in net.modules()] == modes
    assert torch.equal(x, x0) and not x.requires_grad and x.grad is None
    assert all(p.grad is None for p in net.parameters())


def test_deterministic_for_a_fixed_seed():
    net, x, y = make_case("nb201")
    spec = {p: (p, LR_SMALL if p == "linear_regions" else {}) for p in FORWARD}
    spec["ntk_k"] = ("ntk", {"init": "kaiming"})
    a = zc_proxies.score(zc_proxies.Probe(net, x, y, seed=11), spec)
    b = zc_proxies.score(zc_proxies.Probe(net, x, y, seed=11), spec)
    assert {k: r.value for k, r in a.items()} == {k: r.value for k, r in b.items()}
    c = zc_proxies.score(zc_proxies.Probe(net, x, y, seed=12),
                         {"zen": ("zen", {}), "ntk_k": ("ntk", {"init": "kaiming"})})
    assert c["zen"].value != a["zen"].value and c["ntk_k"].value != a["ntk_k"].value


def test_nwot_hooks_leaky_relu_by_default_only():
    torch.manual_seed(0)
    x, y = batch(12, (3, 8, 8), 5, 1)
    net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                        nn.Conv2d(6, 6, 3, padding=1), nn.LeakyReLU(0.2),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5))
    with_leaky = ref_nwot(net, x, (nn.ReLU, nn.LeakyReLU))
    without = ref_nwot(net, x, (nn.ReLU,))
    assert with_leaky != without
    assert close(run(net, x, y, "nwot"), with_leaky)
    assert close(run(net, x, y, "nwot", leaky=False), without)
    only_leaky = nn.Sequential(nn.Conv2d(3, 6, 3), nn.LeakyReLU(0.2), nn.Flatten())
    with pytest.raises(ValueError, match="no ReLU-family module"):
        zc_proxies.get_proxy("nwot").fn(zc_proxies.Probe(only_leaky, x, y), bn_mode="train", leaky=False)


def test_epe_nas_refuses_dense_outputs():
    x, y = batch(6, (3, 8, 8), 4, 0)
    dense = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 1))
    with pytest.raises(ValueError, match="epe_nas is undefined for dense-output tasks"):
        zc_proxies.get_proxy("epe_nas").fn(zc_proxies.Probe(dense, x, y), bn_mode="train", n_classes=None)
    assert not math.isnan(run(dense, x, y, "jacov"))  # the Jacobian itself is fine


def test_zen_needs_a_global_pool():
    x, y = batch(6, (3, 8, 8), 4, 0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                        nn.Linear(256, 4))
    with pytest.raises(ValueError, match="no nn.AdaptiveAvgPool2d"):
        zc_proxies.get_proxy("zen").fn(zc_proxies.Probe(net, x, y), **zc_proxies.get_proxy("zen").defaults)


def test_linear_regions_says_when_input_size_is_too_small():
    x, y = batch(4, (3, 8, 8), 4, 0)
    net = nn.Sequential(nn.Conv2d(3, 4, 5), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with pytest.raises(ValueError, match="set input_size"):
        zc_proxies.get_proxy("linear_regions").fn(zc_proxies.Probe(net, x, y),
                                                  **{**zc_proxies.get_proxy("linear_regions").defaults,
                                                     "n_samples": 10, "batches": 1})


def test_registry_metadata():
    info = zc_proxies.get_proxy("ntk")
    assert not info.higher_is_better and info.consumes == ("ntk",)
    assert zc_proxies.get_proxy("jacov").consumes == zc_proxies.get_proxy("epe_nas").consumes == ("input_jacobian",)
    assert zc_proxies.get_proxy("nwot").defaults["leaky"] is True
    assert zc_proxies.get_proxy("zen").defaults == {"bn_var_source": "running", "mixup_gamma": 0.01, "repeats": 1,
                                                    "accumulate": "float64"}
    assert zc_proxies.get_proxy("ntk").defaults["weights"] == "named_weight"  # TE-NAS's weight set
    lr = zc_proxies.get_proxy("linear_regions").defaults
    assert (lr["n_samples"], lr["batches"], lr["input_size"]) == (1000, 3, 3)
    tenas = zc_proxies.get_proxy("tenas")
    assert tenas.kind == "population" and [b.proxy for b in tenas.bases()] == ["ntk", "linear_regions"]
    for base in tenas.bases():  # every base option can be set through tenas, same defaults
        assert dict(base.options) == zc_proxies.get_proxy(base.proxy).defaults
        for k, v in zc_proxies.get_proxy(base.proxy).defaults.items():
            assert tenas.defaults[k] == v


# ----------------------------------------------------------------------------- tenas


def test_tenas_combine_hand_example():
    ntk = [10.0, 5.0, 5.0, 100.0]  # cond(NTK), lower is better: dense ranks 1, 0, 0, 2
    lr = [50.0, 80.0, 20.0, 90.0]  # #regions, higher is better: ranks 2, 1, 3, 0
    values, info = tenas_combine(ntk, lr)
    assert values.tolist() == [-3.0, -1.0, -3.0, -2.0] and info["rank_method"] == "dense"
    values, _ = tenas_combine(ntk, lr, rank_method="average", init="none", n_samples=1000)
    assert values.tolist() == [-4.0, -1.5, -3.5, -3.0]
    values, _ = tenas_combine([1.0, float("nan")], [3.0, 4.0])  # NaN ranks worst
    assert values.tolist() == [-1.0, -1.0]
    assert set(RANK_METHODS) >= {"dense", "average"}
    with pytest.raises(ValueError, match="rank_method"):
        tenas_combine(ntk, lr, rank_method="best")


def test_tenas_is_only_defined_over_a_population():
    net, x, y = make_case("small")
    probe = zc_proxies.Probe(net, x, y)
    with pytest.raises(ValueError, match="population-level"):
        zc_proxies.score(probe, {"tenas": ("tenas", {})})
    # over a population: tenas_combine of its two bases
    ntk, lr = np.array([10.0, 5.0, 5.0, 100.0]), np.array([50.0, 80.0, 20.0, 90.0])
    got = zc_proxies.get_proxy("tenas").combine(zc_proxies.Population(list("abcd"), {"ntk": ntk, "linear_regions": lr}))
    assert got.values.tolist() == tenas_combine(ntk, lr)[0].tolist() and got.keep is None


def test_plan_adds_ntk_and_linear_regions_for_tenas():
    runner = pytest.importorskip("experiments.plan")
    from experiments.config import ProxySpec

    plan = runner.plan_proxies([ProxySpec("tenas", "tenas", {"input_size": 4, "repeats": 2, "init": "kaiming"})])
    by = {s.proxy: s for s in plan.scored}
    assert set(by) == {"ntk", "linear_regions"}
    assert by["ntk"].options == {"repeats": 2, "init": "kaiming"}  # what the user gave, for ntk
    assert zc_proxies.get_proxy("ntk").options(by["ntk"].options) == {
        "init": "kaiming", "bn_mode": "train", "repeats": 2, "batch": None, "weights": "named_weight",
        "accumulate": "float64"}
    assert by["linear_regions"].options["input_size"] == 4 and by["linear_regions"].options["repeats"] == 2
    assert [lab for _, lab in plan.derived[0][1]] == [by["ntk"].label, by["linear_regions"].label]
