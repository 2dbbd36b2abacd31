"""Counting distinct activation patterns without the V x S float matrix.

A unit's pattern over S samples is S bits; for S <= 64 it packs into one int64 word, beyond
that into ceil(S/64) words. Counting distinct rows of the (V x S) sign matrix becomes counting
distinct words (or word tuples), layer by layer, then merging the per-layer distinct sets.
"""
from __future__ import annotations

import numpy as np
import torch


def pack_bits(bits: torch.Tensor) -> np.ndarray:
    """(S, V) bool -> (V, W) int64, bit s of unit v set when ``bits[s, v]``; W = ceil(S/64)."""
    n_samples, n_units = bits.shape
    n_words = max(1, -(-n_samples // 64))
    padded = 64 * n_words
    if padded != n_samples:
        bits = torch.cat([bits, bits.new_zeros(padded - n_samples, n_units)])
    b = bits.reshape(padded // 8, 8, n_units).view(torch.uint8)
    packed = b[:, 0].clone()
    for j in range(1, 8):  # 8 passes over bytes instead of S passes over int64
        packed |= b[:, j] << j
    out = packed.T.contiguous()  # (V, 8W) bytes, little-endian words
    return out.view(torch.int64).numpy()


def unique_rows(words: np.ndarray) -> np.ndarray:
    """The distinct rows of a (V, W) int64 array, as a sorted 1-D array (void rows if W > 1)."""
    if words.shape[1] == 1:
        flat = np.sort(words.ravel())  # numpy's int64 sort is far faster than np.unique here
        if flat.size == 0:
            return flat
        keep = np.empty(flat.size, dtype=bool)
        keep[0] = True
        np.not_equal(flat[1:], flat[:-1], out=keep[1:])
        return flat[keep]
    rows = np.ascontiguousarray(words).view(np.dtype((np.void, 8 * words.shape[1]))).ravel()
    return np.unique(rows)


def _width(a: np.ndarray) -> int:
    return 1 if a.dtype.kind != "V" else a.dtype.itemsize // 8


def _widen(a: np.ndarray, width: int) -> np.ndarray:
    """Distinct rows ``a`` (1-D, words per row ``_width(a)``) padded with zero words to ``width``."""
    w = _width(a)
    if w == width:
        return a
    words = np.zeros((a.size, width), dtype=np.int64)
    words[:, :w] = np.ascontiguousarray(a).view(np.int64).reshape(a.size, w)
    return words.view(np.dtype((np.void, 8 * width))).ravel()


def count_distinct(layers: list[np.ndarray]) -> int:
    """Number of distinct patterns over the union of per-layer distinct sets.

    Layers may differ in words per row: a ReLU layer packs S sign bits (0/1), a ternary GELU
    layer 2S bits (S "positive" bits, then S "negative" bits). A binary pattern is the prefix
    of the ternary encoding of the same 0/1 signs (its negative bits are all zero), so narrower
    rows are padded with zero words, which makes a ReLU unit and a GELU unit with the same
    signs one pattern, as in the plain sign matrix.
    """
    layers = [a for a in layers if a.size]
    if not layers:
        return 0
    width = max(_width(a) for a in layers)
    if width > 1:
        return int(np.unique(np.concatenate([_widen(a, width) for a in layers])).size)
    merged = np.concatenate(layers)
    return int(unique_rows(merged.reshape(-1, 1)).size)


def sample_labels(bits: torch.Tensor) -> np.ndarray:
    """(S, V) bool -> for each sample, the index of its distinct full pattern (S,)."""
    rows = np.packbits(bits.numpy(), axis=1)
    rows = np.ascontiguousarray(rows).view(np.dtype((np.void, rows.shape[1]))).ravel()
    return np.unique(rows, return_inverse=True)[1].ravel()


def merge_labels(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
    """Sample partition refined by another partition (pairs of labels -> new labels)."""
    if a is None:
        return b
    pair = a.astype(np.int64) * (int(b.max()) + 1) + b
    return np.unique(pair, return_inverse=True)[1].ravel()
