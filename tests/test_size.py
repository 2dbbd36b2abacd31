"""params and flops: NB-Suite-Zero's (tensorwatch's) counting rules, the shape-only pass against
a real forward on every space, and the other conventions as options."""
import warnings

import pytest
import torch
from torch import nn

import zc_proxies
from search_spaces.base import get_space, list_spaces, seeded_build
from zc_proxies.size import count_params, model_stats


def by_hand_net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(3, 1, 1),
        nn.MaxPool2d(2, 2), nn.BatchNorm2d(4, affine=False), nn.Dropout(0.1), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(4, 5),
    )


def score(net, x, proxy, **opts):
    r = zc_proxies.score(zc_proxies.Probe(net, x, torch.zeros(len(x), dtype=torch.long)), {proxy: (proxy, opts)})[proxy]
    assert r.status == "ok", r.message
    return r.value


def test_tensorwatch_rules_by_hand():
    """One 3 x 8 x 8 sample: conv 3·3·3·4·64 multiply-adds + 4·64 bias, BN 2·256, ReLU 256, avg
    pool 3x3 9·256, max pool 2x2 4·64, BN without affine 64, global pool C(H+1)(W+1) = 4·25,
    Linear 4·5; dropout and flatten 0."""
    net, x = by_hand_net(), torch.randn(6, 3, 8, 8)
    st = model_stats(net, x)
    assert st.flops == 6912 + 256 + 512 + 256 + 2304 + 256 + 64 + 100 + 20
    assert st.params == count_params(net) == 112 + 8 + 25
    assert score(net, x, "flops") == st.flops / 1e6 and score(net, x, "params") == st.params / 1e6
    assert model_stats(net, x, shape_only=False) == st


def test_torch_counter_option():
    net, x = by_hand_net(), torch.randn(6, 3, 8, 8)
    # torch.utils.flop_counter: 2 per multiply-add of the conv and the linear layer only
    assert score(net, x, "flops", counter="torch") == 2 * (6912 + 20) / 1e6
    with pytest.raises(ValueError, match="flops counter must be one of"):
        zc_proxies.get_proxy("flops").fn(zc_proxies.Probe(net, x), counter="tensorwatch")
    assert zc_proxies.get_proxy("flops").defaults == zc_proxies.get_proxy("params").defaults == {"counter": "naslib"}


def test_network_is_left_as_it_was():
    net, x = by_hand_net().train(), torch.randn(6, 3, 8, 8)
    net[2].eval()
    before = [m.training for m in net.modules()]
    state = {k: v.clone() for k, v in net.state_dict().items()}
    model_stats(net, x)
    assert [m.training for m in net.modules()] == before
    assert all("forward" not in m.__dict__ for m in net.modules())  # the shape-only forwards are gone
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())  # BN statistics untouched


def _inputs(space, task, n=2):
    info = space.task(task)
    size = space.small_input_size or info.input_shape[1]
    x = torch.randn(n, info.input_shape[0], size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return space.task_batch(task, x, torch.zeros(n, dtype=torch.long), 0)[0]


@pytest.mark.parametrize("name", list_spaces())
def test_shape_only_pass_equals_a_real_forward(name):
    """The shape-only pass returns the counts of a real forward pass on every space and task."""
    space = get_space(name, **get_space(name).small_options)
    for task in list(space.tasks):
        arch = space.sample(1, 1)[0]
        net = seeded_build(space, arch, task, 0)
        x = _inputs(space, task)
        fast = model_stats(net, x)
        assert fast == model_stats(net, x, shape_only=False), (name, task, str(arch))
        assert fast.flops > 0 and fast.params > 0


def test_modules_that_never_run_or_run_often():
    """tensorwatch keeps a module's last call: TNB101's jigsaw encoder, run on 9 tiles, counts
    once; the autoencoder's discriminator never runs and counts no parameter (counter: all does)."""
    space = get_space("tnb101_micro", **get_space("tnb101_micro").small_options)
    arch = space.sample(1, 2)[0]
    gan = seeded_build(space, arch, "autoencoder", 0)
    x = _inputs(space, "autoencoder")
    disc = sum(p.numel() for p in gan.discriminator.parameters())
    assert disc > 0 and model_stats(gan, x).params == count_params(gan) - disc
    assert score(gan, x, "params", counter="all") == count_params(gan) / 1e6
    jig = seeded_build(space, arch, "jigsaw", 0)
    tiles = _inputs(space, "jigsaw")
    one_tile = model_stats(jig.encoder, tiles[:, 0])
    with torch.no_grad():
        feat = jig.encoder.eval()(tiles[:1, 0]).shape
    head = model_stats(jig.decoder, torch.empty(1, 9 * feat[1], *feat[2:]))
    assert model_stats(jig, tiles).flops == one_tile.flops + head.flops
