"""What a run will compute before it computes it, and roughly how long that takes.

``zcbench compare`` prints this before scoring, so that a user who sees hours ahead can stop at
once (Ctrl-C) and narrow ``--baselines``. The plan comes from the same functions the runner
uses (the study's architectures, the stored scores, the precomputed ones); the time from scoring
up to three pending networks in this process (fewer when they take over ten seconds), one torch
thread, on the study's device, with every proxy still to compute: each proxy's median seconds
times the networks that still lack it. It is a rough figure (networks of one space differ in
size, the first network pays one-off costs), and the timed networks are scored again by the run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from experiments.config import Study
from experiments.store import Store

TIMED = 3  # networks timed at most
BUDGET_S = 10.0  # no further network is timed once this many seconds are spent


@dataclass
class StudyWork:
    study: str
    read: list[str]  # labels read from a precomputed file
    computed: list[str]  # labels scored per network
    derived: list[str]  # labels the reports compute from the others
    todo: dict[str, int] = field(default_factory=dict)  # label -> networks (over variants, seeds) still to score
    networks: int = 0  # networks with at least one proxy to score
    pending: list[tuple] = field(default_factory=list)  # (variant label, seed, arch string), the first few
    seconds: dict[str, float] = field(default_factory=dict)  # label -> median seconds on the timed networks
    timed: int = 0  # networks timed

    def estimate(self) -> float | None:
        if not self.networks:
            return 0.0
        if not self.seconds:
            return None
        return sum(self.seconds.get(lab, 0.0) * n for lab, n in self.todo.items())


def plan_study(study: Study, store_path: str | Path | None = None) -> StudyWork:
    """What scoring ``study`` into the store at ``store_path`` (absent: empty) still computes."""
    from experiments.inputs import load_ground_truth, precomputed_scores, study_archs
    from experiments.plan import key_of, plan_proxies, scoring_of
    from experiments.store import scoring_id
    from search_spaces.base import get_space

    plan = plan_proxies(study.proxies)
    space = get_space(study.space, **study.space_options)
    gt = load_ground_truth(study, space)
    pre = precomputed_scores(study, space, plan)
    computed = [s.label for s in plan.scored if s.label not in pre]
    keys = {s.label: key_of(s) for s in plan.scored if s.label in computed}
    work = StudyWork(study.name, sorted(pre), computed, [s.label for s, _ in plan.derived],
                     todo={lab: 0 for lab in computed})
    path = Path(store_path) if store_path else None
    store = Store(path, write=False) if path is not None and path.is_file() else None
    try:
        for label, var in study.variants():
            sid = scoring_id(scoring_of(var))
            for seed in study.seeds:
                done = store.done(sid, seed) if store is not None else {}
                for a in study_archs(var, space, gt, seed):
                    have = done.get(str(a), set())
                    missing = [lab for lab, k in keys.items() if k not in have]
                    for lab in missing:
                        work.todo[lab] += 1
                    if missing:
                        work.networks += 1
                        if len(work.pending) < TIMED:
                            work.pending.append((label, seed, str(a)))
    finally:
        if store is not None:
            store.close()
    work.todo = {lab: n for lab, n in work.todo.items() if n}
    return work


def time_one(study: Study, work: StudyWork, threads: int | None = None, budget: float = BUDGET_S) -> None:
    """Score the first of ``work.pending`` with every proxy still to compute, in this process
    (``threads`` torch threads, default as a scoring process), then the next ones while the
    total stays under ``budget`` seconds; keep each proxy's median seconds in ``work.seconds``."""
    import time

    from experiments.executors import default_threads, set_threads
    from experiments.runner import Context

    if not work.pending or not work.todo:
        return
    before = set_threads(threads or default_threads())
    per: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    try:
        ctx = Context(study)
        for label, seed, arch_s in work.pending:
            results = ctx.score(label, seed, ctx.space.parse(arch_s), list(work.todo))
            for lab, r in results.items():
                per.setdefault(lab, []).append(float(r.seconds))
            work.timed += 1
            if time.perf_counter() - t0 > budget:
                break
    finally:
        set_threads(before)
    work.seconds = {lab: float(np.median(v)) for lab, v in per.items()}


def duration(seconds: float) -> str:
    if seconds < 1:
        return "under 1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def describe(work: StudyWork, workers: int = 1) -> list[str]:
    """Lines saying what ``work`` reads, computes and derives, and the estimate."""
    lines = [f"{work.study}:"]
    if work.read:
        lines.append(f"  read from the precomputed file: {', '.join(work.read)}")
    if work.todo:
        lines.append(f"  to compute on {work.networks} networks (over seeds): "
                     + ", ".join(f"{lab} ({n})" if n != work.networks else lab for lab, n in work.todo.items()))
    elif work.computed:
        lines.append(f"  already stored: {', '.join(work.computed)} (nothing to compute)")
    if work.derived:
        lines.append(f"  derived by the reports: {', '.join(work.derived)}")
    total = work.estimate()
    if work.todo and total is not None:
        per = sorted(work.seconds.items(), key=lambda kv: -kv[1])
        slow = ", ".join(f"{lab} {s:.2g} s" for lab, s in per[:5] if s > 0)
        par = max(1, workers)
        lines.append(f"  estimate: {'about ' if total >= par else ''}{duration(total / par)}"
                     + (f" with {par} workers" if par > 1 else " in one process")
                     + f" ({work.timed} network{'s' * (work.timed > 1)} timed here: "
                       f"{sum(work.seconds.values()):.2g} s each (median)"
                     + (f"; slowest {slow}" if slow else "") + ")")
    return lines
