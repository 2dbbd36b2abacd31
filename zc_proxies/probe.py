"""The probe: computes each shared signal at most once per network and batch.

Proxies ask the probe for signals (``probe.signal("codes", ...)``); the probe computes a
signal on first use, caches it under its name and parameters, and :func:`score` frees it as
soon as no remaining proxy consumes it. The network handed to the probe is never modified:
signals that re-initialise weights or run BatchNorm in train mode work on a copy, and so must
a proxy that runs its own passes (:meth:`Probe.scratch`).

The signals (``probe.signal(name, **params)``; every parameter is required, and two proxies
share a signal only when they ask with the same parameters; a proxy declares the names it
uses in ``register_proxy(consumes=...)``):

``codes(reinit, bn_mode, activations, gelu_sign, repeat)``
    SWAP's packed activation patterns of one forward pass (:class:`zc_proxies.swap.ActivationCodes`:
    ``.swap()`` the distinct unit patterns Ψ, ``.n_sample_patterns()`` the distinct sample
    patterns |A|). ``reinit``: ``"gaussian"`` (N(0, 1) weights, seeded by the probe's seed and
    ``repeat``) or ``"none"``; ``bn_mode``: ``"train"`` or ``"eval"``; ``activations``: ``"relu_4d"``
    (nn.ReLU on 4-D inputs) or ``"relu_gelu"`` (ReLU, GELU, SiLU of any rank); ``gelu_sign``:
    ``"ternary"`` or ``"binary"``; ``repeat``: 0, 1, ... (what swap's ``repeats`` loops over).
``grads()``
    One forward and backward pass of the task's loss on a train-mode copy: per Conv2d/Linear
    layer a :class:`zc_proxies.gradients.LayerGrad` (``name``, ``weight``, ``grad``, ``fisher``).
    When proxies still to run (:attr:`Probe.plan`) ask for ``nwot_kernel`` or
    ``input_jacobian`` in train mode, or for ``grasp`` with T = 1 and one iteration, the same
    pass computes them too (equal values) and hands them to the probe (:meth:`Probe.provide`).
``grasp(T, num_iters)``
    GraSP's Hessian-gradient product per layer (``LayerGrad.grad`` holds Hg); T = 1 and
    num_iters = 1 reuse ``grads``.
``synflow(bn)``
    SynFlow's pass on a float64 copy with |weights| and an all-ones input (BN as the identity
    unless ``bn``): ``LayerGrad`` per layer.
``chunk_grads(chunks, zero_grad_per_chunk)``
    Per-layer weight gradients of each of ``chunks`` parts of the batch
    (:class:`zc_proxies.gradients.ChunkGrad`), for ZiCo and L-SWAG.
``input_jacobian(bn_mode)``
    d(sum of outputs)/d(input) per sample (:class:`zc_proxies.jacobian.InputJacobian`).
``nwot_kernel(bn_mode, leaky)``
    NASWOT's sample-by-sample agreement matrix of binary ReLU codes (numpy array).
``ntk(init, bn_mode, batch, weights, repeat)``
    TE-NAS's NTK eigenvalues (:class:`zc_proxies.tenas.NTKSpectrum`, ``.cond``).
``linear_regions(init, bn_mode, n_samples, batches, input_size, source, repeat)``
    TE-NAS's count of linear regions (int).
``zen(mixup_gamma, repeat)``
    Zen-NAS's Δ and BatchNorm variances (:class:`zc_proxies.zen.ZenParts`).

The registered proxies' own options (``zcbench list proxies``, each module's docstring) say
which values they pass; :data:`SIGNALS` holds the functions, and ``register_signal`` adds one.

Devices: every signal runs where the network and the batch are (CPU or CUDA). Random draws
(re-initialisations, noise inputs) come from CPU generators seeded from the probe seed and are
copied to the device (:func:`draw_normal`), so a network gets the very same draws on any device.
"""
from __future__ import annotations

import copy
import math
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
from torch import nn

from zc_proxies.errors import UsageError
from zc_proxies.registry import Registry

SIGNALS: Registry[Callable[..., Any]] = Registry("signal", listed=False)


def register_signal(name: str):
    """Decorator: ``fn(probe, **params)`` computes signal ``name`` (a second ``name`` is an error)."""
    return SIGNALS.decorator(name, lambda fn: fn)


