"""Counting distinct activation patterns without the V x S float matrix, on the activations'
device (CPU or CUDA): no pattern leaves the device until a count is read.

A unit's pattern over S samples is S bits; for S <= 64 it packs into one int64 word, beyond
that into ceil(S/64) words. Counting distinct rows of the (V x S) sign matrix becomes counting
distinct words (or word tuples), layer by layer, then merging the per-layer distinct sets. A
sample's pattern over V units packs the same way along the unit axis, and the samples are
partitioned by equal packed rows.

Every function takes and returns torch tensors: packed patterns are (rows, W) int64 tensors,
sample partitions (S,) int64 label tensors. Only the order of rows and the label numbers are
implementation details; the counts are those of the plain sign matrix.
"""
from __future__ import annotations

import torch


def _pack_bytes(b: torch.Tensor) -> torch.Tensor:
    """(..., 8) uint8 of 0/1 -> (...) uint8 with bit j = b[..., j] (8 passes over bytes)."""
    packed = b[..., 0].clone()
    for j in range(1, 8):
        packed |= b[..., j] << j
    return packed


def _dense(t: torch.Tensor) -> torch.Tensor:
    """``t`` with row-major strides even along size-1 dims (needed to view bytes as int64)."""
    if t.dim() == 2 and t.stride() == (t.shape[1], 1):
        return t
    out = torch.empty(t.shape, dtype=t.dtype, device=t.device)
    return out.copy_(t)


def pack_bits(bits: torch.Tensor) -> torch.Tensor:
    """(S, V) bool -> (V, W) int64 on the same device, bit s of unit v set when ``bits[s, v]``;
    W = ceil(S/64)."""
    n_samples, n_units = bits.shape
    n_words = max(1, -(-n_samples // 64))
    padded = 64 * n_words
    if padded != n_samples:
        bits = torch.cat([bits, bits.new_zeros(padded - n_samples, n_units)])
    b = bits.reshape(padded // 8, 8, n_units).view(torch.uint8)
    packed = b[:, 0].clone()
    for j in range(1, 8):  # 8 passes over bytes instead of S passes over int64
        packed |= b[:, j] << j
    return _dense(packed.T).view(torch.int64)  # (V, 8W) bytes, little-endian words


_GATHER = 0x0102040810204080  # x * _GATHER >> 56: the low bits of x's 8 bytes, as one byte


def pack_rows(bits: torch.Tensor) -> torch.Tensor:
    """(R, N) bool -> (R, ceil(N/64)) int64: each row's N bits packed along the row. Each group
    of 8 bools is read as one int64 (one byte per bool) and gathered into a byte by one multiply."""
    n_rows, n = bits.shape
    n_words = max(1, -(-n // 64))
    if 64 * n_words != n:
        bits = torch.cat([bits, bits.new_zeros(n_rows, 64 * n_words - n)], dim=1)
    eight = _dense(bits.view(torch.uint8)).view(torch.int64)  # (R, 8W): 8 bools per int64
    packed = ((eight * _GATHER) >> 56) & 0xFF  # wraps modulo 2^64; the top byte is exact
    return packed.to(torch.uint8).view(torch.int64)  # (R, 8W) bytes -> (R, W) words


def _sorted_rows(words: torch.Tensor) -> torch.Tensor:
    """The rows of (N, W) int64 ``words`` in lexicographic order (stable sorts, last word first)."""
    if words.shape[1] == 1:
        return torch.sort(words.reshape(-1)).values.reshape(-1, 1)
    order = torch.sort(words[:, -1], stable=True).indices
    for k in range(words.shape[1] - 2, -1, -1):
        order = order[torch.sort(words[order, k], stable=True).indices]
    return words[order]


def unique_rows(words: torch.Tensor) -> torch.Tensor:
    """The distinct rows of a (V, W) int64 tensor, as a (U, W) tensor in lexicographic order."""
    if words.shape[0] == 0:
        return words.reshape(0, words.shape[1])
    rows = _sorted_rows(words)
    keep = torch.ones(rows.shape[0], dtype=torch.bool, device=rows.device)
    keep[1:] = (rows[1:] != rows[:-1]).any(dim=1)
    return rows[keep]


def widen(a: torch.Tensor, width: int) -> torch.Tensor:
    """Rows ``a`` (U, w) padded with zero words to (U, ``width``)."""
    if a.shape[1] == width:
        return a
    return torch.cat([a, a.new_zeros(a.shape[0], width - a.shape[1])], dim=1)


def count_distinct(layers: list[torch.Tensor]) -> int:
    """Number of distinct patterns over the union of per-layer distinct sets.

    Layers may differ in words per row: a ReLU layer packs S sign bits (0/1), a ternary GELU
    layer 2S bits (S "positive" bits, then S "negative" bits). A binary pattern is the prefix
    of the ternary encoding of the same 0/1 signs (its negative bits are all zero), so narrower
    rows are padded with zero words, which makes a ReLU unit and a GELU unit with the same
    signs one pattern, as in the plain sign matrix.
    """
    layers = [a for a in layers if a.numel()]
    if not layers:
        return 0
    width = max(a.shape[1] for a in layers)
    return int(unique_rows(torch.cat([widen(a, width) for a in layers])).shape[0])


def group_rows(words: torch.Tensor) -> torch.Tensor:
    """(N, W) int64 -> (N,) int64 labels, equal for equal rows, numbered 0..U-1."""
    if words.shape[1] == 1:
        return torch.unique(words.reshape(-1), return_inverse=True)[1]
    return torch.unique(words, dim=0, return_inverse=True)[1].reshape(-1)


def sample_labels(bits: torch.Tensor) -> torch.Tensor:
    """(S, V) bool -> for each sample, the index of its distinct full pattern (S,)."""
    return group_rows(pack_rows(bits))


def merge_labels(a: torch.Tensor | None, b: torch.Tensor) -> torch.Tensor:
    """Sample partition refined by another partition (pairs of labels -> new labels). Labels
    are below the number of samples, so a pair is one int64 (no count is read back)."""
    if a is None:
        return b
    return torch.unique(a * b.numel() + b, return_inverse=True)[1]


def n_groups(labels: torch.Tensor | None) -> int:
    """How many distinct labels a partition has (0 for none)."""
    return 0 if labels is None else int(labels.max()) + 1
