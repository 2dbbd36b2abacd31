"""How closely zcbench's defaults reproduce the reference implementations, written to
``results/reference_agreement.md``:

    python -m experiments.benchmarks.reference_agreement [--shared ../shared/data]
        [--out results/reference_agreement.md] [--no-proxies] [--no-sizes] [--official-only]

Two checks, each also a test (``tests/test_reference_agreement.py`` calls the same functions):

* **Sizes** (:func:`size_agreement`): for every architecture of every task of NAS-Bench-Suite-Zero's
  own ``zc_<space>.json`` files (the pre-release files of NASLib's history, in
  ``<shared>/nbsuite_zero_prerelease/``), zcbench's ``params`` and ``flops`` (default options) of
  the space's network against the file's values. This pins the key decoding and every network
  builder. Networks are built without initialising their weights (:func:`uninitialised`; TNB101
  full networks on the meta device) and counted with the shape-only pass of
  :func:`zc_proxies.size.model_stats`. A TNB101 network is its encoder plus the task's decoder:
  the encoder of every architecture is counted on each input size, every decoder once per
  (task, encoder output) from a full build, and the first architectures of every task are also
  counted as full builds (which must equal the sum), so the 9,900 TNB101 networks cost 1,400
  encoder builds.
* **Proxies** (:func:`proxy_agreement`): every baseline's default on the 20 NB201 networks of
  ``<shared>/reference_values/`` (NASLib's ``find_measures``, TE-NAS's ``get_ntk_n`` and linear
  regions, official ZiCo, run on the same network objects and batch; that folder's README says how
  they were built), with the options that reproduce the reference where zcbench's default differs
  from it only by float32 accumulation (``accumulate: float32``); and AZ-NAS, MeCo and GradSign
  against their official code (:mod:`experiments.benchmarks.official_agreement`; ``--official-only``
  runs just that section and replaces it in ``--out``).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from experiments.benchmarks import progress_bar, reference_batch

#: (file, space, the space options its keys were made with, how its sizes are counted) of
#: NB-Suite-Zero's zc files; every dataset/task key of a file is checked. NB101's keys follow
#: NASLib's own vertex order (``canonical_order: false``: NB101's channel split depends on the
#: numbering). "network": each network is built and counted; "encoder+decoder": TransNAS's
#: networks are one encoder shared by every task and a decoder per task, so each encoder is
#: counted once and each (task, encoder shape)'s decoder once (checked against a few full builds).
ZC_FILES = (
    ("zc_nasbench201.json", "nb201", {}, "network"),
    ("zc_nasbench301.json", "nb301", {}, "network"),
    ("zc_nasbench101.json", "nb101", {"canonical_order": False}, "network"),
    ("zc_transbench101_micro.json", "tnb101_micro", {}, "encoder+decoder"),
    ("zc_transbench101_macro.json", "tnb101_macro", {}, "encoder+decoder"),
)
TNB_FULL_BUILDS = 3  # per task, full networks counted besides the encoder + decoder sums
REL_TOL = 1e-6


@dataclass
class SizeRow:
    """Agreement of one (file, dataset) with zcbench's params and flops."""

    file: str
    space: str
    dataset: str
    n: int = 0
    params_equal: int = 0
    flops_equal: int = 0
    params_max_rel: float = 0.0
    flops_max_rel: float = 0.0
    worst: list[str] = field(default_factory=list)  # up to 3 disagreeing architectures, with values
    seconds: float = 0.0

    def add(self, arch, params_m: float, flops_m: float, ref_params: float, ref_flops: float) -> None:
        self.n += 1
        rp = _rel(params_m, ref_params)
        rf = _rel(flops_m, ref_flops)
        self.params_equal += rp <= REL_TOL
        self.flops_equal += rf <= REL_TOL
        self.params_max_rel = max(self.params_max_rel, rp)
        self.flops_max_rel = max(self.flops_max_rel, rf)
        if (rp > REL_TOL or rf > REL_TOL) and len(self.worst) < 3:
            self.worst.append(f"{arch}: params {params_m:.6f} vs {ref_params}, flops {flops_m:.6f} vs {ref_flops}")


def _rel(a: float, b: float) -> float:
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(b), 1e-300)


