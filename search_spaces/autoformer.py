"""AutoFormer's vision-transformer space (Chen et al., ICCV 2021), as the L-SWAG paper samples
it (Casarin et al., CVPR 2025): AutoFormer-Small by default.

An architecture is one global embedding dimension, a depth, and per layer an MLP ratio and a
number of heads. The choice sets are those of the official ``experiments/supernet/supernet-*.yaml``
(microsoft/Cream, folder AutoFormer):

======  ==============  ================  ==========  ============
preset  embed_dim       mlp_ratio         num_heads   depth
======  ==============  ================  ==========  ============
small   320, 384, 448   3.0, 3.5, 4.0     5, 6, 7     12, 13, 14
tiny    192, 216, 240   3.5, 4.0          3, 4        12, 13, 14
base    528, 576, 624   3.0, 3.5, 4.0     9, 10       14, 15, 16
======  ==============  ================  ==========  ============

Three spellings of one architecture, all read by :meth:`AutoFormerSpace.parse`:

* the canonical string (``str(arch)``; no commas or spaces, so it needs no quoting in a CSV)::

      embed384_depth13_mlp3.0-3.5-3.0-3.5-4.0-4.0-4.0-4.0-4.0-4.0-4.0-3.5-4.0_heads6-6-5-7-5-5-5-6-6-7-7-6-7

* AutoFormer's sampled config (``sample_configs`` / ``set_sample_config`` in the official
  code), as JSON or a Python literal; ``embed_dim`` is a list of one repeated value (or an int)
  and ``layer_num`` (or ``depth``) may be left out::

      {'embed_dim': [384, 384, ..., 384], 'mlp_ratio': [3.0, 3.5, ...], 'num_heads': [6, 6, ...], 'layer_num': 13}

* AutoFormer's evolution candidate tuple (``evolution.py``: ``decode_cand_tuple``)::

      (13, 3.0, 3.5, ..., 6, 6, 5, ..., 384)   # depth, depth MLP ratios, depth head counts, embed_dim

The network (:class:`AutoFormerViT`) is a plain ViT, not the weight-sharing supernet, that
computes what the official supernet computes for that sampled config when trained with the
README's flags ``--gp --change_qk --relative_position`` (each a named option here):

* patch embedding: ``Conv2d(3, E, 16, stride 16)`` on 224 x 224 inputs (196 patches), a class
  token and an absolute position embedding (``abs_pos``), both of width E;
* pre-norm blocks: ``x + attn(LN(x))`` then ``x + fc2(GELU(fc1(LN(x))))``, with
  ``fc1: E -> int(E * mlp_ratio)``. Attention has ``heads`` heads of a **fixed width of 64**
  (``head_dim``; the official ``--change_qkv`` sets q/k/v width to ``heads * 64``, not E), so
  ``qkv: E -> 3 * heads * 64`` (with bias), ``proj: heads * 64 -> E`` and logits scaled by
  64^-0.5; with ``relative_position`` each block adds AutoFormer's 2-D relative position
  embeddings to the keys and values (two tables of ``2 * 14 + 2`` rows x 64 per use, row 0
  for the class token, distances clipped to +-14);
* a final LayerNorm, then (``global_pool``, ``--gp``) the mean of the patch tokens (the class
  token is not read), and ``head: E -> num_classes``.

The parameter count is the official ``get_sampled_params_numel`` (:func:`autoformer_num_params`):
AutoFormer-S's published subnet (the ``RETRAIN`` config of ``experiments/subnet/AutoFormer-S.yaml``)
has 22,891,432 parameters, the README's "22.9M"; AutoFormer-B's has 53,691,688 ("53.7M").
Without relative position embeddings they would be 22.79 M and 53.58 M.

Differences from the official code, on purpose:

* GELU is an ``nn.GELU`` module (the official block calls the function ``F.gelu``), so that
  activation hooks see it: SWAP with ``activations="relu_gelu"`` (SWAP_Universal),
  L-SWAG's Ψ. The network has no ReLU, so SWAP's ICLR default ``activations="relu_4d"``
  hooks nothing and says so; NWOT, which hooks ReLU-family modules, has nothing to hook.
* No dropout or drop-path modules: they are training-time regularisers, and without them a
  train-mode network is deterministic, which zero-cost proxies need.
* Initialisation as the official ``_init_weights``: Linear weights truncated normal (std
  0.02, cut at +-2), biases 0; LayerNorm 1 / 0; class token, position and relative position
  tables truncated normal (std 0.02); the patch convolution keeps PyTorch's default.

Tasks: ``imagenet`` (1000 classes) and ``cifar10`` / ``cifar100``, all at 3 x 224 x 224: AutoFormer
transfers to CIFAR by resizing the 32 x 32 images to 224 (its ``build_transform``), so a study
sets ``data.size: 224``. An input of another size is an error that says so.

Small instances for tests (``small_options``): ``img_size=16, patch_size=8, width_divisor=16,
depths=(2, 3)`` builds 2-3 layer nets with E/16 channels and head width 4 on a 2 x 2 patch grid
(``width_divisor`` alone keeps the full space's architectures and strings, at 1/k width).
"""
from __future__ import annotations

