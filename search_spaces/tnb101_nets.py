"""The TransNAS-Bench-101 networks, as the benchmark's own model code builds them: the micro
cell and macro encoder, and the decoder of each task (the space that builds them is
:class:`search_spaces.tnb101.TNB101Space`).

Encoder = TNB's ``MacroNet(structure="backbone")``: stem Conv3x3 s2 (3 -> C/2) + BN, then
ReLU-Conv3x3 s2 (C/2 -> C) + BN; then the modules; Kaiming-normal (fan_out) init of the
encoder's convs, BN weight 1, bias 0 (decoders keep PyTorch's default init). For 256 x 256
inputs and C = 64 the micro encoder gives 512 x 8 x 8 features. Decoders per task:

==================  ======================================================  =================
task                decoder                                                 output
==================  ======================================================  =================
class_object        FFDecoder: GAP + Linear                                 100 (soft labels)
class_scene         FFDecoder: GAP + Linear                                 63 (soft labels)
room_layout         FFDecoder: GAP + Linear                                 9 (regression)
jigsaw              SiameseNet: encoder on each of 9 tiles, channel concat,  1000 permutations
                    GAP + Linear(9 C_enc, 1000)
segmentsemantic     SegmentationDecoder: Conv/Deconv, LeakyReLU(0.2) + BN,   17 x H x W
                    last Conv3x3 -> 17
autoencoder/normal  GAN: forward = GenerativeDecoder(encoder(x)), 14        3 x H x W
                    Conv/Deconv layers, LeakyReLU(0.2) + BN, Conv + Tanh
==================  ======================================================  =================

QUIRK (``discriminator=True``, TNB's ``GAN``): the autoencoder/normal network also holds the
pix2pix Discriminator (spectrally normalised convs, 5.17 M parameters) that its forward never
runs, so counts over all parameters (``params`` with ``counter: all``, ``num_params``) and
``l2_norm`` include it, as NASLib's l2_norm does for the module it scores; NB-Suite-Zero's
``params`` (tensorwatch: only modules that run; zcbench's default ``counter: naslib``) does not.
``discriminator=False`` leaves it out.

The dense decoders upsample by 2^k with k = log2(output size / feature size), as TNB computes
it (TNB derives the feature size from a nominal 224 input; for 256 inputs this gives the same
k for every architecture of both spaces). ``input_size`` must be a power of two >= 32.
"""
from __future__ import annotations

import functools
import math

import torch
from torch import nn

from search_spaces.tnb101_archs import BASE_CHANNELS, MICRO_EDGES, MICRO_SKELETON, SEG_CLASSES, MacroArch, MicroArch

class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv(k, stride, pad, no bias) -> BN (TNB's ``ReLUConvBN``), as one Sequential."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=True, track_running_stats=True),
        )


