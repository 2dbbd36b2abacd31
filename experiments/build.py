"""``zcbench build-benchmark``: train sampled architectures of a space with a fixed recipe and
write their ground truth, for tasks that no public benchmark covers.

A benchmark spec is a YAML file (see ``search_spaces/embedded/nb201_fmnist.yaml``)::

    name: nb201_fmnist
    space: nb201
    space_options: {C: 8, N: 1}
    task: fashion-mnist
    archs: {n: 500, seed: 0}          # n distinct architectures, space.sample(n, seed)
    data: {source: fashion-mnist, path: null, size: 16, train: 10000, val: 2000, test: 2000}
    recipe: {epochs: 2, batch_size: 256, optimizer: sgd, lr: 0.1, momentum: 0.9,
             nesterov: true, weight_decay: 0.0005, schedule: cosine, augmentation: none,
             seed: 0, threads: 1, device: cpu}

Data: the first ``train`` images of the training split train; the next ``val`` images of the
training split are the validation set; the first ``test`` images of the test split the test
set. Every image is resized to ``size`` and normalised as the probe's batches are
(:func:`search_spaces.data.load_batch`).

Training one architecture is a pure function of (spec, architecture): its weights are drawn
with :func:`~search_spaces.base.seeded_build` from ``derive_seed(recipe.seed, arch)``, the
shuffling order from a generator seeded the same way. On a CPU with ``threads: 1`` (the
default) a rebuild gives the same accuracies bit for bit on the same machine; other CPUs or a
GPU may differ by a few test images.

The output is a CSV that :func:`search_spaces.ground_truth.read_csv` reads: ``#`` comment
lines with the spec as JSON and the machine, then ``arch,val_accuracy,test_accuracy,params,
train_seconds`` rows, one appended (and flushed) per architecture, so an interrupted build
resumes where it stopped; a build over an existing file with a different recipe is refused.
"""
from __future__ import annotations

import copy
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Hashable


from experiments.config import ConfigError, read_yaml, section

FORMAT_LINE = "# zcbench benchmark v1"
COLUMNS = ("arch", "val_accuracy", "test_accuracy", "params", "train_seconds")

DATA_DEFAULTS = {"source": "fashion-mnist", "path": None, "size": None, "train": 10000, "val": 2000,
                 "test": 2000}
RECIPE_DEFAULTS = {"epochs": 2, "batch_size": 256, "optimizer": "sgd", "lr": 0.1, "momentum": 0.9,
                   "nesterov": True, "weight_decay": 5e-4, "schedule": "cosine", "augmentation": "none",
                   "seed": 0, "threads": 1, "device": "cpu"}
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "constant")
AUGMENTATIONS = ("none", "flip")
TOP_KEYS = {"name", "description", "space", "space_options", "task", "archs", "data", "recipe"}


class BenchmarkFileError(ConfigError):
    """An output file that cannot be resumed (another recipe, or not a zcbench benchmark)."""