def _input(space, task: str) -> torch.Tensor:
    """A 1-sample input of the shape the task's network takes (jigsaw: 9 tiles), via task_batch."""
    info = space.task(task)
    x = torch.zeros((1, *info.input_shape))
    y = torch.zeros(1, dtype=torch.long)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # synthetic targets
        xb, _ = space.task_batch(task, x, y, 0)
    return torch.empty((1, *xb.shape[1:]))


@contextlib.contextmanager
def uninitialised():
    """Build networks without initialising their weights (``torch.nn.init`` and the in-place
    random/fill methods do nothing inside): parameter and FLOP counts need shapes only, and
    initialisation is most of a build's cost (NB101: 45 ms of 52). Only for counting: the
    weights are whatever memory held."""
    methods = ("normal_", "uniform_", "fill_", "zero_")
    inits = [n for n in dir(nn.init) if n.endswith("_") and not n.startswith("_")]
    saved = [(torch.Tensor, n, getattr(torch.Tensor, n)) for n in methods] + \
        [(nn.init, n, getattr(nn.init, n)) for n in inits]

    def keep(t, *args, **kwargs):
        return t

    try:
        for owner, name, _ in saved:
            setattr(owner, name, keep)
        yield
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)


def _score(entry) -> float:
    return float(entry["score"] if isinstance(entry, dict) else entry)


def _records(path: Path, space) -> dict[str, list[tuple]]:
    """``{dataset: [(key, arch, params, flops)]}`` of a zc file, one entry per key (an NB101
    file has several keys of some architectures, each built in its own vertex order)."""
    import json

    from search_spaces.ground_truth import zc_datasets

    out = {}
    for ds, table in zc_datasets(json.loads(path.read_text())).items():
        out[ds] = [(k, space.from_zc_key(k), _score(r["params"]), _score(r["flops"])) for k, r in table.items()]
    return out


def size_agreement(shared: str | Path, *, progress: bool = False) -> list[SizeRow]:
    """One :class:`SizeRow` per (zc file, dataset) of :data:`ZC_FILES` found under
    ``shared/nbsuite_zero_prerelease``; a dataset key is the task's name."""
    from search_spaces.base import get_space
    from zc_proxies.size import model_stats

    folder = Path(shared) / "nbsuite_zero_prerelease"
    rows: list[SizeRow] = []
    for fname, space_name, options, counted in ZC_FILES:
        path = folder / fname
        if not path.is_file():
            continue
        space = get_space(space_name, **options)
        recs = _records(path, space)
        if counted == "encoder+decoder":
            rows += _tnb_rows(fname, space, recs, progress)
            continue
        for ds, items in recs.items():
            t0 = time.perf_counter()
            task = ds
            row = SizeRow(fname, space_name, ds)
            x = _input(space, task)
            for key, arch, ref_p, ref_f in progress_bar(items, progress, f"{space_name} {ds}"):
                with uninitialised():
                    net = space.build(arch, task)
                st = model_stats(net, x)
                row.add(key, st.params / 1e6, st.flops / 1e6, ref_p, ref_f)
            row.seconds = time.perf_counter() - t0
            rows.append(row)
    return rows


def _tnb_rows(fname: str, space, recs: dict, progress: bool) -> list[SizeRow]:
    from zc_proxies.size import ModelStats, model_stats

    def build(arch, task):
        with torch.device("meta"):  # no weights at all (the discriminator's init needs real values)
            return space.build(arch, task)

    t0 = time.perf_counter()
    inputs = {task: _input(space, task) for task in recs}
    tile = {task: tuple(x.shape[2:] if x.dim() == 5 else x.shape[1:]) for task, x in inputs.items()}  # encoder's
    sizes = sorted(set(tile.values()))
    archs = list(dict.fromkeys(a for items in recs.values() for _, a, _, _ in items))
    enc: dict[tuple, ModelStats] = {}
    enc_key: dict = {}
    for arch in progress_bar(archs, progress, f"{space.name} encoders"):
        with uninitialised():
            e = space.build(arch, "class_scene").encoder
        enc_key[arch] = (e.out_channels, e.strides)
        for s in sizes:
            enc[(arch, s)] = model_stats(e, torch.empty((1, *s)))
    dec: dict[tuple, ModelStats] = {}
    rows = []
    for task, items in recs.items():
        row = SizeRow(fname, space.name, task)
        s = tile[task]
        for i, (key, arch, ref_p, ref_f) in enumerate(items):
            e = enc[(arch, s)]
            dkey = (task, enc_key[arch])
            full = None
            if dkey not in dec or i < TNB_FULL_BUILDS:
                full = model_stats(build(arch, task), inputs[task])
                dec.setdefault(dkey, ModelStats(full.flops - e.flops, full.params - e.params))
            st = ModelStats(e.flops + dec[dkey].flops, e.params + dec[dkey].params)
            if full is not None and full != st:  # the sum must be the network's own count
                row.params_equal -= 1
                row.worst.append(f"{key}: full network {full} != encoder + decoder {st}")
            row.add(key, st.params / 1e6, st.flops / 1e6, ref_p, ref_f)
        rows.append(row)
    per = (time.perf_counter() - t0) / max(1, len(rows))
    for r in rows:
        r.seconds = per
    return rows


