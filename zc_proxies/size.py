"""Size proxies: ``params`` and ``flops`` (NAS-Bench-Suite-Zero reports both in millions)."""
from __future__ import annotations

import copy

import torch
from torch import nn

from zc_proxies.base import register_proxy
from zc_proxies.probe import Probe


def count_params(net: nn.Module) -> int:
    """Σ numel over named parameters, auxiliary heads excluded (SWAP's count_parameters)."""
    return sum(p.numel() for n, p in net.named_parameters() if "auxiliary" not in n)


@register_proxy("params", consumes=(), family="size", paper="NAS-Bench-Suite-Zero (Krishnakumar et al., 2022)")
def params(probe: Probe) -> float:
    """Parameter count in millions."""
    return count_params(probe.net) / 1e6


@register_proxy("flops", consumes=(), family="size", paper="NAS-Bench-Suite-Zero (Krishnakumar et al., 2022)")
def flops(probe: Probe) -> float:
    """MFLOPs of one forward pass on a single sample, from torch.utils.flop_counter (which
    counts a multiply-add as 2 FLOPs; NASLib's tensorwatch counts differ by that constant)."""
    from torch.utils.flop_counter import FlopCounterMode

    net = copy.deepcopy(probe.net).eval()  # eval: BN on a single sample
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(probe.inputs[:1])
    return counter.get_total_flops() / 1e6