def parse_spec(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate a benchmark spec and fill in its defaults."""
    if not isinstance(raw, dict):
        raise ConfigError("a benchmark spec must be a YAML mapping")
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown benchmark spec key(s) {unknown}; valid: {sorted(TOP_KEYS)}")
    for key in ("name", "space", "task"):
        if not raw.get(key):
            raise ConfigError(f"the benchmark spec needs '{key}'")
    spec = {"name": str(raw["name"]), "description": raw.get("description", ""), "space": raw["space"],
            "space_options": dict(raw.get("space_options") or {}), "task": raw["task"],
            "archs": section(raw, "archs", {"n": 100, "seed": 0}),
            "data": section(raw, "data", DATA_DEFAULTS),
            "recipe": section(raw, "recipe", RECIPE_DEFAULTS)}
    r, d = spec["recipe"], spec["data"]
    for key, valid in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("augmentation", AUGMENTATIONS)):
        if r[key] not in valid:
            raise ConfigError(f"recipe.{key} must be one of {list(valid)}, got {r[key]!r}")
    for key in ("epochs", "batch_size", "threads"):
        if isinstance(r[key], bool) or not isinstance(r[key], int) or r[key] < 1:
            raise ConfigError(f"recipe.{key} must be a positive int, got {r[key]!r}")
    for key in ("train", "val", "test"):
        if isinstance(d[key], bool) or not isinstance(d[key], int) or d[key] < 1:
            raise ConfigError(f"data.{key} must be a positive int (number of images), got {d[key]!r}")
    if r["device"] not in ("cpu", "cuda", "auto"):
        raise ConfigError(f"recipe.device must be cpu, cuda or auto, got {r['device']!r}")
    return spec


def load_spec(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    return parse_spec(read_yaml(path, "benchmark spec", overrides,
                                examples="search_spaces/embedded/nb201_fmnist.yaml"))


def recipe_key(spec: dict[str, Any]) -> dict[str, Any]:
    """What determines an architecture's accuracies: everything but the list of architectures
    and the free-text fields."""
    key = copy.deepcopy({k: spec[k] for k in ("space", "space_options", "task", "data", "recipe")})
    key["data"].pop("path", None)  # where the files are does not change them
    key["recipe"].pop("device", None)
    return json.loads(json.dumps(key))


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


# ----------------------------------------------------------------------------- training


class Trainer:
    """Holds the spec's data in memory and trains one architecture at a time."""

    def __init__(self, spec: dict[str, Any]):
        import torch

        import search_spaces  # noqa: F401  (registers the built-in spaces)
        from search_spaces.base import get_space
        from search_spaces.data import load_batch

        self.spec = spec
        self.space = get_space(spec["space"], **spec["space_options"])
        self.info = self.space.task(spec["task"])
        d, r = spec["data"], spec["recipe"]
        x, y = load_batch(d["source"], d["train"] + d["val"], size=d["size"], path=d["path"], split="train",
                          num_classes=self.info.num_classes)
        self.train = (x[:d["train"]], y[:d["train"]])
        self.val = (x[d["train"]:], y[d["train"]:])
        self.test = load_batch(d["source"], d["test"], size=d["size"], path=d["path"], split="test",
                               num_classes=self.info.num_classes)
        dev = r["device"]
        if dev == "auto":
            dev = "cuda" if torch.cuda.is_available() else "cpu"
        if dev == "cuda" and not torch.cuda.is_available():
            raise ConfigError("recipe.device is cuda but torch sees no GPU; set device: cpu or auto")
        self.device = torch.device(dev)

    def run(self, arch: Hashable) -> dict[str, Any]:
        """Train ``arch``; returns its CSV row as a dict."""
        import torch
        import torch.nn.functional as F

        from search_spaces.base import derive_seed, seeded_build

        r = self.spec["recipe"]
        threads = torch.get_num_threads()
        torch.set_num_threads(r["threads"])
        t0 = time.perf_counter()
        try:
            seed = derive_seed(r["seed"], arch, "train")
            net = seeded_build(self.space, arch, self.spec["task"], r["seed"]).to(self.device)
            params = sum(p.numel() for p in net.parameters())
            x, y = self.train
            n = len(x)
            steps_per_epoch = math.ceil(n / r["batch_size"])
            total = r["epochs"] * steps_per_epoch
            if r["optimizer"] == "sgd":
                opt = torch.optim.SGD(net.parameters(), lr=r["lr"], momentum=r["momentum"],
                                      nesterov=r["nesterov"] and r["momentum"] > 0, weight_decay=r["weight_decay"])
            else:
                opt = torch.optim.AdamW(net.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])
            gen = torch.Generator().manual_seed(seed)
            net.train()
            step = 0
            for _ in range(r["epochs"]):
                order = torch.randperm(n, generator=gen)
                flips = torch.rand(n, generator=gen) < 0.5 if r["augmentation"] == "flip" else None
                for i in range(0, n, r["batch_size"]):
                    idx = order[i:i + r["batch_size"]]
                    xb, yb = x[idx], y[idx]
                    if flips is not None:
                        f = flips[idx]
                        xb = torch.where(f.view(-1, 1, 1, 1), xb.flip(-1), xb)
                    if r["schedule"] == "cosine":
                        for g in opt.param_groups:
                            g["lr"] = 0.5 * r["lr"] * (1 + math.cos(math.pi * step / total))
                    loss = F.cross_entropy(net(xb.to(self.device)), yb.to(self.device))
                    if not torch.isfinite(loss):
                        break
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    step += 1
            net.eval()
            with torch.no_grad():
                val, test = (self._accuracy(net, *split) for split in (self.val, self.test))
        finally:
            torch.set_num_threads(threads)
        return {"arch": str(arch), "val_accuracy": val, "test_accuracy": test, "params": params,
                "train_seconds": round(time.perf_counter() - t0, 2)}

    def _accuracy(self, net, x, y) -> float:
        correct = 0
        for i in range(0, len(x), 1000):
            out = net(x[i:i + 1000].to(self.device))
            correct += int((out.argmax(1).cpu() == y[i:i + 1000]).sum())
        acc = 100.0 * correct / len(x)
        return round(acc, 4) if math.isfinite(acc) else float("nan")


