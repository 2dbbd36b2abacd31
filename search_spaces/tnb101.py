"""TransNAS-Bench-101 (Duan et al., CVPR 2021): the micro (cell) and macro (skeleton) spaces
on the seven Taskonomy tasks, as the benchmark's own model code builds them and as
NAS-Bench-Suite-Zero scores them through NASLib.

The family lives in five modules: this one (the two spaces and their options),
:mod:`search_spaces.tnb101_archs` (architectures, strings, tasks), :mod:`search_spaces.tnb101_nets`
(the encoders and decoders), :mod:`search_spaces.tnb101_inputs` (each task's inputs and targets)
and :mod:`search_spaces.tnb101_readers` (the benchmark's results file). This module re-exports
the family's public names, so ``from search_spaces.tnb101 import MicroArch`` keeps working.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Hashable

from torch import nn

from search_spaces.base import ArchParseError, SearchSpace, parse_tuple_key, register_space
from search_spaces.tnb101_archs import (BASE_CHANNELS, JIGSAW_CLASSES, MICRO_SKELETON, OP_NAMES, SEG_CLASSES,
                                        TASK_METRIC, TASKONOMY_URL, TASKS, MacroArch, MicroArch, macro_archs,
                                        macro_valid, micro_archs, parse_macro, parse_micro, task_infos)
from search_spaces.tnb101_inputs import TASKONOMY_DOMAINS, TaskonomyInputs, room_layout_from_point_info
from search_spaces.tnb101_nets import (GAN, BasicBlock, Discriminator, EncoderDecoder, FFDecoder, GenerativeDecoder,
                                       MacroNet, MicroCell, SegmentationDecoder, SiameseDecoder, SiameseNet,
                                       num_upsample)
from search_spaces.tnb101_readers import read_tnb101_pth
from zc_proxies.errors import UsageError

__all__ = [
    "OP_NAMES",
    "MICRO_SKELETON",
    "BASE_CHANNELS",
    "TASKS",
    "TASK_METRIC",
    "task_infos",
    "parse_micro",
    "parse_macro",
    "TASKONOMY_DOMAINS",
    "room_layout_from_point_info",
    "MicroArch",
    "MacroArch",
    "macro_valid",
    "micro_archs",
    "macro_archs",
    "MacroNet",
    "MicroCell",
    "BasicBlock",
    "FFDecoder",
    "SiameseDecoder",
    "SiameseNet",
    "SegmentationDecoder",
    "GenerativeDecoder",
    "Discriminator",
    "EncoderDecoder",
    "GAN",
    "num_upsample",
    "TaskonomyInputs",
    "TNB101Space",
    "TNB101MicroSpace",
    "TNB101MacroSpace",
    "read_tnb101_pth",
]


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


class TNB101Space(TaskonomyInputs, SearchSpace):
    """Shared code of the two TNB101 spaces: options, tasks and ``build`` (the networks are
    described in :mod:`search_spaces.tnb101_nets`, the inputs and targets in
    :mod:`search_spaces.tnb101_inputs`).

    Options: ``base_channels`` (64), ``input_size`` (256; a power of two >= 32; jigsaw images
    are input_size - 1 and tiles input_size / 4), ``decoder_width`` (1024: the first width of
    the dense decoders, a multiple of 64), ``discriminator`` (True: TNB's GAN holds it, see
    :mod:`search_spaces.tnb101_nets`), ``targets_path`` (None, or a folder of ``<task>.npy`` real
    targets), ``jigsaw_permutations``
    (None, or a ``.npy`` of (P, 9) permutations, e.g. TNB's permutations_hamming_max_1000.npy),
    ``jigsaw_offsets`` ("random": seeded random tile crops as TNB; "center").
    """

    tasks = task_infos(256)
    small_options = {"base_channels": 8, "input_size": 32, "decoder_width": 64}
    small_input_size = 32

    def __init__(self, base_channels: int = BASE_CHANNELS, input_size: int = 256, decoder_width: int = 1024,
                 discriminator: bool = True, targets_path: str | None = None,
                 jigsaw_permutations: str | None = None, jigsaw_offsets: str = "random",
                 class_object_selection: str | None = None, class_scene_selection: str | None = None):
        for name, v in (("base_channels", base_channels), ("input_size", input_size),
                        ("decoder_width", decoder_width)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise UsageError(f"TNB101 option {name} must be a positive int, got {v!r}")
        if base_channels % 2:
            raise UsageError(f"TNB101 option base_channels must be even (FactorizedReduce splits channels in two), "
                             f"got {base_channels}")
        if not _is_pow2(input_size) or input_size < 32:
            raise UsageError(f"TNB101 option input_size must be a power of two >= 32 (the benchmark's is 256), "
                             f"got {input_size}")
        if decoder_width % 64:
            raise UsageError(f"TNB101 option decoder_width must be a multiple of 64 (the decoders halve it 6 "
                             f"times; TNB's is 1024), got {decoder_width}")
        if not isinstance(discriminator, bool):
            raise UsageError(f"TNB101 option discriminator must be true or false, got {discriminator!r}")
        if jigsaw_offsets not in ("random", "center"):
            raise UsageError(f"TNB101 option jigsaw_offsets must be 'random' or 'center', got {jigsaw_offsets!r}")
        self.base_channels = base_channels
        self.input_size = input_size
        self.decoder_width = decoder_width
        self.discriminator = discriminator
        self.targets_path = None if targets_path is None else Path(os.path.expanduser(str(targets_path)))
        self.jigsaw_permutations = jigsaw_permutations
        self.jigsaw_offsets = jigsaw_offsets
        self.class_selection = {
            task: None if sel is None else Path(os.path.expanduser(str(sel)))
            for task, sel in (("class_object", class_object_selection), ("class_scene", class_scene_selection))
        }
        if input_size != 256:
            self.tasks = task_infos(input_size)
        if self.targets_path is not None and not self.targets_path.is_dir():
            raise UsageError(
                f"TNB101 option targets_path {str(self.targets_path)!r} is not a folder; it must hold one "
                f"<task>.npy per task with real targets, or Taskonomy's domain folders (class_object/, "
                f"normal/, ...; see TNB101Space.task_batch; Taskonomy: {TASKONOMY_URL})")

    # ---- the verbs every space has ------------------------------------------------------
    def all_archs(self) -> tuple:
        raise NotImplementedError

    def _arch(self, arch) -> Hashable:
        raise NotImplementedError

    def sample(self, n: int, seed) -> list:
        """``n`` distinct architectures, uniformly with ``random.Random(seed)``."""
        archs = self.all_archs()
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(archs):
            raise UsageError(f"can sample 1..{len(archs)} distinct {self.name} architectures, asked for {n!r} (archs.n)")
        return [archs[k] for k in random.Random(seed).sample(range(len(archs)), n)]

    def build(self, arch, task: str) -> nn.Module:
        """The TNB network of ``arch`` for ``task`` (encoder + the task's decoder)."""
        arch = self._arch(arch)
        k = self.task(task).num_classes
        enc = MacroNet(arch, self.base_channels)
        c = enc.out_channels
        if task in ("class_scene", "class_object", "room_layout"):
            return EncoderDecoder(enc, FFDecoder(c, k))
        if task == "jigsaw":
            return SiameseNet(enc, SiameseDecoder(c, JIGSAW_CLASSES, 9))
        feat = enc.feature_size(self.input_size)
        if task == "segmentsemantic":
            return EncoderDecoder(enc, SegmentationDecoder(c, feat, self.input_size, SEG_CLASSES, self.decoder_width))
        dec = GenerativeDecoder(c, feat, self.input_size, 3, self.decoder_width)
        return GAN(enc, dec, Discriminator(self.decoder_width) if self.discriminator else None)


@register_space("tnb101_micro")
class TNB101MicroSpace(TNB101Space):
    """TransNAS-Bench-101 micro space: 4096 cells ``64-41414-a_bc_def`` on 7 Taskonomy tasks."""

    nbsuite_zero_file = "zc_transbench101_micro.json"

    def all_archs(self) -> tuple[MicroArch, ...]:
        return micro_archs()

    def parse(self, text: str) -> MicroArch:
        return parse_micro(text)

    def _arch(self, arch) -> MicroArch:
        if isinstance(arch, str):
            return parse_micro(arch)
        if not isinstance(arch, MicroArch):
            raise TypeError(f"expected a MicroArch or a TNB101 micro string, got {type(arch).__name__}")
        return arch

    def zc_key(self, arch) -> str:
        """The 6 TNB digits as a tuple string, e.g. ``"(3, 3, 3, 3, 3, 3)"`` (NB-Suite-Zero's key)."""
        return str(self._arch(arch).ops)

    def from_zc_key(self, key: str) -> MicroArch:
        t = parse_tuple_key(key, "6 TNB op digits 0..3 such as '(3, 1, 0, 2, 3, 3)'")
        try:
            return MicroArch(t)
        except ValueError as exc:
            raise ArchParseError(f"NAS-Bench-Suite-Zero key {key!r}: {exc}") from None


@register_space("tnb101_macro")
class TNB101MacroSpace(TNB101Space):
    """TransNAS-Bench-101 macro space: 3256 skeletons ``64-<4..6 digits>-basic`` on 7 tasks."""

    nbsuite_zero_file = "zc_transbench101_macro.json"

    def all_archs(self) -> tuple[MacroArch, ...]:
        return macro_archs()

    def parse(self, text: str) -> MacroArch:
        return parse_macro(text)

    def _arch(self, arch) -> MacroArch:
        if isinstance(arch, str):
            return parse_macro(arch)
        if not isinstance(arch, MacroArch):
            raise TypeError(f"expected a MacroArch or a TNB101 macro string, got {type(arch).__name__}")
        return arch

    def zc_key(self, arch) -> str:
        """The module digits as an unpadded tuple string, e.g. ``"(3, 3, 2, 3, 3)"`` (NB-Suite-Zero's key)."""
        return str(self._arch(arch).modules)

    def from_zc_key(self, key: str) -> MacroArch:
        """Unpadded keys as in the json; trailing zeros (NASLib's padding to 6) are dropped."""
        t = parse_tuple_key(key, "4 to 6 macro module digits 1..4 such as '(3, 3, 2, 3, 3)'")
        while t and t[-1] == 0 and len(t) > 4:
            t = t[:-1]
        try:
            return MacroArch(t)
        except ValueError as exc:
            raise ArchParseError(f"NAS-Bench-Suite-Zero key {key!r}: {exc}") from None

