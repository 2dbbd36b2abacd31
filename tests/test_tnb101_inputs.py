"""TransNAS-Bench-101 task inputs and targets: jigsaw tiles, resized inputs, synthetic and
``.npy`` targets, and targets read from Taskonomy's own files beside the images (the networks,
strings and ground truth are tested in tests/test_tnb101.py)."""
import json
import sqlite3
import warnings

import numpy as np
import pytest
import torch
import yaml

import zc_proxies
from search_spaces import get_space
from search_spaces.base import seeded_build
from search_spaces.data import DataError, DataNotFoundError
from tests.test_tnb101 import SMALL, quiet_batch


@pytest.fixture(scope="module")
def micro():
    return get_space("tnb101_micro")


@pytest.fixture(scope="module")
def small_micro():
    return get_space("tnb101_micro", **SMALL)

# ----------------------------------------------------------------------------- inputs and targets


def test_jigsaw_tiles_are_permuted_crops(micro):
    space = get_space("tnb101_micro", jigsaw_offsets="center")
    image, unit, tile = space.jigsaw_geometry
    assert (image, unit, tile) == (255, 85, 64)
    x = torch.rand(3, 3, 255, 255)
    tiles, labels = quiet_batch(space, "jigsaw", x)
    assert tuple(tiles.shape) == (3, 9, 3, 64, 64) and labels.dtype == torch.int64
    assert 0 <= int(labels.min()) and int(labels.max()) < 1000
    perms = space.permutations()
    assert tuple(perms.shape) == (1000, 9) and len({tuple(p) for p in perms.tolist()}) == 1000
    crop = round(0.9 * 255)
    top = (255 - crop) // 2
    img = torch.nn.functional.interpolate(x[:, :, top:top + crop, top:top + crop], size=(255, 255),
                                          mode="bilinear", align_corners=False)
    off = (85 - 64) // 2
    for b in range(3):
        perm = perms[labels[b]]
        for i in range(9):
            r, c = divmod(int(perm[i]), 3)
            assert torch.allclose(tiles[b, i], img[b, :, r * 85 + off: r * 85 + off + 64, c * 85 + off: c * 85 + off + 64])
    t2, l2 = quiet_batch(micro, "jigsaw", x, seed=1)  # random offsets, another seed
    assert torch.equal(quiet_batch(micro, "jigsaw", x, seed=1)[0], t2)
    assert not torch.equal(l2, labels) or not torch.equal(t2, tiles)


def test_jigsaw_encoder_runs_on_each_tile(small_micro):
    tiles, _ = quiet_batch(small_micro, "jigsaw", torch.randn(2, 3, 32, 32))
    assert tuple(tiles.shape) == (2, 9, 3, 8, 8)
    net = small_micro.build("64-41414-3_33_333", "jigsaw")
    calls = []
    net.encoder.stem.register_forward_hook(lambda m, i, o: calls.append(tuple(i[0].shape)))
    net(tiles)
    assert calls == [(2, 3, 8, 8)] * 9
    with pytest.raises(ValueError, match="5-D batch of 9 tiles"):
        net(torch.randn(2, 3, 8, 8))


def test_jigsaw_permutation_file(tmp_path):
    rng = np.random.default_rng(0)
    perms = np.stack([rng.permutation(9) + 1 for _ in range(30)])  # 1-based, as some files are
    f = tmp_path / "permutations_hamming_max_30.npy"
    np.save(f, perms)
    space = get_space("tnb101_micro", input_size=32, jigsaw_permutations=str(f))
    assert torch.equal(space.permutations(), torch.from_numpy(perms - 1))
    _, labels = quiet_batch(space, "jigsaw", torch.randn(20, 3, 32, 32))
    assert int(labels.max()) < 30
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 9), dtype=np.int64))
    with pytest.raises(DataError, match="not a permutation of 0..8"):
        get_space("tnb101_micro", jigsaw_permutations=str(bad)).permutations()
    with pytest.raises(DataNotFoundError, match="permutations_hamming_max_1000.npy"):
        get_space("tnb101_micro", jigsaw_permutations=str(tmp_path / "none.npy")).permutations()