def mix_seed(seed: int, *parts: int) -> int:
    """Deterministic 63-bit seed from a base seed and integers (e.g. the repeat index)."""
    h = seed & 0x7FFFFFFFFFFFFFFF
    for p in parts:
        h = (h * 6364136223846793005 + 1442695040888963407 + int(p)) & 0x7FFFFFFFFFFFFFFF
    return h


def draw_normal(shape, generator: torch.Generator, device=None, dtype=None) -> torch.Tensor:
    """N(0, 1) draws of ``shape`` from a CPU ``generator``, on ``device``: the same values on
    every device (a CUDA tensor cannot be filled from a CPU generator)."""
    out = torch.empty(tuple(shape), dtype=dtype).normal_(0.0, 1.0, generator=generator)
    return out if device is None or torch.device(device).type == "cpu" else out.to(device)


def fill_from_cpu_(tensor: torch.Tensor, fill: Callable[[torch.Tensor], Any]) -> torch.Tensor:
    """Run the in-place initialiser ``fill`` (which draws from a CPU generator) on ``tensor``;
    on another device, on a CPU tensor of the same shape and dtype, then copied in."""
    if tensor.device.type == "cpu":
        fill(tensor)
    else:
        tmp = torch.empty(tensor.shape, dtype=tensor.dtype)
        fill(tmp)
        tensor.copy_(tmp)
    return tensor


