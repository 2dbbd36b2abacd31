"""NAS-Bench-201 ground truth from the benchmark's files: fixtures in the exact structure of
NAS-Bench-201-v1_*.pth, NATS-tss-v1_0-3ffb9(-simple), NASLib's nb201 pickles and
zc_nasbench201.json, cross-checked against the official nas_201_api / nats_bench APIs."""
from __future__ import annotations

import bz2
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from search_spaces import nb201_readers as R
from search_spaces.base import get_space
from search_spaces.ground_truth import (FORMATS, GroundTruthError, GroundTruthNotFoundError, formats_for,
                                        read_ground_truth)

CONFIGS = Path(__file__).resolve().parents[1] / "experiments" / "configs"
#: the evaluation sets each dataset's ResultsCount holds in the benchmark files
EVAL_SETS = {"cifar10-valid": ("x-valid", "ori-test"), "cifar10": ("ori-test",),
             "cifar100": ("x-valid", "x-test", "ori-test"), "ImageNet16-120": ("x-valid", "x-test", "ori-test")}
CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
SEEDS = (777, 888, 999)


@pytest.fixture(scope="module")
def nb201():
    return get_space("nb201", C=4, N=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory, nb201):
    """The fixture benchmark files, written once (tests that change a file write their own)."""
    d = tmp_path_factory.mktemp("nb201_files")
    return {"pth": write_pth(d / "NAS-Bench-201-v1_1-096897.pth", nb201),
            "nats": write_nats(d / "NATS-tss-v1_0-3ffb9-simple", nb201),
            "zc": write_zc(d / "zc_nasbench201.json", nb201)}


# ---- fixture writers (the benchmarks' exact structures) --------------------------------


def _acc(idx: int, dataset: str, setname: str, seed: int, epoch: int, epochs: int) -> float:
    """A distinct, reproducible accuracy (a rising curve) for every cell of the fixture."""
    base = 40 + 7 * idx + 2 * list(CLASSES).index(dataset) + 0.5 * len(setname) + (seed - 888) / 100
    return round(base * (0.5 + 0.5 * (epoch + 1) / epochs) + (3 if epochs == 200 else 0), 6)


def results_count(idx: int, arch: str, dataset: str, seed: int, epochs: int, *, np_scalars: bool = False) -> dict:
    """``ResultsCount.state_dict()``: the instance ``__dict__`` of one trial (one seed)."""
    f = np.float64 if np_scalars else float
    sets = EVAL_SETS[dataset]
    return {
        "name": dataset, "net_state_dict": None,
        "train_acc1es": {e: f(_acc(idx, dataset, "train", seed, e, epochs)) for e in range(epochs)},
        "train_acc5es": {e: 100.0 for e in range(epochs)},
        "train_losses": {e: f(2.0 / (e + 1)) for e in range(epochs)},
        "train_times": {e: 1.5 for e in range(epochs)},
        "arch_config": {"name": "infer.tiny", "channel": 16, "num_cells": 5, "arch_str": arch,
                        "class_num": CLASSES[dataset]},
        "params": 0.1 + idx / 10, "flop": 10.0 + idx, "seed": seed, "epochs": epochs, "latency": [0.01],
        "eval_names": list(sets),
        "eval_acc1es": {f"{s}@{e}": f(_acc(idx, dataset, s, seed, e, epochs)) for s in sets for e in range(epochs)},
        "eval_times": {f"{s}@{e}": 0.2 for s in sets for e in range(epochs)},
        "eval_losses": {f"{s}@{e}": f(1.0 / (e + 1)) for s in sets for e in range(epochs)},
    }


def arch_results(idx: int, arch: str, epochs: int, seeds: dict[str, tuple[int, ...]], **kw) -> dict:
    """``ArchResults.state_dict()``: ``all_results`` keyed by (dataset, seed)."""
    return {"arch_index": idx, "arch_str": arch,
            "all_results": {(ds, s): results_count(idx, arch, ds, s, epochs, **kw) for ds, ss in seeds.items() for s in ss},
            "dataset_seed": {ds: sorted(ss) for ds, ss in seeds.items()}, "clear_net_done": True}


def seeds_of(idx: int, epochs: int) -> dict[str, tuple[int, ...]]:
    """Arch 0 has no ImageNet16-120 run; the last arch was trained with seed 777 only; 12-epoch
    runs have one seed (as in v1_1, except cifar10-valid with two)."""
    if epochs == 12:
        out = {"cifar10-valid": (777, 888), "cifar10": (777,), "cifar100": (777,), "ImageNet16-120": (777,)}
    elif idx == 5:
        out = {ds: (777,) for ds in CLASSES}
    else:
        out = {ds: SEEDS for ds in CLASSES}
    if idx == 0:
        out.pop("ImageNet16-120")
    return out