def test_inputs_resized_and_autoencoder_target_is_the_input(small_micro):
    x = torch.randn(3, 3, 40, 48)
    inp, tgt = quiet_batch(small_micro, "autoencoder", x)
    assert tuple(inp.shape) == (3, 3, 32, 32) and torch.equal(inp, tgt)
    with pytest.raises(ValueError, match="RGB images"):
        small_micro.task_batch("autoencoder", torch.randn(3, 1, 32, 32), torch.zeros(3), 0)


@pytest.mark.parametrize("task,shape,dtype", [
    ("class_scene", (5, 63), torch.float32), ("class_object", (5, 100), torch.float32),
    ("room_layout", (5, 9), torch.float32), ("segmentsemantic", (5, 32, 32), torch.int64),
    ("normal", (5, 3, 32, 32), torch.float32),
])
def test_synthetic_targets_warn_and_are_seeded(small_micro, task, shape, dtype):
    x = torch.randn(5, 3, 32, 32)
    with pytest.warns(UserWarning, match=f"task '{task}'.*synthetic.*targets_path to a folder holding {task}.npy"):
        _, y = small_micro.task_batch(task, x, torch.zeros(5, dtype=torch.long), 3)
    assert tuple(y.shape) == shape and y.dtype == dtype
    assert torch.equal(quiet_batch(small_micro, task, x, seed=3)[1], y)
    assert not torch.equal(quiet_batch(small_micro, task, x, seed=4)[1], y)
    if task.startswith("class"):
        assert torch.allclose(y.sum(1), torch.ones(5)) and float(y.min()) >= 0
    if task == "segmentsemantic":
        assert 0 <= int(y.min()) and int(y.max()) < 17


