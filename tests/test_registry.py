import pytest

import zc_proxies
from zc_proxies.registry import Registry, UnknownNameError


def test_builtin_proxies_listed_with_metadata():
    names = zc_proxies.list_proxies()
    for n in ("swap", "reg_swap", "sap", "params", "flops"):
        assert n in names
    info = zc_proxies.get_proxy("swap")
    assert info.consumes == ("codes",) and info.higher_is_better and info.family == "expressivity"
    assert info.defaults["reinit"] == "gaussian" and info.defaults["bn_mode"] == "train"
    reg = zc_proxies.get_proxy("reg_swap")
    assert reg.kind == "population" and info.kind == "network"
    assert [(b.role, b.proxy, b.benchmark_size) for b in reg.bases()] == [("swap", "swap", False),
                                                                          ("params", "params", True)]


def test_wildcards():
    assert zc_proxies.list_proxies("*swap") == ["reg_swap", "swap"]
    assert zc_proxies.list_proxies("nothing*") == []


def test_unknown_name_suggests_close_ones():
    with pytest.raises(UnknownNameError) as e:
        zc_proxies.get_proxy("swapp")
    assert "'swap'" in str(e.value) and "zcbench list proxies" in str(e.value)


def test_unknown_option_is_an_error():
    with pytest.raises(ValueError, match="no option.*'repeat'"):
        zc_proxies.get_proxy("swap").options({"repeat": 3})


def test_duplicate_registration_refused():
    r = Registry("thing")
    r.add("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        r.add("a", 2)


def test_every_registry_refuses_a_second_entry_under_a_taken_name():
    """Proxies, spaces, ground-truth formats and probe signals share one Registry: a second
    ``nb101_pickle`` format (which used to replace the first silently) or a second signal is a
    DuplicateNameError, a ZcbenchError the CLI prints as an error."""
    import search_spaces  # noqa: F401  (registers the formats)
    from search_spaces.ground_truth import FORMATS, register_format
    from zc_proxies.errors import DuplicateNameError, ZcbenchError
    from zc_proxies.probe import register_signal

    kept = FORMATS["nb101_pickle"]
    with pytest.raises(DuplicateNameError, match="ground-truth format 'nb101_pickle' is already registered"):
        register_format("nb101_pickle")(lambda path, space, task: None)
    assert FORMATS["nb101_pickle"] is kept
    with pytest.raises(DuplicateNameError, match="signal 'codes' is already registered"):
        register_signal("codes")(lambda probe: None)
    assert issubclass(DuplicateNameError, ZcbenchError) and issubclass(DuplicateNameError, ValueError)


def test_an_unknown_signal_names_the_known_ones():
    from zc_proxies.probe import SIGNALS

    with pytest.raises(UnknownNameError, match=r"unknown signal 'codez'\. Did you mean 'codes'\?"):
        SIGNALS.get("codez")
    with pytest.raises(KeyError, match="Known signals: .*codes.*grads"):
        SIGNALS.get("zzzzzz")
