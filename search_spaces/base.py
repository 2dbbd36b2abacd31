"""The verbs every search space offers: sample, parse (the benchmark's own string), build a
torch network for a task, and describe its tasks. Spaces register in ``SPACES``."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

import torch
from torch import nn

from zc_proxies.errors import UsageError, ZcbenchError
from zc_proxies.registry import Registry


#: the kinds of change ``SearchSpace.mutate`` makes (``zcbench search``'s ``mutation_kinds``)
MUTATION_KINDS = ("op", "connectivity")


class ArchParseError(ZcbenchError, ValueError):
    """An architecture string that the space cannot read; the message names the bad token."""


@dataclass(frozen=True)
class TaskInfo:
    """What a task needs from the data side: classes (or output size), input shape, loss name."""

    name: str
    num_classes: int  # classes, or the size of the output per sample (room_layout: 9)
    input_shape: tuple[int, int, int]  # C, H, W of one image as the data side loads it
    loss: str = "cross_entropy"
    metric: str = "val_accuracy"
    #: what the targets are: "label" (N,) class indices; "soft_label" (N, K) distributions;
    #: "pixel_label" (N, H, W) class indices; "image" (N, C, H, W); "vector" (N, K).
    #: Proxies that need per-sample class labels (epe_nas) are undefined unless "label".
    target: str = "label"


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
    #: options of the benchmark's own network (the one whose trained accuracy the space's
    #: benchmarks report; ``{}``: the space's defaults), whose parameter count is reg-SWAP's Θ
    #: whatever network a study scores; None: the space has no separate benchmark network and
    #: Θ is the scoring network's own
    benchmark_options: dict[str, Any] | None = {}
    #: the name of NAS-Bench-Suite-Zero's file for this space (``zc_<space>.json``: its networks,
    #: their accuracies and its baselines' scores); None: NB-Suite-Zero has none
    nbsuite_zero_file: str | None = None

    def sample(self, n: int, seed: int) -> list[Hashable]:
        """``n`` distinct architectures drawn uniformly with a seeded generator."""
        raise NotImplementedError

    def parse(self, text: str) -> Hashable:
        raise NotImplementedError

    def build(self, arch: Hashable, task: str) -> nn.Module:
        raise NotImplementedError

    # Per-cell features (AZ-NAS): the networks a space builds say which modules are their cells
    # through a ``cell_modules()`` method (the stem first, then every cell in forward order);
    # proxies that need per-cell features are undefined for a network without one.
    def cell_modules(self, net: nn.Module) -> list[nn.Module]:
        """The modules of ``net`` (built by this space) whose outputs are its per-cell features."""
        fn = getattr(net, "cell_modules", None)
        if not callable(fn):
            raise NotImplementedError(f"space {self.name!r} does not say which modules are its cells "
                                      "(its networks have no cell_modules() method); per-cell proxies "
                                      "(AZ-NAS) are undefined here")
        return fn()

    def task(self, task: str) -> TaskInfo:
        try:
            return self.tasks[task]
        except KeyError:
            raise UsageError(
                f"space {self.name!r} has no task {task!r}; its tasks are {sorted(self.tasks)}"
            ) from None

    def num_params(self, arch: Hashable, task: str) -> int:
        """Parameters of the built network, auxiliary heads excluded (SWAP's count_parameters)."""
        net = self.build(arch, task)
        return sum(p.numel() for n, p in net.named_parameters() if "auxiliary" not in n)

    def task_batch(self, task: str, x: torch.Tensor, y: torch.Tensor, seed: int,
                   files: Sequence[Path] | None = None) -> tuple[Any, torch.Tensor]:
        """The network input and the targets of ``task`` from a batch of images ``x``
        (N, C, H, W) with class labels ``y`` (N,), as the data side loads them. Classification
        spaces return them unchanged; a space whose tasks need other inputs (tiles) or
        targets (dense maps) derives them here, deterministically from ``seed``. ``files``:
        the image paths of the batch, in batch order, when the data source has them
        (``load_batch(..., with_files=True)``), else None; a space may read per-image targets
        next to them."""
        return x, y

    # ---- NAS-Bench-Suite-Zero keys (its zc_<space>.json); spaces in that benchmark override
    def zc_key(self, arch: Hashable) -> str:
        """The key of ``arch`` in NAS-Bench-Suite-Zero's ``zc_<space>.json``: ``str`` of its hash."""
        raise NotImplementedError(f"space {self.name!r} is not in NAS-Bench-Suite-Zero; it has no zc_<space>.json key")

    def from_zc_key(self, key: str) -> Hashable:
        """The architecture of a ``zc_<space>.json`` key; :class:`ArchParseError` when malformed."""
        raise NotImplementedError(f"space {self.name!r} is not in NAS-Bench-Suite-Zero; it has no zc_<space>.json key")

    # ---- evolution (``zcbench search``); spaces that support it override both -----------
    def mutate(self, arch: Hashable, rng, kind: str) -> Hashable:
        """``arch`` with one edge-level change drawn with ``rng`` (a ``random.Random``):
        ``kind`` is one of :data:`MUTATION_KINDS`: ``"op"`` (one edge's op) or
        ``"connectivity"`` (one edge's input)."""
        raise NotImplementedError(
            f"space {self.name!r} does not support mutation; search needs one of {', '.join(evolvable_spaces())}")

    def crossover(self, a: Hashable, b: Hashable, rng) -> tuple[Hashable, Hashable]:
        """Two children of ``a`` and ``b`` that swap the incoming edges of one node."""
        raise NotImplementedError(
            f"space {self.name!r} does not support crossover; search needs one of {', '.join(evolvable_spaces())}")


def parse_tuple_key(key: str, what: str, *, lists: bool = False) -> tuple:
    """A ``zc_<space>.json`` key (``str`` of a possibly nested tuple of ints) as a tuple;
    :class:`ArchParseError` naming ``what`` was expected when it is not one. ``lists``: lists
    are read as tuples too (NB-Suite-Zero's pre-release NB301 keys, ``"[[(0, 0), ...], [...]]"``)."""
    import ast

    def tuples(v):
        return tuple(tuples(e) for e in v) if isinstance(v, (list, tuple)) else v

    try:
        value = ast.literal_eval(key.strip()) if isinstance(key, str) else None
    except (ValueError, SyntaxError):
        value = None
    if lists and isinstance(value, list):
        value = tuples(value)

    def ints(v) -> bool:
        return isinstance(v, tuple) and all(ints(e) if isinstance(e, tuple) else
                                            isinstance(e, int) and not isinstance(e, bool) for e in v)
    if not ints(value):
        raise ArchParseError(f"{key!r} is not a NAS-Bench-Suite-Zero key; expected {what}")
    return value


SPACES: Registry[Callable[..., SearchSpace]] = Registry("space", entry_point_group="zcbench.spaces")


def register_space(name: str):
    """Class decorator: ``@register_space("nb201")``."""

    def wrap(cls):
        cls.name = name
        SPACES.add(name, cls)
        return cls

    return wrap


def check_mutation_kind(kind: str) -> None:
    """:class:`UsageError` unless ``kind`` is one of :data:`MUTATION_KINDS`."""
    if kind not in MUTATION_KINDS:
        raise UsageError(f"mutation kind must be one of {MUTATION_KINDS}, not {kind!r}")


def is_int(x: Any) -> bool:
    """Whether ``x`` is an int and not a bool (``True`` is no channel count)."""
    return isinstance(x, int) and not isinstance(x, bool)


def sample_distinct(draw: Callable[[], Hashable], n: int, size: int, what: str) -> list[Hashable]:
    """``n`` distinct values of ``draw()`` in the order first drawn (repeats are drawn again);
    ``n`` is checked against ``size``, the number of distinct ``what`` there are."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise UsageError(f"n must be a non-negative int, got {n!r}")
    if n > size:
        raise UsageError(f"cannot draw {n} distinct {what} from {size}")
    out: dict[Hashable, None] = {}
    while len(out) < n:
        out.setdefault(draw(), None)
    return list(out)


def evolvable_spaces() -> list[str]:
    """The registered spaces that implement both ``mutate`` and ``crossover`` (``zcbench search``)."""
    return [n for n in SPACES.names() if SPACES.get(n).mutate is not SearchSpace.mutate
            and SPACES.get(n).crossover is not SearchSpace.crossover]


def list_spaces(pattern: str = "*") -> list[str]:
    return SPACES.names(pattern)


def get_space(name: str, **options: Any) -> SearchSpace:
    """An instance of space ``name``; ``options`` go to its constructor (e.g. C=16, N=5)."""
    cls = SPACES.get(name)
    try:
        return cls(**options)
    except TypeError as exc:
        raise UsageError(f"bad options for space {name!r}: {exc}") from None
    except ZcbenchError:
        raise
    except ValueError as exc:  # a space checks its option values with ValueError: the user's to fix
        raise UsageError(str(exc)) from exc


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
