"""Task losses for the gradient signals, by name, as NASLib's ``get_loss_fn`` picks them
(cross-entropy for classification, as NAS-Bench-Suite-Zero's zero-cost code).

Every loss takes ``(outputs, targets)``. Networks that return a tuple or list, such as
``(logits, aux_logits)``, are scored on the first element only (:func:`main_output`); the
gradient signals apply it before calling the loss, so a user-supplied callable also sees the
first element.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def main_output(outputs):
    """The first element of a tuple/list output (logits of ``(logits, aux)``), else ``outputs``."""
    while isinstance(outputs, (tuple, list)):
        if not outputs:
            raise ValueError("the network returned an empty tuple/list; expected logits")
        outputs = outputs[0]
    return outputs


def cross_entropy(outputs, targets: torch.Tensor) -> torch.Tensor:
    """``F.cross_entropy``: (N, C) logits with (N,) labels, or per pixel for (N, C, H, W) logits
    with (N, H, W) labels (TNB segmentsemantic), mean over all terms."""
    return F.cross_entropy(main_output(outputs), targets)


def soft_cross_entropy(outputs, targets: torch.Tensor) -> torch.Tensor:
    """TNB's ``SoftmaxCrossEntropyWithLogits`` (class_object, class_scene): soft label
    distributions, −Σ target · log(softmax(logits) + 1e-5) over the last dim, batch mean."""
    logits = main_output(outputs)
    log_p = torch.log(F.softmax(logits, dim=-1) + 1e-5)
    return -(targets * log_p).sum(dim=-1).mean()


_l1 = nn.L1Loss()
_mse = nn.MSELoss()


def l1(outputs, targets: torch.Tensor) -> torch.Tensor:
    """``nn.L1Loss`` (mean absolute error): TNB autoencoder and normal."""
    return _l1(main_output(outputs), targets)


def mse(outputs, targets: torch.Tensor) -> torch.Tensor:
    """``nn.MSELoss`` (mean squared error): TNB room_layout (9-D targets)."""
    return _mse(main_output(outputs), targets)


LOSSES: dict[str, LossFn] = {
    "cross_entropy": cross_entropy,
    "soft_cross_entropy": soft_cross_entropy,
    "l1": l1,
    "mse": mse,
}


def get_loss(name_or_callable) -> LossFn:
    """The loss named ``name_or_callable`` (see ``LOSSES``), or the callable itself."""
    if callable(name_or_callable):
        return name_or_callable
    if isinstance(name_or_callable, str) and name_or_callable in LOSSES:
        return LOSSES[name_or_callable]
    raise ValueError(
        f"unknown loss {name_or_callable!r}; known losses: {', '.join(sorted(LOSSES))} "
        f"(or pass a callable loss(outputs, targets))"
    )
