"""The verbs every search space offers: sample, parse (the benchmark's own string), build a
torch network for a task, and describe its tasks. Spaces register in ``SPACES``."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Hashable

import torch
from torch import nn

from zc_proxies.registry import Registry


class ArchParseError(ValueError):
    """An architecture string that the space cannot read; the message names the bad token."""


@dataclass(frozen=True)
class TaskInfo:
    """What a task needs from the data side: classes (or output size), input shape, loss name."""

    name: str
    num_classes: int
    input_shape: tuple[int, int, int]  # C, H, W of one sample
    loss: str = "cross_entropy"
    metric: str = "val_accuracy"


class SearchSpace:
    """Base class. Subclasses set ``name`` and ``tasks`` and implement the four verbs.

    An architecture is an immutable, hashable value whose ``str()`` is the benchmark's
    canonical string, and ``parse(str(a)) == a``.
    """

    name: str = ""
    tasks: dict[str, TaskInfo] = {}
    # options of a small instance with the same structure, for conformance checks and tests
    small_options: dict[str, Any] = {}
    small_input_size: int | None = None  # spatial size of check inputs (None: the task's own)

    def sample(self, n: int, seed: int) -> list[Hashable]:
        """``n`` distinct architectures drawn uniformly with a seeded generator."""
        raise NotImplementedError

    def parse(self, text: str) -> Hashable:
        raise NotImplementedError

    def build(self, arch: Hashable, task: str) -> nn.Module:
        raise NotImplementedError

    def task(self, task: str) -> TaskInfo:
        try:
            return self.tasks[task]
        except KeyError:
            raise ValueError(
                f"space {self.name!r} has no task {task!r}; its tasks are {sorted(self.tasks)}"
            ) from None

    def num_params(self, arch: Hashable, task: str) -> int:
        """Parameters of the built network, auxiliary heads excluded (SWAP's count_parameters)."""
        net = self.build(arch, task)
        return sum(p.numel() for n, p in net.named_parameters() if "auxiliary" not in n)

    # ---- evolution (``zcbench search``); spaces that support it override both -----------
    def mutate(self, arch: Hashable, rng, kind: str) -> Hashable:
        """``arch`` with one edge-level change drawn with ``rng`` (a ``random.Random``):
        ``kind`` is ``"op"`` (one edge's op) or ``"connectivity"`` (one edge's input)."""
        raise NotImplementedError(
            f"space {self.name!r} does not support mutation; search needs nb201 or darts")

    def crossover(self, a: Hashable, b: Hashable, rng) -> tuple[Hashable, Hashable]:
        """Two children of ``a`` and ``b`` that swap the incoming edges of one node."""
        raise NotImplementedError(
            f"space {self.name!r} does not support crossover; search needs nb201 or darts")


SPACES: Registry[Callable[..., SearchSpace]] = Registry("space", entry_point_group="zcbench.spaces")


def register_space(name: str):
    """Class decorator: ``@register_space("nb201")``."""

    def wrap(cls):
        cls.name = name
        SPACES.add(name, cls)
        return cls

    return wrap


def list_spaces(pattern: str = "*") -> list[str]:
    return SPACES.names(pattern)


def get_space(name: str, **options: Any) -> SearchSpace:
    """An instance of space ``name``; ``options`` go to its constructor (e.g. C=16, N=5)."""
    cls = SPACES.get(name)
    try:
        return cls(**options)
    except TypeError as exc:
        raise ValueError(f"bad options for space {name!r}: {exc}") from None


def derive_seed(*parts: Any) -> int:
    """A stable 31-bit seed from any parts (seed, architecture string, purpose), so that
    scoring one (seed, architecture) never depends on what was scored before it."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def seeded_build(space: SearchSpace, arch: Hashable, task: str, seed: int) -> nn.Module:
    """Build ``arch`` with its weights drawn from a generator seeded by (seed, arch)."""
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(derive_seed(seed, arch, "init"))
        return space.build(arch, task)
    finally:
        torch.random.set_rng_state(state)
