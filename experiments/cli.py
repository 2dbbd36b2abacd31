"""The ``zcbench`` command."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLES = """examples:
  zcbench run                  # the default suite, on the embedded ground truth (no downloads)
  zcbench report zcbench-out --set nb201_cifar10:ground_truth.metric=cifar100_test_accuracy
  zcbench list proxies
  zcbench list spaces
  zcbench run experiments/configs/swap_darts1000.yaml --out runs/darts \\
      --set ground_truth.path=DARTS_archs_CIFAR10.csv
  zcbench search experiments/configs/search_nb201_fmnist.yaml --out runs/search
  zcbench compare my_study.yaml --proxy my_proxy --baselines swap nwot 'grad*'
  zcbench reg-grid runs/darts --mu 0.5 1 1.5 2 2.5 --sigma 0.5 1 1.5 2 2.5 --theta-unit K
  zcbench download swap-darts1000   # into $ZCBENCH_CACHE (default ~/.cache/zcbench)
"""


DEFAULT_STUDY = Path(__file__).resolve().parent / "configs" / "default.yaml"


def _count(text: str, what: str, auto: bool) -> int:
    """A positive count of ``what`` from the command line (or 'auto', one per CPU core)."""
    import os

    if auto and text == "auto":
        return max(1, os.cpu_count() or 1)
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of {what}" + (" or 'auto'" if auto else "")
                                         + f", got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"needs at least 1 of {what}, got {n}")
    return n


def _workers(text: str) -> int:
    """--workers N, or 'auto' for one process per CPU core."""
    return _count(text, "processes", auto=True)


def _threads(text: str) -> int:
    """--threads N: torch threads per scoring process."""
    return _count(text, "threads", auto=False)


EXECUTOR_HELP = ("where to score: local (this machine, --workers processes; the default) or ray (a Ray cluster: "
                 "--address, or a local one of --workers CPUs, default every core; needs `pip install "
                 "'zcbench[ray]'`); also the config's executor.kind")
ADDRESS_HELP = ("the Ray cluster to score on, as `ray start --head` printed it (HOST:PORT), or 'auto' for the one "
                "started on this machine; implies --executor ray; also the config's executor.address")


def _add_executor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", choices=["local", "ray"], default=None, help=EXECUTOR_HELP)
    p.add_argument("--address", default=None, metavar="HOST:PORT", help=ADDRESS_HELP)


THREADS_HELP = ("torch threads per scoring process (default 1, or $ZCBENCH_THREADS: on a shared machine more "
                "threads per process are often much slower; scale with --workers instead)")


from experiments.devices import add_device_args, apply_device_args  # noqa: E402
def _limit(text: str) -> int:
    """--limit N: a positive number of architectures."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of architectures, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (leave --limit out to train every architecture), "
                                         f"got {n}")
    return n


