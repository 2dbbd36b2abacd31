"""Runs a study or a suite: sample architectures, build seeded networks, probe them, store every
score under what determines it (see experiments.store), then write the reports (which derive
the population-level proxies and join the ground truth; see experiments.report)."""
from __future__ import annotations

import json
import platform
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import search_spaces  # noqa: F401  (registers the built-in spaces)
import zc_proxies
from experiments.config import GT_DEFAULTS, ConfigError, ProxySpec, Study, Suite
from experiments.store import Row, Store, proxy_key, scoring_spec
from search_spaces.base import derive_seed, get_space, seeded_build
from search_spaces.data import load_batch, resolve_path
from search_spaces.ground_truth import GroundTruth, join, read_ground_truth


@dataclass
class Plan:
    """A study resolved against the registries: what to score per network, what to derive."""

    scored: list[ProxySpec]
    # (spec, base labels by role), or for ensembles (spec, ((name as written, base label), ...))
    derived: list[tuple[ProxySpec, tuple]]


def plan_proxies(specs: list[ProxySpec]) -> Plan:
    """Check every proxy and its options; add the base proxies that derived ones need.

    A derived proxy's bases are its ``derived_from`` roles, or, for ``("*",)`` (the ensembles),
    the proxies its ``proxies`` option names (``"all"``: every per-network proxy of the study),
    plus LIBRA's ``params_proxy``. A base is matched by label, then by proxy name with default
    options, and added with default options when the study lacks it."""
    scored: list[ProxySpec] = []
    derived: list[ProxySpec] = []
    for spec in specs:
        info = zc_proxies.get_proxy(spec.proxy)
        info.options(spec.options)  # unknown options fail here, before any scoring
        (derived if info.derived_from else scored).append(spec)
    labels = {s.label for s in specs}

    def base(role: str, want: dict, prefix: str) -> ProxySpec:
        role_info = zc_proxies.get_proxy(role)
        if role_info.derived_from:
            raise ConfigError(f"{prefix}: {role!r} is itself a population-level proxy and cannot be a base")
        match = next((s for s in scored if s.proxy == role and role_info.options(s.options) == role_info.options(want)),
                     None)
        if match is None:
            label = role if role not in labels else f"{prefix}.{role}"
            match = ProxySpec(label, role, want)
            scored.append(match)
            labels.add(label)
        return match

    resolved = []
    for spec in derived:
        info = zc_proxies.get_proxy(spec.proxy)
        if info.derived_from != ("*",):
            bases = []
            for role in info.derived_from:
                role_info = zc_proxies.get_proxy(role)
                want = {k: v for k, v in spec.options.items() if k in role_info.defaults}
                bases.append(base(role, want, spec.label).label)
            resolved.append((spec, tuple(bases)))
            continue
        opts = info.options(spec.options)
        names = opts["proxies"]
        if names == "all":
            names = [s.label for s in scored]
        elif isinstance(names, str) or not isinstance(names, list) or not names:
            raise ConfigError(f"proxy {spec.label!r}: 'proxies' must be a list of proxy labels"
                              + (" or 'all'" if "params_proxy" in opts else "") + f", not {names!r}")
        names = list(dict.fromkeys(names + ([opts["params_proxy"]] if "params_proxy" in opts else [])))
        by_label = {s.label: s for s in scored}
        bases = [by_label[n].label if n in by_label else base(n, {}, spec.label).label for n in names]
        resolved.append((spec, tuple(zip(names, bases))))
    return Plan(scored, resolved)


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


def theta_sizes(study: Study, space, plan: Plan, archs: list) -> tuple[dict[str, float], str] | None:
    """The benchmark network's size (millions) per architecture for the plan's reg_swap specs
    with ``theta: benchmark``, and its description; None when none needs it."""
    wants = [s for s, _ in plan.derived if zc_proxies.get_proxy(s.proxy).options(s.options).get("theta") == "benchmark"]
    if not wants:
        return None
    net_space, task, what = theta_network(study.space, study.space_options, study.task, study.ground_truth["network"])
    return benchmark_params(net_space, task, archs), what


