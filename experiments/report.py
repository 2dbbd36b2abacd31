"""A report's files: ``zcbench run`` and ``zcbench report`` write correlations.csv, summary.csv,
summary.md, summary.tex, ranks.csv, top_of_ranking.csv, heatmap.png, cd_diagram.png and the
scatter plots of a suite (:func:`write_reports`), and any DataFrame by its suffix
(:func:`export`); :func:`reg_swap_grid` is the µ/σ grid of ``zcbench reg-grid``.

The data come from :mod:`experiments.frames` (the pandas API, re-exported here:
``from experiments.report import scores_frame, correlations_frame`` keeps working), the text
from :mod:`experiments.render`, the figures from :mod:`experiments.plots`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments import stats
from experiments.config import ConfigError, Study, Suite
from experiments.frames import (Column, Report, build, collect, correlations_frame, load_report,  # noqa: F401
                                naslib_nonfinite_value, paired, ranks_frame, scores_frame, stored_suite,
                                study_truth, top_frame)
from experiments.plots import heatmap, scatter
from experiments.render import format_ci, format_p, latex, markdown  # noqa: F401
from experiments.store import Store
from experiments.tidy import usable

__all__ = ["Column", "Report", "build", "collect", "correlations_frame", "export", "format_ci", "format_p",
           "latex", "load_report", "markdown", "naslib_nonfinite_value", "paired", "ranks_frame", "reg_swap_grid",
           "scores_frame", "stored_suite", "study_truth", "top_frame", "usable", "write_reports"]

# ----------------------------------------------------------------------------- writing

def export(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame by the file's suffix: .csv, .md, .tex or .parquet (needs pyarrow:
    ``pip install zcbench[parquet]``)."""
    path = Path(path)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False, float_format="%.6f")
    elif path.suffix == ".md":
        path.write_text(frame.to_markdown(index=False) + "\n")
    elif path.suffix == ".tex":
        path.write_text(frame.to_latex(index=False, escape=True))
    elif path.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ConfigError("Parquet export needs pyarrow: pip install 'zcbench[parquet]' (or pip install pyarrow)"
                              ) from None
        frame.to_parquet(path, index=False)
    else:
        raise ConfigError(f"cannot export to {path.name}: use .csv, .md, .tex or .parquet")
    return path


def write_reports(suite: Suite | Study, store: Store, out: Path, *, parquet: bool = False) -> dict[str, Any]:
    """Build the report of ``suite`` (or one study) from ``store`` and write correlations.csv,
    summary.csv, summary.md, summary.tex, heatmap.png and the scatter plots into ``out``
    (with ``parquet``, scores.parquet and correlations.parquet too)."""
    if isinstance(suite, Study):
        suite = Suite(suite.name, [suite], {"name": suite.name, "studies": [suite.name]})
    out = Path(out)
    report = build(suite, store)
    files = [export(report.correlations, out / "correlations.csv")]
    files.append(export(report.summary, out / "summary.csv"))
    (out / "summary.md").write_text(markdown(report))
    (out / "summary.tex").write_text(latex(report))
    files += [out / "summary.md", out / "summary.tex"]
    if not report.summary.empty:
        heatmap(report, out / "heatmap.png", title=suite.name)
        files.append(out / "heatmap.png")
    files += _suite_files(report, out)
    scatters = scatter(report, out)
    files += scatters
    if parquet:
        files += [export(report.scores, out / "scores.parquet"), export(report.correlations, out / "correlations.parquet")]
    return {"report": report, "records": report.correlations.to_dict("records"),
            "summary": report.summary.to_dict("records"), "scatter": scatters, "files": files}


def _suite_files(report: Report, out: Path) -> list[Path]:
    """ranks.csv and cd_diagram.png (experiments.ranking); no diagram where the test is refused."""
    from experiments import ranking

    rk = ranking.suite_ranking(report)
    files = [export(ranking.ranks_frame(rk), out / "ranks.csv")]
    if report.top is not None:
        files.append(export(report.top, out / "top_of_ranking.csv"))
    stale = out / "cd_diagram.png"
    if ranking.cd_diagram(rk, stale, title=report.suite.name):
        files.append(stale)
    elif stale.exists():
        stale.unlink()  # an earlier report's diagram would contradict this one
    return files


def reg_swap_grid(study: Study, store: Store, mus: list[float], sigmas: list[float], *, theta_unit: str = "M",
                  swap_label: str = "swap", params_label: str = "params",
                  theta: str = "benchmark") -> list[dict[str, Any]]:
    """Spearman of reg-SWAP for every (µ, σ) from stored swap and params scores (no scoring),
    like the SWAP paper's Tables 4-6; mean and std over seeds, per variant. Θ counts the
    ground truth's own network (``theta: benchmark``, as reg_swap does) or the scored one
    (``scorer``: the stored params)."""
    from experiments.inputs import benchmark_params, theta_network
    from zc_proxies.swap import reg_swap_combine

    suite = Suite(study.name, [study], {})
    columns, frame, _, _ = collect(suite, store)
    out = []
    for column, cf in frame.groupby("column", sort=False):
        variant = cf["variant"].iat[0]
        st = next(c.study for c in columns if c.label == column)
        net = theta_network(st.space, st.space_options, st.task, st.ground_truth["network"]) \
            if theta == "benchmark" else None
        per_seed = []
        for _, g in cf[usable(cf)].groupby("seed", sort=True):
            sw = g[g["proxy"] == swap_label].set_index("arch")
            pa = g[g["proxy"] == params_label].set_index("arch")
            common = sw.index.intersection(pa.index).sort_values()
            if len(common):
                size = pa.loc[common, "value"].to_numpy(float)
                if net is not None:
                    bench = benchmark_params(net[0], net[1], [net[0].parse(a) for a in common])
                    size = np.array([bench[a] for a in common])
                per_seed.append((sw.loc[common, "value"].to_numpy(float), size,
                                 sw.loc[common, "truth"].to_numpy(float)))
        if not per_seed:
            raise ConfigError(f"no stored {swap_label!r} and {params_label!r} scores with ground truth in "
                             f"{store.path} (variant {variant}); run the study with both proxies first")
        for mu in mus:
            for sigma in sigmas:
                rhos = [stats.correlate(reg_swap_combine(s, p, mu=mu, sigma=sigma, theta_unit=theta_unit)[0],
                                        t)["spearman"] for s, p, t in per_seed]
                out.append({"variant": variant, "mu": mu, "sigma": sigma, "theta_unit": theta_unit,
                            "spearman_mean": float(np.nanmean(rhos)), "spearman_std": float(np.nanstd(rhos)),
                            "seeds": len(rhos), "n": len(per_seed[0][0])})
    return out

