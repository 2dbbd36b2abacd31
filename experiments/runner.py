"""Scores a study or a suite: sample architectures, build seeded networks, probe them, store every
score under what determines it (see experiments.store). Writing the reports (which derive the
population-level proxies and join the ground truth) is experiments.report's job, and
experiments.pipeline runs the two in turn."""
from __future__ import annotations

import json
import platform
import sys
from typing import Any

import numpy as np

import search_spaces  # noqa: F401  (registers the built-in spaces)
import zc_proxies
from experiments.config import Study, Suite
from experiments.inputs import load_ground_truth, precomputed_scores, study_archs, study_batch, study_probe
from experiments.plan import Plan, check_population, key_of, plan_proxies, scoring_of
from experiments.store import Row, Store
from search_spaces.base import get_space
from search_spaces.ground_truth import join


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


class Context:
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


_CONTEXTS: dict[str, Context] = {}  # per process, by config


def _context(raw: dict) -> Context:
    from experiments.config import parse_study
    from experiments.executors import worker_device

    key = json.dumps(raw, sort_keys=True, default=str)
    if key not in _CONTEXTS:
        _CONTEXTS.clear()  # one study at a time per process
        _CONTEXTS[key] = Context(parse_study(raw), device=worker_device())
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
    ctx = Context(study, device=devices[0])
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


def score_suite(suite: Suite, store: Store, *, progress: bool = True, workers: int | None = 1,
                threads: int | None = None, executor: str | None = None, address: str | None = None,
                device: str | None = None) -> None:
    """Score every study of ``suite`` into ``store`` (what one study scored is not scored again
    for another) and record the suite's name and studies."""
    store.set_meta("suite", {"name": suite.name, "studies": [s.name for s in suite.studies]})
    for study in suite.studies:
        score_study(study, store, progress=progress, workers=workers, threads=threads, executor=executor,
                    address=address, device=device)
