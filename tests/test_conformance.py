"""Every registered proxy passes the conformance check on every registered space and task."""
import pytest
import torch

import zc_proxies
from zc_proxies.base import PROXIES, ProxyInfo
from experiments.conformance import ConformanceError, check_proxy


@pytest.mark.parametrize("name", zc_proxies.list_proxies())
def test_every_proxy_conforms(name):
    report = check_proxy(name)  # raises ConformanceError with the details on failure
    assert report.cases and not report.failures
    assert {c.space for c in report.cases} == {"nb101", "nb201", "nb301", "darts", "tnb101_micro", "tnb101_macro",
                                               "autoformer", "nasbench_bert"}
    assert len(report.cases) == 1 + 4 + 1 + 2 + 7 + 7 + 3 + 1  # every task of every space
    for c in report.cases:
        assert c.status in ("ok", "undefined")
        if c.status == "undefined":
            assert c.detail  # the error says why


def _register(name, fn):
    PROXIES.add(name, ProxyInfo(name, fn, (), True, "test", "-"), overwrite=True)


@pytest.fixture
def bad_proxies():
    def mutates(probe):
        with torch.no_grad():
            next(probe.net.parameters()).add_(1.0)
        return 1.0

    def flips_mode(probe):
        probe.net.eval()
        return 1.0

    calls = {"n": 0}

    def random_value(probe):
        calls["n"] += 1
        return float(calls["n"])

    def silent(probe):
        raise RuntimeError()

    defs = {"_mutates": mutates, "_flips_mode": flips_mode, "_random": random_value,
            "_nan": lambda probe: float("nan"), "_silent": silent}
    for n, f in defs.items():
        _register(n, f)
    yield
    for n in defs:
        del PROXIES._entries[n]


@pytest.mark.parametrize("name,needle", [
    ("_mutates", "changed the network's state"),
    ("_flips_mode", "train/eval mode"),
    ("_random", "not deterministic"),
    ("_nan", "must be finite"),
    ("_silent", "without a message"),
])
def test_check_catches_broken_proxies(bad_proxies, name, needle):
    with pytest.raises(ConformanceError, match=needle):
        check_proxy(name, spaces=["darts"], tasks_per_space=1)


def test_features_instead_of_logits_is_a_clear_error():
    """The darts scorer returns pooled features (official quirk): loss proxies say what to set."""
    r = check_proxy("grad_norm", spaces=["darts"], raise_on_failure=False,
                    space_options={"darts": {"return_logits": False}})
    assert all(c.status == "undefined" and "return_logits" in c.detail for c in r.cases)
