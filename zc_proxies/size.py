"""Size proxies ``params`` and ``flops`` (millions), counted by default exactly as
NAS-Bench-Suite-Zero counts them.

NB-Suite-Zero (NASLib's ``find_measures``) counts both with tensorwatch's ``ModelStats`` on one
sample of the batch's shape: a forward pass in eval mode with hooks on every *leaf* module
(``named_modules`` order, a shared module once). Per leaf module it keeps the parameter count and
the FLOPs of its *last* call (a module run several times, as TNB101's jigsaw encoder on 9 tiles,
counts once; a module that never runs counts 0 parameters and 0 FLOPs, as the discriminator of
TNB101's autoencoder/normal GAN), and the totals are the sums. Its per-type rules:

* ``nn.Conv2d`` (subclasses too): k_h·k_w·C_in·(C_out / groups)·H_out·W_out multiply-adds, plus
  C_out·H_out·W_out with a bias (one per output element: not 2 per multiply-add);
* ``nn.Linear``: in·out per sample (bias not counted);
* ``nn.BatchNorm2d``: 2 per input element with affine parameters, else 1;
* ``nn.ReLU``, ``ReLU6``, ``PReLU``, ``ELU``, ``LeakyReLU``: 1 per input element;
* ``nn.AvgPool2d``, ``nn.MaxPool2d``: k·k per output element, the output size taken as
  floor((W + 2p - k) / s + 1) with the first stride for both sides;
* ``nn.AdaptiveAvgPool2d``, ``AdaptiveMaxPool2d``: per output cell C·(h + 1)·(w + 1), h × w its
  input window (a global pool of C × H × W counts C·(H + 1)·(W + 1));
* ``nn.Upsample``: one per output pixel, channels not counted (H_out·W_out per sample);
* every other module (``ConvTranspose2d``, GELU, LayerNorm, Tanh, ...) and every functional op
  (additions, concatenations, ``F.relu``): 0.

Parameters owned by a module with children (not a leaf), such as a ViT's class token, are not
counted either. ``counter="naslib"`` (default) reproduces these counts exactly; they equal the
``flops`` and ``params`` of NB-Suite-Zero's ``zc_<space>.json`` files for every architecture of
NB101, NB201, NB301 and TNB101 micro/macro. ``nn.Linear`` on inputs of more than 2 dimensions
(which tensorwatch refuses) counts in·out per leading position.

Why zcbench counts per module type itself instead of depending on tensorwatch: the rules above
are all there is; tensorwatch is a visualisation package (0.9.1) whose install pulls plotly,
pyzmq, ipywidgets, nbformat, scikit-image, pydot and graphviz, it runs a real forward pass on a
deep copy (seconds for a TNB101 decoder at 256 x 256), and it has no other use here. zcbench's pass is shape-only: the counted module types
return uninitialised tensors of the right shape instead of computing (the FLOPs need only the
shapes), so counting costs milliseconds on any network; a network that cannot run that way
(values used for control flow or indexing) is counted by a real single-sample forward instead.

The other conventions are options: ``flops(counter="torch")`` is ``torch.utils.flop_counter``
(2 FLOPs per multiply-add of conv, linear and matmul, nothing else counted);
``params(counter="all")`` counts every parameter except auxiliary heads (SWAP's
``count_parameters``, :func:`count_params`).
"""
from __future__ import annotations

import copy
import math
import types
from dataclasses import dataclass

import torch
from torch import nn

from zc_proxies.base import register_proxy
from zc_proxies.errors import UsageError
from zc_proxies.probe import Probe, register_signal

PAPER = "NAS-Bench-Suite-Zero (Krishnakumar et al., 2022)"
FLOPS_COUNTERS = ("naslib", "torch")
PARAMS_COUNTERS = ("naslib", "all")
RELU_TYPES = (nn.ReLU, nn.ReLU6, nn.PReLU, nn.ELU, nn.LeakyReLU)
POOL_TYPES = (nn.AvgPool2d, nn.MaxPool2d)
ADAPTIVE_POOL_TYPES = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def count_params(net: nn.Module) -> int:
    """Σ numel over named parameters, auxiliary heads excluded (SWAP's count_parameters)."""
    return sum(p.numel() for n, p in net.named_parameters() if "auxiliary" not in n)


# ----------------------------------------------------------------------------- per-module rules

