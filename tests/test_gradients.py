"""Gradient proxies (grad_norm, snip, plain, fisher, grasp, synflow, l2_norm, zico) and losses.

Each proxy is checked against an independent, NASLib-style computation written out here (a
fresh deepcopy, its own forward/backward, loops over layers), on a small conv net with BN, two
small NB201 networks (one with a conv whose output is unused, so its ``.grad`` is None) and
the DARTS scorer (whose classifier output is dropped, so its ``.grad`` is None too).
"""
import copy
import math
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from search_spaces import get_space, seeded_build
from zc_proxies import Probe, get_proxy, score
from zc_proxies.gradients import synflow_log, zico_score
from zc_proxies.losses import LOSSES, get_loss, main_output

PROXIES = ("grad_norm", "snip", "plain", "fisher", "grasp", "synflow", "l2_norm", "zico")
NB201_DENSE = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
NB201_SPARSE = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"  # node 1 unused



def small_bn_net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
        nn.Conv2d(6, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5),
    )


def make_case(kind):
    """(net, inputs, int64 labels) for one of the test networks."""
    g = torch.Generator().manual_seed(7)
    x = torch.randn(8, 3, 8, 8, generator=g)
    if kind == "bn_net":
        return small_bn_net(), x, torch.randint(0, 5, (8,), generator=g)
    if kind.startswith("nb201"):
        space = get_space("nb201", C=4, N=1)
        arch = NB201_DENSE if kind == "nb201_dense" else NB201_SPARSE
        return seeded_build(space, space.parse(arch), "cifar10", 0), x, torch.randint(0, 10, (8,), generator=g)
    space = get_space("darts")
    arch = space.sample(1, seed=3)[0]
    return seeded_build(space, arch, "cifar10", 0), x, torch.randint(0, 10, (8,), generator=g)


CASES = ("bn_net", "nb201_dense", "nb201_sparse", "darts")


# ----------------------------------------------------------------------------- references

def layers_of(net):
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def fresh(net):
    work = copy.deepcopy(net)
    work.train()
    work.zero_grad(set_to_none=True)
    return work


def ref_backward(net, x, y):
    work = fresh(net)
    F.cross_entropy(work(x), y).backward()
    return work


def ref_grad_norm(net, x, y):
    work = ref_backward(net, x, y)
    return sum(float(m.weight.grad.norm()) for m in layers_of(work) if m.weight.grad is not None)


def ref_plain(net, x, y):
    work = ref_backward(net, x, y)
    terms = [(m.weight.grad * m.weight).detach() for m in layers_of(work) if m.weight.grad is not None]
    return sum(float(t.sum()) for t in terms)


def ref_snip(net, x, y):
    """NASLib's snip: weights replaced by W·mask, mask = 1, score Σ |∂L/∂mask|."""
    work = fresh(net)

    def conv_fwd(self, inp):
        return F.conv2d(inp, self.weight * self.weight_mask, self.bias, self.stride, self.padding,
                        self.dilation, self.groups)

    def lin_fwd(self, inp):
        return F.linear(inp, self.weight * self.weight_mask, self.bias)

    for m in layers_of(work):
        m.weight_mask = nn.Parameter(torch.ones_like(m.weight))
        m.weight.requires_grad = False
        m.forward = types.MethodType(conv_fwd if isinstance(m, nn.Conv2d) else lin_fwd, m)
    F.cross_entropy(work(x), y).backward()
    return sum(float(m.weight_mask.grad.abs().sum()) for m in layers_of(work) if m.weight_mask.grad is not None)


def ref_fisher(net, x, y, broadcast=True):
    """NASLib's fisher: an identity after each layer, a backward hook on it, per channel
    0.5·mean_n(Σ_spatial a·g)², broadcast to ``torch.Tensor(weight.shape[1:]).fill_(v)``."""
    work = fresh(net)

    def conv_fwd(self, inp):
        self.act = self.dummy(F.conv2d(inp, self.weight, self.bias, self.stride, self.padding,
                                       self.dilation, self.groups))
        return self.act

    def lin_fwd(self, inp):
        self.act = self.dummy(F.linear(inp, self.weight, self.bias))
        return self.act

    for m in layers_of(work):
        m.fisher = None
        m.dummy = nn.Identity()
        m.forward = types.MethodType(conv_fwd if isinstance(m, nn.Conv2d) else lin_fwd, m)

        def hook(module, grad_input, grad_output, layer=m):
            act, grad = layer.act.detach(), grad_output[0].detach()
            g_nk = (act * grad).sum(list(range(2, act.dim()))) if act.dim() > 2 else act * grad
            del_k = g_nk.pow(2).mean(0).mul(0.5)
            layer.fisher = del_k if layer.fisher is None else layer.fisher + del_k

        m.dummy.register_full_backward_hook(hook)
    F.cross_entropy(work(x), y).backward()
    total = 0.0
    for m in layers_of(work):
        ch = m.fisher.abs() if m.fisher is not None else torch.zeros(m.weight.shape[0])
        if broadcast:
            total += float(torch.stack([torch.Tensor(m.weight.shape[1:]).fill_(float(v)) for v in ch]).sum())
        else:
            total += float(ch.sum())
    return total