def _add_import(p: argparse.ArgumentParser) -> None:
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import a module (a name on PYTHONPATH, or a .py file path) that registers your "
                        "proxies first; repeatable; added to a study's plugins")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zcbench", description="Zero-cost proxy studies for NAS.",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="score a study or a suite of studies and write correlations.csv, summary.md, "
                       "heatmap.png")
    r.add_argument("study", nargs="?", default=None, help="study or suite YAML file (see experiments/configs/); "
                   "without one, the default suite: every proxy on NB201 cells against the embedded "
                   "Fashion-MNIST benchmark and NATS-Bench's CIFAR-10, CIFAR-100 and ImageNet16-120 accuracies")
    r.add_argument("--out", default="zcbench-out", help="output folder (default: ./zcbench-out); "
                   "re-running with the same folder resumes")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set archs.n=50 --set data.path=/data/fmnist; in a suite "
                   "it applies to every study, NAME:KEY=VALUE to study NAME only")
    r.add_argument("--study", dest="only", nargs="+", default=None, metavar="NAME",
                   help="run only these studies of a suite")
    r.add_argument("--parquet", action="store_true", help="also write scores.parquet and correlations.parquet "
                   "(needs pyarrow: pip install 'zcbench[parquet]')")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--workers", type=_workers, default=None, help="scoring processes (default 1; 'auto': one per "
                   "core, fastest for small networks; results are identical for any number); with --executor ray, "
                   "the local cluster's size (default every core) or at most this many tasks at once on --address")
    r.add_argument("--threads", type=_threads, default=None, help=THREADS_HELP)
    _add_executor_args(r)
    add_device_args(r)
    _add_import(r)

    c = sub.add_parser("compare", help="run a study for one proxy and every baseline; print where it ranks")
    c.add_argument("study", help="study or suite YAML file; its space, task, data, ground truth, archs and seeds "
                   "are used")
    c.add_argument("--proxy", required=True, help="the proxy to compare (its options from the study if listed there)")
    c.add_argument("--baselines", nargs="+", default=None, metavar="PATTERN",
                   help="wildcard patterns of the baselines (default: the proxies a study's precomputed file "
                   "holds, else every registered proxy)")
    c.add_argument("--out", default="zcbench-out")
    c.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument("--study", dest="only", nargs="+", default=None, metavar="NAME",
                   help="only these studies of a suite")
    c.add_argument("--workers", type=_workers, default=None, help="as for run")
    c.add_argument("--threads", type=_threads, default=None, help=THREADS_HELP)
    _add_executor_args(c)
    add_device_args(c)
    c.add_argument("--no-progress", action="store_true")
    _add_import(c)

    rp = sub.add_parser("report", help="rebuild every report of a --out folder from its results.sqlite alone, "
                        "optionally against other ground truth (nothing is scored)")
    rp.add_argument("out", help="the --out folder of a run")
    rp.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a key of the stored configs, e.g. --set ground_truth.metric=val_accuracy "
                    "(NAME:KEY=VALUE for one study of a suite)")
    rp.add_argument("--study", dest="only", nargs="+", default=None, metavar="NAME", help="report only these studies")
    rp.add_argument("--to", default=None, metavar="DIR", help="write the reports here (default: the folder itself)")
    rp.add_argument("--parquet", action="store_true", help="also write scores.parquet and correlations.parquet")

    ls = sub.add_parser("list", help="list registered proxies or spaces")
    ls.add_argument("what", choices=["proxies", "spaces"])
    ls.add_argument("pattern", nargs="?", default="*", help="wildcard pattern, e.g. '*swap*'")
    _add_import(ls)

    b = sub.add_parser("build-benchmark", help="train sampled architectures with a fixed recipe and write "
                       "their ground truth (resumable)")
    b.add_argument("spec", help="benchmark spec YAML (e.g. search_spaces/embedded/nb201_fmnist.yaml)")
    b.add_argument("--out", required=True, help="the CSV to write; an existing one built with the same recipe "
                   "is resumed, one with another recipe is refused")
    b.add_argument("--workers", type=_workers, default=1, help="training processes (default 1; 'auto': one per core)")
    b.add_argument("--limit", type=_limit, default=None, help="stop after training this many new architectures "
                   "(a positive number; default: train every architecture of the spec)")
    b.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec key, e.g. --set archs.n=20 --set data.path=/data/fmnist")
    b.add_argument("--no-progress", action="store_true")

    cl = sub.add_parser("calibrate-layers", help="L-SWAG's layer interval, chosen on calibration architectures "
                        "that the study never evaluates")
    cl.add_argument("study", help="study YAML file with ground truth; archs.n must leave architectures unevaluated")
    cl.add_argument("--out", default="zcbench-calibration", help="output folder (default ./zcbench-calibration)")
    cl.add_argument("--n", type=int, default=None, help="calibration architectures (default min(200, pool))")
    cl.add_argument("--seed", type=int, default=0, help="seeds the draw of the calibration architectures")
    cl.add_argument("--threads", type=_threads, default=None, help=THREADS_HELP)
    add_device_args(cl)
    cl.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    cl.add_argument("--no-progress", action="store_true")
    _add_import(cl)

    from experiments.search import add_parser as add_search_parser

    add_search_parser(sub)
    _add_import(sub.choices["search"])

    from experiments.download import BUNDLES, DOWNLOADS

    dl = sub.add_parser("download", help="fetch a public reference file into the download cache, where "
                        "study configs find it as cache:FILE_NAME",
                        description="Downloads: " + "; ".join(f"{d.name}: {d.what} ({d.url})" for d in DOWNLOADS.values()))
    dl.add_argument("name", choices=sorted(set(DOWNLOADS) | set(BUNDLES)), help="what to fetch (nbsuite-zero: "
                    "all five of NAS-Bench-Suite-Zero's zc_<space>.json files)")
    dl.add_argument("--cache", default=None, metavar="DIR", help="cache folder (default $ZCBENCH_CACHE, "
                    "or ~/.cache/zcbench)")
    dl.add_argument("--force", action="store_true", help="fetch again even if a valid copy is in the cache")

    ex = sub.add_parser("export", help="write a run's scores in a format other tools read: NAS-Bench-Suite-Zero's "
                        "zc_<space>.json (NASLib's zero-cost predictors, zc_combine, GRAF)")
    ex.add_argument("out", help="the --out folder of a run")
    ex.add_argument("dest", help="the folder to write into (one zc_<space>.json per search space)")
    ex.add_argument("--to", required=True, metavar="FORMAT", help="nbsuite-zero")
    which = ex.add_mutually_exclusive_group()
    which.add_argument("--seed", type=int, default=None, help="export this seed's scores")
    which.add_argument("--average", action="store_true", help="export each score's mean over the seeds")
    ex.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a key of the stored configs, as for report")
    ex.add_argument("--study", dest="only", nargs="+", default=None, metavar="NAME", help="only these studies")
    ex.add_argument("--force", action="store_true", help="overwrite existing files")

    g = sub.add_parser("reg-grid", help="reg-SWAP Spearman over a µ/σ grid from a run's stored scores")
    g.add_argument("out", help="the --out folder of a run that scored swap and params")
    g.add_argument("--mu", type=float, nargs="+", required=True)
    g.add_argument("--sigma", type=float, nargs="+", required=True)
    g.add_argument("--theta-unit", choices=["K", "M"], default="M",
                   help="Θ in thousands (DARTS scorer) or millions (benchmark networks) of parameters")
    g.add_argument("--theta", choices=["benchmark", "scorer"], default="benchmark",
                   help="whose size Θ is: the ground truth's own network (default, as reg_swap) or the scored one")
    g.add_argument("--swap-label", default="swap")
    g.add_argument("--params-label", default="params")
    return p


