"""SWAP, sap and reg_swap on small hand-made networks; space networks are in test_exactness."""
import math

import numpy as np
import pytest
import torch
from torch import nn

import zc_proxies
from zc_proxies.patterns import pack_bits, unique_rows
from zc_proxies.probe import prepare_copy
from zc_proxies.swap import auto_mu_sigma, collect_codes, reg_swap_combine, size_factor, swap_reference


def small_net(act=nn.ReLU):
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), act(), nn.Conv2d(6, 6, 3, padding=1),
                         act(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5), act())


@pytest.mark.parametrize("S", [1, 7, 16, 63, 64, 65, 130])
def test_pack_bits_matches_rows(S):
    g = torch.Generator().manual_seed(S)
    bits = torch.rand(S, 500, generator=g) > 0.5
    bits[:, 10] = bits[:, 11]  # a duplicate unit
    words = pack_bits(bits)
    assert words.shape == (500, -(-S // 64))
    want = torch.unique(bits.t().to(torch.int8), dim=0).shape[0]
    assert unique_rows(words).shape[0] == want
    # bit s of unit v is sample s
    assert ((words[:, 0] >> 3) & 1).bool().tolist() == bits[3].tolist() if S > 3 else True


@pytest.mark.parametrize("S", [5, 16, 64, 70])
@pytest.mark.parametrize("act,activations", [(nn.ReLU, "relu_4d"), (nn.ReLU, "relu_gelu"), (nn.GELU, "relu_gelu")])
def test_packed_equals_reference(S, act, activations):
    torch.manual_seed(S)
    net, x = small_net(act), torch.randn(S, 3, 6, 6)
    work = prepare_copy(net, reinit="gaussian", seed=1)
    assert collect_codes(work, x, activations=activations).swap() == swap_reference(work, x, activations)


def test_gelu_ternary_differs_from_binary_only_through_negative_signs():
    torch.manual_seed(0)
    net, x = small_net(nn.GELU), torch.randn(16, 3, 6, 6)
    tern = collect_codes(net, x, activations="relu_gelu", gelu_sign="ternary").swap()
    bina = collect_codes(net, x, activations="relu_gelu", gelu_sign="binary").swap()
    assert tern == swap_reference(net, x, "relu_gelu") and bina <= tern


def test_relu4d_ignores_2d_relus_and_says_when_nothing_is_hooked():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 6, 6)
    net = small_net()
    c4 = collect_codes(net, x, activations="relu_4d")
    call = collect_codes(net, x, activations="relu_gelu")
    assert len(c4.names) == 2 and len(call.names) == 3
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(108, 10), nn.GELU())
    with pytest.raises(ValueError, match="try activations='relu_gelu'"):
        collect_codes(mlp, x)


def test_probe_shares_one_forward_and_leaves_net_untouched():
    torch.manual_seed(0)
    net = small_net()
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(16, 3, 6, 6)
    probe = zc_proxies.Probe(net, x, seed=5)
    res = zc_proxies.score(probe, {"swap": ("swap", {}), "sap": ("sap", {}), "params": ("params", {})})
    assert probe.computed["codes"] == 1
    assert probe.cached() == []  # freed once nothing needs it
    assert not net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert res["sap"].value == 16 and res["swap"].value > 16
    assert res["params"].value == sum(p.numel() for p in net.parameters()) / 1e6


def test_repeats_are_seeded_means():
    torch.manual_seed(0)
    net, x = small_net(), torch.randn(16, 3, 6, 6)
    one = [zc_proxies.score(zc_proxies.Probe(net, x, seed=s), {"s": ("swap", {"repeats": 3})})["s"].value
           for s in (1, 1, 2)]
    assert one[0] == one[1]  # deterministic for a seed
    p = zc_proxies.Probe(net, x, seed=1)
    zc_proxies.score(p, {"s": ("swap", {"repeats": 3})})
    assert p.computed["codes"] == 3
    assert one[0] != int(one[0]) or True  # a mean of 3 integer counts
    assert abs(one[0] * 3 - round(one[0] * 3)) < 1e-9