import ast
import json
import random
import re
from dataclasses import dataclass
from typing import Any, Hashable, Sequence

import torch
from torch import nn

from search_spaces.base import (ArchParseError, SearchSpace, TaskInfo, check_mutation_kind, is_int, register_space,
                                sample_distinct)

__all__ = [
    "PRESETS",
    "AutoFormerArch",
    "AutoFormerSpace",
    "AutoFormerViT",
    "autoformer_num_params",
    "AUTOFORMER_S_SUBNET",
    "AUTOFORMER_B_SUBNET",
]

#: Search spaces of the official supernet-{T,S,B}.yaml: (embed_dim, mlp_ratio, num_heads, depth).
PRESETS: dict[str, dict[str, tuple]] = {
    "small": {"embed_dims": (320, 384, 448), "mlp_ratios": (3.0, 3.5, 4.0),
              "num_heads": (5, 6, 7), "depths": (12, 13, 14)},
    "tiny": {"embed_dims": (192, 216, 240), "mlp_ratios": (3.5, 4.0),
             "num_heads": (3, 4), "depths": (12, 13, 14)},
    "base": {"embed_dims": (528, 576, 624), "mlp_ratios": (3.0, 3.5, 4.0),
             "num_heads": (9, 10), "depths": (14, 15, 16)},
}
FIELDS = ("embed_dim", "depth", "mlp_ratio", "num_heads")
_CANON_FORMAT = "embed<E>_depth<d>_mlp<r1>-...-<rd>_heads<h1>-...-<hd>"
_CANON_RE = re.compile(
    r"embed(?P<embed>[^_]*)_depth(?P<depth>[^_]*)_mlp(?P<mlp>[^_]*)_heads(?P<heads>[^_]*)")
_INT_RE = re.compile(r"[0-9]+")
_FLOAT_RE = re.compile(r"[0-9]+(\.[0-9]*)?")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _fmt_ratio(r: float) -> str:
    return repr(float(r))  # 3.0, 3.5, 3.25: always with a decimal point


@dataclass(frozen=True)
class AutoFormerArch:
    """One AutoFormer subnet: a global ``embed_dim``, ``depth`` layers, and per layer an MLP
    ratio and a number of heads (tuples of length ``depth``). Immutable and hashable; ratios
    are stored as floats, so ``4`` and ``4.0`` give equal architectures.

    ``str(arch)`` is the canonical string ``embed<E>_depth<d>_mlp<r1>-..._heads<h1>-...``.
    The value checks its own shape (lengths, positive numbers); whether it lies in a space's
    choice sets is checked by :meth:`AutoFormerSpace.parse` and ``build``.
    """

    embed_dim: int
    depth: int
    mlp_ratio: tuple[float, ...]
    num_heads: tuple[int, ...]

    def __post_init__(self) -> None:
        if not is_int(self.embed_dim) or self.embed_dim < 1:
            raise ArchParseError(f"embed_dim must be a positive integer, got {self.embed_dim!r}")
        if not is_int(self.depth) or self.depth < 1:
            raise ArchParseError(f"depth must be a positive integer, got {self.depth!r}")
        for field in ("mlp_ratio", "num_heads"):
            value = getattr(self, field)
            if not isinstance(value, (list, tuple)):
                raise ArchParseError(f"{field} must be a sequence of {self.depth} values (one per layer), "
                                     f"got {value!r}")
            if len(value) != self.depth:
                raise ArchParseError(f"{field} has {len(value)} values but depth is {self.depth} "
                                     f"(one value per layer)")
        ratios = []
        for i, r in enumerate(self.mlp_ratio):
            if not _is_number(r) or not r > 0:
                raise ArchParseError(f"mlp_ratio[{i}] must be a positive number, got {r!r}")
            ratios.append(float(r))
        for i, h in enumerate(self.num_heads):
            if not is_int(h) or h < 1:
                raise ArchParseError(f"num_heads[{i}] must be a positive integer, got {h!r}")
        object.__setattr__(self, "mlp_ratio", tuple(ratios))
        object.__setattr__(self, "num_heads", tuple(int(h) for h in self.num_heads))

    def __str__(self) -> str:
        return (f"embed{self.embed_dim}_depth{self.depth}_mlp{'-'.join(map(_fmt_ratio, self.mlp_ratio))}"
                f"_heads{'-'.join(map(str, self.num_heads))}")

    def __repr__(self) -> str:
        return f"AutoFormerArch({str(self)!r})"

    def to_config(self) -> dict[str, Any]:
        """AutoFormer's sampled config, as ``set_sample_config`` takes it."""
        return {"embed_dim": [self.embed_dim] * self.depth, "mlp_ratio": list(self.mlp_ratio),
                "num_heads": list(self.num_heads), "layer_num": self.depth}

    def to_cand_tuple(self) -> tuple:
        """AutoFormer's evolution candidate: (depth, *mlp_ratio, *num_heads, embed_dim)."""
        return (self.depth, *self.mlp_ratio, *self.num_heads, self.embed_dim)


