"""Zen-score (Lin et al., ICCV 2021) as NASLib computes it, over its own
``zen`` signal.

On a copy of the network in train mode: Gaussian re-init (Conv/Linear N(0, 1), biases 0, BN
weight 1, bias 0), x and ε ~ N(0, 1) with the probe batch's shape, two forward passes
f(x) and f(x + 0.01 ε), where f is the feature map *before global average pooling* (the input
of the network's last ``nn.AdaptiveAvgPool2d``; NASLib hooks every such module and asserts
there is exactly one call), or of the module ``net.zen_feature_module()`` returns when the
network defines it (NB101's mean, TNB101's dense decoders' last conv). Δ = mean over the batch of Σ_{c,h,w} |f(x) - f(x + 0.01 ε)|.
Score: log Δ + Σ over BatchNorm2d layers of log sqrt(mean(σ²)).

QUIRK (``bn_var_source="running"``, NASLib): σ² is ``running_var`` read after the two passes.
NASLib's ``forward_before_global_avg_pool`` runs the full ``forward`` once for x and once for
x + 0.01 ε, both in train mode, so every BN's running_var has had exactly two momentum-0.1
updates when it is read: 0.9·(0.9·rv₀ + 0.1·v₁) + 0.1·v₂, with v₁, v₂ the unbiased batch
variances of the two passes (a description of "one update" would be wrong: the code does two).
rv₀ is the running_var the probe's network holds (1.0 for a freshly built net): neither
NASLib's Gaussian init nor ``gaussian_init_`` resets running statistics. A BN without
running statistics yields NaN here.
``bn_var_source="batch"``: σ² is the biased batch variance that BN normalised the clean
input x with (the Zen-NAS paper's definition), independent of running statistics.

Accumulation: ``accumulate="float64"`` (default) adds the logs in float64; ``"float32"`` in
float32 tensors, as NASLib (they differ by float32 rounding, about 1e-7 relative).

Randomness: one ``torch.Generator`` seeded from the probe seed draws, in NASLib's order, the
weights, then x, then ε. The probe's inputs are used only for their shape.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from zc_proxies.base import register_proxy
from zc_proxies.errors import UsageError
from zc_proxies.probe import Probe, draw_normal, gaussian_init_, mix_seed, prepare_copy, register_signal

BN_VAR_SOURCES = ("running", "batch")
ACCUMULATE = ("float64", "float32")
ZEN_DEFAULTS = {"bn_var_source": "running", "mixup_gamma": 1e-2, "repeats": 1, "accumulate": "float64"}
_ZEN_SEED_TAG = 26  # keeps zen's generator apart from other signals' seeds


@dataclass
class ZenParts:
    """One repeat: Δ and, per BatchNorm2d layer, mean(running_var) and mean(batch var)."""

    delta: float
    running_var_means: list[float]
    batch_var_means: list[float]
    batch_var_computed: bool = True

    def score(self, bn_var_source: str = "running", accumulate: str = "float64") -> float:
        """log Δ + Σ log sqrt(mean σ²), in float64, or (``accumulate="float32"``) in float32
        tensors as NASLib's ``compute_zen_score`` (bit for bit with ``bn_var_source="running"``)."""
        means = self.running_var_means if bn_var_source == "running" else self.batch_var_means
        if bn_var_source == "batch" and not self.batch_var_computed:
            raise ValueError("zen's batch variances were not computed: the signal was computed for proxies that "
                             "read running_var only (bn_var_source='running')")
        # Δ = 0 (a cell whose output does not depend on its input) gives -inf: expected, stored
        # as ``nonfinite`` and counted, so numpy's warning is not printed
        if accumulate == "float32":
            log_bn = 0.0
            for m in means:
                log_bn = log_bn + torch.log(torch.sqrt(torch.tensor(m, dtype=torch.float32)))
            return float(torch.log(torch.tensor(self.delta, dtype=torch.float32)) + log_bn)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_bn = sum(float(np.log(np.sqrt(m))) for m in means)
            return float(np.log(self.delta)) + log_bn


def last_global_pool(net: nn.Module) -> nn.Module:
    """The module whose input is zen's feature map: ``net.zen_feature_module()`` when the network
    names one (NB101's functional mean, TNB101's dense decoders: NASLib's task-specific feature
    maps), else the last ``nn.AdaptiveAvgPool2d``."""
    named = getattr(net, "zen_feature_module", None)
    if callable(named):
        return named()
    pools = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    if not pools:
        raise ValueError("zen needs the feature map before global average pooling, but the network has no "
                         "nn.AdaptiveAvgPool2d module; zen is undefined for it (NASLib hooks the input of "
                         "AdaptiveAvgPool2d, or a task-specific last conv for dense TNB decoders)")
    return pools[-1]