def _suite(args):
    from experiments.config import ConfigError, Suite, load_suite

    suite = load_suite(args.study or DEFAULT_STUDY, args.overrides, imports=getattr(args, "imports", None))
    for study in suite.studies:
        apply_device_args(study, args)
    if getattr(args, "only", None):
        names = [s.name for s in suite.studies]
        unknown = [n for n in args.only if n not in names]
        if unknown:
            raise ConfigError(f"--study {unknown}: not in the suite; its studies: {names}")
        suite = Suite(suite.name, [s for s in suite.studies if s.name in args.only], suite.raw)
    return suite


def cmd_run(args) -> int:
    from experiments.pipeline import run_suite

    suite = _suite(args)
    out = Path(args.out)
    res = run_suite(suite, out, progress=not args.no_progress, workers=args.workers, threads=args.threads,
                    parquet=args.parquet, executor=args.executor, address=args.address)
    _print_top(res["report"])
    print(f"wrote {out / 'results.sqlite'}, " + ", ".join(str(p) for p in res["files"]))
    return 0 if res["records"] else 1


def _print_top(report, k: int = 5) -> None:
    """A short stdout summary: the best proxies per column (the full tables are in summary.md),
    and on stderr what the user must know (architectures without ground truth, proxies that
    failed everywhere, a degenerate batch)."""
    from experiments.render import format_ci

    for w in report.warnings:
        print(f"zcbench: warning: {w}", file=sys.stderr)
    s = report.summary
    for col in report.columns:
        rows = s[s["column"] == col.label].head(k)
        best = ", ".join(f"{r['proxy']} {r['spearman_mean']:.3f} {format_ci(r['spearman_lo'], r['spearman_hi'])}"
                         for _, r in rows.iterrows() if r["spearman_mean"] == r["spearman_mean"])
        print(f"{col.label}: {best}")


def cmd_report(args) -> int:
    from experiments.report import stored_suite, write_reports
    from experiments.store import ResultsNotFoundError, Store

    src = Path(args.out)
    path = src / "results.sqlite"
    if not path.is_file():
        raise ResultsNotFoundError(f"no results at {path}; run `zcbench run CONFIG.yaml --out {src}` first")
    dest = Path(args.to) if args.to else src
    dest.mkdir(parents=True, exist_ok=True)
    with Store(path, write=False) as store:
        before = store.count()
        suite = stored_suite(store, args.overrides, args.only)
        res = write_reports(suite, store, dest, parquet=args.parquet)
        assert store.count() == before  # a report scores nothing
    _print_top(res["report"])
    print("wrote " + ", ".join(str(p) for p in res["files"]))
    return 0