def test_real_targets_from_targets_path(tmp_path):
    rng = np.random.default_rng(1)
    soft = rng.dirichlet(np.ones(63), size=6).astype(np.float32)
    np.save(tmp_path / "class_scene.npy", soft)
    seg = rng.integers(0, 17, size=(6, 64, 64))
    np.save(tmp_path / "segmentsemantic.npy", seg)
    np.save(tmp_path / "normal.npy", rng.integers(0, 256, size=(6, 64, 64, 3), dtype=np.uint8))
    np.save(tmp_path / "room_layout.npy", rng.normal(size=(3, 9)))
    space = get_space("tnb101_micro", **SMALL, targets_path=str(tmp_path))
    x = torch.randn(4, 3, 32, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # real targets: no synthetic-target warning
        _, y = space.task_batch("class_scene", x, torch.zeros(4), 0)
        assert torch.allclose(y, torch.from_numpy(soft[:4]))
        _, s = space.task_batch("segmentsemantic", x, torch.zeros(4), 0)
        assert tuple(s.shape) == (4, 32, 32) and torch.equal(s, torch.from_numpy(seg[:4, ::2, ::2]))
        _, nm = space.task_batch("normal", x, torch.zeros(4), 0)
        assert tuple(nm.shape) == (4, 3, 32, 32) and 0 <= float(nm.min()) and float(nm.max()) <= 1
    with pytest.raises(DataError, match="holds 3 entries, fewer than the batch of 4"):
        space.task_batch("room_layout", x, torch.zeros(4), 0)
    with pytest.raises(DataNotFoundError, match="class_object.npy.*soft-label distributions.*taskonomy"):
        space.task_batch("class_object", x, torch.zeros(4), 0)
    np.save(tmp_path / "class_scene.npy", soft[:, :10])
    with pytest.raises(DataError, match=r"shape \(6, 10\).*\(M, 63\)"):
        space.task_batch("class_scene", x, torch.zeros(4), 0)


def test_inputs_from_a_folder_of_rgb_images(tmp_path, small_micro):
    from PIL import Image

    from search_spaces.data import load_batch

    rng = np.random.default_rng(0)
    for k in range(5):
        Image.fromarray(rng.integers(0, 256, size=(48, 40, 3), dtype=np.uint8)).save(tmp_path / f"point_{k}_rgb.png")
    x, y = load_batch("image-folder", 4, path=str(tmp_path), size=64)
    for task in ("jigsaw", "autoencoder", "class_scene"):
        inp, tgt = quiet_batch(small_micro, task, x, y)
        net = seeded_build(small_micro, small_micro.parse("64-41414-3_33_333"), task, 0)
        assert torch.isfinite(zc_proxies.losses.get_loss(small_micro.task(task).loss)(net(inp), tgt))


# ----------------------------------------------------------------------------- Taskonomy's own files


def taskonomy_fixture(root, n=4, size=32, seg_size=64):
    """A tiny Taskonomy building in TNB's layout: ``<root>/<domain>/point_<p>_view_<v>_domain_<domain>.<ext>``;
    returns {stem: {domain: raw value}} and TNB's 0/1 class masks (written to ``root.parent``)."""
    from PIL import Image

    rng = np.random.default_rng(7)
    for d in ("rgb", "class_object", "class_scene", "room_layout", "segmentsemantic", "normal"):
        (root / d).mkdir(parents=True, exist_ok=True)
    masks = {}
    for task, full, k in (("class_object", 1000, 100), ("class_scene", 365, 63)):
        m = np.zeros(full, dtype=np.float64)
        m[rng.choice(full, k, replace=False)] = 1.0
        np.save(root.parent / f"{task}_selected.npy", m)
        masks[task] = m
    raw = {}
    for k in range(n):
        stem = f"point_{3 * k + 1}_view_{k % 2}"
        v = raw[stem] = {
            "rgb": rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8),
            "class_object": rng.dirichlet(np.ones(1000)).astype(np.float32),
            "class_scene": rng.dirichlet(np.ones(365)).astype(np.float32),
            "room_layout": rng.normal(size=9),
            "segmentsemantic": rng.integers(0, 18, size=(seg_size, seg_size), dtype=np.uint8),
            "normal": rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8),
        }
        for d in ("rgb", "segmentsemantic", "normal"):
            Image.fromarray(v[d]).save(root / d / f"{stem}_domain_{d}.png")
        for d in ("class_object", "class_scene", "room_layout"):
            np.save(root / d / f"{stem}_domain_{d}.npy", v[d])
    return raw, masks


def tnb_expected(task, v, masks):
    """TNB's preprocessing (lib/data/load_ops.py) of one fixture entry, at input_size 32."""
    if task in ("class_object", "class_scene"):
        kept = v[task][masks[task].astype(bool)].astype(np.float64)
        return torch.from_numpy((kept / kept.sum()).astype(np.float32))
    if task == "room_layout":
        return torch.from_numpy(v[task].astype(np.float32))
    if task == "segmentsemantic":
        lab = v[task].astype(np.int64)
        lab[lab == 0] = 1
        return torch.from_numpy((lab - 1)[1::2, 1::2])  # 64 -> 32, nearest (pixel centres, as PIL)
    return torch.from_numpy(v[task].transpose(2, 0, 1).astype(np.float32) / 255.0)


def taskonomy_space(tmp_path, **kw):
    return get_space("tnb101_micro", **SMALL, class_object_selection=str(tmp_path / "class_object_selected.npy"),
                     class_scene_selection=str(tmp_path / "class_scene_selected.npy"), **kw)