def zen_parts(net: nn.Module, shape, generator: torch.Generator, mixup_gamma: float = 1e-2,
              device=None, *, with_batch_var: bool = True) -> ZenParts:
    """Re-init ``net`` in place (pass a train-mode copy), draw x, ε (on ``device``, from the CPU
    ``generator``) and run the two passes. ``with_batch_var=False`` skips the batch variances (NaN in
    ``batch_var_means``): a third of a forward pass on NB201 that ``bn_var_source="running"``
    does not read."""
    pool = last_global_pool(net)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    gaussian_init_(net, generator)
    x = draw_normal(shape, generator, device)
    eps = draw_normal(shape, generator, device)
    mixed = x + mixup_gamma * eps

    feats: list[torch.Tensor] = []
    batch_var: dict[int, float] = {}

    def pool_hook(module, inp):
        feats.append(inp[0].detach())

    def bn_hook(module, inp):
        if id(module) not in batch_var:  # first call, clean pass: the variance BN normalises with
            t = inp[0].detach()
            v = t.transpose(0, 1).reshape(t.shape[1], -1).var(dim=1, unbiased=False)
            batch_var[id(module)] = float(v.double().mean())

    handles = [pool.register_forward_pre_hook(pool_hook)]
    try:
        with torch.no_grad():
            bn_handles = [m.register_forward_pre_hook(bn_hook) for m in bns] if with_batch_var else []
            handles += bn_handles
            net(x)
            for h in bn_handles:
                h.remove()
            calls = len(feats)
            net(mixed)
    finally:
        for h in handles:
            h.remove()
    if calls != 1 or len(feats) != 2:
        raise ValueError(f"zen expects the last AdaptiveAvgPool2d to run once per forward pass, it ran {calls} "
                         "times; the feature map before global pooling is ambiguous")
    delta = torch.sum(torch.abs(feats[0] - feats[1]), dim=tuple(range(1, feats[0].dim()))).mean()
    running = []
    for m in bns:
        running.append(float("nan") if m.running_var is None else float(torch.mean(m.running_var)))
    batch = [batch_var.get(id(m), float("nan")) for m in bns]
    return ZenParts(float(delta), running, batch, with_batch_var)


def zen_generator(seed: int, repeat: int = 0) -> torch.Generator:
    """The generator of repeat ``repeat`` for a probe seed: weights, then x, then ε."""
    return torch.Generator().manual_seed(mix_seed(seed, _ZEN_SEED_TAG, repeat))


@register_signal("zen")
def _zen_signal(probe: Probe, *, mixup_gamma: float, repeat: int) -> ZenParts:
    work = prepare_copy(probe.net, reinit="none", bn_mode="train")
    # the batch variances only when a proxy still to run may read them (every one, outside score())
    planned = probe.planned("zen")
    with_batch_var = not planned or any(o.get("bn_var_source") != "running" for o in planned)
    return zen_parts(work, probe.inputs.shape, zen_generator(probe.seed, repeat), mixup_gamma, probe.inputs.device,
                     with_batch_var=with_batch_var)


@register_proxy("zen", consumes=("zen",), family="expressivity",
                paper="Lin et al., Zen-NAS, ICCV 2021; NAS-Bench-Suite-Zero (Krishnakumar et al., 2022)",
                defaults=ZEN_DEFAULTS)
def zen(probe: Probe, *, bn_var_source: str, mixup_gamma: float, repeats: int, accumulate: str = "float64") -> float:
    """log Δ (feature change under 0.01 input noise, Gaussian init) + Σ_BN log sqrt(mean σ²)."""
    if bn_var_source not in BN_VAR_SOURCES:
        raise UsageError(f"bn_var_source must be one of {BN_VAR_SOURCES}, not {bn_var_source!r}")
    if accumulate not in ACCUMULATE:
        raise UsageError(f"accumulate must be one of {ACCUMULATE}, not {accumulate!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise UsageError(f"repeats must be a positive integer, not {repeats!r}")
    vals = [probe.signal("zen", mixup_gamma=float(mixup_gamma), repeat=r).score(bn_var_source, accumulate)
            for r in range(repeats)]
    return float(np.mean(vals))
