"""Gradient proxies of NASLib's zero-cost predictors (grad_norm, snip, plain, fisher, grasp,
synflow, l2_norm) and ZiCo, over four shared signals.

Signals (each computed once per probe, on a train-mode deep copy of ``probe.net``):

* ``"grads"``: one forward + backward of ``loss(net(x), y)``; per Conv2d/Linear layer the
  weight, its gradient and fisher's per-channel value. grad_norm, snip, plain and fisher all
  read it, where NASLib runs one copy and one backward per proxy. grasp reuses its gradient as
  GraSP's first pass when ``T == 1`` and ``num_iters == 1``. When the proxies still to run
  (``probe.plan``) ask for them, the same pass also gives nwot's codes, the input Jacobian and
  GraSP's Hg (see ``_grads_signal``).
* ``"grasp"``: the Hessian-gradient product Hg of GraSP (one double backward).
* ``"synflow"``: |weights| in float64 and ∂R/∂W for the all-ones input.
* ``"chunk_grads"``: per-chunk weight gradients (ZiCo, and L-SWAG's Λ).

"Layers" are the ``nn.Conv2d`` and ``nn.Linear`` modules (subclasses included) in
``net.named_modules()`` order, weights only, biases ignored, as NASLib's
``get_layer_metric_array``. A weight whose ``.grad`` stays ``None`` after backward (an unused
layer, e.g. a conv whose node feeds only ``none`` edges in NB201, or the dropped classifier
of the DARTS scorer) counts as a zero gradient. Networks returning ``(logits, aux)`` are
scored on the first element (:func:`zc_proxies.losses.main_output`).

Every pass runs under ``torch.random.fork_rng`` seeded from ``probe.seed``, so networks with
dropout give the same scores bit for bit, and the global RNG is left as it was.

Accumulation (option ``accumulate`` of grad_norm, snip, plain, fisher, grasp, l2_norm and zico):
``"float64"`` (default) adds the per-layer sums as Python floats; ``"float32"`` reproduces the
reference bit for bit: NASLib adds the per-layer ``torch.sum``s in a float32 tensor (its
``sum_arr``; fisher's channel values broadcast to full weight-shaped tensors first), and
official ZiCo takes mean, std, ratio sums and logs in float32 numpy. The two differ by float32
rounding only: at most 2.4e-6 relative on the NB201 networks of results/reference_agreement.md.
synflow needs no option: NASLib sums it in float64, as zcbench does.
"""
from __future__ import annotations

import math
import types
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from zc_proxies.base import register_proxy
from zc_proxies.errors import UsageError
from zc_proxies.losses import get_loss, main_output
from zc_proxies.probe import Probe, mix_seed, prepare_copy, register_signal

__all__ = [
    "LAYER_TYPES",
    "LayerGrad",
    "ChunkGrad",
    "weight_layers",
    "synflow_log",
    "zico_score",
]

LAYER_TYPES = (nn.Conv2d, nn.Linear)
NASLIB_PAPER = "Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021 (NASLib zero-cost version)"
ZICO_PAPER = "Li et al., ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on Gradients, ICLR 2023"

# tags mixed into probe.seed, one per pass, so that passes draw independent random streams
_SEED_GRADS, _SEED_GRASP, _SEED_SYNFLOW, _SEED_CHUNKS = 101, 102, 103, 104


@dataclass(frozen=True)
class LayerGrad:
    """One Conv2d/Linear layer of a gradient signal.

    ``weight``: the layer's weight (detached, from the signal's own copy of the network);
    ``grad``: a gradient of the weight's shape (zeros where autograd gave None);
    ``fisher``: (C_out,) fisher values, only in the ``"grads"`` signal.
    """

    name: str
    weight: torch.Tensor
    grad: torch.Tensor
    fisher: torch.Tensor | None = None


class ChunkGrad(NamedTuple):
    """One layer of ``"chunk_grads"``: its name and a (chunks, numel) tensor whose row c is
    the flattened weight gradient after chunk c."""

    name: str
    grads: torch.Tensor


ACCUMULATE = ("float64", "float32")


def check_accumulate(accumulate: str) -> None:
    if accumulate not in ACCUMULATE:
        raise UsageError(f"accumulate must be one of {ACCUMULATE}, not {accumulate!r}")