def test_failed_and_nonfinite_are_recorded_not_raised():
    from zc_proxies.base import PROXIES, ProxyInfo

    PROXIES.add("_test_nan", ProxyInfo("_test_nan", lambda probe: math.nan, (), True, "test", "-"), overwrite=True)
    PROXIES.add("_test_boom", ProxyInfo("_test_boom", lambda probe: 1 / 0, (), True, "test", "-"), overwrite=True)
    try:
        res = zc_proxies.score(zc_proxies.Probe(small_net(), torch.randn(4, 3, 6, 6)),
                               {"a": ("_test_nan", {}), "b": ("_test_boom", {}), "c": ("params", {})})
        assert res["a"].status == "nonfinite"
        assert res["b"].status == "failed" and "ZeroDivisionError" in res["b"].message
        assert res["c"].status == "ok"
    finally:
        del PROXIES._entries["_test_nan"], PROXIES._entries["_test_boom"]


def test_reg_swap_formula_divides_by_sigma():
    assert size_factor(2.0, 1.0, 2.0) == pytest.approx(math.exp(-0.5))
    assert size_factor(1.0, 1.0, 0.1) == 1.0
    vals, used = reg_swap_combine([100.0, 100.0], [0.0012, 0.0025], mu=1.5, sigma=1.5, theta_unit="K")
    assert vals == pytest.approx([100 * math.exp(-(1.2 - 1.5) ** 2 / 1.5), 100 * math.exp(-(2.5 - 1.5) ** 2 / 1.5)])
    assert used == {"mu": 1.5, "sigma": 1.5, "theta_unit": "K"}
    # Θ in M of the same counts would zero nothing here but changes the factor
    vals_m, _ = reg_swap_combine([100.0], [1.2], mu=1.5, sigma=1.5, theta_unit="M")
    assert vals_m[0] == pytest.approx(100 * math.exp(-0.09 / 1.5))


def test_auto_mu_sigma_is_the_largest_theta_of_the_population():
    theta = np.array([0.3, 1.29, 0.8, np.nan, 0.1])
    assert auto_mu_sigma(theta) == (1.29, 1.29)  # the paper's rule: the top of the size range
    assert auto_mu_sigma(np.arange(1, 101, dtype=float), 0.9) == (pytest.approx(90.1), pytest.approx(90.1))
    for q in (0, 1.5, "max", True):
        with pytest.raises(ValueError, match="auto_quantile"):
            auto_mu_sigma(theta, q)
    # never of one network: µ = Θ would make every factor 1 (the third-party port's slip)
    with pytest.raises(ValueError, match="population"):
        auto_mu_sigma(np.array([1.0]))
    with pytest.raises(ValueError, match="population"):
        reg_swap_combine([5.0], [1.0], theta_unit="M")
    vals, used = reg_swap_combine([10.0, 20.0, 30.0], [0.5, 1.5, 1.0], theta_unit="M")
    assert used["mu"] == used["sigma"] == pytest.approx(1.5)
    assert vals == pytest.approx([10 * math.exp(-1 / 1.5), 20.0, 30 * math.exp(-0.25 / 1.5)])
    with pytest.raises(ValueError, match="theta must be"):
        reg_swap_combine([1.0, 2.0], [1.0, 2.0], theta="largest")


def test_reg_swap_on_one_network_is_an_error_that_says_what_to_call():
    from zc_proxies.base import PopulationOnlyError
    from zc_proxies.errors import ZcbenchError

    net, x = small_net(), torch.randn(8, 3, 6, 6)
    for name in ("reg_swap", "tenas", "az_nas", "rank_mean", "libra"):
        with pytest.raises(PopulationOnlyError) as e:
            zc_proxies.score(zc_proxies.Probe(net, x), {"r": (name, {}), "s": ("swap", {})})
        assert isinstance(e.value, ZcbenchError)
        assert "population-level" in str(e.value) and f"get_proxy({name!r}).combine(Population" in str(e.value)
        assert "zcbench run" in str(e.value)


