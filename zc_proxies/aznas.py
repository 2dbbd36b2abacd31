"""AZ-NAS (Lee & Ham, CVPR 2024) as its official code computes it (cvlab-yonsei/AZ-NAS,
``NB201/ZeroShotProxy/compute_az_nas_score.py`` and the NB201 notebook ``tss_general.ipynb``):
four proxies of its own, each registered here, and ``az_nas``, their sum of log-ranks over a
population.

All four read one shared ``az_features`` signal: on a copy of the network, AZ-NAS's own
initialisation, one forward pass that keeps the per-cell feature maps (the outputs of the
modules the network's ``cell_modules()`` names: the stem, then every cell in forward order),
then one backward pass per pair of consecutive cells.

* ``az_expressivity``: per feature map f (B, C, H, W), reshaped to (B·H·W, C) and centred
  (tokens (B, T, C) to (B·T, C)), the eigenvalues s of its C x C covariance (``eigvalsh``),
  p = s / Σ s, entropy Σ -p log(p + 1e-8); the sum over feature maps.
* ``az_progressivity``: the smallest increase of that entropy from one feature map to the next.
* ``az_trainability``: for each pair (f_in, f_out) of consecutive feature maps, from the last
  pair backwards, g_out = Rademacher ±1 noise of f_out's shape, g_in = the vector-Jacobian
  product d f_out / d f_in applied to g_out; when f_out is smaller in space, g_in is
  ``PixelUnshuffle``-d to its size; M = g_inᵀ g_out / (B·H·W) (C_in x C_out), σ = its largest
  singular value, score -σ - 1/(σ + 1e-6) + 2 (highest when σ = 1); the mean over pairs.
* ``az_complexity``: FLOPs (millions, per sample). The notebook takes them from the NATS-Bench
  API, which counted them with xautodl's ``get_model_infos``: the multiply-adds of every Conv2d
  and Linear (plus one per output element of a bias), nothing else (``counter="xautodl"``).

A NaN component is -inf, as in the official code, and ``az_nas`` ranks -inf last (ties share
the average rank): a cell with no path from input to output has all-zero features, an entropy
of 0/0 and expressivity -inf; a singular covariance (grey images replicated to 3 channels) has
eigenvalues rounded below 0 and a NaN entropy. One case is an error instead (for expressivity and
progressivity; trainability is still defined): a feature map with fewer rows (batch x
positions) than channels + 1, whose covariance is singular whatever the network (the official
code would give -inf to every network). Such scores are stored as ``nonfinite`` and, as everywhere in
zcbench, left out of the component's own correlation, but ``az_nas`` gets them.

Protocol, each a named option with the official NB201 behaviour as default:

* ``init="kaiming_norm_fanin"``: AZ-NAS re-initialises Conv2d/Linear weights Kaiming normal
  (fan-in, ReLU gain), biases 0, BatchNorm/GroupNorm weight 1 and bias 0, drawn in module
  order; the official code's other choices are ``kaiming_norm_fanout``, ``kaiming_uni_fanin``,
  ``kaiming_uni_fanout``, ``xavier_norm``, ``xavier_uni``, ``plain_norm`` (N(0, 0.1²)),
  ``plain_uni`` (U(-0.1, 0.1)); ``"none"`` keeps the network's own weights.
* ``input="gaussian"``: AZ-NAS scores NB201 with N(0, 1) noise of the batch's shape, not with
  images (the notebook passes no loader to it); ``"batch"``: the probe's batch (zcbench's usual
  inputs).
* ``bn_mode="train"`` (NB201 code); AZ-NAS's AutoFormer code uses ``"eval"``.
* ``identity_pair="-inf"`` (trainability): a pair whose g_in equals g_out exactly (a cell whose
  output is its input, e.g. a lone skip connection) makes the pair -inf, hence the network's
  trainability -inf (NB201 code); ``"skip"`` leaves such pairs out (AutoFormer code).

Randomness: one CPU generator seeded from the probe seed draws, in the official order, the
initial weights (module order), the Gaussian input, then g_out for each pair from the last
backwards: seeding the official code's global RNG with the same seed gives the same draws.

Where the pass differs from the official code: a cell output that does not depend on the
cell input (zcbench does not build ``none`` edges, the official cells multiply by 0) has no
gradient path; its g_in is taken as zeros, which is what the official ``x * 0`` gives. The
graph is retained between pairs (the official code frees it), which changes no value.

Per-cell features need the network to say which modules are its cells: a ``cell_modules()``
method (NB201, NB101, NB301/DARTS, TNB101 encoders, AutoFormer blocks). AZ-NAS is undefined
for a network without it (NAS-Bench-BERT), or whose cells run more than once per forward pass
(TNB101's jigsaw encoder runs on 9 tiles): the error says so. AZ-NAS's own AutoFormer code also
takes each block's post-attention residual and drops the progressivity; zcbench takes the
block outputs only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from zc_proxies.base import register_proxy
from zc_proxies.errors import UsageError
from zc_proxies.population import Combined, Population, per_network, register_population_proxy
from zc_proxies.probe import BN_MODES, Probe, draw_normal, fill_from_cpu_, mix_seed, register_signal

PAPER = "Lee, Ham, AZ-NAS, CVPR 2024"
INITS = ("kaiming_norm_fanin", "kaiming_norm_fanout", "kaiming_uni_fanin", "kaiming_uni_fanout",
         "xavier_norm", "xavier_uni", "plain_norm", "plain_uni", "none")
INPUTS = ("gaussian", "batch")
IDENTITY_PAIRS = ("-inf", "skip")
COUNTERS = ("xautodl", "naslib", "torch")
SIGNAL_DEFAULTS = {"init": "kaiming_norm_fanin", "input": "gaussian", "bn_mode": "train"}
TRAIN_DEFAULTS = {**SIGNAL_DEFAULTS, "identity_pair": "-inf"}
COMPLEXITY_DEFAULTS = {"counter": "xautodl"}
_AZ_SEED_TAG = 31  # keeps AZ-NAS's generator apart from other signals' seeds


def _check(name: str, value, allowed) -> None:
    if value not in allowed:
        raise UsageError(f"{name} must be one of {allowed}, not {value!r}")


def az_init_(net: nn.Module, method: str, generator: torch.Generator) -> nn.Module:
    """AZ-NAS's ``init_model``: every Conv2d/Linear weight drawn with ``method`` (bias 0),
    every affine BatchNorm2d/GroupNorm weight 1 and bias 0, in module order, from ``generator``
    (a CPU generator: the same draws on every device)."""
    _check("init", method, INITS)
    if method == "none":
        return net
    init = nn.init
    relu = {"nonlinearity": "relu", "generator": generator}
    fills = {
        "kaiming_norm_fanin": lambda t: init.kaiming_normal_(t, mode="fan_in", **relu),
        "kaiming_norm_fanout": lambda t: init.kaiming_normal_(t, mode="fan_out", **relu),
        "kaiming_uni_fanin": lambda t: init.kaiming_uniform_(t, mode="fan_in", **relu),
        "kaiming_uni_fanout": lambda t: init.kaiming_uniform_(t, mode="fan_out", **relu),
        "xavier_norm": lambda t: init.xavier_normal_(t, generator=generator),
        "xavier_uni": lambda t: init.xavier_uniform_(t, generator=generator),
        "plain_norm": lambda t: init.normal_(t, mean=0.0, std=0.1, generator=generator),
        "plain_uni": lambda t: init.uniform_(t, a=-0.1, b=0.1, generator=generator),
    }
    fill = fills[method]
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fill_from_cpu_(m.weight, fill)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.affine:
                m.weight.fill_(1.0)
                m.bias.zero_()
    return net


def cell_modules(net: nn.Module, what: str = "AZ-NAS") -> list[nn.Module]:
    """The modules whose outputs are the per-cell features (stem first), as the network's
    ``cell_modules()`` names them; a clear error where the network does not."""
    fn = getattr(net, "cell_modules", None)
    if not callable(fn):
        raise ValueError(f"{what} needs per-cell features, and a {type(net).__name__} does not say which modules "
                         "are its cells (it has no cell_modules() method): it is undefined here. A search space "
                         "defines cell_modules() on the networks it builds (the stem, then every cell in forward "
                         "order)")
    mods = list(fn())
    if len(mods) < 2:
        raise ValueError(f"{what} needs at least two per-cell feature maps (the stem and one cell); "
                         f"{type(net).__name__}.cell_modules() names {len(mods)}")
    return mods


def _as_rows(f: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B·H·W, C); tokens (B, T, C) -> (B·T, C)."""
    if f.dim() == 4:
        b, c, h, w = f.size()
        return f.permute(0, 2, 3, 1).contiguous().view(b * h * w, c)
    b, n, c = f.size()
    return f.contiguous().view(b * n, c)


