"""NAS-Bench-101 ground truth: NASLib's ``nasbench_only108.pkl`` (repeats, corrupt and hostile
files), NAS-Bench-Suite-Zero's ``zc_nasbench101.json``, and the study config that reads them.
The test vectors (NASLib's records) are those of tests/test_nb101.py, which tests the space."""
import json
import math
import pickle
import random

import numpy as np
import pytest

from search_spaces.base import get_space
from search_spaces.ground_truth import (FORMATS, GroundTruthError, GroundTruthNotFoundError, read_ground_truth,
                                        read_zc_json)
from search_spaces.nb101 import NB101Arch, NB101Space
from tests.test_nb101 import C3, CHAIN, FIXED_ARCH, MP, NASLIB_RAW_KEY, NASLIB_RECORDS, I, O, relabel


@pytest.fixture(scope="module")
def space():
    return NB101Space()


@pytest.fixture(scope="module")
def raw_space():
    return NB101Space(canonical_order=False)


# ----------------------------------------------------------------------------- nasbench_only108.pkl


def _runs(vals):
    return [{"halfway_training_time": 500.0 + k, "halfway_train_accuracy": 0.8, "halfway_validation_accuracy": 0.7,
             "halfway_test_accuracy": 0.7, "final_training_time": 1000.0 + k, "final_train_accuracy": 1.0,
             "final_validation_accuracy": v, "final_test_accuracy": v - 0.01} for k, v in enumerate(vals)]


VALS = {key: (0.90 + 0.01 * k, 0.91 + 0.01 * k, 0.95 + 0.01 * k) for k, (key, *_rest) in enumerate(NASLIB_RECORDS)}


def nb101_pickle_data():
    """A dict in the layout of NASLib's nasbench_only108.pkl (nb101_api.NASBench: key -> (fixed, computed))."""
    data = {}
    for key, matrix, ops, params in NASLIB_RECORDS:
        fixed = {"module_adjacency": np.array(matrix, dtype=np.int64), "module_operations": list(ops),
                 "trainable_parameters": params}
        data[key] = (fixed, {108: _runs(VALS[key])})
    return data


def write_pickle(path, data, old_numpy_names=False):
    if old_numpy_names:  # numpy 1.x names, as in the real file (protocol 3 writes globals as text)
        raw = pickle.dumps(data, protocol=3).replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
        assert b"numpy.core.multiarray" in raw
        path.write_bytes(raw)
    else:
        with open(path, "wb") as f:
            pickle.dump(data, f, protocol=4)
    return path


@pytest.fixture
def pkl(tmp_path):
    return write_pickle(tmp_path / "nasbench_only108.pkl", nb101_pickle_data())


def test_pickle_format_registered():
    f = FORMATS["nb101_pickle"]
    assert f.spaces == ("nb101",) and ".pkl" in f.suffixes and set(f.options) == {"repeat", "epochs"}
    assert "drive.google.com" in f.url


@pytest.mark.parametrize("old_names", [False, True])
def test_read_pickle_default_random_repeat(space, tmp_path, old_names):
    path = write_pickle(tmp_path / "nasbench_only108.pkl", nb101_pickle_data(), old_numpy_names=old_names)
    gt = read_ground_truth(path, space, "cifar10")  # format auto: the .pkl suffix
    assert gt.metrics == ["val_accuracy", "test_accuracy", "train_accuracy", "training_time", "trainable_parameters"]
    assert len(gt) == len(NASLIB_RECORDS) and gt.n_rows == len(NASLIB_RECORDS) and gt.n_duplicates == 0
    assert "repeat=random" in gt.source
    picks = []
    for key, matrix, ops, params in NASLIB_RECORDS:
        row = gt.values[NB101Arch.from_spec(matrix, ops)]
        pick = [k for k, v in enumerate(VALS[key]) if math.isclose(row["val_accuracy"], 100 * v)]
        assert len(pick) == 1
        k = pick[0]
        picks.append(k)
        assert math.isclose(row["test_accuracy"], 100 * (VALS[key][k] - 0.01))  # the same repeat
        assert row["training_time"] == 1000.0 + k and row["train_accuracy"] == 100.0
        assert row["trainable_parameters"] == params
    again = read_ground_truth(path, space, "cifar10")
    assert again.values == gt.values  # "random" is drawn from the hash: reproducible


