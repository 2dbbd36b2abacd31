"""NWOT: neural architecture search without training (Mellor et al., ICML 2021), as NASLib
computes it, over its own ``nwot_kernel`` signal.

One forward pass without gradients on a copy of the network (no re-init, BN in train mode).
Every ReLU-family activation module is hooked on its *input*: c = 1(x > 0) flattened per
sample, K += c cᵀ + (1 - c)(1 - c)ᵀ (S x S, the number of units on which two samples agree).
Score: log|det K| from ``slogdet``.

Which modules are hooked: NASLib hooks every module whose ``str(type(module))`` contains
"ReLU" except NASLib's own classes (so its ReLUConvBN wrappers are skipped). zcbench hooks
every *leaf* module whose class name contains "ReLU": nn.ReLU, ReLU6, LeakyReLU, PReLU, RReLU
and user activations, but never a container such as ``ReLUConvBN``, whose input is the same
tensor as its inner ReLU's and would be counted twice. QUIRK (``leaky=True``, NASLib's
behaviour): LeakyReLU (TNB decoders) and the other leaky variants (PReLU, RReLU) are hooked
too; ``leaky=False`` skips them.

K is accumulated in float64 with one matmul per hooked call: (1-c)(1-c)ᵀ = V - r_i - r_j +
c cᵀ with r the per-sample count of active units, so K_call = 2 c cᵀ + V - r_i - r_j; every
entry is an integer, exact (the matmul runs in float32, as NASLib's, when a call has fewer than
2^24 units per sample, where float32 is exact, and in float64 otherwise).

When the probe's plan holds nwot with ``bn_mode="train"`` and the gradient signal ``grads``
runs first, its train-mode forward pass (same weights, same batch) records these codes, and
nwot runs no pass of its own (:mod:`zc_proxies.gradients`).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from zc_proxies.base import register_proxy
from zc_proxies.errors import UsageError
from zc_proxies.probe import BN_MODES, Probe, forward_with_hooks, prepare_copy, register_signal

NWOT_DEFAULTS = {"bn_mode": "train", "leaky": True}
LEAKY_NAMES = ("LeakyReLU", "PReLU", "RReLU")


def nwot_hooked(module: nn.Module, leaky: bool = True) -> bool:
    """Is ``module`` an activation NWOT hooks: a leaf module whose class name contains "ReLU"."""
    name = type(module).__name__
    if "ReLU" not in name or next(module.children(), None) is not None:
        return False
    return leaky or not any(k in name for k in LEAKY_NAMES)


class KernelHook:
    """Accumulates K over the calls of the hooked modules: ``hooks(net)`` gives the (module,
    forward hook) pairs to register, :meth:`kernel` the S x S float64 result.

    Per call, c c^T is one float32 matmul when a sample has fewer than 2^24 units (every entry
    is then an integer below 2^24, exact in float32 whatever the summation order), float64
    otherwise; the calls are added in float64."""

    def __init__(self, n: int, device=None, *, leaky: bool = True):
        self.acc = torch.zeros(n, n, dtype=torch.float64, device=device)
        self.calls = 0
        self.leaky = leaky

    def __call__(self, module, inp, out) -> None:
        x = inp[0].detach()
        c = x.reshape(x.shape[0], -1) > 0
        dtype = torch.float32 if c.shape[1] < 2**24 else torch.float64
        cf = c.to(dtype)
        r = cf.sum(dim=1, dtype=torch.float64)
        self.acc += 2.0 * (cf @ cf.T).to(torch.float64) + (c.shape[1] - r[:, None] - r[None, :])
        self.calls += 1

    def hooks(self, net: nn.Module) -> list[tuple[nn.Module, "KernelHook"]]:
        return [(m, self) for m in net.modules() if nwot_hooked(m, self.leaky)]

    def kernel(self) -> np.ndarray:
        if self.calls == 0:
            raise ValueError("nwot hooked no activation: the network has no ReLU-family module "
                             f"(leaky={self.leaky}); nwot needs nn.ReLU (or LeakyReLU with leaky=True) modules")
        return self.acc.cpu().numpy()


def nwot_kernel(net: nn.Module, inputs: torch.Tensor, *, leaky: bool = True) -> np.ndarray:
    """The S x S float64 kernel K of one forward pass of ``net`` (used as given: pass a copy)."""
    acc = KernelHook(int(inputs.shape[0]), inputs.device, leaky=leaky)
    forward_with_hooks(net, inputs, acc.hooks(net))
    return acc.kernel()


@register_signal("nwot_kernel")
def _nwot_kernel_signal(probe: Probe, *, bn_mode: str, leaky: bool) -> np.ndarray:
    work = prepare_copy(probe.net, reinit="none", bn_mode=bn_mode)
    return nwot_kernel(work, probe.inputs, leaky=leaky)


@register_proxy("nwot", consumes=("nwot_kernel",), family="expressivity",
                paper="Mellor et al., NASWOT, ICML 2021; NAS-Bench-Suite-Zero (Krishnakumar et al., 2022)",
                defaults=NWOT_DEFAULTS)
def nwot(probe: Probe, *, bn_mode: str, leaky: bool) -> float:
    """log|det K|, K the sample-by-sample agreement count of binary ReLU codes."""
    if bn_mode not in BN_MODES:
        raise UsageError(f"bn_mode must be one of {BN_MODES}, not {bn_mode!r}")
    if not isinstance(leaky, bool):
        raise UsageError(f"leaky must be True or False, not {leaky!r}")
    _, logabsdet = np.linalg.slogdet(probe.signal("nwot_kernel", bn_mode=bn_mode, leaky=leaky))
    return float(logabsdet)
