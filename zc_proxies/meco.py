"""MeCo (Jiang et al., NeurIPS 2023) and its optimised variant, as the official code
computes them (HamsterMimi/MeCo, ``correlation/foresight/pruners/measures/meco.py`` and the
NB201 script ``correlation/NAS_Bench_201.py``).

One forward pass (no gradients) on a copy of the network, BN in train mode, with a forward
hook on *every* module of ``named_modules()``: containers and the network itself included.
Each hooked call takes ``output[0]``: for a tensor output, the first sample, reshaped to
(C, rest): one row per channel; for a tuple output, its first element (the whole batch, rows
= samples). ``torch.corrcoef`` of the rows (float32), NaN and inf entries set to 0, the
eigenvalues of that matrix (``torch.linalg.eig``, general, not symmetric), the minimum real
part. The score is the sum over hooked calls (float32), calls giving NaN left out.

``meco_opt`` (NAS_Bench_201.py only): each call's rows are subsampled to 8 drawn without
replacement (Python's ``random.sample``, here from a generator seeded by the probe seed), and
the minimum eigenvalue is scaled by n / 8 (n the number of rows). A module with fewer than 8
rows makes it undefined (the official code raises there).

Quirks, each a named option with the official behaviour as default:

* ``input``: ``"noise"`` (meco's default): the official ``meco.py`` ignores the batch it is
  given and scores ``torch.randn(1, 3, 64, 64)`` (whatever the dataset and resolution; here
  drawn from a generator seeded by the probe seed, with the batch's channel count, 3 for the
  official networks); ``noise_size`` sets the 64. ``"first_sample"`` (meco_opt's default): the
  first image of the probe's batch alone, as ``NAS_Bench_201.py`` (which scores NB201 with a
  loader of batch size 1, one real image). ``"batch"``: the probe's whole batch (BN statistics
  then come from all of it; the features still from its first sample).
* ``drop``: which per-call values are left out of the sum: ``"nan"`` (meco.py, meco's
  default) or ``"nan_inf"`` (NAS_Bench_201.py, meco_opt's default).
* ``modules``: ``"all"`` (official: every module, so a container's output is counted again
  beside its last child's, and the network's logits give a 0) or ``"leaves"``.

MeCo has no training-free randomness of its own besides the noise input and meco_opt's
subsets; the network's weights are used as given (the NB201 script's ``--init_w_type none``).
"""
from __future__ import annotations

import random
import warnings

import torch
from torch import nn

from zc_proxies.base import register_proxy
from zc_proxies.errors import UsageError
from zc_proxies.probe import BN_MODES, Probe, draw_normal, forward_with_hooks, mix_seed

PAPER = "Jiang et al., MeCo, NeurIPS 2023"
INPUTS = ("noise", "first_sample", "batch")
DROPS = ("nan", "nan_inf")
MODULES = ("all", "leaves")
MECO_DEFAULTS = {"input": "noise", "noise_size": 64, "drop": "nan", "modules": "all", "bn_mode": "train"}
MECO_OPT_DEFAULTS = {**MECO_DEFAULTS, "input": "first_sample", "drop": "nan_inf", "subset": 8}
_MECO_SEED_TAG = 37


def _check(name: str, value, allowed) -> None:
    if value not in allowed:
        raise UsageError(f"{name} must be one of {allowed}, not {value!r}")


def _min_eig(fea: torch.Tensor) -> torch.Tensor:
    corr = torch.corrcoef(fea)
    corr[torch.isnan(corr)] = 0
    corr[torch.isinf(corr)] = 0
    return torch.min(torch.real(torch.linalg.eig(corr)[0]))


