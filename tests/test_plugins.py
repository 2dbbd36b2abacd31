"""A third-party proxy package: built as a wheel, pip-installed into a temporary folder, then
listed, checked and scored by a study through the `zcbench.proxies` entry-point group."""
import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import yaml

from tests.test_runner import write_gt
from search_spaces.base import get_space

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = '''"""A tiny zcbench plugin: the number of nn.ReLU modules times the log of the parameter count."""
import math

from torch import nn

from zc_proxies import register_proxy


@register_proxy("relu_depth", consumes=(), family="size", paper="a plugin for tests")
def relu_depth(probe):
    """Count of ReLU modules times log(parameters)."""
    n_relu = sum(isinstance(m, nn.ReLU) for m in probe.net.modules())
    return n_relu * math.log(sum(p.numel() for p in probe.net.parameters()))
'''


def build_wheel(folder: Path) -> Path:
    """A minimal, valid wheel (PEP 427) holding one module and an entry point."""
    name, ver = "zcbench_relu_depth", "0.1"
    files = {
        f"{name}.py": PLUGIN,
        f"{name}-{ver}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n",
        f"{name}-{ver}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{name}-{ver}.dist-info/entry_points.txt": f"[zcbench.proxies]\nrelu_depth = {name}\n",
    }
    record = []
    path = folder / f"{name}-{ver}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for arc, text in files.items():
            data = text.encode()
            z.writestr(arc, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{arc},sha256={digest},{len(data)}")
        rec = f"{name}-{ver}.dist-info/RECORD"
        z.writestr(rec, "\n".join(record + [f"{rec},,"]) + "\n")
    return path


def test_plugin_is_listed_checked_and_scored(tmp_path):
    wheel = build_wheel(tmp_path)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                    "--target", str(site), str(wheel)], check=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    run = lambda *args: subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, check=True)

    listed = run("-m", "experiments.cli", "list", "proxies", "relu*").stdout
    assert "relu_depth" in listed and "a plugin for tests" in listed

    checked = run("-c", "from zc_proxies.testing import check_proxy; print(check_proxy('relu_depth'))").stdout
    assert "darts/cifar10: ok" in checked and "nb201/cifar10: ok" in checked

    space = get_space("darts")
    gt = tmp_path / "gt.csv"
    write_gt(gt, space, space.sample(10, seed=2), np.random.default_rng(0))
    cfg = tmp_path / "plugin.yaml"
    cfg.write_text(yaml.safe_dump({"space": "darts", "task": "cifar10", "data": {"source": "noise", "batch_size": 4},
                                   "ground_truth": {"path": str(gt)}, "archs": {"from": "ground_truth", "n": None},
                                   "proxies": ["relu_depth", "params"]}))
    run("-m", "experiments.cli", "run", str(cfg), "--out", str(tmp_path / "out"), "--no-progress")
    rows = (tmp_path / "out" / "correlations.csv").read_text().splitlines()
    plugin_row = next(r for r in rows if ",relu_depth," in r)
    assert ",10," in plugin_row  # all 10 architectures scored


def test_broken_plugin_does_not_break_builtins(tmp_path):
    name = "zcbench_broken"
    dist = tmp_path / f"{name}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[zcbench.proxies]\nbroken = {name}\n")
    (tmp_path / f"{name}.py").write_text("raise ImportError('needs a library that is not installed')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-m", "experiments.cli", "list", "proxies"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0 and "swap" in out.stdout
    assert "plugin 'broken' failed to load" in out.stderr and "not installed" in out.stderr