def gaussian_init_(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """SWAP's ``network_weight_gaussian_init``: Conv2d/Linear weights N(0, 1) (no fan-in
    scaling), biases 0; BatchNorm/GroupNorm weight 1, bias 0. Other modules are left alone.
    ``generator`` is a CPU generator (the draws are the same on every device)."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fill_from_cpu_(m.weight, lambda t: t.normal_(0.0, 1.0, generator=generator))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                if m.weight is not None:
                    m.weight.fill_(1.0)
                if m.bias is not None:
                    m.bias.zero_()
    return net


def forward_with_hooks(net: nn.Module, inputs: torch.Tensor, hooks: list[tuple[nn.Module, Callable]]) -> None:
    """One forward pass under no_grad with forward hooks ``fn(module, inp, out)`` on the given
    modules, removed afterwards whatever happens."""
    handles = [m.register_forward_hook(fn) for m, fn in hooks]
    try:
        with torch.no_grad():
            net(inputs)
    finally:
        for h in handles:
            h.remove()


REINITS = ("gaussian", "none")
BN_MODES = ("train", "eval")


def _check_protocol(reinit: str, bn_mode: str) -> None:
    if reinit not in REINITS:
        raise UsageError(f"reinit must be one of {REINITS}, not {reinit!r}")
    if bn_mode not in BN_MODES:
        raise UsageError(f"bn_mode must be one of {BN_MODES}, not {bn_mode!r}")


def _apply_protocol(work: nn.Module, reinit: str, bn_mode: str, seed: int) -> nn.Module:
    """Re-initialise ``work`` in place (``reinit``) and put its BN in ``bn_mode``."""
    if reinit == "gaussian":
        gaussian_init_(work, torch.Generator().manual_seed(seed))
    work.train(bn_mode == "train")
    return work


def prepare_copy(net: nn.Module, *, reinit: str = "none", bn_mode: str = "train", seed: int = 0) -> nn.Module:
    """A deep copy of ``net`` with weights re-initialised (``reinit``) and BN in ``bn_mode``."""
    _check_protocol(reinit, bn_mode)
    return _apply_protocol(copy.deepcopy(net), reinit, bn_mode, seed)


class Probe:
    """Holds one network, one input batch (and targets) and the signals computed on them.

    What a proxy may read: ``net`` (the network: never modify it, not even by a train-mode
    forward pass, which updates BatchNorm's running statistics), ``inputs`` (the batch),
    ``targets`` (labels or the task's targets; may be None), ``loss`` (the task's loss name or
    callable), ``num_classes``, ``seed``, ``plan`` (the proxies :func:`score` has still to run,
    with their options); and call :meth:`signal` (shared, cached passes),
    :meth:`scratch` (a copy of ``net`` for passes of its own) and :meth:`logits`.

    ``seed`` drives every random choice a signal makes (re-initialisation, noise), so the
    same probe inputs give the same scores bit for bit.
    """

    def __init__(
        self,
        net: nn.Module,
        inputs: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        loss: str | Callable = "cross_entropy",
        seed: int = 0,
        num_classes: int | None = None,
    ):
        self.net = net
        self.inputs = inputs
        self.targets = targets
        self.loss = loss
        self.seed = int(seed)
        self.num_classes = num_classes
        self._cache: dict[tuple, Any] = {}
        self._scratch: nn.Module | None = None
        self.computed: Counter[str] = Counter()  # how often each signal was computed
        #: (proxy name, options) of the proxies :func:`score` has still to run on this probe, the
        #: current one included: a signal may compute, from its own passes, a value that one of
        #: them will ask for (:meth:`planned`, :meth:`provide`); empty outside :func:`score`
        self.plan: list[tuple[str, dict[str, Any]]] = []

    def scratch(self, *, reinit: str = "none", bn_mode: str = "train", seed: int = 0) -> nn.Module:
        """A copy of the network for a proxy's (or signal's) own passes, made once per probe
        and reset on every call: the original weights and buffers reloaded, gradients cleared,
        then ``reinit`` (``"none"``: the network's own weights; ``"gaussian"``: N(0, 1) weights
        and zero biases, seeded by ``seed``) and ``bn_mode`` (``"train"``: BatchNorm on batch
        statistics, ``"eval"``: on its running statistics) applied. A forward or backward pass
        on it leaves ``probe.net`` as it was, which ``check_proxy`` verifies::

            net = probe.scratch(bn_mode="train")
            with torch.no_grad():
                out = probe.logits(net(probe.inputs))

        Cheaper than a deep copy per use (signals with many repeats); the next call resets it,
        so do not keep it across calls (take ``copy.deepcopy`` of it to keep one)."""
        _check_protocol(reinit, bn_mode)
        if self._scratch is None:
            self._scratch = copy.deepcopy(self.net)
            src, dst = self.net.state_dict(keep_vars=True), self._scratch.state_dict(keep_vars=True)
            self._scratch_pairs = ([dst[k].data for k in dst], [src[k].data for k in dst])
        else:
            with torch.no_grad():
                torch._foreach_copy_(*self._scratch_pairs)
            self._scratch.zero_grad(set_to_none=True)
        return _apply_protocol(self._scratch, reinit, bn_mode, seed)

    def signal(self, name: str, **params: Any) -> Any:
        key = (name, tuple(sorted(params.items())))
        if key not in self._cache:
            fn = SIGNALS.get(name)  # an unknown name: UnknownNameError (a KeyError) with close names
            self._cache[key] = fn(self, **params)
            self.computed[name] += 1
        return self._cache[key]

    def has(self, name: str, **params: Any) -> bool:
        """Is signal ``name`` with ``params`` cached?"""
        return (name, tuple(sorted(params.items()))) in self._cache

    def provide(self, name: str, value: Any, **params: Any) -> None:
        """Cache ``value`` as signal ``name`` with ``params``: a value another signal computed
        from passes it ran anyway, equal to what the signal's own function would return (so a
        later :meth:`signal` call with these parameters does not run the passes again)."""
        key = (name, tuple(sorted(params.items())))
        if key not in self._cache:
            self._cache[key] = value
            self.computed[name] += 1

    def planned(self, signal: str) -> list[dict[str, Any]]:
        """The options of the proxies in :attr:`plan` that consume ``signal``."""
        from zc_proxies.base import get_proxy

        out = []
        for name, opts in self.plan:
            try:
                info = get_proxy(name)
            except KeyError:
                continue
            if info.kind == "network" and signal in info.consumes:
                out.append(opts)
        return out

    def logits(self, outputs: Any) -> torch.Tensor:
        """The network's main output (first element of a tuple), checked against the task's
        number of classes when the probe knows it."""
        from zc_proxies.losses import main_output

        out = main_output(outputs)
        if self.num_classes is not None and out.dim() == 2 and out.shape[1] != self.num_classes:
            raise ValueError(
                f"the network returns {out.shape[1]} values per sample but the task has {self.num_classes} "
                "classes: it returns features, not logits (the darts swap_scorer does so by default, as the "
                "official SWAP code); set space_options: {return_logits: true} for loss-based proxies")
        return out

    def reset(self) -> None:
        """Forget every signal and the scratch copy (the NASLib way: each proxy from scratch)."""
        self._cache.clear()
        self._scratch = None

    def release_scratch(self) -> None:
        """Free the scratch copy (the next :meth:`scratch` makes a new one)."""
        self._scratch = None

    def release(self, name: str) -> None:
        """Free every cached value of signal ``name``."""
        for key in [k for k in self._cache if k[0] == name]:
            del self._cache[key]

    def cached(self) -> list[str]:
        return sorted({k[0] for k in self._cache})


@dataclass
class ProxyResult:
    value: float
    seconds: float
    status: str = "ok"  # ok | nonfinite | failed
    message: str = ""


def _warnings_note(caught: list[warnings.WarningMessage]) -> str:
    """The distinct warnings a proxy raised, short, for its result's message."""
    seen: dict[str, str] = {}  # text -> where it was first raised
    for w in caught:
        text = f"{w.category.__name__}: {(str(w.message).splitlines() or [''])[0][:160]}"
        seen.setdefault(text, f"{w.filename.rsplit('/', 1)[-1]}:{w.lineno}")
    return "warning" + ("s" if len(seen) > 1 else "") + ": " + "; ".join(f"{t} (at {at})" for t, at in seen.items())


