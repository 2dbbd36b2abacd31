"""The files a search writes for a reader: ``search.md`` (tables per seed and method, per metric,
and the summary) and ``trajectory.png`` (the best score so far against proxy evaluations), from the
content of ``search.json`` alone."""
from __future__ import annotations

from pathlib import Path
from typing import Any

METHODS = (("swap_nas", "SWAP-NAS"), ("random_search", "random search"))  # (search.json key, label)


def truth_of(m: dict, metric: str, key: str = "accuracy"):
    """A method entry's true ``key`` (accuracy or percentile) for ``metric``; None when unknown."""
    return (m.get("truth") or {}).get(metric, {}).get(key)


def _f(v, fmt="{:.2f}", none="–"):
    return none if v is None else fmt.format(v)


def _cell(arch: str) -> str:
    """An architecture string as a markdown table cell (NB201 strings are full of pipes)."""
    return "`" + arch.replace("|", "\\|") + "`"


def search_markdown(r: dict[str, Any]) -> str:
    p, s = r["proxy"], r["settings"]
    opts = ", ".join(f"{k}={v}" for k, v in p["options"].items() if k in ("mu", "sigma", "theta_unit", "repeats"))
    budget = f"{s['evaluations']} evaluations" if s["evaluations"] is not None else f"{s['seconds']:g} s"
    gt = r["ground_truth"]
    metrics = gt["metrics"] if gt else []
    metric = gt["metric"] if gt else "accuracy"
    unit = r["seeds"][0]["swap_nas"]["theta_unit"] if r["seeds"] else "K"
    lines = [f"# SWAP-NAS search: {r['name']}", "",
             f"Space {r['space']} {r['space_options'] or ''} on {r['task']}; proxy {p['name']} ({opts}); "
             f"P = {s['population']}, S = {s['sample_size']}, 1..{s['mutations']} mutations per child "
             f"({', '.join(s['mutation_kinds'])}), {s['children']} children per cycle, crossover probability "
             f"{s['crossover_prob']:g}; budget {budget} per search; data {r['data']['source']} batch "
             f"{r['data']['batch_size']}, size {r['data']['size']}, pick {r['data']['pick']}; "
             f"{s['threads']} torch thread(s).", ""]
    if not r.get("complete", True):
        lines += [f"**Incomplete: {r['seeds_done']} of {len(r['seeds_planned'])} seeds finished** (run the same "
                  "command again to resume).", ""]
    if gt:
        best = ", ".join(f"{m} best {gt['best'][m]:.2f}, median {gt['median'][m]:.2f}" for m in metrics)
        lines += [f"Ground truth: {gt['path']} ({gt['architectures']} architectures; {best}). Percentile: percent "
                  "of them at or below the found architecture's value. Ceiling: the best true value among the "
                  "architectures the method scored (what a perfect proxy would have picked from them)."
                  + (" `*`: not in the ground truth, trained now with " + str(gt['train_missing']) + "."
                     if gt.get("train_missing") else " `–`: not in the ground truth (set train_missing to train "
                     "it with the benchmark's recipe)."), ""]
    lines += [f"| seed | method | {metric} | percentile | ceiling | score | Θ ({unit}) | evaluations | wall s | "
              "architecture |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for e in r["seeds"]:
        for key, label in METHODS:
            if key not in e:
                continue
            m = e[key]
            acc = _f(m["accuracy"]) + ("*" if m.get("trained_now") else "")
            ceil = _f(m["ceiling"][metric]["accuracy"]) if m.get("ceiling") else "–"
            lines.append(f"| {e['seed']} | {label} | {acc} | {_f(m['percentile'], '{:.1f}')} | {ceil} | "
                         f"{_f(m['score'], '{:.5g}')} | {m['theta']:.4g} | {m['evaluations']} | "
                         f"{m['wall_seconds']:.1f} | {_cell(m['arch'])} |")
    both = [e for e in r["seeds"] if "swap_nas" in e and "random_search" in e]
    for mname in metrics if len(metrics) > 1 else []:
        lines += ["", f"## {mname}", "",
                  "| seed | SWAP-NAS | percentile | random search | percentile | ceiling: best of the random sample | "
                  "percentile |", "|---:|---:|---:|---:|---:|---:|---:|"]
        for e in both:
            a, b = e["swap_nas"], e["random_search"]
            c = b.get("ceiling", {}).get(mname, {})
            lines.append(f"| {e['seed']} | {_f(truth_of(a, mname))} | {_f(truth_of(a, mname, 'percentile'), '{:.1f}')} "
                         f"| {_f(truth_of(b, mname))} | {_f(truth_of(b, mname, 'percentile'), '{:.1f}')} | "
                         f"{_f(c.get('accuracy'))} | {_f(c.get('percentile'), '{:.1f}')} |")
    lines += ["", "## Summary", ""]
    sm = r["summary"]
    if metrics:
        lines += ["| method | metric | runs | median | median percentile | median ceiling | median ceiling percentile |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for mname in metrics:
            for key, label in METHODS:
                if key in sm:
                    x = sm[key]["by_metric"][mname]
                    lines.append(f"| {label} | {mname} | {sm[key]['runs']} | {_f(x['median_accuracy'])} | "
                                 f"{_f(x['median_percentile'], '{:.1f}')} | {_f(x['median_ceiling'])} | "
                                 f"{_f(x['median_ceiling_percentile'], '{:.1f}')} |")
        lines.append("")
    lines += [f"| method | runs | median score | median Θ ({unit}) | median wall s | median evaluations | trained now |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for key, label in METHODS:
        if key in sm:
            m = sm[key]
            lines.append(f"| {label} | {m['runs']} | {_f(m['median_score'], '{:.5g}')} | "
                         f"{_f(m['median_theta'], '{:.4g}')} | {_f(m['median_wall_seconds'], '{:.1f}')} | "
                         f"{_f(m['median_evaluations'], '{:g}')} | {m['trained_now']} |")
    if "head_to_head" in sm:
        h = sm["head_to_head"]
        lines += ["", f"SWAP-NAS against random search on the same seed ({h['seeds']} seeds): better proxy score on "
                  f"{h['higher_score']}"
                  + "".join(f"; {mname}: better on {w['better']}, equal on {w['equal']}, worse on {w['worse']}"
                            for mname, w in h["by_metric"].items()) + "."]
    return "\n".join(lines) + "\n"


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_trajectories(r: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, e in enumerate(r["seeds"]):
        for key, colour, style, label in (("swap_nas", "C0", "-", "SWAP-NAS"), ("random_search", "C1", "--",
                                                                              "random search")):
            if key not in e:
                continue
            t = [(n, s) for n, s in e[key]["trajectory"] if s is not None]
            if not t:
                continue
            xs, ys = zip(*t)
            xs, ys = list(xs) + [e[key]["evaluations"]], list(ys) + [ys[-1]]
            ax.step(xs, ys, where="post", color=colour, linestyle=style, alpha=0.7, linewidth=1.2,
                    label=label if i == 0 else None)
    ax.set_xlabel("proxy evaluations")
    ax.set_ylabel(f"best-so-far {r['proxy']['name']} score")
    ax.set_title(f"{r['name']}: best score per cycle ({len(r['seeds'])} seed(s))")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