def cmd_compare(args) -> int:
    import zc_proxies
    from experiments.config import ConfigError, ProxySpec, Suite
    from experiments.frames import paired
    from experiments.render import format_ci, format_p
    from experiments.pipeline import run_suite

    suite = _suite(args)
    zc_proxies.get_proxy(args.proxy)  # unknown name: a clear error before anything runs
    if args.baselines is not None:
        chosen = [n for n in zc_proxies.list_proxies(args.baselines) if n != args.proxy]
        if not chosen:
            raise ConfigError(f"no baseline matches {args.baselines}; see `zcbench list proxies`")
    studies = []
    for study in suite.studies:
        baselines = chosen if args.baselines is not None else _default_baselines(study, args.proxy)
        own = [s for s in study.proxies if s.label == args.proxy] or [ProxySpec(args.proxy, args.proxy, {})]
        study.proxies = own + [ProxySpec(n, n, {}) for n in baselines]
        study.raw["proxies"] = [{s.label: {"proxy": s.proxy, **s.options}} for s in study.proxies]
        studies.append(study)
    _print_plan(studies, Path(args.out) / "results.sqlite", args.workers, args.threads)
    res = run_suite(Suite(suite.name, studies, suite.raw), args.out, progress=not args.no_progress,
                    workers=args.workers, threads=args.threads, executor=args.executor, address=args.address)
    report = res["report"]
    for col in report.columns:
        rows = report.summary[report.summary["column"] == col.label]
        rows = rows.assign(_k=-rows["spearman_mean"].fillna(-9)).sort_values("_k", kind="stable")
        labels = list(rows["proxy"])
        rank = labels.index(args.proxy) + 1 if args.proxy in labels else None
        seeds = col.study.seeds
        print(f"\n{col.label} ({col.study.space} / {col.study.task}, {col.metric}): {args.proxy} ranks {rank} of "
              f"{len(labels)} by mean Spearman over seeds {seeds}\n")
        print(f"| rank | proxy | Spearman (mean ± std) | 95 % CI | Kendall (mean ± std) | Δρ {args.proxy} − proxy "
              f"[95 % CI] | p (paired) | non-finite | failed |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for i, (_, r) in enumerate(rows.iterrows(), 1):
            name = f"**{r['proxy']}**" if r["proxy"] == args.proxy else r["proxy"]
            std = lambda v: "–" if len(seeds) < 2 or v != v else f"{v:.3f}"
            if r["proxy"] == args.proxy:
                diff = p = "–"
            else:
                t = paired(report.scores, col.label, args.proxy, r["proxy"])
                diff = "–" if t["diff"] != t["diff"] else f"{t['diff']:+.3f} {format_ci(t['diff_lo'], t['diff_hi'])}"
                p = format_p(t["p"])
            if r["constant"] or r["spearman_mean"] != r["spearman_mean"]:
                corr = "constant | – | constant" if r["constant"] else "nan | – | nan"
            else:
                corr = (f"{r['spearman_mean']:.3f} ± {std(r['spearman_std'])} | {format_ci(r['spearman_lo'], r['spearman_hi'])}"
                        f" | {r['kendall_mean']:.3f} ± {std(r['kendall_std'])}")
            print(f"| {i} | {name} | {corr} | {diff} | {p} | {r['n_nonfinite']} | {r['n_failed']} |")
    print(f"\np: two-sided paired bootstrap test on the same architectures (1000 resamples); "
          f"wrote {Path(args.out) / 'correlations.csv'}, summary.md, heatmap.png")
    return 0


def _default_baselines(study, proxy: str) -> list[str]:
    """compare's baselines without --baselines: with a ``precomputed`` file, the registered
    proxies it holds for the study's dataset (those ``precomputed.proxies`` names, if a list),
    which cost nothing to add; otherwise every registered proxy."""
    import zc_proxies
    from search_spaces.base import get_space
    from search_spaces.data import resolve_path
    from search_spaces.ground_truth import read_zc_json

    pre = study.precomputed
    if not pre["path"]:
        return [n for n in zc_proxies.list_proxies("*") if n != proxy]
    rec = read_zc_json(resolve_path(pre["path"]), get_space(study.space, **study.space_options),
                       pre["dataset"] or study.task)
    names = sorted(n for n in rec.scores if n in zc_proxies.PROXIES and n != proxy
                   and (pre["proxies"] == "all" or n in pre["proxies"]))
    return names


def _print_plan(studies, store_path: Path, workers, threads) -> None:
    """Before scoring: per study, what is read, computed and derived, and roughly how long the
    computing takes (a few networks timed here), so that the user can stop at once."""
    from experiments.estimate import describe, plan_study, time_one

    lines = []
    for study in studies:
        work = plan_study(study, store_path)
        if work.todo:
            print(f"zcbench: timing up to {len(work.pending)} {study.space} networks for the estimate of "
                  f"{study.name} ...", file=sys.stderr, flush=True)
            time_one(study, work, threads)
        lines += describe(work, workers if isinstance(workers, int) else 1)
    print("\n".join(["zcbench compare will:"] + lines + ["(Ctrl-C stops; what is stored stays and the same "
                                                          "command resumes)"]), flush=True)


def _nothing_matches(kind: str, plural: str, pattern: str, names: list[str]) -> int:
    import difflib

    close = difflib.get_close_matches(pattern.strip("*?[]"), names, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    wild = "" if any(c in pattern for c in "*?[") else f" (for a part of a name: '*{pattern}*')"
    print(f"zcbench: error: no {kind} matches {pattern!r}{hint}{wild}; `zcbench list {plural}` lists all "
          f"{len(names)}", file=sys.stderr)
    return 2


def cmd_list(args) -> int:
    import shutil
    import textwrap

    width = max(60, shutil.get_terminal_size((100, 24)).columns - 1)
    if args.what == "proxies":
        import zc_proxies

        names = zc_proxies.list_proxies(args.pattern)
        if not names:
            return _nothing_matches("proxy", "proxies", args.pattern, zc_proxies.list_proxies())
        print(f"{'proxy':<12} {'family':<14} {'higher':<7} {'consumes':<18} paper")
        for n in names:
            i = zc_proxies.get_proxy(n)
            if i.kind == "population":  # combines these proxies' scores over a population
                bases = i.bases()
                cons = "population(" + ("its proxies" if any(b.label for b in bases)
                                        else ",".join(b.role for b in bases)) + ")"
            else:
                cons = ",".join(i.consumes) or "-"
            print(f"{n:<12} {i.family:<14} {'yes' if i.higher_is_better else 'no':<7} {cons:<18} {i.paper}")
        from zc_proxies.base import PROXIES

        for name, err in PROXIES.plugin_errors.items():
            print(f"warning: plugin {name!r} failed to load: {err}", file=sys.stderr)
    else:
        import search_spaces

        from search_spaces.ground_truth import formats_for

        names = search_spaces.list_spaces(args.pattern)
        if not names:
            return _nothing_matches("space", "spaces", args.pattern, search_spaces.list_spaces())
        pad = max(len(n) for n in names) + 2
        indent = " " * pad
        for n in names:
            cls = search_spaces.SPACES.get(n)
            para = (cls.__doc__ or "").strip().split("\n\n")[0]  # the whole first paragraph
            what = " ".join(para.split()).replace("``", "")
            print(textwrap.fill(what, width, initial_indent=n.ljust(pad), subsequent_indent=indent,
                                break_on_hyphens=False))
            print(textwrap.fill(", ".join(cls.tasks), width, initial_indent=indent + "tasks: ",
                                subsequent_indent=indent + "  "))
            print(textwrap.fill(", ".join(formats_for(n)), width, initial_indent=indent + "ground truth: ",
                                subsequent_indent=indent + "  "))
    return 0


def cmd_export(args) -> int:
    from experiments.export import export

    paths, notes = export(args.out, args.to, args.dest, seed=args.seed, average=args.average,
                          overrides=args.overrides, studies=args.only, force=args.force)
    for n in notes:
        print(f"zcbench: note: {n}", file=sys.stderr)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_build_benchmark(args) -> int:
    from experiments.build import build, load_spec

    spec = load_spec(args.spec, args.overrides)
    stats = build(spec, args.out, workers=args.workers, progress=not args.no_progress, limit=args.limit)
    print(f"{args.out}: {stats['done_before'] + stats['trained']} of {stats['total']} architectures "
          f"({stats['trained']} trained now in {stats['seconds']:.0f} s)")
    return 0


def cmd_calibrate_layers(args) -> int:
    from experiments.calibrate import calibrate_layers
    from experiments.config import load_study
    from experiments.executors import default_threads, set_threads

    study = load_study(args.study, args.overrides, imports=args.imports)
    apply_device_args(study, args)
    set_threads(args.threads or default_threads())  # as every scoring process
    res = calibrate_layers(study, Path(args.out), n=args.n, seed=args.seed, progress=not args.no_progress)
    cal = res["calibration"]
    print(f"l1 = {res['l1']}, l2 = {res['l2']}: Spearman {res['spearman']:.3f} on {cal['n']} calibration "
          f"architectures ({cal['excluded']} evaluated by the study excluded)")
    print(f"use it in the study's proxies as:  - lswag: {{l1: {res['l1']}, l2: {res['l2']}}}")
    print("wrote " + ", ".join(res["files"].values()))
    return 0


def cmd_search(args) -> int:
    from experiments.search import cmd_search as run_search

    return run_search(args)


def cmd_download(args) -> int:
    from experiments.download import BUNDLES, DownloadError, download, download_bundle
    from search_spaces.data import CACHE_ENV, cache_dir

    try:
        if args.name in BUNDLES:
            results, notice = download_bundle(args.name, args.cache, force=args.force)
        else:
            results, notice = [download(args.name, args.cache, force=args.force)], None
    except (DownloadError, OSError) as exc:
        print(f"zcbench: error: {exc}", file=sys.stderr)
        return 2
    for path, summary, fetched in results:
        print(f"{path}: {summary} ({'downloaded' if fetched else 'already in the cache'})")
    if notice:
        print(f"{notice}\n(written to {path.parent / (args.name + '-NOTICE.txt')})")
    if path.parent.resolve() != cache_dir().resolve():
        print(f"note: study configs look for cache:{path.name} in {cache_dir()}; set {CACHE_ENV}={path.parent} "
              f"to use this copy")
    return 0


def cmd_reg_grid(args) -> int:
    from experiments.report import reg_swap_grid, stored_suite
    from experiments.store import Store

    path = Path(args.out) / "results.sqlite"
    if not path.is_file():
        print(f"zcbench: error: no results at {path}; run `zcbench run STUDY.yaml --out {args.out}` first",
              file=sys.stderr)
        return 2
    with Store(path, write=False) as store:
        if not store.count() or not store.get_meta("suite"):
            print(f"zcbench: error: {path} holds no scores of a study (a run that stopped before scoring "
                  f"anything?); run `zcbench run STUDY.yaml --out {args.out}` with swap and params first",
                  file=sys.stderr)
            return 2
        study = stored_suite(store).studies[0]
        rows = reg_swap_grid(study, store, args.mu, args.sigma, theta_unit=args.theta_unit, theta=args.theta,
                             swap_label=args.swap_label, params_label=args.params_label)
    for variant in dict.fromkeys(r["variant"] for r in rows):
        print(f"\nreg-SWAP Spearman, {study.name} / {variant}, Θ in {args.theta_unit} (rows µ, columns σ)\n")
        print("| µ \\ σ | " + " | ".join(f"{s:g}" for s in args.sigma) + " |")
        print("|---|" + "---:|" * len(args.sigma))
        for mu in args.mu:
            cells = [next(r for r in rows if r["variant"] == variant and r["mu"] == mu and r["sigma"] == s)
                     for s in args.sigma]
            print(f"| {mu:g} | " + " | ".join(f"{c['spearman_mean']:.3f}" for c in cells) + " |")
    return 0


def main(argv: list[str] | None = None) -> int:
    from zc_proxies.errors import ZcbenchError
    from zc_proxies.registry import import_plugins

    args = _parser().parse_args(argv)
    try:
        import_plugins(getattr(args, "imports", []))  # before any name is looked up
        return {"run": cmd_run, "report": cmd_report, "list": cmd_list, "reg-grid": cmd_reg_grid, "compare": cmd_compare,
                "build-benchmark": cmd_build_benchmark, "calibrate-layers": cmd_calibrate_layers,
                "search": cmd_search, "download": cmd_download, "export": cmd_export}[args.cmd](args)
    except KeyboardInterrupt:
        print("\nzcbench: interrupted; every finished architecture is stored; run the same command again "
              "to resume", file=sys.stderr)
        return 130
    except ZcbenchError as exc:  # a user's error; anything else is a bug and keeps its traceback
        print(f"zcbench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
