"""The device option: every proxy on ``device: cpu`` through the new path gives the values the
scoring path gave before it existed (tests/data/device_golden.json); torch packing equals the
plain sign matrix; device specs, their errors and the executor's round robin; CUDA checks skip
without a GPU."""
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from experiments.cli import main
from experiments.devices import DeviceError, check_device, resolve_devices
from tests.device_cases import GELU_PROXIES, GOLDEN, PROXIES, compute, gelu_probe
from tests.tolerances import SHAPE_ONLY, SIGN_FLIP_CASES, close, rel_diff, same_float32_kernels, tolerance
from zc_proxies.patterns import count_distinct, merge_labels, n_groups, pack_bits, pack_rows, sample_labels, unique_rows

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")


def proxy_of(case: str, label: str) -> str:
    """The proxy a golden label scores (labels name options: "ntk_kaiming_r2" is ntk)."""
    return (GELU_PROXIES if case == "mixed_gelu" else PROXIES)[label][0]


def mismatches(golden: dict, got: dict, same_kernels: bool = True) -> list[tuple]:
    """(case, arch, label, got, stored, relative difference, tolerance) of every value outside its
    proxy's tolerance (tests/tolerances.py); a failed or missing score is a mismatch too.
    ``same_kernels=False`` (this torch draws other initial weights or rounds its passes otherwise
    than the machine that stored the values): a network with a unit within rounding of zero is
    compared by its sizes only."""
    bad = []
    for case, nets in golden.items():
        for arch, scores in nets.items():
            for label, (value, status) in scores.items():
                if not same_kernels and (case, arch) in SIGN_FLIP_CASES and label not in SHAPE_ONLY:
                    continue
                mine, st = got.get(case, {}).get(arch, {}).get(label, (math.nan, "missing"))
                tol = tolerance(proxy_of(case, label))
                if st != status or not close(proxy_of(case, label), mine, value):
                    bad.append((case, arch, label, mine, value, rel_diff(mine, value), tol))
    return bad


@pytest.fixture(scope="module")
def golden():
    return json.loads(GOLDEN.read_text())


@pytest.fixture(scope="module")
def on_cpu():
    return compute("cpu")


def test_every_proxy_on_cpu_equals_the_values_before_the_device_option(golden, on_cpu):
    """Within each proxy's tolerance (tests/tolerances.py): the stored values were computed on
    another machine. Exact for counts and sizes."""
    same_kernels = same_float32_kernels()
    assert set(on_cpu) == set(golden)
    n = 0
    for case, nets in golden.items():
        assert set(on_cpu[case]) == set(nets), case
        for arch, scores in nets.items():
            assert set(on_cpu[case][arch]) == set(scores), (case, arch)
            for label, (value, status) in scores.items():
                assert on_cpu[case][arch][label][1] == status == "ok", (case, arch, label, on_cpu[case][arch][label])
                n += 1
    assert n == 164
    assert mismatches(golden, on_cpu, same_kernels) == []


def _nb201_probe(seed: int = 0, weight_factor: float = 1.0):
    import zc_proxies
    from search_spaces.base import get_space, seeded_build

    space = get_space("nb201", C=4, N=1)
    net = seeded_build(space, space.sample(3, 0)[0], "cifar10", 0)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 3, 16, 16, generator=g), torch.randint(0, 10, (16,), generator=g)
    with torch.no_grad():
        next(m.weight for m in net.modules() if isinstance(m, nn.Conv2d)).view(-1)[0] *= weight_factor
    return zc_proxies.Probe(net, x, y, seed=seed, num_classes=10)


def _gelu_probe(seed: int = 7, weight_factor: float = 1.0):
    import zc_proxies

    p = gelu_probe()
    with torch.no_grad():
        p.net.body[0].weight.view(-1)[0] *= weight_factor
    return zc_proxies.Probe(p.net, p.inputs, p.targets, seed=seed, num_classes=10)


#: labels whose network is re-initialised from the probe's seed (the network's own weights are
#: not read): their real change is another seed
REINIT = {"zen", "zen_batch_var", "ntk_kaiming_r2"}


@pytest.mark.parametrize("make, specs", [(_nb201_probe, PROXIES), (_gelu_probe, GELU_PROXIES)],
                         ids=["nb201", "mixed_gelu"])
