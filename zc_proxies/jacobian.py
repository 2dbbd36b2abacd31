"""jacov and epe_nas over one shared ``input_jacobian`` signal.

Both proxies read J = d(Σ outputs)/dx for one batch: on a copy of the network (no re-init, BN
in train mode as NASLib scores it, so samples are coupled through the batch statistics),
``y = net(x)``, ``y.backward(ones_like(y))``, ``J = x.grad``. The signal is computed once per
probe and shared.

NASLib quirks kept as named options (NASLib's behaviour is the default):

* ``jacov``: eigenvalues of the S x S correlation matrix come from ``np.linalg.eig`` (the
  general solver, although the matrix is symmetric), so they may come back complex; the score
  -Σ [log(λ + 1e-5) + 1/(λ + 1e-5)] is then evaluated in complex arithmetic and NASLib keeps
  its real part when it converts the result to a float (``eig="eig"``). A real negative
  eigenvalue (round-off on a near-singular matrix) gives NaN. ``eig="eigvalsh"`` uses the
  symmetric solver: always real eigenvalues.
* ``epe_nas``: n_classes is the last dimension of the network output (``y.shape[-1]``), not
  the task's class count (``n_classes=None``); with more than 100 classes each class's score is
  divided by its number of samples, and classes with a single sample are skipped (a 0-d
  correlation "matrix" has no ``len`` and NASLib's ``except: continue`` drops it). For dense
  outputs (segmentation, autoencoders) ``y.shape[-1]`` is a spatial width and the score is
  meaningless, so a non-(S, n_classes) output is refused with a ValueError.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from zc_proxies.base import register_proxy
from zc_proxies.errors import UsageError
from zc_proxies.probe import BN_MODES, Probe, prepare_copy, register_signal

EIG_SOLVERS = ("eig", "eigvalsh")
JACOV_DEFAULTS = {"bn_mode": "train", "eig": "eig"}
EPE_DEFAULTS = {"bn_mode": "train", "n_classes": None, "regression_targets": "refuse"}
REGRESSION_TARGETS = ("refuse", "argmax")
REGRESSION_LOSSES = ("mse", "l1")
K_EPS = 1e-5


@dataclass
class InputJacobian:
    """J = d(Σ outputs)/dx per sample, shape (S, *input shape), and the network output shape."""

    grad: torch.Tensor
    out_shape: tuple[int, ...]

    def flat(self) -> np.ndarray:
        """(S, D) float32, as NASLib flattens it before ``np.corrcoef``."""
        return self.grad.reshape(self.grad.shape[0], -1).cpu().numpy()


def first_output(out):
    """The tensor a proxy differentiates: the output itself, or the first element of a tuple."""
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"the network returned {type(out).__name__}, expected a tensor or a tuple of tensors")
    return out


@register_signal("input_jacobian")
def _input_jacobian(probe: Probe, *, bn_mode: str) -> InputJacobian:
    work = prepare_copy(probe.net, reinit="none", bn_mode=bn_mode)
    for p in work.parameters():  # only x.grad is needed; x.grad does not depend on this
        p.requires_grad_(False)
    x = probe.inputs.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        y = first_output(work(x))
        if y.requires_grad:
            y.backward(torch.ones_like(y))
    if x.grad is None:
        raise ValueError("the network output does not depend on its input; the input Jacobian is undefined")
    return InputJacobian(x.grad.detach(), tuple(y.shape))


# ----------------------------------------------------------------------------- jacov

def jacov_score(jac: np.ndarray, eig: str = "eig") -> float:
    """-Σ_i [log(λ_i + k) + 1/(λ_i + k)], λ the eigenvalues of corrcoef of the rows of ``jac``."""
    if eig not in EIG_SOLVERS:
        raise UsageError(f"eig must be one of {EIG_SOLVERS}, not {eig!r}")
    with np.errstate(all="ignore"):
        corrs = np.corrcoef(jac)
        if not np.all(np.isfinite(corrs)):
            return float("nan")  # a constant Jacobian row; NASLib's except -> nan
        v = np.linalg.eig(corrs)[0] if eig == "eig" else np.linalg.eigvalsh(corrs)
        s = -np.sum(np.log(v + K_EPS) + 1.0 / (v + K_EPS))
    return float(np.real(s))


def _check_bn_mode(bn_mode: str) -> None:
    if bn_mode not in BN_MODES:
        raise UsageError(f"bn_mode must be one of {BN_MODES}, not {bn_mode!r}")


@register_proxy("jacov", consumes=("input_jacobian",), family="expressivity",
                paper="Mellor et al., NASWOT v1 (2020); NAS-Bench-Suite-Zero (Krishnakumar et al., 2022)",
                defaults=JACOV_DEFAULTS)
def jacov(probe: Probe, *, bn_mode: str, eig: str) -> float:
    """Jacobian covariance: -Σ [log(λ+1e-5) + 1/(λ+1e-5)] over eigenvalues of corrcoef(J)."""
    _check_bn_mode(bn_mode)
    return jacov_score(probe.signal("input_jacobian", bn_mode=bn_mode).flat(), eig)


# ----------------------------------------------------------------------------- epe_nas

def epe_nas_score(jac: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    """NASLib's ``eval_score_perclass``: per class Σ log(|corrcoef(J_c)| + 1e-5), then Σ_c |s_c|
    (n_classes <= 100) or Σ_{c,c'} |s_c - s_c'| / #classes scored (n_classes > 100)."""
    scores: dict = {}
    with np.errstate(all="ignore"):
        for c in np.unique(labels):  # the order of classes and of rows does not change the sums
            rows = jac[labels == c]
            if rows.shape[0] == 1:
                corrs = np.corrcoef(rows[0])  # NASLib keeps a lone sample as a 1-D vector: 0-d result
                s = np.sum(np.log(abs(corrs) + K_EPS))
                if n_classes > 100:
                    continue  # len() of the 0-d array raises in NASLib; the class is skipped
            else:
                corrs = np.corrcoef(rows)
                s = np.sum(np.log(abs(corrs) + K_EPS))
                if n_classes > 100:
                    s /= len(corrs)
            scores[c] = s
        vals = np.array(list(scores.values()), dtype=float)
        if n_classes <= 100:
            return float(np.sum(np.abs(vals)))
        if vals.size == 0:  # NASLib divides 0 by 0 here and returns NaN
            raise ValueError(
                f"epe_nas with n_classes = {n_classes} > 100 skips every class with a single sample (NASLib), and "
                f"no class among these {labels.size} labels has two samples: use a larger batch")
        return float(np.sum(np.abs(vals[:, None] - vals[None, :])) / vals.size)


def _is_distribution(t: torch.Tensor) -> bool:
    return bool(t.is_floating_point() and (t >= 0).all() and torch.allclose(t.sum(dim=1), torch.ones((), device=t.device),
                                                                               atol=1e-3))


def epe_labels(probe: Probe, n_samples: int, regression_targets: str = "refuse") -> np.ndarray:
    """One class label per sample from the probe's targets: (S,) labels as they are; (S, K) soft
    labels by argmax (NASLib); regression targets refused unless ``regression_targets="argmax"``."""
    if regression_targets not in REGRESSION_TARGETS:
        raise UsageError(f"regression_targets must be one of {REGRESSION_TARGETS}, not {regression_targets!r}")
    t = probe.targets.detach()
    if t.dim() == 2:  # soft labels (TNB class_object / class_scene): NASLib takes the argmax
        regression = (probe.loss in REGRESSION_LOSSES) if isinstance(probe.loss, str) else not _is_distribution(t)
        if regression and regression_targets == "refuse":
            raise ValueError(
                f"epe_nas is undefined on this task: it groups the samples by class label and needs one class "
                f"label per sample, but the targets are regression values of shape {tuple(t.shape)} (loss "
                f"{probe.loss if isinstance(probe.loss, str) else 'callable'!r}), not labels; NASLib takes their "
                "argmax as a label, which regression_targets='argmax' reproduces")
        t = t.argmax(dim=1)
    elif t.dim() != 1:
        raise ValueError(f"epe_nas is undefined on this task: it needs one class label per sample, but the targets "
                         f"have shape {tuple(t.shape)} (per-pixel or image targets)")
    labels = t.reshape(-1).cpu().numpy()
    if labels.shape[0] != n_samples:
        raise ValueError(f"epe_nas needs one label per sample: {labels.shape[0]} labels for {n_samples} samples")
    return labels


@register_proxy("epe_nas", consumes=("input_jacobian",), family="expressivity",
                paper="Lopes et al., EPE-NAS (ICANN 2021); NAS-Bench-Suite-Zero (Krishnakumar et al., 2022)",
                defaults=EPE_DEFAULTS)
def epe_nas(probe: Probe, *, bn_mode: str, n_classes, regression_targets: str = "refuse") -> float:
    """Per-class Jacobian correlations; n_classes from the output's last dim (NASLib)."""
    _check_bn_mode(bn_mode)
    if regression_targets not in REGRESSION_TARGETS:
        raise UsageError(f"regression_targets must be one of {REGRESSION_TARGETS}, not {regression_targets!r}")
    if probe.targets is None:
        raise ValueError("epe_nas groups samples by label and needs probe targets (labels)")
    sig = probe.signal("input_jacobian", bn_mode=bn_mode)
    s = sig.grad.shape[0]
    if len(sig.out_shape) != 2 or sig.out_shape[0] != s:
        raise ValueError(
            f"epe_nas is undefined for dense-output tasks: it needs one class label per sample to group the "
            f"samples' Jacobians, but the network output has shape {sig.out_shape}, not (batch, n_classes), and "
            f"the targets have shape {tuple(probe.targets.shape)}; NASLib would take n_classes = "
            f"{sig.out_shape[-1]} (a spatial size) and return a meaningless value (NaN on TNB's dense tasks). "
            "Score epe_nas only on classification networks.")
    if n_classes is None:
        n_classes = int(sig.out_shape[-1])  # QUIRK: the output width, not the task's class count
    elif isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
        raise UsageError(f"n_classes must be None (the output's last dimension) or a positive int, not {n_classes!r}")
    labels = epe_labels(probe, s, regression_targets)
    return epe_nas_score(sig.flat(), labels, n_classes)