def archs(nb201) -> list[str]:
    return [str(a) for a in nb201.sample(6, 11)]


def write_pth(path: Path, nb201, *, legacy: bool = False, np_scalars: bool = False, drop_less: bool = False) -> Path:
    """A NAS-Bench-201-v1_x .pth: {'meta_archs', 'arch2infos': {i: {'less', 'full'}}, 'evaluated_indexes'}."""
    strs = archs(nb201)
    infos = {}
    for i, a in enumerate(strs):
        npi = np_scalars and i == 2  # numpy float64 values in one architecture's results
        infos[i] = {"full": arch_results(i, a, 200, seeds_of(i, 200), np_scalars=npi)}
        if not drop_less:
            infos[i]["less"] = arch_results(i, a, 12, seeds_of(i, 12), np_scalars=npi)
    torch.save({"meta_archs": strs, "arch2infos": infos, "evaluated_indexes": set(range(len(strs)))}, path,
               _use_new_zipfile_serialization=not legacy)
    return path


def _pbz2(path: Path, obj) -> None:
    with bz2.BZ2File(path, "wb") as f:  # nats_bench.api_utils.pickle_save
        pickle.dump(obj, f, protocol=4)


def write_nats(folder: Path, nb201, *, single_file: bool = False) -> Path:
    """NATS-tss-v1_0-3ffb9-simple/ (meta.pickle.pbz2 + {i:06d}.pickle.pbz2 of {'12', '200'}) or the
    single NATS-tss-v1_0-3ffb9.pickle.pbz2; returns the path a user gives."""
    strs = archs(nb201)
    per_arch = {i: {"12": arch_results(i, a, 12, seeds_of(i, 12)), "200": arch_results(i, a, 200, seeds_of(i, 200))}
                for i, a in enumerate(strs)}
    folder.mkdir(parents=True, exist_ok=True)
    if single_file:
        p = folder / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
        _pbz2(p, {"meta_archs": strs, "arch2infos": per_arch, "evaluated_indexes": set(per_arch)})
        return p
    _pbz2(folder / "meta.pickle.pbz2", {"meta_archs": strs})
    for i, v in per_arch.items():
        _pbz2(folder / f"{i:06d}.pickle.pbz2", v)
    return folder / "meta.pickle.pbz2"


def expected(idx: int, dataset: str, setname: str, epochs: int = 200, seed: int | None = None) -> float:
    seeds = seeds_of(idx, epochs)[dataset] if seed is None else (seed,)
    return sum(_acc(idx, dataset, setname, s, epochs - 1, epochs) for s in seeds) / len(seeds)


# ---- NAS-Bench-201 .pth ----------------------------------------------------------------


def test_formats_registered_for_nb201_only():
    for name in ("nb201_pth", "nats_tss", "naslib_nb201_pickle"):
        assert FORMATS[name].spaces == ("nb201",) and FORMATS[name].url
        assert name in formats_for("nb201") and name not in formats_for("darts")
    assert "nbsuite_zero" in formats_for("nb201")


def test_pth_values_follow_nb201_splits(files, nb201):
    p = files["pth"]
    strs = archs(nb201)
    gt = read_ground_truth(p, nb201, "cifar10")  # format from the .pth suffix; cifar10 -> cifar10-valid
    assert gt.metrics == ["val_accuracy", "test_accuracy", "train_accuracy"] and len(gt) == 6
    a0 = nb201.parse(strs[0])
    assert gt.values[a0]["val_accuracy"] == pytest.approx(expected(0, "cifar10-valid", "x-valid"))
    assert gt.values[a0]["test_accuracy"] == pytest.approx(expected(0, "cifar10-valid", "ori-test"))
    assert gt.values[a0]["train_accuracy"] == pytest.approx(expected(0, "cifar10-valid", "train"))
    assert "cifar10-valid" in gt.source and "200 epochs" in gt.source
    c100 = read_ground_truth(p, nb201, "cifar100")
    assert c100.metrics == ["val_accuracy", "test_accuracy", "valtest_accuracy", "train_accuracy"]
    a3 = nb201.parse(strs[3])
    assert c100.values[a3]["test_accuracy"] == pytest.approx(expected(3, "cifar100", "x-test"))
    assert c100.values[a3]["valtest_accuracy"] == pytest.approx(expected(3, "cifar100", "ori-test"))
    inet = read_ground_truth(p, nb201, "ImageNet16-120")  # arch 0 was not trained there: left out
    assert len(inet) == 5 and a0 not in inet.values
    assert inet.values[a3]["val_accuracy"] == pytest.approx(expected(3, "ImageNet16-120", "x-valid"))


