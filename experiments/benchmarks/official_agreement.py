"""zcbench's AZ-NAS, MeCo and GradSign against their official code, on the 20 reference NB201
networks (``tests/data/official_nb201_c16n5.csv``; ``tests/data/official_nb201_c16n5.md`` says
how the official values were computed). A section of ``results/reference_agreement.md``:

    python -m experiments.benchmarks.reference_agreement --official-only

``tests/test_official_agreement.py`` asserts the same with the same tolerances, on fewer
networks for the slow proxies.

Networks: ``k`` indexes ``get_space("nb201", C=16, N=5).sample(20, seed=0)``, each built with
``seeded_build(space, arch, "cifar10", seed=0)`` (train mode), probe seed 0; batch: the first 64
Fashion-MNIST training images at 32 x 32 with their labels. The default AZ-NAS components and
meco / meco_opt's noise do not read the batch (only its shape), so they are checked without
the Fashion-MNIST files.
"""
from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

OFFICIAL_CSV = Path(__file__).resolve().parents[2] / "tests" / "data" / "official_nb201_c16n5.csv"

#: proxy -> (kind, bound, why): "rel" bounds |got - want| / |want|, "abs" bounds |got - want|
TOLERANCES = {
    "az_expressivity": ("rel", 1e-5, "a sum of ~17 entropies (each 2-4 nats) of float32 covariance spectra: "
                                     "float32 convolutions and eigvalsh round at ~1e-6 relative on another "
                                     "machine's kernels"),
    "az_progressivity": ("abs", 1e-4, "a difference of two of those entropies (each within ~5e-5 of 5 nats), "
                                      "so the bound is absolute: values of -0.02 would make a relative one "
                                      "meaningless"),
    "az_trainability": ("rel", 1e-3, "2 - (σ + 1/σ) with σ ≈ 1: a float32 singular value good to ~1e-5 "
                                     "loses up to 30x to the cancellation (scores around -0.07)"),
    "az_complexity": ("rel", 1e-12, "integer multiply-add counts divided by 1e6, in float64"),
    "meco": ("rel", 1e-4, "a float32 sum of ~130 minimum eigenvalues from a general float32 eigensolver "
                          "(each good to ~1e-6 absolute) of values 5-100"),
    "meco_opt": ("rel", 1e-4, "as meco, each term scaled by up to 64 / 8"),
    "gradsign": ("rel", 1e-4, "a sum of integers: only a per-sample gradient entry within rounding of 0 can "
                              "change sign on other kernels, each by at most 2 in sums of 10^6"),
}


@dataclass
class Check:
    """One (proxy, options) compared with one column of the official values."""

    proxy: str
    options: dict
    code: str
    needs_batch: bool  # reads the Fashion-MNIST images (else only the batch's shape)
    n: int = 0
    exact: int = 0
    both_nonfinite: int = 0
    worst_diff: float = 0.0
    worst: str = ""

    @property
    def kind(self) -> str:
        return TOLERANCES[self.proxy][0]

    @property
    def bound(self) -> float:
        return TOLERANCES[self.proxy][1]

    def diff(self, got: float, want: float) -> float:
        if got == want:
            return 0.0
        if not (math.isfinite(got) and math.isfinite(want)):
            return math.inf
        return abs(got - want) / (abs(want) if self.kind == "rel" else 1.0)

    def add(self, k: int, got: float, want: float) -> None:
        self.n += 1
        self.exact += got == want
        self.both_nonfinite += (got == want and not math.isfinite(want))
        d = self.diff(got, want)
        if d > self.worst_diff or not self.worst:
            self.worst_diff = max(d, self.worst_diff)
            self.worst = f"k={k}: {got!r} vs {want!r}"

    @property
    def ok(self) -> bool:
        return self.n > 0 and self.worst_diff <= self.bound


def official_values(path: str | Path = OFFICIAL_CSV) -> list[dict]:
    """Rows ``{k, arch, proxy, options (dict), official (float), code}`` of the stored values."""
    out = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            out.append({"k": int(r["k"]), "arch": r["arch"], "proxy": r["proxy"], "options": json.loads(r["options"]),
                        "official": float(r["official"]), "code": r["code"], "batch": r["batch"] == "yes"})
    return out


