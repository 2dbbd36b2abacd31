"""``zcbench search``: its arguments, and the command that runs a search and / or its size sweep."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from experiments.config import ConfigError
from experiments.search.config import SWEEP_DEFAULTS, load_search, parse_sweep
from experiments.search.proxy import check_sweep_proxy
from experiments.search.run import finished_seeds, run_search
from experiments.search.sweep import run_size_sweep

def add_parser(subparsers) -> Any:
    """Register ``zcbench search`` on an ``argparse`` subparsers object."""
    s = subparsers.add_parser(
        "search", help="SWAP-NAS: evolutionary search scored by a zero-cost proxy (reg-SWAP), with a "
        "random-search baseline; writes search.json, search.md, trajectory.png")
    s.add_argument("config", metavar="SEARCH.yaml", help="search config (see experiments/configs/search_*.yaml)")
    s.add_argument("--out", default="zcbench-search", help="output folder (default: ./zcbench-search)")
    s.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set evaluations=200 --set proxy.options.mu=40")
    s.add_argument("--size-sweep", dest="size_sweep", type=float, nargs="+", default=None, metavar="MU",
                   help="also repeat the search with reg_swap µ = σ = each MU (size_sweep.runs runs each, default "
                   "5) and write size_sweep.csv/.png/.md")
    s.add_argument("--sweep-only", action="store_true", help="run only the size sweep, not the search itself")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    from experiments.devices import add_device_args

    add_device_args(s)
    return s


def cmd_search(args) -> int:
    """Run ``zcbench search`` with parsed ``args``; print search.md (and size_sweep.md) and what was
    written. Exit status 130 after Ctrl-C, with the finished seeds kept for a resume."""
    from experiments.devices import apply_device_args

    cfg = load_search(args.config, args.overrides)
    apply_device_args(cfg, args)
    sweep = dict(cfg.size_sweep or {})
    if args.size_sweep:
        check_sweep_proxy(cfg.proxy, "--size-sweep")
        sweep = {**SWEEP_DEFAULTS, **sweep, "mus": [float(m) for m in args.size_sweep]}
        sweep = parse_sweep(sweep, cfg.proxy, cfg.population)
    if getattr(args, "sweep_only", False) and not sweep.get("mus"):
        raise ConfigError("--sweep-only needs --size-sweep MU [MU ...] or size_sweep in the config")
    out = Path(args.out)
    written = []
    if not getattr(args, "sweep_only", False):
        try:
            run_search(cfg, out, progress=not args.no_progress)
        except KeyboardInterrupt:
            n = len(finished_seeds(out, cfg))
            print(f"\nzcbench: interrupted; {n} of {len(cfg.seeds)} seed(s) finished and kept in "
                  f"{out / 'search.json'}; run the same command again to resume (unfinished seeds restart from "
                  "their beginning, with the same results)", file=sys.stderr)
            return 130
        print((out / "search.md").read_text())
        written += [out / "search.json", out / "search.md", out / "trajectory.png"]
        if (out / "trained_now.csv").exists():
            written.append(out / "trained_now.csv")
    if sweep.get("mus"):
        run_size_sweep(cfg, out, sweep["mus"], runs=sweep["runs"], evaluations=sweep["evaluations"],
                       progress=not args.no_progress)
        print((out / "size_sweep.md").read_text())
        written += [out / "size_sweep.csv", out / "size_sweep.md", out / "size_sweep.png"]
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
