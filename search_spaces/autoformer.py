"""AutoFormer's vision-transformer space (Chen et al., ICCV 2021), as the L-SWAG paper samples
it (Casarin et al., CVPR 2025): AutoFormer-Small by default.

The family lives in three modules: this one (the space and its options),
:mod:`search_spaces.autoformer_arch` (architectures, their spellings and parser) and
:mod:`search_spaces.autoformer_nets` (the network); this module re-exports their public names.

Tasks: ``imagenet`` (1000 classes) and ``cifar10`` / ``cifar100``, all at 3 x 224 x 224: AutoFormer
transfers to CIFAR by resizing the 32 x 32 images to 224 (its ``build_transform``), so a study
sets ``data.size: 224``. An input of another size is an error that says so.

Small instances for tests (``small_options``): ``img_size=16, patch_size=8, width_divisor=16,
depths=(2, 3)`` builds 2-3 layer nets with E/16 channels and head width 4 on a 2 x 2 patch grid
(``width_divisor`` alone keeps the full space's architectures and strings, at 1/k width).
"""
from __future__ import annotations

import random
from typing import Any, Hashable, Sequence

from search_spaces.autoformer_arch import (AUTOFORMER_B_SUBNET, AUTOFORMER_S_SUBNET, FIELDS, PRESETS, AutoFormerArch,
                                           format_ratio, from_cand_tuple, from_config, is_number, parse_arch)
from search_spaces.autoformer_nets import (Attention, AutoFormerViT, Block, PatchEmbed, RelativePosition2D,
                                           autoformer_num_params)
from search_spaces.base import (ArchParseError, SearchSpace, TaskInfo, check_mutation_kind, is_int, register_space,
                                sample_distinct)
from zc_proxies.errors import UsageError

__all__ = [
    "PRESETS",
    "FIELDS",
    "AutoFormerArch",
    "parse_arch",
    "from_config",
    "from_cand_tuple",
    "AutoFormerSpace",
    "AutoFormerViT",
    "PatchEmbed",
    "RelativePosition2D",
    "Attention",
    "Block",
    "autoformer_num_params",
    "AUTOFORMER_S_SUBNET",
    "AUTOFORMER_B_SUBNET",
]


# the space


def _choices(name: str, values: Any, kind: type) -> tuple:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise UsageError(f"AutoFormer option {name} must be a non-empty list of numbers, got {values!r}")
    out = []
    for v in values:
        ok = is_int(v) if kind is int else is_number(v)
        if not ok or not v > 0:
            raise UsageError(f"AutoFormer option {name}: {v!r} is not a positive "
                             f"{'integer' if kind is int else 'number'}")
        out.append(kind(v))
    if len(set(out)) != len(out):
        raise UsageError(f"AutoFormer option {name} repeats a value: {list(values)}")
    return tuple(out)


def _fmt_choices(values: tuple) -> str:
    return ", ".join(format_ratio(v) if isinstance(v, float) else str(v) for v in values)


_IMG = (3, 224, 224)


@register_space("autoformer")
class AutoFormerSpace(SearchSpace):
    """AutoFormer's ViT space (AutoFormer-Small by default; architectures and their spellings as
    search_spaces/autoformer_arch.py describes them, the network as autoformer_nets.py does).

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
            raise UsageError(f"AutoFormer preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        base = PRESETS[preset]
        self.preset = preset
        self.embed_dims = _choices("embed_dims", base["embed_dims"] if embed_dims is None else embed_dims, int)
        self.mlp_ratios = _choices("mlp_ratios", base["mlp_ratios"] if mlp_ratios is None else mlp_ratios, float)
        self.num_heads = _choices("num_heads", base["num_heads"] if num_heads is None else num_heads, int)
        self.depths = _choices("depths", base["depths"] if depths is None else depths, int)
        for name, v in (("patch_size", patch_size), ("head_dim", head_dim),
                        ("max_relative_position", max_relative_position), ("width_divisor", width_divisor)):
            if not is_int(v) or v < 1:
                raise UsageError(f"AutoFormer option {name} must be a positive int, got {v!r}")
        if img_size is not None and (not is_int(img_size) or img_size < 1):
            raise UsageError(f"AutoFormer option img_size must be a positive int or None, got {img_size!r}")
        for size in [img_size] if img_size is not None else sorted({t.input_shape[1] for t in self.tasks.values()}):
            if size % patch_size:
                raise UsageError(f"img_size {size} is not a multiple of patch_size {patch_size}")
        bad = [e for e in self.embed_dims if e % width_divisor] + ([head_dim] if head_dim % width_divisor else [])
        if bad:
            raise UsageError(f"width_divisor {width_divisor} must divide every embed_dim and head_dim; "
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
        """Any of the three spellings (:func:`parse_arch`), checked against the choice sets."""
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
                raise UsageError(f"the AutoFormer-{self.preset} space has a single architecture; nothing to mutate")
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
