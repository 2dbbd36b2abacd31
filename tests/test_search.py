"""`zcbench search`: SWAP-NAS (mutation, crossover, the evolution loop, its budget), the random
search baseline, the µ sweep, config errors and the CLI entry."""
import argparse
import csv
import json
import random
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml

import search_spaces  # noqa: F401
from experiments.config import ConfigError
from experiments.search import (add_parser, cmd_search, evolve, load_search, parse_search, random_search,
                                run_search, run_size_sweep)
from search_spaces.base import MUTATION_KINDS, SPACES, SearchSpace, TaskInfo, derive_seed, get_space
from search_spaces.darts import Genotype, parse_genotype
from search_spaces.nb201 import EDGES, NB201Arch, NB201Space

torch.set_num_threads(1)
CONFIGS = Path(__file__).resolve().parents[1] / "experiments" / "configs"

# a tiny NB201 (1.3-4.6 K parameters) on 8x8 noise: ~15 ms per proxy evaluation
TINY = {"space": "nb201", "space_options": {"C": 2, "N": 1}, "task": "fashion-mnist",
        "data": {"source": "noise", "batch_size": 8, "size": 8},
        "proxy": {"name": "reg_swap", "options": {"mu": 3.0, "sigma": 3.0, "theta_unit": "K", "theta": "scorer"}},
        "population": 8, "sample_size": 4, "children": 2, "evaluations": 24, "seeds": [0]}


def fake_score(arch) -> float:
    """A fast, deterministic stand-in for a proxy."""
    return derive_seed("fake", arch) / 2**31


# ----------------------------------------------------------------------------- operators


def test_nb201_mutations_change_exactly_one_edge_in_the_intended_way():
    space = get_space("nb201")
    rng = random.Random(0)
    for arch in space.sample(200, 1):
        for kind in MUTATION_KINDS:
            child = space.mutate(arch, rng, kind)
            assert isinstance(child, NB201Arch) and space.parse(str(child)) == child
            diff = [k for k in range(len(EDGES)) if child.ops[k] != arch.ops[k]]
            assert len(diff) == 1, (kind, arch, child)
            old, new = arch.ops[diff[0]], child.ops[diff[0]]
            if kind == "op" and any(op != "none" for op in arch.ops):
                assert "none" not in (old, new)  # op change: an op for another op
            else:
                assert (old == "none") != (new == "none")  # connectivity: an edge on or off
    assert space.mutate(str(arch), rng, "op") != arch  # strings are accepted
    off = NB201Arch(("none",) * 6)  # no op to change: a connectivity mutation instead
    assert sum(op != "none" for op in space.mutate(off, rng, "op").ops) == 1
    with pytest.raises(ValueError, match="mutation kind"):
        space.mutate(off, rng, "width")


def test_darts_mutations_change_one_edge_op_or_input_in_both_cells():
    space = get_space("darts")
    rng = random.Random(0)
    for g in space.sample(100, 2):
        for kind in MUTATION_KINDS:
            c = space.mutate(g, rng, kind)
            assert isinstance(c, Genotype) and parse_genotype(str(c)) == c
            assert c.reduce == c.normal and c.normal_concat == g.normal_concat  # same_cells kept
            diff = [i for i in range(8) if c.normal[i] != g.normal[i]]
            assert len(diff) == 1
            i = diff[0]
            (op0, n0), (op1, n1) = g.normal[i], c.normal[i]
            if kind == "op":
                assert n0 == n1 and op0 != op1 and op1 in space.ops
            else:
                assert op0 == op1 and n0 != n1 and 0 <= n1 <= i // 2 + 1
    untied = get_space("darts", same_cells=False)
    for g in untied.sample(40, 3):
        c = untied.mutate(g, rng, "connectivity")
        changed = [f for f in ("normal", "reduce") if getattr(c, f) != getattr(g, f)]
        assert len(changed) == 1 and sum(a != b for a, b in zip(getattr(c, changed[0]), getattr(g, changed[0]))) == 1
    one_op = get_space("darts", ops=("sep_conv_3x3",))
    g = one_op.sample(1, 0)[0]
    c = one_op.mutate(g, rng, "op")  # no other op: the input changes instead
    assert [op for op, _ in c.normal] == [op for op, _ in g.normal] and c != g


