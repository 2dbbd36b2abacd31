"""TE-NAS (Chen, Gong, Wang, ICLR 2021): the NTK condition number, the number of linear
regions, and their rank combination over a population. Reference code: VITA-Group/TENAS,
``lib/procedures/ntk.py``, ``lib/procedures/linear_region_counter.py``, ``prune_tenas.py``.

``ntk``: on a copy (BN in train mode, as ``get_ntk_n(..., train_mode=True)``), one forward pass
of the batch, then for each sample i the gradient of Σ_k logit_ik w.r.t. the weights (one
backward per sample, retaining the graph; train-mode BN couples the samples, so there is no
cheaper exact per-sample gradient). The weights are TE-NAS's (``weights="named_weight"``,
default): every parameter whose name contains "weight", BatchNorm weights included;
``weights="conv_linear"`` takes Conv2d/Linear weights only (NASLib's layer set). G is S x P,
NTK = G Gᵀ, eigenvalues by ``eigvalsh``, score λ_max/λ_min. ``accumulate="float64"`` (default)
accumulates G Gᵀ and takes the eigenvalues in float64; ``"float32"`` does both in float32 as
TE-NAS (``einsum`` and a float32 symmetric eigensolver), which agrees with TE-NAS's own values
to float32 eigensolver rounding (see results/reference_agreement.md), not bit for bit: LAPACK's
float32 results depend on the library build. TE-NAS prefers a *small* condition number: the
proxy returns the condition number itself and is registered with ``higher_is_better=False``.

``linear_regions``: forward passes without gradients on a copy (BN in train mode) of random
small inputs, hooks on every ``nn.ReLU`` with 4-D input (TE-NAS's ``register_hook``), binary
code 1(output > 0); the score is the number of distinct per-sample codes over all hooked units.
TE-NAS's collector is built with ``input_size=(1000, 1, 3, 3), sample_batch=3``: 3 forward
batches of 1000 samples of 3 x 3 pixels (``n_samples=1000``, ``batches=3``, ``input_size=3``),
counted together. TE-NAS crops them from training images and keeps one random channel, on a
1-channel stem-less 1-cell network; zcbench scores the network it is given, so the inputs keep
the network's input channels and are N(0, 1) (``source="gaussian"``) or random crops of the
probe's batch (``source="crops"``). TE-NAS's count Σ_i 1/#{j: code_j = code_i} (in half
precision) is a float close to the count; zcbench returns the exact integer (via
:func:`zc_proxies.patterns.sample_labels`). A network that cannot run on ``input_size`` inputs
gets an error that says to change it. With many channels nearly every sample gets its own code
and the count saturates at ``n_samples * batches`` (it does for NB201 C=16 and for the DARTS
scorer at the defaults); TE-NAS uses a C = 1 network for that reason.

``init`` (both): ``"none"`` keeps the network's own weights. This is what TE-NAS's launcher
effectively does: it passes ``--init kaiming_normal`` and ``init_model`` re-initialises only for
``"kaiming_norm_fanin"``/``"kaiming_norm_fanout"``, so ``"kaiming_normal_fanout"`` matches
nothing and PyTorch's default init stays. ``"kaiming"`` is what TE-NAS meant: Kaiming-normal
(ReLU gain) with fan_out for the NTK ("for backward") and fan_in for linear regions ("for
forward"), BN weight 1, bias 0. ``"gaussian"``: N(0, 1) as SWAP/zen. Random inits are drawn
from a generator seeded from the probe seed and the repeat index. ``repeats`` averages over
re-inits (TE-NAS: 3, over fresh data batches); with ``init="none"`` and the probe's fixed
batch every NTK repeat is identical, so it is computed once.

``tenas``: TE-NAS ranks candidates by cond(NTK) ascending and #regions descending, ties share a
rank and the next value gets the next integer (dense ranks from 0), and prefers the smallest
rank sum. ``tenas`` returns *minus* the rank sum (higher is better) over a study's population.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from zc_proxies.base import register_proxy
from zc_proxies.errors import UsageError
from zc_proxies.patterns import merge_labels, n_groups, sample_labels
from zc_proxies.population import Combined, Population, per_network, register_population_proxy
from zc_proxies.probe import (BN_MODES, Probe, draw_normal, fill_from_cpu_, gaussian_init_, mix_seed, prepare_copy,
                              register_signal)

INITS = ("none", "kaiming", "gaussian")
WEIGHTS = ("conv_linear", "named_weight")
SOURCES = ("gaussian", "crops")
RANK_METHODS = ("dense", "average", "min", "max", "ordinal")
ACCUMULATE = ("float64", "float32")
NTK_DEFAULTS = {"init": "none", "bn_mode": "train", "repeats": 1, "batch": None, "weights": "named_weight",
                "accumulate": "float64"}
LR_DEFAULTS = {"init": "none", "bn_mode": "train", "repeats": 1, "n_samples": 1000, "batches": 3,
               "input_size": 3, "source": "gaussian"}
_NTK_TAG, _LR_TAG = 31, 37
_CHUNK = 1 << 16  # columns of G per float64 block of the NTK accumulation


def _check(name, value, allowed):
    if value not in allowed:
        raise UsageError(f"{name} must be one of {allowed}, not {value!r}")


def _positive_int(name, value, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be a positive integer{' or None' if allow_none else ''}, not {value!r}")


def tenas_generator(seed: int, kind: str, repeat: int = 0) -> torch.Generator:
    """The generator of repeat ``repeat`` of ``kind`` ("ntk": the init; "linear_regions": the
    init, then the inputs batch by batch) for a probe seed."""
    tag = {"ntk": _NTK_TAG, "linear_regions": _LR_TAG}[kind]
    return torch.Generator().manual_seed(mix_seed(seed, tag, repeat))


def tenas_init_(net: nn.Module, init: str, mode: str, generator: torch.Generator) -> nn.Module:
    """Re-initialise ``net`` in place: ``init="kaiming"`` (TE-NAS's kaiming_normal_{fanin,fanout}
    init with ``mode``), ``"gaussian"`` (N(0, 1)), ``"none"`` (leave as is)."""
    _check("init", init, INITS)
    if init == "gaussian":
        return gaussian_init_(net, generator)
    if init == "kaiming":
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    fill_from_cpu_(m.weight, lambda t: nn.init.kaiming_normal_(
                        t, mode=mode, nonlinearity="relu", generator=generator))
                    if m.bias is not None:
                        m.bias.zero_()
                elif isinstance(m, nn.BatchNorm2d):
                    if m.weight is not None:
                        m.weight.fill_(1.0)
                    if m.bias is not None:
                        m.bias.zero_()
    return net


# ----------------------------------------------------------------------------- ntk

def ntk_weights(net: nn.Module, weights: str = "named_weight") -> list[torch.Tensor]:
    """The tensors the NTK differentiates: Conv2d/Linear weights (``"conv_linear"``, NASLib's
    layer set) or every parameter whose name contains "weight" (``"named_weight"``: TE-NAS's
    ``get_ntk_n``, which includes BN affine weights)."""
    _check("weights", weights, WEIGHTS)
    if weights == "named_weight":
        out = [p for n, p in net.named_parameters() if "weight" in n]
    else:
        out = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    seen, uniq = set(), []
    for p in out:
        if id(p) not in seen:
            seen.add(id(p))
            uniq.append(p)
    return uniq


def ntk_logits(out):
    """TE-NAS takes ``logit[1]`` when a network returns a tuple (NB201 nets: features, logits)."""
    if isinstance(out, (tuple, list)):
        out = out[1]
    return out


#: per-sample rows per batched backward (``is_grads_batched``) on CUDA: bounds the memory of
#: the batched backward to this many copies of the activation gradients
NTK_BATCH_ROWS = 16


def _ntk_rows_loop(out, params, n):
    """Row i: d(Σ_k out_ik)/dW, one backward per sample (retaining the graph), as TE-NAS."""
    rows, used = [], None
    for i in range(n):
        grads = torch.autograd.grad(out[i].sum(), params, retain_graph=i < n - 1, allow_unused=True)
        if used is None:
            used = [g is not None for g in grads]
            if not any(used):
                raise ValueError("the network output does not depend on any weight; the NTK is undefined")
        rows.append(torch.cat([g.reshape(-1) for g, u in zip(grads, used) if u]))
    return torch.stack(rows)


def _ntk_rows_batched(out, params, n, rows_per_pass=NTK_BATCH_ROWS):
    """The same rows, ``rows_per_pass`` samples per backward (``is_grads_batched``: a vmap over
    the backward with one-hot output weights), equal to the loop within float rounding."""
    chunks = []
    for start in range(0, n, rows_per_pass):
        k = min(rows_per_pass, n - start)
        eye = torch.zeros((k, *out.shape), dtype=out.dtype, device=out.device)
        eye[torch.arange(k), torch.arange(start, start + k)] = 1.0  # row i of the output, all its logits
        grads = torch.autograd.grad(out, params, grad_outputs=eye, retain_graph=start + k < n, allow_unused=True,
                                    is_grads_batched=True)
        if all(g is None for g in grads):
            raise ValueError("the network output does not depend on any weight; the NTK is undefined")
        chunks.append(torch.cat([g.reshape(k, -1) for g in grads if g is not None], dim=1))
    return torch.cat(chunks)


def ntk_gradients(net: nn.Module, inputs: torch.Tensor, weights: str = "named_weight", *,
                  batched: bool | None = None) -> torch.Tensor:
    """(S, P) float32: row i is the gradient of Σ_k logit_ik w.r.t. the ``weights`` (``net``
    used as given: pass a prepared copy). The rows come from one backward per sample
    (``batched=False``, the CPU default: faster there, TE-NAS's loop) or from batched
    backwards (``True``, the CUDA default); both give the same rows within float rounding."""
    params = ntk_weights(net, weights)
    if not params:
        raise ValueError(f"ntk found no weights to differentiate (weights={weights!r})")
    if batched is None:
        batched = inputs.device.type == "cuda"
    with torch.enable_grad():
        out = ntk_logits(net(inputs.detach().clone()))
        n = int(out.shape[0])
        return (_ntk_rows_batched if batched else _ntk_rows_loop)(out, params, n)  # float32, as TE-NAS stacks it


def gram(g: torch.Tensor, accumulate: str = "float64") -> np.ndarray:
    """G Gᵀ: accumulated in float64 blocks, or in float32 by TE-NAS's ``einsum``."""
    if accumulate == "float32":
        return torch.einsum("nc,mc->nm", g, g).cpu().numpy()
    n = g.shape[0]
    ntk = torch.zeros(n, n, dtype=torch.float64, device=g.device)
    for j in range(0, g.shape[1], _CHUNK):
        blk = g[:, j : j + _CHUNK].double()
        ntk += blk @ blk.T
    return ntk.cpu().numpy()


def ntk_matrix(net: nn.Module, inputs: torch.Tensor, weights: str = "named_weight",
               accumulate: str = "float64", *, batched: bool | None = None) -> np.ndarray:
    """S x S NTK G Gᵀ of ``net`` (used as given: pass a prepared copy), float64 or (``accumulate
    ="float32"``) float32 as TE-NAS."""
    return gram(ntk_gradients(net, inputs, weights, batched=batched), accumulate)


def eigenvalues(k: np.ndarray, accumulate: str = "float64") -> np.ndarray:
    """Ascending eigenvalues (float64 array) of a symmetric NTK: numpy's float64 ``eigvalsh``, or
    torch's float32 symmetric eigensolver as TE-NAS (``accumulate="float32"``)."""
    if accumulate == "float32":
        return torch.linalg.eigvalsh(torch.from_numpy(k)).double().numpy()
    with np.errstate(all="ignore"):
        return np.linalg.eigvalsh(k)


@dataclass
class NTKSpectrum:
    eigenvalues: np.ndarray  # ascending, float64
    eigenvalues32: np.ndarray | None = None  # the float32 computation's (TE-NAS)

    def cond(self, accumulate: str = "float64") -> float:
        """λ_max / λ_min; non-finite (no warning) when λ_min is 0, as on a cell whose output
        does not depend on its weights."""
        ev = self.eigenvalues32 if accumulate == "float32" else self.eigenvalues
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(ev[-1] / ev[0])



@register_signal("ntk")
def _ntk_signal(probe: Probe, *, init: str, bn_mode: str, batch, weights: str, repeat: int) -> NTKSpectrum:
    """Both spectra from one set of per-sample gradients (the backward passes are the cost)."""
    work = prepare_copy(probe.net, reinit="none", bn_mode=bn_mode)
    tenas_init_(work, init, "fan_out", tenas_generator(probe.seed, "ntk", repeat))
    x = probe.inputs if batch is None else probe.inputs[:batch]
    g = ntk_gradients(work, x, weights)
    return NTKSpectrum(eigenvalues(gram(g)), eigenvalues(gram(g, "float32"), "float32"))


@register_proxy("ntk", consumes=("ntk",), family="trainability", higher_is_better=False,
                paper="Chen, Gong, Wang, TE-NAS, ICLR 2021", defaults=NTK_DEFAULTS)
def ntk(probe: Probe, *, init: str, bn_mode: str, repeats: int, batch, weights: str, accumulate: str = "float64") -> float:
    """Condition number λ_max/λ_min of the empirical NTK (lower is better)."""
    _check("init", init, INITS)
    _check("bn_mode", bn_mode, BN_MODES)
    _check("weights", weights, WEIGHTS)
    _check("accumulate", accumulate, ACCUMULATE)
    _positive_int("repeats", repeats)
    _positive_int("batch", batch, allow_none=True)
    if batch is not None and batch > probe.inputs.shape[0]:
        raise UsageError(f"batch={batch} is larger than the probe batch ({probe.inputs.shape[0]} samples)")
    if batch is not None and batch < 2:
        raise UsageError("the NTK condition number needs batch >= 2 samples")
    n = 1 if init == "none" else repeats  # identical weights and batch: one computation
    conds = [probe.signal("ntk", init=init, bn_mode=bn_mode, batch=batch, weights=weights, repeat=r).cond(accumulate)
             for r in range(n)]
    if not all(np.isfinite(conds)):
        raise ValueError("the empirical NTK is singular (smallest eigenvalue 0), so its condition number is undefined: "
                         "the output does not depend on the weights, e.g. a cell whose input cannot reach its output, "
                         "or an encoder ending in a LayerNorm, whose summed output is constant")
    return float(np.mean(conds))


# ----------------------------------------------------------------------------- linear regions

def region_inputs(probe_inputs: torch.Tensor, n: int, size: int, source: str,
                  generator: torch.Generator) -> torch.Tensor:
    """``n`` inputs of ``size`` x ``size`` with the probe's channels: N(0, 1) or random crops,
    on the probe's device (drawn from the CPU ``generator``)."""
    _check("source", source, SOURCES)
    channels = int(probe_inputs.shape[1])
    if source == "gaussian":
        return draw_normal((n, channels, size, size), generator, probe_inputs.device)
    s, _, h, w = probe_inputs.shape
    if size > h or size > w:
        raise UsageError(f"input_size={size} is larger than the probe images ({h} x {w}); cannot crop")
    img = torch.randint(int(s), (n,), generator=generator)
    top = torch.randint(h - size + 1, (n,), generator=generator)
    left = torch.randint(w - size + 1, (n,), generator=generator)
    src = probe_inputs.detach()
    picks = zip(img.tolist(), top.tolist(), left.tolist())
    return torch.stack([src[i, :, t : t + size, l : l + size] for i, t, l in picks])


def count_linear_regions(net: nn.Module, batches: list[torch.Tensor]) -> int:
    """Distinct per-sample binary codes of every nn.ReLU (4-D input) output, over all batches
    (one forward pass each; ``net`` used as given: pass a prepared copy)."""
    per_call: list[list[torch.Tensor]] = []
    calls: list[torch.Tensor] = []

    def hook(module, inp, out):
        if inp[0].dim() == 4:
            calls.append((out.detach().reshape(out.shape[0], -1) > 0))

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            for b, x in enumerate(batches):
                calls.clear()
                try:
                    net(x)
                except RuntimeError as exc:
                    raise ValueError(
                        f"linear_regions: the network cannot run on {tuple(x.shape[1:])} inputs ({exc}); set "
                        "input_size to a size it accepts") from exc
                if b == 0:
                    per_call = [[c] for c in calls]
                elif len(calls) != len(per_call):
                    raise ValueError("the number of hooked ReLU calls changed between batches")
                else:
                    for k, c in enumerate(calls):
                        per_call[k].append(c)
    finally:
        for h in handles:
            h.remove()
    if not per_call:
        raise ValueError("linear_regions hooked no activation: the network has no nn.ReLU module with 4-D input")
    labels = None
    for chunks in per_call:
        labels = merge_labels(labels, sample_labels(torch.cat(chunks)))
    return n_groups(labels)


@register_signal("linear_regions")
def _lr_signal(probe: Probe, *, init: str, bn_mode: str, n_samples: int, batches: int, input_size: int,
               source: str, repeat: int) -> int:
    work = prepare_copy(probe.net, reinit="none", bn_mode=bn_mode)
    gen = tenas_generator(probe.seed, "linear_regions", repeat)
    tenas_init_(work, init, "fan_in", gen)
    xs = [region_inputs(probe.inputs, n_samples, input_size, source, gen) for _ in range(batches)]
    return count_linear_regions(work, xs)


@register_proxy("linear_regions", consumes=("linear_regions",), family="expressivity",
                paper="Chen, Gong, Wang, TE-NAS, ICLR 2021", defaults=LR_DEFAULTS)
def linear_regions(probe: Probe, *, init: str, bn_mode: str, repeats: int, n_samples: int, batches: int,
                   input_size: int, source: str) -> float:
    """Number of distinct ReLU activation patterns among random small inputs (higher is better)."""
    _check("init", init, INITS)
    _check("bn_mode", bn_mode, BN_MODES)
    _check("source", source, SOURCES)
    for name, v in (("repeats", repeats), ("n_samples", n_samples), ("batches", batches), ("input_size", input_size)):
        _positive_int(name, v)
    vals = [probe.signal("linear_regions", init=init, bn_mode=bn_mode, n_samples=n_samples, batches=batches,
                         input_size=input_size, source=source, repeat=r) for r in range(repeats)]
    return float(np.mean(vals))


# ----------------------------------------------------------------------------- tenas (population)

def rank_from_best(values, *, descending: bool, method: str = "dense") -> np.ndarray:
    """0-based ranks, 0 = best. ``"dense"``: TE-NAS's rule (ties share a rank, the next distinct
    value gets the next integer); other methods as ``scipy.stats.rankdata``. NaN ranks worst."""
    _check("rank_method", method, RANK_METHODS)
    v = np.asarray(values, dtype=float)
    key = -v if descending else v.copy()
    key[np.isnan(key)] = np.inf
    if method == "dense":
        return np.unique(key, return_inverse=True)[1].ravel().astype(float)
    from scipy.stats import rankdata

    return rankdata(key, method=method).astype(float) - 1.0


def tenas_combine(ntk_values, lr_values, *, rank_method: str = "dense", **_base_opts) -> tuple[np.ndarray, dict]:
    """TE-NAS score over a population: -(rank of cond(NTK), ascending + rank of #regions,
    descending), so higher is better and the best architecture on both scores 0."""
    ntk_v = np.asarray(ntk_values, dtype=float)
    lr_v = np.asarray(lr_values, dtype=float)
    if ntk_v.shape != lr_v.shape or ntk_v.ndim != 1:
        raise ValueError(f"ntk and linear_regions values must be 1-D of equal length, "
                         f"got {ntk_v.shape} and {lr_v.shape}")
    r_ntk = rank_from_best(ntk_v, descending=False, method=rank_method)
    r_lr = rank_from_best(lr_v, descending=True, method=rank_method)
    return 0.0 - (r_ntk + r_lr), {"rank_method": rank_method, "n": int(ntk_v.size)}  # 0.0 - : no -0.0


@register_population_proxy(
    "tenas", bases=lambda opts, study_labels: (per_network("ntk", opts), per_network("linear_regions", opts)),
    family="ensemble", paper="Chen, Gong, Wang, TE-NAS, ICLR 2021 (rank combination)",
    defaults={**NTK_DEFAULTS, **LR_DEFAULTS, "rank_method": "dense"})
def tenas(population: Population, *, rank_method: str, **_base_opts) -> Combined:
    """-(rank of cond(NTK) + rank of #linear regions) over a study's population."""
    return Combined(*tenas_combine(population.scores["ntk"], population.scores["linear_regions"],
                                   rank_method=rank_method))
