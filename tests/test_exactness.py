"""The packed SWAP equals the plain official computation (sign matrix, transpose, unique rows)
exactly, on real space networks, through the probe with the official protocol."""
import pytest
import torch

import zc_proxies
from search_spaces.base import get_space, seeded_build
from zc_proxies.probe import mix_seed, prepare_copy
from zc_proxies.swap import swap_reference


def check(space, archs, x, task="cifar10", activations="relu_4d"):
    for k, arch in enumerate(archs):
        net = seeded_build(space, arch, task, k)
        probe = zc_proxies.Probe(net, x, seed=1000 + k)
        res = zc_proxies.score(probe, {"swap": ("swap", {"activations": activations}),
                                       "sap": ("sap", {"activations": activations})})
        ref_net = prepare_copy(net, reinit="gaussian", bn_mode="train", seed=mix_seed(1000 + k, 17, 0))
        assert res["swap"].value == swap_reference(ref_net, x, activations), str(arch)
        assert 1 <= res["sap"].value <= x.shape[0]


def test_darts_scorer_50_networks():
    space = get_space("darts")
    x = torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    check(space, space.sample(50, seed=3), x)


def test_nb201_50_networks_one_word():
    space = get_space("nb201", C=8, N=1)
    x = torch.randn(64, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    check(space, space.sample(50, seed=4), x)


@pytest.mark.parametrize("batch", [65, 130])
def test_nb201_several_words(batch):
    space = get_space("nb201", C=4, N=1)
    x = torch.randn(batch, 3, 8, 8, generator=torch.Generator().manual_seed(batch))
    check(space, space.sample(5, seed=batch), x, activations="relu_gelu")
