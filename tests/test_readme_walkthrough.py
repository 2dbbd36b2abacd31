"""The "Adding a proxy" walk-through (docs/adding-a-proxy.md, linked from the README) runs as
written, and its error paths say what to do.

The code blocks are taken from that page itself: the Python and YAML blocks whose first line is
``# FILE`` are written to a fresh folder, then each line of the bash block runs there, with
``zcbench`` and ``python`` meaning this checkout's CLI and interpreter.
"""
import os
import re
import shlex
import subprocess
import sys

import pytest
import torch

from experiments.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _section() -> str:
    return open(os.path.join(ROOT, "docs", "adding-a-proxy.md"), encoding="utf-8").read()


def test_the_readme_links_to_the_walkthrough():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert "(docs/adding-a-proxy.md)" in readme
    assert _section().startswith("# Adding a proxy\n")


def test_every_relative_link_of_the_readme_points_to_a_file():
    """The README is read on GitHub and PyPI, outside the docs site's --strict build: its links
    into docs/ and results/ are checked here (anchors by the headings of the page they name)."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    links = re.findall(r"\]\(([^)#:]+)(?:#([^)]+))?\)", readme)
    assert len(links) >= 10
    for path, anchor in links:
        target = os.path.join(ROOT, path)
        assert os.path.exists(target), path
        if anchor:
            headings = re.findall(r"(?m)^#+ (.+)$", open(target, encoding="utf-8").read())
            slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
            assert anchor in slugs, (path, anchor)


def _blocks():
    return re.findall(r"```(\w+)\n(.*?)```", _section(), re.S)


def _env():
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    env.pop("ZCBENCH_CACHE", None)
    return env


def _command(line: str) -> list[str]:
    argv = shlex.split(line)
    head = {"zcbench": [sys.executable, "-m", "experiments.cli"], "python": [sys.executable]}[argv[0]]
    return head + argv[1:]


@pytest.mark.slow
def test_adding_a_proxy_walkthrough_runs_as_written(tmp_path):
    files = {}
    for lang, body in _blocks():
        first = body.splitlines()[0]
        if lang in ("python", "yaml") and first.startswith("# "):
            files[first[2:].strip()] = body
    assert {"my_proxy.py", "check_my_proxy.py", "my_study.yaml", "my_population_proxy.py",
            "try_my_population_proxy.py"} <= set(files)
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    commands = [ln for lang, body in _blocks() if lang == "bash" for ln in body.splitlines() if ln.strip()]
    assert [c.split()[:2] for c in commands] == [["python", "check_my_proxy.py"], ["zcbench", "run"],
                                                  ["zcbench", "compare"], ["zcbench", "list"],
                                                  ["python", "try_my_population_proxy.py"]]
    outputs = []
    for line in commands:
        proc = subprocess.run(_command(line), cwd=tmp_path, env=_env(), capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"
        outputs.append(proc.stdout)
    check, run, compare, listed, population = outputs
    # the population-level example prints what the page says it prints
    assert population.splitlines() == ["population ['swap', 'params']", "[-0.1667, 0.8333, 0.3333]"]
    assert "It prints `population ['swap', 'params']` and `[-0.1667, 0.8333, 0.3333]`" in " ".join(
        _section().split())
    assert "check_proxy('logit_norm')" in check and "nb201/cifar10: ok" in check and "FAIL" not in check
    assert "check_proxy('swap_mean')" in check
    # the best proxies of each column with their 95 % CIs, then the files
    assert re.search(r"logit_norm -?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\]", run), run
    assert re.search(r"swap_mean -?\d\.\d{3} \[", run) and "my-run/summary.md" in run
    assert "|---" not in run and len(run.splitlines()) < 15  # a short table, not the whole summary
    assert "logit_norm ranks" in compare
    assert listed.splitlines()[1].startswith("logit_norm")
    rows = (tmp_path / "my-run" / "correlations.csv").read_text()
    # the folder's reports are compare's: its proxies only, though the store still holds swap_mean
    assert "logit_norm" in rows and "params" in rows and "swap_mean" not in rows


def test_the_walkthrough_proxy_leaves_the_network_alone_and_a_naive_one_does_not():
    """A train-mode forward pass on probe.net changes BatchNorm's running statistics: the check
    says so; the same pass on probe.scratch() passes."""
    import zc_proxies
    from zc_proxies.base import PROXIES, ProxyInfo
    from experiments.conformance import check_proxy

    def naive(probe):
        with torch.no_grad():
            return float(probe.logits(probe.net.train()(probe.inputs)).norm())

    def scratch(probe):
        with torch.no_grad():
            return float(probe.logits(probe.scratch(bn_mode="train")(probe.inputs)).norm())

    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(PROXIES._entries, "_naive", ProxyInfo("_naive", naive, (), True, "test", "-"))
        mp.setitem(PROXIES._entries, "_scratch", ProxyInfo("_scratch", scratch, (), True, "test", "-"))
        bad = check_proxy("_naive", spaces=["nb201"], tasks_per_space=1, raise_on_failure=False)
        assert "changed the network's state" in bad.failures[0].detail and "running_mean" in bad.failures[0].detail
        good = check_proxy("_scratch", spaces=["nb201"], tasks_per_space=1)
        assert [c.status for c in good.cases] == ["ok"]
    assert zc_proxies.list_proxies("_naive") == []  # the test's proxies are gone again


def test_an_unknown_proxy_says_how_to_register_one(tmp_path, capsys):
    cfg = tmp_path / "study.yaml"
    cfg.write_text("space: nb201\ntask: cifar10\nproxies: [my_unregistered_proxy]\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "unknown proxy 'my_unregistered_proxy'" in err
    assert "import it first" in err and "plugins:" in err and "--import" in err and "entry point" in err


def test_a_plugin_that_cannot_be_imported_names_it_and_the_ways_to_fix_it(tmp_path, capsys):
    cfg = tmp_path / "study.yaml"
    cfg.write_text("space: nb201\ntask: cifar10\nplugins: [no_such_plugin_module]\nproxies: [params]\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "cannot import plugin 'no_such_plugin_module': ModuleNotFoundError" in err
    assert "PYTHONPATH" in err and "entry point" in err
    assert main(["list", "proxies", "--import", str(tmp_path / "missing.py")]) == 2
    assert "cannot import plugin" in capsys.readouterr().err
    broken = tmp_path / "broken_plugin.py"
    broken.write_text("raise RuntimeError('oops in my plugin')\n")
    assert main(["list", "proxies", "--import", str(broken)]) == 2
    assert "RuntimeError: oops in my plugin" in capsys.readouterr().err
    cfg.write_text("space: nb201\ntask: cifar10\nplugins: {a: 1}\nproxies: [params]\n")
    assert main(["run", str(cfg), "--no-progress"]) == 2
    assert "plugins must be a list of module names or .py paths" in capsys.readouterr().err


def test_import_option_registers_a_local_file_for_the_cli(tmp_path, capsys, monkeypatch):
    from zc_proxies.base import PROXIES

    plugin = tmp_path / "local_plugin_nc18.py"
    plugin.write_text("from zc_proxies import register_proxy\n\n"
                      "@register_proxy('local_nc18', consumes=(), family='size', paper='-')\n"
                      "def local_nc18(probe):\n    \"\"\"Number of samples.\"\"\"\n"
                      "    return float(probe.inputs.shape[0])\n")
    monkeypatch.delitem(sys.modules, "local_plugin_nc18", raising=False)
    from experiments.config import parse_study

    with PROXIES.scoped():  # registered only in this test
        assert main(["list", "proxies", "local_nc18", "--import", str(plugin)]) == 0
        assert capsys.readouterr().out.splitlines()[1].startswith("local_nc18")
        study = parse_study({"space": "nb201", "task": "cifar10", "plugins": [str(plugin)], "proxies": ["local_nc18"]})
        assert study.plugins == [str(plugin)]  # a second import of the same file is a no-op
    assert "local_nc18" not in PROXIES
    sys.modules.pop("local_plugin_nc18", None)