# ----------------------------------------------------------------------------- proxies

NASLIB_CSV = "naslib_nb201_c16n5_fmnist64.csv"
TENAS_ZICO_CSV = "tenas_zico_nb201_fmnist64.csv"
#: proxies with an ``accumulate: float32`` option (NASLib's / ZiCo's / TE-NAS's float32 sums)
FLOAT32 = ("fisher", "grad_norm", "grasp", "l2_norm", "plain", "snip", "zen", "zico", "ntk")
#: float32 options that reproduce the reference bit for bit here (no network is run)
FLOAT32_EXACT = ("l2_norm",)
#: proxies checked with a bound other than 1e-6 relative, and why
BOUNDS = {
    "ntk": (1e-4, "TE-NAS computes the NTK and its eigenvalues in float32"),
    "grasp": (2e-3, "a signed sum of W ⊙ Hg with heavy cancellation (values of ±0.01 to 15,000 from terms "
                    "much larger): the float32 rounding of the gradients, which depends on the convolution "
                    "kernels and thread count, is amplified"),
    "plain": (5e-3, "a signed sum of W ⊙ g with heavy cancellation, as grasp"),
    "zico": (2e-2, "the std across 2 chunks of each weight's gradient is |g1 - g2| / 2, so the float32 "
                   "rounding of the gradients is amplified where the two are close; official ZiCo also "
                   "takes its statistics in float32 numpy"),
}
#: the gradient proxies: their float32 options are bit for bit only where the gradients are the
#: same float32 numbers as the reference run's (same kernels, same thread count)
GRADIENT = ("fisher", "grad_norm", "grasp", "plain", "snip", "zico", "ntk")
REFERENCE = {"naslib": "NASLib find_measures", "tenas": "TE-NAS", "zico": "official ZiCo"}
NASLIB_NONFINITE = -1e8
#: networks whose ntk the test computes (64 backward passes each; the script does all 5)
NTK_NETWORKS_IN_TESTS = 2


@dataclass
class ProxyRow:
    """Agreement of one proxy (with ``options``) with the reference's values."""

    proxy: str
    options: dict
    reference: str
    n: int = 0
    exact: int = 0
    max_rel: float = 0.0
    tolerance: float = REL_TOL
    worst: str = ""
    nonfinite: int = 0  # networks where both are non-finite (NASLib stores -1e8; zcbench NaN/inf or fails)

    def add(self, k, got: float, want: float) -> None:
        self.n += 1
        if want == NASLIB_NONFINITE and not math.isfinite(got):
            self.nonfinite += 1
            self.exact += 1
            return
        r = _rel(got, want) if math.isfinite(got) else math.inf
        self.exact += got == want
        if r > self.max_rel:
            self.max_rel = r
            self.worst = f"k={k}: {got!r} vs {want!r}"

    @property
    def ok(self) -> bool:
        return self.n > 0 and (self.exact == self.n if self.tolerance == 0 else self.max_rel <= self.tolerance)