def test_read_pickle_mean_and_index(space, pkl):
    mean = read_ground_truth(pkl, space, "cifar10", repeat="mean")
    first = read_ground_truth(pkl, space, "cifar10", format="nb101_pickle", repeat=2)
    for key, matrix, ops, _ in NASLIB_RECORDS:
        a = NB101Arch.from_spec(matrix, ops)
        assert math.isclose(mean.values[a]["val_accuracy"], 100 * sum(VALS[key]) / 3)
        assert math.isclose(first.values[a]["val_accuracy"], 100 * VALS[key][2])
        assert math.isclose(mean.values[a]["training_time"], 1001.0)


def test_pickle_joins_sampled_numbering(space, raw_space, pkl):
    """A cell given in any numbering finds its NB101 record (canonical_order=True)."""
    gt = read_ground_truth(pkl, space, "cifar10")
    table = gt.metric("val_accuracy")
    rng = random.Random(4)
    for key, matrix, ops, _ in NASLIB_RECORDS:
        other = relabel(NB101Arch(matrix, ops), rng)
        assert space.parse(str(other)) in table
    raw = read_ground_truth(pkl, raw_space, "cifar10")
    assert NB101Arch(*NASLIB_RECORDS[0][1:3]) in raw.values  # the file's own numbering


@pytest.mark.parametrize("opts,needle", [
    ({"repeat": "median"}, "ground_truth.repeat must be"),
    ({"repeat": True}, "ground_truth.repeat must be"),
    ({"repeat": 3}, "repeat 3 is out of range"),
    ({"epochs": 36}, "no results at 36 epochs (it has epochs [108])"),
    ({"epochs": "108"}, "ground_truth.epochs must be an integer"),
])
def test_read_pickle_bad_options(space, pkl, opts, needle):
    with pytest.raises(GroundTruthError) as e:
        read_ground_truth(pkl, space, "cifar10", **opts)
    assert needle in str(e.value)


def test_read_pickle_missing_file(space, tmp_path):
    with pytest.raises(GroundTruthNotFoundError) as e:
        read_ground_truth(tmp_path / "nasbench_only108.pkl", space, "cifar10")
    msg = str(e.value)
    assert "nasbench_only108.pkl" in msg and "no such file" in msg and "drive.google.com" in msg
    with pytest.raises(GroundTruthNotFoundError, match="not a file"):
        read_ground_truth(tmp_path, space, "cifar10", format="nb101_pickle")


def _corrupt(tmp_path, name, payload):
    p = tmp_path / name
    p.write_bytes(payload)
    return p


class _Evil:
    def __reduce__(self):
        import os
        return (os.getcwd, ())


@pytest.mark.parametrize("payload,needle", [
    (b"this is not a pickle at all", "not a readable NB101 pickle"),
    (pickle.dumps(nb101_pickle_data(), protocol=4)[:200], "not a readable NB101 pickle"),
    (b"", "not a readable NB101 pickle"),
    (pickle.dumps({"x": _Evil()}), "global posix.getcwd is not plain data"),
    (pickle.dumps([1, 2, 3]), "holds a list"),
    (pickle.dumps({}), "that is empty"),
    (pickle.dumps({"ff940d27cbe9ed0a639a68a9c3f87283": {"a": 1}}), "not a pair (fixed_stats, computed_stats)"),
    (pickle.dumps({"ff940d27cbe9ed0a639a68a9c3f87283": ({"trainable_parameters": 1}, {})}), "lacks module_adjacency"),
    (pickle.dumps({"0123": ({"module_adjacency": [[0, 1], [0, 0]], "module_operations": [I, O]}, {108: _runs([.9])})}),
     "first key '0123' is not the NB101 module hash"),
    (pickle.dumps({"k": ({"module_adjacency": [[0, 1], [1, 0]], "module_operations": [I, O]}, {108: []})}),
     "the cell of 'k' is not an NB101 cell: matrix[1][0] is 1"),
])
def test_read_pickle_corrupt(space, tmp_path, payload, needle):
    p = _corrupt(tmp_path, "nasbench_only108.pkl", payload)
    with pytest.raises(GroundTruthError) as e:
        read_ground_truth(p, space, "cifar10")
    msg = str(e.value)
    assert needle in msg and str(p) in msg
    if "repeat" not in needle:
        assert "drive.google.com" in msg