def test_same_process_is_bit_for_bit_and_a_real_change_fails_the_tolerances(make, specs):
    """Twice in one process: the same scores bit for bit (the promise that holds exactly). And
    the tolerances are not so loose that a real change passes: one weight of the first
    convolution doubled (or, where the network is re-initialised, another seed) moves every float
    score outside its tolerance, by 20 to 10^13 times it (zico and lswag, which amplify rounding
    most, by 2 to 5 times); counts are exact, so any change fails them."""
    import zc_proxies

    clean = zc_proxies.score(make(), specs)
    again = zc_proxies.score(make(), specs)
    assert {k: (r.value, r.status) for k, r in again.items()} == {k: (r.value, r.status) for k, r in clean.items()}
    weight = zc_proxies.score(make(weight_factor=2.0), specs)
    seed = zc_proxies.score(make(seed=8), specs)
    floats = 0
    for label, (proxy, _) in specs.items():
        if tolerance(proxy) == 0:
            continue
        floats += 1
        new = (seed if label in REINIT else weight)[label].value
        assert not close(proxy, new, clean[label].value), (label, new, clean[label].value, tolerance(proxy))
    assert floats == (18 if specs is PROXIES else 4)


def test_a_value_off_by_twice_its_tolerance_is_a_mismatch(golden):
    for case, nets in golden.items():
        for arch, scores in nets.items():
            for label, (value, _) in scores.items():
                tol = tolerance(proxy_of(case, label))
                wrong = value + 1 if tol == 0 else value * (1 + 2 * tol)
                assert mismatches({case: {arch: {label: (value, "ok")}}}, {case: {arch: {label: (wrong, "ok")}}})


