"""Population-level proxies as their own registered kind: bases by proxy and by label, the
benchmark's sizes as a base, the architectures left out (``keep``), a pointwise proxy fitted on
one population and applied to one network, a plugin of this kind resolved and derived in a tiny
study, and the proxy modules imported on the registry's first use."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import zc_proxies
from experiments.cli import main
from experiments.config import ConfigError, ProxySpec
from experiments.derive import derive
from experiments.plan import plan_proxies
from experiments.report import load_report
from zc_proxies import Base, Combined, Population, register_population_proxy
from zc_proxies.base import PROXIES
from zc_proxies.errors import UsageError
from zc_proxies.registry import UnknownNameError

ROOT = Path(__file__).resolve().parents[1]


def _spread_bases(options, study_labels):
    return (Base("size", proxy="params"), Base("picked", label=options["label"]),
            Base("bench", proxy="params", benchmark_size=True))


@pytest.fixture
def spread():
    """A population-level proxy of this test: for each architecture, the picked score minus the
    population's mean of it, plus the scorer's size, plus 1000 x the benchmark's size; the first
    architecture is left out when ``drop_first``."""

    def combine(population, *, label, drop_first):
        p = population.scores
        values = p["picked"] - p["picked"].mean() + p["size"] + 1000 * p["bench"]
        keep = np.arange(len(values)) > 0 if drop_first else None
        return Combined(values, {"mean": float(p["picked"].mean()), "network": population.benchmark_network}, keep)

    with PROXIES.scoped():
        register_population_proxy("_spread", bases=_spread_bases, family="test", paper="-", orient=True,
                                  defaults={"label": "ntk", "drop_first": False})(combine)
        yield zc_proxies.get_proxy("_spread")


def test_a_plugin_population_proxy_is_resolved_and_derived(spread):
    assert spread.kind == "population" and not spread.pointwise and spread.doc == ""
    plan = plan_proxies([ProxySpec("n", "ntk", {"batch": 4}), ProxySpec("s", "_spread", {"label": "n"})])
    # by label: the study's own `n`; by proxy: params added once (both params bases share it)
    assert [(s.label, s.proxy) for s in plan.scored] == [("n", "ntk"), ("params", "params")]
    assert [(b.role, lab) for b, lab in plan.derived[0][1]] == [("size", "params"), ("picked", "n"),
                                                               ("bench", "params")]
    archs = ["a", "b", "c", "d"]
    base = {"n": {"a": 4.0, "b": 2.0, "c": 6.0, "d": 8.0}, "params": {"a": 1.0, "b": 2.0, "c": 3.0}}
    sizes = ({"a": 0.5, "b": 0.25, "c": 0.125, "d": 1.0}, "the benchmark network")
    out = derive(plan, base, archs, None, 0, sizes)
    values, used, left_out = out["s"]
    # ntk is lower-is-better and the proxy orients its bases: -n; d lacks params, so gets none
    picked = np.array([-4.0, -2.0, -6.0])
    want = picked - picked.mean() + np.array([1.0, 2.0, 3.0]) + 1000 * np.array([0.5, 0.25, 0.125])
    assert list(values) == ["a", "b", "c"] and np.allclose([values[a] for a in "abc"], want, rtol=0, atol=1e-12)
    assert used == {"mean": -4.0, "network": "the benchmark network", "n_missing": 1} and left_out == set()
    # keep: the first architecture gets no score, on purpose (not counted as missing)
    plan = plan_proxies([ProxySpec("n", "ntk", {}), ProxySpec("s", "_spread", {"label": "n", "drop_first": True})])
    values, used, left_out = derive(plan, base, archs, None, 0, sizes)["s"]
    assert sorted(values) == ["b", "c"] and left_out == {"a"} and used["n_missing"] == 1
    # a benchmark-size base needs the sizes
    with pytest.raises(ValueError, match="benchmark network's sizes"):
        derive(plan, base, archs, None, 0, None)


def test_bases_by_label_fall_back_to_the_proxy_of_that_name_and_refuse_a_population_proxy(spread):
    plan = plan_proxies([ProxySpec("s", "_spread", {"label": "synflow"})])
    assert [s.label for s in plan.scored] == ["params", "synflow"]
    with pytest.raises(ConfigError, match="'tenas' is itself a population-level proxy and cannot be a base"):
        plan_proxies([ProxySpec("s", "_spread", {"label": "tenas"})])
    with pytest.raises(UnknownNameError, match="unknown proxy 'nope'"):
        plan_proxies([ProxySpec("s", "_spread", {"label": "nope"})])


def test_base_options_are_written_as_given():
    plan = plan_proxies([ProxySpec("r", "reg_swap", {"repeats": 1, "mu": 2.0})])
    # repeats was given (though equal to swap's default), mu is reg_swap's own
    assert [(s.label, s.options) for s in plan.scored] == [("swap", {"repeats": 1}), ("params", {})]
    with pytest.raises(TypeError, match="exactly one of proxy and label"):
        Base("x", proxy="swap", label="swap")


def test_reg_swap_is_pointwise_once_fitted_on_a_population():
    info = zc_proxies.get_proxy("reg_swap")
    assert info.pointwise and not zc_proxies.get_proxy("tenas").pointwise
    rng = np.random.default_rng(0)
    archs = [f"a{i}" for i in range(12)]
    swap, theta = rng.uniform(100, 200, 12), rng.uniform(0.5, 1.5, 12)  # Θ in millions
    whole = info.combine(Population(archs, {"swap": swap, "params": theta}), theta_unit="M", auto_quantile=0.8)
    # fitted on the Θ base alone: µ = σ = the 0.8 quantile, as the population's combine used
    fitted = info.fit(Population(archs, {"params": theta}), theta_unit="M", auto_quantile=0.8)
    assert fitted["mu"] == fitted["sigma"] == whole.used["mu"] == pytest.approx(np.quantile(theta, 0.8), rel=1e-15)
    for i in (0, 5, 11):
        one = info.combine(Population([archs[i]], {"swap": swap[i:i + 1], "params": theta[i:i + 1]}), **fitted)
        # the same elementwise formula in one process; a vectorised and a one-element exp may
        # differ in the last bit
        assert one.values[0] == pytest.approx(whole.values[i], rel=1e-14)
    # unfitted, one network has no µ / σ: the error says why
    with pytest.raises(UsageError, match="population"):
        info.combine(Population(["a0"], {"swap": swap[:1], "params": theta[:1]}))
    # a proxy without population-level options fits to its options unchanged
    assert zc_proxies.get_proxy("tenas").fit(Population([], {})) == zc_proxies.get_proxy("tenas").options()


def test_combine_must_return_combined_values_for_every_architecture():
    with PROXIES.scoped():
        register_population_proxy("_bad", bases=lambda o, labels: (), family="test", paper="-")(
            lambda population: (np.zeros(len(population.archs)), {}))
        register_population_proxy("_short", bases=lambda o, labels: (), family="test", paper="-")(
            lambda population: Combined(np.zeros(1), {}))
        with pytest.raises(TypeError, match="must return a Combined"):
            zc_proxies.get_proxy("_bad").combine(Population(["a", "b"], {}))
        with pytest.raises(TypeError, match=r"returned \(1,\) values for 2 architectures"):
            zc_proxies.get_proxy("_short").combine(Population(["a", "b"], {}))
    assert "_bad" not in PROXIES


def test_a_plugin_population_proxy_in_a_study(tmp_path):
    plugin = tmp_path / "size_rank_nc24.py"
    plugin.write_text(
        "import numpy as np\n"
        "from zc_proxies import Base, Combined, register_population_proxy\n\n"
        "@register_population_proxy('size_rank_nc24', family='size', paper='-', defaults={'scale': 1.0},\n"
        "                           bases=lambda options, labels: (Base('p', proxy='params'),))\n"
        "def size_rank_nc24(population, *, scale):\n"
        "    \"\"\"Rank of the size, times scale.\"\"\"\n"
        "    return Combined(scale * np.argsort(np.argsort(population.scores['p'])), {'scale': scale})\n")
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump({
        "name": "pop", "plugins": [str(plugin)], "space": "nb201", "space_options": {"C": 4, "N": 1},
        "task": "cifar10", "data": {"source": "noise", "batch_size": 4, "size": 4},
        "archs": {"from": "sample", "n": 5}, "seeds": [0],
        "proxies": [{"size_rank_nc24": {"scale": 2.0}}]}))
    try:
        with PROXIES.scoped():
            assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
            rows = load_report(tmp_path / "o").scores
    finally:
        sys.modules.pop("size_rank_nc24", None)
    mine = rows[rows["proxy"] == "size_rank_nc24"]
    params = rows[rows["proxy"] == "params"].set_index("arch")["value"]
    assert len(mine) == 5 and set(mine["value"]) <= {0.0, 2.0, 4.0, 6.0, 8.0}
    # the largest network has the highest rank
    assert mine.set_index("arch")["value"].idxmax() in set(params[params == params.max()].index)


def _python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


def test_import_search_spaces_loads_no_proxy_module():
    proc = _python(
        "import sys\n"
        "import search_spaces\n"
        "assert 'zc_proxies.swap' not in sys.modules, sorted(m for m in sys.modules if m.startswith('zc_proxies'))\n"
        "from zc_proxies import PROXIES, get_proxy, score\n"
        "assert not [m for m in sys.modules if m in PROXIES.builtins]\n"
        "import zc_proxies\n"
        "assert zc_proxies.swap.SWAP_DEFAULTS['repeats'] == 1  # a proxy module as an attribute\n"
        "assert get_proxy('tenas').kind == 'population' and 'zc_proxies.tenas' in sys.modules\n"
        "print('ok')\n")
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_a_plugin_registered_before_the_builtins_keeps_its_name_unless_a_builtin_has_it():
    proc = _python(
        "from zc_proxies import register_proxy, list_proxies, get_proxy\n"
        "register_proxy('mine_nc24', consumes=(), family='size', paper='-')(lambda probe: 1.0)\n"
        "register_proxy('swap', consumes=(), family='size', paper='-')(lambda probe: 1.0)\n"
        "try:\n"
        "    list_proxies()\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
        "print(get_proxy('swap').consumes, 'mine_nc24' in list_proxies(), len(list_proxies()) > 20)\n")
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.strip().splitlines()
    assert first.startswith("DuplicateNameError proxy 'swap' is already registered: it is a built-in proxy")
    assert second == "('codes',) True True"  # the built-in swap, the plugin's own name kept


def test_list_proxies_marks_the_population_level_ones(capsys):
    assert main(["list", "proxies", "*swap"]) == 0
    lines = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines()[1:]}
    assert "population(swap,params)" in lines["reg_swap"] and "population" not in lines["swap"]
    assert main(["list", "proxies", "rank_mean"]) == 0
    assert "population(its proxies)" in capsys.readouterr().out


def test_only_libra_takes_all_proxies():
    plan = plan_proxies([ProxySpec("p", "params", {}), ProxySpec("l", "libra", {"proxies": "all"})])
    assert [b.label for b, _ in plan.derived[0][1]] == ["p", "params"]  # every label, then params_proxy
    with pytest.raises(ConfigError, match=r"proxy 'r': 'proxies' must be a list of proxy labels, not 'all'"):
        plan_proxies([ProxySpec("r", "rank_mean", {"proxies": "all"})])
