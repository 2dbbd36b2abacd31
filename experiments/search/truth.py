"""How good the architectures a search finds really are: their accuracy from the ground truth (one
or several metrics, e.g. one per dataset; the first is the primary one), their percentile among
the ground truth's architectures, the ``ceiling`` (the best true value among the architectures a
method scored), and, with ``train_missing``, a training with the benchmark's own recipe of a
found architecture that the ground truth lacks (kept in ``trained_now.csv``)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable, Hashable

import numpy as np

from experiments.search.config import SearchConfig, check_train_spec, resolve_config_path

class Truth:
    """Accuracy of found architectures: from the ground truth (one or several metrics, e.g. one
    per dataset), else (``train_missing``) trained now with the benchmark's recipe (cached in
    ``out/trained_now.csv``)."""

    def __init__(self, cfg: SearchConfig, space, out: Path):
        from experiments.inputs import ground_truth_from

        self.metrics: list[str] = []
        self.values: dict[str, dict[Hashable, float]] = {}  # metric -> architecture -> value
        self.sorted: dict[str, np.ndarray] = {}
        self.path = None
        self.spec = None
        self.trainer = None
        self.trained: dict[str, dict[str, Any]] = {}
        self.space = space
        self.on_train: Callable[[], None] | None = None  # called before each training (progress)
        g = cfg.ground_truth
        if g is None:
            return
        self.path = str(g["path"])
        gt = ground_truth_from(g, resolve_config_path(self.path, cfg.base_dir), space, cfg.task)
        m = g["metric"]
        self.metrics = list(m) if isinstance(m, list) else \
            [m or ("val_accuracy" if "val_accuracy" in gt.metrics else gt.metrics[0])]
        for name in self.metrics:
            self.values[name] = gt.metric(name)
            self.sorted[name] = np.sort(np.array(list(self.values[name].values()), dtype=float))
        if cfg.train_missing:
            from experiments.build import read_done

            self.spec = check_train_spec(cfg.train_missing, cfg.base_dir, cfg.raw, cfg.space_options, g)
            self.spec_path = cfg.train_missing
            self.cache_file = out / "trained_now.csv"
            for arch_s, row in read_done(self.cache_file, self.spec).items():
                self.trained[arch_s] = {k: float(v) for k, v in row.items() if k != "arch"}

    @property
    def metric(self) -> str | None:
        """The first (primary) metric: the one of ``accuracy`` and ``percentile``."""
        return self.metrics[0] if self.metrics else None

    def describe(self) -> dict[str, Any] | None:
        if not self.metrics:
            return None
        return {"path": self.path, "metric": self.metric, "metrics": self.metrics,
                "architectures": len(self.values[self.metric]),
                "best": {m: float(self.sorted[m][-1]) for m in self.metrics},
                "median": {m: float(np.median(self.sorted[m])) for m in self.metrics},
                "train_missing": self.spec_path if self.spec is not None else None}

    def percentile(self, acc: float, metric: str | None = None) -> float:
        """Percent of the ground-truth architectures whose ``metric`` is <= ``acc``."""
        srt = self.sorted[metric or self.metric]
        return round(100.0 * float(np.searchsorted(srt, acc, side="right")) / len(srt), 2)

    def lookup(self, arch) -> dict[str, Any]:
        """The primary metric's ``accuracy`` and ``percentile``, and every metric's under ``truth``."""
        out: dict[str, Any] = {"accuracy": None, "percentile": None, "trained_now": False, "accuracy_source": None}
        if self.metric is None:
            return out
        if arch in self.values[self.metric]:
            out["accuracy_source"] = "ground_truth"
            out["truth"] = {}
            for m in self.metrics:
                acc = self.values[m].get(arch)
                out["truth"][m] = {"accuracy": acc, "percentile": self.percentile(acc, m)
                                   if acc is not None and math.isfinite(acc) else None}
        elif self.spec is not None:
            row = self._train(arch)
            out.update(trained_now=True, accuracy_source=f"trained now with {self.spec_path}",
                       train_seconds=row["train_seconds"])
            acc = row[self.metric]
            out["truth"] = {self.metric: {"accuracy": acc, "percentile": self.percentile(acc)
                                          if math.isfinite(acc) else None}}
        else:
            out["accuracy_source"] = "not in the ground truth"
            return out
        out["accuracy"] = out["truth"][self.metric]["accuracy"]
        out["percentile"] = out["truth"][self.metric]["percentile"]
        return out

    def ceiling(self, archs) -> dict[str, dict[str, Any]]:
        """Per metric, the best true value among ``archs`` (those in the ground truth): what a
        perfect proxy would have picked from the same scored architectures."""
        archs = [self.space.parse(a) if isinstance(a, str) else a for a in archs]
        out = {}
        for m in self.metrics:
            vals = [(v, str(a)) for a in archs if (v := self.values[m].get(a)) is not None and math.isfinite(v)]
            if not vals:
                out[m] = {"accuracy": None, "percentile": None, "arch": None, "in_truth": 0}
                continue
            best, arch = max(vals)
            out[m] = {"accuracy": best, "percentile": self.percentile(best, m), "arch": arch, "in_truth": len(vals)}
        return out

    def _train(self, arch) -> dict[str, Any]:
        from experiments.build import COLUMNS, FORMAT_LINE, Trainer, recipe_key

        s = str(arch)
        if s not in self.trained:
            if self.on_train is not None:
                self.on_train()
            if self.trainer is None:
                self.trainer = Trainer(self.spec)
            row = self.trainer.run(arch)
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            new = not self.cache_file.exists() or self.cache_file.stat().st_size == 0
            with open(self.cache_file, "a") as f:
                if new:
                    f.write(f"{FORMAT_LINE}\n# name: {self.spec['name']} (architectures found by zcbench search)\n"
                            f"# recipe: {json.dumps(recipe_key(self.spec))}\n{','.join(COLUMNS)}\n")
                f.write(",".join(str(row[c]) for c in COLUMNS) + "\n")
            self.trained[s] = {k: float(v) for k, v in row.items() if k != "arch"}
        return self.trained[s]

