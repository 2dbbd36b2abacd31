"""What a study scores and compares against, loaded as every command loads it: its
architectures, its ground truth, its input batch, the probe of one network, the scores a
precomputed NAS-Bench-Suite-Zero file holds, and the benchmark network whose parameter count
is reg_swap's Θ (``theta: benchmark``)."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import zc_proxies
from experiments.config import GT_DEFAULTS, ConfigError, Study
from search_spaces.base import derive_seed, get_space, seeded_build
from search_spaces.data import load_batch, resolve_path
from search_spaces.ground_truth import GroundTruth, read_ground_truth


def study_archs(study: Study, space, gt: GroundTruth | None, seed: int) -> list:
    """The architectures a study evaluates for ``seed``: ``archs.n`` sampled from the space, or
    (``from: ground_truth``) those of the ground truth (of ``archs.path`` when set), all or a
    seeded subset of ``n``."""
    if study.archs["from"] == "sample":
        return space.sample(study.archs["n"], seed)
    if study.archs["path"]:
        gt = ground_truth_from({**GT_DEFAULTS, "path": study.archs["path"]}, resolve_path(study.archs["path"]),
                               space, study.task)
    archs = list(gt.values)
    n = study.archs["n"]
    if n is not None and n < len(archs):
        archs = random.Random(seed).sample(archs, n)
    return archs


def load_ground_truth(study: Study, space) -> GroundTruth | None:
    if not study.ground_truth["path"]:
        return None
    return ground_truth_from(study.ground_truth, resolve_path(study.ground_truth["path"]), space, study.task)


def ground_truth_from(g: dict[str, Any], path, space, task: str) -> GroundTruth:
    """The ground truth a config's ``ground_truth`` section (merged over ``GT_DEFAULTS``)
    names, read from ``path`` (its path, resolved); only keys changed from their defaults go
    to the format's reader, so csv keys left alone never trouble another format."""
    options = {k: v for k, v in g.items() if k not in ("path", "format", "metric", "network")
               and v != GT_DEFAULTS[k]}
    return read_ground_truth(path, space, task, format=g["format"], **options)


def study_probe(space, arch, task: str, seed: int, x, y, device=None):
    """The probe of one (architecture, seed), as every command builds it: weights from
    ``seeded_build(space, arch, task, seed)`` (built on the CPU, the same weights on every
    device), moved with the batch to ``device`` (a resolved device; None: where they are),
    probe seed ``derive_seed(seed, arch, "probe")``, the task's loss and number of classes."""
    info = space.task(task)
    net = seeded_build(space, arch, task, seed)
    if device is not None:
        net = net.to(device)
        x = x.to(device)
        y = y.to(device) if hasattr(y, "to") else y
    return zc_proxies.Probe(net, x, y, loss=info.loss, seed=derive_seed(seed, arch, "probe"),
                            num_classes=info.num_classes)


def study_batch(space, task: str, data: dict[str, Any], seed: int):
    """The (inputs, targets) of a config's ``data`` section for ``task``, as every command
    loads them: ``load_batch`` then the space's ``task_batch`` (given the batch's image paths
    when the source has them, e.g. Taskonomy images whose targets lie beside them)."""
    x, y, files = load_batch(data["source"], data["batch_size"], size=data["size"], path=data["path"],
                             split=data["split"], pick=data["pick"], seed=seed, with_files=True)
    return space.task_batch(task, x, y, seed, files=files)