def test_pth_options(files, nb201):
    p = files["pth"]
    a1 = nb201.parse(archs(nb201)[1])
    # trained on train+valid: no validation accuracy
    gt = R.read_nb201_pth(p, nb201, "cifar10", dataset="cifar10")
    assert gt.metrics == ["test_accuracy", "train_accuracy"]
    assert gt.values[a1]["test_accuracy"] == pytest.approx(expected(1, "cifar10", "ori-test"))
    # 12 epochs ("less")
    gt = R.read_nb201_pth(p, nb201, "cifar10", epochs=12)
    assert gt.values[a1]["val_accuracy"] == pytest.approx(expected(1, "cifar10-valid", "x-valid", 12))
    # one seed: the architecture trained with 777 only is left out
    gt = R.read_nb201_pth(p, nb201, "cifar100", trials=888)
    assert len(gt) == 5 and gt.values[a1]["val_accuracy"] == pytest.approx(expected(1, "cifar100", "x-valid", seed=888))
    assert "seed 888" in gt.source
    # NASLib's QUIRK: test = val
    gt = R.read_nb201_pth(p, nb201, "cifar100", test_is_val=True)
    assert all(v["test_accuracy"] == v["val_accuracy"] for v in gt.values.values())
    # through read_ground_truth's option passing
    gt = read_ground_truth(p, nb201, "cifar100", format="nb201_pth", epochs=12, trials=777, dataset="ImageNet16-120")
    assert gt.values[a1]["val_accuracy"] == pytest.approx(expected(1, "ImageNet16-120", "x-valid", 12))


def test_pth_matches_the_official_api(files, nb201):
    api_mod = pytest.importorskip("nas_201_api")
    p = files["pth"]
    api = api_mod.NASBench201API(str(p), verbose=False)  # the real API loads the fixture
    assert len(api) == 6
    names = {"val_accuracy": "valid-accuracy", "test_accuracy": "test-accuracy", "valtest_accuracy": "valtest-accuracy"}
    for task, ds, hp in (("cifar10", "cifar10-valid", "200"), ("cifar100", "cifar100", "200"),
                         ("ImageNet16-120", "ImageNet16-120", "200"), ("cifar10", "cifar10-valid", "12")):
        gt = R.read_nb201_pth(p, nb201, task, epochs=int(hp))
        for arch, vals in gt.values.items():
            info = api.get_more_info(str(arch), ds, hp=hp, is_random=False)
            for ours, theirs in names.items():
                if ours in vals:
                    assert vals[ours] == pytest.approx(info[theirs], abs=1e-9), (task, hp, ours)
            assert vals["train_accuracy"] == pytest.approx(info["train-accuracy"], abs=1e-9)


def test_pth_legacy_format_and_numpy_scalars_load(tmp_path, nb201):
    """torch.save's pre-1.6 (non-zip) format, as 2020 files may use, and numpy float64 values."""
    p = write_pth(tmp_path / "np.pth", nb201, np_scalars=True, legacy=True)
    gt = R.read_nb201_pth(p, nb201, "cifar10")
    a2 = nb201.parse(archs(nb201)[2])
    assert gt.values[a2]["val_accuracy"] == pytest.approx(expected(2, "cifar10-valid", "x-valid"))