def test_crossover_swaps_the_incoming_edges_of_one_node():
    rng = random.Random(0)
    nb = get_space("nb201")
    for a, b in zip(nb.sample(60, 4), nb.sample(60, 5)):
        c1, c2 = nb.crossover(a, b, rng)
        assert nb.parse(str(c1)) == c1 and nb.parse(str(c2)) == c2
        ok = [j for j in (1, 2, 3)
              if all(c1.ops[k] == (b if EDGES[k][0] == j else a).ops[k]
                     and c2.ops[k] == (a if EDGES[k][0] == j else b).ops[k] for k in range(6))]
        assert ok and c1 != a and c2 != b  # a node where the parents differ is chosen
    darts = get_space("darts")
    for a, b in zip(darts.sample(40, 6), darts.sample(40, 7)):
        c1, c2 = darts.crossover(a, b, rng)
        assert c1.reduce == c1.normal and c2.reduce == c2.normal
        ok = [n for n in range(2, 6)
              if all(c1.normal[i] == (b if i // 2 + 2 == n else a).normal[i]
                     and c2.normal[i] == (a if i // 2 + 2 == n else b).normal[i] for i in range(8))]
        assert ok and c1 != a and parse_genotype(str(c2)) == c2


def test_a_space_without_mutation_says_so(monkeypatch):
    class Frozen(SearchSpace):
        name = "frozen"
        tasks = {"t": TaskInfo("t", 10, (3, 8, 8))}

    with pytest.raises(NotImplementedError, match="space 'frozen' does not support mutation; search needs one of "
                                                  "autoformer, darts, nb201, nb301"):
        Frozen().mutate(None, random.Random(0), "op")
    with pytest.raises(NotImplementedError, match="does not support crossover"):
        Frozen().crossover(None, None, random.Random(0))
    monkeypatch.setitem(SPACES._entries, "frozen", Frozen)
    with pytest.raises(ConfigError, match="space 'frozen' does not support mutation; search needs one of autoformer, darts, nb201, nb301"):
        parse_search({"space": "frozen", "task": "t"})


def test_every_evolvable_space_makes_exactly_the_search_s_mutation_kinds():
    """The kinds a search config may name (``MUTATION_KINDS``) are the kinds every space that
    mutates makes, and another kind is refused with the list."""
    import re

    from search_spaces.base import evolvable_spaces
    from zc_proxies.errors import ZcbenchError

    assert set(evolvable_spaces()) >= {"nb201", "darts", "nb301", "autoformer"}
    for name in evolvable_spaces():
        space = get_space(name, **SPACES.get(name).small_options)
        arch = space.sample(1, 0)[0]
        for kind in MUTATION_KINDS:
            rng = random.Random(1)
            assert any(space.mutate(arch, rng, kind) != arch for _ in range(5)), (name, kind)
        with pytest.raises((ValueError, ZcbenchError), match=re.escape(str(MUTATION_KINDS))):
            space.mutate(arch, random.Random(0), "bogus")


# ----------------------------------------------------------------------------- the loop


def test_evolution_is_deterministic_scores_once_keeps_the_budget_and_removes_the_worst():
    space = get_space("nb201")
    calls = Counter()

    def score(a):
        calls[str(a)] += 1
        return fake_score(a)

    kw = dict(seed=3, population=20, sample_size=5, mutations=3, children=3, crossover_prob=0.5, evaluations=150)
    r = evolve(space, score, **kw)
    # never scored twice; the budget is exact
    assert max(calls.values()) == 1 and sum(calls.values()) == r.evaluations == len(r.scores) == 150
    assert r.stop == "evaluations" and r.cycles == len(r.trajectory) - 1 > 30
    # deterministic for a seed, different for another
    again = evolve(space, fake_score, **kw)
    assert (again.best, again.trajectory, again.events) == (r.best, r.trajectory, r.events)
    assert evolve(space, fake_score, **{**kw, "seed": 4}).trajectory != r.trajectory
    # both mutation kinds and both parent choices are used
    assert r.kinds_used["op"] > 0 and r.kinds_used["connectivity"] > 0
    assert {e["parent"] for e in r.events} == {"best", "crossover"}
    # replay: each cycle adds the best child and removes the member with the lowest score
    pop = [str(a) for a in space.sample(20, derive_seed(3, "population"))]
    kept = 0
    for e in r.events:
        pop.append(e["added"])
        assert r.scores[e["removed"]] == min(r.scores[a] for a in pop)
        kept += e["removed"] != e["added"]
        pop.remove(e["removed"])
        assert len(pop) == len(set(pop)) == 20
    assert kept > 0
    assert r.scores[str(r.best)] == max(r.scores[a] for a in pop) == r.trajectory[-1][1]
    best_so_far = [s for _, s in r.trajectory]
    assert best_so_far == sorted(best_so_far)


def test_scored_crossover_children_compete_for_the_population_and_the_best_scored_is_returned():
    space = get_space("nb201")
    kids = set()

    class Recording:
        def __getattr__(self, name):
            return getattr(space, name)

        def crossover(self, a, b, rng):
            out = space.crossover(a, b, rng)
            kids.update(str(k) for k in out)
            return out

    added_kids = 0
    for seed in range(20):
        kids.clear()
        r = evolve(Recording(), fake_score, seed=seed, population=10, sample_size=5, evaluations=60)
        assert r.score == max(r.scores.values())  # nothing scored is better than what is returned
        added_kids += sum(e["added"] in kids for e in r.events if e["parent"] == "crossover")
    assert added_kids > 0  # a crossover child that beats the mutated ones joins the population


def test_seconds_budget_and_random_search(monkeypatch):
    """The seconds budget on a clock that only scoring advances (1 s per evaluation): the search
    stops at the budget, neither before nor after, however fast or loaded the machine is."""
    import experiments.search.evolution as evolution

    space = get_space("nb201")
    clock = [0.0]
    monkeypatch.setattr(evolution, "time", SimpleNamespace(perf_counter=lambda: clock[0]))

    def slow(a):
        clock[0] += 1.0
        return fake_score(a)

    r = evolve(space, slow, seed=0, population=10, sample_size=3, seconds=25)
    assert r.stop == "seconds" and r.evaluations == 25 and r.wall_seconds == 25.0
    calls = Counter()

    def score(a):
        calls[str(a)] += 1
        return fake_score(a)

    rs = random_search(space, score, 77, seed=0)
    assert rs.evaluations == 77 == len(calls) and max(calls.values()) == 1
    assert rs.score == max(fake_score(a) for a in calls) and str(rs.best) in calls
    with pytest.raises(ValueError, match="cover the population"):
        evolve(space, fake_score, seed=0, population=10, evaluations=5)


def test_a_proxy_that_fails_everywhere_is_reported():
    with pytest.raises(ValueError, match="no finite score"):
        evolve(get_space("nb201"), lambda a: float("nan"), seed=0, population=5, sample_size=2, evaluations=10)


# ----------------------------------------------------------------------------- real scoring


def test_run_search_is_deterministic_and_random_search_gets_the_same_evaluations(tmp_path):
    cfg = parse_search({**TINY, "seeds": [0, 1]})
    a = run_search(cfg, tmp_path / "a", progress=False)
    b = run_search(cfg, tmp_path / "b", progress=False)
    for ea, eb in zip(a["seeds"], b["seeds"]):
        for key in ("swap_nas", "random_search"):
            assert {k: v for k, v in ea[key].items() if k != "wall_seconds"} == \
                {k: v for k, v in eb[key].items() if k != "wall_seconds"}
        assert ea["swap_nas"]["evaluations"] == ea["random_search"]["evaluations"] == 24
        assert ea["swap_nas"]["params"] == get_space("nb201", C=2, N=1).num_params(ea["swap_nas"]["arch"],
                                                                                  "fashion-mnist")
        assert ea["swap_nas"]["theta"] == pytest.approx(ea["swap_nas"]["params"] / 1e3)
    assert a["seeds"][0]["swap_nas"]["trajectory"] != a["seeds"][1]["swap_nas"]["trajectory"]


def test_size_sweep_finds_larger_models_for_larger_mu(tmp_path):
    cfg = parse_search({**TINY, "population": 10, "sample_size": 4, "children": 3})
    res = run_size_sweep(cfg, tmp_path, [1.5, 4.0], runs=2, evaluations=40, progress=False)
    small = [r["theta"] for r in res["rows"] if r["mu"] == 1.5]
    large = [r["theta"] for r in res["rows"] if r["mu"] == 4.0]
    assert len(small) == len(large) == 2 and max(small) < min(large)
    assert res["spearman"] > 0.5
    rows = list(csv.DictReader(open(tmp_path / "size_sweep.csv")))
    assert len(rows) == 4 and {r["theta_unit"] for r in rows} == {"K"}
    assert (tmp_path / "size_sweep.png").stat().st_size > 0
    assert "Spearman(µ, found Θ)" in (tmp_path / "size_sweep.md").read_text()


def test_the_size_sweep_refuses_another_proxy_and_bad_mus(tmp_path):
    """The sweep sets reg_swap's µ = σ: another proxy is refused from the command line and from
    Python, as are µ values that are not positive numbers or a budget below the population; all
    before anything is scored or written."""
    swap = parse_search({**TINY, "proxy": "swap"})
    with pytest.raises(ConfigError, match=r"the size sweep sets µ = σ of reg_swap, but the proxy is 'swap'"):
        run_size_sweep(swap, tmp_path / "a", [1.0], runs=1, progress=False)
    cfg = parse_search(TINY)
    with pytest.raises(ConfigError, match=r"size-sweep µ values must be positive numbers, not \[1.0, -2\]"):
        run_size_sweep(cfg, tmp_path / "b", [1.0, -2], runs=1, progress=False)
    with pytest.raises(ConfigError, match=r"size sweep evaluations \(4\) must be >= population \(8\)"):
        run_size_sweep(cfg, tmp_path / "c", [1.0], runs=1, evaluations=4, progress=False)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({**TINY, "proxy": "swap"}))
    parser = argparse.ArgumentParser(prog="zcbench")
    add_parser(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(["search", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "d"), "--size-sweep", "2"])
    with pytest.raises(ConfigError, match=r"--size-sweep sets µ = σ of reg_swap, but the proxy is 'swap'"):
        cmd_search(args)
    assert not any((tmp_path / d).exists() for d in "abcd")


def _write_gt(path, archs, acc):
    with open(path, "w") as f:
        f.write("arch,test_accuracy\n")
        for a in archs:
            f.write(f"{a},{acc(a)}\n")


def test_found_architectures_missing_from_the_ground_truth_are_trained_now(tmp_path):
    space = get_space("nb201", C=2, N=1)
    _write_gt(tmp_path / "gt.csv", space.sample(5, 99), lambda a: 50.0)
    spec = {"name": "tiny", "space": "nb201", "space_options": {"C": 2, "N": 1}, "task": "fashion-mnist",
            "data": {"source": "fashion-mnist-sample", "size": 8, "train": 64, "val": 32, "test": 32},
            "recipe": {"epochs": 1, "batch_size": 32}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    cfg = parse_search({**TINY, "ground_truth": {"path": str(tmp_path / "gt.csv"), "metric": "test_accuracy"},
                        "train_missing": str(tmp_path / "spec.yaml")})
    res = run_search(cfg, tmp_path / "out", progress=False)
    for key in ("swap_nas", "random_search"):
        m = res["seeds"][0][key]
        assert m["trained_now"] is True and m["accuracy_source"].startswith("trained now")
        assert 0 <= m["accuracy"] <= 100 and m["percentile"] in (0.0, 100.0)
    trained = (tmp_path / "out" / "trained_now.csv").read_text()
    again = run_search(cfg, tmp_path / "out", progress=False)  # reuses trained_now.csv
    assert (tmp_path / "out" / "trained_now.csv").read_text() == trained
    assert again["seeds"][0]["swap_nas"]["accuracy"] == res["seeds"][0]["swap_nas"]["accuracy"]
    assert "*" in (tmp_path / "out" / "search.md").read_text()
    bad = {**spec, "space_options": {"C": 4, "N": 1}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match="not be comparable"):
        parse_search({**TINY, "ground_truth": {"path": str(tmp_path / "gt.csv")},
                      "train_missing": str(tmp_path / "bad.yaml")})


# ----------------------------------------------------------------------------- config, CLI


@pytest.mark.parametrize("change,msg", [
    ({"colour": 1}, r"unknown key\(s\) \['colour'\]"),
    ({"evaluations": 5}, r"evaluations .* must be an integer >= population \(8\)"),
    ({"evaluations": 50, "seconds": 10}, "either evaluations or seconds"),
    ({"evaluations": None, "seconds": -1}, "seconds .* must be a positive number"),
    ({"proxy": "nope"}, "unknown proxy 'nope'"),
    ({"proxy": {"name": "swap", "options": {"colour": 1}}}, r"has no option\(s\) \['colour'\]"),
    ({"proxy": {"name": "reg_swap", "options": {"mu": "big"}}}, "reg_swap mu must be a number"),
    ({"proxy": {"name": "rank_mean"}}, "cannot score one network"),
    ({"proxy": {"nom": "swap"}}, "proxy must be a name or"),
    ({"crossover_prob": 2}, r"crossover_prob must be a number in \[0, 1\]"),
    ({"sample_size": 9}, r"sample_size \(9\) cannot exceed population \(8\)"),
    ({"mutation_kinds": ["width"]}, "mutation_kinds must be"),
    ({"data": {"batchsize": 8}}, r"unknown key\(s\) \['batchsize'\] in 'data'"),
    ({"seeds": "many"}, "seeds must be"),
    ({"size_sweep": {"mus": [1, 2]}, "proxy": "swap"}, "size_sweep sets µ = σ of reg_swap"),
    ({"size_sweep": {"mus": [-1]}}, "size_sweep.mus must be"),
    ({"ground_truth": {"path": "/no/such.csv"}}, "is not a file"),
    ({"train_missing": "embedded:nb201_fmnist.yaml"}, "train_missing needs ground_truth"),
])
def test_config_errors_are_clear(change, msg):
    with pytest.raises(ConfigError, match=msg):
        parse_search({**TINY, **change})


def test_defaults_and_shipped_configs():
    cfg = parse_search({"space": "darts", "task": "cifar10"})
    assert (cfg.proxy, cfg.population, cfg.sample_size, cfg.mutations, cfg.children, cfg.evaluations) == \
        ("reg_swap", 50, 10, 3, 3, 1000)
    assert cfg.proxy_options["theta_unit"] == "K" and cfg.random_search and cfg.seeds == [0]
    darts = load_search(CONFIGS / "search_darts.yaml")
    assert darts.proxy_options["mu"] == darts.proxy_options["sigma"] == 1.2 and darts.evaluations == 1000
    nb = load_search(CONFIGS / "search_nb201_fmnist.yaml", ["seeds=2"])
    assert nb.space_options == {"C": 8, "N": 1} and nb.seeds == [0, 1] and nb.train_missing
    assert nb.ground_truth["metric"] == "test_accuracy" and nb.data["source"] == "fashion-mnist-sample"
    real = load_search(CONFIGS / "search_nb201_real.yaml")  # NB201's real accuracies, shipped
    assert real.space_options == {"C": 16, "N": 5} and real.evaluations == 300 and real.seeds == list(range(10))
    assert real.ground_truth["metric"] == ["cifar10_test_accuracy", "cifar100_test_accuracy",
                                           "ImageNet16-120_test_accuracy"]
    assert (real.proxy_options["mu"], real.proxy_options["sigma"], real.proxy_options["theta_unit"]) == \
        ("auto", "auto", "M")


def test_auto_mu_sigma_is_the_largest_theta_of_the_benchmark_networks_of_1000_sampled_cells(tmp_path):
    # the scorer is C=2, N=1; the ground truth's networks are C=4, N=1: Θ counts those, in K
    gt = tmp_path / "gt.csv"
    _write_gt(gt, NB201Space.all_archs(), lambda a: 50.0)
    cfg = parse_search({**TINY, "proxy": "reg_swap", "evaluations": 8, "random_search": False,
                        "ground_truth": {"path": str(gt), "metric": "test_accuracy", "network": {"C": 4, "N": 1}}})
    res = run_search(cfg, tmp_path / "out", progress=False)
    opts = res["proxy"]["options"]
    bench = get_space("nb201", C=4, N=1)
    largest = max(bench.num_params(a, "fashion-mnist") for a in bench.sample(1000, 0)) / 1e3
    assert opts["mu"] == opts["sigma"] == pytest.approx(largest, abs=1e-6)
    assert "C=4, N=1" in opts["theta_network"]
    m = res["seeds"][0]["swap_nas"]
    assert m["theta_params"] == bench.num_params(m["arch"], "fashion-mnist") != m["params"]
    assert m["theta"] == pytest.approx(m["theta_params"] / 1e3)
    # the quantile stays an option
    cfg = parse_search({**TINY, "evaluations": 8, "random_search": False,
                        "proxy": {"name": "reg_swap", "options": {"theta": "scorer", "auto_quantile": 0.5}}})
    opts = run_search(cfg, tmp_path / "q", progress=False)["proxy"]["options"]
    scorer = get_space("nb201", C=2, N=1)
    median = float(np.quantile([scorer.num_params(a, "fashion-mnist") for a in scorer.sample(1000, 0)], 0.5)) / 1e3
    assert opts["mu"] == pytest.approx(median, abs=1e-6) and "theta_network" not in opts


def test_cli_writes_search_json_md_and_plots(tmp_path, capsys):
    space = get_space("nb201", C=2, N=1)
    _write_gt(tmp_path / "gt.csv", NB201Space.all_archs(), lambda a: 60 + derive_seed(a) % 400 / 10)
    config = {**TINY, "name": "cli", "seeds": 2,
              "ground_truth": {"path": str(tmp_path / "gt.csv"), "metric": "test_accuracy"},
              "size_sweep": {"runs": 1, "evaluations": 16}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(config))
    parser = argparse.ArgumentParser(prog="zcbench")
    add_parser(parser.add_subparsers(dest="cmd"))
    out = tmp_path / "out"
    args = parser.parse_args(["search", str(tmp_path / "s.yaml"), "--out", str(out), "--no-progress",
                              "--set", "evaluations=20"])
    assert cmd_search(args) == 0
    res = json.loads((out / "search.json").read_text())
    assert [e["seed"] for e in res["seeds"]] == [0, 1] and res["settings"]["evaluations"] == 20
    for e in res["seeds"]:
        m = e["swap_nas"]
        assert m["evaluations"] == e["random_search"]["evaluations"] == 20
        assert m["accuracy_source"] == "ground_truth" and m["trained_now"] is False
        assert 0 <= m["percentile"] <= 100 and space.parse(m["arch"]) is not None
        assert m["trajectory"][0][0] == 8 and m["trajectory"][-1][0] == 20
    md = (out / "search.md").read_text()
    assert "## Summary" in md and "SWAP-NAS" in md and "random search" in md and "\\|" in md
    assert (out / "trajectory.png").stat().st_size > 0 and not (out / "size_sweep.csv").exists()
    assert "wrote" in capsys.readouterr().out
    args = parser.parse_args(["search", str(tmp_path / "s.yaml"), "--out", str(out), "--no-progress",
                              "--sweep-only", "--size-sweep", "1.5", "4"])
    assert cmd_search(args) == 0
    assert len(list(csv.DictReader(open(out / "size_sweep.csv")))) == 2
    with pytest.raises(ConfigError, match="--sweep-only needs"):
        cmd_search(parser.parse_args(["search", str(tmp_path / "s.yaml"), "--sweep-only"]))


# ----------------------------------------------------------------------------- resume, progress


def _stable(res: dict) -> dict:
    """search.json without what differs between runs (wall times, versions)."""
    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items()
                    if "wall_seconds" not in k and k not in ("versions", "lookup_seconds", "train_seconds")}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v
    return strip(res)


def test_a_stopped_search_resumes_to_the_same_results(tmp_path, monkeypatch, capsys):
    import experiments.search.run as search  # where run_search finds evolve and random_search

    config = {**TINY, "name": "search", "seeds": [0, 1, 2]}
    run_search(parse_search(config), tmp_path / "whole", progress=False)
    whole = json.loads((tmp_path / "whole" / "search.json").read_text())
    assert whole["complete"] and [e["seed"] for e in whole["seeds"]] == [0, 1, 2]
    err = capsys.readouterr().err  # --no-progress: one line per finished seed
    assert "seed 0 done (1/3)" in err and "seed 2 done (3/3)" in err

    real_random, real_evolve = search.random_search, search.evolve

    def interrupted(space, score_fn, n, *, seed, **kw):  # Ctrl-C during seed 1's random search
        if seed == 1:
            raise KeyboardInterrupt
        return real_random(space, score_fn, n, seed=seed, **kw)

    monkeypatch.setattr(search, "random_search", interrupted)
    parser = argparse.ArgumentParser(prog="zcbench")
    add_parser(parser.add_subparsers(dest="cmd"))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(config))
    args = parser.parse_args(["search", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "cut"), "--no-progress"])
    assert cmd_search(args) == 130
    assert "1 of 3 seed(s) finished and kept" in capsys.readouterr().err
    cut = json.loads((tmp_path / "cut" / "search.json").read_text())  # written after seed 0
    assert not cut["complete"] and [e["seed"] for e in cut["seeds"]] == [0]
    assert "Incomplete: 1 of 3 seeds" in (tmp_path / "cut" / "search.md").read_text()

    monkeypatch.setattr(search, "random_search", real_random)
    ran = []

    def counting(space, score_fn, *, seed, **kw):
        ran.append(seed)
        return real_evolve(space, score_fn, seed=seed, **kw)

    monkeypatch.setattr(search, "evolve", counting)
    resumed = run_search(load_search(tmp_path / "s.yaml"), tmp_path / "cut", progress=False)
    assert ran == [1, 2]  # seed 0 kept, seed 1 restarted from its beginning
    assert "resuming" in capsys.readouterr().err
    assert _stable(json.loads((tmp_path / "cut" / "search.json").read_text())) == _stable(whole) == \
        _stable(json.loads(json.dumps(resumed)))
    assert (tmp_path / "cut" / "trajectory.png").stat().st_size > 0

    run_search(load_search(tmp_path / "s.yaml"), tmp_path / "cut", progress=False)  # all done: nothing runs
    assert ran == [1, 2] and "all 3 seed(s) already finished" in capsys.readouterr().err
    ran.clear()  # more seeds later: only the new one runs; fewer seeds: the others are kept aside
    more = run_search(parse_search({**TINY, "seeds": [0, 1, 2, 3]}), tmp_path / "cut", progress=False)
    assert ran == [3] and [e["seed"] for e in more["seeds"]] == [0, 1, 2, 3]
    fewer = run_search(parse_search({**TINY, "seeds": [1]}), tmp_path / "cut", progress=False)
    assert ran == [3] and [e["seed"] for e in fewer["seeds"]] == [1] and fewer["summary"]["swap_nas"]["runs"] == 1
    assert [e["seed"] for e in fewer["other_seeds"]] == [0, 2, 3]


def test_a_search_with_another_config_in_the_same_folder_is_refused(tmp_path):
    run_search(parse_search(TINY), tmp_path, progress=False)
    with pytest.raises(ConfigError, match=r"holds a search with another config \(changed: evaluations 24 -> 20; "
                                          r"sample_size 4 -> 3\); resuming would mix results\. Use another --out"):
        run_search(parse_search({**TINY, "evaluations": 20, "sample_size": 3}), tmp_path, progress=False)
    with pytest.raises(ConfigError, match=r"changed: proxy_options.mu 3.0 -> 3.5"):
        run_search(parse_search({**TINY, "proxy": {"name": "reg_swap", "options": {"mu": 3.5, "sigma": 3.0,
                                                                                    "theta_unit": "K"}}}),
                   tmp_path, progress=False)
    (tmp_path / "search.json").write_text(json.dumps({"seeds": []}))
    with pytest.raises(ConfigError, match="older zcbench without a config fingerprint"):
        run_search(parse_search(TINY), tmp_path, progress=False)
    (tmp_path / "search.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot be read"):
        run_search(parse_search(TINY), tmp_path, progress=False)


def test_progress_bars_show_evaluations_and_the_best_score(tmp_path, capsys):
    run_search(parse_search({**TINY, "seeds": [0]}), tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "seed 0 SWAP-NAS" in err and "seed 0 random search" in err and "/24" in err and "best " in err
    assert "seed 0 done (1/1)" in err


def test_several_ground_truth_metrics_and_the_ceiling(tmp_path):
    with open(tmp_path / "gt.csv", "w") as f:
        f.write("# two datasets\narch,acc_a,acc_b\n")
        for a in NB201Space.all_archs():
            f.write(f"{a},{derive_seed('a', a) % 1000 / 10},{derive_seed('b', a) % 1000 / 10}\n")
    cfg = parse_search({**TINY, "ground_truth": {"path": str(tmp_path / "gt.csv"), "metric": ["acc_a", "acc_b"]}})
    res = run_search(cfg, tmp_path / "out", progress=False)
    e = res["seeds"][0]
    archs = get_space("nb201", C=2, N=1).sample(24, derive_seed(0, "random"))  # random search's sample
    for metric, tag in (("acc_a", "a"), ("acc_b", "b")):
        truth = {str(a): derive_seed(tag, a) % 1000 / 10 for a in archs}
        c = e["random_search"]["ceiling"][metric]
        assert c["accuracy"] == max(truth.values()) and truth[c["arch"]] == c["accuracy"] and c["in_truth"] == 24
        assert e["random_search"]["truth"][metric]["accuracy"] == truth[e["random_search"]["arch"]] <= c["accuracy"]
        assert 0 < c["percentile"] <= 100
        s = res["summary"]["random_search"]["by_metric"][metric]
        assert s["median_ceiling"] == c["accuracy"]
    assert e["swap_nas"]["accuracy"] == e["swap_nas"]["truth"]["acc_a"]["accuracy"]  # the first is the primary
    assert res["ground_truth"]["metrics"] == ["acc_a", "acc_b"]
    md = (tmp_path / "out" / "search.md").read_text()
    assert "## acc_b" in md and "ceiling: best of the random sample" in md
    with pytest.raises(ConfigError, match="ground_truth.metric must be a metric name or a list"):
        parse_search({**TINY, "ground_truth": {"path": str(tmp_path / "gt.csv"), "metric": ["acc_a", "acc_a"]}})


def test_search_top_cells_ranks_the_picks_in_a_table_scored_as_the_search_scores(tmp_path):
    from experiments.benchmarks import search_top_cells as T
    from zc_proxies.swap import reg_swap_combine

    cfg = parse_search({**TINY, "evaluations": 8, "population": 4, "sample_size": 2, "children": 1,
                        "ground_truth": {"path": "embedded:nb201_nats_bench.csv",
                                         "metric": ["cifar10_test_accuracy", "cifar100_test_accuracy"]}})
    res = run_search(cfg, tmp_path / "s", progress=False)
    data = T.score_table(tmp_path / "s", 12, tmp_path / "t.npz", progress=False)
    found = res["seeds"][0]["swap_nas"]
    assert len(data["table"]) == 12 and found["arch"] in data["cells"]
    # the table scores a cell exactly as the search scored it for seed 0
    sw, theta = data["cells"][found["arch"]]
    o = res["proxy"]["options"]
    assert reg_swap_combine([sw], [theta], mu=o["mu"], sigma=o["sigma"], theta_unit=o["theta_unit"])[0][0] == \
        pytest.approx(found["score"], rel=1e-12)
    assert theta == pytest.approx(found["params"] / 1e6)  # theta: scorer in TINY
    text = T.report(data, 12)
    assert "| cifar10_test_accuracy |" in text and "| cifar100_test_accuracy |" in text
    assert "a seeded subset of 12 NB201 cells" in text and "| 0 | " in text
    again = T.score_table(tmp_path / "s", 12, tmp_path / "t.npz", progress=False)  # resumes from the cache
    assert again["cells"] == data["cells"]
