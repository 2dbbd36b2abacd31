"""L-SWAG (Casarin, Escalera, Lanz, CVPR 2025): ZiCo-style trainability times layer-wise SWAP
expressivity over a band of depth percentiles.

Definition::

    L-SWAG = Λ × Ψ
    Λ = Σ_{weight layers l with bin(l) in [l1, l2]}  log Σ_{w in θ_l, Var≠0} 1 / sqrt(Var_i |∂L_i/∂w|)
    Ψ = #distinct binarised unit patterns over the hooked activation calls whose bin is in
        [l1, l2]  (or [0, l2] with ``psi_from_first_layer``)

* Weight layers are the ``nn.Conv2d``/``nn.Linear`` modules in ``named_modules`` order, weights
  only (:func:`zc_proxies.gradients.weight_layers`, the ZiCo / NB-Suite-Zero convention).
* The gradients are those of the ``"chunk_grads"`` signal, shared with ``zico``: the batch is
  split into ``chunks`` parts, one forward/backward per part on a train-mode copy of the
  network, and the statistic is taken across the parts (population statistic, correction=0,
  in float64, exactly as :func:`zc_proxies.gradients.zico_score`). A weight whose statistic is
  0 is left out; a layer whose inner sum is 0 is skipped (its term is NaN in
  :func:`lambda_terms`, and adds nothing to Λ).
* Percentile bin of item l (1-based) among L items (the paper's Eq. 6)::

      bin(l) = int((l / L * 100) // (100 / perc_bins))

  With ``perc_bins = 10`` the bins are 0..10 and bin 10 holds only the last item (l = L).
  Weight layers get their bin from their position among the L weight layers.
* Ψ is computed from the ``"codes"`` signal, shared with ``swap`` (same request parameters,
  so a study scoring both computes it once), with ``ActivationCodes.swap(first, last)`` over
  the contiguous range of hooked calls whose bin is in the interval (bins grow with k, so the
  selected calls are contiguous). Ψ is the mean over ``repeats`` re-initialisations, as
  ``swap``; Λ uses the network's own weights (the chunk_grads signal never re-initialises).
  **Harness choice:** the paper indexes *weight* layers only; zcbench maps activations to
  depth by giving hooked activation call k (1-based) among the K calls of the codes signal the
  bin ``int((k / K * 100) // (100 / perc_bins))``, with the same formula.

Options (spec default first; each resolves an ambiguity of the paper's Λ and Ψ):

* ``l1`` = 0, ``l2`` = 10: the bin interval [l̂, L̂] (integers, 0 <= l1 <= l2 <= perc_bins).
  The paper's per-benchmark values are in an unavailable supplementary; the default covers
  every layer. ``zcbench calibrate-layers`` (:mod:`experiments.calibrate`) chooses them on
  architectures the study does not evaluate.
* ``perc_bins`` = 10: PERC_BINS of Eq. 6 (1..50).
* ``grad_stat`` = ``"abs_var"``: the statistic of Λ. ``"abs_var"`` is Eq. 1 as written,
  1 / sqrt(Var_i |g|) (variance of the absolute gradient); ``"signed_std"`` is 1 / std_i(g) of the
  signed gradient, as ZiCo's denominator (the authors' code is unknown, so both readings are offered). Both keep
  numerator 1 (Theorem 1 drops ZiCo's mean |g|).
* ``psi_from_first_layer`` = False: Ψ over [l1, l2] (False) or [0, l2] (True): Eq. 7
  indexes {1..L̂} while the ablation says the selection "also improves Ψ".
* ``chunks`` = 2, ``zero_grad_per_chunk`` = True: the mini-batches i of the variance (a
  harness choice, the paper does not say): the probe batch split into 2 parts, gradients zeroed per part), passed unchanged
  to the chunk_grads signal so that it is shared with ``zico``.
* ``reinit`` = "gaussian", ``bn_mode`` = "train", ``repeats`` = 1, ``activations`` =
  "relu_4d", ``gelu_sign`` = "ternary": SWAP's protocol options (``SWAP_DEFAULTS``, as in SWAP's code)
  for Ψ, as the ``swap`` proxy.

An interval that holds no weight layer, or no hooked activation call, of the network is an
error that says so (widen it, or lower ``l1``).

Helpers for calibration (one computation per network, any interval afterwards):
:func:`percentile_bins`, :func:`lambda_terms`, :func:`lswag_parts` (-> :class:`LSwagParts`,
which keeps the per-layer Λ terms and, per distinct activation pattern, the set of bins it
occurs in) and :func:`lswag_from_parts`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from zc_proxies.base import register_proxy
from zc_proxies.errors import UsageError
from zc_proxies.patterns import group_rows, widen
from zc_proxies.probe import Probe
from zc_proxies.swap import SWAP_DEFAULTS, ActivationCodes, check_repeats, mean_over_repeats

__all__ = [
    "GRAD_STATS",
    "LSWAG_DEFAULTS",
    "LSwagParts",
    "percentile_bins",
    "lambda_terms",
    "lambda_value",
    "call_range",
    "lswag_parts",
    "lswag_from_parts",
    "check_options",
]

PAPER = "Casarin, Escalera, Lanz, L-SWAG, CVPR 2025"
GRAD_STATS = ("abs_var", "signed_std")
MAX_PERC_BINS = 50
LSWAG_DEFAULTS: dict[str, Any] = {
    "l1": 0,
    "l2": 10,
    "perc_bins": 10,
    "grad_stat": "abs_var",
    "psi_from_first_layer": False,
    "chunks": 2,
    "zero_grad_per_chunk": True,
    **SWAP_DEFAULTS,
}


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _check_perc_bins(perc_bins) -> int:
    if not _is_int(perc_bins) or not 1 <= perc_bins <= MAX_PERC_BINS:
        raise UsageError(f"lswag option perc_bins must be an integer in 1..{MAX_PERC_BINS} (the number of "
                         f"depth-percentile bins, 10 in the paper), not {perc_bins!r}")
    return int(perc_bins)


def _check_interval(l1, l2, perc_bins: int) -> tuple[int, int]:
    for name, v in (("l1", l1), ("l2", l2)):
        if not _is_int(v):
            raise UsageError(f"lswag option {name} must be an integer percentile bin in 0..{perc_bins}, "
                             f"not {v!r}")
        if not 0 <= v <= perc_bins:
            raise UsageError(f"lswag option {name}={v} is outside the percentile bins 0..{perc_bins} "
                             f"(perc_bins={perc_bins})")
    if l1 > l2:
        raise UsageError(f"lswag options l1={l1} and l2={l2}: l1 must be <= l2 (the interval of "
                         f"percentile bins [l1, l2])")
    return int(l1), int(l2)


def _check_grad_stat(grad_stat) -> str:
    if grad_stat not in GRAD_STATS:
        raise UsageError(f"lswag option grad_stat must be one of {GRAD_STATS}, not {grad_stat!r}")
    return grad_stat


def check_options(*, l1, l2, perc_bins, grad_stat, psi_from_first_layer, repeats, **_rest) -> None:
    """Validate lswag's own options (the signals validate theirs); messages name the option."""
    pb = _check_perc_bins(perc_bins)
    _check_interval(l1, l2, pb)
    _check_grad_stat(grad_stat)
    if not isinstance(psi_from_first_layer, (bool, np.bool_)):
        raise UsageError(f"lswag option psi_from_first_layer must be true or false, not {psi_from_first_layer!r}")
    check_repeats(repeats)