def test_pth_errors(tmp_path, nb201, files):
    with pytest.raises(GroundTruthNotFoundError, match=r"no such file.*D-X-Y/NAS-Bench-201"):
        R.read_nb201_pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", nb201, "cifar10")
    with pytest.raises(GroundTruthNotFoundError, match=r"no such file.*D-X-Y/NAS-Bench-201"):
        read_ground_truth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", nb201, "cifar10")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"this is not a torch file at all")
    with pytest.raises(GroundTruthError, match=r"junk.pth: not a readable torch file.*truncated.*meta_archs"):
        R.read_nb201_pth(junk, nb201, "cifar10")
    good = files["pth"]
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(GroundTruthError, match=r"cut.pth: not a readable torch file"):
        R.read_nb201_pth(cut, nb201, "cifar10")
    wrong = tmp_path / "wrong.pth"
    torch.save({"arch2infos": {}}, wrong)
    with pytest.raises(GroundTruthError, match=r"'meta_archs' is missing.*keys: \['arch2infos'\].*expected a NAS-Bench-201"):
        R.read_nb201_pth(wrong, nb201, "cifar10")
    torch.save([1, 2], wrong)
    with pytest.raises(GroundTruthError, match=r"the top level is a list, not a dict"):
        R.read_nb201_pth(wrong, nb201, "cifar10")
    noless = write_pth(tmp_path / "noless.pth", nb201, drop_less=True)
    with pytest.raises(GroundTruthError, match=r"arch2infos\[0\] has no 'less' results \(12 epochs\); it has \['full'\]"):
        R.read_nb201_pth(noless, nb201, "cifar10", epochs=12)


@pytest.mark.parametrize("legacy", [False, True])
def test_pth_plain_data_is_read_without_torch_load(tmp_path, nb201, monkeypatch, legacy):
    """Files without tensors (the NB201 .pth) are read by the fast plain-data unpickler, in both
    torch.save layouts; a file with tensors goes to torch.load(weights_only=True)."""
    p = write_pth(tmp_path / "a.pth", nb201, legacy=legacy)
    ref = torch.load(p, weights_only=False)

    def no_torch_load(*a, **k):
        raise AssertionError("torch.load called")

    monkeypatch.setattr(torch, "load", no_torch_load)
    assert R._torch_load(p) == ref
    monkeypatch.undo()
    data = dict(ref)
    rc = data["arch2infos"][1]["full"]["all_results"][("cifar100", 888)]
    rc["net_state_dict"] = {"w": torch.ones(2)}
    torch.save(data, tmp_path / "t.pth", _use_new_zipfile_serialization=not legacy)
    calls = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(k) or real_load(*a, **k))
    gt = R.read_nb201_pth(tmp_path / "t.pth", nb201, "cifar100")
    assert calls and calls[0]["weights_only"] is True and len(gt) == 6


class NotData:  # a pickled object that loading would have to import and construct
    pass


def test_pth_with_code_is_refused(tmp_path, nb201):
    p = tmp_path / "evil.pth"
    torch.save({"meta_archs": [], "arch2infos": {}, "x": NotData()}, p)
    with pytest.raises(GroundTruthError, match=r"evil.pth: torch.load\(weights_only=True\) refused it"):
        R.read_nb201_pth(p, nb201, "cifar10")


def test_missing_api_package_is_named(files, nb201, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "nas_201_api.api_utils", None)  # as if not installed
    with pytest.raises(GroundTruthError, match=r"needs the benchmark's official package 'nas_201_api': "
                                               r"pip install nas-bench-201"):
        R.read_nb201_pth(files["pth"], nb201, "cifar100", epochs=12, trials=777)
    monkeypatch.setitem(sys.modules, "nats_bench.api_utils", None)
    with pytest.raises(GroundTruthError, match=r"pip install nats_bench"):
        R.read_nats_tss(files["nats"], nb201, "cifar100", epochs=12, trials=777)


def test_bad_options_and_datasets(files, nb201):
    p = files["pth"]
    with pytest.raises(GroundTruthError, match="epochs must be 200.*or 12"):
        R.read_nb201_pth(p, nb201, "cifar10", epochs=90)
    with pytest.raises(GroundTruthError, match="trials must be 'mean'"):
        R.read_nb201_pth(p, nb201, "cifar10", trials="all")
    with pytest.raises(GroundTruthError, match="test_is_val must be true or false"):
        R.read_nb201_pth(p, nb201, "cifar10", test_is_val="yes")
    with pytest.raises(GroundTruthError, match=r"no NAS-Bench-201 dataset 'svhn' \(from ground_truth.dataset\)"):
        R.read_nb201_pth(p, nb201, "cifar10", dataset="svhn")
    with pytest.raises(GroundTruthError, match=r"no NAS-Bench-201 dataset 'fashion-mnist' \(from task"):
        R.read_nb201_pth(p, nb201, "fashion-mnist")
    with pytest.raises(GroundTruthError, match=r"no architecture has a trial with seed 123 on 'cifar10-valid'"):
        R.read_nb201_pth(p, nb201, "cifar10", trials=123)
    with pytest.raises(GroundTruthError, match="takes no option"):
        read_ground_truth(p, nb201, "cifar10", arch_column=2)


# ---- NATS-Bench topology ---------------------------------------------------------------