# --------------------------------------------------------------------------------------
# parsing


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _parse_canonical(s: str) -> AutoFormerArch:
    m = _CANON_RE.fullmatch(s)
    if m is None:
        raise ArchParseError(
            f"not an AutoFormer architecture: {_short(s)!r}; expected the canonical string "
            f"'{_CANON_FORMAT}' (e.g. 'embed384_depth2_mlp3.5-4.0_heads6-7'), AutoFormer's config "
            f"dict {{'embed_dim': [...], 'mlp_ratio': [...], 'num_heads': [...], 'layer_num': d}} "
            f"or its evolution tuple (depth, ratios..., heads..., embed_dim)")
    for name, group in (("embed_dim", "embed"), ("depth", "depth")):
        if not _INT_RE.fullmatch(m.group(group)):
            raise ArchParseError(f"{name} {m.group(group)!r} in {_short(s)!r} is not a positive integer")
    ratios, heads = m.group("mlp").split("-"), m.group("heads").split("-")
    for i, r in enumerate(ratios):
        if not _FLOAT_RE.fullmatch(r):
            raise ArchParseError(f"mlp_ratio[{i}] {r!r} in {_short(s)!r} is not a number")
    for i, h in enumerate(heads):
        if not _INT_RE.fullmatch(h):
            raise ArchParseError(f"num_heads[{i}] {h!r} in {_short(s)!r} is not a positive integer")
    return AutoFormerArch(int(m.group("embed")), int(m.group("depth")),
                          tuple(float(r) for r in ratios), tuple(int(h) for h in heads))


def _literal(s: str) -> Any:
    try:
        return json.loads(s)
    except ValueError:
        pass
    try:
        return ast.literal_eval(s)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise ArchParseError(f"not a JSON or Python literal ({type(exc).__name__}: {exc}): {_short(s)!r}") from None


def from_config(config: Any) -> AutoFormerArch:
    """The architecture of AutoFormer's sampled config ``{'embed_dim': [E] * d (or E),
    'mlp_ratio': [...], 'num_heads': [...], 'layer_num': d}`` (``layer_num`` may be spelt
    ``depth`` or left out). Only the shape is checked here, not the choice sets."""
    if not isinstance(config, dict):
        raise ArchParseError(f"an AutoFormer config is a mapping, got {type(config).__name__}")
    known = {"embed_dim", "mlp_ratio", "num_heads", "layer_num", "depth"}
    unknown = sorted(map(str, set(config) - known))
    if unknown:
        raise ArchParseError(f"unknown key(s) {unknown} in the AutoFormer config; its keys are "
                             f"embed_dim, mlp_ratio, num_heads and layer_num (or depth)")
    missing = [k for k in ("embed_dim", "mlp_ratio", "num_heads") if k not in config]
    if missing:
        raise ArchParseError(f"the AutoFormer config has no {', '.join(missing)}")
    if "layer_num" in config and "depth" in config and config["layer_num"] != config["depth"]:
        raise ArchParseError(f"layer_num {config['layer_num']!r} and depth {config['depth']!r} differ")
    ratios, heads = config["mlp_ratio"], config["num_heads"]
    for name, v in (("mlp_ratio", ratios), ("num_heads", heads)):
        if not isinstance(v, (list, tuple)):
            raise ArchParseError(f"{name} must be a list with one value per layer, got {v!r}")
    depth = config.get("layer_num", config.get("depth", len(ratios)))
    if not is_int(depth) or depth < 1:
        raise ArchParseError(f"layer_num must be a positive integer, got {depth!r}")
    embed = config["embed_dim"]
    if isinstance(embed, (list, tuple)):
        if not embed:
            raise ArchParseError("embed_dim is an empty list; AutoFormer writes [E] * layer_num")
        if any(e != embed[0] for e in embed):
            raise ArchParseError(f"embed_dim {list(embed)} varies across layers; AutoFormer samples "
                                 f"one embedding dimension for all layers ([E] * layer_num)")
        if len(embed) != depth:
            raise ArchParseError(f"embed_dim has {len(embed)} values but layer_num is {depth}")
        embed = embed[0]
    # AutoFormer's config may carry extra entries beyond layer_num (set_sample_config reads
    # only the first layer_num); the evolution's and sampler's configs never do, so a
    # length mismatch is an error here.
    return AutoFormerArch(embed, depth, tuple(ratios), tuple(heads))