# ----------------------------------------------------------------------------- the file


def read_done(path: Path, spec: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Rows already in ``path`` (arch -> row), after checking that it holds this recipe. A
    last line cut off by a kill is dropped from the file."""
    if not path.exists() or path.stat().st_size == 0:
        return {}
    text = path.read_text()
    lines = text.split("\n")
    if lines[0] != FORMAT_LINE:
        raise BenchmarkFileError(
            f"{path} exists and is not a zcbench benchmark file (its first line is not {FORMAT_LINE!r}); "
            "choose another --out or delete it")
    if not text.endswith("\n"):  # killed mid-row
        text = text[: text.rfind("\n") + 1]
        path.write_text(text)
        lines = text.split("\n")
    stored = None
    for line in lines:
        if line.startswith("# recipe: "):
            stored = json.loads(line[len("# recipe: "):])
    if stored != recipe_key(spec):
        raise BenchmarkFileError(
            f"{path} was built with another recipe, data or space:\n  in the file: {json.dumps(stored)}\n"
            f"  in the spec: {json.dumps(recipe_key(spec))}\nchoose another --out, or delete the file to rebuild")
    rows = [ln for ln in lines if ln and not ln.startswith("#")]
    header = rows[0].split(",") if rows else []
    if header != list(COLUMNS):
        raise BenchmarkFileError(f"{path}: expected the column header {','.join(COLUMNS)}, got {rows[:1]}")
    return {r.split(",")[0]: dict(zip(COLUMNS, r.split(","))) for r in rows[1:]}


def _header(spec: dict[str, Any]) -> str:
    return "\n".join([
        FORMAT_LINE,
        f"# name: {spec['name']}",
        f"# recipe: {json.dumps(recipe_key(spec))}",
        f"# archs: {json.dumps(spec['archs'])}",
        f"# built on: {machine()}; torch {__import__('torch').__version__}",
        ",".join(COLUMNS),
    ]) + "\n"


def _format(row: dict[str, Any]) -> str:
    return ",".join(str(row[c]) for c in COLUMNS) + "\n"


_TRAINERS: dict[str, Trainer] = {}  # per process, by spec


def _train(task: tuple[dict[str, Any], str]) -> dict[str, Any]:
    """The unit of work: ``(spec, arch string)`` -> the architecture's row; the trainer (data,
    recipe) is made once per process."""
    spec, arch_s = task
    key = json.dumps(spec, sort_keys=True, default=str)
    if key not in _TRAINERS:
        _TRAINERS.clear()
        _TRAINERS[key] = Trainer(spec)
    trainer = _TRAINERS[key]
    return trainer.run(trainer.space.parse(arch_s))


def build(spec: dict[str, Any], out: str | Path, *, workers: int = 1, progress: bool = True,
          limit: int | None = None) -> dict[str, Any]:
    """Train every architecture of the spec not yet in ``out``; append each row as it
    finishes. ``limit`` stops after that many new architectures (for a build in slices)."""
    from tqdm import tqdm

    import search_spaces  # noqa: F401
    from search_spaces.base import get_space

    out = Path(out).expanduser()
    space = get_space(spec["space"], **spec["space_options"])
    space.task(spec["task"])
    archs = [str(a) for a in space.sample(spec["archs"]["n"], spec["archs"]["seed"])]
    done = read_done(out, spec)
    todo = [a for a in archs if a not in done]
    if limit is not None:
        todo = todo[:limit]
    stats = {"total": len(archs), "done_before": len(archs) - len([a for a in archs if a not in done]),
             "trained": 0, "seconds": 0.0}
    if not todo:
        return stats
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.stat().st_size == 0:
        out.write_text(_header(spec))
    bar = tqdm(total=len(archs), initial=stats["done_before"], desc=spec["name"], unit="arch",
               disable=not progress, file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
    t0 = time.perf_counter()
    with open(out, "a") as f:
        def write(row):
            f.write(_format(row))
            f.flush()
            os.fsync(f.fileno())
            stats["trained"] += 1
            bar.set_postfix_str(f"last {row['test_accuracy']:.1f}% in {row['train_seconds']:.0f}s")
            bar.update(1)

        from experiments.executors import make_executor

        try:
            with make_executor(workers) as executor:
                for _, row in executor.map(_train, [(spec, a) for a in todo]):
                    write(row)
        finally:
            bar.close()
            stats["seconds"] = time.perf_counter() - t0
    return stats