def ref_grasp(net, x, y):
    """NASLib's grasp: g without graph, z = Σ g·∇L with graph, z.backward(), Σ −W·W.grad."""
    work = fresh(net)
    weights = [m.weight for m in layers_of(work)]
    grad_w = torch.autograd.grad(F.cross_entropy(work(x), y), weights, allow_unused=True)
    grad_f = torch.autograd.grad(F.cross_entropy(work(x), y), weights, create_graph=True, allow_unused=True)
    z = 0
    for gw, gf in zip(grad_w, grad_f):
        if gw is not None:
            z += (gw.data * gf).sum()
    z.backward()
    return sum(float((-m.weight.data * m.weight.grad).sum()) for m in layers_of(work) if m.weight.grad is not None)


def ref_synflow(net, x):
    """NASLib's synflow: BN forward = identity, |state_dict|, double, ones input, Σ|W·∂R/∂W|."""
    work = copy.deepcopy(net)
    work.train()
    for m in work.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            m.forward = types.MethodType(lambda self, inp: inp, m)
    with torch.no_grad():
        for p in work.state_dict().values():
            p.abs_()
    work.zero_grad()
    work.double()
    out = work(torch.ones([1] + list(x[0].shape)).double())
    torch.sum(out).backward()
    s = sum(float(torch.abs(m.weight * m.weight.grad).detach().sum()) for m in layers_of(work) if m.weight.grad is not None)
    if s == 0.0:
        return s
    return math.log(s) if s > 0 else -math.log(-s)


def ref_zico(net, x, y, accumulate=False):
    """The official ZiCo loop (getgrad / caculate_zico) on 2 halves of the batch."""
    work = fresh(net)
    grad_dict = {}
    half = x.shape[0] // 2
    work.zero_grad()
    for i in range(2):
        if not accumulate:
            work.zero_grad()
        F.cross_entropy(work(x[i * half:(i + 1) * half]), y[i * half:(i + 1) * half]).backward()
        for name, mod in work.named_modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                g = mod.weight.grad
                g = np.zeros(mod.weight.numel()) if g is None else g.data.reshape(-1).numpy().astype(np.float64)
                grad_dict.setdefault(name, []).append(g)
    total = 0.0
    for name in grad_dict:
        arr = np.array(grad_dict[name])
        std = np.std(arr, axis=0)
        nz = np.nonzero(std)[0]
        tmpsum = np.sum(np.mean(np.abs(arr), axis=0)[nz] / std[nz])
        if tmpsum != 0:
            total += np.log(tmpsum)
    return float(total)


def ref_l2_norm(net):
    return sum(float(m.weight.detach().norm()) for m in layers_of(net))


def scored(net, x, y, names=PROXIES, opts=None, **probe_kw):
    probe = Probe(net, x, y, **probe_kw)
    res = score(probe, {n: (n, (opts or {}).get(n, {})) for n in names})
    for n, r in res.items():
        assert r.status == "ok", (n, r)
    return {n: r.value for n, r in res.items()}, probe


# ----------------------------------------------------------------------------- exactness