def test_read_pickle_bad_records(space, tmp_path):
    data = nb101_pickle_data()
    key = NASLIB_RECORDS[1][0]
    data[key][1][108][1]["final_validation_accuracy"] = float("nan")
    p = write_pickle(tmp_path / "bad.pkl", data)
    with pytest.raises(GroundTruthError, match=f"repeat 1 of '{key}' at 108 epochs has no finite"):
        read_ground_truth(p, space, "cifar10")
    with pytest.raises(GroundTruthError, match="cifar10 only"):
        read_ground_truth(write_pickle(tmp_path / "ok.pkl", nb101_pickle_data()), space, "cifar100")


# ----------------------------------------------------------------------------- zc_nasbench101.json


def zc_json(path, archs_keys):
    proxies = ("epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm", "nwot", "params", "plain",
               "snip", "synflow", "zen")
    table = {}
    for k, (key, acc) in enumerate(archs_keys):
        rec = {p: {"score": float(k + j), "time": 0.01} for j, p in enumerate(proxies)}
        rec["val_accuracy"] = acc
        table[key] = rec
    path.write_text(json.dumps({"cifar10": table}))
    return path


def test_nbsuite_zero_json_through_zc_keys(space, tmp_path):
    chain = NB101Arch(((0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1), (0, 0, 0, 0)), (I, C3, MP, O))
    rec0 = NB101Arch.from_spec(*NASLIB_RECORDS[0][1:3])
    keys = [(NASLIB_RAW_KEY, 91.5), (str(FIXED_ARCH), 93.25), (space.zc_key(chain), 91.5)]
    path = zc_json(tmp_path / "zc_nasbench101.json", keys)
    gt = read_ground_truth(path, space, "cifar10", format="nbsuite_zero")
    assert gt.metric("val_accuracy") == {chain: 91.5, rec0: 93.25}  # the raw key and the padded one: one cell
    rec = read_zc_json(path, space, "cifar10")
    assert set(rec.scores) >= {"synflow", "nwot"} and rec.scores["fisher"][rec0] == (2.0, 0.01)


def test_nbsuite_zero_json_bad_key(space, tmp_path):
    path = zc_json(tmp_path / "zc_nasbench101.json", [("(0, 0, 0, 0, 0, 1)", 90.0)])
    with pytest.raises(GroundTruthError) as e:
        read_ground_truth(path, space, "cifar10", format="nbsuite_zero")
    assert str(path) in str(e.value) and "no path from the input" in str(e.value)


# ----------------------------------------------------------------------------- study config


CONFIG = "experiments/configs/nb101_cifar10.yaml"


def test_study_config_loads():
    from pathlib import Path

    from experiments.config import load_study
    from experiments.plan import plan_proxies

    study = load_study(Path(__file__).resolve().parents[1] / CONFIG)
    assert study.space == "nb101" and study.task == "cifar10"
    assert study.data["source"] == "cifar10" and study.data["batch_size"] == 32
    assert study.archs == {"from": "ground_truth", "n": 1000, "path": None} and study.seeds[0] == 9000
    labels = {p.label for p in study.proxies}
    assert labels >= {"swap", "reg_swap", "epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm",
                      "nwot", "params", "plain", "snip", "synflow", "zen", "zico"}
    plan_proxies(study.proxies)
    get_space(study.space, **study.space_options)


@pytest.mark.parametrize("kind", ["json", "pkl"])
def test_study_config_with_fixture_ground_truth(tmp_path, kind):
    """Setting ground_truth.path alone is enough, for either real file's format."""
    from pathlib import Path

    from experiments.config import load_study
    from experiments.inputs import load_ground_truth, study_archs

    space0 = NB101Space()
    if kind == "json":
        path = zc_json(tmp_path / "zc_nasbench101.json",
                       [(str(FIXED_ARCH), 93.0), (NASLIB_RAW_KEY, 91.0), (space0.zc_key(CHAIN), 88.0)])
    else:
        path = write_pickle(tmp_path / "nasbench_only108.pkl", nb101_pickle_data())
    study = load_study(Path(__file__).resolve().parents[1] / CONFIG, [f"ground_truth.path={path}"])
    space = get_space(study.space, **study.space_options)
    gt = load_ground_truth(study, space)
    archs = study_archs(study, space, gt, study.seeds[0])
    assert len(archs) == len(gt) == (3 if kind == "json" else len(NASLIB_RECORDS))
    assert all(isinstance(a, NB101Arch) and a in gt.values for a in archs)
    assert all(0 < v < 100 for v in gt.metric(study.ground_truth["metric"]).values())
