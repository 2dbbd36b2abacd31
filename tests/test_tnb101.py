"""TransNAS-Bench-101 micro and macro spaces: strings, the 4096 / 3256 architectures, the TNB
networks and task decoders, ground truth from TNB's .pth and from NAS-Bench-Suite-Zero's json,
and the proxies that are undefined on some tasks (task inputs and targets: tests/test_tnb101_inputs.py)."""
import itertools
import json
import math
import random
import sqlite3
import warnings

import numpy as np
import pytest
import torch
import yaml
from torch import nn

import zc_proxies
from search_spaces import get_space
from search_spaces.base import ArchParseError, SPACES, seeded_build
from search_spaces.ground_truth import GroundTruthError, GroundTruthNotFoundError, read_ground_truth
from search_spaces.tnb101 import (TASK_METRIC, TASKS, MacroArch, MicroArch, macro_archs, micro_archs,
                                  num_upsample, read_tnb101_pth)

SMALL = {"base_channels": 8, "input_size": 32, "decoder_width": 64}


@pytest.fixture(scope="module")
def micro():
    return get_space("tnb101_micro")


@pytest.fixture(scope="module")
def macro():
    return get_space("tnb101_macro")


@pytest.fixture(scope="module")
def small_micro():
    return get_space("tnb101_micro", **SMALL)


@pytest.fixture(scope="module")
def small_macro():
    return get_space("tnb101_macro", **SMALL)