def meco_values(net: nn.Module, x: torch.Tensor, *, modules: str = "all", subset: int | None = None,
                rng: random.Random | None = None) -> list[torch.Tensor]:
    """The per-call values of one forward pass of ``net`` (used as given: pass a copy)."""
    _check("modules", modules, MODULES)
    values: list[torch.Tensor] = []

    def hook(module, inp, out):
        fea = out[0].detach()
        if fea.dim() == 0:
            raise ValueError(f"MeCo reshapes output[0] of every module to (rows, -1); {type(module).__name__} "
                             "returns one value per sample, so MeCo is undefined for this network")
        n = fea.shape[0]
        if n < 2:
            raise ValueError(f"MeCo correlates the rows (channels) of output[0] of every module, but "
                             f"{type(module).__name__} gives one row (output[0] of shape {tuple(fea.shape)}): its "
                             "correlation matrix is a scalar and MeCo is undefined for this network (the official "
                             "code fails here too)")
        fea = fea.reshape(n, -1)
        if subset is None:
            values.append(_min_eig(fea))
            return
        if n < subset:
            raise ValueError(f"meco_opt samples {subset} rows (channels) of every module's output, but "
                             f"{type(module).__name__} gives {n}: it is undefined for this network (the official "
                             "code raises here); use a wider network or meco")
        idxs = rng.sample(range(n), subset)
        values.append(_min_eig(fea[idxs, :]) * torch.tensor(n) / subset)

    mods = [m for _, m in net.named_modules() if modules == "all" or next(m.children(), None) is None]
    with warnings.catch_warnings():  # rows of one value (pooled features, logits): corrcoef is NaN, set to 0
        warnings.filterwarnings("ignore", message="cov\\(\\): degrees of freedom")
        forward_with_hooks(net, x, [(m, hook) for m in mods])
    return values


def meco_sum(values: list[torch.Tensor], drop: str) -> float:
    """Σ of the per-call values (float32, as the official ``torch.sum``), NaN (and inf) left out."""
    _check("drop", drop, DROPS)
    r = torch.tensor([v.item() for v in values], dtype=torch.float32)
    r = r[torch.logical_not(torch.isnan(r))]
    if drop == "nan_inf":
        r = r[torch.logical_not(torch.isinf(r))]
    return float(torch.sum(r).item())


def _input(probe: Probe, input: str, noise_size, rng_seed: int) -> torch.Tensor:
    _check("input", input, INPUTS)
    x = probe.inputs
    if input == "batch":
        return x
    if not torch.is_tensor(x) or x.dim() != 4 or not x.is_floating_point():
        raise ValueError(f"MeCo's input={input!r} takes an image batch (N, C, H, W); this network's input is "
                         + (f"of shape {tuple(x.shape)}" if torch.is_tensor(x) else type(x).__name__)
                         + ": use input: batch")
    if input == "first_sample":
        return x[:1]
    if isinstance(noise_size, bool) or not isinstance(noise_size, int) or noise_size < 1:
        raise UsageError(f"noise_size must be a positive integer, not {noise_size!r}")
    g = torch.Generator().manual_seed(rng_seed)
    return draw_normal((1, x.shape[1], noise_size, noise_size), g, x.device, x.dtype)


def _score(probe: Probe, *, input: str, noise_size: int, drop: str, modules: str, bn_mode: str,
           subset: int | None) -> float:
    _check("bn_mode", bn_mode, BN_MODES)
    _check("drop", drop, DROPS)
    seed = mix_seed(probe.seed, _MECO_SEED_TAG)
    x = _input(probe, input, noise_size, seed)
    work = probe.scratch(reinit="none", bn_mode=bn_mode)
    rng = random.Random(seed) if subset is not None else None
    return meco_sum(meco_values(work, x, modules=modules, subset=subset, rng=rng), drop)


@register_proxy("meco", consumes=(), family="expressivity", paper=PAPER, defaults=MECO_DEFAULTS)
def meco(probe: Probe, *, input: str, noise_size: int, drop: str, modules: str, bn_mode: str) -> float:
    """Σ over modules of the min eigenvalue of one sample's channel correlations (official input: N(0,1) 64x64)."""
    return _score(probe, input=input, noise_size=noise_size, drop=drop, modules=modules, bn_mode=bn_mode, subset=None)


@register_proxy("meco_opt", consumes=(), family="expressivity", paper=PAPER + " (optimised variant, 8 channels)",
                defaults=MECO_OPT_DEFAULTS)
def meco_opt(probe: Probe, *, input: str, noise_size: int, drop: str, modules: str, bn_mode: str,
             subset: int) -> float:
    """MeCo on 8 random channels per module, scaled by channels / 8 (first image of the batch, as NAS_Bench_201.py)."""
    if isinstance(subset, bool) or not isinstance(subset, int) or subset < 2:
        raise UsageError(f"subset must be an integer >= 2, not {subset!r}")
    return _score(probe, input=input, noise_size=noise_size, drop=drop, modules=modules, bn_mode=bn_mode,
                  subset=subset)
