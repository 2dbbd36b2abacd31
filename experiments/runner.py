"""Runs a study: sample architectures, build seeded networks, probe them, store every score,
then derive population-level proxies (reg_swap) and write correlations, summary and heatmap."""
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
from experiments.config import GT_DEFAULTS, ConfigError, ProxySpec, Study
from experiments.store import Row, Store
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
    if study.archs["from"] == "sample":
        return space.sample(study.archs["n"], seed)
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
    options = {k: v for k, v in g.items() if k not in ("path", "format", "metric") and v != GT_DEFAULTS[k]}
    return read_ground_truth(path, space, task, format=g["format"], **options)


def versions() -> dict[str, str]:
    import torch

    from importlib.metadata import PackageNotFoundError, version

    try:
        own = version("zcbench")
    except PackageNotFoundError:
        own = "source"
    return {"zcbench": own, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "machine": platform.machine()}


def _check_resumable(store: Store, study: Study, plan: Plan) -> None:
    """Refuse to mix results of different configs in one store."""
    fp = store.get_meta("fingerprint")
    if fp is not None and fp != study.fingerprint():
        raise ConfigError(
            f"{store.path} holds results of a different study config (space, task, data, ground truth, "
            "archs or ablation changed). Use another --out folder, or delete that folder to start over.")
    known = store.get_meta("proxies", {})
    for spec in plan.scored + [d for d, _ in plan.derived]:
        entry = {"proxy": spec.proxy, "options": spec.options}
        if spec.label in known and known[spec.label] != json.loads(json.dumps(entry, default=str)):
            raise ConfigError(
                f"proxy label {spec.label!r} is stored in {store.path} with other options "
                f"({known[spec.label]}); give the new setting its own label, or use another --out folder")
        known[spec.label] = entry
    store.set_meta("fingerprint", study.fingerprint())
    store.set_meta("proxies", known)
    store.set_meta("config", study.raw)
    store.set_meta("versions", versions())


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
    ``experiments.executors.RayExecutor``) instead."""
    from experiments.progress import StudyBar

    from experiments.devices import resolve_devices

    devices = resolve_devices(device or study.device, workers or 1)
    ctx = _Context(study, device=devices[0])
    plan, space = ctx.plan, ctx.space
    gt = load_ground_truth(study, space)
    _check_resumable(store, study, plan)
    work = [(label, seed, study_archs(var, space, gt, seed)) for label, var in ctx.variants.items()
            for seed in study.seeds]
    total = sum(len(a) for *_, a in work)
    bar = StudyBar(total=total, desc=f"{study.name}", unit="arch", disable=not progress,
                   eta_after=max(5, 2 * (workers or 1)))
    pre = precomputed_scores(study, space, plan)
    all_labels = [s.label for s in plan.scored if s.label not in pre]
    pending = []  # (label, seed, [(arch string, missing labels)])
    for label, seed, archs in work:
        if gt is not None:
            join(gt, archs, study.ground_truth["metric"] or gt.metrics[0])  # fail early: none match
        done = store.done(study.name, label, seed)
        if pre:
            _write_precomputed(store, study, pre, label, seed, archs, done)
        todo = [(str(a), [l for l in all_labels if l not in done.get(str(a), set())]) for a in archs]
        todo = [t for t in todo if t[1]]
        bar.skip(len(archs) - len(todo))
        if todo:
            ctx.batch(label, seed)  # a missing data file fails here, before any worker starts
            pending.append((label, seed, todo))

    def write(label, seed, arch_s, results, count=True):
        store.write(Row(study.name, study.space, study.task, label, seed, arch_s, lab, r.value, r.seconds,
                        r.status, r.message) for lab, r in results.items())
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
    derive(study, store, plan)
    return plan


def precomputed_scores(study: Study, space, plan: Plan) -> dict[str, tuple[str, dict]]:
    """``{label: (source, {arch: (score, seconds)})}`` for the study's proxies that its
    ``precomputed`` NAS-Bench-Suite-Zero json holds and that are therefore read, not computed:
    those named in ``precomputed.proxies`` ("all": every proxy of the study the file has), each
    with its default options (the file holds NB-Suite-Zero's protocol)."""
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
        out[spec.label] = (f"{rec.source} [{rec.dataset}]", rec.scores[name])
    return out


def _write_precomputed(store: Store, study: Study, pre: dict, label: str, seed: int, archs, done) -> None:
    """Store the precomputed scores of ``archs`` not yet stored (one score per architecture,
    the same for every seed: NB-Suite-Zero scored each once, at seed 9000)."""
    rows = []
    for a in archs:
        key = str(a)
        for lab, (source, table) in pre.items():
            if lab in done.get(key, set()):
                continue
            if a in table:
                v, secs = table[a]
                ok = np.isfinite(v)
                rows.append(Row(study.name, study.space, study.task, label, seed, key, lab, v, secs,
                                "ok" if ok else "nonfinite", f"precomputed: {source}"))
            else:
                rows.append(Row(study.name, study.space, study.task, label, seed, key, lab, float("nan"), 0.0,
                                "failed", f"not in the precomputed file {source}"))
    if rows:
        store.write(rows)


def derive(study: Study, store: Store, plan: Plan) -> None:
    """Compute derived proxies (reg_swap, tenas, the ensembles) per variant and seed over the
    stored population; ensembles get their bases oriented so that higher is better, and LIBRA
    the ground truth."""
    truth: dict[str, float] | None = None
    for spec, bases in plan.derived:
        info = zc_proxies.get_proxy(spec.proxy)
        opts = info.options(spec.options)
        ensemble = info.derived_from == ("*",)
        labels = [lab for _, lab in bases] if ensemble else list(bases)
        if ensemble and truth is None:
            from experiments.report import truth_of

            truth = truth_of(study, get_space(study.space, **study.space_options))
        for label, _ in study.variants():
            for seed in study.seeds:
                rows = store.rows(study=study.name, variant=label, seed=seed)
                by = {b: {r.arch: r.value for r in rows if r.proxy == b and r.status == "ok"} for b in labels}
                common = set.intersection(*(set(v) for v in by.values()))
                if info.needs_truth:
                    if not truth:
                        raise ConfigError(f"{spec.label} ({spec.proxy}) chooses proxies with the ground truth; "
                                          "the study has no ground_truth.path")
                    common &= set(truth)
                archs = sorted(common)
                if not archs:
                    continue
                if ensemble:
                    matrix = {}
                    for name, lab in bases:
                        v = np.array([by[lab][a] for a in archs])
                        base_info = zc_proxies.get_proxy(next(s.proxy for s in plan.scored if s.label == lab))
                        matrix[name] = v if base_info.higher_is_better else -v
                    values, used = info.combine(matrix, truth=np.array([truth.get(a, np.nan) for a in archs])
                                                if truth else None, seed=seed, **opts)
                else:
                    values, used = info.combine(*(np.array([by[b][a] for a in archs]) for b in bases), **opts)
                keep = used.pop("_keep", None)
                keep = np.ones(len(archs), dtype=bool) if keep is None else np.asarray(keep)
                store.write([Row(study.name, study.space, study.task, label, seed, a, spec.label, float(v), 0.0,
                                 "ok" if np.isfinite(v) else "nonfinite")
                             for a, v, k in zip(archs, values, keep) if k], replace=True)
                store.set_meta(f"derived/{spec.label}/{label}/{seed}", used)


def run_study(study: Study, out: str | Path, *, progress: bool = True, workers: int | None = 1,
              threads: int | None = None, executor: str | None = None, address: str | None = None,
              device: str | None = None) -> dict[str, Any]:
    """Score ``study`` into ``out/results.sqlite`` and write the reports next to it. A run that
    fails before anything is stored leaves no empty store behind."""
    from experiments import report

    out = Path(out)
    path = out / "results.sqlite"
    new = not path.exists()
    with Store(path) as store:
        try:
            score_study(study, store, progress=progress, workers=workers, threads=threads, executor=executor,
                        address=address, device=device)
        except BaseException:
            if new:
                store.remove_if_empty()
            raise
        return report.write_reports(study, store, out)