def feature_entropy(feat: torch.Tensor) -> float:
    """AZ-NAS's expressivity of one feature map: the entropy of its covariance's normalised
    eigenvalues (float32, as the official code)."""
    x = _as_rows(feat.detach().clone())
    x = x - x.mean(dim=0, keepdim=True)
    sigma = torch.mm(x.transpose(1, 0), x) / x.size(0)
    s = torch.linalg.eigvalsh(sigma)
    p = s / s.sum()
    return ((-p) * torch.log(p + 1e-8)).sum().item()


def pair_score(g_in: torch.Tensor, g_out: torch.Tensor) -> float:
    """-σ - 1/(σ + 1e-6) + 2, σ the largest singular value of g_inᵀ g_out / (B·H·W)."""
    if g_out.dim() == 4 and g_out.shape[2:] != g_in.shape[2:]:
        stride = int(g_in.size(2) / g_out.size(2))
        if stride < 1 or g_in.size(2) != stride * g_out.size(2) or g_in.size(3) != stride * g_out.size(3):
            raise ValueError(f"AZ-NAS trainability compares cells of spatial size {tuple(g_in.shape[2:])} and "
                             f"{tuple(g_out.shape[2:])}, which is not a whole-number downsampling; it is undefined "
                             "for this network at this input size")
        g_in = nn.functional.pixel_unshuffle(g_in, stride)
    if g_out.dim() == 3 and g_out.size(1) != g_in.size(1):
        raise ValueError("AZ-NAS trainability compares token features of different lengths "
                         f"({g_in.size(1)} and {g_out.size(1)}); it is undefined for this network")
    n = g_out.numel() // g_out.size(-1 if g_out.dim() == 3 else 1)
    go, gi = _as_rows(g_out), _as_rows(g_in)
    mat = torch.mm(gi.transpose(1, 0), go) / n
    if mat.size(0) < mat.size(1):
        mat = mat.transpose(0, 1)
    smax = torch.linalg.svdvals(mat).max().item()
    return -smax - 1 / (smax + 1e-6) + 2