@pytest.mark.parametrize("S", [1, 5, 63, 64, 65, 128, 130])
def test_torch_packing_counts_equal_the_plain_sign_matrix(S):
    g = torch.Generator().manual_seed(S)
    for trial in range(5):
        v = [1, 3, 200, 777][trial % 4]
        bits = torch.rand(S, v, generator=g) > [0.5, 0.9, 0.1, 0.5, 0.97][trial]
        if v > 2:
            bits[:, 1] = bits[:, 2]  # a duplicate unit
        words = pack_bits(bits)
        assert words.dtype == torch.int64 and words.shape == (v, -(-S // 64))
        assert unique_rows(words).shape[0] == torch.unique(bits.t().to(torch.int8), dim=0).shape[0]
        # sample patterns: pack_rows along the units, partition equals np.unique of the rows
        want = np.unique(bits.numpy(), axis=0).shape[0]
        assert n_groups(sample_labels(bits)) == want
        assert pack_rows(bits).shape == (S, -(-v // 64))


def test_count_distinct_merges_layers_of_different_widths_as_the_sign_matrix():
    g = torch.Generator().manual_seed(3)
    relu = torch.rand(40, 300, generator=g) > 0.5  # binary: S bits
    signs = torch.randint(-1, 2, (40, 200), generator=g)
    signs[:, :50] = relu[:, :50].to(signs.dtype)  # GELU units with the very signs of ReLU units
    tern = pack_bits(torch.cat([signs > 0, signs < 0]))  # 2S bits
    got = count_distinct([unique_rows(pack_bits(relu)), unique_rows(tern)])
    matrix = torch.cat([relu.to(torch.int64), signs], dim=1).t()
    assert got == torch.unique(matrix, dim=0).shape[0]


def test_merge_labels_refines_partitions():
    a = torch.tensor([0, 0, 1, 1, 2, 2])
    b = torch.tensor([0, 1, 0, 0, 1, 1])
    assert merge_labels(a, b).tolist() == [0, 1, 2, 2, 3, 3]
    assert n_groups(merge_labels(None, b)) == 2 and n_groups(None) == 0


def test_packed_swap_equals_reference_on_many_nb201_networks():
    from search_spaces.base import get_space, seeded_build
    from zc_proxies.probe import mix_seed, prepare_copy
    from zc_proxies.swap import collect_codes, swap_reference

    space = get_space("nb201", C=4, N=1)
    for k, arch in enumerate(space.sample(30, seed=9)):
        s = [16, 64, 70][k % 3]
        x = torch.randn(s, 3, 8, 8, generator=torch.Generator().manual_seed(k))
        net = prepare_copy(seeded_build(space, arch, "cifar10", k), reinit="gaussian", seed=mix_seed(k, 17, 0))
        codes = collect_codes(net, x)
        assert codes.swap() == swap_reference(net, x), str(arch)
        signs = []
        hs = [m.register_forward_hook(lambda m, i, o: signs.append(o.reshape(o.shape[0], -1) > 0))
              for m in net.modules() if isinstance(m, nn.ReLU)]
        with torch.no_grad():
            net(x)
        for h in hs:
            h.remove()
        assert codes.n_sample_patterns() == np.unique(torch.cat(signs, 1).numpy(), axis=0).shape[0]


def test_device_specs():
    for ok in ("auto", "cpu", "cuda", "cuda:1"):
        assert check_device(ok) == ok
    for bad in ("gpu", "cuda:x", "", None, 3, "mps"):
        with pytest.raises(DeviceError, match="auto, cpu, cuda or cuda:N"):
            check_device(bad)
    assert resolve_devices("cpu", 4) == ["cpu"]
    if not CUDA:
        assert resolve_devices("auto", 3) == ["cpu"]
        with pytest.raises(DeviceError, match="needs a CUDA GPU, but torch sees none"):
            resolve_devices("cuda:0")


def test_study_config_device_key(tmp_path):
    from experiments.config import ConfigError, parse_study

    raw = {"space": "nb201", "task": "cifar10", "proxies": ["params"]}
    assert parse_study(raw).device == "auto" and parse_study(raw).tf32 is False
    st = parse_study({**raw, "device": "cpu", "tf32": True})
    assert st.device == "cpu" and st.tf32 is True
    from experiments.plan import scoring_of

    assert scoring_of(st) == scoring_of(parse_study(raw))  # where it is scored is not what: the same scores
    with pytest.raises(ConfigError, match="device must be auto, cpu, cuda or cuda:N, not 'gpu'"):
        parse_study({**raw, "device": "gpu"})
    with pytest.raises(ConfigError, match="tf32 must be true or false"):
        parse_study({**raw, "tf32": "yes"})


@pytest.mark.skipif(CUDA, reason="checks the error on a machine without a CUDA GPU")
def test_cli_cuda_without_a_gpu_is_a_clear_error(tmp_path, capsys):
    import yaml

    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump({"space": "nb201", "space_options": {"C": 4, "N": 1}, "task": "cifar10",
                                   "data": {"source": "noise", "batch_size": 4, "size": 8},
                                   "archs": {"n": 2}, "proxies": ["params"]}))
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "zcbench: error: device 'cuda' needs a CUDA GPU, but torch sees none" in err
    assert "use --device cpu" in err
    assert not (tmp_path / "o" / "results.sqlite").exists()
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress", "--device", "gpu0"]) == 2
    assert "device must be auto, cpu, cuda or cuda:N, not 'gpu0'" in capsys.readouterr().err


def test_run_on_cpu_records_the_device_and_workers_get_theirs(tmp_path):
    import yaml

    from experiments.store import Store

    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump({"space": "nb201", "space_options": {"C": 4, "N": 1}, "task": "cifar10",
                                   "data": {"source": "noise", "batch_size": 8, "size": 8},
                                   "archs": {"n": 6}, "proxies": ["swap", "nwot", "params"]}))
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["run", str(cfg), "--out", str(one), "--no-progress", "--device", "cpu"]) == 0
    assert main(["run", str(cfg), "--out", str(two), "--no-progress", "--device", "auto", "--workers", "2"]) == 0
    with Store(one / "results.sqlite", write=False) as a, Store(two / "results.sqlite", write=False) as b:
        assert a.get_meta("devices") == ["cpu"]
        va = sorted((r.arch, r.proxy, r.value) for r in a.rows())
        vb = sorted((r.arch, r.proxy, r.value) for r in b.rows())
    assert va == vb and len(va) == 18


def _where(_):
    from experiments.executors import worker_device

    return worker_device()


def test_pool_deals_devices_round_robin():
    from experiments.executors import make_executor

    with make_executor(3, devices=["cpu", "meta", "cpu"]) as ex:  # any device names: none is used
        got = [d for _, d in ex.map(_where, list(range(30)))]
    assert set(got) <= {"cpu", "meta"} and "cpu" in got
    with make_executor(1, devices=["cpu"]) as ex:
        assert [d for _, d in ex.map(_where, [0])] == ["cpu"]


def test_random_draws_are_made_on_the_cpu_and_copied():
    from zc_proxies.probe import draw_normal, fill_from_cpu_

    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    assert torch.equal(draw_normal((3, 5), g1, "cpu"), torch.randn(3, 5, generator=g2))
    t = torch.empty(4, 4, device="meta")  # another device: filled from a CPU tensor
    assert fill_from_cpu_(t, lambda u: u.normal_(generator=torch.Generator().manual_seed(0))).device.type == "meta"


@needs_cuda
def test_every_proxy_on_cuda_close_to_cpu(golden):
    on_gpu = compute("cuda")
    for case, nets in golden.items():
        for arch, scores in nets.items():
            for label, (value, _) in scores.items():
                got = on_gpu[case][arch][label][0]
                assert got == pytest.approx(value, rel=1e-3, abs=1e-6), (case, arch, label)


@needs_cuda
def test_cuda_packing_equals_cpu():
    g = torch.Generator().manual_seed(0)
    bits = torch.rand(70, 5000, generator=g) > 0.5
    assert unique_rows(pack_bits(bits.cuda())).shape[0] == unique_rows(pack_bits(bits)).shape[0]
    assert n_groups(sample_labels(bits.cuda())) == n_groups(sample_labels(bits))
    assert torch.equal(pack_rows(bits.cuda()).cpu(), pack_rows(bits))


def test_ntk_batched_backward_equals_the_per_sample_loop():
    from search_spaces.base import get_space, seeded_build
    from zc_proxies.probe import prepare_copy
    from zc_proxies.tenas import _ntk_rows_batched, ntk_matrix

    space = get_space("nb201", C=4, N=1)
    x = torch.randn(10, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    for k, arch in enumerate(space.sample(4, seed=5)):
        net = prepare_copy(seeded_build(space, arch, "cifar10", k), bn_mode="train")
        loop = ntk_matrix(net, x, batched=False)
        batched = ntk_matrix(net, x, batched=True)  # the CUDA default, NTK_BATCH_ROWS per pass
        np.testing.assert_allclose(batched, loop, rtol=1e-5, atol=1e-6 * np.abs(loop).max())
    out = net(x)  # uneven chunks: 10 rows in passes of 3
    params = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    g = torch.autograd.grad(out[7].sum(), params, allow_unused=True, retain_graph=True)
    rows = _ntk_rows_batched(out, params, 10, rows_per_pass=3)
    assert rows.shape[0] == 10
    want = torch.cat([t.reshape(-1) for t in g if t is not None])
    torch.testing.assert_close(rows[7], want, rtol=1e-5, atol=1e-6)


def test_gpu_check_self_comparison_on_cpu_is_exact(tmp_path):
    from experiments.benchmarks import gpu_check

    out = tmp_path / "gpu_check.md"
    gpu_check.main(["--device", "cpu", "--networks", "3", "--C", "8", "--N", "1", "--batch", "16", "--size", "8",
                    "--cpu-workers", "2", "--no-throughput", "--out", str(out)])
    text = out.read_text()
    rows = [l for l in text.splitlines() if l.startswith("| ") and "/3 |" in l]
    assert len(rows) == len(gpu_check.proxies()) >= 19
    assert all("| 3/3 | 0.00e+00 |" in l for l in rows), text
    assert "Within a tolerance only: none." in text


def test_throughput_table_says_no_gpu_without_one():
    from experiments.benchmarks.throughput import NBSZ_PROXIES, table, time_space

    r = time_space("nb201", {"C": 4, "N": 1}, "cpu", 1, NBSZ_PROXIES, batch_size=8, size=8)
    assert len(r["walls"]) == 1 and not r["failed"] and set(r["per"]) == set(NBSZ_PROXIES)
    lines = table({("nb201", "cpu"): r}, ["nb201"], ["cpu", "cuda"], NBSZ_PROXIES, {"cpu": 1, "cuda": 5})
    assert "| nb201 |" in lines[2] and lines[2].count("no GPU") == 3
    assert len(NBSZ_PROXIES) == 13


def test_search_config_device_key():
    from pathlib import Path

    from experiments.config import ConfigError
    from experiments.search import load_search

    cfg = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "search_nb201_fmnist.yaml"
    assert load_search(cfg).device == "auto"
    got = load_search(cfg, ["device=cpu", "tf32=true"])
    assert (got.device, got.tf32) == ("cpu", True)
    with pytest.raises(ConfigError, match="device must be auto, cpu, cuda or cuda:N, not 'cuda:a'"):
        load_search(cfg, ["device=cuda:a"])
