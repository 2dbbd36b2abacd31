"""End to end: a study config -> results.sqlite, correlations.csv, summary.md, heatmap.png;
resumption; every user-facing error of `zcbench run` with its message and exit code."""
import csv
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from experiments.cli import main
from search_spaces.base import get_space
from tests.waiting import stored_rows, wait_until
from zc_proxies.size import count_params

ROOT = Path(__file__).resolve().parents[1]


def write_gt(path, space, archs, rng):
    """A ground-truth CSV in the SWAP file's format (no header), accuracies loosely tied to size."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        for a in archs:
            acc = 60 + 30 * np.tanh(count_params(space.build(a, "cifar10")) / 2e3) + rng.normal(0, 1)
            w.writerow([str(a), f"{acc:.2f}"])


def darts_study(tmp_path, n=24, **extra):
    space = get_space("darts")
    gt = tmp_path / "gt.csv"
    write_gt(gt, space, space.sample(n, seed=11), np.random.default_rng(0))
    raw = {"name": "tiny", "space": "darts", "task": "cifar10",
           "data": {"source": "noise", "batch_size": 8, "size": 16},
           "ground_truth": {"path": str(gt)}, "archs": {"from": "ground_truth", "n": None}, "seeds": [0, 1],
           "proxies": [{"swap": {"repeats": 2}}, {"reg_swap": {"repeats": 2, "theta_unit": "K"}}, "sap", "params"]}
    raw.update(extra)
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    return cfg


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_run_writes_every_output_and_resumes(tmp_path, capsys):
    cfg, out = darts_study(tmp_path), tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    for name in ("results.sqlite", "correlations.csv", "summary.md", "heatmap.png"):
        assert (out / name).is_file(), name
    rows = read_csv(out / "correlations.csv")
    assert {"space", "task", "proxy", "seed", "n", "spearman", "kendall"} <= set(rows[0])
    assert sorted({r["proxy"] for r in rows}) == ["params", "reg_swap", "sap", "swap"]
    assert all(r["n"] == "24" for r in rows) and len(rows) == 8
    params = [float(r["spearman"]) for r in rows if r["proxy"] == "params"]
    assert params[0] == params[1] > 0.8  # accuracies were made from the parameter count
    db = sqlite3.connect(out / "results.sqlite")
    n_rows = db.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    assert n_rows == 24 * 2 * 3  # reg_swap is derived at report time from swap and params, not stored
    summary = (out / "summary.md").read_text()
    assert re.search(r"\| swap +\| +24 \|", summary) and "`reg_swap` seed 0:" in summary and "theta_unit" in summary
    before = (out / "correlations.csv").read_text()
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0  # resume: nothing to do
    assert db.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == n_rows
    assert (out / "correlations.csv").read_text() == before


def test_reg_grid_from_stored_scores(tmp_path, capsys):
    cfg, out = darts_study(tmp_path), tmp_path / "out"
    main(["run", str(cfg), "--out", str(out), "--no-progress"])
    capsys.readouterr()
    assert main(["reg-grid", str(out), "--mu", "1", "2", "--sigma", "0.5", "1.5", "--theta-unit", "K"]) == 0
    text = capsys.readouterr().out
    assert "| µ \\ σ | 0.5 | 1.5 |" in text and text.count("\n| 1 |") == 1 and text.count("\n| 2 |") == 1


def two_metric_gt(tmp_path, name="gt2.csv", shift=0.0):
    """The study's ground truth with a header and a second metric (val_accuracy, test_accuracy)."""
    rng = np.random.default_rng(3)
    lines = ["arch,val_accuracy,test_accuracy"]
    for arch, acc in read_rows(tmp_path / "gt.csv"):
        lines.append(f'"{arch}",{float(acc) + shift:.2f},{float(acc) + rng.normal(0, 4):.2f}')
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def read_rows(path):
    with open(path) as f:
        return list(csv.reader(f))


