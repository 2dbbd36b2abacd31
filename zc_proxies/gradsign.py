"""GradSign (Zhang & Jia, ICLR 2022) as the official code computes it (the copies in
HamsterMimi/MeCo ``correlation/foresight/pruners/measures/gradsign.py`` and cvlab-yonsei/AZ-NAS
``NB201/ZeroShotProxy/compute_gradsign_score.py``, both from cmu-catalyst/GradSign).

For each sample of the batch alone: zero the gradients, forward (BN in train mode, on that one
sample), the task's loss, backward; the weight gradients of every Conv2d and Linear flattened
into one vector (zeros where a layer got no gradient). Over the S samples: the sign of each
entry, summed over samples, absolute value, summed over entries (NaN entries left out):
Σ_k |Σ_i sign(g_ik)|, large when the samples' gradients agree in sign.

It consumes the ``chunk_grads`` signal with one chunk per sample (the per-sample passes are
the official ones: a batch of one through a train-mode copy).

Options: ``reduce="sum"`` (MeCo's copy, the paper's formula) or ``"mean"`` (AZ-NAS's copy
divides by the number of weights, ``np.nanmean``; the ranking then differs between networks of
different sizes); ``accumulate="float64"`` adds the integer-valued per-weight terms exactly, and
``"float32"`` as the official ``np.nansum`` over float32 (a rounding difference of about 1e-7
relative).
"""
from __future__ import annotations

import numpy as np
import torch

from zc_proxies.base import register_proxy
from zc_proxies.errors import UsageError
from zc_proxies.gradients import check_accumulate
from zc_proxies.probe import Probe

PAPER = "Zhang, Jia, GradSign, ICLR 2022"
REDUCES = ("sum", "mean")


@register_proxy("gradsign", consumes=("chunk_grads",), family="trainability", paper=PAPER,
                defaults={"reduce": "sum", "accumulate": "float64"})
def gradsign(probe: Probe, *, reduce: str, accumulate: str) -> float:
    """Σ over weights of |Σ over samples of sign(per-sample gradient)|: how much the samples' gradients agree."""
    if reduce not in REDUCES:
        raise UsageError(f"reduce must be one of {REDUCES}, not {reduce!r}")
    check_accumulate(accumulate)
    n = int(probe.inputs.shape[0]) if torch.is_tensor(probe.inputs) else 0
    if n < 2:
        raise UsageError(f"gradsign compares the gradient signs of the batch's samples; it needs at least 2, "
                         f"the batch has {n}")
    layers = probe.signal("chunk_grads", chunks=n, zero_grad_per_chunk=True)
    if accumulate == "float32":  # the official numpy arithmetic, bit for bit
        code = np.abs(np.concatenate([np.sign(g.detach().cpu().numpy()) for _, g in layers], axis=1).sum(axis=0))
        return float(np.nanmean(code) if reduce == "mean" else np.nansum(code))
    total, count = 0.0, 0
    for _, g in layers:
        s = torch.sign(g.detach()).sum(dim=0).abs().double()
        total += float(torch.nansum(s).item())
        count += int((~torch.isnan(s)).sum().item())
    return total / count if reduce == "mean" else total