@dataclass
class AZFeatures:
    """One pass: the entropy of each feature map (forward order) and the trainability score of
    each pair, in the official order (the last pair first); ``identity[k]``: pair k's g_in
    equalled its g_out exactly (its score is then NaN here; the proxy decides); ``singular``:
    why the entropies are undefined by construction (a feature map with fewer rows than
    channels + 1), in which case they are not computed."""

    entropies: list[float] = field(default_factory=list)
    pair_scores: list[float] = field(default_factory=list)
    identity: list[bool] = field(default_factory=list)
    singular: str = ""  # why the entropies are undefined by construction (then not computed)

    def checked_entropies(self) -> np.ndarray:
        if self.singular:
            raise ValueError(self.singular)
        return np.array(self.entropies)


def az_generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(mix_seed(seed, _AZ_SEED_TAG))


def az_features(work: nn.Module, inputs: torch.Tensor, *, init: str, input: str,
                generator: torch.Generator) -> AZFeatures:
    """The pass on ``work`` (a copy, in the BN mode wanted), re-initialised in place."""
    _check("input", input, INPUTS)
    mods = cell_modules(work)
    az_init_(work, init, generator)
    if input == "gaussian":
        if not torch.is_tensor(inputs) or not inputs.is_floating_point():
            raise ValueError("AZ-NAS's Gaussian input replaces an image batch; this network's input is not a "
                             "float tensor (tokens?): use input: batch")
        x = draw_normal(inputs.shape, generator, inputs.device, inputs.dtype)
    else:
        x = inputs
    feats: dict[int, list[torch.Tensor]] = {k: [] for k in range(len(mods))}
    handles = []
    for k, m in enumerate(mods):
        def hook(module, inp, out, k=k):
            feats[k].append(out)
        handles.append(m.register_forward_hook(hook))
    try:
        with torch.enable_grad():
            work(x)
    finally:
        for h in handles:
            h.remove()
    for k, got in feats.items():
        if len(got) != 1:
            raise ValueError(f"AZ-NAS reads one feature map per cell, but cell module {k} "
                             f"({type(mods[k]).__name__}) ran {len(got)} times in one forward pass: the per-cell "
                             "features are ambiguous, so AZ-NAS is undefined for this network")
        f = got[0]
        if not torch.is_tensor(f) or f.dim() not in (3, 4):
            raise ValueError(f"AZ-NAS needs (B, C, H, W) or (B, T, C) feature maps; cell module {k} "
                             f"({type(mods[k]).__name__}) returned {type(f).__name__}"
                             + (f" of shape {tuple(f.shape)}" if torch.is_tensor(f) else ""))
    layer = [feats[k][0] for k in range(len(mods))]
    res = AZFeatures()
    for k, f in enumerate(layer):
        rows, chans = f.numel() // f.shape[-1 if f.dim() == 3 else 1], f.shape[-1 if f.dim() == 3 else 1]
        if rows - 1 < chans and not res.singular:
            res.singular = (f"AZ-NAS's expressivity takes the spectrum of each cell output's {chans} x {chans} channel "
                            f"covariance, but cell module {k} ({type(mods[k]).__name__}) gives {rows} rows (batch x "
                            "positions), too few for a covariance of full rank: its entropy is undefined by "
                            "construction (the official code returns NaN, then -inf, for every network); use a "
                            "larger batch or input size")
    if not res.singular:
        res.entropies = [feature_entropy(f) for f in layer]
    for i in reversed(range(1, len(layer))):
        f_out, f_in = layer[i], layer[i - 1]
        g_out = torch.bernoulli(torch.full(f_out.shape, 0.5, dtype=f_out.dtype), generator=generator)
        g_out = ((g_out - 0.5) * 2).to(f_out.device)
        g_in = None
        if f_out.requires_grad and f_in.requires_grad:
            g_in = torch.autograd.grad(outputs=f_out, inputs=f_in, grad_outputs=g_out, retain_graph=True,
                                       allow_unused=True)[0]
        if g_in is None:  # f_out does not depend on f_in: the official cells' x * 0 gives zeros
            g_in = torch.zeros_like(f_in)
        same = g_out.size() == g_in.size() and bool(torch.all(g_in == g_out))
        res.identity.append(same)
        res.pair_scores.append(math.nan if same else pair_score(g_in.detach(), g_out))
    return res


