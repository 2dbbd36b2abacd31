"""AutoFormer architectures: the choice sets of the official supernets, the architecture value,
its three spellings and their parser (the space is :class:`search_spaces.autoformer.AutoFormerSpace`).

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
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from search_spaces.base import ArchParseError, is_int

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


def is_number(x: Any) -> bool:
    """Whether ``x`` is an int or a float and not a bool."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def format_ratio(r: float) -> str:
    """An MLP ratio as the strings write it: always with a decimal point."""
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
            if not is_number(r) or not r > 0:
                raise ArchParseError(f"mlp_ratio[{i}] must be a positive number, got {r!r}")
            ratios.append(float(r))
        for i, h in enumerate(self.num_heads):
            if not is_int(h) or h < 1:
                raise ArchParseError(f"num_heads[{i}] must be a positive integer, got {h!r}")
        object.__setattr__(self, "mlp_ratio", tuple(ratios))
        object.__setattr__(self, "num_heads", tuple(int(h) for h in self.num_heads))

    def __str__(self) -> str:
        return (f"embed{self.embed_dim}_depth{self.depth}_mlp{'-'.join(map(format_ratio, self.mlp_ratio))}"
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


#: AutoFormer-S and -B as published: the RETRAIN configs of experiments/subnet/AutoFormer-{S,B}.yaml.
AUTOFORMER_S_SUBNET = AutoFormerArch(
    384, 13, (3.0, 3.5, 3.0, 3.5, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 3.5, 4.0),
    (6, 6, 5, 7, 5, 5, 5, 6, 6, 7, 7, 6, 7))
AUTOFORMER_B_SUBNET = AutoFormerArch(
    576, 14, (3.5, 3.5, 4.0, 3.5, 4.0, 3.5, 3.5, 3.0, 4.0, 4.0, 3.0, 4.0, 3.0, 3.5),
    (9, 9, 9, 9, 9, 10, 9, 9, 10, 9, 10, 9, 9, 10))