# ----------------------------------------------------------------------------- pure helpers

def percentile_bins(n_layers: int, perc_bins: int = 10) -> list[int]:
    """The bin of each of ``n_layers`` items in depth order: item l (1-based) of L gets
    ``int((l / L * 100) // (100 / perc_bins))``; bins 0..perc_bins, the last only for l = L."""
    if not _is_int(n_layers) or n_layers < 0:
        raise UsageError(f"n_layers must be a non-negative integer, not {n_layers!r}")
    pb = _check_perc_bins(perc_bins)
    width = 100 / pb
    return [int((l / n_layers * 100) // width) for l in range(1, int(n_layers) + 1)]


def lambda_terms(chunk_grads, grad_stat: str = "abs_var") -> list[float]:
    """Per weight layer, log Σ_{w: stat≠0} 1/stat_w from (chunks, numel) gradients; NaN where the
    inner sum is 0 (the layer is skipped). ``grad_stat="abs_var"``: stat = sqrt(Var_i |g|);
    ``"signed_std"``: stat = std_i(g). Population statistics across chunks, float64."""
    _check_grad_stat(grad_stat)
    out = []
    for _, g in chunk_grads:
        g = g.double()
        if grad_stat == "abs_var":
            stat = g.abs().var(dim=0, correction=0).sqrt()
        else:
            stat = g.std(dim=0, correction=0)
        keep = stat != 0
        s = stat[keep].reciprocal().sum().item()
        out.append(math.log(s) if s != 0 else math.nan)
    return out


def _describe(bins) -> str:
    bins = list(bins)
    return str(bins) if len(bins) <= 40 else f"[{bins[0]}, ..., {bins[-1]}] ({len(bins)} items)"


def lambda_value(terms, bins, l1: int, l2: int) -> float:
    """Λ over the weight layers whose bin is in [l1, l2] (skipped layers add nothing)."""
    sel = [t for t, b in zip(terms, bins) if l1 <= b <= l2]
    if not sel:
        raise ValueError(f"lswag: no weight layer of this network falls in the percentile bins [l1, l2] = "
                         f"[{l1}, {l2}]; its {len(list(bins))} Conv2d/Linear layers are in bins "
                         f"{_describe(bins)}; widen the interval (options l1, l2)")
    return float(sum(t for t in sel if not math.isnan(t)))


def call_range(call_bins, lo: int, hi: int) -> tuple[int, int]:
    """(first, last) 0-based indices of the hooked calls whose bin is in [lo, hi] (contiguous,
    since bins grow with depth)."""
    idx = [k for k, b in enumerate(call_bins) if lo <= b <= hi]
    if not idx:
        raise ValueError(f"lswag: no hooked activation call of this network falls in the percentile bins "
                         f"[{lo}, {hi}] (Ψ would be empty); its {len(list(call_bins))} activation calls are in "
                         f"bins {_describe(call_bins)}; widen the interval (options l1, l2)")
    assert idx == list(range(idx[0], idx[-1] + 1)), "percentile bins must grow with depth"
    return idx[0], idx[-1]


def _psi_bounds(l1: int, l2: int, psi_from_first_layer: bool) -> tuple[int, int]:
    return (0 if psi_from_first_layer else l1), l2


def _codes_params(opts: dict[str, Any], repeat: int) -> dict[str, Any]:
    """The "codes" request, with exactly the parameters the swap proxy uses."""
    return {"reinit": opts["reinit"], "bn_mode": opts["bn_mode"], "activations": opts["activations"],
            "gelu_sign": opts["gelu_sign"], "repeat": repeat}


# ----------------------------------------------------------------------------- the proxy

@register_proxy("lswag", consumes=("chunk_grads", "codes"), family="hybrid", paper=PAPER,
                defaults=LSWAG_DEFAULTS)
def lswag(probe: Probe, *, l1: int, l2: int, perc_bins: int, grad_stat: str, psi_from_first_layer: bool,
          chunks: int, zero_grad_per_chunk: bool, reinit: str, bn_mode: str, repeats: int, activations: str,
          gelu_sign: str) -> float:
    """L-SWAG = Λ × Ψ over the depth-percentile bins [l1, l2] (ZiCo-like 1/σ of gradients times layer-wise SWAP)."""
    check_options(l1=l1, l2=l2, perc_bins=perc_bins, grad_stat=grad_stat,
                  psi_from_first_layer=psi_from_first_layer, repeats=repeats)
    grads = probe.signal("chunk_grads", chunks=chunks, zero_grad_per_chunk=zero_grad_per_chunk)
    lam = lambda_value(lambda_terms(grads, grad_stat), percentile_bins(len(grads), perc_bins), l1, l2)
    lo, hi = _psi_bounds(l1, l2, psi_from_first_layer)

    def measure(codes: ActivationCodes) -> int:
        first, last = call_range(percentile_bins(len(codes.layers), perc_bins), lo, hi)
        return codes.swap(first, last)

    psi = mean_over_repeats(probe, measure, reinit=reinit, bn_mode=bn_mode, repeats=repeats,
                             activations=activations, gelu_sign=gelu_sign)
    return float(lam * psi)


# ----------------------------------------------------------------------------- calibration parts

def _bin_masks(codes: ActivationCodes, call_bins: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """For the distinct patterns of all hooked calls: the distinct bit masks "bins the pattern
    occurs in" (bit b = bin b) and how many patterns have each mask (computed on the patterns'
    device; only the few masks and counts come back)."""
    layers = [(a, b) for a, b in zip(codes.layers, call_bins) if a.numel()]
    if not layers:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    width = max(a.shape[1] for a, _ in layers)
    words = torch.cat([widen(a, width) for a, _ in layers])
    inv = group_rows(words)
    n = int(inv.max()) + 1
    per_pattern = torch.zeros(n, dtype=torch.int64, device=inv.device)
    start = 0
    by_bin: dict[int, list[torch.Tensor]] = {}
    for a, b in layers:
        by_bin.setdefault(b, []).append(inv[start:start + a.shape[0]])
        start += a.shape[0]
    for b, parts in by_bin.items():
        hit = torch.zeros(n, dtype=torch.bool, device=inv.device)
        hit[torch.cat(parts)] = True
        per_pattern |= hit.to(torch.int64) << b
    masks, counts = torch.unique(per_pattern, return_counts=True)
    return masks.cpu().numpy(), counts.cpu().numpy()


@dataclass
class LSwagParts:
    """What one network contributes to L-SWAG for every interval: per weight layer its log term
    (NaN: skipped) and bin; per hooked call its bin; Ψ of every call-bin interval [lo, hi] that
    holds at least one call (mean over repeats)."""

    lambda_terms: list[float]
    layer_bins: list[int]
    call_bins: list[int]
    psi: dict[tuple[int, int], float] = field(default_factory=dict)
    perc_bins: int = 10

    def lambda_(self, l1: int, l2: int) -> float:
        return lambda_value(self.lambda_terms, self.layer_bins, l1, l2)

    def psi_value(self, lo: int, hi: int) -> float:
        call_range(self.call_bins, lo, hi)  # the clear error when empty
        return self.psi[(lo, hi)]

    def score(self, l1: int, l2: int, psi_from_first_layer: bool = False) -> float:
        """L-SWAG(l1, l2) of this network; ValueError for an empty interval."""
        l1, l2 = _check_interval(l1, l2, self.perc_bins)
        return float(self.lambda_(l1, l2) * self.psi_value(*_psi_bounds(l1, l2, psi_from_first_layer)))

    def defined(self, l1: int, l2: int, psi_from_first_layer: bool = False) -> bool:
        lo, hi = _psi_bounds(l1, l2, psi_from_first_layer)
        return any(l1 <= b <= l2 for b in self.layer_bins) and (lo, hi) in self.psi


def psi_table(codes: ActivationCodes, perc_bins: int = 10) -> tuple[list[int], dict[tuple[int, int], int]]:
    """(call bins, Ψ of every interval [lo, hi] of call bins that holds at least one call), from
    one pass over the patterns: each distinct pattern counts in [lo, hi] when it occurs in a call
    of a bin in [lo, hi]. Equals ``codes.swap(*call_range(bins, lo, hi))``."""
    bins = percentile_bins(len(codes.layers), perc_bins)
    masks, counts = _bin_masks(codes, bins)
    present = set(bins)
    table = {}
    for lo in range(perc_bins + 1):
        for hi in range(lo, perc_bins + 1):
            if not any(lo <= b <= hi for b in present):
                continue
            window = ((1 << (hi + 1)) - 1) ^ ((1 << lo) - 1)
            table[(lo, hi)] = int(counts[(masks & window) != 0].sum())
    return bins, table


def lswag_parts(probe: Probe, **options: Any) -> LSwagParts:
    """Compute the signals of ``probe`` once and keep what every (l1, l2) needs. ``options`` are
    lswag options (defaults for the rest); ``l1``, ``l2`` and ``psi_from_first_layer`` are
    ignored (they are chosen afterwards with :meth:`LSwagParts.score`)."""
    from zc_proxies.base import get_proxy

    opts = get_proxy("lswag").options(options)
    pb = _check_perc_bins(opts["perc_bins"])
    check_options(**{**opts, "l1": 0, "l2": pb})
    grads = probe.signal("chunk_grads", chunks=opts["chunks"], zero_grad_per_chunk=opts["zero_grad_per_chunk"])
    terms = lambda_terms(grads, opts["grad_stat"])
    call_bins: list[int] = []
    sums: dict[tuple[int, int], float] = {}
    reps = check_repeats(opts["repeats"])
    for r in range(reps):
        call_bins, table = psi_table(probe.signal("codes", **_codes_params(opts, r)), pb)
        for k, v in table.items():
            sums[k] = sums.get(k, 0.0) + v
    return LSwagParts(terms, percentile_bins(len(grads), pb), call_bins,
                      {k: v / reps for k, v in sums.items()}, pb)


def lswag_from_parts(parts: LSwagParts, l1: int, l2: int, psi_from_first_layer: bool = False) -> float:
    """L-SWAG(l1, l2) from :func:`lswag_parts`, without recomputing any signal."""
    return parts.score(l1, l2, psi_from_first_layer)