def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def module_flops(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """FLOPs of one call of leaf module ``m`` with input ``x`` and output ``y`` (tensorwatch's rules)."""
    if isinstance(m, nn.Conv2d):
        kh, kw = m.kernel_size
        c_out, h, w = y.shape[1:]
        positions = y.shape[0] * h * w
        return kh * kw * x.shape[1] * (c_out // m.groups) * positions + (c_out * positions if m.bias is not None else 0)
    if isinstance(m, nn.BatchNorm2d):
        return x.numel() * (2 if m.affine else 1)
    if isinstance(m, POOL_TYPES):
        k, s, p = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding)
        w_out = math.floor((x.shape[3] + 2 * p[0] - k[0]) / float(s[0]) + 1)
        h_out = math.floor((x.shape[2] + 2 * p[1] - k[1]) / float(s[0]) + 1)
        return x.shape[0] * x.shape[1] * w_out * h_out * k[0] * k[1]
    if isinstance(m, ADAPTIVE_POOL_TYPES):
        h, w, oh, ow = x.shape[2], x.shape[3], y.shape[2], y.shape[3]
        rows = sum(math.ceil((i + 1) * h / oh) - math.floor(i * h / oh) + 1 for i in range(oh))
        cols = sum(math.ceil((j + 1) * w / ow) - math.floor(j * w / ow) + 1 for j in range(ow))
        return x.shape[0] * x.shape[1] * rows * cols
    if isinstance(m, RELU_TYPES):
        return x.numel()
    if isinstance(m, nn.Upsample):
        return y.shape[0] * math.prod(y.shape[2:])
    if isinstance(m, nn.Linear):
        return math.prod(x.shape[:-1]) * x.shape[-1] * y.shape[-1]
    return 0


# ----------------------------------------------------------------------------- shape-only forwards

def _conv_len(n: int, k: int, s: int, p: int, d: int, ceil: bool = False) -> int:
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + p:  # the last window must start inside the input or left padding
        out -= 1
    return out


def _empty(x: torch.Tensor, *shape: int) -> torch.Tensor:
    return torch.empty(shape, dtype=x.dtype, device=x.device)


def _shape_conv(self, x, *args, **kwargs):
    k, s, d = self.kernel_size, self.stride, self.dilation
    if isinstance(self.padding, str):
        if self.padding != "same":  # "valid"
            p = (0, 0)
        else:
            return _empty(x, *x.shape[:-3], self.out_channels, *x.shape[-2:])
    else:
        p = self.padding
    hw = [_conv_len(x.shape[-2 + i], k[i], s[i], p[i], d[i]) for i in range(2)]
    return _empty(x, *x.shape[:-3], self.out_channels, *hw)


def _shape_deconv(self, x, output_size=None, *args, **kwargs):
    if output_size is not None:
        return _empty(x, *x.shape[:-3], self.out_channels, *list(output_size)[-2:])
    k, s, p, d, op = self.kernel_size, self.stride, self.padding, self.dilation, self.output_padding
    hw = [(x.shape[-2 + i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 for i in range(2)]
    return _empty(x, *x.shape[:-3], self.out_channels, *hw)


def _shape_linear(self, x, *args, **kwargs):
    return _empty(x, *x.shape[:-1], self.out_features)


def _shape_same(self, x, *args, **kwargs):
    return x


def _shape_pool(self, x, *args, **kwargs):
    k, s, p = _pair(self.kernel_size), _pair(self.stride if self.stride is not None else self.kernel_size), \
        _pair(self.padding)
    d = _pair(getattr(self, "dilation", 1))
    hw = [_conv_len(x.shape[-2 + i], k[i], s[i], p[i], d[i], self.ceil_mode) for i in range(2)]
    out = _empty(x, *x.shape[:-2], *hw)
    return (out, out.long()) if getattr(self, "return_indices", False) else out


def _shape_adaptive(self, x, *args, **kwargs):
    size = _pair(self.output_size)
    hw = [x.shape[-2 + i] if size[i] is None else size[i] for i in range(2)]
    out = _empty(x, *x.shape[:-2], *hw)
    return (out, out.long()) if getattr(self, "return_indices", False) else out


SHAPE_FORWARDS = (
    (nn.Conv2d, _shape_conv),
    (nn.ConvTranspose2d, _shape_deconv),
    (nn.Linear, _shape_linear),
    (nn.BatchNorm2d, _shape_same),
    (RELU_TYPES, _shape_same),
    (POOL_TYPES, _shape_pool),
    (ADAPTIVE_POOL_TYPES, _shape_adaptive),
)


def _shape_forward(m: nn.Module):
    """The shape-only forward of ``m``: for the stock classes above and subclasses that keep
    their ``forward`` (a subclass with its own forward may compute another shape), else None."""
    for classes, fn in SHAPE_FORWARDS:
        classes = classes if isinstance(classes, tuple) else (classes,)
        if isinstance(m, classes) and any(type(m).forward is c.forward for c in classes):
            return fn
    return None


# ----------------------------------------------------------------------------- the counter

@dataclass(frozen=True)
class ModelStats:
    """NB-Suite-Zero's (tensorwatch's) totals for one sample: FLOPs and parameters."""

    flops: int
    params: int


def _first_tensor(v):
    if isinstance(v, torch.Tensor):
        return v
    if isinstance(v, (list, tuple)):
        for e in v:
            t = _first_tensor(e)
            if t is not None:
                return t
    return None


def model_stats(net: nn.Module, inputs: torch.Tensor, *, shape_only: bool = True) -> ModelStats:
    """tensorwatch's ``ModelStats`` of ``net`` on a single sample of ``inputs``' shape (see the
    module docstring). ``net`` is left as it was (weights, buffers, train/eval mode).

    ``shape_only`` (default): the counted module types only produce outputs of the right shape
    (nothing is computed); if the network fails that way, the count falls back to a real forward
    pass of ``inputs[:1]`` in eval mode (no gradients, BN statistics untouched)."""
    if shape_only:
        try:
            return _count(net, torch.empty((1, *inputs.shape[1:]), dtype=inputs.dtype, device=inputs.device), True)
        except Exception:  # values were needed (indexing, control flow): count on real values
            pass
    return _count(net, inputs[:1].detach(), False)


def _count(net: nn.Module, x: torch.Tensor, shape_only: bool) -> ModelStats:
    leaves = [m for m in net.modules() if next(m.children(), None) is None]
    flops: dict[int, int] = {}
    params: dict[int, int] = {}

    def hook(m, inp, out):
        a, b = _first_tensor(inp), _first_tensor(out)
        flops[id(m)] = module_flops(m, a, b) if a is not None and b is not None else 0
        params[id(m)] = sum(p.numel() for p in m.parameters(recurse=False))

    modes = [(m, m.training) for m in net.modules()]
    handles, patched = [], []
    try:
        for m in leaves:
            handles.append(m.register_forward_hook(hook))
            fn = _shape_forward(m) if shape_only else None
            if fn is not None:
                patched.append((m, m.__dict__.get("forward")))
                m.forward = types.MethodType(fn, m)
        net.eval()
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
        for m, old in patched:
            if old is None:
                del m.forward
            else:
                m.forward = old
        for m, mode in modes:
            m.training = mode
    return ModelStats(sum(flops.values()), sum(params.values()))


@register_signal("model_stats")
def _model_stats_signal(probe: Probe) -> ModelStats:
    return model_stats(probe.net, probe.inputs)


def _check_counter(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise UsageError(f"{name} counter must be one of {allowed}, not {value!r}")


@register_proxy("params", consumes=("model_stats",), family="size", paper=PAPER, defaults={"counter": "naslib"})
def params(probe: Probe, *, counter: str = "naslib") -> float:
    """Parameter count in millions: of the modules one forward pass runs (NB-Suite-Zero's
    tensorwatch count, ``counter="naslib"``) or of the whole network except auxiliary heads
    (``counter="all"``, SWAP's count_parameters)."""
    _check_counter("params", counter, PARAMS_COUNTERS)
    if counter == "all":
        return count_params(probe.net) / 1e6
    return probe.signal("model_stats").params / 1e6


@register_proxy("flops", consumes=("model_stats",), family="size", paper=PAPER, defaults={"counter": "naslib"})
def flops(probe: Probe, *, counter: str = "naslib") -> float:
    """MFLOPs of one sample: NB-Suite-Zero's tensorwatch rules (``counter="naslib"``: conv and
    linear multiply-adds, BN, ReLU and pooling) or ``torch.utils.flop_counter`` (``"torch"``:
    2 per multiply-add of conv/linear/matmul only)."""
    _check_counter("flops", counter, FLOPS_COUNTERS)
    if counter == "naslib":
        return probe.signal("model_stats").flops / 1e6
    from torch.utils.flop_counter import FlopCounterMode

    net = copy.deepcopy(probe.net).eval()  # eval: BN on a single sample
    fc = FlopCounterMode(display=False)
    with torch.no_grad(), fc:
        net(probe.inputs[:1])
    return fc.get_total_flops() / 1e6