def score(probe: Probe, proxies: Mapping[str, tuple[str, Mapping[str, Any]]], *,
          fused: bool = True) -> dict[str, ProxyResult]:
    """Score ``proxies`` ({label: (proxy name, options)}) on one probe.

    Proxies run grouped by the signals they consume; a signal is freed once no remaining
    proxy consumes it. ``fused=False`` runs every proxy the NASLib way instead: its own fresh
    copy of the network and its own passes (for comparison and debugging; same scores). A
    proxy that raises is recorded as failed (the others still run); a NaN or infinite value is
    kept with status ``nonfinite``. Warnings a proxy raises are not printed: they are kept,
    short, in its result's ``message`` (stored with the score in a study).

    While a proxy runs, ``probe.plan`` lists the proxies still to run (with ``fused=False``,
    the current one only), so that a signal can hand over values its passes give for them
    (the loss pass gives nwot's codes, the input Jacobian and GraSP's Hg).

    A population-level proxy (``kind == "population"``) has no value on one network: asking
    for one is a :class:`zc_proxies.base.PopulationOnlyError` that says what to call instead.
    """
    from zc_proxies.base import get_network_proxy

    todo = [(label, get_network_proxy(name), dict(opts)) for label, (name, opts) in proxies.items()]
    todo.sort(key=lambda t: (t[1].consumes, t[0]))

    def resolved(info, opts):
        try:
            return [(info.name, info.options(opts))]
        except Exception:  # the proxy itself reports bad options when it runs
            return []

    plan = [resolved(info, opts) for _, info, opts in todo]
    results: dict[str, ProxyResult] = {}
    try:
        _score_all(probe, todo, plan, results, fused)
    finally:
        probe.plan = []
    return results


def _score_all(probe: Probe, todo: list, plan: list, results: dict[str, ProxyResult], fused: bool) -> None:
    for i, (label, info, opts) in enumerate(todo):
        if not fused:
            probe.reset()
        probe.plan = [p for entry in (plan[i:] if fused else plan[i : i + 1]) for p in entry]
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:  # stored with the score, not printed
            warnings.simplefilter("always")
            try:
                value = float(info.fn(probe, **info.options(opts)))
                status = "ok" if math.isfinite(value) else "nonfinite"
                results[label] = ProxyResult(value, time.perf_counter() - t0, status)
            except Exception as exc:  # recorded, the study goes on
                msg = f"{type(exc).__name__}: {str(exc) or '(no message)'}"
                tb = traceback.extract_tb(exc.__traceback__)
                if tb:
                    msg += f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})"
                results[label] = ProxyResult(float("nan"), time.perf_counter() - t0, "failed", msg)
        if caught:
            res = results[label]
            res.message = "; ".join(filter(None, [res.message, _warnings_note(caught)]))
        still_needed = {s for _, other, _ in todo[i + 1 :] for s in other.consumes}
        for sig in probe.cached():
            if sig not in still_needed:
                probe.release(sig)
        if not probe.cached():
            # no signal shared with a later proxy: the scratch copy goes too (one kept alive
            # through unrelated proxies cost fused scoring ~3 % against fused=False)
            probe.release_scratch()