def test_new_ground_truth_scores_nothing_and_changes_the_reports(tmp_path, capsys):
    """Scores are keyed by space, task, data, seed, architecture and proxy: another metric or
    another ground-truth file over the same architectures stores 0 new rows, and the reports
    follow the new truth, by `run` and by `report`."""
    cfg, out = darts_study(tmp_path), tmp_path / "out"
    gt2 = two_metric_gt(tmp_path)
    db = lambda: sqlite3.connect(out / "results.sqlite").execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    assert main(["run", str(cfg), "--out", str(out), "--no-progress", "--set", f"ground_truth.path={gt2}"]) == 0
    n_rows, first = db(), (out / "correlations.csv").read_text()
    assert n_rows == 24 * 2 * 3
    assert main(["run", str(cfg), "--out", str(out), "--no-progress", "--set", f"ground_truth.path={gt2}",
                 "--set", "ground_truth.metric=test_accuracy"]) == 0
    assert db() == n_rows
    second = (out / "correlations.csv").read_text()
    assert second != first and "test_accuracy" in second
    shifted = two_metric_gt(tmp_path, "gt3.csv", shift=0.5)  # same ranking of val_accuracy, another file
    assert main(["report", str(out), "--set", f"ground_truth.path={shifted}",
                 "--set", "ground_truth.metric=val_accuracy"]) == 0
    assert db() == n_rows
    third = read_csv(out / "correlations.csv")
    assert {float(r["spearman"]) for r in third if r["proxy"] == "params"} == {
        float(r["spearman"]) for r in read_csv_text(first) if r["proxy"] == "params"}
    assert "gt3.csv" in (out / "summary.md").read_text()
    # another batch is another scoring: every score again, under its own key; the reports follow it
    assert main(["run", str(cfg), "--out", str(out), "--no-progress", "--set", "data.batch_size=4"]) == 0
    assert db() == 2 * n_rows
    assert "batch 4" in (out / "summary.md").read_text()


def read_csv_text(text):
    return list(csv.DictReader(text.splitlines()))


def test_report_rebuilds_from_the_store_alone(tmp_path, capsys):
    cfg, out = darts_study(tmp_path), tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    before = {n: (out / n).read_text() for n in ("correlations.csv", "summary.md")}
    cfg.unlink()  # the config is stored with the scores
    for n in before:
        (out / n).unlink()
    assert main(["report", str(out)]) == 0
    assert {n: (out / n).read_text() for n in before} == before
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "no results at" in capsys.readouterr().err