def layer_total(terms, accumulate: str = "float64") -> float:
    """Σ over layers of ``torch.sum(term)``: per-layer sums added as Python floats (``"float64"``)
    or in a tensor of the terms' dtype (``"float32"`` for float32 networks: NASLib's ``sum_arr``)."""
    check_accumulate(accumulate)
    if accumulate == "float64":
        return float(sum(torch.sum(t).item() for t in terms))
    acc = None
    for t in terms:
        s = torch.sum(t)
        acc = s if acc is None else acc + s
    return 0.0 if acc is None else float(acc.item())


def weight_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every Conv2d/Linear, in ``named_modules`` order (shared modules once)."""
    return [(n, m) for n, m in net.named_modules() if isinstance(m, LAYER_TYPES)]


@contextmanager
def _seeded(seed: int):
    """Run a pass with the global torch RNG seeded (dropout), restoring it afterwards."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _train_copy(probe: Probe) -> nn.Module:
    """A deep copy in train mode (BN uses batch statistics, as NASLib), with no stale ``.grad``
    copied from ``probe.net`` and every layer weight requiring grad."""
    work = prepare_copy(probe.net, reinit="none", bn_mode="train")
    work.zero_grad(set_to_none=True)
    for _, m in weight_layers(work):
        m.weight.requires_grad_(True)
    return work


def _needs_targets(probe: Probe, what: str) -> None:
    if probe.targets is None:
        raise UsageError(f"{what} needs targets: build the Probe with targets=... (labels for "
                         f"{probe.loss!r})")


