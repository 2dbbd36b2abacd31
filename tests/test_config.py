import pytest
import yaml

from experiments.config import ConfigError, apply_overrides, load_study, load_suite, parse_study
from experiments.plan import plan_proxies
from zc_proxies.registry import UnknownNameError

BASE = {"space": "nb201", "task": "cifar10", "proxies": ["swap"]}


def study(**kw):
    return parse_study({**BASE, **kw})


def test_defaults_and_seed_count():
    s = study(seeds=3)
    assert s.seeds == [0, 1, 2] and s.data["batch_size"] == 64 and s.archs == {"from": "sample", "n": 100, "path": None}
    assert s.variants()[0][0] == "default"


@pytest.mark.parametrize("raw,msg", [
    ({"space": "nb201", "task": "cifar10"}, "needs 'proxies'"),
    ({**BASE, "colour": 1}, r"unknown key\(s\) \['colour'\]"),
    ({**BASE, "data": {"batchsize": 8}}, r"unknown key\(s\) \['batchsize'\] in 'data'"),
    ({**BASE, "proxies": []}, "non-empty list"),
    ({**BASE, "proxies": [{"a": {}, "b": {}}]}, "bad proxies entry"),
    ({**BASE, "proxies": ["swap", "swap"]}, r"repeated: \['swap'\]"),
    ({**BASE, "archs": {"from": "file"}}, "archs.from must be"),
    ({**BASE, "archs": {"from": "ground_truth"}}, "needs ground_truth.path"),
    ({**BASE, "archs": {"n": 0}}, "positive integer"),
    ({**BASE, "seeds": "many"}, "seeds must be"),
    ({**BASE, "archs": {"n": True}}, "positive integer"),
    ({**BASE, "ablate": {"data.size": 3}}, "ablate maps"),
])
def test_config_errors_say_what_to_write(raw, msg):
    with pytest.raises(ConfigError, match=msg):
        parse_study(raw)


def test_labels_and_options():
    s = study(proxies=["params", {"swap": {"repeats": 4}}, {"swap32": {"proxy": "swap", "repeats": 32}}])
    assert [(p.label, p.proxy, p.options) for p in s.proxies] == [
        ("params", "params", {}), ("swap", "swap", {"repeats": 4}), ("swap32", "swap", {"repeats": 32})]


def test_unknown_proxy_and_option_fail_before_scoring():
    with pytest.raises(UnknownNameError, match="Did you mean 'swap'"):
        plan_proxies(study(proxies=["swapp"]).proxies)
    with pytest.raises(ValueError, match="no option"):
        plan_proxies(study(proxies=[{"swap": {"repeat": 2}}]).proxies)


def test_derived_proxies_get_their_bases():
    plan = plan_proxies(study(proxies=[{"reg_swap": {"repeats": 4, "mu": 1.0, "sigma": 1.0}}]).proxies)
    assert [(s.label, s.options) for s in plan.scored] == [("swap", {"repeats": 4}), ("params", {})]
    assert [(b.role, lab, b.benchmark_size) for b, lab in plan.derived[0][1]] == [("swap", "swap", False),
                                                                              ("params", "params", True)]
    # an existing swap with the same swap options is shared, one with others is not
    plan = plan_proxies(study(proxies=[{"swap": {"repeats": 4}}, {"reg_swap": {"repeats": 4}}, "params"]).proxies)
    assert [s.label for s in plan.scored] == ["swap", "params"]
    plan = plan_proxies(study(proxies=["swap", {"reg_swap": {"repeats": 4}}]).proxies)
    assert [s.label for s in plan.scored] == ["swap", "reg_swap.swap", "params"]


def test_ablation_variants():
    s = study(ablate={"data.size": [3, 15], "data.batch_size": [16, 32]})
    vs = s.variants()
    assert [v[0] for v in vs] == ["size=3,batch_size=16", "size=3,batch_size=32", "size=15,batch_size=16",
                                  "size=15,batch_size=32"]
    assert vs[1][1].data["size"] == 3 and vs[1][1].data["batch_size"] == 32 and not vs[1][1].ablate


def test_overrides_and_files(tmp_path):
    raw = apply_overrides(BASE, ["archs.n=5", "data.size=[16, 16]", "ground_truth.path=x.csv"])
    assert raw["archs"] == {"n": 5} and raw["data"]["size"] == [16, 16] and raw["ground_truth"]["path"] == "x.csv"
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides(BASE, ["archs.n"])
    with pytest.raises(ConfigError, match="no study config at"):
        load_study(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("space: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_study(bad)
    good = tmp_path / "mystudy.yaml"
    good.write_text(yaml.safe_dump(BASE))
    assert load_study(good, ["seeds=2"]).name == "mystudy"


def test_shipped_configs_parse():
    from pathlib import Path

    from experiments.search import load_search

    paths = sorted((Path(__file__).resolve().parents[1] / "experiments" / "configs").glob("*.yaml"))
    searches = [p for p in paths if p.name.startswith("search_")]
    assert len(searches) == 3 and len(paths) > len(searches)
    for path in paths:
        if path in searches:
            assert load_search(path).seeds
        else:
            for study in load_suite(path).studies:
                plan_proxies(study.proxies)
    with pytest.raises(ConfigError, match="is a suite of studies"):
        load_study(paths[0].parent / "default.yaml")


@pytest.mark.parametrize("seeds", [True, False, [True, 1], [0, 1.5], 0, -2, []])
def test_a_study_and_a_search_refuse_the_same_seeds(seeds):
    """One parser of seeds for both configs: YAML's true is not a seed or a count (a study used to
    take ``seeds: true`` as one seed), and a count is positive."""
    from experiments.search import parse_search

    with pytest.raises(ConfigError, match="seeds must be a list of integers or a positive count"):
        parse_study({**BASE, "seeds": seeds})
    with pytest.raises(ConfigError, match="seeds must be a list of integers or a positive count"):
        parse_search({"space": "nb201", "task": "fashion-mnist", "seeds": seeds})


def test_a_study_and_a_search_take_the_same_seeds():
    from experiments.search import parse_search

    for seeds, want in ((3, [0, 1, 2]), ([4, 2], [4, 2])):
        assert parse_study({**BASE, "seeds": seeds}).seeds == want
        assert parse_search({"space": "nb201", "task": "fashion-mnist", "seeds": seeds}).seeds == want
