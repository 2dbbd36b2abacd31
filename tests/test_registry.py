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
    assert zc_proxies.get_proxy("reg_swap").derived_from == ("swap", "params")


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