def reference_values(shared: str | Path) -> list[dict]:
    """The reference rows: ``{k, C, N, arch, proxy, reference (value), source}`` from both CSVs."""
    folder = Path(shared) / "reference_values"
    out = []
    with open(folder / NASLIB_CSV, newline="") as f:
        for r in csv.DictReader(f):
            out.append({"k": int(r["k"]), "C": 16, "N": 5, "arch": r["arch"], "proxy": r["proxy"],
                        "value": float(r["naslib"]), "source": "naslib"})
    with open(folder / TENAS_ZICO_CSV, newline="") as f:
        for r in csv.DictReader(f):
            out.append({"k": int(r["k"]), "C": int(r["C"]), "N": int(r["N"]), "arch": r["arch"], "proxy": r["proxy"],
                        "value": float(r["reference"]), "source": "zico" if r["proxy"] == "zico" else "tenas"})
    return out


def proxy_agreement(shared: str | Path, *, progress: bool = False, batch=None,
                    ntk_networks: int | None = None) -> list[ProxyRow]:
    """Every reference value of ``shared/reference_values`` against zcbench's default, and, for
    the proxies of :data:`FLOAT32`, against ``accumulate: float32``. One probe per network, all
    proxies fused on it; networks built as that folder's README says: ``k`` indexes
    ``get_space("nb201", C=C, N=N).sample(20, seed=0)``, ``seeded_build(space, arch, "cifar10",
    seed=0)``, probe seed 0, the first 64 Fashion-MNIST training images at 32 x 32.

    A NaN, infinite or failed zcbench score agrees with NASLib's -1e8 (its replacement of
    non-finite scores, ``nonfinite: naslib``). ``ntk_networks``: check ntk on only that many of
    its networks (it costs 64 backward passes each)."""
    import zc_proxies
    from search_spaces.base import get_space, seeded_build

    refs = reference_values(shared)
    if ntk_networks is not None:
        ntk_ks = sorted({r["k"] for r in refs if r["proxy"] == "ntk"})[:ntk_networks]
        refs = [r for r in refs if r["proxy"] != "ntk" or r["k"] in ntk_ks]
    x, y = batch if batch is not None else reference_batch()
    by_net: dict[tuple, list[dict]] = defaultdict(list)
    for r in refs:
        by_net[(r["C"], r["N"], r["k"])].append(r)
    rows: dict[tuple, ProxyRow] = {}
    spaces = {}
    for (C, N, k), items in progress_bar(sorted(by_net.items()), progress, "reference networks"):
        if (C, N) not in spaces:
            spaces[(C, N)] = (get_space("nb201", C=C, N=N), get_space("nb201", C=C, N=N).sample(20, seed=0))
        space, archs = spaces[(C, N)]
        arch = archs[k]
        if str(arch) != items[0]["arch"]:
            raise ValueError(f"network k={k} (C={C}, N={N}) is {arch}, the reference file says {items[0]['arch']}")
        net = seeded_build(space, arch, "cifar10", seed=0)
        specs = {}
        for r in items:
            specs[r["proxy"]] = (r["proxy"], {})
            if r["proxy"] in FLOAT32:
                specs[r["proxy"] + "@float32"] = (r["proxy"], {"accumulate": "float32"})
        got = zc_proxies.score(zc_proxies.Probe(net, x, y, loss="cross_entropy", seed=0, num_classes=10), specs)
        for r in items:
            for label in [r["proxy"]] + ([r["proxy"] + "@float32"] if r["proxy"] in FLOAT32 else []):
                f32 = label.endswith("@float32")
                key = (label, r["source"], C, N)
                if key not in rows:
                    tol = BOUNDS.get(r["proxy"], (REL_TOL, ""))[0]
                    if f32 and r["proxy"] in FLOAT32_EXACT:
                        tol = 0.0
                    rows[key] = ProxyRow(r["proxy"], {"accumulate": "float32"} if f32 else {},
                                         f"{REFERENCE[r['source']]}, NB201 C={C} N={N}", tolerance=tol)
                res = got[label]
                rows[key].add(k, res.value if res.status != "failed" else math.nan, r["value"])
    return sorted(rows.values(), key=lambda r: (r.proxy, r.reference, bool(r.options)))