@pytest.mark.parametrize("kind", CASES)
def test_each_proxy_matches_an_independent_naslib_style_computation(kind):
    net, x, y = make_case(kind)
    got, probe = scored(net, x, y, opts={"fisher": {"broadcast_fan_in": True}})
    assert got["grad_norm"] == pytest.approx(ref_grad_norm(net, x, y), rel=1e-6)
    assert got["snip"] == pytest.approx(ref_snip(net, x, y), rel=1e-6)
    assert got["plain"] == pytest.approx(ref_plain(net, x, y), rel=1e-6)
    assert got["fisher"] == pytest.approx(ref_fisher(net, x, y), rel=1e-6)
    assert got["grasp"] == pytest.approx(ref_grasp(net, x, y), rel=1e-6)
    assert got["synflow"] == pytest.approx(ref_synflow(net, x), rel=1e-6)
    assert got["l2_norm"] == pytest.approx(ref_l2_norm(net), rel=1e-6)
    assert got["zico"] == pytest.approx(ref_zico(net, x, y), rel=1e-6)
    # nothing degenerate: the values could have failed
    assert got["grad_norm"] > 0 and got["snip"] > 0 and got["fisher"] > 0 and got["zico"] != 0
    assert probe.computed == {"grads": 1, "grasp": 1, "synflow": 1, "chunk_grads": 1}


@pytest.mark.parametrize("kind", ["nb201_sparse", "darts"])
def test_cases_really_have_none_gradients(kind):
    net, x, y = make_case(kind)
    work = ref_backward(net, x, y)
    assert any(m.weight.grad is None for m in layers_of(work))
    grads = Probe(net, x, y).signal("grads")
    nones = [lg for lg, m in zip(grads, layers_of(work)) if m.weight.grad is None]
    assert nones and all(not lg.grad.any() and not lg.fisher.any() for lg in nones)


def test_fisher_without_broadcast_and_grasp_options_match_references():
    net, x, y = make_case("nb201_dense")
    got, _ = scored(net, x, y, names=("fisher",), opts={"fisher": {"broadcast_fan_in": False}})
    assert got["fisher"] == pytest.approx(ref_fisher(net, x, y, broadcast=False), rel=1e-6)
    # T != 1 takes grasp's own first pass; T = 2 scales the logits
    default, _ = scored(net, x, y, names=("grasp",))
    hot, probe = scored(net, x, y, names=("grasp",), opts={"grasp": {"T": 2}})
    assert hot["grasp"] != pytest.approx(default["grasp"], rel=1e-3)
    assert "grads" not in probe.computed
    same, _ = scored(net, x, y, names=("grasp",), opts={"grasp": {"T": 1.0, "num_iters": 1}})
    assert same["grasp"] == default["grasp"]


# ----------------------------------------------------------------------------- sharing, state, determinism

def test_one_grads_signal_serves_four_proxies():
    net, x, y = make_case("bn_net")
    probe = Probe(net, x, y)
    res = score(probe, {n: (n, {}) for n in ("grad_norm", "snip", "plain", "fisher")})
    assert all(r.status == "ok" for r in res.values())
    assert probe.computed["grads"] == 1 and probe.cached() == []  # freed after the last one
    # grasp reuses the same backward as its first pass
    probe = Probe(net, x, y)
    score(probe, {n: (n, {}) for n in ("grad_norm", "fisher", "grasp")})
    assert probe.computed == {"grads": 1, "grasp": 1}


@pytest.mark.parametrize("train_mode", [True, False])
@pytest.mark.parametrize("kind", ["bn_net", "darts"])
def test_network_state_and_mode_are_unchanged(kind, train_mode):
    net, x, y = make_case(kind)
    net.train(train_mode)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    modes = [m.training for m in net.modules()]
    rng = torch.random.get_rng_state()
    scored(net, x, y)
    after = net.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert before[k].dtype == after[k].dtype and torch.equal(before[k], after[k]), k
    assert [m.training for m in net.modules()] == modes
    assert all(p.grad is None for p in net.parameters())
    assert torch.equal(torch.random.get_rng_state(), rng)


def test_deterministic_for_a_fixed_seed_even_with_dropout():
    net, x, y = make_case("bn_net")
    net = nn.Sequential(*list(net)[:-1], nn.Dropout(0.5), list(net)[-1])
    a, _ = scored(net, x, y, seed=5)
    torch.manual_seed(123)  # the global RNG must not matter
    b, _ = scored(net, x, y, seed=5)
    assert a == b
    c, _ = scored(net, x, y, seed=6)
    assert c["grad_norm"] != a["grad_norm"]  # dropout masks follow the probe's seed


# ----------------------------------------------------------------------------- zico

def test_zico_needs_two_chunks():
    net, x, y = make_case("bn_net")
    with pytest.raises(ValueError, match="integer >= 2"):
        get_proxy("zico").fn(Probe(net, x, y), chunks=1, zero_grad_per_chunk=True)
    with pytest.raises(ValueError, match="cannot be split into 2 chunks"):
        get_proxy("zico").fn(Probe(net, x[:1], y[:1]), chunks=2, zero_grad_per_chunk=True)
    res = score(Probe(net, x, y), {"z": ("zico", {"chunks": 1})})
    assert res["z"].status == "failed" and "chunks must be" in res["z"].message


