"""The µ sweep of the SWAP paper (Fig. 5b): SWAP-NAS repeated with reg_swap µ = σ set to each of a
list of values, and the size Θ of what it finds against µ (``size_sweep.csv``, ``.md``, ``.png``)."""
from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Any

from experiments.config import ConfigError, is_number
from experiments.executors import set_threads
from experiments.search.config import SearchConfig
from experiments.search.evolution import evolve
from experiments.search.proxy import check_sweep_proxy, make_scorer, sweep_options, theta_in
from experiments.search.report import pyplot
from experiments.search.run import progress_bar, search_device, search_space

def run_size_sweep(cfg: SearchConfig, out: str | Path, mus: list[float], *, runs: int = 5,
                   evaluations: int | None = None, progress: bool = True) -> dict[str, Any]:
    """SWAP-NAS with reg_swap µ = σ = each of ``mus`` (``runs`` runs each, seeds 0..runs-1):
    the size of what it finds (Θ in the proxy's theta unit) against µ, as in the SWAP paper's
    Fig. 5b. Writes size_sweep.csv, size_sweep.png and size_sweep.md."""
    from scipy.stats import spearmanr

    check_sweep_proxy(cfg.proxy)
    if not mus or any(not is_number(m) or m <= 0 for m in mus):
        raise ConfigError(f"size-sweep µ values must be positive numbers, not {mus!r}")
    budget_ev = evaluations if evaluations is not None else cfg.evaluations
    seconds = None if budget_ev is not None else cfg.seconds
    if budget_ev is not None and budget_ev < cfg.population:
        raise ConfigError(f"size sweep evaluations ({budget_ev}) must be >= population ({cfg.population})")
    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    unit = cfg.theta_unit
    old = set_threads(cfg.threads)
    device = search_device(cfg)
    rows = []
    try:
        space = search_space(cfg)
        total = None if budget_ev is None else budget_ev * runs * len(mus)
        bar = progress_bar(total, progress, f"{cfg.name} size sweep")
        try:
            for mu in mus:
                opts = sweep_options(cfg.proxy_options, mu)
                for run in range(runs):
                    bar.set_description(f"{cfg.name} µ=σ={mu:g} run {run}")
                    scorer = make_scorer(cfg, space, opts, run, device)
                    res = evolve(space, scorer, seed=run, population=cfg.population, sample_size=cfg.sample_size,
                                 mutations=cfg.mutations, kinds=cfg.mutation_kinds, children=cfg.children,
                                 crossover_prob=cfg.crossover_prob, evaluations=budget_ev, seconds=seconds,
                                 on_eval=lambda best: bar.update(1), failures=scorer.failures)
                    if budget_ev is not None:
                        bar.total = bar.total - budget_ev + res.evaluations
                    params = scorer.params[str(res.best)]
                    theta = scorer.theta.get(str(res.best), params)
                    rows.append({"mu": float(mu), "sigma": float(mu), "run": run, "seed": run,
                                 "theta": theta_in(theta, unit), "theta_unit": unit, "params": params,
                                 "score": res.score, "evaluations": res.evaluations,
                                 "wall_seconds": round(res.wall_seconds, 3), "arch": str(res.best)})
        finally:
            bar.close()
    finally:
        set_threads(old)
    with open(out / "size_sweep.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    x = [r["mu"] for r in rows]
    y = [r["theta"] for r in rows]
    rho = float(spearmanr(x, y).statistic) if len(set(x)) > 1 and len(set(y)) > 1 else float("nan")
    per_mu = {mu: statistics.median(r["theta"] for r in rows if r["mu"] == mu) for mu in dict.fromkeys(x)}
    md = [f"# Size sweep: {cfg.name}", "",
          f"SWAP-NAS with reg_swap µ = σ swept (Θ in {unit}), {runs} run(s) per µ (seeds 0..{runs - 1}), "
          f"budget {budget_ev if budget_ev is not None else cfg.seconds} "
          f"{'evaluations' if budget_ev is not None else 's'} per run. The SWAP paper (Fig. 5b) shows the found "
          "model size following µ.", "",
          f"Spearman(µ, found Θ) = {rho:.3f} over {len(rows)} runs.", "",
          f"| µ = σ ({unit}) | median found Θ ({unit}) | found Θ per run |", "|---:|---:|---|"]
    for mu, med in per_mu.items():
        md.append(f"| {mu:g} | {med:.4g} | " + ", ".join(f"{r['theta']:.4g}" for r in rows if r["mu"] == mu) + " |")
    (out / "size_sweep.md").write_text("\n".join(md) + "\n")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.scatter(x, y, s=18, alpha=0.7, label="found architecture (one per run)")
    ax.plot(list(per_mu), list(per_mu.values()), "o-", color="C3", label="median per µ")
    lo, hi = min(min(x), min(y)), max(max(x), max(y))
    pad = 0.05 * (hi - lo or 1)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", linewidth=1, label="y = x")
    ax.set_xlabel(f"µ = σ ({unit} parameters)")
    ax.set_ylabel(f"found model size Θ ({unit} parameters)")
    ax.set_title(f"{cfg.name}: found size vs µ (Spearman {rho:.3f})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "size_sweep.png", dpi=120)
    plt.close(fig)
    return {"rows": rows, "spearman": rho, "median_theta": per_mu, "theta_unit": unit}