def test_scratch_copy_is_reset_on_every_use():
    torch.manual_seed(0)
    net = small_net()
    x = torch.randn(8, 3, 6, 6)
    probe = zc_proxies.Probe(net, x, seed=2)
    a = probe.scratch(reinit="gaussian", seed=1)
    a(x)  # train-mode BN moves running stats of the scratch copy only
    b = probe.scratch(reinit="none", bn_mode="eval")
    assert a is b and not b.training
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in b.state_dict().items())
    c = probe.scratch(reinit="gaussian", seed=1)
    d = prepare_copy(net, reinit="gaussian", seed=1)
    assert all(torch.equal(v, d.state_dict()[k]) for k, v in c.state_dict().items())
    with pytest.raises(ValueError, match="reinit must be one of"):
        probe.scratch(reinit="kaiming")


class _MixedNet(nn.Module):
    """ReLU on 4-D maps, GELU and SiLU on tokens-like 3-D and 2-D features: the three kinds mixed."""

    def __init__(self):
        super().__init__()
        self.conv, self.relu = nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()
        self.lin1, self.gelu = nn.Linear(4, 6), nn.GELU()
        self.lin2, self.silu = nn.Linear(6, 5), nn.SiLU()
        self.head, self.relu2 = nn.Linear(5, 3), nn.ReLU()

    def forward(self, x):
        h = self.relu(self.conv(x)).flatten(2).transpose(1, 2)  # (S, 36, 4)
        h = self.silu(self.lin2(self.gelu(self.lin1(h))))
        return self.relu2(self.head(h.mean(1)))


def _plain_sign_matrix(net, x):
    outs = []
    hooks = [m.register_forward_hook(lambda m, i, o: outs.append(o.detach().reshape(o.shape[0], -1)))
             for m in net.modules() if isinstance(m, (nn.ReLU, nn.GELU, nn.SiLU))]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return torch.cat(outs, dim=1).sign()  # S x V, values in {-1, 0, 1}


@pytest.mark.parametrize("S", [16, 40, 70])
def test_ternary_on_relu_gelu_silu_mix_equals_plain_sign_matrix(S):
    torch.manual_seed(S)
    net, x = _MixedNet(), torch.randn(S, 3, 6, 6)
    signs = _plain_sign_matrix(net, x)
    assert (signs < 0).any() and (signs == 0).any()  # GELU/SiLU negatives and ReLU zeros both present
    want_swap = torch.unique(signs.t(), dim=0).shape[0]
    want_sap = torch.unique(signs, dim=0).shape[0]
    codes = collect_codes(net, x, activations="relu_gelu", gelu_sign="ternary")
    assert codes.swap() == want_swap == swap_reference(net, x, "relu_gelu")
    assert codes.n_sample_patterns() == want_sap <= S
    # one layer's GELU units and ReLU units with the same 0/1 signs are one pattern
    res = zc_proxies.score(zc_proxies.Probe(net, x), {
        "swap": ("swap", {"activations": "relu_gelu", "reinit": "none"}),
        "sap": ("sap", {"activations": "relu_gelu", "reinit": "none"})})
    assert res["swap"].status == "ok" and res["swap"].value == want_swap
    assert res["sap"].value == want_sap


def test_sap_is_bounded_by_the_batch_on_a_gelu_network():
    torch.manual_seed(0)
    net, x = small_net(nn.GELU), torch.randn(16, 3, 6, 6)
    codes = collect_codes(net, x, activations="relu_gelu", gelu_sign="ternary")
    assert codes.n_sample_patterns() == 16 == torch.unique(_plain_sign_matrix(net, x), dim=0).shape[0]
    binary = collect_codes(net, x, activations="relu_gelu", gelu_sign="binary")
    assert binary.n_sample_patterns() <= 16