def precomputed_scores(study: Study, space, plan) -> dict[str, tuple[str, str, dict]]:
    """``{label: (proxy key, source, {arch: (score, seconds)})}`` for the study's proxies that
    its ``precomputed`` NAS-Bench-Suite-Zero json holds and that are therefore read, not
    computed: those named in ``precomputed.proxies`` ("all": every proxy of the study the file
    has), each with its default options (the file holds NB-Suite-Zero's protocol). They are
    stored under their own key, ``NAME@precomputed:FILE[DATASET]``, never mixed with computed ones.
    ``plan`` is the study's :class:`experiments.plan.Plan`."""
    pre = study.precomputed
    if not pre["path"]:
        return {}
    from search_spaces.ground_truth import read_zc_json

    rec = read_zc_json(resolve_path(pre["path"]), space, pre["dataset"] or study.task)
    wanted = pre["proxies"]
    if wanted != "all":
        unknown = [n for n in wanted if n not in rec.scores]
        if unknown:
            raise ConfigError(f"precomputed.proxies {unknown} are not in {rec.source} [{rec.dataset}]; "
                              f"it holds {sorted(rec.scores)}")
        missing = [n for n in wanted if not any(n in (s.label, s.proxy) for s in plan.scored)]
        if missing:
            raise ConfigError(f"precomputed.proxies {missing} are not proxies of the study; add them to proxies")
    out = {}
    for spec in plan.scored:
        name = spec.proxy if spec.proxy in rec.scores else spec.label
        if name not in rec.scores or (wanted != "all" and spec.label not in wanted and spec.proxy not in wanted):
            continue
        if spec.options:
            if wanted == "all":
                continue  # a proxy with its own options is computed
            raise ConfigError(f"proxy {spec.label!r} has options {spec.options}, but {rec.source} holds "
                              f"{name} with NB-Suite-Zero's defaults; drop the options or its precomputed entry")
        key = f"{name}@precomputed:{Path(str(pre['path'])).name}[{rec.dataset}]"
        out[spec.label] = (key, f"{rec.source} [{rec.dataset}]", rec.scores[name])
    return out


def theta_network(space_name: str, space_options: dict[str, Any], task: str, network: Any = None):
    """The network whose parameter count is reg-SWAP's Θ for ``theta: benchmark``: the benchmark's
    own network for the architecture, the one whose trained accuracy the ground truth gives.

    ``network`` is a ground truth's ``network``: null, the space's benchmark network
    (``benchmark_options``; a space without one, such as SWAP's DARTS scorer, uses the scoring
    network); "scorer", the scoring network; or a mapping of space options over the benchmark
    network's, plus optionally ``task``. Returns (space, task, a description for the reports)."""
    scorer = get_space(space_name, **space_options)
    bench = type(scorer).benchmark_options
    if network == "scorer" or (network is None and bench is None):
        return scorer, task, f"the scoring network ({_options_text(space_options)}, {task})"
    opts = dict(network or {})
    task = opts.pop("task", task)
    options = {**(bench or {}), **opts}
    try:
        space = get_space(space_name, **options)
        space.task(task)
    except ValueError as exc:
        raise ConfigError(f"ground_truth.network {network!r}: {exc}") from None
    return space, task, f"the benchmark network ({_options_text(options) or 'the space defaults'}, {task})"


def _options_text(options: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items())


_SIZES: dict[tuple, float] = {}


def benchmark_params(space, task: str, archs: list) -> dict[str, float]:
    """{str(arch): parameters in millions} of ``space``'s network for each architecture (auxiliary
    heads excluded, as SWAP counts), kept for the process: a count needs only the shapes."""
    key = (space.name, repr(sorted(vars(space).items(), key=lambda kv: kv[0])), task)
    out = {}
    for a in archs:
        k = key + (str(a),)
        if k not in _SIZES:
            _SIZES[k] = space.num_params(a, task) / 1e6
        out[str(a)] = _SIZES[k]
    return out


def theta_sizes(study: Study, space, plan, archs: list) -> tuple[dict[str, float], str] | None:
    """The benchmark network's size (millions) per architecture for the ``benchmark_size`` bases
    of ``plan`` (the study's :class:`experiments.plan.Plan`; reg_swap's Θ with ``theta:
    benchmark``), and its description; None when no base needs it."""
    if not any(b.benchmark_size for _, bases in plan.derived for b, _ in bases):
        return None
    net_space, task, what = theta_network(study.space, study.space_options, study.task, study.ground_truth["network"])
    return benchmark_params(net_space, task, archs), what
