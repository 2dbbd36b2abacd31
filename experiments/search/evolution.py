"""SWAP-NAS's evolution (the SWAP paper, Peng et al., ICLR 2024, Algorithm 1) and the random-search
baseline, over any space with ``mutate`` and ``crossover`` and any ``score_fn(arch) -> float``.

Algorithm, per seed:

1. a seeded random population of P distinct architectures, each scored by the proxy;
2. each cycle: sample S members; the parent is the best of them or, with probability
   ``crossover_prob``, the better of the two children of a crossover between the best and the
   second best (the crossover swaps the incoming edges of one node); ``children`` children
   are made from the parent with 1..M edge-level mutations each (``op``: one edge's op;
   ``connectivity``: one edge's input node for DARTS, one edge switched between ``none`` and
   an op for NB201, whose DAG is fixed); the best child (the crossover's two children, which
   were scored to pick the parent, count as children of the cycle) joins the population and
   the WORST member (lowest score; the oldest among ties) leaves it;
3. stop at the budget (proxy evaluations or wall-clock seconds) and return the best member,
   which is the best architecture scored.

An architecture is never scored twice (scores are cached by the architecture string), and
only a score actually computed counts as an evaluation. The best-so-far score is recorded
after the initial population and after every cycle.

Seeds: the start population is ``space.sample(P, derive_seed(seed, "population"))``, the
evolution's random choices come from ``random.Random(derive_seed(seed, "evolution"))``, and
the random search samples with ``derive_seed(seed, "random")``, so a search is deterministic
for a seed under an evaluation budget (with a deterministic ``score_fn``).
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

from search_spaces.base import MUTATION_KINDS, derive_seed
from zc_proxies.errors import UsageError

DEFAULT_EVALUATIONS = 1000  # the budget when neither evaluations nor seconds is given
MAX_REDRAWS = 20  # tries to make a child that was never scored before
STALL_CYCLES = 200  # cycles in a row without a new evaluation end a search ("stalled")


@dataclass
class SearchResult:
    best: Hashable
    score: float  # the proxy's value for ``best``
    trajectory: list[tuple[int, float]]  # (evaluations so far, best-so-far score)
    evaluations: int
    cycles: int
    wall_seconds: float
    stop: str  # evaluations | seconds | stalled
    scores: dict[str, float]  # every architecture scored (string -> proxy value)
    events: list[dict[str, Any]] = field(default_factory=list)  # per cycle (evolution only)
    kinds_used: dict[str, int] = field(default_factory=dict)


class _Budget:
    def __init__(self, evaluations: int | None, seconds: float | None):
        if (evaluations is None) == (seconds is None):
            raise UsageError("give exactly one budget: evaluations or seconds")
        self.evaluations, self.seconds = evaluations, seconds
        self.t0 = time.perf_counter()

    def exhausted(self, n: int) -> bool:
        if self.evaluations is not None:
            return n >= self.evaluations
        return time.perf_counter() - self.t0 >= self.seconds

    @property
    def reason(self) -> str:
        return "evaluations" if self.evaluations is not None else "seconds"


class _Evaluator:
    """Score cache by architecture string; only new architectures call ``score_fn``, and then
    ``on_eval(best)`` with the best score computed so far (None while none is finite)."""

    def __init__(self, score_fn: Callable[[Hashable], float], higher_is_better: bool,
                 on_eval: Callable[[float | None], None] | None):
        self.score_fn, self.sign, self.on_eval = score_fn, 1.0 if higher_is_better else -1.0, on_eval
        self.scores: dict[str, float] = {}
        self.best: float | None = None

    @property
    def n(self) -> int:
        return len(self.scores)

    def known(self, arch) -> bool:
        return str(arch) in self.scores

    def __call__(self, arch) -> float:
        s = str(arch)
        if s not in self.scores:
            v = self.scores[s] = float(self.score_fn(arch))
            if math.isfinite(v) and (self.best is None or self.sign * v > self.sign * self.best):
                self.best = v
            if self.on_eval is not None:
                self.on_eval(self.best)
        return self.scores[s]

    def key(self, arch) -> float:
        """Fitness (higher is better); non-finite and failed scores rank last."""
        v = self.scores[str(arch)]
        return self.sign * v if math.isfinite(v) else -math.inf


def _check_population(ev: _Evaluator, archs: list, failures: list[str] | None) -> None:
    if all(ev.key(a) == -math.inf for a in archs):
        why = f": {failures[0]}" if failures else " (every value is NaN or infinite)"
        raise UsageError(f"the proxy gave no finite score on any of the {len(archs)} start architectures{why}")


def evolve(space, score_fn: Callable[[Hashable], float], *, seed: int, population: int = 50, sample_size: int = 10,
           mutations: int = 3, kinds: list[str] | tuple[str, ...] = MUTATION_KINDS, children: int = 3,
           crossover_prob: float = 0.5, evaluations: int | None = None, seconds: float | None = None,
           higher_is_better: bool = True, on_eval: Callable[[float | None], None] | None = None,
           failures: list[str] | None = None) -> SearchResult:
    """SWAP-NAS (see the module docstring) over ``space`` with ``score_fn(arch) -> float``."""
    if evaluations is None and seconds is None:
        evaluations = DEFAULT_EVALUATIONS
    if evaluations is not None and evaluations < population:
        raise UsageError(f"the budget ({evaluations} evaluations) must cover the population ({population})")
    budget = _Budget(evaluations, seconds)
    ev = _Evaluator(score_fn, higher_is_better, on_eval)
    rng = random.Random(derive_seed(seed, "evolution"))
    pop = list(space.sample(population, derive_seed(seed, "population")))
    for a in pop:
        ev(a)
    _check_population(ev, pop, failures)

    def best_of(archs):
        return max(archs, key=lambda a: ev.key(a))  # the first among ties

    trajectory = [(ev.n, ev.scores[str(best_of(pop))])]
    events: list[dict[str, Any]] = []
    kinds_used = {k: 0 for k in kinds}
    cycles, idle, stop = 0, 0, budget.reason

    def make_child(parent, members: set[str]):
        fallback = None
        for _ in range(MAX_REDRAWS):
            child = parent
            for _ in range(rng.randint(1, mutations)):
                kind = rng.choice(list(kinds))
                kinds_used[kind] += 1
                child = space.mutate(child, rng, kind)
            s = str(child)
            if s in members:
                continue
            if not ev.known(child):
                return child
            fallback = child
        return fallback

    while True:
        if budget.exhausted(ev.n):
            break
        n_before = ev.n
        idx = sorted(rng.sample(range(len(pop)), sample_size), key=lambda i: (-ev.key(pop[i]), i))
        parent, how = pop[idx[0]], "best"
        members = {str(a) for a in pop}
        made = []
        if len(idx) > 1 and crossover_prob > 0 and rng.random() < crossover_prob:
            kids = []
            for k in space.crossover(pop[idx[0]], pop[idx[1]], rng):
                if ev.known(k) or not budget.exhausted(ev.n):
                    ev(k)
                    kids.append(k)
            if kids:
                parent, how = best_of(kids), "crossover"
                # the scored crossover children compete with the mutated ones for the place in the
                # population (they cost evaluations; a better one must not be thrown away)
                made = [k for k in kids if str(k) not in members]
        for _ in range(children):
            if budget.exhausted(ev.n):
                break
            child = make_child(parent, members)
            if child is not None:
                ev(child)
                made.append(child)
        if made:
            child = best_of(made)
            pop.append(child)
            worst = min(range(len(pop)), key=lambda i: (ev.key(pop[i]), i))  # the oldest among ties
            removed = pop.pop(worst)
            events.append({"cycle": cycles, "parent": how, "children": len(made), "added": str(child),
                           "added_score": ev.scores[str(child)], "removed": str(removed),
                           "removed_score": ev.scores[str(removed)], "evaluations": ev.n})
        cycles += 1
        trajectory.append((ev.n, ev.scores[str(best_of(pop))]))
        idle = idle + 1 if ev.n == n_before else 0
        if idle >= STALL_CYCLES:
            stop = "stalled"
            break
    best = best_of(pop)
    return SearchResult(best, ev.scores[str(best)], trajectory, ev.n, cycles, time.perf_counter() - budget.t0, stop,
                        ev.scores, events, kinds_used)


def random_search(space, score_fn: Callable[[Hashable], float], n: int, *, seed: int, higher_is_better: bool = True,
                  on_eval: Callable[[float | None], None] | None = None, failures: list[str] | None = None) -> SearchResult:
    """Score ``n`` distinct architectures sampled from ``space``; keep the best by the proxy."""
    t0 = time.perf_counter()
    ev = _Evaluator(score_fn, higher_is_better, on_eval)
    archs = space.sample(n, derive_seed(seed, "random"))
    best, trajectory = None, []
    for a in archs:
        ev(a)
        if best is None or ev.key(a) > ev.key(best):
            best = a
            trajectory.append((ev.n, ev.scores[str(best)]))
    _check_population(ev, archs, failures)
    if trajectory[-1][0] != ev.n:
        trajectory.append((ev.n, ev.scores[str(best)]))
    return SearchResult(best, ev.scores[str(best)], trajectory, ev.n, 0, time.perf_counter() - t0, "evaluations",
                        ev.scores)