def from_cand_tuple(cand: Any) -> AutoFormerArch:
    """The architecture of AutoFormer's evolution candidate ``(depth, r_1..r_d, h_1..h_d, E)``."""
    if not isinstance(cand, (list, tuple)) or len(cand) < 2 or not is_int(cand[0]) or cand[0] < 1:
        raise ArchParseError(f"an AutoFormer candidate tuple is (depth, depth MLP ratios, depth head "
                             f"counts, embed_dim), got {cand!r}")
    d = cand[0]
    if len(cand) != 2 * d + 2:
        raise ArchParseError(f"candidate tuple with depth {d} must have 2 * {d} + 2 = {2 * d + 2} "
                             f"entries (depth, ratios, heads, embed_dim), got {len(cand)}")
    return AutoFormerArch(cand[-1], d, tuple(cand[1:d + 1]), tuple(cand[d + 1:2 * d + 1]))


def parse_arch(text: Any) -> AutoFormerArch:
    """An :class:`AutoFormerArch` from any of its three spellings (see the module docstring);
    shape only, no choice sets. :class:`ArchParseError` names what is wrong."""
    if isinstance(text, AutoFormerArch):
        return text
    if isinstance(text, dict):
        return from_config(text)
    if isinstance(text, tuple):
        return from_cand_tuple(text)
    if not isinstance(text, str):
        raise ArchParseError(f"expected an AutoFormer architecture string, got {type(text).__name__}")
    s = text.strip()
    if not s:
        raise ArchParseError(f"empty AutoFormer architecture string; expected '{_CANON_FORMAT}'")
    if s[0] == "{":
        return from_config(_literal(s))
    if s[0] in "([":
        value = _literal(s)
        return from_cand_tuple(tuple(value) if isinstance(value, list) else value)
    return _parse_canonical(s)


# --------------------------------------------------------------------------------------
# network


class PatchEmbed(nn.Module):
    """Non-overlapping patches: ``Conv2d(in_chans, E, p, stride p)``, flattened to tokens."""

    def __init__(self, img_size: int, patch_size: int, in_chans: int, embed_dim: int):
        super().__init__()
        self.img_size = img_size
        self.patch_size = patch_size
        self.grid = img_size // patch_size
        self.num_patches = self.grid * self.grid
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[-2:] != (self.img_size, self.img_size):
            raise ValueError(
                f"the AutoFormer network takes (N, C, {self.img_size}, {self.img_size}) images, got "
                f"{tuple(x.shape)}; resize the data to {self.img_size} (data.size: {self.img_size}) or "
                f"build the space with img_size={x.shape[-1]}")
        return self.proj(x).flatten(2).transpose(1, 2)


class RelativePosition2D(nn.Module):
    """AutoFormer's 2-D relative position embedding (``RelativePosition2D_super``): for tokens
    i, j on a g x g patch grid, ``table_v[clip(row_j - row_i) + m + 1] + table_h[clip(col_j -
    col_i) + m + 1]`` with distances clipped to [-m, m]; row 0 of both tables is used for every
    pair that involves the class token (token 0)."""

    def __init__(self, num_units: int, max_relative_position: int, grid: int):
        super().__init__()
        m = max_relative_position
        self.max_relative_position = m
        self.embeddings_table_v = nn.Parameter(torch.zeros(2 * m + 2, num_units))
        self.embeddings_table_h = nn.Parameter(torch.zeros(2 * m + 2, num_units))
        pos = torch.arange(grid * grid)
        rows, cols = pos // grid, pos % grid
        dv = (rows[None, :] - rows[:, None]).clamp(-m, m) + m + 1
        dh = (cols[None, :] - cols[:, None]).clamp(-m, m) + m + 1
        pad = (1, 0, 1, 0)  # the class token: index 0
        self.register_buffer("index_v", nn.functional.pad(dv, pad), persistent=False)
        self.register_buffer("index_h", nn.functional.pad(dh, pad), persistent=False)

    def forward(self) -> torch.Tensor:
        """(N, N, num_units) embeddings for the N = 1 + g * g tokens."""
        return self.embeddings_table_v[self.index_v] + self.embeddings_table_h[self.index_h]


