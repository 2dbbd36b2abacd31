"""`zcbench export DIR --to nbsuite-zero OUT/`: NAS-Bench-Suite-Zero's zc_<space>.json layout,
read back through zcbench's own reader, checked field by field against the real files, and the
refusals."""
import csv
import json
from pathlib import Path

import pytest
import yaml

from experiments.cli import main
from experiments.export import zc_files
from experiments.report import scores_frame
from search_spaces.base import get_space
from search_spaces.ground_truth import read_zc_json

from .test_nbsuite_zero import zc_json

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "nbsuite_zero_prerelease"


def nb201_run(tmp_path, seeds=(0, 1)):
    """A small NB201 run: synflow read from an NB-Suite-Zero file that is also the ground truth
    (val_accuracy), nwot, swap and params computed, reg_swap derived by the reports."""
    space = get_space("nb201", C=4, N=1)
    archs = space.sample(12, 2)
    f = zc_json(tmp_path / "zc_nasbench201.json", space, archs)
    raw = {"name": "zc", "space": "nb201", "space_options": {"C": 4, "N": 1}, "task": "cifar10",
           "data": {"source": "noise", "batch_size": 8, "size": 8},
           "ground_truth": {"path": str(f)}, "archs": {"from": "ground_truth", "n": None}, "seeds": list(seeds),
           "proxies": ["synflow", "nwot", "swap", "params", {"reg_swap": {"theta_unit": "M"}}],
           "precomputed": {"path": str(f), "proxies": ["synflow"]}}
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    out = tmp_path / "run"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    return space, archs, out, json.loads(f.read_text())["cifar10"]


def test_round_trip_through_the_reader_per_seed_and_averaged(tmp_path, capsys):
    space, archs, out, raw = nb201_run(tmp_path)
    frame = scores_frame(out)
    dest = tmp_path / "zc"
    assert main(["export", str(out), "--to", "nbsuite-zero", str(dest), "--seed", "1"]) == 0
    assert "zc_nasbench201.json" in capsys.readouterr().out
    rec = read_zc_json(dest / "zc_nasbench201.json", space, "cifar10")
    assert sorted(rec.scores) == ["nwot", "params", "reg_swap", "swap", "synflow"]
    s1 = frame[frame["seed"] == 1]
    for _, r in s1.iterrows():
        arch = space.parse(r["arch"])
        assert rec.scores[r["proxy"]][arch] == (r["value"], r["seconds"])  # JSON keeps float64 exactly
    for a in archs:
        assert rec.val_accuracy[a] == raw[space.zc_key(a)]["val_accuracy"]
        assert rec.scores["synflow"][a] == (raw[space.zc_key(a)]["synflow"]["score"],
                                            raw[space.zc_key(a)]["synflow"]["time"])
    # averaged: each score the mean of its two seeds' (the computed proxies differ by seed)
    avg = tmp_path / "avg"
    assert main(["export", str(out), "--to", "nbsuite-zero", str(avg), "--average"]) == 0
    rec = read_zc_json(avg / "zc_nasbench201.json", space, "cifar10")
    means = frame.groupby(["arch", "proxy"])["value"].mean()
    nwot = frame[frame["proxy"] == "nwot"].pivot(index="arch", columns="seed", values="value")
    assert (nwot[0] != nwot[1]).any()
    for (arch_s, proxy), v in means.items():
        # the mean of two floats, computed here and there the same way (numpy mean of the same two)
        assert rec.scores[proxy][space.parse(arch_s)][0] == pytest.approx(v, rel=1e-15)


def test_refusals(tmp_path, capsys):
    space, archs, out, raw = nb201_run(tmp_path)
    dest = tmp_path / "zc"

    def err(*args):
        assert main(["export", *map(str, args)]) == 2
        return capsys.readouterr().err

    assert "no results at" in err(tmp_path / "nothing", "--to", "nbsuite-zero", dest, "--seed", "0")
    assert "unknown export format 'naslib'; formats: nbsuite-zero" in err(out, "--to", "naslib", dest, "--seed", "0")
    assert "the store has seeds [0, 1]: choose one with --seed N, or --average" in err(out, "--to", "nbsuite-zero",
                                                                                        dest)
    assert "--seed 7: the store has seeds [0, 1]" in err(out, "--to", "nbsuite-zero", dest, "--seed", "7")
    assert main(["export", str(out), "--to", "nbsuite-zero", str(dest), "--seed", "0"]) == 0
    e = err(out, "--to", "nbsuite-zero", dest, "--seed", "0")
    assert "zc_nasbench201.json already exists; remove it, choose another folder, or add --force" in e
    assert main(["export", str(out), "--to", "nbsuite-zero", str(dest), "--seed", "1", "--force"]) == 0
    (tmp_path / "afile").write_text("")
    assert "is a file; give a folder" in err(out, "--to", "nbsuite-zero", tmp_path / "afile", "--seed", "0")