def test_zico_accumulating_quirk_differs_and_matches_its_reference():
    net, x, y = make_case("nb201_dense")
    got, probe = scored(net, x, y, names=("zico",), opts={"zico": {"zero_grad_per_chunk": False}})
    default, _ = scored(net, x, y, names=("zico",))
    assert got["zico"] == pytest.approx(ref_zico(net, x, y, accumulate=True), rel=1e-6)
    assert got["zico"] != pytest.approx(default["zico"], rel=1e-3)


def test_chunk_grads_value_layout():
    net, x, y = make_case("bn_net")
    sig = Probe(net, x, y).signal("chunk_grads", chunks=4, zero_grad_per_chunk=True)
    names = [n for n, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert [name for name, _ in sig] == names
    for (name, g), m in zip(sig, layers_of(net)):
        assert g.shape == (4, m.weight.numel())
    # row c is the gradient of chunk c alone
    work = fresh(net)
    F.cross_entropy(work(x[2:4]), y[2:4]).backward()
    assert torch.allclose(sig[0].grads[1], work[0].weight.grad.reshape(-1), rtol=1e-5, atol=1e-7)
    assert zico_score(sig) == pytest.approx(get_proxy("zico").fn(Probe(net, x, y), chunks=4,
                                                                  zero_grad_per_chunk=True))


# ----------------------------------------------------------------------------- hand-checked values

def test_fisher_broadcast_weights_channels_by_fan_in_hand_example():
    # one conv, C_in=2, k=2, on 2x2 inputs: a_nk = Σ W_k ⊙ x_n (1x1 output). W_k = (k+1)/8
    # everywhere, x_0 = 1, x_1 = 2, so a_0k = k+1 and a_1k = 2(k+1). With L = ½ Σ a², g = a,
    # channel value ½·mean_n(a_nk²)² = ½·(1 + 16)/2·(k+1)⁴ = 4.25 (k+1)⁴; Σ_k = 4.25·98.
    net = nn.Sequential(nn.Conv2d(2, 3, 2, bias=False))
    with torch.no_grad():
        for k in range(3):
            net[0].weight[k].fill_((k + 1) / 8)
    x = torch.stack([torch.ones(2, 2, 2), 2 * torch.ones(2, 2, 2)])
    probe_kw = dict(loss=lambda out, y: 0.5 * (out ** 2).sum())
    y = torch.zeros(2)
    plain_sum, _ = scored(net, x, y, names=("fisher",), opts={"fisher": {"broadcast_fan_in": False}}, **probe_kw)
    broadcast, _ = scored(net, x, y, names=("fisher",), **probe_kw)
    assert plain_sum["fisher"] == pytest.approx(4.25 * 98, rel=1e-6)
    assert broadcast["fisher"] == pytest.approx(8 * 4.25 * 98, rel=1e-6)  # fan-in 2·2·2


def test_synflow_log_transform_by_hand():
    # |W1| = [[1,2],[3,.5]], |b1| = [1,0], |W2| = [1,2]; h = |W1|·1 + |b1| = [4, 3.5]
    # Σ|W2 ⊙ h| = 4 + 7 = 11; ∂R/∂W1[i,j] = |W2_i| so Σ|W1 ⊙ ∂R/∂W1| = 3·1 + 3.5·2 = 10.
    # The BN between the layers is skipped (bn=False), whatever its weight.
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -2.0], [3.0, 0.5]]))
        net[0].bias.copy_(torch.tensor([-1.0, 0.0]))
        net[1].weight.fill_(5.0)
        net[2].weight.copy_(torch.tensor([[-1.0, 2.0]]))
    x, y = torch.randn(4, 2), torch.zeros(4, dtype=torch.long)
    got, _ = scored(net, x, y, names=("synflow",))
    raw, _ = scored(net, x, y, names=("synflow",), opts={"synflow": {"log_transform": False}})
    assert raw["synflow"] == 21.0
    assert got["synflow"] == pytest.approx(math.log(21.0), rel=1e-12)
    with torch.no_grad():
        net[2].weight.zero_()
    zero, _ = scored(net, x, y, names=("synflow",))
    assert zero["synflow"] == 0.0
    assert synflow_log(-math.e) == pytest.approx(-1.0) and synflow_log(float("inf")) == float("inf")