@pytest.mark.parametrize("layout", ["meta_file", "folder", "single_file"])
def test_nats_tss_matches_the_official_api(tmp_path, nb201, layout):
    path = write_nats(tmp_path / "NATS-tss-v1_0-3ffb9-simple", nb201, single_file=layout == "single_file")
    given = path.parent if layout == "folder" else path
    gt = R.read_nats_tss(given, nb201, "cifar100")
    assert len(gt) == 6 and gt.metrics == ["val_accuracy", "test_accuracy", "valtest_accuracy", "train_accuracy"]
    a4 = nb201.parse(archs(nb201)[4])
    assert gt.values[a4]["val_accuracy"] == pytest.approx(expected(4, "cifar100", "x-valid"))
    if layout != "folder":  # read_ground_truth takes files (format from the .pbz2 suffix)
        assert read_ground_truth(given, nb201, "cifar100").values == gt.values
    nats = pytest.importorskip("nats_bench")
    api = nats.create(str(path.parent if layout != "single_file" else path), "tss",
                      fast_mode=layout != "single_file", verbose=False)
    for task, ds in (("cifar10", "cifar10-valid"), ("ImageNet16-120", "ImageNet16-120")):
        for hp in ("200", "12"):
            ours = R.read_nats_tss(given, nb201, task, epochs=int(hp))
            for arch, vals in ours.values.items():
                info = api.get_more_info(api.query_index_by_arch(str(arch)), ds, hp=hp, is_random=False)
                assert vals["val_accuracy"] == pytest.approx(info["valid-accuracy"], abs=1e-9)
                assert vals["test_accuracy"] == pytest.approx(info["test-accuracy"], abs=1e-9)


def test_nats_errors(tmp_path, nb201):
    with pytest.raises(GroundTruthNotFoundError, match=r"no such file or folder.*D-X-Y/NATS-Bench"):
        R.read_nats_tss(tmp_path / "NATS-tss-v1_0-3ffb9-simple" / "meta.pickle.pbz2", nb201, "cifar10")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GroundTruthNotFoundError, match=r"no meta.pickle.pbz2 in it"):
        R.read_nats_tss(tmp_path / "empty", nb201, "cifar10")
    meta = write_nats(tmp_path / "s", nb201)
    (meta.parent / "000003.pickle.pbz2").unlink()
    with pytest.raises(GroundTruthNotFoundError, match=r"1 of 6 architecture files are missing, e.g. 000003.pickle.pbz2"):
        R.read_nats_tss(meta, nb201, "cifar10")
    R.clear_cache()
    _pbz2(meta.parent / "000003.pickle.pbz2", {"12": {}})
    with pytest.raises(GroundTruthError, match=r"000003.pickle.pbz2: no results for hp '200' \(200 epochs\); it has \['12'\]"):
        R.read_nats_tss(meta, nb201, "cifar10")
    R.clear_cache()
    (meta.parent / "000003.pickle.pbz2").write_bytes(pickle.dumps({"200": {}}))  # not bz2
    with pytest.raises(GroundTruthError, match=r"000003.pickle.pbz2: not a readable bz2-compressed pickle"):
        R.read_nats_tss(meta, nb201, "cifar10")
    R.clear_cache()
    _pbz2(meta.parent / "000003.pickle.pbz2", {"200": NotData()})
    with pytest.raises(GroundTruthError, match=r"not a plain-data pickle \(global .*NotData is not plain data\)"):
        R.read_nats_tss(meta, nb201, "cifar10")


# ---- NASLib's nb201 pickle -------------------------------------------------------------


def write_naslib(path: Path, nb201, dataset: str, *, tuple_keys: bool = False) -> Path:
    """{arch string: {dataset: {'eval_acc1es': [200], 'train_acc1es': [200], 'cost_info': {...}, ...}}}."""
    data = {}
    for i, a in enumerate(archs(nb201)):
        rec = {"eval_acc1es": [_acc(i, dataset, "x-valid", 888, e, 200) for e in range(200)],
               "train_acc1es": [_acc(i, dataset, "train", 888, e, 200) for e in range(200)],
               "eval_losses": [1.0] * 200, "train_losses": [1.0] * 200,
               "cost_info": {"flops": 1.0, "params": 0.1, "latency": 0.01, "train_time": 0.0}}
        key = nb201.parse(a).op_indices if tuple_keys else a
        data[key] = {dataset: rec}
    path.write_bytes(pickle.dumps(data))
    return path