class Zero(nn.Module):
    """The zero op: ``x * 0`` (strided) when channels are kept, else fresh zeros of the output
    shape (TNB's ``Zero``; the product keeps the output attached to the input's graph)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        if self.c_in == self.c_out:
            return (x if s == 1 else x[:, :, ::s, ::s]).mul(0.0)
        n, _, h, w = x.shape
        return x.new_zeros((n, self.c_out, -(-h // s), -(-w // s)))

    def extra_repr(self) -> str:
        return f"C_in={self.c_in}, C_out={self.c_out}, stride={self.stride}"


class FactorizedReduce(nn.Module):
    """ReLU, then two 1x1 stride-s convs (C_out/2 each), the second on the input shifted by one
    pixel (zero padded right/bottom), concatenated, BN (TNB's ``FactorizedReduce``)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.convs = nn.ModuleList(nn.Conv2d(c_in, c_out // 2, 1, stride=stride, padding=0, bias=False)
                                   for _ in range(2))
        self.pad = nn.ConstantPad2d((0, 1, 0, 1), 0.0)
        self.bn = nn.BatchNorm2d(c_out, affine=True, track_running_stats=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = self.pad(x)[:, :, 1:, 1:]
        return self.bn(torch.cat([self.convs[0](x), self.convs[1](shifted)], dim=1))


def micro_op(digit: int, c_in: int, c_out: int, stride: int) -> nn.Module:
    """The module of op ``digit`` (TNB convention) on an edge c_in -> c_out with ``stride``."""
    if digit == 0:
        return Zero(c_in, c_out, stride)
    if digit == 1:
        return nn.Identity() if stride == 1 and c_in == c_out else FactorizedReduce(c_in, c_out, stride)
    if digit == 2:
        return ReLUConvBN(c_in, c_out, 1, stride, 0)
    if digit == 3:
        return ReLUConvBN(c_in, c_out, 3, stride, 1)
    raise ValueError(f"op digit {digit!r} is not 0..3")


class MicroCell(nn.Module):
    """Nodes 0..3; node j = Σ_{i<j} op_{j<-i}(node i) (edges a; b, c; d, e, f); returns node 3.
    Only edges leaving node 0 change stride or channels. ``edges`` are in string order."""

    expansion = 1

    def __init__(self, arch: MicroArch, c_in: int, c_out: int, stride: int):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.c_in, self.c_out, self.stride = c_in, c_out, stride
        self.edges = nn.ModuleList(
            micro_op(d, c_in, c_out, stride) if i == 0 else micro_op(d, c_out, c_out, 1)
            for d, (_, i) in zip(arch.ops, MICRO_EDGES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        k = 0
        for j in (1, 2, 3):
            outs = []
            for i in range(j):
                outs.append(self.edges[k](nodes[i]))
                k += 1
            nodes.append(_node_sum(outs))
        return nodes[3]

    def extra_repr(self) -> str:
        return f"C_in={self.c_in}, C_out={self.c_out}, stride={self.stride}"


def _node_sum(outs: list[torch.Tensor]) -> torch.Tensor:
    """TNB's ``torch.stack(inputs).sum(0)`` (a fresh tensor also for a single input)."""
    return torch.stack(outs).sum(0)


class BasicBlock(nn.Module):
    """ResNet basic block of the macro space: ReLU-Conv3x3-BN (stride) -> ReLU-Conv3x3-BN, plus
    the input, through Conv1x1 (stride) + BN when the shape changes."""

    expansion = 1

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, padding=0, bias=False),
                nn.BatchNorm2d(c_out, affine=True, track_running_stats=True),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return residual + self.conv_b(self.conv_a(x))


class MacroNet(nn.Module):
    """TNB's encoder (``MacroNet(structure='backbone')``): stem (Conv3x3 s2 -> C/2 + BN,
    ReLU-Conv3x3 s2 -> C + BN), then per module digit two cells (the first with the module's
    stride and channel change), Kaiming-normal fan_out init. ``out_channels``/``strides``
    describe the output feature map."""

    def __init__(self, arch: MicroArch | MacroArch, base_channels: int = BASE_CHANNELS):
        super().__init__()
        if base_channels < 2 or base_channels % 2:
            raise ValueError(f"base_channels must be an even integer >= 2, got {base_channels}")
        self.stem = nn.Sequential(
            nn.Conv2d(3, base_channels // 2, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(base_channels // 2, affine=True, track_running_stats=True),
            ReLUConvBN(base_channels // 2, base_channels, 3, 2, 1),
        )
        if isinstance(arch, MicroArch):
            skeleton = tuple(int(ch) for ch in MICRO_SKELETON)
            make = functools.partial(MicroCell, arch)
        else:
            skeleton = arch.modules
            make = BasicBlock
        c = base_channels
        self.layers: list[str] = []
        self.strides = 4  # total downsampling factor of the stem
        for k, digit in enumerate(skeleton):
            c_out = 2 * c if digit % 2 == 0 else c
            stride = 2 if digit > 2 else 1
            self.add_module(f"layer{k}", nn.Sequential(make(c, c_out, stride), make(c_out, c_out, 1)))
            self.layers.append(f"layer{k}")
            self.strides *= stride
            c = c_out
        self.out_channels = c
        self._kaiming_init()

    def feature_size(self, input_size: int) -> int:
        """Spatial size of the output features for ``input_size`` inputs (each stride-2 layer
        maps h to ceil(h / 2))."""
        h = input_size
        for _ in range(int(round(math.log2(self.strides)))):
            h = -(-h // 2)
        return h

    def _kaiming_init(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for name in self.layers:
            x = getattr(self, name)(x)
        return x

    def cell_modules(self) -> list[nn.Module]:
        """The modules whose outputs are the per-cell features (AZ-NAS): the stem, then the
        two cells (micro) or residual blocks (macro) of every module."""
        return [self.stem, *(cell for name in self.layers for cell in getattr(self, name))]


class FFDecoder(nn.Module):
    """Classification / regression head: global average pool + Linear."""

    def __init__(self, c_in: int, out: int):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c_in, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(x), 1))


class SiameseDecoder(FFDecoder):
    """Jigsaw head: global average pool of the 9 concatenated tile features + Linear(9 C, 1000)."""

    def __init__(self, c_in: int, out: int, pieces: int = 9):
        super().__init__(c_in * pieces, out)


class SiameseNet(nn.Module):
    """Jigsaw: the encoder on each of the 9 tiles of (N, 9, 3, h, w) in turn (hooks fire 9 times
    per forward), features concatenated on channels, then the decoder."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(f"the jigsaw network takes a 5-D batch of 9 tiles (N, 9, 3, h, w) as "
                             f"space.task_batch('jigsaw', ...) builds it, got shape {tuple(x.shape)}; it cannot run "
                             "on plain 4-D images")
        feats = [self.encoder(x[:, i]) for i in range(x.shape[1])]
        return self.decoder(torch.cat(feats, dim=1))

    def zen_feature_module(self) -> nn.Module:
        """The module whose input is the feature map NASLib's zen reads: the global pool."""
        return self.decoder.avgpool

    def cell_modules(self) -> list[nn.Module]:
        """The encoder's per-cell feature modules (AZ-NAS)."""
        return self.encoder.cell_modules()


class EncoderDecoder(nn.Module):
    """``decoder(encoder(x))``: TNB's FeedForwardNet and Segmentation."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def zen_feature_module(self) -> nn.Module:
        """The module whose input is the feature map NASLib's zen reads
        (``forward_before_global_avg_pool``): the global pool of a classification head, the last
        conv of the segmentation decoder (``decoder.model[-1]``)."""
        dec = self.decoder
        return dec.model[-1] if isinstance(dec, SegmentationDecoder) else dec.avgpool

    def cell_modules(self) -> list[nn.Module]:
        """The encoder's per-cell feature modules (AZ-NAS)."""
        return self.encoder.cell_modules()


class ConvLayer(nn.Module):
    """Conv (with bias) -> optional BN -> optional activation (TNB's ``ConvLayer``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int,
                 activation: nn.Module | None, norm: bool):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding)
        self.norm = nn.BatchNorm2d(c_out) if norm else None
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        return x if self.activation is None else self.activation(x)


class DeconvLayer(nn.Module):
    """ConvTranspose 3x3 stride 2 (pad 1, output_padding 1: doubles h, w) -> BN -> activation."""

    def __init__(self, c_in: int, c_out: int, activation: nn.Module | None):
        super().__init__()
        self.conv = nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1)
        self.norm = nn.BatchNorm2d(c_out)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(x))
        return x if self.activation is None else self.activation(x)


def _leaky() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=False)


def num_upsample(feature_size: int, out_size: int) -> int:
    """k with feature_size * 2^k = out_size, 2 <= k <= 6 (TNB's decoders assert that range)."""
    ratio = out_size / feature_size
    k = int(round(math.log2(ratio))) if ratio > 0 else -1
    if 2 ** k != ratio or not 2 <= k <= 6:
        raise ValueError(f"the dense decoders upsample {feature_size}x{feature_size} features by 2^k with k in 2..6, "
                         f"which cannot give {out_size}x{out_size} outputs; use an input_size that is a power of two "
                         ">= 32 (the benchmark's is 256)")
    return k


class SegmentationDecoder(nn.Module):
    """TNB's segmentation decoder: Conv3x3 -> W (W = ``width``, 1024 in TNB), 6 - k halving
    Conv3x3 layers, k - 1 halving Deconvs, one Deconv keeping channels (all LeakyReLU(0.2) + BN),
    and a last Conv3x3 (with bias, no BN, no activation) to ``classes`` channels; k upsamplings
    take ``feature_size`` to ``out_size``."""

    def __init__(self, c_in: int, feature_size: int, out_size: int, classes: int = SEG_CLASSES,
                 width: int = 1024):
        super().__init__()
        k = num_upsample(feature_size, out_size)
        layers: list[nn.Module] = [ConvLayer(c_in, width, 3, 1, 1, _leaky(), True)]
        c = width
        for _ in range(6 - k):
            layers.append(ConvLayer(c, c // 2, 3, 1, 1, _leaky(), True))
            c //= 2
        for _ in range(k - 1):
            layers.append(DeconvLayer(c, c // 2, _leaky()))
            c //= 2
        layers.append(DeconvLayer(c, c, _leaky()))
        layers.append(ConvLayer(c, classes, 3, 1, 1, None, False))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class GenerativeDecoder(nn.Module):
    """TNB's pix2pix decoder: 14 layers ``conv1``..``conv14``, LeakyReLU(0.2) + BN, widths
    W, W, W/2, W/2, W/4, W/8, W/16, W/16, W/32, W/32, W/64, W/32, W/64 (W = ``width``, 1024 in
    TNB); layers 3, 5, 7, 9 are stride-2 Deconvs when k >= 6, 5, 4, 3 (else Conv3x3), layers 11
    and 13 always are; ``conv14`` is Conv3x3 -> ``channels`` + Tanh."""

    def __init__(self, c_in: int, feature_size: int, out_size: int, channels: int = 3, width: int = 1024):
        super().__init__()
        k = num_upsample(feature_size, out_size)
        w = width

        def conv(a, b):
            return ConvLayer(a, b, 3, 1, 1, _leaky(), True)

        def maybe_up(a, b, up):
            return DeconvLayer(a, b, _leaky()) if up else conv(a, b)

        self.conv1 = conv(c_in, w)
        self.conv2 = conv(w, w)
        self.conv3 = maybe_up(w, w // 2, k >= 6)
        self.conv4 = conv(w // 2, w // 2)
        self.conv5 = maybe_up(w // 2, w // 4, k >= 5)
        self.conv6 = conv(w // 4, w // 8)
        self.conv7 = maybe_up(w // 8, w // 16, k >= 4)
        self.conv8 = conv(w // 16, w // 16)
        self.conv9 = maybe_up(w // 16, w // 32, k >= 3)
        self.conv10 = conv(w // 32, w // 32)
        self.conv11 = DeconvLayer(w // 32, w // 64, _leaky())
        self.conv12 = conv(w // 64, w // 32)
        self.conv13 = DeconvLayer(w // 32, w // 64, _leaky())
        self.conv14 = ConvLayer(w // 64, channels, 3, 1, 1, nn.Tanh(), False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k in range(1, 15):
            x = getattr(self, f"conv{k}")(x)
        return x


class Discriminator(nn.Module):
    """TNB's pix2pix discriminator, held by the GAN but never run by its forward: convs
    6 -> 64 -> 128 -> 256 (5x5, stride 4), 256 -> 256 -> 512 -> 512 (3x3), -> 1, LeakyReLU(0.2)
    between them (channels scaled by ``width`` / 1024 with the decoder width).

    TNB wraps each conv in ``spectral_norm``; since the module never runs, zcbench stores the
    weights spectrally normalised once at init (W / σ_max(W), exact; spectral_norm estimates σ by
    one power iteration) as plain parameters: the same parameter count and about the same weight
    norms, without spectral_norm's forward hooks and power-iteration
    buffers (which would make the unused weights non-leaf tensors for proxies that differentiate
    every Conv weight). Its global average pool is a ``mean``, not a module, so proxies that hook
    pooling modules never see it."""

    def __init__(self, width: int = 1024):
        super().__init__()
        c = [max(1, width * k // 1024) for k in (64, 128, 256, 256, 512, 512)]
        spec = [(6, c[0], 5, 4, 2), (c[0], c[1], 5, 4, 2), (c[1], c[2], 5, 4, 2), (c[2], c[3], 3, 1, 1),
                (c[3], c[4], 3, 1, 1), (c[4], c[5], 3, 1, 1)]
        for k, (a, b, ker, s, p) in enumerate(spec, start=1):
            self.add_module(f"conv{k}", ConvLayer(a, b, ker, s, p, _leaky(), False))
        self.conv7 = ConvLayer(c[5], 1, 3, 1, 1, None, False)
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    m.weight.div_(torch.linalg.matrix_norm(m.weight.reshape(m.weight.shape[0], -1), ord=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k in range(1, 8):
            x = getattr(self, f"conv{k}")(x)
        return x.mean(dim=(2, 3)).flatten()


class GAN(nn.Module):
    """autoencoder / normal: ``forward = decoder(encoder(x))``; the discriminator (optional)
    is held for parameter counts only, as in TNB's ``GAN``."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, discriminator: nn.Module | None):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.discriminator = discriminator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def zen_feature_module(self) -> nn.Module:
        """The module whose input is the feature map NASLib's zen reads: ``decoder.conv14``."""
        return self.decoder.conv14

    def cell_modules(self) -> list[nn.Module]:
        """The encoder's per-cell feature modules (AZ-NAS)."""
        return self.encoder.cell_modules()