def official_agreement(*, networks: dict[str, int] | None = None, batch=None, with_batch: bool = True,
                       batch_only: bool = False, progress: bool = False,
                       path: str | Path = OFFICIAL_CSV) -> list[Check]:
    """zcbench against every stored official value (one probe per network, every check fused on
    it). ``networks``: {proxy: how many of the 20 networks} to check fewer (tests); ``with_batch``:
    False skips the checks that read the Fashion-MNIST images (and ``batch`` is then only a shape);
    ``batch_only``: only those checks."""
    import torch

    import zc_proxies
    from experiments.benchmarks import progress_bar, reference_batch
    from search_spaces.base import get_space, seeded_build

    rows = [r for r in official_values(path) if (with_batch or not r["batch"]) and (r["batch"] or not batch_only)]
    if networks:
        rows = [r for r in rows if r["k"] < networks.get(r["proxy"], 20)]
    if batch is None:
        batch = reference_batch() if with_batch else (torch.zeros(64, 3, 32, 32), torch.zeros(64, dtype=torch.long))
    x, y = batch
    space = get_space("nb201", C=16, N=5)
    archs = space.sample(20, seed=0)
    checks: dict[tuple, Check] = {}
    by_k: dict[int, list[dict]] = {}
    for r in rows:
        by_k.setdefault(r["k"], []).append(r)
    for k in progress_bar(sorted(by_k), progress, "official reference networks"):
        items = by_k[k]
        if str(archs[k]) != items[0]["arch"]:
            raise ValueError(f"network k={k} is {archs[k]}, the official values file says {items[0]['arch']}")
        specs = {f"{r['proxy']}{json.dumps(r['options'], sort_keys=True)}": (r["proxy"], r["options"]) for r in items}
        net = seeded_build(space, archs[k], "cifar10", seed=0)
        got = zc_proxies.score(zc_proxies.Probe(net, x, y, loss="cross_entropy", seed=0, num_classes=10), specs)
        for r in items:
            label = f"{r['proxy']}{json.dumps(r['options'], sort_keys=True)}"
            key = (r["proxy"], label)
            if key not in checks:
                checks[key] = Check(r["proxy"], r["options"], r["code"], r["batch"])
            res = got[label]
            checks[key].add(k, res.value if res.status != "failed" else math.nan, r["official"])
    return sorted(checks.values(), key=lambda c: (c.proxy, bool(c.options), json.dumps(c.options)))


def official_markdown(checks: list[Check], seconds: float | None = None) -> list[str]:
    lines = ["## AZ-NAS, MeCo and GradSign against their official code", "",
             "zcbench on the 20 NB201 networks (C=16, N=5) that `tests/data/official_nb201_c16n5.md` describes, against "
             "the official code (cvlab-yonsei/AZ-NAS 5e6683a, HamsterMimi/MeCo 0d830dd) run on the same network "
             "objects, seeds and batch; values and procedure in `tests/data/`. -inf on both sides counts as equal.", "",
             "| proxy | options | official code | networks | bit-identical | worst diff | bound | agrees |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for c in checks:
        opts = ", ".join(f"`{k}: {v}`" for k, v in c.options.items()) or "defaults"
        nf = f" ({c.both_nonfinite} both -inf)" if c.both_nonfinite else ""
        lines.append(f"| {c.proxy} | {opts} | {c.code} | {c.n} | {c.exact}{nf} | {c.worst_diff:.1e} | "
                     f"{c.bound:g} {c.kind} | {'yes' if c.ok else 'NO: ' + c.worst} |")
    lines += ["", "Bounds, for values computed on another machine (on the machine that computed the official values "
              "every value here is bit for bit, except gradsign `reduce: mean`, whose float64 mean differs from "
              "numpy's float32 `nanmean` by ~5e-8; `accumulate: float32` is bit for bit):", ""]
    lines += [f"- {p} ({kind} {b:g}): {why}." for p, (kind, b, why) in TOLERANCES.items()]
    if seconds is not None:
        lines += ["", f"Computed in {seconds:.0f} s of CPU (one thread)."]
    return lines + [""]


def run(progress: bool = True) -> list[str]:
    t0 = time.process_time()
    checks = official_agreement(progress=progress)
    return official_markdown(checks, time.process_time() - t0)