def test_taskonomy_targets_beside_the_images(tmp_path):
    from search_spaces.data import load_batch

    root = tmp_path / "building"
    raw, masks = taskonomy_fixture(root)
    space = taskonomy_space(tmp_path)
    x, y, files = load_batch("image-folder", 3, path=str(root / "rgb"), pick="random", seed=1, with_files=True)
    assert len(files) == 3 and all(f.parent == root / "rgb" for f in files)
    for i, f in enumerate(files):  # files are in batch order
        assert torch.allclose(x[i], load_batch("image-folder", 4, path=str(root / "rgb"))[0][sorted(
            p.name for p in (root / "rgb").iterdir()).index(f.name)])
    for task in ("class_object", "class_scene", "room_layout", "segmentsemantic", "normal"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no synthetic-target warning
            inp, tgt = space.task_batch(task, x, y, 0, files=files)
        want = torch.stack([tnb_expected(task, raw[f.name.replace("_domain_rgb.png", "")], masks) for f in files])
        assert tgt.dtype == want.dtype and tgt.shape == want.shape, task
        assert torch.allclose(tgt, want, atol=1e-6) if tgt.is_floating_point() else torch.equal(tgt, want), task
        net = seeded_build(space, space.parse("64-41414-3_33_333"), task, 0)
        assert torch.isfinite(zc_proxies.losses.get_loss(space.task(task).loss)(net(inp), tgt))
    assert tuple(space.task_batch("class_object", x, y, 0, files=files)[1].shape) == (3, 100)
    assert torch.allclose(space.task_batch("class_scene", x, y, 0, files=files)[1].sum(1), torch.ones(3))


def test_taskonomy_root_from_targets_path_and_preselected_classes(tmp_path):
    from search_spaces.data import load_batch

    raw, masks = taskonomy_fixture(tmp_path / "data" / "b")
    imgs = tmp_path / "imgs" / "rgb"  # the images elsewhere, no domain folders beside them
    imgs.mkdir(parents=True)
    for f in (tmp_path / "data" / "b" / "rgb").iterdir():
        (imgs / f.name).write_bytes(f.read_bytes())
    for stem, v in raw.items():  # vectors already restricted to TNB's classes are used as they are
        v["class_scene"] = np.random.default_rng(0).dirichlet(np.ones(63)).astype(np.float32)
        np.save(tmp_path / "data" / "b" / "class_scene" / f"{stem}_domain_class_scene.npy", v["class_scene"])
    x, y, files = load_batch("image-folder", 4, path=str(imgs), with_files=True)
    space = get_space("tnb101_micro", **SMALL, targets_path=str(tmp_path / "data" / "b"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, tgt = space.task_batch("class_scene", x, y, 0, files=files)
        _, lay = space.task_batch("room_layout", x, y, 0, files=files)
    stems = [f.name.replace("_domain_rgb.png", "") for f in files]
    assert torch.equal(tgt, torch.from_numpy(np.stack([raw[s]["class_scene"] for s in stems])))
    assert torch.allclose(lay, torch.stack([tnb_expected("room_layout", raw[s], masks) for s in stems]))
    with pytest.raises(DataError, match="1000 class probabilities.*class_object_selected.npy: "
                                        "set space_options.class_object_selection"):
        space.task_batch("class_object", x, y, 0, files=files)
    # no Taskonomy root: without targets_path and without domain folders beside rgb/, synthetic + warning
    with pytest.warns(UserWarning, match="synthetic"):
        get_space("tnb101_micro", **SMALL).task_batch("normal", x, y, 0, files=files)


def test_taskonomy_missing_or_bad_files_are_clear_errors(tmp_path):
    from search_spaces.data import load_batch

    root = tmp_path / "building"
    raw, _ = taskonomy_fixture(root)
    x, y, files = load_batch("image-folder", 4, path=str(root / "rgb"), with_files=True)
    space = taskonomy_space(tmp_path)
    gone = root / "normal" / f"{files[2].name.replace('_rgb.png', '_normal.png')}"
    gone.unlink()
    with pytest.raises(DataNotFoundError, match=f"no Taskonomy file {gone}.*normal"):
        space.task_batch("normal", x, y, 0, files=files)
    np.save(tmp_path / "bad_mask.npy", np.ones(1000))
    with pytest.raises(DataError, match="class_object_selection .*bad_mask.npy.*1000 ones.*keeping 100 classes"):
        get_space("tnb101_micro", **SMALL, class_object_selection=str(tmp_path / "bad_mask.npy")
                  ).task_batch("class_object", x, y, 0, files=files)
    from PIL import Image

    Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(
        root / "segmentsemantic" / files[0].name.replace("_rgb.png", "_segmentsemantic.png"))
    with pytest.raises(DataError, match="3-channel image; expected a one-channel PNG"):
        space.task_batch("segmentsemantic", x, y, 0, files=files)
    np.save(root / "room_layout" / files[1].name.replace("_rgb.png", "_room_layout.npy"), np.zeros(6))
    with pytest.raises(DataError, match=r"room_layout.npy: shape \(6,\).*\(9,\) float room-layout"):
        space.task_batch("room_layout", x, y, 0, files=files)


def test_zcbench_run_reads_taskonomy_targets(tmp_path):
    from pathlib import Path

    from experiments.cli import main

    root = tmp_path / "building"
    taskonomy_fixture(root)
    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "experiments" / "configs" /
                          "tnb101_micro.yaml").read_text())
    cfg.update(space_options=SMALL, task="normal", archs={"from": "sample", "n": 2},
               data={"source": "image-folder", "path": str(root / "rgb"), "batch_size": 4, "size": 32},
               proxies=["grad_norm", "params"], ground_truth={"path": None})
    f = tmp_path / "study.yaml"
    f.write_text(yaml.safe_dump(cfg))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["run", str(f), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    assert not [w for w in caught if "synthetic" in str(w.message)]
    rows = sqlite3.connect(tmp_path / "out" / "results.sqlite").execute("SELECT proxy, status FROM scores").fetchall()
    assert len(rows) == 4 and all(st == "ok" for _, st in rows)


def test_room_layout_from_taskonomy_point_info(tmp_path):
    """Without TNB's room_layout .npy, Taskonomy's point_info json gives the 9-D vector as NASLib's
    ``point_info2room_layout`` computes it (expected values from that formula, via transforms3d)."""
    from search_spaces.data import load_batch
    from search_spaces.tnb101 import room_layout_from_point_info

    root = tmp_path / "building"
    taskonomy_fixture(root, n=2)
    for f in (root / "room_layout").iterdir():
        f.unlink()
    (root / "room_layout").rmdir()
    (root / "point_info").mkdir()
    view = {"camera_location": [1.5, -0.25, 1.25], "camera_rotation_final": [1.2, 0.1, 2.5],
            "bounding_box_ranges": {"x": [-2.0, 3.0], "y": [-1.0, 2.5], "z": [-0.5, 2.0]}, "point_uuid": "x"}
    want = [1.5083495005633618, -0.9147595246194208, 1.876332055665303, -1.8696042653016287, 6.470669081004069,
            -1.516912334871571, 0.0668905020832967, -0.09901242307543706, -0.1338246971678447]
    x, y, files = load_batch("image-folder", 2, path=str(root / "rgb"), with_files=True)
    for f in files:
        (root / "point_info" / f.name.replace("_rgb.png", "_point_info.json")).write_text(json.dumps(view))
    p = root / "point_info" / files[0].name.replace("_rgb.png", "_point_info.json")
    assert np.allclose(room_layout_from_point_info(p), want, atol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, tgt = get_space("tnb101_micro", **SMALL).task_batch("room_layout", x, y, 0, files=files)
    assert torch.allclose(tgt, torch.tensor([want, want], dtype=torch.float32))
    p.write_text(json.dumps({"camera_location": [0, 0, 0]}))
    with pytest.raises(DataError, match="point_info.json: not readable as Taskonomy's point_info json"):
        get_space("tnb101_micro", **SMALL).task_batch("room_layout", x, y, 0, files=files)
    p.unlink()
    with pytest.raises(DataNotFoundError, match="no Taskonomy file .*room_layout.npy or .*point_info.json"):
        get_space("tnb101_micro", **SMALL).task_batch("room_layout", x, y, 0, files=files)
