"""The AutoFormer network: a plain vision transformer that computes what the official supernet
computes for one sampled architecture.

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
"""
from __future__ import annotations

import torch
from torch import nn

from search_spaces.autoformer_arch import AutoFormerArch

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
