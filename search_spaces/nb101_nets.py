"""The NAS-Bench-101 network, as NASLib builds it for zero-cost evaluation.

``nasbench-pytorch``, see below): stem ConvBnReLU 3x3 (3 -> ``stem_channels``), then
``num_stacks`` stacks of ``num_cells`` cells with MaxPool2d(2, 2) and channel doubling before
every stack but the first, then global average pooling and Linear. Inside a cell every
input -> vertex edge is a 1x1 ConvBnReLU projection, vertex inputs are summed after truncating
channels (by at most 1), the output is the concatenation of the vertices feeding it, plus the
projected input when the input feeds the output. Init: Conv N(0, sqrt(2 / (k^2 C_out))), BN
weight 1 and bias 0, Linear N(0, 0.01) and bias 0; BN with PyTorch defaults; ReLUs not in
place. Modules are created and initialised in the order of NASLib's builder (archai's
``nasbench101/model.py``). The global average is NASLib's ``torch.mean`` over H, W, inside a
parameter-free :class:`GlobalAvgPool` module that ``zen_feature_module`` names, so that zen finds
the feature map before it, while FLOP counters that count ``nn.AdaptiveAvgPool2d`` (NB-Suite-Zero's
tensorwatch) count nothing for it, as for NASLib's network.

Why not ``nasbench-pytorch`` (1.3.1, Apache-2.0)? It installs and imports, but its network
differs from NASLib's in ways that change proxy scores: every cell carries ``Placeholder``
modules, each with a scalar ``nn.Parameter`` drawn with ``torch.randn`` (more parameters than
NB101 reports, and a shifted random stream for the weights that follow), and its ``Network``
passes BN ``momentum=0.997`` (a TensorFlow value; in PyTorch's convention it means running
statistics are replaced almost entirely by each batch) to the stem and the input projections
but not to the vertex ops, which changes zen through ``running_var``. The builder is also
short, and writing it keeps the NB101 semantics in one documented place.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from search_spaces.nb101_graph import CONV1X1, CONV3X3, MAXPOOL3X3, NB101Arch
from zc_proxies.errors import UsageError

def vertex_channels(in_channels: int, out_channels: int, matrix: Sequence[Sequence[int]]) -> list[int]:
    """Channels of every vertex (NB101 ``ComputeVertexChannels``): the output's channels are
    split evenly over the interior vertices that feed it, the first ``out_channels % k`` of
    them (in vertex order) getting one more; every other interior vertex takes the max over
    the vertices it feeds, going backwards. Vertex 0 has ``in_channels``."""
    n = len(matrix)
    ch = [0] * n
    ch[0], ch[n - 1] = in_channels, out_channels
    if n == 2:
        return ch
    feeders = [v for v in range(1, n - 1) if matrix[v][n - 1]]
    base, extra = divmod(out_channels, len(feeders))
    for k, v in enumerate(feeders):
        ch[v] = base + (1 if k < extra else 0)
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            ch[v] = max(ch[d] for d in range(v + 1, n - 1) if matrix[v][d])
    if min(ch[1:n - 1]) <= 0:
        raise UsageError(f"{out_channels} output channels cannot be split over {len(feeders)} vertices "
                         f"feeding the output; use more channels")
    return ch


class ConvBnRelu(nn.Sequential):
    """Conv(k, stride 1, pad k//2, no bias) -> BatchNorm2d (PyTorch defaults) -> ReLU (not in place)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int):
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel_size, stride=1, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=False),
        )


def _make_op(name: str, channels: int) -> nn.Module:
    if name == CONV3X3:
        return ConvBnRelu(channels, channels, 3)
    if name == CONV1X1:
        return ConvBnRelu(channels, channels, 1)
    if name == MAXPOOL3X3:
        return nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
    raise ValueError(f"no module for op {name!r}")