def _loss(probe: Probe, work: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return get_loss(probe.loss)(probe.logits(work(x)), y)


def _grad_or_zeros(w: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
    return torch.zeros_like(w) if g is None else g.detach()


# ----------------------------------------------------------------------------- "grads"

def _fisher_channel(act: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """NASLib fisher per output channel: 0.5 · mean_n (Σ_spatial a·g)² (no sum for 2-D)."""
    if act.dim() > 2:
        g_nk = (act * grad).sum(dim=tuple(range(2, act.dim())))
    else:
        g_nk = act * grad
    return g_nk.pow(2).mean(0).mul(0.5)


def _has_dropout(net: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 for m in net.modules())


@dataclass
class _Shared:
    """What the loss pass also computes for proxies still to run (``probe.plan``)."""

    jacobian: bool = False         # input_jacobian(bn_mode="train")
    nwot: tuple[bool, ...] = ()    # nwot_kernel(bn_mode="train", leaky=...) per leaky flag
    grasp: tuple | None = None     # (T, num_iters) of grasp with T = 1, num_iters = 1


def _loss_pass_shares(probe: Probe) -> _Shared:
    """The signals of planned proxies that the loss pass's own forward and backward give with the
    values their own functions would (same copy, weights, batch and train-mode BN): the input
    Jacobian, nwot's codes, and GraSP's Hg (its first gradient is this pass's gradient; the same
    gradient, taken with its graph, is the one it differentiates). Nothing is shared on a network
    with active dropout modules, whose passes draw their own masks."""
    if not probe.plan or _has_dropout(probe.net):
        return _Shared()
    out = _Shared()
    if any(o.get("bn_mode") == "train" for o in probe.planned("input_jacobian")) \
            and not probe.has("input_jacobian", bn_mode="train"):
        out.jacobian = True
    out.nwot = tuple(sorted({o["leaky"] for o in probe.planned("nwot_kernel")
                             if o.get("bn_mode") == "train" and isinstance(o.get("leaky"), bool)
                             and not probe.has("nwot_kernel", bn_mode="train", leaky=o["leaky"])}))
    for o in probe.planned("grasp"):
        T, it = o.get("T"), o.get("num_iters")
        if T == 1 and it == 1 and not isinstance(it, bool) and not probe.has("grasp", T=T, num_iters=it):
            out.grasp = (T, it)
            break
    return out


@register_signal("grads")
def _grads_signal(probe: Probe) -> list[LayerGrad]:
    """One forward + backward on a train-mode copy; per layer: weight, gradient and fisher.

    Fisher hooks each layer's output a (forward hook) and its gradient g (a tensor hook on
    that output); a layer called several times adds up its calls' values. As in NASLib, the
    activation is the output tensor itself, so an in-place op applied to it later (a
    ``ReLU(inplace=True)`` right after the conv) is seen by fisher.

    The same pass serves the proxies of ``probe.plan`` that ask for the input Jacobian or nwot's
    codes in train mode, or for GraSP with T = 1 and one iteration (:func:`_loss_pass_shares`):
    the forward pass records nwot's codes, the input is differentiated too, and the gradient is
    taken with its graph for GraSP's Hessian-gradient product; their values are provided to the
    probe, so they run no passes of their own.
    """
    from zc_proxies.jacobian import InputJacobian, first_output
    from zc_proxies.nwot import KernelHook

    _needs_targets(probe, "signal 'grads'")
    share = _loss_pass_shares(probe)
    work = _train_copy(probe)
    layers = weight_layers(work)
    weights = [m.weight for _, m in layers]
    fisher: list[torch.Tensor | None] = [None] * len(layers)
    in_loss_backward = [False]  # fisher adds only the loss gradient's values

    def forward_hook(k: int):
        def hook(module, inputs, out):
            if not (isinstance(out, torch.Tensor) and out.requires_grad):
                return
            act = out.detach()

            def on_grad(grad: torch.Tensor) -> None:
                if not in_loss_backward[0]:
                    return
                value = _fisher_channel(act, grad.detach())
                fisher[k] = value if fisher[k] is None else fisher[k] + value

            out.register_hook(on_grad)

        return hook

    kernels = [KernelHook(int(probe.inputs.shape[0]), probe.inputs.device, leaky=lk) for lk in share.nwot]
    handles = [m.register_forward_hook(forward_hook(k)) for k, (_, m) in enumerate(layers)]
    handles += [m.register_forward_hook(fn) for kh in kernels for m, fn in kh.hooks(work)]
    x = probe.inputs.detach().clone().requires_grad_(True) if share.jacobian else probe.inputs
    jac = hg = None
    try:
        with _seeded(mix_seed(probe.seed, _SEED_GRADS)):
            out = work(x)
            for h in handles[len(layers):]:  # nwot's codes are taken
                h.remove()
            loss = get_loss(probe.loss)(probe.logits(out), probe.targets)
            gs: list[torch.Tensor | None] = [None] * len(weights)
            if loss.requires_grad:
                in_loss_backward[0] = True
                try:
                    gs = list(torch.autograd.grad(loss, weights, create_graph=share.grasp is not None,
                                                  retain_graph=share.jacobian or share.grasp is not None,
                                                  allow_unused=True))
                finally:
                    in_loss_backward[0] = False
            if share.jacobian:
                y = first_output(out)
                if y.requires_grad:
                    (xg,) = torch.autograd.grad(y, x, torch.ones_like(y), retain_graph=share.grasp is not None,
                                                allow_unused=True)
                    if xg is not None:
                        jac = InputJacobian(xg.detach(), tuple(y.shape))
            if share.grasp is not None:
                terms = [(g.detach() * g).sum() for g in gs if g is not None]
                z = sum(terms[1:], terms[0]) if terms else None
                hg = torch.autograd.grad(z, weights, allow_unused=True) if z is not None and z.requires_grad \
                    else [None] * len(weights)
    finally:
        for h in handles:
            h.remove()
    result = []
    for k, (name, m) in enumerate(layers):
        w = m.weight.detach()
        f = fisher[k] if fisher[k] is not None else torch.zeros(w.shape[0], dtype=w.dtype, device=w.device)
        result.append(LayerGrad(name, w, _grad_or_zeros(w, gs[k]), f))
    for kh in kernels:
        if kh.calls:  # else nwot's own signal raises its error
            probe.provide("nwot_kernel", kh.kernel(), bn_mode="train", leaky=kh.leaky)
    if jac is not None:
        probe.provide("input_jacobian", jac, bn_mode="train")
    if hg is not None:
        T, it = share.grasp
        probe.provide("grasp", [LayerGrad(name, m.weight.detach(), _grad_or_zeros(m.weight, h))
                                for (name, m), h in zip(layers, hg)], T=T, num_iters=it)
    return result


ACC = {"accumulate": "float64"}


@register_proxy("grad_norm", consumes=("grads",), family="trainability", paper=NASLIB_PAPER, defaults=ACC)
def grad_norm(probe: Probe, *, accumulate: str = "float64") -> float:
    """Σ over Conv/Linear layers of the Frobenius norm of ∇_W L."""
    return layer_total((lg.grad.norm() for lg in probe.signal("grads")), accumulate)


@register_proxy("snip", consumes=("grads",), family="trainability",
                paper=NASLIB_PAPER + "; after Lee et al., SNIP, ICLR 2019", defaults=ACC)
def snip(probe: Probe, *, accumulate: str = "float64") -> float:
    """Σ |∇_W L ⊙ W| (NASLib's |∂L/∂mask| with W·mask, mask = 1)."""
    return layer_total(((lg.grad * lg.weight).abs() for lg in probe.signal("grads")), accumulate)


@register_proxy("plain", consumes=("grads",), family="trainability", paper=NASLIB_PAPER, defaults=ACC)
def plain(probe: Probe, *, accumulate: str = "float64") -> float:
    """Σ ∇_W L ⊙ W, signed."""
    return layer_total((lg.grad * lg.weight for lg in probe.signal("grads")), accumulate)


@register_proxy("fisher", consumes=("grads",), family="trainability",
                paper=NASLIB_PAPER + "; after Theis et al. 2018 / Turner et al. 2020",
                defaults={"broadcast_fan_in": True, **ACC})
def fisher(probe: Probe, *, broadcast_fan_in: bool, accumulate: str = "float64") -> float:
    """Σ over channels of |0.5 · mean_n (Σ_spatial a·g)²|, each channel weighted by its fan-in.

    ``broadcast_fan_in=True`` (NASLib QUIRK): the channel value is broadcast to every weight of
    its output channel (``weight.shape[1:]``: C_in/groups · k · k, or in_features) before the
    global sum; ``False`` sums the channel values only. With ``accumulate="float32"`` the
    broadcast is NASLib's: a weight-shaped tensor of channel values, summed in float32.
    """
    check_accumulate(accumulate)
    if accumulate == "float32":
        def term(lg):
            ch = lg.fisher.abs()
            if not broadcast_fan_in:
                return ch
            return ch.reshape(-1, *[1] * (lg.weight.dim() - 1)).expand(lg.weight.shape).contiguous()

        return layer_total((term(lg) for lg in probe.signal("grads")), accumulate)
    total = 0.0
    for lg in probe.signal("grads"):
        ch = lg.fisher.abs()
        if broadcast_fan_in:
            ch = ch * lg.weight[0].numel()
        total += ch.sum().item()
    return float(total)


# ----------------------------------------------------------------------------- "grasp"

@register_signal("grasp")
def _grasp_signal(probe: Probe, *, T: float, num_iters: int) -> list[LayerGrad]:
    """GraSP as in NASLib: g = Σ_iters ∇_W L(out/T) (no graph), then on a second forward
    z = Σ_layers Σ g ⊙ ∇_W L(out/T) (with graph) and Hg = ∂z/∂W. ``grad`` holds Hg.

    With ``T == 1`` and ``num_iters == 1`` the first pass equals the ``"grads"`` signal's
    gradient (same copy, same batch, BN on batch statistics), which is reused.
    """
    _needs_targets(probe, "signal 'grasp'")
    if isinstance(num_iters, bool) or not isinstance(num_iters, int) or num_iters < 1:
        raise UsageError(f"grasp num_iters must be a positive integer, not {num_iters!r}")
    if not T:
        raise UsageError(f"grasp temperature T must be nonzero, not {T!r}")
    work = _train_copy(probe)
    layers = weight_layers(work)
    weights = [m.weight for _, m in layers]
    x, y = probe.inputs, probe.targets
    loss_fn = get_loss(probe.loss)

    if T == 1 and num_iters == 1:
        grad_w: list[torch.Tensor | None] = [lg.grad for lg in probe.signal("grads")]
    else:  # NASLib repeats the same batch num_iters times and sums (its TODO: "useless")
        grad_w = [None] * len(weights)
        for it in range(num_iters):
            with _seeded(mix_seed(probe.seed, _SEED_GRASP, it)):
                loss = loss_fn(probe.logits(work(x)) / T, y)
                gs = torch.autograd.grad(loss, weights, allow_unused=True) if loss.requires_grad \
                    else [None] * len(weights)
            for k, g in enumerate(gs):
                if g is not None:
                    grad_w[k] = g if grad_w[k] is None else grad_w[k] + g

    with _seeded(mix_seed(probe.seed, _SEED_GRASP, 1_000_000)):
        loss = loss_fn(probe.logits(work(x)) / T, y)
        grad_f = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True) \
            if loss.requires_grad else [None] * len(weights)
        terms = [(gw.detach() * gf).sum() for gw, gf in zip(grad_w, grad_f)
                 if gw is not None and gf is not None]
        z = sum(terms[1:], terms[0]) if terms else None
        if z is not None and z.requires_grad:
            hg = torch.autograd.grad(z, weights, allow_unused=True)
        else:
            hg = [None] * len(weights)
    return [LayerGrad(name, m.weight.detach(), _grad_or_zeros(m.weight, h))
            for (name, m), h in zip(layers, hg)]


@register_proxy("grasp", consumes=("grads", "grasp"), family="trainability",
                paper=NASLIB_PAPER + "; after Wang et al., GraSP, ICLR 2020",
                defaults={"T": 1, "num_iters": 1, **ACC})
def grasp(probe: Probe, *, T: float, num_iters: int, accumulate: str = "float64") -> float:
    """Σ (−W ⊙ Hg): GraSP's saliency with the sign flipped (NASLib), temperature T, 1 iteration."""
    check_accumulate(accumulate)
    sig = probe.signal("grasp", T=T, num_iters=num_iters)
    return layer_total((-lg.weight * lg.grad for lg in sig), accumulate)


# ----------------------------------------------------------------------------- "synflow"

def _identity_forward(self, x):
    return x


@register_signal("synflow")
def _synflow_signal(probe: Probe, *, bn: bool) -> list[LayerGrad]:
    """SynFlow as in NASLib: copy (BN forward replaced by the identity unless ``bn``), every
    state-dict tensor made absolute, cast to float64, all-ones input [1, C, H, W],
    R = Σ output, backward. ``weight`` is |W| (float64), ``grad`` is ∂R/∂W."""
    work = prepare_copy(probe.net, reinit="none", bn_mode="train")
    if not bn:
        for m in work.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.forward = types.MethodType(_identity_forward, m)
    with torch.no_grad():
        for t in work.state_dict().values():
            if t.dtype != torch.bool and not t.is_complex():
                t.abs_()
    work.double()
    work.zero_grad(set_to_none=True)
    for _, m in weight_layers(work):
        m.weight.requires_grad_(True)
    x = torch.ones((1, *probe.inputs.shape[1:]), dtype=torch.float64, device=probe.inputs.device)
    with _seeded(mix_seed(probe.seed, _SEED_SYNFLOW)):
        r = main_output(work(x)).sum()
        if r.requires_grad:
            r.backward()
    return [LayerGrad(name, m.weight.detach(), _grad_or_zeros(m.weight, m.weight.grad))
            for name, m in weight_layers(work)]


def synflow_log(s: float) -> float:
    """NASLib's ``ZeroCost.query`` post-processing: sign(s) · log|s|, and 0 stays 0."""
    if s == 0:
        return 0.0
    return math.copysign(math.log(abs(s)), s) if math.isfinite(s) else s


@register_proxy("synflow", consumes=("synflow",), family="trainability",
                paper=NASLIB_PAPER + "; after Tanaka et al., SynFlow, NeurIPS 2020",
                defaults={"bn": False, "log_transform": True})
def synflow(probe: Probe, *, bn: bool, log_transform: bool) -> float:
    """Σ |W ⊙ ∂R/∂W| of the all-ones float64 pass, then sign(s)·log|s| (``log_transform``).

    An overflow gives ±inf (recorded as nonfinite); NASLib would map it to −1e8 before the log.
    """
    s = float(sum((lg.weight * lg.grad).abs().sum().item() for lg in probe.signal("synflow", bn=bn)))
    return synflow_log(s) if log_transform else s


# ----------------------------------------------------------------------------- l2_norm

@register_proxy("l2_norm", consumes=(), family="size", paper=NASLIB_PAPER, defaults=ACC)
def l2_norm(probe: Probe, *, accumulate: str = "float64") -> float:
    """Σ over Conv/Linear layers of ‖W‖_F (no data, no copy)."""
    with torch.no_grad():
        return layer_total((m.weight.detach().norm() for _, m in weight_layers(probe.net)), accumulate)


# ----------------------------------------------------------------------------- "chunk_grads"

@register_signal("chunk_grads")
def _chunk_grads_signal(probe: Probe, *, chunks: int, zero_grad_per_chunk: bool) -> list[ChunkGrad]:
    """Split the batch into ``chunks`` parts (NASLib's ``split_data`` boundaries
    ``[c·N//chunks, (c+1)·N//chunks)``: equal when ``chunks`` divides N); per chunk forward,
    loss, backward on one train-mode copy, and store every layer's weight gradient.

    ``zero_grad_per_chunk=False`` reproduces a third-party port that zeroes gradients once
    before the loop, so row c holds the gradients accumulated over chunks 0..c.
    """
    _needs_targets(probe, "signal 'chunk_grads'")
    n = int(probe.inputs.shape[0])
    if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 2:
        raise UsageError(f"chunks must be an integer >= 2 (the gradient statistics are taken "
                         f"across chunks; one chunk gives std = 0), not {chunks!r}")
    if n < chunks:
        raise UsageError(f"a batch of {n} sample(s) cannot be split into {chunks} chunks; "
                         f"use a batch of at least {chunks} samples (e.g. 64 -> 2 x 32)")
    work = _train_copy(probe)
    layers = weight_layers(work)
    rows: list[list[torch.Tensor]] = [[] for _ in layers]
    for c in range(chunks):
        st, en = c * n // chunks, (c + 1) * n // chunks
        if zero_grad_per_chunk or c == 0:
            work.zero_grad(set_to_none=True)
        with _seeded(mix_seed(probe.seed, _SEED_CHUNKS, c)):
            loss = _loss(probe, work, probe.inputs[st:en], probe.targets[st:en])
            if loss.requires_grad:
                loss.backward()
        for k, (_, m) in enumerate(layers):
            g = m.weight.grad
            rows[k].append(torch.zeros(m.weight.numel(), dtype=m.weight.dtype, device=m.weight.device)
                           if g is None else g.detach().reshape(-1).clone())
    return [ChunkGrad(name, torch.stack(r)) for (name, _), r in zip(layers, rows)]


def zico_score(layer_grads, accumulate: str = "float64") -> float:
    """ZiCo from per-layer (chunks, numel) gradients: Σ_layers log Σ_{std≠0} mean|g| / std(g)
    (population std across chunks; layers whose sum is 0 are skipped). Statistics in float64,
    or (``accumulate="float32"``) in float32 numpy as official ZiCo's ``caculate_zico``."""
    check_accumulate(accumulate)
    if accumulate == "float32":
        import numpy as np

        acc = np.float32(0.0)
        for _, g in layer_grads:
            a = g.detach().cpu().numpy()
            std = np.std(a, axis=0)
            nz = np.nonzero(std)[0]
            s = np.sum(np.mean(np.abs(a), axis=0)[nz] / std[nz])
            if s != 0:
                acc = acc + np.log(s)
        return float(acc)
    total = 0.0
    for _, g in layer_grads:
        g = g.double()
        std = g.std(dim=0, correction=0)
        mean_abs = g.abs().mean(dim=0)
        keep = std != 0
        s = (mean_abs[keep] / std[keep]).sum().item()
        if s != 0:
            total += math.log(s)
    return float(total)


@register_proxy("zico", consumes=("chunk_grads",), family="trainability", paper=ZICO_PAPER,
                defaults={"chunks": 2, "zero_grad_per_chunk": True, **ACC})
def zico(probe: Probe, *, chunks: int, zero_grad_per_chunk: bool, accumulate: str = "float64") -> float:
    """ZiCo over ``chunks`` parts of the batch: Σ_layers log Σ mean|g| / std(g) across chunks."""
    check_accumulate(accumulate)
    return zico_score(probe.signal("chunk_grads", chunks=chunks, zero_grad_per_chunk=zero_grad_per_chunk),
                      accumulate)
