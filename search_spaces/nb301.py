"""NAS-Bench-301: DARTS cells in the NB301 training network, as NASLib builds it for
zero-cost evaluation.

Architectures are the :class:`~search_spaces.darts.Genotype` values of the ``darts`` space,
restricted to NB301's space:

* 7 ops, no ``none`` (SWAP's DARTS CSV has ``none``, NB301 has not); op ids of
  the compact encoding 0 = max_pool_3x3, 1 = avg_pool_3x3, 2 = skip_connect,
  3 = sep_conv_3x3, 4 = sep_conv_5x5, 5 = dil_conv_3x3, 6 = dil_conv_5x5;
* each intermediate node reads 2 *distinct* earlier nodes (NASLib's sampler and NB301's
  ConfigSpace, whose ``inputs_node_*`` values are pairs such as ``0_1``);
* both cells concatenate nodes 2..5.

Canonical form: the two edges of a node are ordered by input node (the network is the
same either way: the node sums them). ``parse``, ``from_zc_key`` and ``sample`` return the
canonical genotype, so a genotype written in another edge order joins with ground truth.
The 11221 genotypes of NASLib's ``archs_nasbench301.json`` (NB301's training set), whose
compact strings are the keys of ``zc_nasbench301.json``, are all in that order already.
``str(arch)`` is the DARTS Genotype string; ``parse`` also reads the compact form.

Compact encoding (NB-Suite-Zero's key, ``str`` of NASLib's ``get_hash()``, i.e.
``convert_genotype_to_compact``): ``((8 x (input_node, op_id)), (8 x (input_node, op_id)))``,
normal cell then reduction cell, edges in genotype order, e.g.
``"(((0, 3), (1, 3), (0, 3), (1, 3), (0, 2), (1, 3), (0, 2), (2, 5)), ((0, 0), ...))"``.

Network (:class:`NB301Network`, NASLib ``nasbench301/graph.py`` without the graph machinery):
stem Conv3x3(3 -> 3C) + BN; ``layers`` = 8 cells N N R N N R N N with C = 32, 64 after the
first reduction, 128 after the second; preprocessing ReLUConvBN 1x1 (FactorizedReduce for
the input coming from before a reduction); 4 intermediate nodes; channel concat (4C); head
AdaptiveAvgPool + Linear(512, classes). Two oddities of NB301's training code kept as options: cell ops use
``affine=False`` BN, and max/avg pools are followed by ``BatchNorm2d(affine=False)``
(``bn_after_pool``), which DARTS evaluation networks do not have. Preprocessing and stem BN
are affine, as in NASLib.

Auxiliary head: NASLib builds cifar10 graphs with ``auxiliary=True``, but for zero-cost
scoring ``prepare_evaluation`` is never called, so that output node is an identity of the last
cell with no parameters and the forward returns the logits. ``auxiliary=False`` (default)
builds exactly those modules; ``auxiliary=True`` adds DARTS' ``AuxiliaryHeadCIFAR`` after the
second reduction cell (as NB301's training pipeline had it; it needs 8 x 8 maps there, i.e.
32 x 32 inputs). ``forward(x)`` still returns the main logits only and does not run the head;
``forward(x, return_auxiliary=True)`` returns ``(logits, auxiliary_logits)`` for training.
The head's parameters are named ``auxiliary*``, so ``num_params`` skips them (as DARTS'
``count_parameters_in_MB``), but weight-only proxies such as l2_norm see them: leave it off
for scoring.

Ground truth: NAS-Bench-Suite-Zero's ``zc_nasbench301.json`` (format ``nbsuite_zero``, keys
through :meth:`NB301Space.from_zc_key`), whose ``val_accuracy`` is the NB301 XGB v1.0
surrogate's prediction, not a trained accuracy; or the surrogate itself (format ``nb301_surrogate``, below)
when the ``nasbench301`` package and its model files are installed.
"""
from __future__ import annotations

import collections
import math
from pathlib import Path
from typing import Any, Hashable, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from search_spaces.base import (ArchParseError, TaskInfo, check_mutation_kind, derive_seed, is_int, parse_tuple_key,
                                register_space, sample_distinct)
from search_spaces.darts import Cell, DartsSpace
from search_spaces.darts_genotype import (
    DARTS_OPS,
    DEFAULT_CONCAT,
    NB301_OP_IDS,
    NB301_OPS,
    NUM_EDGES,
    STEPS,
    Edge,
    Genotype,
    parse_genotype,
    with_cell,
)
from search_spaces.ground_truth import (
    GroundTruth,
    GroundTruthError,
    GroundTruthNotFoundError,
    register_format,
)
from zc_proxies.errors import UsageError

