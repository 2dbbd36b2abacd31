"""Two scoring protocols on the same architectures: the default suite's small networks against
full-size ones, read from two finished --out folders (nothing is scored).

For every column and proxy the two folders share, on the architectures and seed of the second
folder: each protocol's Spearman with the ground truth (with its bootstrap 95 % CI) and the
Spearman between the two protocols' scores (do they rank the cells alike?).

    python -m experiments.benchmarks.protocol_compare results/default results/swap_fig4_cpu \\
        --out results/default_vs_full_size.md
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from experiments import stats
from experiments.report import load_report, usable


def compare(small: Path, full: Path) -> list[dict]:
    a, b = load_report(small), load_report(full)
    sa, sb = a.scores[usable(a.scores)], b.scores[usable(b.scores)]
    out = []
    for col in [c.label for c in b.columns if c.label in {x.label for x in a.columns}]:
        fb = sb[sb["column"] == col]
        seed = int(fb["seed"].min())
        fb = fb[fb["seed"] == seed]
        fa = sa[(sa["column"] == col) & (sa["seed"] == seed)]
        for proxy in [p for p in dict.fromkeys(fb["proxy"]) if p in set(fa["proxy"])]:
            x = fa[fa["proxy"] == proxy].set_index("arch")
            y = fb[fb["proxy"] == proxy].set_index("arch")
            common = x.index.intersection(y.index).sort_values()
            if len(common) < 3:
                continue
            t = y.loc[common, "truth"].to_numpy(float)
            ra = stats.correlation_ci(x.loc[common, "value"].to_numpy(float), t)
            rb = stats.correlation_ci(y.loc[common, "value"].to_numpy(float), t)
            agree = stats.correlate(x.loc[common, "value"].to_numpy(float), y.loc[common, "value"].to_numpy(float))
            out.append({"column": col, "proxy": proxy, "seed": seed, "n": len(common), "small": ra, "full": rb,
                        "agreement": agree["spearman"]})
    return out


def markdown(rows: list[dict], small: Path, full: Path) -> str:
    f = lambda r, k: "–" if not np.isfinite(r[k]) else f"{r[k]:.3f}"
    ci = lambda r: "–" if not np.isfinite(r["spearman_lo"]) else f"[{r['spearman_lo']:.2f}, {r['spearman_hi']:.2f}]"
    lines = [f"# Scoring protocols compared on the same architectures: `{small}` against `{full}`", "",
             "Spearman ρ with the ground truth of each protocol's scores (95 % bootstrap CI over architectures), and "
             "the Spearman between the two protocols' scores, on the architectures and seed of the second folder.", ""]
    for col in dict.fromkeys(r["column"] for r in rows):
        rs = sorted([r for r in rows if r["column"] == col], key=lambda r: -np.nan_to_num(r["full"]["spearman"], nan=-9))
        lines += [f"## {col} (n = {rs[0]['n']}, seed {rs[0]['seed']})", "",
                  "| proxy | ρ small [CI] | ρ full-size [CI] | ρ(small scores, full-size scores) |",
                  "|---|---:|---:|---:|"]
        for r in rs:
            lines.append(f"| {r['proxy']} | {f(r['small'], 'spearman')} {ci(r['small'])} | "
                         f"{f(r['full'], 'spearman')} {ci(r['full'])} | {f(r, 'agreement')} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("small", type=Path, help="--out folder of the first protocol (e.g. the default suite)")
    p.add_argument("full", type=Path, help="--out folder of the second (e.g. full-size networks)")
    p.add_argument("--out", type=Path, default=None, help="write the table here (default: print it only)")
    args = p.parse_args(argv)
    text = markdown(compare(args.small, args.full), args.small, args.full)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
