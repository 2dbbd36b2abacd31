"""Conformance check for proxies, built in or plugged in (scikit-learn's check_estimator style).

A proxy must, on every registered search space and task:
* return a finite float, or raise an exception whose message says why it is undefined there;
* leave the network's weights, buffers and train/eval mode exactly as they were;
* be deterministic for a fixed seed (two fresh probes, same value).
A population-level proxy (reg_swap, tenas, the ensembles) is checked through its ``combine`` over a
small population of its bases' scores.

It builds networks of every search space, so it lives here, above both ``zc_proxies`` and
``search_spaces``; ``zc_proxies.testing`` re-exports it for existing imports.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

import search_spaces
from zc_proxies.base import get_proxy
from zc_proxies.probe import Probe, score


class ConformanceError(AssertionError):
    """A proxy broke the contract; the message lists each failing space/task and why."""


@dataclass
class CaseResult:
    space: str
    task: str
    status: str  # ok | undefined (a clear error) | FAIL
    value: float | None = None
    detail: str = ""


@dataclass
class CheckReport:
    proxy: str
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def failures(self) -> list[CaseResult]:
        return [c for c in self.cases if c.status == "FAIL"]

    def __str__(self) -> str:
        lines = [f"check_proxy({self.proxy!r}):"]
        lines += [f"  {c.space}/{c.task}: {c.status}" + (f" value={c.value:.6g}" if c.value is not None else "")
                  + (f" ({c.detail})" if c.detail else "") for c in self.cases]
        return "\n".join(lines)


def _cases(spaces, tasks_per_space: int | None, space_options: dict[str, dict] | None = None,
           caught: list | None = None):
    """(space name, task, space, inputs, targets) for a small network of every space and task.
    Warnings of the spaces' batch preparation (TNB101's synthetic targets) go to ``caught``."""

    for name in spaces or search_spaces.list_spaces():
        opts = {**search_spaces.SPACES.get(name).small_options, **(space_options or {}).get(name, {})}
        space = search_spaces.get_space(name, **opts)
        for task in list(space.tasks)[:tasks_per_space]:
            info = space.task(task)
            c, h, w = info.input_shape
            if space.small_input_size:
                h = w = space.small_input_size
            g = torch.Generator().manual_seed(0)
            x = torch.randn(8, c, h, w, generator=g)
            y = torch.randint(0, info.num_classes, (8,), generator=g)
            with warnings.catch_warnings(record=True) as got:
                warnings.simplefilter("always")
                x, y = space.task_batch(task, x, y, 0)  # the task's own input and targets
            if caught is not None:
                caught.extend(got)
            yield name, task, space, info, x, y


def _state(net: torch.nn.Module):
    return ({k: v.detach().clone() for k, v in net.state_dict().items()},
            [m.training for m in net.modules()])


def _same_state(a, b) -> str:
    (sa, ma), (sb, mb) = a, b
    changed = [k for k in sa if not torch.equal(sa[k], sb[k])]
    if changed:
        return f"changed the network's state: {changed[:3]}"
    if ma != mb:
        return "changed the train/eval mode of the network"
    return ""


def _equal(a: float, b: float) -> bool:
    return a == b or (math.isfinite(a) and math.isfinite(b) and abs(a - b) <= 1e-9 * max(abs(a), abs(b)))


def check_proxy(name: str, *, options: dict[str, Any] | None = None, spaces: list[str] | None = None,
                tasks_per_space: int | None = None, seed: int = 0, raise_on_failure: bool = True,
                space_options: dict[str, dict] | None = None) -> CheckReport:
    """Run the conformance check of proxy ``name`` on a small network of every registered space
    (or ``spaces``; ``space_options`` {space: {option: value}} override the small defaults) and
    every task (or the first ``tasks_per_space``). Raises :class:`ConformanceError` on failure."""
    info = get_proxy(name)
    opts = dict(options or {})
    info.options(opts)
    report = CheckReport(name)
    caught: list = []
    try:
        _check_cases(info, name, opts, seed, report, _cases(spaces, tasks_per_space, space_options, caught))
    finally:  # each distinct warning of the batch preparation once, not once per space and task
        for text, category in dict.fromkeys((str(w.message), w.category) for w in caught):
            warnings.warn(text, category, stacklevel=2)
    if raise_on_failure and report.failures:
        raise ConformanceError(str(report))
    return report


def _check_cases(info, name, opts, seed, report: CheckReport, cases) -> None:
    for sname, task, space, tinfo, x, y in cases:
        if info.kind == "population":
            report.cases.append(_check_derived(info, opts, sname, task, space, tinfo, x, y, seed))
            continue
        torch.manual_seed(seed)
        net = space.build(space.sample(1, seed)[0], task)
        before = _state(net)
        values = []
        for _ in range(2):
            res = score(Probe(net, x, y, loss=tinfo.loss, seed=seed, num_classes=tinfo.num_classes), {name: (name, opts)})[name]
            values.append(res)
        problem = _same_state(before, _state(net))
        a, b = values
        if a.status == "failed":
            clear = "(no message)" not in a.message
            report.cases.append(CaseResult(sname, task, "undefined" if clear and not problem else "FAIL",
                                           None, a.message if clear else "raised without a message"))
            continue
        if not problem and a.status != "ok":
            problem = f"returned {a.value} (must be finite, or raise saying why)"
        if not problem and not _equal(a.value, b.value):
            problem = f"not deterministic for a fixed seed: {a.value!r} then {b.value!r}"
        report.cases.append(CaseResult(sname, task, "FAIL" if problem else "ok", a.value, problem))


#: the study labels a population-level proxy's ``proxies: all`` stands for in the check
CHECK_LABELS = ("swap", "synflow", "nwot", "params")


def _check_derived(info, opts, sname, task, space, tinfo, x, y, seed) -> CaseResult:
    """A population-level proxy: score its bases on a few architectures, combine twice."""
    import numpy as np

    from zc_proxies.population import Population

    archs = space.sample(8 if info.needs_truth else 4, seed)
    if info.sized is not None:  # options that must fit this small population (LIBRA's calibration split)
        opts, _ = info.sized(opts, len(archs), info.name)
    full = info.options(opts)
    scores = {}
    for b in info.bases(full, CHECK_LABELS):
        proxy, role_opts = (b.label, {}) if b.label is not None else (b.proxy, dict(b.options))
        base_info = get_proxy(proxy)
        vals = []
        for a in archs:
            torch.manual_seed(seed)
            probe = Probe(space.build(a, task), x, y, loss=tinfo.loss, seed=seed, num_classes=tinfo.num_classes)
            r = score(probe, {b.role: (proxy, role_opts)})[b.role]
            if r.status != "ok":
                return CaseResult(sname, task, "undefined", None, f"base {b.role}: {r.message or r.status}")
            vals.append(-r.value if info.orient and not base_info.higher_is_better else r.value)
        scores[b.role] = np.array(vals)
    truth = np.random.default_rng(seed).permutation(len(archs)).astype(float) if info.needs_truth else None
    population = Population([str(a) for a in archs], scores, truth, seed, "the scoring network")
    outs = [info.combine(population, **full) for _ in range(2)]
    out1, out2 = (o.values if o.keep is None else o.values[o.keep] for o in outs)
    if not np.all(np.isfinite(out1)):
        return CaseResult(sname, task, "FAIL", None, f"combine gave non-finite values {out1}")
    if not np.array_equal(out1, out2):
        return CaseResult(sname, task, "FAIL", None, "combine is not deterministic")
    return CaseResult(sname, task, "ok", float(out1[0]), f"over {len(archs)} architectures")