class Attention(nn.Module):
    """Multi-head self-attention with ``num_heads`` heads of width ``head_dim``:
    ``qkv: E -> 3 * heads * head_dim``, ``proj: heads * head_dim -> E``, softmax of
    ``q k^T * head_dim^-0.5`` (+ relative position terms on keys and values)."""

    def __init__(self, dim: int, num_heads: int, head_dim: int, qkv_bias: bool,
                 relative_position: bool, max_relative_position: int, grid: int):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.scale = head_dim ** -0.5
        inner = num_heads * head_dim
        self.qkv = nn.Linear(dim, 3 * inner, bias=qkv_bias)
        self.proj = nn.Linear(inner, dim)
        self.relative_position = relative_position
        if relative_position:
            self.rel_pos_embed_k = RelativePosition2D(head_dim, max_relative_position, grid)
            self.rel_pos_embed_v = RelativePosition2D(head_dim, max_relative_position, grid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, _ = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        if self.relative_position:
            attn = attn + torch.einsum("bhqd,qkd->bhqk", q, self.rel_pos_embed_k()) * self.scale
        attn = attn.softmax(dim=-1)
        out = attn @ v
        if self.relative_position:
            out = out + torch.einsum("bhqk,qkd->bhqd", attn, self.rel_pos_embed_v())
        return self.proj(out.transpose(1, 2).reshape(B, N, -1))


class Block(nn.Module):
    """Pre-norm encoder layer: ``x + attn(LN(x))``, then ``x + fc2(GELU(fc1(LN(x))))``."""

    def __init__(self, dim: int, mlp_ratio: float, num_heads: int, head_dim: int, qkv_bias: bool,
                 relative_position: bool, max_relative_position: int, grid: int):
        super().__init__()
        hidden = int(dim * mlp_ratio)  # the official int(sample_embed_dim * sample_mlp_ratio)
        self.attn_layer_norm = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, head_dim, qkv_bias, relative_position,
                              max_relative_position, grid)
        self.ffn_layer_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_layer_norm(x))
        return x + self.fc2(self.act(self.fc1(self.ffn_layer_norm(x))))