def versions() -> dict[str, str]:
    import torch

    from importlib.metadata import PackageNotFoundError, version

    try:
        own = version("zcbench")
    except PackageNotFoundError:
        own = "source"
    return {"zcbench": own, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "machine": platform.machine()}


def record_study(store: Store, study: Study) -> None:
    """Keep the study's config (reports are rebuilt from it) and the package versions."""
    studies = store.get_meta("studies", {})
    studies[study.name] = study.raw
    store.set_meta("studies", studies)
    store.set_meta("versions", versions())


def scoring_of(variant: Study) -> dict[str, Any]:
    """The scoring spec of a study variant (what, with seed, architecture and proxy, keys a score)."""
    return scoring_spec(variant.space, variant.space_options, variant.task, variant.data)


def key_of(spec: ProxySpec) -> str:
    info = zc_proxies.get_proxy(spec.proxy)
    return proxy_key(spec.proxy, info.options(spec.options), info.defaults)


def check_population(study: Study, plan: Plan, n_archs: int) -> list[str]:
    """Check, before any scoring, that the population-level proxies fit the population (LIBRA's
    calibration split must leave >= 3 evaluation architectures); a fixed calibration size
    that does not fit is scaled to a fifth of the population (at least 3), with a note (returned)."""
    notes = []
    for i, (spec, bases) in enumerate(plan.derived):
        info = zc_proxies.get_proxy(spec.proxy)
        if not info.needs_truth:
            continue
        if not study.ground_truth["path"]:
            raise ConfigError(f"{spec.label} ({spec.proxy}) chooses proxies with the ground truth; "
                              "the study has no ground_truth.path")
        cal = info.options(spec.options)["calibration"]
        if isinstance(cal, (int, float)) and not isinstance(cal, bool) and cal >= 1 and not 3 <= cal <= n_archs - 3:
            if n_archs < 6:
                raise ConfigError(f"{spec.label} needs at least 6 architectures (3 to calibrate, 3 to evaluate); "
                                  f"the study evaluates {n_archs}: raise archs.n or drop {spec.label}")
            k = max(3, n_archs // 5)
            plan.derived[i] = (ProxySpec(spec.label, spec.proxy, {**spec.options, "calibration": k}), bases)
            notes.append(f"{spec.label}: calibration={cal} does not fit a population of {n_archs} architectures; "
                         f"calibrated on a fifth of it instead ({k}; set calibration: a number or fraction to choose)")
    return notes


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


class _Context:
    """What scoring one architecture needs; built once per process, for one device (a
    resolved device; None: the study's ``device`` resolved here)."""

    def __init__(self, study: Study, device: str | None = None):
        from experiments.devices import resolve_device

        self.study = study
        self.device = device or resolve_device(study.device)
        self.plan = plan_proxies(study.proxies)
        self.space = get_space(study.space, **study.space_options)
        self.space.task(study.task)  # an unknown task fails here, before any scoring
        self.variants = dict(study.variants())
        self._batches: dict[tuple[str, int], tuple] = {}

    def batch(self, label: str, seed: int):
        key = (label, seed)
        if key not in self._batches:
            x, y = study_batch(self.space, self.study.task, self.variants[label].data, seed)
            self._batches = {key: (x.to(self.device), y.to(self.device) if hasattr(y, "to") else y)}
        return self._batches[key]

    def score(self, label: str, seed: int, arch, labels: list[str]) -> dict[str, Any]:
        x, y = self.batch(label, seed)
        wanted = {s.label: (s.proxy, s.options) for s in self.plan.scored if s.label in labels}
        return zc_proxies.score(study_probe(self.space, arch, self.study.task, seed, x, y, self.device), wanted)


_CONTEXTS: dict[str, _Context] = {}  # per process, by config


def _context(raw: dict) -> _Context:
    from experiments.config import parse_study
    from experiments.executors import worker_device

    key = json.dumps(raw, sort_keys=True, default=str)
    if key not in _CONTEXTS:
        _CONTEXTS.clear()  # one study at a time per process
        _CONTEXTS[key] = _Context(parse_study(raw), device=worker_device())
    return _CONTEXTS[key]


def score_chunk(task: tuple[dict, str, int, list[tuple[str, list[str]]]]):
    """The unit of work of every executor: ``(study config, variant, seed, [(arch string,
    proxy labels)])`` -> ``[(arch string, {label: Result})]``; the context (space, batch) is
    built once per process."""
    raw, label, seed, items = task
    ctx = _context(raw)
    return [(arch_s, ctx.score(label, seed, ctx.space.parse(arch_s), labels)) for arch_s, labels in items]


def executor_of(study: Study, kind: str | None = None, address: str | None = None) -> tuple[str, str | None]:
    """``(kind, address)`` of the executor: ``--executor``/``--address`` over the config's
    ``executor`` section; an address alone means ray."""
    cfg = study.executor
    if kind is None:
        kind = cfg["kind"] or ("ray" if address or cfg["address"] else "local")
    if kind == "ray":
        address = address or cfg["address"]
    return kind, address


def score_study(study: Study, store: Store, *, progress: bool = True, workers: int | None = 1,
                threads: int | None = None, executor: str | None = None, address: str | None = None,
                device: str | None = None) -> Plan:
    """Score every (variant, seed, architecture) not yet in ``store``; ``workers`` > 1 scores
    chunks of architectures in that many processes while this one alone writes the store.
    Every scoring process runs torch with ``threads`` threads (default 1, or $ZCBENCH_THREADS),
    on ``device`` (default: the study's ``device``; auto/cuda deal the GPUs to the processes).
    ``executor="ray"`` scores the chunks on a Ray cluster (at ``address``; see
    ``experiments.executors.RayExecutor``) instead. Population-level proxies are not stored:
    the reports derive them (see :func:`derive`)."""
    from experiments.progress import StudyBar

    from experiments.devices import resolve_devices

    devices = resolve_devices(device or study.device, workers or 1)
    ctx = _Context(study, device=devices[0])
    plan, space = ctx.plan, ctx.space
    gt = load_ground_truth(study, space)
    record_study(store, study)
    work = [(label, seed, study_archs(var, space, gt, seed)) for label, var in ctx.variants.items()
            for seed in study.seeds]
    for note in check_population(study, plan, min(len(a) for *_, a in work)):
        print(f"zcbench: note: {note}", file=sys.stderr)
    keys = {s.label: key_of(s) for s in plan.scored}
    scorings = {label: store.scoring(scoring_of(var)) for label, var in ctx.variants.items()}
    total = sum(len(a) for *_, a in work)
    bar = StudyBar(total=total, desc=f"{study.name}", unit="arch", disable=not progress,
                   eta_after=max(5, 2 * (workers or 1)))
    pre = precomputed_scores(study, space, plan)
    keys.update({label: key for label, (key, _, _) in pre.items()})
    all_labels = [s.label for s in plan.scored if s.label not in pre]
    pending = []  # (label, seed, [(arch string, missing labels)])
    for label, seed, archs in work:
        if gt is not None:
            join(gt, archs, study.ground_truth["metric"] or gt.metrics[0])  # fail early: none match
        stored = store.done(scorings[label], seed)
        done = {a: {lab for lab, k in keys.items() if k in ks} for a, ks in stored.items()}
        if pre:
            _write_precomputed(store, scorings[label], pre, seed, archs, stored)
        todo = [(str(a), [l for l in all_labels if l not in done.get(str(a), set())]) for a in archs]
        todo = [t for t in todo if t[1]]
        bar.skip(len(archs) - len(todo))
        if todo:
            x, _ = ctx.batch(label, seed)  # a missing data file fails here, before any worker starts
            _warn_degenerate(x, label)
            pending.append((label, seed, todo))

    def write(label, seed, arch_s, results, count=True):
        store.write(Row(scorings[label], seed, arch_s, keys[lab], r.value, r.seconds, r.status, r.message)
                    for lab, r in results.items())
        if count:
            bar.update(1)

    from experiments.executors import make_executor

    _CONTEXTS.clear()
    _CONTEXTS[json.dumps(study.raw, sort_keys=True, default=str)] = ctx  # this process reuses its own
    kind, address = executor_of(study, executor, address)
    store.set_meta("devices", sorted(set(store.get_meta("devices", [])) | set(devices)))
    try:
        with make_executor(workers, threads=threads, kind=kind, address=address, devices=devices,
                           tf32=study.tf32) as executor:
            per = executor.parallelism
            tasks = []
            for label, seed, todo in pending:
                size = 1 if per <= 1 else max(1, min(16, len(todo) // (4 * per) or 1))
                tasks += [(study.raw, label, seed, todo[i:i + size]) for i in range(0, len(todo), size)]
            if per > 1 and tasks:
                bar.set_postfix_str(f"starting {per} workers")
            try:
                for i, results in executor.map(score_chunk, tasks):
                    _, label, seed, _ = tasks[i]
                    for arch_s, res in results:
                        write(label, seed, arch_s, res, count=False)
                    bar.set_postfix_str(f"{label} seed={seed}", refresh=False)
                    bar.update(len(results))  # a chunk at once: one update, so the rate is right
            except KeyboardInterrupt:
                bar.set_postfix_str("stopping", refresh=True)
                raise
    finally:
        bar.close()
    return plan


def _warn_degenerate(x, variant: str) -> None:
    """Warn, before scoring, about a batch whose images are all the same (no proxy that
    compares samples can tell networks apart) or of 1x1 images."""
    import torch

    if not isinstance(x, torch.Tensor) or x.ndim < 2 or x.shape[0] < 2:
        return
    flat = x.reshape(x.shape[0], -1)
    what = []
    if bool((flat == flat[:1]).all()):
        what.append(f"its {x.shape[0]} inputs are identical")
    if x.ndim == 4 and x.shape[-1] * x.shape[-2] == 1:
        what.append("its images are 1x1 (data.size)")
    if what:
        print(f"zcbench: warning: the input batch ({variant}) is degenerate: {' and '.join(what)}; proxies will "
              "be constant or fail, and their correlations undefined", file=sys.stderr)


def precomputed_scores(study: Study, space, plan: Plan) -> dict[str, tuple[str, str, dict]]:
    """``{label: (proxy key, source, {arch: (score, seconds)})}`` for the study's proxies that
    its ``precomputed`` NAS-Bench-Suite-Zero json holds and that are therefore read, not
    computed: those named in ``precomputed.proxies`` ("all": every proxy of the study the file
    has), each with its default options (the file holds NB-Suite-Zero's protocol). They are
    stored under their own key, ``NAME@precomputed:FILE[DATASET]``, never mixed with computed ones."""
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


def label_keys(study: Study, space, plan: Plan) -> dict[str, str]:
    """{label: the proxy key its scores are stored under} for the study's per-network proxies."""
    keys = {s.label: key_of(s) for s in plan.scored}
    keys.update({label: key for label, (key, _, _) in precomputed_scores(study, space, plan).items()})
    return keys


def _write_precomputed(store: Store, scoring: str, pre: dict, seed: int, archs, stored) -> None:
    """Store the precomputed scores of ``archs`` not yet stored (one score per architecture,
    the same for every seed: NB-Suite-Zero scored each once, at seed 9000)."""
    rows = []
    for a in archs:
        arch = str(a)
        for key, source, table in pre.values():
            if key in stored.get(arch, set()):
                continue
            if a in table:
                v, secs = table[a]
                ok = np.isfinite(v)
                rows.append(Row(scoring, seed, arch, key, v, secs, "ok" if ok else "nonfinite", f"precomputed: {source}"))
            else:
                rows.append(Row(scoring, seed, arch, key, float("nan"), 0.0, "failed",
                                f"not in the precomputed file {source}"))
    if rows:
        store.write(rows)


def derive(plan: Plan, base: dict[str, dict[str, float]], archs: list[str], truth: dict[str, float] | None,
           seed: int, sizes: tuple[dict[str, float], str] | None = None,
           nonfinite: dict[str, dict[str, float]] | None = None
           ) -> dict[str, tuple[dict[str, float], dict[str, Any], set[str]]]:
    """Population-level proxies (reg_swap, tenas, the ensembles, LIBRA) over one population:
    ``base`` holds each per-network label's finite scores ({label: {arch: value}}), ``archs``
    the population, ``truth`` the ground truth LIBRA chooses with. They are computed here, at
    report time, and never stored, because they depend on the population (µ = σ = the largest
    of its sizes, ranks) and LIBRA on the ground truth. Ensembles get their bases oriented so
    that higher is better. Returns {label: ({arch: value}, what was used or chosen, the
    architectures left out on purpose: LIBRA's calibration split)}; an architecture lacking a
    finite score of a base (or, for LIBRA, ground truth) gets none (``used["n_missing"]``), except
    for a proxy registered with ``nonfinite_bases`` (AZ-NAS, which ranks -inf and NaN last, as its
    official code): it also gets the stored non-finite scores in ``nonfinite`` ({label: {arch: value}}).

    ``sizes`` (:func:`theta_sizes`) replaces the ``params`` base of a proxy with ``theta:
    benchmark`` (reg_swap): Θ is then the benchmark network's parameter count."""
    out = {}
    full_base = base
    for spec, bases in plan.derived:
        info = zc_proxies.get_proxy(spec.proxy)
        base = full_base
        if info.nonfinite_bases and nonfinite:
            base = {lab: {**nonfinite.get(lab, {}), **vals} for lab, vals in full_base.items()}
        opts = info.options(spec.options)
        ensemble = info.derived_from == ("*",)
        labels = [lab for _, lab in bases] if ensemble else list(bases)
        common = set(archs).intersection(*(set(base.get(b, {})) for b in labels))
        if info.needs_truth:
            if not truth:
                raise ConfigError(f"{spec.label} ({spec.proxy}) chooses proxies with the ground truth; "
                                  "the study has no ground_truth.path")
            common &= set(truth)
        pop = sorted(common)
        if not pop:
            out[spec.label] = ({}, {"n_missing": len(archs)}, set())
            continue
        if ensemble:
            matrix = {}
            for name, lab in bases:
                v = np.array([base[lab][a] for a in pop])
                base_info = zc_proxies.get_proxy(next(s.proxy for s in plan.scored if s.label == lab))
                matrix[name] = v if base_info.higher_is_better else -v
            values, used = info.combine(matrix, truth=np.array([truth[a] for a in pop]) if truth else None,
                                        seed=seed, **opts)
        else:
            bench = opts.get("theta") == "benchmark"
            if bench and sizes is None:
                raise ValueError(f"{spec.label}: theta 'benchmark' needs the benchmark network's sizes")
            arrays = [np.array([(sizes[0] if bench and role == "params" else base[b])[a] for a in pop])
                      for role, b in zip(info.derived_from, bases)]
            values, used = info.combine(*arrays, **opts)
            if "theta" in opts:
                used["theta"] = sizes[1] if bench else "the scoring network"
        keep = used.pop("_keep", None)
        keep = np.ones(len(pop), dtype=bool) if keep is None else np.asarray(keep)
        used["n_missing"] = len(archs) - len(pop)
        out[spec.label] = ({a: float(v) for a, v, k in zip(pop, values, keep) if k}, used,
                           {a for a, k in zip(pop, keep) if not k})
    return out


def run_suite(suite: Suite, out: str | Path, *, progress: bool = True, workers: int | None = 1,
              threads: int | None = None, parquet: bool = False, executor: str | None = None,
              address: str | None = None, device: str | None = None) -> dict[str, Any]:
    """Score every study of ``suite`` into ``out/results.sqlite`` (what one study scored is not
    scored again for another) and write the combined reports next to it. A run that fails
    before anything is stored leaves no empty store behind."""
    from experiments import report

    out = Path(out)
    path = out / "results.sqlite"
    new = not path.exists()
    with Store(path) as store:
        try:
            store.set_meta("suite", {"name": suite.name, "studies": [s.name for s in suite.studies]})
            for study in suite.studies:
                score_study(study, store, progress=progress, workers=workers, threads=threads, executor=executor,
                            address=address, device=device)
        except BaseException:
            if new:
                store.remove_if_empty()
            raise
        return report.write_reports(suite, store, out, parquet=parquet)


def run_study(study: Study, out: str | Path, *, progress: bool = True, workers: int = 1,
              threads: int | None = None) -> dict[str, Any]:
    """Score ``study`` into ``out/results.sqlite`` and write the reports next to it."""
    return run_suite(Suite(study.name, [study], {}), out, progress=progress, workers=workers, threads=threads)