def test_a_space_outside_nbsuite_zero_is_refused(tmp_path, capsys):
    from .test_runner import darts_study

    cfg, out = darts_study(tmp_path, seeds=[0], proxies=["params"]), tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    assert main(["export", str(out), "--to", "nbsuite-zero", str(tmp_path / "zc")]) == 2
    err = capsys.readouterr().err
    assert "no column of this run is in a NAS-Bench-Suite-Zero space: its space 'darts'" in err
    assert "nothing to export" in err
    assert not (tmp_path / "zc").exists()


# ---------------------------------------------------------------- against the real files

REAL = [  # space, file, dataset (task)
    ("nb201", "zc_nasbench201.json", "cifar100"),
    ("nb301", "zc_nasbench301.json", "cifar10"),
    ("nb101", "zc_nasbench101.json", "cifar10"),
    ("tnb101_micro", "zc_transbench101_micro.json", "jigsaw"),
    ("tnb101_macro", "zc_transbench101_macro.json", "class_object"),
]


def _canonical(key: str) -> str:
    """The pre-release NB301 keys are lists of pairs, the final ones tuples: the same text
    with brackets for parentheses."""
    return key.replace("[", "(").replace("]", ")")


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"NAS-Bench-Suite-Zero's files are not at {SHARED} (they are "
                    "beside a development checkout only)")
@pytest.mark.parametrize("space_name,name,dataset", REAL)
def test_layout_field_by_field_against_the_real_files(tmp_path, space_name, name, dataset):
    """A study that reads every proxy from the real file (nothing computed) is exported; the
    exported file must be the real one's records for those architectures: the same dataset
    key, keys as NASLib writes them, the same proxy names, each a {"score", "time"} mapping
    of the same numbers, and the same val_accuracy. The known pre-release differences are
    allowed: NB301's keys were lists (final: tuples) and NB101 nested its dataset under
    "nasbench101" with bare numbers (final: {"score", "time"}, the time unknown: 0)."""
    real = json.loads((SHARED / name).read_text())
    nested = space_name == "nb101"
    table = real["nasbench101"][dataset] if nested else real[dataset]
    space = get_space(space_name)
    archs = {}
    for k in table:  # architectures that one key only names (NB101 cells can have several keys)
        archs.setdefault(space.from_zc_key(k), []).append(k)
    keys = sorted(ks[0] for ks in archs.values() if len(ks) == 1)[:4]
    proxies = sorted(p for p in table[keys[0]] if p not in ("idx", "arch", "val_accuracy"))
    gt = tmp_path / "gt.csv"
    with open(gt, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "val_accuracy"])
        w.writerows([str(space.from_zc_key(k)), table[k].get("val_accuracy", 50.0)] for k in keys)
    raw = {"name": "real", "space": space_name, "task": dataset, "data": {"source": "noise", "batch_size": 2, "size": 8},
           "ground_truth": {"path": str(gt), "format": "csv", "metric_columns": ["val_accuracy"]},
           "archs": {"from": "ground_truth", "n": None}, "seeds": [0], "proxies": proxies,
           "precomputed": {"path": str(SHARED / name)}}
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    out = tmp_path / "run"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    assert main(["export", str(out), "--to", "nbsuite-zero", str(tmp_path / "zc")]) == 0
    assert sorted(p.name for p in (tmp_path / "zc").iterdir()) == [name] and zc_files()[space_name] == name
    mine = json.loads((tmp_path / "zc" / name).read_text())
    assert list(mine) == [dataset]  # the dataset at the top level, as the final files have it
    got = mine[dataset]
    # the key of each architecture: zcbench's canonical form of the file's key; for NB201 and
    # TNB101 that is the file's text itself; NB301 orders each node's two edges by input node
    # and NB101 renumbers a cell's vertices canonically, which may differ from the file's text
    # for the same architecture
    mapped = {k: space.zc_key(space.from_zc_key(k)) for k in keys}
    assert sorted(got) == sorted(mapped.values())
    if space_name in ("nb201", "tnb101_micro", "tnb101_macro"):
        assert all(mapped[k] == k for k in keys)
    for k in keys:
        assert space.from_zc_key(mapped[k]) == space.from_zc_key(_canonical(k))
        want, have = table[k], got[mapped[k]]
        assert sorted(have) == sorted(proxies + (["val_accuracy"] if "val_accuracy" in want else []))
        for p in proxies:
            assert sorted(have[p]) == ["score", "time"]
            assert all(isinstance(v, float) for v in have[p].values())
            if nested:  # a bare number in the pre-release NB101 file
                assert have[p] == {"score": float(want[p]), "time": 0.0}
            else:
                assert have[p] == {"score": want[p]["score"], "time": want[p]["time"]}
        if "val_accuracy" in want:
            assert have["val_accuracy"] == want["val_accuracy"]
    # and zcbench's reader reads both the same
    a = read_zc_json(tmp_path / "zc" / name, space, dataset)
    b = read_zc_json(SHARED / name, space, dataset)
    archs = [space.from_zc_key(k) for k in keys]
    for p in proxies:
        assert {x: a.scores[p][x][0] for x in archs} == {x: b.scores[p][x][0] for x in archs}