@register_signal("az_features")
def _az_features_signal(probe: Probe, *, init: str, input: str, bn_mode: str) -> AZFeatures:
    _check("bn_mode", bn_mode, BN_MODES)
    _check("init", init, INITS)
    _check("input", input, INPUTS)
    work = probe.scratch(reinit="none", bn_mode=bn_mode)
    return az_features(work, probe.inputs, init=init, input=input, generator=az_generator(probe.seed))


def _nan_to_neg_inf(v: float) -> float:
    return -math.inf if math.isnan(v) else float(v)


def _signal(probe: Probe, init: str, input: str, bn_mode: str) -> AZFeatures:
    return probe.signal("az_features", init=init, input=input, bn_mode=bn_mode)


@register_proxy("az_expressivity", consumes=("az_features",), family="expressivity", paper=PAPER,
                defaults=SIGNAL_DEFAULTS)
def az_expressivity(probe: Probe, *, init: str, input: str, bn_mode: str) -> float:
    """Σ over cells of the entropy of the feature covariance's eigenvalue spectrum (AZ-NAS init, noise input)."""
    e = _signal(probe, init, input, bn_mode).checked_entropies()
    with np.errstate(invalid="ignore"):
        return _nan_to_neg_inf(float(np.sum(e)))


@register_proxy("az_progressivity", consumes=("az_features",), family="expressivity", paper=PAPER,
                defaults=SIGNAL_DEFAULTS)
def az_progressivity(probe: Probe, *, init: str, input: str, bn_mode: str) -> float:
    """The smallest increase of AZ-NAS's expressivity from one cell to the next."""
    e = _signal(probe, init, input, bn_mode).checked_entropies()
    with np.errstate(invalid="ignore"):
        return _nan_to_neg_inf(float(np.min(e[1:] - e[:-1])))


@register_proxy("az_trainability", consumes=("az_features",), family="trainability", paper=PAPER,
                defaults=TRAIN_DEFAULTS)
def az_trainability(probe: Probe, *, init: str, input: str, bn_mode: str, identity_pair: str) -> float:
    """Mean over consecutive cells of -σ - 1/σ + 2, σ the spectral norm of their Jacobian (probed by ±1 noise)."""
    _check("identity_pair", identity_pair, IDENTITY_PAIRS)
    sig = _signal(probe, init, input, bn_mode)
    if identity_pair == "-inf":
        scores = [-np.inf if same else s for s, same in zip(sig.pair_scores, sig.identity)]
    else:
        scores = [s for s, same in zip(sig.pair_scores, sig.identity) if not same]
    if not scores:
        raise ValueError("every pair of consecutive cells is an identity (identity_pair='skip' leaves none): "
                         "AZ-NAS trainability is undefined for this network")
    with np.errstate(invalid="ignore"):
        return _nan_to_neg_inf(float(np.mean(scores)))


# ----------------------------------------------------------------------------- complexity