__all__ = [
    "NB301_OPS",
    "NB301_OP_IDS",
    "nb301_genotype",
    "AuxiliaryHeadCIFAR",
    "NB301Network",
    "NB301Space",
    "NB301_MODELS_URL",
    "SurrogateUnavailableError",
    "load_surrogate",
    "predict_surrogate",
    "surrogate_ground_truth",
]

_COMPACT_USAGE = ("((8 x (input_node, op_id)), (8 x (input_node, op_id))) for the normal and the "
                  "reduction cell, op ids " + ", ".join(f"{i}={op}" for i, op in enumerate(NB301_OPS)))


# --------------------------------------------------------------------------------------
# Genotypes of the NB301 space


def _check_nb301(g: Genotype) -> Genotype:
    """``g`` if it lies in NB301's space, in canonical edge order; ArchParseError otherwise."""
    cells = {}
    for field in ("normal", "reduce"):
        edges: tuple[Edge, ...] = getattr(g, field)
        for i, (op, _) in enumerate(edges):
            if op not in NB301_OP_IDS:
                raise ArchParseError(
                    f"op {op!r} at {field}[{i}]: NAS-Bench-301 has no {op!r} op (its 7 ops: "
                    f"{', '.join(NB301_OPS)}); genotypes with 'none', such as those of SWAP's "
                    f"DARTS CSV, belong to the 'darts' space")
        out: list[Edge] = []
        for k in range(STEPS):
            a, b = edges[2 * k], edges[2 * k + 1]
            if a[1] == b[1]:
                raise ArchParseError(
                    f"{field}[{2 * k}] and {field}[{2 * k + 1}] both read node {a[1]}: in NAS-Bench-301 "
                    f"node {k + 2} reads 2 distinct nodes of 0..{k + 1}")
            out += [a, b] if a[1] < b[1] else [b, a]
        cells[field] = tuple(out)
        concat = getattr(g, f"{field}_concat")
        if concat != DEFAULT_CONCAT:
            raise ArchParseError(
                f"{field}_concat={list(concat)}: NAS-Bench-301 cells always concatenate nodes "
                f"{list(DEFAULT_CONCAT)}")
    if cells["normal"] == g.normal and cells["reduce"] == g.reduce:
        return g
    return Genotype(cells["normal"], DEFAULT_CONCAT, cells["reduce"], DEFAULT_CONCAT)


def nb301_genotype(value: Any) -> Genotype:
    """The canonical NB301 genotype of ``value``: a :class:`Genotype`, a DARTS Genotype string,
    or the compact encoding (a nested tuple or its string, as the keys of
    ``zc_nasbench301.json``). Raises :class:`ArchParseError` saying what is wrong."""
    if isinstance(value, Genotype):
        return _check_nb301(value)
    if isinstance(value, (tuple, list)):
        return _check_nb301(_from_compact(value, repr(value)))
    if not isinstance(value, str):
        raise ArchParseError(f"expected an NB301 Genotype string or compact tuple, got {type(value).__name__}")
    text = value.strip()
    if text and text[0] in "([":
        compact = parse_tuple_key(text, f"an NB301 compact genotype {_COMPACT_USAGE}")
        return _check_nb301(_from_compact(compact, text))
    try:
        g = parse_genotype(text)
    except ArchParseError as exc:
        # parse_genotype lists the DARTS ops, 'none' included; NB301 has 7
        raise ArchParseError(str(exc).replace(", ".join(DARTS_OPS), ", ".join(NB301_OPS))) from None
    return _check_nb301(g)


def _from_compact(compact: Any, text: str) -> Genotype:
    if (not isinstance(compact, (tuple, list)) or len(compact) != 2
            or not all(isinstance(c, (tuple, list)) and len(c) == NUM_EDGES for c in compact)):
        raise ArchParseError(f"{_short(text)} is not an NB301 compact genotype; expected {_COMPACT_USAGE}")
    for field, cell in zip(("normal", "reduce"), compact):
        for i, edge in enumerate(cell):
            if (not isinstance(edge, (tuple, list)) or len(edge) != 2
                    or not all(is_int(v) for v in edge)):
                raise ArchParseError(f"compact {field}[{i}] = {edge!r} is not an (input_node, op_id) "
                                     f"pair of ints; expected {_COMPACT_USAGE}")
    return Genotype.from_compact(compact)


