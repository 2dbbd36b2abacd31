"""`zcbench build-benchmark`, the embedded benchmark and sample, and the default study."""
import csv
from pathlib import Path

import numpy as np
import pytest
import yaml

import zc_proxies
from experiments.build import BenchmarkFileError, Trainer, build, load_spec, parse_spec, read_done
from experiments.cli import DEFAULT_STUDY, main
from experiments.config import ConfigError, load_suite
from search_spaces.base import get_space
from search_spaces.data import EMBEDDED_DIR, DataError, load_batch, resolve_path
from search_spaces.ground_truth import read_csv
from tests.conftest import FMNIST
from tests.test_data import make_fmnist
from tests.tolerances import ACCURACY_POINTS

EMBEDDED_SPEC = EMBEDDED_DIR / "nb201_fmnist.yaml"
EMBEDDED_CSV = EMBEDDED_DIR / "nb201_fmnist.csv"


def tiny_spec(folder: Path, **recipe) -> dict:
    """A spec small enough to train in a second, on IDX fixture files in ``folder``."""
    make_fmnist(folder, n_train=96, n_test=32)
    return parse_spec({"name": "tiny", "space": "nb201", "space_options": {"C": 2, "N": 1}, "task": "fashion-mnist",
                       "archs": {"n": 4, "seed": 3},
                       "data": {"source": "fashion-mnist", "path": str(folder), "size": 8, "train": 64, "val": 32,
                                "test": 32},
                       "recipe": {"epochs": 1, "batch_size": 16, **recipe}})


def data_rows(path: Path) -> list[list[str]]:
    return [r for r in csv.reader(open(path)) if r and not r[0].startswith("#")]


def test_build_writes_ground_truth_that_read_csv_reads_and_resumes(tmp_path):
    spec = tiny_spec(tmp_path / "fm")
    out = tmp_path / "bench.csv"
    stats = build(spec, out, progress=False, limit=2)
    assert (stats["trained"], stats["total"]) == (2, 4)
    assert len(data_rows(out)) == 1 + 2
    stats = build(spec, out, progress=False)  # resumes: only the 2 missing are trained
    assert (stats["done_before"], stats["trained"]) == (2, 2)
    header, *rows = data_rows(out)
    assert header == ["arch", "val_accuracy", "test_accuracy", "params", "train_seconds"]
    space = get_space("nb201", C=2, N=1)
    assert sorted(r[0] for r in rows) == sorted(str(a) for a in space.sample(4, 3))
    for r in rows:
        assert 0 <= float(r[1]) <= 100 and 0 <= float(r[2]) <= 100
        assert int(r[3]) == sum(p.numel() for p in space.build(r[0], "fashion-mnist").parameters())
    gt = read_csv(out, space)
    assert gt.metrics == ["val_accuracy", "test_accuracy", "params", "train_seconds"] and len(gt) == 4
    assert build(spec, out, progress=False)["trained"] == 0


def test_build_is_deterministic_and_drops_a_row_cut_by_a_kill(tmp_path):
    spec = tiny_spec(tmp_path / "fm")
    out = tmp_path / "bench.csv"
    build(spec, out, progress=False)
    before = {r[0]: r[1:3] for r in data_rows(out)[1:]}
    text = out.read_text()
    out.write_text(text[: text.rstrip("\n").rfind("\n") + 1] + "|nor_conv_3x3~0|+|no")  # killed mid-row
    assert len(read_done(out, spec)) == 3
    build(spec, out, progress=False)
    after = {r[0]: r[1:3] for r in data_rows(out)[1:]}
    assert after == before  # the retrained architecture gets the same accuracies


def test_build_refuses_a_file_of_another_recipe_or_format(tmp_path):
    spec = tiny_spec(tmp_path / "fm")
    out = tmp_path / "bench.csv"
    build(spec, out, progress=False, limit=1)
    other = tiny_spec(tmp_path / "fm", lr=0.05)
    with pytest.raises(BenchmarkFileError, match="another recipe"):
        build(other, out, progress=False)
    # the data folder is not part of the recipe: moving the files keeps the file resumable
    moved = parse_spec({**spec, "data": {**spec["data"], "path": str(tmp_path / "elsewhere")}})
    assert len(read_done(out, moved)) == 1
    bad = tmp_path / "notes.csv"
    bad.write_text("arch,acc\n")
    with pytest.raises(BenchmarkFileError, match="not a zcbench benchmark"):
        build(spec, bad, progress=False)


@pytest.mark.parametrize("raw, match", [
    ({"name": "x", "space": "nb201", "task": "fashion-mnist", "recipe": {"optimizer": "lbfgs"}}, "optimizer"),
    ({"name": "x", "space": "nb201", "task": "fashion-mnist", "recipe": {"epoch": 2}}, r"unknown key\(s\) \['epoch'\] in 'recipe'"),
    ({"name": "x", "space": "nb201", "task": "fashion-mnist", "data": {"train": 0}}, "data.train"),
    ({"name": "x", "space": "nb201"}, "needs 'task'"),
    ({"name": "x", "space": "nb201", "task": "fashion-mnist", "epochs": 3}, "unknown benchmark spec key"),
])
def test_bad_specs_say_what_is_wrong(raw, match):
    with pytest.raises(ConfigError, match=match):
        parse_spec(raw)


