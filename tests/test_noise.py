"""Expected warnings are stored or shown once, short; they never flood a run or check_proxy."""
import warnings

import torch

import zc_proxies
from search_spaces.base import get_space, seeded_build
from zc_proxies.base import PROXIES, ProxyInfo


def test_expected_runtime_warnings_on_a_disconnected_cell_are_not_printed():
    space = get_space("nb201", C=8, N=1)
    net = seeded_build(space, space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), "fashion-mnist", 0)
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = zc_proxies.score(zc_proxies.Probe(net, x, y, num_classes=10), {n: (n, {}) for n in ("zen", "ntk")})
    assert not caught
    assert res["zen"].status == "nonfinite" and res["zen"].value == float("-inf")
    # a singular NTK has no condition number: a clear error, not an inf
    assert res["ntk"].status == "failed" and "singular" in res["ntk"].message


def test_a_warning_inside_a_proxy_is_kept_in_its_message(monkeypatch):
    def noisy(probe):
        warnings.warn("something odd " + "x" * 500, RuntimeWarning)
        warnings.warn("something odd " + "x" * 500, RuntimeWarning)  # the same one: kept once
        return 1.0

    monkeypatch.setitem(PROXIES._entries, "noisy", ProxyInfo("noisy", noisy, (), True, "test", "-"))
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = zc_proxies.score(zc_proxies.Probe(net, torch.randn(2, 3, 2, 2)), {"noisy": ("noisy", {})})["noisy"]
    assert not caught
    assert res.status == "ok" and res.value == 1.0
    assert res.message.startswith("warning: RuntimeWarning: something odd xxx") and res.message.count("odd") == 1
    assert len(res.message) < 220 and "test_noise.py" in res.message


def test_synthetic_taskonomy_targets_warn_once_per_task_and_briefly():
    from experiments.conformance import check_proxy

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_proxy("params", spaces=["tnb101_micro", "tnb101_macro"])
    synthetic = [str(w.message) for w in caught if "synthetic" in str(w.message)]
    tasks = ["class_scene", "class_object", "room_layout", "segmentsemantic", "normal"]
    assert sorted(synthetic) == sorted(set(synthetic))
    assert sorted(t for t in tasks if any(f"task '{t}'" in m for m in synthetic)) == sorted(tasks)
    assert len(synthetic) == len(tasks) and max(map(len, synthetic)) < 300


def test_study_bar_gives_feedback_first_and_an_eta_only_when_it_means_something(monkeypatch):
    import io

    from experiments import progress

    clock = [1000.0]
    monkeypatch.setattr(progress.time, "time", lambda: clock[0])
    out = io.StringIO()
    bar = progress.StudyBar(total=100, desc="study", file=out, eta_after=5, mininterval=0, miniters=1)
    assert "preparing" in str(bar) and "<" not in str(bar)  # a status, no ETA
    bar.skip(40)  # resumed from an earlier run: no time spent on them
    clock[0] += 38.0  # worker start-up and the first chunk
    bar.update(4)
    assert "44/100" in str(bar) and "<" not in str(bar)
    clock[0] += 4.0
    bar.update(4)  # 4 more in 4 s: 1 per second, start-up and resumed items excluded
    text = str(bar)
    assert bar.format_dict["rate"] == 1.0 and "<00:52" in text, text
    bar.close()