def _short(text: str, n: int = 80) -> str:
    return repr(text if len(text) <= n else text[: n - 3] + "...")


# --------------------------------------------------------------------------------------
# The network


class AuxiliaryHeadCIFAR(nn.Module):
    """DARTS' auxiliary head for 8 x 8 inputs (NASLib ``prepare_evaluation``): ReLU,
    AvgPool 5/3 (-> 2 x 2), Conv1x1 -> 128, BN, ReLU, Conv2x2 -> 768, BN, ReLU, Linear."""

    def __init__(self, C: int, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=False),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


class NB301Network(nn.Module):
    """The NB301 training network of ``genotype``: stem, ``layers`` cells
    with reductions at ``layers // 3`` and ``2 * layers // 3``, global average pool, linear
    classifier. Cells are :class:`search_spaces.darts.Cell` with ``affine`` cell ops and
    ``bn_after_pool``. Returns the logits (and the auxiliary head's with ``return_auxiliary``)."""

    def __init__(self, genotype: Genotype, num_classes: int, C: int = 32, layers: int = 8,
                 stem_multiplier: int = 3, in_channels: int = 3, affine: bool = False,
                 bn_after_pool: bool = True, auxiliary: bool = False):
        super().__init__()
        self.drop_path_prob = 0.0
        self._layers = layers
        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C_curr, 3, padding=1, bias=False),
            nn.BatchNorm2d(C_curr),
        )
        C_prev_prev, C_prev, C_curr = C_curr, C_curr, C
        self.cells = nn.ModuleList()
        self._aux_after = 2 * layers // 3 if auxiliary else None
        reduction_prev = False
        C_aux = None
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                C_curr *= 2
            cell = Cell(genotype, C_prev_prev, C_prev, C_curr, reduction, reduction_prev,
                        affine=affine, bn_after_pool=bn_after_pool)
            reduction_prev = reduction
            self.cells.append(cell)
            C_prev_prev, C_prev = C_prev, cell.multiplier * C_curr
            if i == self._aux_after:
                C_aux = C_prev
        if auxiliary:
            self.auxiliary_head = AuxiliaryHeadCIFAR(C_aux, num_classes)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def forward(self, x: torch.Tensor, return_auxiliary: bool = False):
        if return_auxiliary and self._aux_after is None:
            raise ValueError("this network has no auxiliary head; build it with auxiliary=True")
        aux = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if return_auxiliary and i == self._aux_after:
                aux = self.auxiliary_head(s1)
        out = self.global_pooling(s1)
        logits = self.classifier(out.view(out.size(0), -1))
        return (logits, aux) if return_auxiliary else logits

    def cell_modules(self) -> list[nn.Module]:
        """The modules whose outputs are the per-cell features (AZ-NAS): the stem, then every
        cell (normal and reduction)."""
        return [self.stem, *self.cells]


# --------------------------------------------------------------------------------------
# The space