def quiet_batch(space, task, x, y=None, seed=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return space.task_batch(task, x, torch.zeros(x.shape[0], dtype=torch.long) if y is None else y, seed)


# ----------------------------------------------------------------------------- strings


def test_readme_examples(micro, macro):
    a = micro.parse("64-41414-1_02_333")  # node1 = skip(0); node2 = zero(0) + conv1x1(1); node3 = 3 x conv3x3
    assert a.ops == (1, 0, 2, 3, 3, 3) and a.cell_code == ("", "1", "02", "333")
    assert str(a) == "64-41414-1_02_333" and micro.parse("  64-41414-1_02_333\n") == a
    b = macro.parse("64-1234-basic")
    assert b.modules == (1, 2, 3, 4) and str(b) == "64-1234-basic"
    assert hash(b) == hash(MacroArch((1, 2, 3, 4)))


def test_every_architecture_round_trips(micro, macro):
    for space, archs in ((micro, micro_archs()), (macro, macro_archs())):
        assert len(set(archs)) == len(archs)
        for a in archs:
            assert space.parse(str(a)) == a
            assert space.from_zc_key(space.zc_key(a)) == a


def test_space_sizes_and_the_macro_rule():
    assert len(micro_archs()) == 4096 == len(set(itertools.product(range(4), repeat=6)))
    archs = macro_archs()
    assert len(archs) == 3256
    by_len = {n: sum(len(a.modules) == n for a in archs) for n in (4, 5, 6)}
    assert by_len == {4: 210, 5: 750, 6: 2296}  # (Σ_p C(L,p)) (Σ_q C(L,q)), p in 1..4, q in 1..3
    # NASLib's macro sampler (r in 0..2, p in 1..4 downsamples, q in 1..3 doublings, shuffled),
    # written out independently: every draw is in the space, and the draws reach most of it
    # (NASLib's archs_transbench101_macro.json lists exactly these 3256)
    rng = random.Random(0)
    seen = set()
    for _ in range(20000):
        r, p, q = rng.randint(0, 2), rng.randint(1, 4), rng.randint(1, 3)
        u = [2 * int(i < p) for i in range(r + 4)]
        v = [int(i < q) for i in range(r + 4)]
        rng.shuffle(u)
        rng.shuffle(v)
        seen.add(tuple(1 + a + b for a, b in zip(u, v)))
    space = {a.modules for a in archs}
    assert seen <= space and len(seen) > 0.8 * len(space)


@pytest.mark.parametrize("text,needles", [
    ("64-41414-4_33_333", ["op digit '4'", "edge a", "0..3"]),
    ("64-41414-3_33_33", ["cell code '3_33_33'", "a_bc_def"]),
    ("64-41414-3_33_3331", ["cell code"]),
    ("64-4141-3_33_333", ["macro skeleton '4141'", "41414"]),
    ("32-41414-3_33_333", ["base channel count 32", "base_channels"]),
    ("64-1234-basic", ["macro architecture", "tnb101_macro"]),
    ("", ["empty"]),
    ("3_33_333", ["not a TNB101 micro architecture"]),
])
def test_micro_parse_errors(micro, text, needles):
    with pytest.raises(ArchParseError) as e:
        micro.parse(text)
    for n in needles:
        assert n in str(e.value)


@pytest.mark.parametrize("text,needles", [
    ("64-1111-basic", ["0 stride-2 modules", "1 to 4"]),
    ("64-4444-basic", ["4 channel-doubling modules", "1 to 3"]),
    ("64-123-basic", ["3 modules", "4 to 6"]),
    ("64-1234123-basic", ["7 modules"]),
    ("64-1235-basic", ["module digit 5"]),
    ("64-12a4-basic", ["not digits"]),
    ("128-1234-basic", ["base channel count 128"]),
    ("64-41414-3_33_333", ["micro architecture", "tnb101_micro"]),
    ("64-1234-resnet", ["not a TNB101 macro architecture"]),
])
def test_macro_parse_errors(macro, text, needles):
    with pytest.raises(ArchParseError) as e:
        macro.parse(text)
    for n in needles:
        assert n in str(e.value)


def test_parse_rejects_non_strings(micro, macro):
    for space in (micro, macro):
        with pytest.raises(ArchParseError, match="must be a str"):
            space.parse(1234)


def test_arch_values_validate():
    with pytest.raises(ValueError, match="6 edges"):
        MicroArch((1, 2, 3))
    with pytest.raises(ValueError, match="not an integer 0..3"):
        MicroArch((0, 1, 2, 3, 4, 0))
    with pytest.raises(ValueError, match="stride-2"):
        MacroArch((1, 1, 2, 2))


def test_zc_keys(micro, macro):
    a = micro.parse("64-41414-3_10_233")
    assert micro.zc_key(a) == "(3, 1, 0, 2, 3, 3)"  # the TNB digits themselves
    assert micro.from_zc_key("(3, 1, 0, 2, 3, 3)") == a
    b = macro.parse("64-33233-basic")
    assert macro.zc_key(b) == "(3, 3, 2, 3, 3)"  # unpadded, as NB-Suite-Zero's keys
    assert macro.from_zc_key("(3, 3, 2, 3, 3)") == b
    assert macro.from_zc_key("(3, 3, 2, 3, 3, 0)") == b  # NASLib's sampler pads with zeros
    for space, key, needle in ((micro, "(3, 1, 0, 2, 3)", "6 edges"), (micro, "(3, 1, 0, 2, 3, 4)", "0..3"),
                               (micro, "banana", "6 TNB op digits"), (macro, "(1, 1, 1, 1)", "stride-2"),
                               (macro, "(3, 0, 2, 3, 3)", "digits must be integers 1..4|not in 1..4")):
        with pytest.raises(ArchParseError, match=needle):
            space.from_zc_key(key)


def test_sample_distinct_seeded(micro, macro):
    for space, total in ((micro, 4096), (macro, 3256)):
        a = space.sample(200, 7)
        assert len(set(a)) == 200 and a == space.sample(200, 7) and a != space.sample(200, 8)
        assert len(set(space.sample(total, 0))) == total
        for bad in (0, total + 1, 2.5, True):
            with pytest.raises(ValueError, match="can sample"):
                space.sample(bad, 0)


def test_registry_and_tasks(micro):
    assert {"tnb101_micro", "tnb101_macro"} <= set(SPACES.names())
    t = micro.tasks
    assert list(t) == list(TASKS)
    expect = {"class_scene": (63, "soft_cross_entropy", "valid_top1", "soft_label"),
              "class_object": (100, "soft_cross_entropy", "valid_top1", "soft_label"),
              "room_layout": (9, "mse", "valid_neg_loss", "vector"),
              "jigsaw": (1000, "cross_entropy", "valid_top1", "label"),
              "segmentsemantic": (17, "cross_entropy", "valid_acc", "pixel_label"),
              "normal": (3, "l1", "valid_ssim", "image"),
              "autoencoder": (3, "l1", "valid_ssim", "image")}
    for name, (k, loss, metric, target) in expect.items():
        assert (t[name].num_classes, t[name].loss, t[name].metric, t[name].target) == (k, loss, metric, target)
        assert t[name].loss in zc_proxies.losses.LOSSES
    assert t["jigsaw"].input_shape == (3, 255, 255) and t["normal"].input_shape == (3, 256, 256)
    assert get_space("tnb101_micro", input_size=64).task("jigsaw").input_shape == (3, 63, 63)


@pytest.mark.parametrize("opts,needle", [
    ({"input_size": 100}, "power of two >= 32"), ({"input_size": 16}, "power of two"),
    ({"base_channels": 7}, "even"), ({"decoder_width": 100}, "multiple of 64"),
    ({"discriminator": "yes"}, "true or false"), ({"jigsaw_offsets": "left"}, "'random' or 'center'"),
    ({"targets_path": "/no/such/folder"}, "not a folder"),
])
def test_bad_options(opts, needle):
    with pytest.raises(ValueError, match=needle):
        get_space("tnb101_micro", **opts)


# ----------------------------------------------------------------------------- networks


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_param_counts_by_hand(micro, macro):
    stem = 3 * 32 * 9 + 2 * 32 + 32 * 64 * 9 + 2 * 64  # conv + BN, ReLU-conv + BN
    head = 512 * 63 + 63
    # all-zero cells have no parameters
    assert micro.num_params(micro.parse("64-41414-0_00_000"), "class_scene") == stem + head
    # skips: FactorizedReduce (two 1x1 convs to C_out/2 + BN) on the three node-0 edges of the first
    # cell of each stride-2 module (64->128, 128->256, 256->512), Identity elsewhere
    fr = sum(3 * (2 * c * c + 2 * 2 * c) for c in (64, 128, 256))
    assert micro.num_params(micro.parse("64-41414-1_11_111"), "class_scene") == stem + fr + head

    def block(ci, co, s):
        return ci * co * 9 + 2 * co + co * co * 9 + 2 * co + ((ci * co + 2 * co) if s != 1 or ci != co else 0)
    total, c = stem, 64
    for d in (1, 2, 3, 4):  # 64-1234-basic: keep, double, stride, both
        co = 2 * c if d % 2 == 0 else c
        total += block(c, co, 2 if d > 2 else 1) + block(co, co, 1)
        c = co
    assert macro.num_params(macro.parse("64-1234-basic"), "room_layout") == total + c * 9 + 9
    assert c == 256


def test_full_size_encoder_and_jigsaw_head(micro):
    torch.manual_seed(0)
    net = micro.build("64-41414-3_33_333", "jigsaw")
    enc = net.encoder
    assert enc.out_channels == 512 and enc.feature_size(256) == 8 and enc.feature_size(64) == 2
    assert net.decoder.fc.in_features == 9 * 512 and net.decoder.fc.out_features == 1000
    # Kaiming normal, fan_out, on the encoder's convs (std sqrt(2 / fan_out)); BN weight 1, bias 0
    conv = enc.layer4[1].edges[5][1]
    assert isinstance(conv, nn.Conv2d) and conv.weight.shape == (512, 512, 3, 3)
    assert abs(conv.weight.std().item() / math.sqrt(2 / (512 * 9)) - 1) < 0.01
    assert all(bool((m.weight == 1).all() and (m.bias == 0).all()) for m in enc.modules()
               if isinstance(m, nn.BatchNorm2d))
    with torch.no_grad():
        assert tuple(enc(torch.randn(1, 3, 256, 256)).shape) == (1, 512, 8, 8)


def test_relu_modules_and_edges(micro):
    net = micro.build("64-41414-3_33_333", "class_scene")
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == 1 + 10 * 6  # stem + 6 ReLU-Conv-BN edges per cell
    z = micro.build("64-41414-0_12_300", "class_scene")
    cell = z.encoder.layer0[0]  # 64 -> 128, stride 2
    kinds = [type(e).__name__ for e in cell.edges]
    assert kinds == ["Zero", "FactorizedReduce", "ReLUConvBN", "ReLUConvBN", "Zero", "Zero"]
    assert [type(e).__name__ for e in z.encoder.layer0[1].edges][:2] == ["Zero", "Identity"]


def test_cell_sums_its_edges():
    from search_spaces.tnb101 import MicroCell

    torch.manual_seed(0)
    cell = MicroCell(MicroArch((3, 2, 3, 1, 0, 2)), 4, 4, 1).eval()
    x = torch.randn(2, 4, 6, 6)
    e = cell.edges
    n1 = e[0](x)
    n2 = e[1](x) + e[2](n1)
    n3 = x + 0 * n1 + e[5](n2)
    assert torch.allclose(cell(x), n3, atol=1e-6)


def test_decoders_follow_tnb(micro, macro):
    """Upsampling k = log2(out / features) equals TNB's int(log2(256 / (56 // 2^p))) for 256 inputs,
    and the dense outputs have the input's resolution."""
    for p in (1, 2, 3, 4):
        assert num_upsample(64 // 2 ** p, 256) == int(math.log2(256 / (56 // 2 ** p)))
    with pytest.raises(ValueError, match="power of two"):
        num_upsample(7, 256)
    net = macro.build("64-1434-basic", "segmentsemantic")  # 3 downsamples: 8 x 8 features, k = 5 as micro
    assert net.encoder.feature_size(256) == 8 and net.encoder.out_channels == 256
    layers = list(net.decoder.model)
    assert [type(m).__name__ for m in layers] == ["ConvLayer", "ConvLayer"] + ["DeconvLayer"] * 5 + ["ConvLayer"]
    assert layers[0].conv.out_channels == 1024 and layers[-1].conv.out_channels == 17 and layers[-1].norm is None
    assert sum(isinstance(m, nn.LeakyReLU) for m in net.decoder.modules()) == 7
    gan = macro.build("64-1434-basic", "autoencoder")
    dec = gan.decoder
    assert [dec.conv1.conv.out_channels, dec.conv14.conv.out_channels] == [1024, 3]
    assert isinstance(dec.conv14.activation, nn.Tanh)
    ups = [k for k in range(1, 15) if type(getattr(dec, f"conv{k}")).__name__ == "DeconvLayer"]
    assert ups == [5, 7, 9, 11, 13]  # k = 5 for micro: layers 5, 7, 9 plus the fixed 11, 13
    # QUIRK: TNB's GAN holds the unused discriminator (its parameters count; its forward never runs)
    assert n_params(gan.discriminator) == 9664 + 204928 + 819456 + 590080 + 1180160 + 2359808 + 4609
    assert n_params(get_space("tnb101_macro", discriminator=False).build("64-1434-basic", "normal")) == \
        n_params(gan) - n_params(gan.discriminator)
    # dense outputs at the input resolution, full 256 geometry with narrow channels
    narrow = get_space("tnb101_macro", base_channels=8, decoder_width=64)
    x = torch.randn(2, 3, 256, 256)
    for arch, task, c in (("64-1114-basic", "segmentsemantic", 17), ("64-333141-basic", "segmentsemantic", 17),
                          ("64-4211-basic", "normal", 3), ("64-44312-basic", "autoencoder", 3)):  # 1..4 downsamples
        with torch.no_grad():
            assert tuple(narrow.build(arch, task)(x).shape) == (2, c, 256, 256)


@pytest.mark.parametrize("name", ["small_micro", "small_macro"])
def test_every_task_runs_small(name, request):
    space = request.getfixturevalue(name)
    x = torch.randn(4, 3, 32, 32)
    for task in TASKS:
        inp, tgt = quiet_batch(space, task, x)
        net = seeded_build(space, space.sample(1, 3)[0], task, 0)
        feats = []  # NASLib's zen feature map: the global pool's input, or the dense decoder's last conv's
        net.zen_feature_module().register_forward_pre_hook(lambda m, i: feats.append(i[0].shape))
        out = net(inp)
        assert len(feats) == 1 and len(feats[0]) == 4
        info = space.task(task)
        loss = zc_proxies.losses.get_loss(info.loss)(out, tgt)
        loss.backward()
        assert torch.isfinite(loss)
        if task in ("segmentsemantic", "normal", "autoencoder"):
            assert out.shape[-2:] == (32, 32) and out.shape[1] == info.num_classes
        else:
            assert tuple(out.shape) == (4, info.num_classes)


def test_seeded_build_is_deterministic(small_micro):
    a = small_micro.parse("64-41414-3_21_302")
    n1, n2 = seeded_build(small_micro, a, "autoencoder", 5), seeded_build(small_micro, a, "autoencoder", 5)
    assert all(torch.equal(p, q) for p, q in zip(n1.state_dict().values(), n2.state_dict().values()))


# ----------------------------------------------------------------------------- ground truth

METRICS = {
    "class_scene": ["train_top1", "train_top5", "train_loss", "valid_top1", "valid_top5", "valid_loss",
                    "test_top1", "test_top5", "test_loss", "time_elapsed"],
    "room_layout": ["train_loss", "train_neg_loss", "valid_loss", "valid_neg_loss", "test_loss",
                    "test_neg_loss", "time_elapsed"],
    "segmentsemantic": ["train_loss", "train_acc", "train_mIoU", "valid_loss", "valid_acc", "valid_mIoU",
                        "test_loss", "test_acc", "test_mIoU", "time_elapsed"],
    "autoencoder": ["train_ssim", "train_l1_loss", "valid_ssim", "valid_l1_loss", "test_ssim", "test_l1_loss",
                    "time_elapsed"],
}


def tnb_pth(path, micro_archs_, macro_archs_, epochs=3, seed=0):
    """A file in TNB101's own layout (api.py: torch.save'd dict with metrics_dict, info_names,
    task_list and data[search space][arch string][task] = {metrics: {name: [per epoch]}, ...})."""
    rng = np.random.default_rng(seed)
    data = {"macro": {}, "micro": {}}
    for part, archs in (("micro", micro_archs_), ("macro", macro_archs_)):
        for a in archs:
            data[part][str(a)] = {task: {"total_epochs": epochs,
                                         "model_info": {"encoder_params": 1.0, "model_params": 2.0},
                                         "metrics": {m: [float(v) for v in rng.uniform(0, 1, epochs)] for m in ms}}
                                  for task, ms in METRICS.items()}
    db = {"metrics_dict": dict(METRICS),
          "info_names": ["inference_time", "encoder_params", "model_params", "model_FLOPs", "encoder_FLOPs"],
          "task_list": list(TASKS), "data": data}
    torch.save(db, path)
    return db


def test_tnb_pth_ground_truth(tmp_path, micro, macro):
    ma, mb = micro.sample(12, 0), macro.sample(9, 0)
    f = tmp_path / "transnas-bench_v10141024.pth"
    db = tnb_pth(f, ma, mb)
    for space, archs, part in ((micro, ma, "micro"), (macro, mb, "macro")):
        for task, metric in (("class_scene", "valid_top1"), ("room_layout", "valid_neg_loss"),
                             ("segmentsemantic", "valid_acc"), ("autoencoder", "valid_ssim")):
            assert TASK_METRIC[task] == metric
            gt = read_ground_truth(f, space, task)  # format picked from the .pth suffix
            assert gt.metrics[0] == metric and set(gt.metrics) == set(METRICS[task])
            assert set(gt.values) == set(archs)
            a = archs[2]
            series = db["data"][part][str(a)][task]["metrics"][metric]
            assert gt.metric(metric)[a] == series[-1]  # final epoch, as NASLib's query
            assert read_tnb101_pth(f, space, task, epoch="best").metric(metric)[a] == max(series)
            assert read_tnb101_pth(f, space, task, epoch=0).metric(metric)[a] == series[0]
    assert read_ground_truth(f, micro, "class_scene", format="tnb101_pth", epoch="best")


def test_tnb_pth_errors(tmp_path, micro):
    f = tmp_path / "transnas-bench_v10141024.pth"
    with pytest.raises(GroundTruthNotFoundError, match="noahlab.*transnas-bench_v10141024.pth"):
        read_ground_truth(f, micro, "class_scene")
    tnb_pth(f, micro.sample(3, 0), [])
    with pytest.raises(GroundTruthError, match="has no task 'jigsaw'; its tasks are"):
        read_ground_truth(f, micro, "jigsaw")
    with pytest.raises(GroundTruthError, match="epoch 7 is out of range"):
        read_tnb101_pth(f, micro, "class_scene", epoch=7)
    with pytest.raises(GroundTruthError, match="epoch must be"):
        read_tnb101_pth(f, micro, "class_scene", epoch="last")
    torch.save({"something": 1}, f)
    with pytest.raises(GroundTruthError, match=r"not the benchmark's dict.*metrics_dict.*Download"):
        read_ground_truth(f, micro, "class_scene")
    torch.save({"metrics_dict": METRICS, "data": {"micro": {"64-41414-9_99_999": {}}}}, f)
    with pytest.raises(GroundTruthError, match="cannot parse architecture '64-41414-9_99_999'"):
        read_ground_truth(f, micro, "class_scene")
    f.write_bytes(b"not a torch file")
    with pytest.raises(GroundTruthError, match="not a readable plain-data torch file"):
        read_ground_truth(f, micro, "class_scene")


def test_nbsuite_zero_json_keyed_by_task(tmp_path, micro, macro):
    for space, name in ((micro, "zc_transbench101_micro.json"), (macro, "zc_transbench101_macro.json")):
        archs = space.sample(15, 1)
        rng = np.random.default_rng(0)
        table = {t: {space.zc_key(a): {"synflow": {"score": float(rng.normal()), "time": 0.5},
                                       "val_accuracy": float(rng.uniform(0, 1))} for a in archs}
                 for t in ("class_scene", "autoencoder")}
        f = tmp_path / name
        f.write_text(json.dumps(table))
        gt = read_ground_truth(f, space, "autoencoder")
        assert set(gt.values) == set(archs)
        a = archs[4]
        assert gt.metric("val_accuracy")[a] == table["autoencoder"][space.zc_key(a)]["val_accuracy"]
    assert "(3, 3, 2, 3, 3)" in [macro.zc_key(macro.parse("64-33233-basic"))]


def test_study_with_tnb_ground_truth(tmp_path, micro):
    archs = micro.sample(4, 2)
    f = tmp_path / "transnas-bench_v10141024.pth"
    tnb_pth(f, archs, [])
    raw = {"name": "tnb", "space": "tnb101_micro", "space_options": SMALL, "task": "room_layout",
           "data": {"source": "noise", "batch_size": 8, "size": 32},
           "ground_truth": {"path": str(f)}, "archs": {"from": "ground_truth", "n": None}, "seeds": [0],
           "proxies": ["swap", "epe_nas", "params"]}
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    from experiments.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["run", str(cfg), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    rows = sqlite3.connect(tmp_path / "out" / "results.sqlite").execute(
        "SELECT arch, proxy, status, message FROM scores").fetchall()
    assert {r[0] for r in rows} == {str(a) for a in archs}
    assert all(st == "ok" for _, p, st, _ in rows if p != "epe_nas")
    assert all(st == "failed" and "needs one class label per sample" in m for _, p, st, m in rows if p == "epe_nas")
    assert (tmp_path / "out" / "correlations.csv").is_file()


def test_shipped_configs(tmp_path):
    from pathlib import Path

    from experiments.config import load_study

    root = Path(__file__).resolve().parents[1] / "experiments" / "configs"
    for space in ("micro", "macro"):
        st = load_study(root / f"tnb101_{space}.yaml")
        assert st.space == f"tnb101_{space}" and st.task == "class_scene" and st.data["batch_size"] == 32
        assert st.ground_truth["path"] and st.ground_truth["metric"] is None
        get_space(st.space, **st.space_options).task(st.task)


# ----------------------------------------------------------------------------- proxies on the tasks


def test_epe_nas_undefined_without_class_labels():
    from experiments.conformance import check_proxy

    rep = check_proxy("epe_nas", spaces=["tnb101_macro"], raise_on_failure=False)
    by = {c.task: c for c in rep.cases}
    assert not rep.failures
    for task in ("class_scene", "class_object"):
        assert by[task].status == "ok"  # soft labels: NASLib's argmax
    for task in ("segmentsemantic", "normal", "autoencoder", "room_layout"):
        assert by[task].status == "undefined" and "needs one class label per sample" in by[task].detail


def test_epe_nas_regression_targets_naslib_option(small_micro):
    x, y = quiet_batch(small_micro, "room_layout", torch.randn(8, 3, 32, 32))
    net = seeded_build(small_micro, small_micro.parse("64-41414-3_33_333"), "room_layout", 0)
    probe = zc_proxies.Probe(net, x, y, loss="mse")
    res = zc_proxies.score(probe, {"a": ("epe_nas", {}), "b": ("epe_nas", {"regression_targets": "argmax"})})
    assert res["a"].status == "failed" and "regression values" in res["a"].message
    assert res["b"].status == "ok"
    with pytest.raises(ValueError, match="regression_targets must be one of"):
        zc_proxies.get_proxy("epe_nas").fn(probe, bn_mode="train", n_classes=None, regression_targets="x")


class _RunsCode:
    def __reduce__(self):
        return (print, ("code from a benchmark file ran",))


def test_tnb_pth_with_code_is_refused_not_run(tmp_path, micro, capsys):
    f = tmp_path / "transnas-bench_v10141024.pth"
    torch.save({"metrics_dict": METRICS, "data": {"micro": {}}, "x": _RunsCode()}, f)
    with pytest.raises(GroundTruthError, match="not a readable plain-data torch file \\(torch's safe loader refuses"):
        read_ground_truth(f, micro, "class_scene")
    assert "ran" not in capsys.readouterr().out
