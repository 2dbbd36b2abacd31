"""SWAP-Score (Peng et al., ICLR 2024), regularised SWAP and the standard activation pattern
count, over one shared ``codes`` signal.

Official protocol, each as a named option: ``reinit="gaussian"`` (N(0,1) re-init before each
repeat), ``bn_mode="train"`` (BN normalises with batch statistics), ``repeats`` (mean over
repeats; the official script uses 32), ``activations="relu_4d"`` (ICLR code: nn.ReLU modules
with 4-D input) or ``"relu_gelu"`` (SWAP_Universal: ReLU, GELU, SiLU of any rank).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from zc_proxies.base import register_proxy
from zc_proxies.errors import UsageError
from zc_proxies.patterns import count_distinct, merge_labels, n_groups, pack_bits, sample_labels, unique_rows
from zc_proxies.population import Base, Combined, Population, per_network, register_population_proxy
from zc_proxies.probe import Probe, forward_with_hooks, mix_seed, register_signal

ACTIVATIONS = ("relu_4d", "relu_gelu")
GELU_SIGNS = ("ternary", "binary")
SWAP_DEFAULTS = {
    "reinit": "gaussian",
    "bn_mode": "train",
    "repeats": 1,
    "activations": "relu_4d",
    "gelu_sign": "ternary",
}
THETA_UNITS = {"K": 1e3, "M": 1e6}


def _hooked(module: nn.Module, activations: str) -> bool:
    if isinstance(module, nn.ReLU):
        return True
    if activations == "relu_gelu":
        return isinstance(module, (nn.GELU, nn.SiLU)) or type(module).__name__ == "GELUActivation"
    return False


@dataclass
class ActivationCodes:
    """Per hooked call: the distinct packed patterns of its units ((U, W) int64 tensors on the
    network's device); plus the sample partition.

    ``layers[i]`` may be the same tensor object as an earlier entry when a module saw the very
    same input tensor as an earlier one (e.g. a node feeding several ReLU-Conv edges).
    """

    names: list[str] = field(default_factory=list)
    layers: list[torch.Tensor] = field(default_factory=list)
    labels: torch.Tensor | None = None  # per-sample index of its full pattern
    n_samples: int = 0

    def swap(self, first: int = 0, last: int | None = None) -> int:
        """Ψ: distinct unit patterns over hooked calls ``first..last`` (inclusive)."""
        sel = self.layers[first : None if last is None else last + 1]
        uniq = {id(a): a for a in sel}
        return count_distinct(list(uniq.values()))

    def n_sample_patterns(self) -> int:
        """|A|: distinct full activation patterns among the samples (at most S)."""
        return n_groups(self.labels)


class PatternCounter:
    """Receives hooked activations one at a time and keeps only their packed distinct patterns.

    A module that sees the very same input tensor (same object, unmodified) as an earlier one
    of the same kind reuses its patterns instead of packing them again.
    """

    def __init__(self, *, gelu_sign: str = "ternary", samples: bool = True):
        if gelu_sign not in GELU_SIGNS:
            raise UsageError(f"gelu_sign must be one of {GELU_SIGNS}, not {gelu_sign!r}")
        self.gelu_sign = gelu_sign
        self.samples = samples
        self.codes = ActivationCodes()
        self._seen: dict[tuple, tuple] = {}  # (id(input), ternary) -> (weakref, version, codes)

    def add(self, name: str, module: nn.Module, x: torch.Tensor, out: torch.Tensor) -> None:
        codes = self.codes
        codes.n_samples = int(out.shape[0])
        ternary = not isinstance(module, nn.ReLU) and self.gelu_sign == "ternary"
        key = (id(x), ternary)
        hit = self._seen.get(key)
        if hit is not None and hit[0]() is x and hit[1] == x._version:
            codes.names.append(name)
            codes.layers.append(hit[2])
            return
        flat = out.detach().reshape(out.shape[0], -1)
        pos = flat > 0
        # A unit's ternary pattern: S "> 0" bits, then S "< 0" bits (2S bits, stacked along the
        # sample axis); a sample's pattern: its V "> 0" bits, then its V "< 0" bits.
        uniq = unique_rows(pack_bits(torch.cat([pos, flat < 0]) if ternary else pos))
        if self.samples:
            sample_bits = torch.cat([pos, flat < 0], dim=1) if ternary else pos
            codes.labels = merge_labels(codes.labels, sample_labels(sample_bits))
        self._seen[key] = (weakref.ref(x), x._version, uniq)
        codes.names.append(name)
        codes.layers.append(uniq)


def hooked_modules(net: nn.Module, activations: str) -> list[tuple[str, nn.Module]]:
    if activations not in ACTIVATIONS:
        raise UsageError(f"activations must be one of {ACTIVATIONS}, not {activations!r}")
    return [(n, m) for n, m in net.named_modules() if _hooked(m, activations)]


def collect_codes(net: nn.Module, inputs: torch.Tensor, *, activations: str = "relu_4d",
                  gelu_sign: str = "ternary", samples: bool = True) -> ActivationCodes:
    """One forward pass of ``net`` on ``inputs`` with hooks that pack patterns layer by layer.

    ``net`` is used as given (mode and weights): callers prepare a copy.
    """
    counter = PatternCounter(gelu_sign=gelu_sign, samples=samples)

    def hook(name):
        def fn(module, inp, out):
            x = inp[0] if inp else out
            if activations == "relu_4d" and x.dim() != 4:
                return
            counter.add(name, module, x, out)

        return fn

    forward_with_hooks(net, inputs, [(m, hook(n)) for n, m in hooked_modules(net, activations)])
    if not counter.codes.layers:
        raise ValueError(
            f"no activation was hooked with activations={activations!r}: the network has no "
            + ("nn.ReLU module with 4-D input; try activations='relu_gelu'" if activations == "relu_4d"
               else "nn.ReLU/GELU/SiLU module")
        )
    return counter.codes


@register_signal("codes")
def _codes_signal(probe: Probe, *, reinit: str, bn_mode: str, activations: str, gelu_sign: str,
                  repeat: int) -> ActivationCodes:
    work = probe.scratch(reinit=reinit, bn_mode=bn_mode, seed=mix_seed(probe.seed, 17, repeat))
    return collect_codes(work, probe.inputs, activations=activations, gelu_sign=gelu_sign)


def check_repeats(repeats) -> int:
    if not isinstance(repeats, int) or repeats < 1:
        raise UsageError(f"repeats must be a positive integer, not {repeats!r}")
    return repeats


def mean_over_repeats(probe: Probe, measure, *, reinit, bn_mode, repeats, activations, gelu_sign) -> float:
    vals = [
        measure(probe.signal("codes", reinit=reinit, bn_mode=bn_mode, activations=activations,
                             gelu_sign=gelu_sign, repeat=r))
        for r in range(check_repeats(repeats))
    ]
    return float(np.mean(vals))


@register_proxy("swap", consumes=("codes",), family="expressivity",
                paper="Peng et al., SWAP-Score, ICLR 2024", defaults=SWAP_DEFAULTS)
def swap(probe: Probe, **opts) -> float:
    """SWAP-Score Ψ: distinct per-unit sign patterns over the batch (mean over repeats)."""
    return mean_over_repeats(probe, ActivationCodes.swap, **opts)


@register_proxy("sap", consumes=("codes",), family="expressivity",
                paper="Peng et al., SWAP-Score, ICLR 2024 (Table 3, standard activation patterns)",
                defaults=SWAP_DEFAULTS)
def sap(probe: Probe, **opts) -> float:
    """|A|: distinct per-sample activation patterns (bounded by the batch size)."""
    return mean_over_repeats(probe, ActivationCodes.n_sample_patterns, **opts)


# ----------------------------------------------------------------------------- reg_swap

def size_factor(theta, mu: float, sigma: float):
    """f(Θ) = exp(-(Θ - µ)² / σ): the divisor is σ itself, not 2σ² (paper and official code)."""
    if sigma <= 0:
        raise UsageError(f"sigma must be positive, not {sigma}")
    return np.exp(-((np.asarray(theta, dtype=float) - mu) ** 2) / sigma)


THETA_NETWORKS = ("benchmark", "scorer")


def auto_mu_sigma(theta: np.ndarray, quantile: float = 1.0) -> tuple[float, float]:
    """µ = σ = the largest Θ of a *population* of architectures (``quantile`` 1.0), or another
    quantile of it. The paper sets µ, σ "by the model size distribution of 1000 randomly sampled
    architectures" and recommends the top of the size range (its best NB201 row is µ = σ = 1.5 M,
    NB201's largest networks; its best NB101 rows use µ = 40 M above a largest network of 31 M)."""
    if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0 < quantile <= 1:
        raise UsageError(f"auto_quantile must be a number in (0, 1] (1: the largest Θ), not {quantile!r}")
    theta = np.asarray(theta, dtype=float)
    theta = theta[np.isfinite(theta)]
    if theta.size < 2:
        raise UsageError("µ/σ 'auto' needs the parameter counts of a population (>= 2 architectures), "
                         "never of a single model")
    q = float(np.quantile(theta, quantile))
    return q, q


def _theta(params_millions, theta_unit: str):
    if theta_unit not in THETA_UNITS:
        raise UsageError(f"theta_unit must be one of {sorted(THETA_UNITS)}, not {theta_unit!r}")
    return np.asarray(params_millions, dtype=float) * 1e6 / THETA_UNITS[theta_unit]


def _check_theta_network(theta: str) -> None:
    if theta not in THETA_NETWORKS:
        raise UsageError(f"theta must be 'benchmark' (Θ counts the benchmark's own network for the architecture, "
                         f"whose accuracy the ground truth gives) or 'scorer' (the network SWAP is scored on), "
                         f"not {theta!r}")


def _fitted_mu_sigma(theta: np.ndarray, mu, sigma, auto_quantile) -> tuple:
    """µ and σ with each ``auto`` replaced by the ``auto_quantile`` of the population's Θ."""
    if mu == "auto" or sigma == "auto":
        amu, asig = auto_mu_sigma(theta, auto_quantile)
        mu = amu if mu == "auto" else mu
        sigma = asig if sigma == "auto" else sigma
    return mu, sigma


def reg_swap_combine(swap_values, params_millions, *, mu="auto", sigma="auto", theta_unit="K",
                     auto_quantile=1.0, theta="benchmark", **_swap_opts) -> tuple[np.ndarray, dict]:
    """reg-SWAP over a population from its ``swap`` scores and its Θ in millions of parameters
    (the caller passes the benchmark network's counts for ``theta: benchmark``, the scoring
    network's for ``theta: scorer``). Returns the scores and the µ, σ, unit actually used."""
    _check_theta_network(theta)
    th = _theta(params_millions, theta_unit)
    mu, sigma = _fitted_mu_sigma(th, mu, sigma, auto_quantile)
    values = np.asarray(swap_values, dtype=float) * size_factor(th, float(mu), float(sigma))
    return values, {"mu": float(mu), "sigma": float(sigma), "theta_unit": theta_unit}


REG_SWAP_DEFAULTS = {**SWAP_DEFAULTS, "mu": "auto", "sigma": "auto", "theta_unit": "K", "auto_quantile": 1.0,
                     "theta": "benchmark"}


def check_reg_swap_options(opts: dict) -> None:
    """A :class:`UsageError` for reg_swap options that cannot be used (``mu``/``sigma`` neither a
    number nor ``auto``, a σ <= 0, an unknown ``theta_unit`` or ``theta``, ``auto_quantile``
    outside (0, 1])."""
    for key in ("mu", "sigma"):
        v = opts[key]
        if v != "auto" and (isinstance(v, bool) or not isinstance(v, (int, float)) or (key == "sigma" and v <= 0)):
            raise UsageError(f"reg_swap {key} must be a {'positive ' if key == 'sigma' else ''}number "
                             f"(in theta_unit) or 'auto', not {v!r}")
    if opts["theta_unit"] not in THETA_UNITS:
        raise UsageError(f"reg_swap theta_unit must be one of {sorted(THETA_UNITS)}, not {opts['theta_unit']!r}")
    _check_theta_network(opts["theta"])
    q = opts["auto_quantile"]
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q <= 1:
        raise UsageError(f"reg_swap auto_quantile must be a number in (0, 1] (1: µ = σ = the largest Θ of "
                         f"the population), not {q!r}")


def _reg_swap_bases(opts: dict, study_labels) -> tuple[Base, ...]:
    check_reg_swap_options(opts)
    return (per_network("swap", opts), per_network("params", opts, size=True,
                                                   benchmark_size=opts["theta"] == "benchmark"))


def _reg_swap_fit(population: Population, *, mu, sigma, theta_unit, auto_quantile, **opts) -> dict:
    """``auto`` µ / σ become the ``auto_quantile`` of the population's Θ (the ``params`` base)."""
    mu, sigma = _fitted_mu_sigma(_theta(population.scores["params"], theta_unit), mu, sigma, auto_quantile)
    return {**opts, "mu": mu, "sigma": sigma, "theta_unit": theta_unit, "auto_quantile": auto_quantile}


@register_population_proxy("reg_swap", bases=_reg_swap_bases, fit=_reg_swap_fit, family="expressivity",
                           paper="Peng et al., SWAP-Score, ICLR 2024 (regularised, Eq. 3)",
                           defaults=REG_SWAP_DEFAULTS)
def reg_swap(population: Population, **opts) -> Combined:
    """Ψ · exp(-(Θ-µ)²/σ), Θ in K (DARTS scorer, SWAP-NAS) or M (benchmark tables) parameters.

    ``mu``/``sigma`` ``auto`` are µ = σ = the ``auto_quantile`` of the population's Θ (1.0: the
    largest), and Θ counts the benchmark's own network for each architecture (``theta:
    benchmark``, the ground truth's ``network``) or the scoring network (``theta: scorer``).
    Pointwise: with µ and σ fitted on a population (:meth:`fit`), one network's score is a
    function of its own Ψ and Θ."""
    values, used = reg_swap_combine(population.scores["swap"], population.scores["params"], **opts)
    used["theta"] = population.benchmark_network if opts["theta"] == "benchmark" else "the scoring network"
    return Combined(values, used)


# ----------------------------------------------------------------------------- reference

def swap_reference(net: nn.Module, inputs: torch.Tensor, activations: str = "relu_4d") -> int:
    """The plain official computation, for tests and benchmarks: hook outputs, flatten per
    sample, concatenate into S x V, ``sign()``, transpose, ``torch.unique(dim=0)``."""
    outs: list[torch.Tensor] = []

    def hook(module, inp, out):
        if activations == "relu_4d" and inp[0].dim() != 4:
            return
        outs.append(out.detach().reshape(out.shape[0], -1))

    forward_with_hooks(net, inputs, [(m, hook) for m in net.modules() if _hooked(m, activations)])
    matrix = torch.cat(outs, dim=1).sign().t()
    return int(torch.unique(matrix, dim=0).shape[0])