def xautodl_flops(net: nn.Module, sample: torch.Tensor) -> float:
    """FLOPs per sample (millions) as xautodl's ``get_model_infos`` (NATS-Bench's API) counts
    them: per call, Conv2d k_h·k_w·C_in·C_out/groups·H_out·W_out (+ C_out·H_out·W_out with a
    bias), Linear in·out (+ out with a bias), Conv1d likewise; nothing else. One forward pass
    in eval mode without gradients on ``sample`` (a batch of one)."""
    total = 0.0

    def conv2d(m, inp, out):
        nonlocal total
        h, w = out.shape[2:]
        per = m.kernel_size[0] * m.kernel_size[1] * m.in_channels * m.out_channels / m.groups
        active = out.shape[0] * h * w
        total += per * active + (m.out_channels * active if m.bias is not None else 0)

    def conv1d(m, inp, out):
        nonlocal total
        per = m.kernel_size[0] * m.in_channels * m.out_channels / m.groups
        active = out.shape[0] * out.shape[-1]
        total += per * active + (m.out_channels * active if m.bias is not None else 0)

    def linear(m, inp, out):
        nonlocal total
        rows = inp[0].numel() // m.in_features
        total += rows * m.in_features * m.out_features + (rows * m.out_features if m.bias is not None else 0)

    hooks = []
    for m in net.modules():
        fn = conv2d if isinstance(m, nn.Conv2d) else conv1d if isinstance(m, nn.Conv1d) else \
            linear if isinstance(m, nn.Linear) else None
        if fn is not None:
            hooks.append(m.register_forward_hook(fn))
    try:
        with torch.no_grad():
            net(sample)
    finally:
        for h in hooks:
            h.remove()
    return total / int(sample.shape[0]) / 1e6


@register_proxy("az_complexity", consumes=("model_stats",), family="size", paper=PAPER,
                defaults=COMPLEXITY_DEFAULTS)
def az_complexity(probe: Probe, *, counter: str) -> float:
    """FLOPs (millions per sample) as NATS-Bench's API counts them (conv and linear only), AZ-NAS's complexity."""
    _check("counter", counter, COUNTERS)
    if counter != "xautodl":
        from zc_proxies.size import flops

        return flops(probe, counter=counter)
    work = probe.scratch(reinit="none", bn_mode="eval")
    x = probe.inputs
    return xautodl_flops(work, x[:1] if torch.is_tensor(x) else x)


# ----------------------------------------------------------------------------- az_nas (population)

COMPONENTS = ("az_expressivity", "az_progressivity", "az_trainability", "az_complexity")


def log_rank_sum(*columns) -> np.ndarray:
    """Σ over columns of log(rank / n): ranks 1 (lowest) ... n (highest), ties share the
    average rank (``scipy.stats.rankdata``), NaN taken as -inf, so ranked last (as AZ-NAS)."""
    from scipy.stats import rankdata

    cols = [np.where(np.isnan(c), -np.inf, c) for c in (np.asarray(c, dtype=float) for c in columns)]
    n = len(cols[0])
    if any(len(c) != n or c.ndim != 1 for c in cols):
        raise ValueError(f"the component scores must be 1-D of equal length, got {[c.shape for c in cols]}")
    return np.sum([np.log(rankdata(c) / n) for c in cols], axis=0)


def az_nas_combine(expressivity, progressivity, trainability, complexity, **_opts) -> tuple[np.ndarray, dict]:
    """AZ-NAS over a population from its four stored component scores (the notebook's rank
    aggregation)."""
    values = log_rank_sum(expressivity, progressivity, trainability, complexity)
    nonfinite = {name: int(np.sum(~np.isfinite(np.asarray(c, dtype=float))))
                 for name, c in zip(COMPONENTS, (expressivity, progressivity, trainability, complexity))}
    return values, {"n": len(values), "nonfinite_ranked_last": {k: v for k, v in nonfinite.items() if v}}


_OLD_USAGE = ("az_nas is now AZ-NAS itself (its four proxies az_expressivity, az_progressivity, az_trainability, "
              "az_complexity, log-rank summed) and takes no 'proxies' list; the sum of log-ranks of a list of "
              "proxies that az_nas used to be is now log_rank_mean: write log_rank_mean: {proxies: [...]}, or "
              "az_nas with no proxies option for AZ-NAS")


@register_population_proxy(
    "az_nas", bases=lambda opts, study_labels: tuple(per_network(c, opts) for c in COMPONENTS),
    family="ensemble", paper=PAPER + " (sum of log-ranks of its four proxies)",
    defaults={**TRAIN_DEFAULTS, **COMPLEXITY_DEFAULTS}, option_hints={"proxies": _OLD_USAGE}, nonfinite_bases=True)
def az_nas(population: Population, **_opts) -> Combined:
    """AZ-NAS: Σ log(rank / n) of expressivity, progressivity, trainability and complexity over a population."""
    return Combined(*az_nas_combine(*(population.scores[c] for c in COMPONENTS)))