def test_synflow_overflow_is_recorded_as_nonfinite():
    net = nn.Sequential(*[nn.Linear(4, 4, bias=False) for _ in range(40)])
    with torch.no_grad():
        for m in net:
            m.weight.fill_(1e10)
    res = score(Probe(net, torch.randn(2, 4), torch.zeros(2, dtype=torch.long)), {"s": ("synflow", {})})
    assert res["s"].status == "nonfinite"


def test_l2_norm_by_hand():
    net = nn.Sequential(nn.Linear(2, 2, bias=True), nn.Linear(2, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
        net[1].weight.copy_(torch.tensor([[1.0, 0.0]]))
        net[0].bias.fill_(100.0)  # biases are ignored
    got, _ = scored(net, torch.randn(2, 2), None, names=("l2_norm",))
    assert got["l2_norm"] == pytest.approx(6.0)


# ----------------------------------------------------------------------------- losses

def test_soft_cross_entropy_by_hand():
    logits = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    target = torch.tensor([[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]])
    z = math.exp(1) + math.exp(2) + math.exp(3)
    row0 = -math.log(math.exp(3) / z + 1e-5)
    row1 = -(0.5 * math.log(1 / 3 + 1e-5) + 0.5 * math.log(1 / 3 + 1e-5))
    assert float(get_loss("soft_cross_entropy")(logits, target)) == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_l1_mse_and_per_pixel_cross_entropy_by_hand():
    out = torch.tensor([[1.0, -2.0], [0.5, 4.0]])
    tgt = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    assert float(get_loss("l1")(out, tgt)) == pytest.approx((1 + 2 + 0.5 + 3) / 4)
    assert float(get_loss("mse")(out, tgt)) == pytest.approx((1 + 4 + 0.25 + 9) / 4)
    logits = torch.randn(2, 3, 2, 2, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([[[0, 1], [2, 0]], [[1, 1], [2, 2]]])
    want = np.mean([-float(torch.log_softmax(logits[n, :, i, j], 0)[labels[n, i, j]])
                    for n in range(2) for i in range(2) for j in range(2)])
    assert float(get_loss("cross_entropy")(logits, labels)) == pytest.approx(want, rel=1e-6)


def test_unknown_loss_lists_the_names_and_callables_pass_through():
    with pytest.raises(ValueError, match="cross_entropy, l1, mse, soft_cross_entropy"):
        get_loss("hinge")
    fn = lambda out, y: out.sum()  # noqa: E731
    assert get_loss(fn) is fn and set(LOSSES) == {"cross_entropy", "soft_cross_entropy", "l1", "mse"}


class WithAux(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        out = self.net(x)
        return out, 3 * out  # (logits, aux)


def test_tuple_outputs_use_the_first_element():
    logits, y = torch.randn(4, 5), torch.tensor([0, 1, 2, 3])
    for name in ("cross_entropy",):
        assert torch.equal(get_loss(name)((logits, logits * 7), y), F.cross_entropy(logits, y))
    assert main_output(([logits, 1], 2)) is logits
    net, x, y = make_case("bn_net")
    names = ("grad_norm", "snip", "fisher", "grasp", "synflow", "zico")
    plain_scores, _ = scored(net, x, y, names=names)
    tuple_scores, _ = scored(WithAux(net), x, y, names=names)
    assert tuple_scores == pytest.approx(plain_scores, rel=1e-6)


def test_soft_labels_through_a_probe():
    net, x, _ = make_case("bn_net")
    soft = torch.softmax(torch.randn(8, 5, generator=torch.Generator().manual_seed(1)), dim=1)
    got, _ = scored(net, x, soft, names=("grad_norm",), loss="soft_cross_entropy")
    work = fresh(net)
    (-(soft * torch.log(F.softmax(work(x), dim=-1) + 1e-5)).sum(-1).mean()).backward()
    assert got["grad_norm"] == pytest.approx(sum(float(m.weight.grad.norm()) for m in layers_of(work)), rel=1e-6)


def test_missing_targets_is_a_clear_error():
    net, x, _ = make_case("bn_net")
    res = score(Probe(net, x), {"g": ("grad_norm", {}), "l": ("l2_norm", {})})
    assert res["g"].status == "failed" and "needs targets" in res["g"].message
    assert res["l"].status == "ok"