def test_store_of_an_earlier_version_is_refused_with_what_to_do(tmp_path, capsys):
    out = tmp_path / "old"
    out.mkdir()
    db = sqlite3.connect(out / "results.sqlite")
    db.execute("CREATE TABLE scores (study TEXT, space TEXT, task TEXT, variant TEXT, seed INTEGER, arch TEXT, "
               "proxy TEXT, value REAL, seconds REAL, status TEXT, message TEXT)")
    db.commit()
    db.close()
    assert main(["run", str(darts_study(tmp_path, n=5)), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zcbench: error:") and "earlier zcbench" in err and "Move that file aside" in err
    assert main(["report", str(out)]) == 2
    assert "earlier zcbench" in capsys.readouterr().err


@pytest.mark.parametrize("override,needle", [
    (["proxies=[swapp]"], "unknown proxy 'swapp'. Did you mean 'swap'"),
    (["space=nb2O1"], "unknown space 'nb2O1'. Did you mean 'nb201'"),
    (["ground_truth.path=/nonexistent/DARTS_archs_CIFAR10.csv"], "raw.githubusercontent.com/pym1024/SWAP"),
    (["data.source=cifar10", "data.path=/nonexistent/cifar"], "cs.toronto.edu"),
    (["data.source=imagenet"], "fashion-mnist"),
    (["task=imagenet"], "has no task 'imagenet'"),
])
def test_cli_errors_are_clear(tmp_path, capsys, override, needle):
    cfg = darts_study(tmp_path, n=5)
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"] + [f"--set={o}" for o in override]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zcbench: error:") and needle in err


def test_malformed_arch_in_ground_truth_names_the_token(tmp_path, capsys):
    cfg = darts_study(tmp_path, n=5)
    gt = tmp_path / "gt.csv"
    lines = gt.read_text().splitlines()
    lines[2] = re.sub(r"'[a-z_0-9]+'", "'sep_conv_7x7'", lines[2], count=1)
    gt.write_text("\n".join(lines) + "\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "sep_conv_7x7" in err and "row 3" in err


def test_sampled_archs_without_ground_truth(tmp_path, capsys):
    cfg = darts_study(tmp_path, n=5, archs={"from": "sample", "n": 7})
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "0 of 7" in err


def test_list_commands(capsys):
    assert main(["list", "proxies"]) == 0
    out = capsys.readouterr().out
    assert "swap" in out and "reg_swap" in out and "Peng et al." in out
    assert main(["list", "spaces"]) == 0
    out = capsys.readouterr().out
    lines: dict[str, str] = {}  # one block per space: its name, then indented lines
    for l in out.splitlines():
        if not l.startswith(" "):
            name = l.split()[0]
            lines[name] = l
        else:
            lines[name] += " " + l.strip()
    assert set(lines) == {"nb101", "nb201", "nb301", "darts", "tnb101_micro", "tnb101_macro", "autoformer",
                          "nasbench_bert"}
    assert "nb201_pth" in lines["nb201"] and "nbsuite_zero" in lines["nb101"] and "nbsuite_zero" not in lines["darts"]
    assert "jigsaw" in lines["tnb101_micro"] and "DARTS" in lines["nb301"]
    assert main(["list", "proxies", "*swap"]) == 0
    assert capsys.readouterr().out.count("\n") == 3


def test_sigkill_midway_then_resume_gives_identical_results(tmp_path):
    """A run killed with SIGKILL part-way resumes to the same correlations.csv, no duplicates."""
    space = get_space("nb201", C=4, N=1)
    gt = tmp_path / "gt.csv"
    write_gt(gt, space, space.sample(80, seed=5), np.random.default_rng(1))
    raw = {"name": "kill", "space": "nb201", "space_options": {"C": 4, "N": 1}, "task": "cifar10",
           "data": {"source": "noise", "batch_size": 16, "size": 16}, "ground_truth": {"path": str(gt)},
           "archs": {"from": "ground_truth", "n": None}, "seeds": [0],
           "proxies": ["swap", "sap", "params", "flops"]}
    cfg = tmp_path / "kill.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    cmd = [sys.executable, "-m", "experiments.cli", "run", str(cfg), "--no-progress", "--out"]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed"
    proc = subprocess.Popen(cmd + [str(killed)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db_path = killed / "results.sqlite"

    def stored_or_ended():
        assert proc.poll() is None, "the run finished before it could be killed: " + proc.stderr.read().decode()
        return stored_rows(db_path) >= 4 * 15

    wait_until(stored_or_ended, "15 architectures stored")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "correlations.csv").exists()
    partial = sqlite3.connect(db_path).execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    assert 0 < partial < 80 * 4 and partial % 4 == 0  # whole architectures only
    subprocess.run(cmd + [str(killed)], env=env, check=True, capture_output=True)
    clean = tmp_path / "clean"
    subprocess.run(cmd + [str(clean)], env=env, check=True, capture_output=True)
    assert (killed / "correlations.csv").read_text() == (clean / "correlations.csv").read_text()
    db = sqlite3.connect(killed / "results.sqlite")
    assert db.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 80 * 4
    assert db.execute("SELECT COUNT(*) FROM (SELECT DISTINCT arch, proxy FROM scores)").fetchone()[0] == 80 * 4
    a = db.execute("SELECT arch, proxy, value FROM scores WHERE proxy != 'flops' ORDER BY arch, proxy").fetchall()
    b = sqlite3.connect(clean / "results.sqlite").execute(
        "SELECT arch, proxy, value FROM scores WHERE proxy != 'flops' ORDER BY arch, proxy").fetchall()
    assert a == b  # bit for bit


def test_worker_processes_give_identical_scores(tmp_path):
    cfg = darts_study(tmp_path, n=12)
    assert main(["run", str(cfg), "--out", str(tmp_path / "one"), "--no-progress"]) == 0
    assert main(["run", str(cfg), "--out", str(tmp_path / "two"), "--no-progress", "--workers", "2"]) == 0
    q = "SELECT scoring, seed, arch, proxy, value, status FROM scores ORDER BY scoring, seed, arch, proxy"
    assert (sqlite3.connect(tmp_path / "one" / "results.sqlite").execute(q).fetchall()
            == sqlite3.connect(tmp_path / "two" / "results.sqlite").execute(q).fetchall())


def test_compare_ranks_the_new_proxy_with_a_paired_test(tmp_path, capsys):
    cfg = darts_study(tmp_path, n=12, space_options={"return_logits": True})
    assert main(["compare", str(cfg), "--proxy", "nwot", "--baselines", "params", "swap", "grad_norm",
                 "--out", str(tmp_path / "cmp"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "(darts / cifar10, val_accuracy): nwot ranks" in out and "of 4 by mean Spearman" in out
    assert "| **nwot** |" in out and "| swap | constant |" in out and "| grad_norm |" in out
    params = next(l for l in out.splitlines() if "| params |" in l).split("|")
    assert re.fullmatch(r" [+-]\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\] ", params[6])  # Δρ nwot − params [CI]
    assert re.fullmatch(r" (< 0\.001|[01]\.\d{3}) ", params[7])  # its paired p-value
    rows = read_csv(tmp_path / "cmp" / "correlations.csv")
    assert {r["proxy"] for r in rows} == {"swap", "params", "nwot", "grad_norm"}
    # the same folder, fewer baselines: only the compared proxies are reported
    assert main(["compare", str(cfg), "--proxy", "nwot", "--baselines", "params", "--out", str(tmp_path / "cmp"),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "of 2 by mean Spearman" in out and "grad_norm" not in out
    assert {r["proxy"] for r in read_csv(tmp_path / "cmp" / "correlations.csv")} == {"params", "nwot"}
    assert main(["compare", str(cfg), "--proxy", "swapp", "--out", str(tmp_path / "c2")]) == 2
    assert "Did you mean 'swap'" in capsys.readouterr().err


def test_workers_option_takes_a_count_or_auto(capsys):
    import os

    from experiments.cli import _workers

    assert _workers("auto") == max(1, os.cpu_count() or 1) and _workers("3") == 3
    for bad in ("0", "two"):
        with pytest.raises(SystemExit):
            main(["run", "--workers", bad])
        assert "--workers" in capsys.readouterr().err


def test_reg_swap_theta_counts_the_ground_truths_network_not_the_scorer(tmp_path):
    """Θ is the parameter count of the network whose accuracy the ground truth gives (here
    C=4, N=1 while SWAP scores C=2, N=1); µ = σ = the largest Θ of the study's population;
    ``theta: scorer`` keeps the scoring network's size."""
    from experiments.config import parse_study
    from experiments.report import collect
    from experiments.config import Suite
    from experiments.store import Store

    scorer, bench = get_space("nb201", C=2, N=1), get_space("nb201", C=4, N=1)
    archs = scorer.sample(12, seed=3)
    gt = tmp_path / "gt.csv"
    gt.write_text("arch,acc\n" + "".join(f"{a},{50 + i}\n" for i, a in enumerate(archs)))
    raw = {"name": "theta", "space": "nb201", "space_options": {"C": 2, "N": 1}, "task": "cifar100",
           "data": {"source": "noise", "batch_size": 8, "size": 8},
           "ground_truth": {"path": str(gt), "metric": "acc", "network": {"C": 4, "N": 1, "task": "cifar10"}},
           "archs": {"from": "ground_truth", "n": None},
           "proxies": ["swap", "params", {"reg_swap": {"theta_unit": "K"}},
                       {"reg_scorer": {"proxy": "reg_swap", "theta_unit": "K", "theta": "scorer"}}]}
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    study = parse_study(raw)
    with Store(out / "results.sqlite") as store:
        _, frame, used, _ = collect(Suite("t", [study], {}), store)
    v = {p: g.set_index("arch")["value"] for p, g in frame.groupby("proxy")}
    theta_b = {str(a): bench.num_params(a, "cifar10") / 1e3 for a in archs}  # 10 classes: the network's task
    theta_s = {str(a): scorer.num_params(a, "cifar100") / 1e3 for a in archs}
    for label, theta in (("reg_swap", theta_b), ("reg_scorer", theta_s)):
        mu = max(theta.values())
        assert used[("theta", label, 0)]["mu"] == pytest.approx(mu)
        for a in theta:
            assert v[label][a] == pytest.approx(v["swap"][a] * np.exp(-(theta[a] - mu) ** 2 / mu), rel=1e-12)
    assert "C=4, N=1, cifar10" in used[("theta", "reg_swap", 0)]["theta"]
    # reg-grid counts the same network by default, the stored params with theta="scorer"
    from experiments.report import reg_swap_grid
    from scipy.stats import spearmanr

    truth = frame.drop_duplicates("arch").set_index("arch")["truth"]
    mu_b, mu_s = max(theta_b.values()), max(theta_s.values())
    with Store(out / "results.sqlite") as store:
        grid = reg_swap_grid(study, store, [mu_b], [mu_b], theta_unit="K")
        grid_s = reg_swap_grid(study, store, [mu_s], [mu_s], theta_unit="K", theta="scorer")
    archs = list(theta_b)
    assert grid[0]["spearman_mean"] == pytest.approx(
        spearmanr([v["reg_swap"][a] for a in archs], [truth[a] for a in archs])[0], abs=1e-12)
    assert grid_s[0]["spearman_mean"] == pytest.approx(
        spearmanr([v["reg_scorer"][a] for a in archs], [truth[a] for a in archs])[0], abs=1e-12)
    assert used[("theta", "reg_scorer", 0)]["theta"] == "the scoring network"
    assert theta_b != theta_s


def test_ground_truth_network_must_be_a_mapping_or_scorer(tmp_path, capsys):
    cfg = darts_study(tmp_path)
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress",
                 "--set", "ground_truth.network=big"]) == 2
    assert "ground_truth.network must be null" in capsys.readouterr().err
