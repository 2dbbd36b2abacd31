"""NAS-Bench-BERT table: each proxy's Spearman against GLUE and each GLUE task (mean ± std over
the study's seeds), beside the universal SWAP paper's 0.71 and the benchmark authors' own
training-free metrics recomputed from their BERT_results_activation.csv.

    zcbench download nas-bench-bert
    zcbench run experiments/configs/nasbench_bert.yaml --out nasbench_bert-out
    python -m experiments.benchmarks.nasbench_bert_table --run nasbench_bert-out \\
        [--run LABEL=OTHER_RUN ...] [--tagged-proxies swap,params] \\
        --activations BERT_results_activation.csv [--protocol results/nasbench_bert/protocol.md] \\
        --out results/nasbench_bert/table.md

Tagged runs (``LABEL=FOLDER``, e.g. another input size) add rows "proxy (LABEL)", each over
that run's own architectures and seeds. The seconds column is wall time per architecture.

BERT_results_activation.csv (CC-BY-4.0) is in aaronserianni/training-free-nas, ``data/``. The
authors' metrics are correlated over their 500 records joined by ``ID``; the proxies over the
491 distinct architectures (the nine repeated ones scored once, their GLUE scores averaged).
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

import search_spaces  # noqa: F401  (registers the spaces and formats)
from experiments.benchmarks import publish
from search_spaces.base import get_space
from search_spaces.data import resolve_path
from search_spaces.ground_truth import read_ground_truth
from search_spaces.nasbench_bert import METRICS, read_records

PAPER = 0.71  # universal SWAP paper: SWAP vs GLUE on the same benchmark


def _rho(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return float(spearmanr(a[ok], b[ok])[0])


def _cell(vals: list[float]) -> str:
    vals = [v for v in vals if np.isfinite(v)]
    if not vals:
        return "n/a"
    return f"{np.mean(vals):.3f}" + (f" ± {np.std(vals):.3f}" if len(vals) > 1 else "")


def proxy_rows(run: Path, bench: Path, tag: str = "", only: list[str] | None = None
               ) -> tuple[list[str], dict[str, float], int, list[int]]:
    from types import SimpleNamespace

    from experiments.report import scores_frame

    frame = scores_frame(run)  # every proxy by its config label, derived ones (reg_swap) included
    frame = frame[frame["status"] == "ok"]
    rows = [SimpleNamespace(proxy=r.proxy, seed=int(r.seed), arch=r.arch, value=float(r.value), seconds=r.seconds)
            for r in frame.itertuples()]
    space = get_space("nasbench_bert")
    gt = read_ground_truth(bench, space, "glue")
    truth = {str(a): v for a, v in gt.values.items()}
    seeds = sorted({r.seed for r in rows})
    proxies = [p for p in dict.fromkeys(r.proxy for r in rows) if not only or p in only]
    lines, secs = [], {}
    n_archs = 0
    for p in proxies:
        cells = []
        for m in METRICS:
            per_seed = []
            for s in seeds:
                vals = {r.arch: r.value for r in rows if r.proxy == p and r.seed == s and r.arch in truth}
                n_archs = max(n_archs, len(vals))
                per_seed.append(_rho([vals[a] for a in vals], [truth[a][m] for a in vals]))
            cells.append(_cell(per_seed))
        t = [r.seconds for r in rows if r.proxy == p and r.seconds is not None]
        secs[p] = float(np.mean(t)) if t else float("nan")
        lines.append(f"| {p}{tag} | " + " | ".join(cells[-1:] + cells[:-1]) + f" | {secs[p]:.3f} |")
    return lines, secs, n_archs, seeds


def author_rows(activations: Path, bench: Path) -> list[str]:
    scores = {rid: s for rid, _, s in read_records(bench)}
    with open(activations, newline="") as f:
        table = list(csv.DictReader(f))
    names = [c for c in table[0] if c not in ("ID", "GLUE Score")]
    lines = []
    for name in names:
        ids = [int(r["ID"]) for r in table]
        vals = [float(r[name]) for r in table]
        cells = [_rho(vals, [scores[i][m] for i in ids]) for m in METRICS]
        cells = cells[-1:] + cells[:-1]
        lines.append(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    return lines


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, action="append",
                    help="a study's output folder (holds results.sqlite), or LABEL=FOLDER to tag its rows; repeatable")
    ap.add_argument("--tagged-proxies", default="", help="comma-separated proxies to show for tagged runs (default all)")
    ap.add_argument("--benchmark", default="cache:BERT_benchmark.json")
    ap.add_argument("--activations", required=True, help="the authors' BERT_results_activation.csv")
    ap.add_argument("--protocol", default=None, help="a markdown file saying how the runs were scored, put under the title")
    ap.add_argument("--out", default="results/nasbench_bert/table.md")
    args = ap.parse_args(argv)
    bench = resolve_path(args.benchmark)
    head = "| GLUE | " + " | ".join(m for m in METRICS[:-1]) + " |"
    rule = "|---|" + "---:|" * len(METRICS)
    lines, n, seeds = [], 0, []
    for run in args.run:
        label, _, folder = run.rpartition("=")
        only = [p for p in args.tagged_proxies.split(",") if p] if label else None
        rows, _, n_run, seeds_run = proxy_rows(Path(folder), bench, f" ({label})" if label else "", only)
        lines += rows
        if not label:
            n, seeds = n_run, seeds_run
    text = [f"# NAS-Bench-BERT: Spearman with GLUE and each GLUE task", "",
            Path(args.protocol).read_text().strip() if args.protocol else "", "",
            f"## zcbench proxies ({n} distinct architectures, mean ± std over seeds {seeds} unless tagged)", "",
            "| proxy " + head + " wall s/arch |", rule + "---:|", *lines, "",
            f"Universal SWAP paper (SWAP vs GLUE, 500 records, its protocol): **{PAPER}**.", "",
            "## The benchmark authors' own metrics (their BERT_results_activation.csv, 500 records)", "",
            "| metric " + head, rule, *author_rows(Path(args.activations), bench), ""]
    publish("\n".join(text), args.out)


if __name__ == "__main__":
    main()