def _truncate(x: torch.Tensor, channels: int) -> torch.Tensor:
    c = x.shape[1]
    if c == channels:
        return x
    if c != channels + 1:
        raise RuntimeError(f"cannot truncate {c} channels to {channels}; NB101 truncates by at most 1")
    return x[:, :channels]


class NB101Cell(nn.Module):
    """One NB101 cell (module) with ``in_channels`` -> ``out_channels``.

    ``vertex_ops[str(t)]`` is the op of interior vertex t; ``projections[str(t)]`` the 1x1
    ConvBnReLU on edge input -> t (t may be the output vertex). Created in NASLib's order:
    vertex ops, then projections.
    """

    def __init__(self, arch: NB101Arch, in_channels: int, out_channels: int):
        super().__init__()
        self.matrix = arch.matrix
        n = len(arch.ops)
        self.channels = vertex_channels(in_channels, out_channels, arch.matrix)
        self.vertex_ops = nn.ModuleDict({str(t): _make_op(arch.ops[t], self.channels[t]) for t in range(1, n - 1)})
        self.projections = nn.ModuleDict({str(t): ConvBnRelu(in_channels, self.channels[t], 1)
                                          for t in range(1, n) if arch.matrix[0][t]})
        self._n = n
        # per interior vertex: the interior sources; the vertices feeding the output
        self._srcs = tuple(tuple(s for s in range(1, t) if arch.matrix[s][t]) for t in range(n))
        self._to_out = tuple(t for t in range(1, n - 1) if arch.matrix[t][n - 1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self._n
        states: list = [x]
        for t in range(1, n - 1):
            c = self.channels[t]
            fan_in = [_truncate(states[s], c) for s in self._srcs[t]]
            if self.matrix[0][t]:
                fan_in.append(self.projections[str(t)](x))
            total = fan_in[0]
            for y in fan_in[1:]:
                total = total + y
            states.append(self.vertex_ops[str(t)](total))
        if not self._to_out:
            return self.projections[str(n - 1)](x)
        outs = [states[t] for t in self._to_out]
        out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)
        if self.matrix[0][n - 1]:
            out = out + self.projections[str(n - 1)](x)
        return out

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class GlobalAvgPool(nn.Module):
    """``x.mean((2, 3))`` as NASLib's NB101 network takes it (a functional mean there, not an
    ``nn.AdaptiveAvgPool2d``: NB-Suite-Zero's flops count nothing for it); a module so that zen
    can hook its input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.mean(x, (2, 3))


class NB101Network(nn.Module):
    """stem -> ``num_stacks`` x (``num_cells`` cells), MaxPool2d(2) + doubling between stacks -> GAP -> Linear."""

    def __init__(self, arch: NB101Arch, num_classes: int = 10, stem_channels: int = 128, num_stacks: int = 3,
                 num_cells: int = 3, in_channels: int = 3):
        super().__init__()
        self.arch = arch
        self.layers = nn.ModuleList([ConvBnRelu(in_channels, stem_channels, 3)])
        c_in = c = stem_channels
        for stack in range(num_stacks):
            if stack > 0:
                self.layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                c *= 2
            for _ in range(num_cells):
                self.layers.append(NB101Cell(arch, c_in, c))
                c_in = c
        self.global_pool = GlobalAvgPool()
        self.classifier = nn.Linear(c, num_classes)
        self._initialize_weights()

    def _initialize_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2.0 / fan))
                if m.bias is not None:
                    m.bias.data.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                m.weight.data.normal_(0, 0.01)
                m.bias.data.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.classifier(self.global_pool(x))

    def zen_feature_module(self) -> nn.Module:
        """The module whose input is the feature map zen reads (before global pooling)."""
        return self.global_pool

    def cell_modules(self) -> list[nn.Module]:
        """The modules whose outputs are the per-cell features (AZ-NAS): the stem, then every
        cell (the max-pools between stacks are not cells)."""
        return [m for m in self.layers if not isinstance(m, nn.MaxPool2d)]


