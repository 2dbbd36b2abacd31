"""The loss pass shared with nwot, the input Jacobian and GraSP; zen's batch variances only when
read; the pass_budget and naslib_speed benchmarks' counting and skip paths."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import zc_proxies
from search_spaces import get_space, seeded_build
from zc_proxies import Probe, score
from zc_proxies.probe import SIGNALS

SHARED = ("epe_nas", "fisher", "grad_norm", "grasp", "jacov", "nwot", "plain", "snip")
NB201_DENSE = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def nb201_case(batch: int = 8):
    g = torch.Generator().manual_seed(3)
    space = get_space("nb201", C=4, N=1)
    net = seeded_build(space, space.parse(NB201_DENSE), "cifar10", 0)
    return net, torch.randn(batch, 3, 8, 8, generator=g), torch.randint(0, 10, (batch,), generator=g)


def alone(net, x, y, name: str, **opts) -> float:
    """The proxy on a probe of its own, scored outside :func:`score` (no plan: every signal from
    its own function)."""
    info = zc_proxies.get_proxy(name)
    return float(info.fn(Probe(net, x, y, num_classes=10), **info.options(opts)))


def test_shared_loss_pass_gives_the_values_of_the_separate_passes():
    net, x, y = nb201_case()
    probe = Probe(net, x, y, num_classes=10)
    res = score(probe, {n: (n, {}) for n in SHARED})
    # one process, same kernels: the shared pass computes the very same numbers
    for n in SHARED:
        assert res[n].status == "ok", (n, res[n].message)
        assert res[n].value == alone(net, x, y, n), n
    assert probe.computed == {"grads": 1, "grasp": 1, "input_jacobian": 1, "nwot_kernel": 1}
    assert probe.plan == [] and probe.cached() == []


def test_shared_signals_run_no_passes_of_their_own():
    net, x, y = nb201_case()
    refusing = {}
    for name in ("grasp", "input_jacobian", "nwot_kernel"):
        def refuse(probe, _name=name, **params):
            raise AssertionError(f"signal {_name} ran its own passes")
        refusing[name] = refuse
    with SIGNALS.replaced(refusing):
        res = score(Probe(net, x, y, num_classes=10), {n: (n, {}) for n in SHARED})
    assert all(r.status == "ok" for r in res.values()), {n: r.message for n, r in res.items()}


def test_options_the_loss_pass_cannot_serve_take_their_own_passes():
    net, x, y = nb201_case()
    probe = Probe(net, x, y, num_classes=10)
    opts = {"jacov": {"bn_mode": "eval"}, "nwot": {"bn_mode": "eval"}, "grasp": {"T": 2}}
    res = score(probe, {n: (n, opts.get(n, {})) for n in ("fisher", "grasp", "jacov", "nwot")})
    for n, o in opts.items():
        assert res[n].value == alone(net, x, y, n, **o), n
    # both leaky settings of nwot from the one forward pass
    probe = Probe(net, x, y, num_classes=10)
    res = score(probe, {"nwot": ("nwot", {}), "nwot_strict": ("nwot", {"leaky": False}), "snip": ("snip", {})})
    assert probe.computed["nwot_kernel"] == 2 and res["nwot"].value == res["nwot_strict"].value  # no leaky ReLU


class DropoutNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.drop = nn.Dropout(0.5)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        return self.fc(self.pool(self.drop(self.relu(self.bn(self.conv(x))))).flatten(1))


def test_no_sharing_with_active_dropout():
    torch.manual_seed(0)
    net = DropoutNet()
    _, x, y = nb201_case()
    calls = []
    counting = {}
    for name in ("grasp", "input_jacobian", "nwot_kernel"):
        fn = SIGNALS[name]

        def counted(probe, _fn=fn, _name=name, **params):
            calls.append(_name)
            return _fn(probe, **params)
        counting[name] = counted
    with SIGNALS.replaced(counting):
        score(Probe(net, x, y, num_classes=10), {n: (n, {}) for n in SHARED})
    assert sorted(calls) == ["grasp", "input_jacobian", "nwot_kernel"]  # each drew its own dropout masks


def test_zen_batch_variances_only_when_read():
    net, x, y = nb201_case()
    probe = Probe(net, x, y, num_classes=10)
    res = score(probe, {"zen": ("zen", {}), "zen_batch": ("zen", {"bn_var_source": "batch"})})
    assert res["zen_batch"].status == "ok" and res["zen_batch"].value != res["zen"].value
    assert res["zen"].value == alone(net, x, y, "zen")
    assert res["zen_batch"].value == alone(net, x, y, "zen", bn_var_source="batch")
    # running_var only: the batch variances are skipped, and asking for them is an error, not NaN
    probe = Probe(net, x, y, num_classes=10)
    probe.plan = [("zen", zc_proxies.get_proxy("zen").options())]
    parts = probe.signal("zen", mixup_gamma=1e-2, repeat=0)
    assert not parts.batch_var_computed and parts.score("running") == res["zen"].value
    with pytest.raises(ValueError, match="batch variances were not computed"):
        parts.score("batch")


def test_pass_budget_counts_passes_per_signal():
    from experiments.benchmarks.pass_budget import PassLog, attributed

    net, x, y = nb201_case()
    log = PassLog()
    with attributed(log), log.counting():
        log.start()
        score(Probe(net, x, y, num_classes=10), {n: (n, {}) for n in ("fisher", "grasp", "jacov", "nwot", "synflow")})
        log.stop()
    # the loss pass: one forward of the batch, the loss gradient with its graph, the Jacobian's
    # backward, GraSP's Hg
    assert log.fwd["grads"] == [(8, "float32", True)]
    assert log.bwd["grads"] == ["1st+graph", "1st", "2nd"] and log.copies["grads"] == 1
    assert log.fwd["synflow"] == [(1, "float64", True)] and log.bwd["synflow"] == ["1st"]
    assert not log.fwd["grasp"] and not log.fwd["nwot_kernel"] and not log.fwd["input_jacobian"]
    assert torch.autograd.backward.__module__ == "torch.autograd"  # the counting wrappers are gone


def test_naslib_speed_skips_with_the_reason(tmp_path, capsys):
    from experiments.benchmarks import naslib_speed

    assert naslib_speed.main(["--out", str(tmp_path / "t.md")]) == 0
    assert "skipped: no NASLib checkout given (--naslib FOLDER" in capsys.readouterr().out
    assert naslib_speed.main(["--naslib", str(tmp_path), "--out", str(tmp_path / "t.md")]) == 0
    out = capsys.readouterr().out
    assert "skipped" in out and "zerocost.py does not exist" in out and not (tmp_path / "t.md").exists()