def test_build_benchmark_cli_errors(tmp_path, capsys):
    assert main(["build-benchmark", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o.csv")]) == 2
    assert "no benchmark spec" in capsys.readouterr().err
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"name": "x", "space": "nb201", "task": "fashion-mnist",
                                    "data": {"path": str(tmp_path / "none")}, "archs": {"n": 2}}))
    assert main(["build-benchmark", str(spec), "--out", str(tmp_path / "o.csv"), "--no-progress"]) == 2
    assert "Fashion-MNIST" in capsys.readouterr().err


# ---- the embedded benchmark --------------------------------------------------------------


def test_embedded_benchmark_has_500_distinct_architectures_and_its_recipe():
    spec = load_spec(EMBEDDED_SPEC)
    space = get_space(spec["space"], **spec["space_options"])
    gt = read_csv(EMBEDDED_CSV, space)
    assert len(gt) >= 500 and gt.n_duplicates == 0
    assert read_done(EMBEDDED_CSV, spec)  # the file holds exactly the spec's recipe
    acc = np.array(list(gt.metric("test_accuracy").values()))
    # accuracies spread enough to rank: the top decile sits above the median by a margin
    assert np.quantile(acc, 0.9) - np.median(acc) > 1.0
    assert resolve_path("embedded:nb201_fmnist.csv") == EMBEDDED_CSV


def test_rebuilding_embedded_architectures_gives_their_accuracies():
    """Three architectures of the shipped file, trained again with its recipe."""
    if not (FMNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"needs the Fashion-MNIST training set (apt-get install dataset-fashion-mnist), absent: {FMNIST}")
    spec = load_spec(EMBEDDED_SPEC)
    rows = {r[0]: r for r in data_rows(EMBEDDED_CSV)[1:]}
    trainer = Trainer(spec)
    for i, arch in enumerate(sorted(rows)[:3]):
        got = trainer.run(trainer.space.parse(arch))
        if i == 0:  # bit for bit where that holds: the same training twice in one process
            again = trainer.run(trainer.space.parse(arch))
            assert {k: v for k, v in again.items() if k != "train_seconds"} == \
                {k: v for k, v in got.items() if k != "train_seconds"}
        want_val, want_test = float(rows[arch][1]), float(rows[arch][2])
        assert int(rows[arch][3]) == got["params"]
        # the file was written on another machine, whose kernels may round differently
        assert abs(got["val_accuracy"] - want_val) <= ACCURACY_POINTS[0]
        assert abs(got["test_accuracy"] - want_test) <= ACCURACY_POINTS[0]


def test_embedded_fashion_mnist_sample():
    x, y = load_batch("fashion-mnist-sample", 32, size=16)
    assert x.shape == (32, 3, 16, 16) and y.shape == (32,) and int(y.max()) <= 9
    x2, _ = load_batch("fashion-mnist-sample", 32, size=16, pick="random", seed=1)
    assert not np.allclose(x.numpy(), x2.numpy())
    with pytest.raises(DataError, match="holds only 256"):
        load_batch("fashion-mnist-sample", 300)
    assert (EMBEDDED_DIR / "FASHION_MNIST_LICENSE.txt").read_text().count("MIT License") == 1
    if (FMNIST / "t10k-images-idx3-ubyte.gz").is_file():  # the sample is the test split's last 256 images
        full, fy = load_batch("fashion-mnist", 10000, split="test")
        sx, sy = load_batch("fashion-mnist-sample", 256)
        assert np.array_equal(full[-256:].numpy(), sx.numpy()) and np.array_equal(fy[-256:].numpy(), sy.numpy())


# ---- the default study -------------------------------------------------------------------


def test_default_study_runs_every_registered_proxy_on_embedded_files():
    suite = load_suite(DEFAULT_STUDY)
    infos = {n: zc_proxies.get_proxy(n) for n in zc_proxies.list_proxies()}
    built_in = {n for n, i in infos.items()
                if (i.fn if i.kind == "network" else i.combine_fn).__module__.startswith("zc_proxies.")}
    assert len(suite.studies) == 4
    for study in suite.studies:
        assert {s.proxy for s in study.proxies} == built_in  # a new proxy must join the default suite
        assert study.data["source"] == "fashion-mnist-sample" and study.seeds == [0, 1]
        assert study.ground_truth["path"].startswith("embedded:") and study.archs["path"].startswith("embedded:")
    assert [s.ground_truth["metric"] for s in suite.studies] == [
        "test_accuracy", "cifar10_test_accuracy", "cifar100_test_accuracy", "ImageNet16-120_test_accuracy"]
    # reg_swap's Θ counts each ground truth's own networks: the embedded benchmark's (the scored
    # C=8, N=1 ones) and NATS-Bench's C=16, N=5 with that dataset's classifier
    assert [s.ground_truth["network"] for s in suite.studies] == [
        {"C": 8, "N": 1}, {"C": 16, "N": 5, "task": "cifar10"}, {"C": 16, "N": 5, "task": "cifar100"},
        {"C": 16, "N": 5, "task": "ImageNet16-120"}]


def test_zcbench_run_without_a_study_runs_the_default(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--no-progress", "--set", "archs.n=8", "--set", "seeds=[0]",
            "--set", "proxies=[swap, params, nwot, synflow]"]
    assert main(argv) == 0
    out = tmp_path / "zcbench-out"
    for name in ("results.sqlite", "correlations.csv", "summary.md", "heatmap.png", "scatter_nb201_fmnist.png",
                 "scatter_nb201_imagenet16.png"):
        assert (out / name).is_file(), name
    assert "scatter_nb201_cifar100.png" in capsys.readouterr().out
    import sqlite3

    assert sqlite3.connect(out / "results.sqlite").execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 8 * 4