@pytest.mark.parametrize("tuple_keys", [False, True])
def test_naslib_pickle_last_epoch_and_quirk(tmp_path, nb201, tuple_keys):
    p = write_naslib(tmp_path / "nb201_cifar10_full_training.pickle", nb201, "cifar10-valid", tuple_keys=tuple_keys)
    gt = read_ground_truth(p, nb201, "cifar10")  # .pickle suffix; cifar10 -> cifar10-valid
    a2 = nb201.parse(archs(nb201)[2])
    assert gt.values[a2]["val_accuracy"] == pytest.approx(_acc(2, "cifar10-valid", "x-valid", 888, 199, 200))
    assert gt.values[a2]["test_accuracy"] == gt.values[a2]["val_accuracy"]  # NASLib: VAL and TEST = eval_acc1es
    assert gt.values[a2]["train_accuracy"] == pytest.approx(_acc(2, "cifar10-valid", "train", 888, 199, 200))
    with pytest.raises(GroundTruthError, match=r"no architecture has results on 'cifar100'.*datasets in the file: \['cifar10-valid'\]"):
        read_ground_truth(p, nb201, "cifar100")
    bad = tmp_path / "bad.pickle"
    bad.write_bytes(pickle.dumps({archs(nb201)[0]: {"cifar10-valid": {"eval_acc1es": []}}}))
    with pytest.raises(GroundTruthError, match=r"eval_acc1es is list, not a non-empty list.*drive.google.com"):
        read_ground_truth(bad, nb201, "cifar10")


# ---- NAS-Bench-Suite-Zero's zc_nasbench201.json -----------------------------------------


def write_zc(path: Path, nb201) -> Path:
    """{dataset: {str(op_indices): {proxy: {score, time}, val_accuracy}}} for the three NB201 datasets."""
    out = {}
    for k, ds in enumerate(("cifar10", "cifar100", "ImageNet16-120")):
        out[ds] = {nb201.zc_key(nb201.parse(a)): {"synflow": {"score": float(i), "time": 0.1},
                                                  "val_accuracy": 50.0 + i + 10 * k}
                   for i, a in enumerate(archs(nb201))}
    path.write_text(json.dumps(out))
    return path


def test_nbsuite_zero_serves_every_nb201_task(files, nb201):
    p = files["zc"]
    a3 = nb201.parse(archs(nb201)[3])
    for k, task in enumerate(("cifar10", "cifar100", "ImageNet16-120")):
        gt = read_ground_truth(p, nb201, task)  # the json's dataset keys are the nb201 task names
        assert gt.metrics == ["val_accuracy"] and gt.values[a3]["val_accuracy"] == 53.0 + 10 * k


# ---- the shipped NB201 study configs, one path away from running ------------------------


@pytest.mark.parametrize("name,task", [("nb201_cifar10", "cifar10"), ("nb201_cifar100", "cifar100"),
                                       ("nb201_imagenet16", "ImageNet16-120")])
def test_nb201_configs_run_with_each_ground_truth_format(tmp_path, nb201, files, name, task):
    from experiments.config import load_study
    from experiments.inputs import load_ground_truth
    from experiments.pipeline import run_study
    from experiments.plan import plan_proxies

    study = load_study(CONFIGS / f"{name}.yaml")
    assert study.space == "nb201" and study.task == task and study.space_options == {"C": 16, "N": 5}
    assert study.data["batch_size"] == 32 and study.ground_truth["metric"] == "val_accuracy"
    labels = {s.label for s in study.proxies}
    assert {"swap", "reg_swap", "epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm", "nwot",
            "params", "plain", "snip", "synflow", "zen", "zico"} <= labels
    plan_proxies(study.proxies)
    for kind, f in files.items():
        s = load_study(CONFIGS / f"{name}.yaml", [f"ground_truth.path={f}"])
        gt = load_ground_truth(s, nb201)
        assert len(gt) >= 5, kind
    # a tiny end-to-end run of the config with the .pth (small nets, noise inputs, one proxy)
    small = load_study(CONFIGS / f"{name}.yaml", [f"ground_truth.path={files['pth']}", "space_options={C: 2, N: 1}",
                                                  "data={source: noise, batch_size: 4, size: 8}", "archs.n=4",
                                                  "seeds=[0]", "proxies=[params]"])
    res = run_study(small, tmp_path / "out", progress=False)
    (rec,) = res["records"]
    assert rec["proxy"] == "params" and rec["n"] == 4 and (tmp_path / "out" / "correlations.csv").is_file()