class AutoFormerViT(nn.Module):
    """A plain ViT for one :class:`AutoFormerArch` (see the module docstring). Module names
    follow the official ``Vision_TransformerSuper`` (``patch_embed_super.proj``, ``blocks.i.attn.qkv``,
    ``blocks.i.fc1``, ``norm``, ``head``, ...)."""

    def __init__(self, arch: AutoFormerArch, num_classes: int, *, img_size: int = 224,
                 patch_size: int = 16, in_chans: int = 3, head_dim: int = 64,
                 relative_position: bool = True, max_relative_position: int = 14,
                 abs_pos: bool = True, global_pool: bool = True, qkv_bias: bool = True,
                 width_divisor: int = 1):
        super().__init__()
        E = arch.embed_dim // width_divisor
        hd = head_dim // width_divisor
        self.arch = arch
        self.embed_dim = E
        self.global_pool = global_pool
        self.patch_embed_super = PatchEmbed(img_size, patch_size, in_chans, E)
        grid = self.patch_embed_super.grid
        self.cls_token = nn.Parameter(torch.zeros(1, 1, E))
        self.abs_pos = abs_pos
        if abs_pos:
            self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed_super.num_patches + 1, E))
        self.blocks = nn.ModuleList(
            Block(E, r, h, hd, qkv_bias, relative_position, max_relative_position, grid)
            for r, h in zip(arch.mlp_ratio, arch.num_heads))
        self.norm = nn.LayerNorm(E)
        self.head = nn.Linear(E, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        trunc = nn.init.trunc_normal_
        for name, p in self.named_parameters():
            if name in ("cls_token", "pos_embed") or "embeddings_table" in name:
                trunc(p, std=0.02)  # a=-2, b=2 as the official trunc_normal_
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed_super(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        if self.abs_pos:
            x = x + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        x = x[:, 1:].mean(dim=1) if self.global_pool else x[:, 0]
        return self.head(x)

    def cell_modules(self) -> list[nn.Module]:
        """The modules whose outputs are the per-cell features (AZ-NAS): every transformer
        block ((B, T, C) tokens; AZ-NAS's own AutoFormer code also reads each block's
        post-attention residual)."""
        return list(self.blocks)


def autoformer_num_params(arch: AutoFormerArch, num_classes: int = 1000, *, img_size: int = 224,
                          patch_size: int = 16, in_chans: int = 3, head_dim: int = 64,
                          relative_position: bool = True, max_relative_position: int = 14,
                          abs_pos: bool = True, qkv_bias: bool = True, width_divisor: int = 1) -> int:
    """Parameters of :class:`AutoFormerViT` by formula, the official ``get_sampled_params_numel``
    with ``--change_qkv --relative_position`` (it always counts the class token and position
    embedding: ``E * (2 + num_patches)``)."""
    E, hd = arch.embed_dim // width_divisor, head_dim // width_divisor
    n = (img_size // patch_size) ** 2
    total = in_chans * patch_size * patch_size * E + E  # patch conv
    total += E + (E * (n + 1) if abs_pos else 0)  # cls token, position embedding
    total += 2 * E + E * num_classes + num_classes  # final norm, head
    rel = 2 * 2 * (2 * max_relative_position + 2) * hd if relative_position else 0
    for r, h in zip(arch.mlp_ratio, arch.num_heads):
        inner, hidden = h * hd, int(E * r)
        total += 2 * E + E * 3 * inner + (3 * inner if qkv_bias else 0) + inner * E + E + rel
        total += 2 * E + E * hidden + hidden + hidden * E + E
    return total


#: AutoFormer-S and -B as published: the RETRAIN configs of experiments/subnet/AutoFormer-{S,B}.yaml.
AUTOFORMER_S_SUBNET = AutoFormerArch(
    384, 13, (3.0, 3.5, 3.0, 3.5, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 3.5, 4.0),
    (6, 6, 5, 7, 5, 5, 5, 6, 6, 7, 7, 6, 7))
AUTOFORMER_B_SUBNET = AutoFormerArch(
    576, 14, (3.5, 3.5, 4.0, 3.5, 4.0, 3.5, 3.5, 3.0, 4.0, 4.0, 3.0, 4.0, 3.0, 3.5),
    (9, 9, 9, 9, 9, 10, 9, 9, 10, 9, 10, 9, 9, 10))


# --------------------------------------------------------------------------------------
# the space


def _choices(name: str, values: Any, kind: type) -> tuple:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"AutoFormer option {name} must be a non-empty list of numbers, got {values!r}")
    out = []
    for v in values:
        ok = is_int(v) if kind is int else _is_number(v)
        if not ok or not v > 0:
            raise ValueError(f"AutoFormer option {name}: {v!r} is not a positive "
                             f"{'integer' if kind is int else 'number'}")
        out.append(kind(v))
    if len(set(out)) != len(out):
        raise ValueError(f"AutoFormer option {name} repeats a value: {list(values)}")
    return tuple(out)


def _fmt_choices(values: tuple) -> str:
    return ", ".join(_fmt_ratio(v) if isinstance(v, float) else str(v) for v in values)


_IMG = (3, 224, 224)


@register_space("autoformer")
class AutoFormerSpace(SearchSpace):
    """AutoFormer's ViT space (AutoFormer-Small by default; see the module docstring).

    Options (defaults as the official code and its README's training flags):

    * ``preset`` = "small": the choice sets of supernet-S ("tiny", "base": supernet-T, -B);
      ``embed_dims``, ``mlp_ratios``, ``num_heads``, ``depths`` replace single sets;
    * ``img_size`` = None (the task's 224), ``patch_size`` = 16;
    * ``head_dim`` = 64 (``--change_qkv``: q/k/v width = heads x 64);
    * ``relative_position`` = True, ``max_relative_position`` = 14 (``--relative_position``);
    * ``abs_pos`` = True (no ``--no_abs_pos``), ``global_pool`` = True (``--gp``),
      ``qkv_bias`` = True;
    * ``width_divisor`` = 1: build every architecture with ``embed_dim / k`` channels and
      ``head_dim / k`` head width (the architectures, strings and choice sets are unchanged);
      for small test instances only.
    """

    tasks = {
        "imagenet": TaskInfo("imagenet", 1000, _IMG, "cross_entropy"),
        # AutoFormer fine-tunes on CIFAR at 224 x 224 (32 x 32 images resized; data.size: 224)
        "cifar10": TaskInfo("cifar10", 10, _IMG, "cross_entropy"),
        "cifar100": TaskInfo("cifar100", 100, _IMG, "cross_entropy"),
    }
    small_options = {"img_size": 16, "patch_size": 8, "width_divisor": 16, "depths": (2, 3)}
    # the subnet scored is the network whose accuracy a ground truth gives: Θ is its own size
    benchmark_options = None
    small_input_size = 16

    def __init__(self, preset: str = "small", *, embed_dims: Sequence[int] | None = None,
                 mlp_ratios: Sequence[float] | None = None, num_heads: Sequence[int] | None = None,
                 depths: Sequence[int] | None = None, img_size: int | None = None,
                 patch_size: int = 16, head_dim: int = 64, relative_position: bool = True,
                 max_relative_position: int = 14, abs_pos: bool = True, global_pool: bool = True,
                 qkv_bias: bool = True, width_divisor: int = 1):
        if preset not in PRESETS:
            raise ValueError(f"AutoFormer preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        base = PRESETS[preset]
        self.preset = preset
        self.embed_dims = _choices("embed_dims", base["embed_dims"] if embed_dims is None else embed_dims, int)
        self.mlp_ratios = _choices("mlp_ratios", base["mlp_ratios"] if mlp_ratios is None else mlp_ratios, float)
        self.num_heads = _choices("num_heads", base["num_heads"] if num_heads is None else num_heads, int)
        self.depths = _choices("depths", base["depths"] if depths is None else depths, int)
        for name, v in (("patch_size", patch_size), ("head_dim", head_dim),
                        ("max_relative_position", max_relative_position), ("width_divisor", width_divisor)):
            if not is_int(v) or v < 1:
                raise ValueError(f"AutoFormer option {name} must be a positive int, got {v!r}")
        if img_size is not None and (not is_int(img_size) or img_size < 1):
            raise ValueError(f"AutoFormer option img_size must be a positive int or None, got {img_size!r}")
        for size in [img_size] if img_size is not None else sorted({t.input_shape[1] for t in self.tasks.values()}):
            if size % patch_size:
                raise ValueError(f"img_size {size} is not a multiple of patch_size {patch_size}")
        bad = [e for e in self.embed_dims if e % width_divisor] + ([head_dim] if head_dim % width_divisor else [])
        if bad:
            raise ValueError(f"width_divisor {width_divisor} must divide every embed_dim and head_dim; "
                             f"it does not divide {bad}")
        self.img_size = img_size
        self.patch_size = patch_size
        self.head_dim = head_dim
        self.relative_position = bool(relative_position)
        self.max_relative_position = max_relative_position
        self.abs_pos = bool(abs_pos)
        self.global_pool = bool(global_pool)
        self.qkv_bias = bool(qkv_bias)
        self.width_divisor = width_divisor

    # ---- the choice sets ---------------------------------------------------------------
    def check(self, arch: AutoFormerArch) -> AutoFormerArch:
        """``arch`` if every choice lies in this space; else :class:`ArchParseError` naming the
        field and its allowed values."""
        def bad(field: str, value: Any, allowed: tuple) -> ArchParseError:
            return ArchParseError(f"{field} {_fmt_choices((value,))} is not in the AutoFormer-{self.preset} "
                                  f"space; allowed values: {_fmt_choices(allowed)}")
        if arch.embed_dim not in self.embed_dims:
            raise bad("embed_dim", arch.embed_dim, self.embed_dims)
        if arch.depth not in self.depths:
            raise bad("depth", arch.depth, self.depths)
        for i, r in enumerate(arch.mlp_ratio):
            if r not in self.mlp_ratios:
                raise bad(f"mlp_ratio[{i}]", r, self.mlp_ratios)
        for i, h in enumerate(arch.num_heads):
            if h not in self.num_heads:
                raise bad(f"num_heads[{i}]", h, self.num_heads)
        return arch

    def space_size(self) -> int:
        """Number of distinct architectures."""
        per_layer = len(self.mlp_ratios) * len(self.num_heads)
        return len(self.embed_dims) * sum(per_layer ** d for d in self.depths)

    # ---- verbs -------------------------------------------------------------------------
    def parse(self, text: Any) -> AutoFormerArch:
        """Any of the three spellings (module docstring), checked against the choice sets."""
        return self.check(parse_arch(text))

    def _draw(self, rng: random.Random) -> AutoFormerArch:
        depth = rng.choice(self.depths)
        ratios = tuple(rng.choice(self.mlp_ratios) for _ in range(depth))
        heads = tuple(rng.choice(self.num_heads) for _ in range(depth))
        return AutoFormerArch(rng.choice(self.embed_dims), depth, ratios, heads)

    def sample(self, n: int, seed: int) -> list[AutoFormerArch]:
        """``n`` distinct architectures drawn with ``random.Random(seed)`` as AutoFormer's
        supernet sampler (``sample_configs``) and evolution (``get_random_cand``) draw them:
        depth uniform, then each layer's MLP ratio, then each layer's head count, then the
        embedding dimension, each uniform over its choices; duplicates are redrawn. (Uniform
        per choice, so each depth gets 1/3 of the samples although deeper nets are more
        numerous.)"""
        rng = random.Random(seed)
        return sample_distinct(lambda: self._draw(rng), n, self.space_size(), "architectures")

    def _net_options(self, task: str) -> dict[str, Any]:
        info = self.task(task)
        return dict(img_size=self.img_size or info.input_shape[1], patch_size=self.patch_size,
                    in_chans=info.input_shape[0], head_dim=self.head_dim,
                    relative_position=self.relative_position,
                    max_relative_position=self.max_relative_position, abs_pos=self.abs_pos,
                    qkv_bias=self.qkv_bias, width_divisor=self.width_divisor)

    def build(self, arch: Hashable, task: str) -> AutoFormerViT:
        arch = self.parse(arch)
        opts = self._net_options(task)
        return AutoFormerViT(arch, self.task(task).num_classes, global_pool=self.global_pool, **opts)

    def num_params(self, arch: Hashable, task: str) -> int:
        """The parameter count by formula (:func:`autoformer_num_params`), equal to the built
        network's without building it."""
        return autoformer_num_params(self.parse(arch), self.task(task).num_classes, **self._net_options(task))

    # ---- evolution (zcbench search) ----------------------------------------------------
    def mutate(self, arch: Hashable, rng: random.Random, kind: str) -> AutoFormerArch:
        """``arch`` with one choice changed, drawn with ``rng`` (``random.Random``):

        * ``"op"``: one layer's MLP ratio or head count gets another value (a per-layer choice,
          AutoFormer's ``m_prob`` mutations); where no per-layer choice has an alternative, a
          ``"connectivity"`` mutation is made;
        * ``"connectivity"``: the depth or the embedding dimension gets another value
          (AutoFormer's ``s_prob`` mutations). A deeper net keeps the first layers and draws
          the new ones as the sampler does; a shallower one drops the last layers.
        """
        a = self.parse(arch)
        check_mutation_kind(kind)
        layer_fields = [f for f, c in (("mlp_ratio", self.mlp_ratios), ("num_heads", self.num_heads)) if len(c) > 1]
        global_fields = [f for f, c in (("depth", self.depths), ("embed_dim", self.embed_dims)) if len(c) > 1]
        if (kind == "op" and layer_fields) or not global_fields:
            if not layer_fields:
                raise ValueError(f"the AutoFormer-{self.preset} space has a single architecture; nothing to mutate")
            field = rng.choice(layer_fields)
            choices = self.mlp_ratios if field == "mlp_ratio" else self.num_heads
            values = list(getattr(a, field))
            i = rng.randrange(a.depth)
            values[i] = rng.choice([c for c in choices if c != values[i]])
            return AutoFormerArch(a.embed_dim, a.depth, **{field: tuple(values)},
                                  **{f: getattr(a, f) for f in ("mlp_ratio", "num_heads") if f != field})
        field = rng.choice(global_fields)
        if field == "embed_dim":
            return AutoFormerArch(rng.choice([e for e in self.embed_dims if e != a.embed_dim]),
                                  a.depth, a.mlp_ratio, a.num_heads)
        d = rng.choice([d for d in self.depths if d != a.depth])
        extra = d - a.depth
        ratios = a.mlp_ratio[:d] + tuple(rng.choice(self.mlp_ratios) for _ in range(extra))
        heads = a.num_heads[:d] + tuple(rng.choice(self.num_heads) for _ in range(extra))
        return AutoFormerArch(a.embed_dim, d, ratios, heads)

    def crossover(self, a: Hashable, b: Hashable, rng: random.Random) -> tuple[AutoFormerArch, AutoFormerArch]:
        """Two complementary children of ``a`` and ``b``, as AutoFormer's uniform crossover:
        the embedding dimension, the depth and each layer's (MLP ratio, head count) pair come
        from either parent with probability 1/2; the second child takes the other parent's
        values. Layers beyond the shorter parent follow the parent whose depth the child takes.
        (The official code only crosses parents of equal depth, gene by gene; here the depth is
        one more gene so that any two parents can cross.)"""
        a, b = self.parse(a), self.parse(b)
        pick_e, pick_d = rng.random() < 0.5, rng.random() < 0.5
        layers = [rng.random() < 0.5 for _ in range(max(a.depth, b.depth))]

        def child(p: AutoFormerArch, q: AutoFormerArch, take_e: bool, take_d: bool, take_layer: list[bool]):
            d = q.depth if take_d else p.depth
            ratios, heads = [], []
            for i in range(d):
                src = q if (take_layer[i] and i < q.depth) or i >= p.depth else p
                ratios.append(src.mlp_ratio[i])
                heads.append(src.num_heads[i])
            return AutoFormerArch(q.embed_dim if take_e else p.embed_dim, d, tuple(ratios), tuple(heads))

        return child(a, b, pick_e, pick_d, layers), child(b, a, pick_e, pick_d, layers)