def proxies_markdown(rows: list[ProxyRow]) -> list[str]:
    lines = ["## Proxies against the reference implementations", "",
             "zcbench on the 20 NB201 networks of `reference_values/` (the reference code run on the same network "
             "objects and the same 64 Fashion-MNIST images); tolerance 0 means bit for bit. Where both are "
             "non-finite (NASLib stores -1e8) they count as equal.", "",
             "| proxy | options | reference | networks | bit-identical | max rel. diff | tolerance | agrees |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        opts = ", ".join(f"`{k}: {v}`" for k, v in r.options.items()) or "defaults"
        nf = f" ({r.nonfinite} both non-finite)" if r.nonfinite else ""
        lines.append(f"| {r.proxy} | {opts} | {r.reference} | {r.n} | {r.exact}{nf} | {r.max_rel:.1e} | "
                     f"{r.tolerance:g} | {'yes' if r.ok else 'NO: ' + r.worst} |")
    lines += ["", "Bounds other than 1e-6:", ""] + [f"- {p} ({tol:g}): {why}." for p, (tol, why) in BOUNDS.items()]
    lines += ["", "The gradient proxies (" + ", ".join(GRADIENT) + ") depend on the float32 rounding of the gradients "
              "themselves, which depends on the convolution kernels and the thread count: on this machine one "
              "network's plain ranges over -0.01587 .. -0.01622 for 1, 2, 3, 4, 8 and 16 threads, and its "
              "grad_norm over 453.677 .. 453.682. The reference values come from another run of the same code, so "
              "their `accumulate: float32` options are bit for bit only with the reference run's kernels and "
              "threads (zen's Gaussian-initialised forward passes round with the kernels too: 17 of 20 bit for "
              "bit here); `l2_norm`, which runs no network, is bit for bit.", ""]
    return lines


def sizes_markdown(rows: list[SizeRow]) -> list[str]:
    lines = ["## params and flops against NAS-Bench-Suite-Zero's files", "",
             "zcbench's `params` and `flops` (default `counter: naslib`) of each space's network (default options) "
             "for every architecture of every dataset/task of NB-Suite-Zero's pre-release `zc_<space>.json` files; "
             f"equal = within {REL_TOL:g} relative.", "",
             "| file | space | dataset / task | archs | params equal | flops equal | max rel. diff params | "
             "max rel. diff flops |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.file} | {r.space} | {r.dataset} | {r.n} | {r.params_equal} | {r.flops_equal} | "
                     f"{r.params_max_rel:.1e} | {r.flops_max_rel:.1e} |")
    bad = [w for r in rows for w in r.worst]
    if bad:
        lines += ["", "Disagreements (first 3 per row):", ""] + [f"- {w}" for w in bad]
    return lines + [""]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2].parent / "shared" / "data"))
    ap.add_argument("--out", default="results/reference_agreement.md")
    ap.add_argument("--no-sizes", action="store_true")
    ap.add_argument("--no-proxies", action="store_true")
    ap.add_argument("--official-only", action="store_true",
                    help="only AZ-NAS, MeCo and GradSign against their official code (tests/data/): replace that "
                         "section of --out, keep the others (the whole script takes about 10 minutes)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from experiments.benchmarks import official_agreement

    if args.official_only:
        section = official_agreement.run()
        out = Path(args.out)
        text = out.read_text() if out.is_file() else ""
        head = official_agreement.official_markdown([])[0]
        if head in text:
            before, _, rest = text.partition(head)
            nxt = rest.find("\n## ")
            text = before + "\n".join(section) + (rest[nxt + 1:] if nxt >= 0 else "")
        else:
            text = text.rstrip("\n") + "\n\n" + "\n".join(section)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print("\n".join(section))
        return 0
    lines = ["# Agreement of zcbench's defaults with the reference implementations", "",
             "Written by `python -m experiments.benchmarks.reference_agreement`; "
             "`tests/test_reference_agreement.py` asserts the same.", ""]
    if not args.no_proxies:
        t0 = time.process_time()
        lines += proxies_markdown(proxy_agreement(args.shared, progress=True))
        lines += [f"Computed in {time.process_time() - t0:.0f} s of CPU (one thread).", ""]
        lines += official_agreement.run()
    if not args.no_sizes:
        t0 = time.process_time()
        rows = size_agreement(args.shared, progress=True)
        lines += sizes_markdown(rows)
        lines.append(f"{sum(r.n for r in rows)} networks counted in {time.process_time() - t0:.0f} s of CPU (one "
                     "thread).")
        lines.append("")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