@register_space("nb301")
class NB301Space(DartsSpace):
    """NAS-Bench-301 (DARTS cells, 7 ops) in NASLib's NB301 network.

    Options (defaults = NASLib's zero-cost network): ``C`` (32), ``layers``
    (8), ``stem_multiplier`` (3), ``affine`` (False: BN affine flag of the cell ops),
    ``bn_after_pool`` (True: BN(affine=False) after max/avg pool), ``auxiliary`` (False: no
    auxiliary head; see the module docstring).
    """

    nbsuite_zero_file = "zc_nasbench301.json"

    # NB301 (its training runs, the surrogate, NB-Suite-Zero) is CIFAR-10 only
    tasks = {"cifar10": TaskInfo("cifar10", 10, (3, 32, 32), loss="cross_entropy")}
    # N R R at C=4 on 8x8 inputs: both cell kinds and both preprocessings, ~9 K parameters
    small_options = {"C": 4, "layers": 3}
    benchmark_options = {}  # the space's defaults are NB301's (and NB-Suite-Zero's) trained network
    small_input_size = 8

    def __init__(self, C: int = 32, layers: int = 8, stem_multiplier: int = 3,
                 affine: bool = False, bn_after_pool: bool = True, auxiliary: bool = False):
        for name, v in (("C", C), ("layers", layers), ("stem_multiplier", stem_multiplier)):
            if not is_int(v) or v < 1:
                raise UsageError(f"NB301 option {name} must be a positive int, got {v!r}")
        if layers < 3:
            raise UsageError(f"NB301 option layers must be >= 3 (two reduction cells at layers // 3 "
                             f"and 2 * layers // 3), got {layers}")
        for name, v in (("affine", affine), ("bn_after_pool", bn_after_pool), ("auxiliary", auxiliary)):
            if not isinstance(v, bool):
                raise UsageError(f"NB301 option {name} must be true or false, got {v!r}")
        self.C = C
        self.layers = layers
        self.stem_multiplier = stem_multiplier
        self.affine = affine
        self.bn_after_pool = bn_after_pool
        self.auxiliary = auxiliary
        # read by the inherited crossover
        self.ops = NB301_OPS
        self.same_cells = False

    # ---- verbs -----------------------------------------------------------------------
    def parse(self, text: str) -> Genotype:
        """A DARTS Genotype string or the compact string (see :func:`nb301_genotype`)."""
        return nb301_genotype(text)

    def space_size(self) -> int:
        """Number of distinct (canonical) NB301 genotypes: per cell 7^8 ops times
        C(2,2) C(3,2) C(4,2) C(5,2) input pairs, squared for the two cells."""
        per_cell = len(NB301_OPS) ** NUM_EDGES
        for k in range(STEPS):
            per_cell *= math.comb(k + 2, 2)
        return per_cell ** 2

    def sample(self, n: int, seed: int) -> list[Genotype]:
        """``n`` distinct canonical genotypes drawn as NASLib's NB301
        ``sample_random_architecture`` draws them, from ``numpy.random.RandomState(seed)``
        (``derive_seed(seed)`` when ``seed`` is not an int in 0..2**32-1): for each node
        k = 2..5, 4 op ids uniform over 0..6 (with replacement), then 2 distinct inputs out of
        0..k-1 for the normal cell, then 2 for the reduction cell; the normal cell takes op
        ids 0, 1 and the reduction cell 2, 3. The first draw equals NASLib's after
        ``np.random.seed(seed)``. Duplicates are redrawn."""
        rs = np.random.RandomState(seed if is_int(seed) and 0 <= seed < 2**32 else derive_seed(seed))

        def draw() -> Genotype:
            normal: list[tuple[int, int]] = []
            reduce: list[tuple[int, int]] = []
            for k in range(STEPS):
                ops = rs.choice(range(len(NB301_OPS)), 4)
                ins_n = rs.choice(range(k + 2), 2, replace=False)
                ins_r = rs.choice(range(k + 2), 2, replace=False)
                normal += [(int(ins_n[0]), int(ops[0])), (int(ins_n[1]), int(ops[1]))]
                reduce += [(int(ins_r[0]), int(ops[2])), (int(ins_r[1]), int(ops[3]))]
            return _check_nb301(Genotype.from_compact((tuple(normal), tuple(reduce))))

        return sample_distinct(draw, n, self.space_size(), "genotypes")

    def build(self, arch: Hashable, task: str) -> NB301Network:
        info = self.task(task)
        return NB301Network(nb301_genotype(arch), info.num_classes, C=self.C, layers=self.layers,
                            stem_multiplier=self.stem_multiplier, in_channels=info.input_shape[0],
                            affine=self.affine, bn_after_pool=self.bn_after_pool,
                            auxiliary=self.auxiliary)

    # ---- NAS-Bench-Suite-Zero keys ------------------------------------------------------
    def zc_key(self, arch) -> str:
        """``str`` of NASLib's compact tuple, the key of ``zc_nasbench301.json``."""
        return str(nb301_genotype(arch).to_compact())

    def from_zc_key(self, key: str) -> Genotype:
        """The genotype of a ``zc_nasbench301.json`` key: the compact tuple, or the pre-release
        files' lists of pairs (``"[[(0, 0), (1, 5), ...], [...]]"``, NASLib's history)."""
        if not isinstance(key, str):
            raise ArchParseError(f"a zc_nasbench301.json key is a string, got {type(key).__name__}")
        compact = parse_tuple_key(key, f"an NB301 compact genotype {_COMPACT_USAGE}", lists=True)
        try:
            return _check_nb301(_from_compact(compact, key))
        except ArchParseError as exc:
            raise ArchParseError(f"NAS-Bench-Suite-Zero key {_short(key)}: {exc}") from None

    # ---- evolution (zcbench search) -------------------------------------------------------
    def mutate(self, arch, rng, kind: str) -> Genotype:
        """``arch`` with one edge changed in one cell (drawn with ``rng``), staying in NB301:

        * ``"op"``: the edge gets another of the 7 ops, its input kept;
        * ``"connectivity"``: the edge reads another node, neither its own input nor its
          sibling's (node 2 reads 0 and 1 and cannot change, so an edge of nodes 3..5 is drawn).
        """
        g = nb301_genotype(arch)
        check_mutation_kind(kind)
        field = rng.choice(("normal", "reduce"))
        edges = list(getattr(g, field))
        if kind == "op":
            i = rng.randrange(NUM_EDGES)
            op, node = edges[i]
            edges[i] = (rng.choice([o for o in NB301_OPS if o != op]), node)
        else:
            i = rng.randrange(2, NUM_EDGES)
            op, node = edges[i]
            sibling = edges[i ^ 1][1]
            edges[i] = (op, rng.choice([n for n in range(i // 2 + 2) if n not in (node, sibling)]))
        return _check_nb301(with_cell(g, field, tuple(edges), False))

    def crossover(self, a, b, rng) -> tuple[Genotype, Genotype]:
        """Swap the incoming edges of one node of one cell between ``a`` and ``b`` (see
        :meth:`DartsSpace.crossover`); both children stay in NB301."""
        c1, c2 = super().crossover(nb301_genotype(a), nb301_genotype(b), rng)
        return _check_nb301(c1), _check_nb301(c2)


# --------------------------------------------------------------------------------------
# Ground truth from the NB301 surrogate (the ``nasbench301`` package)

NB301_MODELS_URL = "https://figshare.com/articles/software/nasbench301_models_v1_0_zip/13061510"
NB301_INSTALL = ("pip install nasbench301 (or, as NASLib recommends, "
                 "pip install git+https://github.com/automl/nasbench301@no_gin) with its requirements "
                 "ConfigSpace, xgboost, lightgbm and scikit-learn")
_MODELS_EXPECTED = ("the folder of one NAS-Bench-301 surrogate ensemble, e.g. nb_models_1.0/xgb_v1.0 (the "
                    "XGB v1.0 model that NAS-Bench-Suite-Zero's val_accuracy comes from), holding the "
                    "members' */surrogate_model.model, data_config.json and model_config.json")
#: the surrogate was trained on NB301's CIFAR-10 training runs only
SURROGATE_TASKS = ("cifar10",)
SURROGATE_DEFAULTS = {"n": 1000, "seed": 0, "with_noise": True}

_Genotype = collections.namedtuple("Genotype", "normal normal_concat reduce reduce_concat")


class SurrogateUnavailableError(GroundTruthError, ImportError):
    """The ``nasbench301`` package cannot be imported; the message says how to install it."""


def _import_nasbench301():
    try:
        import nasbench301  # noqa: PLC0415  (optional, heavy dependency)
    except ImportError as exc:
        raise SurrogateUnavailableError(
            f"ground-truth format 'nb301_surrogate' needs the nasbench301 package, which cannot be "
            f"imported ({exc}). Install it: {NB301_INSTALL}; and download the v1.0 surrogate "
            f"models (nasbench301_models_v1_0.zip) from {NB301_MODELS_URL}. Without it, use "
            f"NAS-Bench-Suite-Zero's zc_nasbench301.json (format nbsuite_zero), whose "
            f"val_accuracy holds this surrogate's predictions for 11221 genotypes.") from None
    return nasbench301


def load_surrogate(path: str | Path):
    """The surrogate ensemble in folder ``path`` (``nasbench301.load_ensemble(path)``).

    Raises :class:`GroundTruthNotFoundError` when the folder is missing or holds no ensemble,
    :class:`SurrogateUnavailableError` when ``nasbench301`` is not installed, and
    :class:`GroundTruthError` when the package fails to load the models."""
    path = Path(path).expanduser()
    if not path.is_dir():
        what = "not a folder" if path.exists() else "no such folder"
        raise GroundTruthNotFoundError(
            f"NAS-Bench-301 surrogate models {path}: {what}. Expected {_MODELS_EXPECTED}; download "
            f"nasbench301_models_v1_0.zip from {NB301_MODELS_URL} and unzip it")
    nb = _import_nasbench301()
    if next(path.rglob("*surrogate_model.model"), None) is None:
        raise GroundTruthNotFoundError(
            f"NAS-Bench-301 surrogate models {path}: no '*surrogate_model.model' file below it. "
            f"Expected {_MODELS_EXPECTED}; download nasbench301_models_v1_0.zip from {NB301_MODELS_URL}")
    try:
        return nb.load_ensemble(str(path))
    except Exception as exc:  # the package raises whatever its loaders raise
        raise GroundTruthError(
            f"nasbench301 could not load the surrogate ensemble in {path} "
            f"({type(exc).__name__}: {exc}). Expected {_MODELS_EXPECTED}; the v1.0 models: "
            f"{NB301_MODELS_URL}") from None


def predict_surrogate(model, archs: Iterable[Any], *, with_noise: bool = True,
                      seed: int = 0) -> dict[Genotype, float]:
    """``{genotype: predicted CIFAR-10 validation accuracy (percent)}`` from a loaded surrogate
    (``model.predict(config=genotype, representation="genotype", with_noise=...)``, the call
    NASLib's ``query`` makes).

    ``with_noise=True`` (NASLib's default, so NB-Suite-Zero's values) adds the ensemble's
    noise, drawn from numpy's global generator: it is seeded per architecture from
    ``(seed, compact key)`` and restored afterwards, so predictions are reproducible and do not
    depend on the order of ``archs``."""
    out: dict[Genotype, float] = {}
    state = np.random.get_state()
    try:
        for arch in archs:
            g = nb301_genotype(arch)
            key = str(g.to_compact())
            np.random.seed(derive_seed(seed, key, "nb301_surrogate"))
            # the namedtuple of lists that NASLib's convert_naslib_to_genotype passes
            config = _Genotype(list(g.normal), list(g.normal_concat), list(g.reduce), list(g.reduce_concat))
            value = model.predict(config=config, representation="genotype", with_noise=with_noise)
            try:
                v = float(np.asarray(value).reshape(-1)[0])
            except (TypeError, ValueError, IndexError):
                v = math.nan
            if not math.isfinite(v):
                raise GroundTruthError(f"the NB301 surrogate predicted {value!r} for {g}; expected a finite "
                                       f"accuracy")
            out[g] = v
    finally:
        np.random.set_state(state)
    return out


def surrogate_ground_truth(path: str | Path, archs: Sequence[Any], *, with_noise: bool = True,
                           seed: int = 0) -> GroundTruth:
    """Ground truth (metric ``val_accuracy``, percent) for ``archs`` predicted by the surrogate
    ensemble in folder ``path`` (see :func:`load_surrogate`, :func:`predict_surrogate`)."""
    model = load_surrogate(path)
    values = predict_surrogate(model, archs, with_noise=with_noise, seed=seed)
    return GroundTruth(["val_accuracy"], {a: {"val_accuracy": v} for a, v in values.items()},
                       f"{Path(path).expanduser()} [nasbench301 surrogate, with_noise={with_noise}, seed={seed}]",
                       n_rows=len(values))


@register_format("nb301_surrogate", spaces=("nb301",), options=("n", "seed", "with_noise"),
                 url=NB301_MODELS_URL, directory=True)
def read_nb301_surrogate(path, space, task, n: int | None = None, seed: int | None = None,
                         with_noise: bool | None = None) -> GroundTruth:
    """the folder of a NAS-Bench-301 surrogate ensemble (nasbench301 package), e.g. nb_models_1.0/xgb_v1.0

    Predicts ``val_accuracy`` for ``space.sample(n, seed)`` (defaults: 1000 genotypes, seed 0,
    with the surrogate's noise as NASLib queries it); a study then draws its architectures
    from these (``archs: {from: ground_truth}``)."""
    if task not in SURROGATE_TASKS:
        raise GroundTruthError(f"the NAS-Bench-301 surrogate predicts CIFAR-10 validation accuracy only; "
                               f"task {task!r} has no surrogate ground truth")
    n = SURROGATE_DEFAULTS["n"] if n is None else n
    seed = SURROGATE_DEFAULTS["seed"] if seed is None else seed
    with_noise = SURROGATE_DEFAULTS["with_noise"] if with_noise is None else with_noise
    if not is_int(n) or n < 1:
        raise GroundTruthError(f"nb301_surrogate option n must be a positive int, got {n!r}")
    if not isinstance(with_noise, bool):
        raise GroundTruthError(f"nb301_surrogate option with_noise must be true or false, got {with_noise!r}")
    gt = surrogate_ground_truth(path, space.sample(n, seed), with_noise=with_noise, seed=seed)
    gt.source = f"{Path(path).expanduser()} [nasbench301 surrogate, n={n}, seed={seed}, with_noise={with_noise}]"
    return gt
