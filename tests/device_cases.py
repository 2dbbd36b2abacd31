"""Every per-network proxy on a few networks, as the runner scores them: the cases of
tests/test_device.py, whose stored values (tests/data/device_golden.json) were computed by the
scoring path before the device option existed (CPU, numpy packing, per-sample NTK loop).

Regenerate (only when a proxy's definition changes on purpose):
    PYTHONPATH=. python -m tests.device_cases --write
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch import nn

GOLDEN = Path(__file__).resolve().parent / "data" / "device_golden.json"

#: every proxy scored per network (the population-level ones, tenas, reg_swap and the ensembles,
#: are computed from these), plus options that take other code paths. flops and ntk name the options
#: that were their defaults when the golden values were computed (the reference-defaults change
#: made NB-Suite-Zero's flops and TE-NAS's weight set the defaults since)
PROXIES = {
    **{p: (p, {}) for p in ("swap", "sap", "epe_nas", "fisher", "grad_norm", "grasp", "jacov", "l2_norm",
                            "nwot", "params", "plain", "snip", "synflow", "zen", "zico", "lswag")},
    "flops": ("flops", {"counter": "torch"}),
    "ntk": ("ntk", {"weights": "conv_linear"}),
    "linear_regions": ("linear_regions", {"n_samples": 200, "batches": 2}),
    "lr_crops_kaiming": ("linear_regions", {"n_samples": 100, "batches": 2, "source": "crops", "init": "kaiming"}),
    "swap_r2": ("swap", {"repeats": 2}),
    "swap_relu_gelu": ("swap", {"activations": "relu_gelu"}),
    "ntk_kaiming_r2": ("ntk", {"init": "kaiming", "repeats": 2, "weights": "conv_linear"}),
    "ntk_named_weight": ("ntk", {"weights": "named_weight", "batch": 8}),
    "zen_batch_var": ("zen", {"bn_var_source": "batch"}),
    "lswag_r2": ("lswag", {"repeats": 2, "l1": 2, "l2": 8}),
}
GELU_PROXIES = {
    "swap": ("swap", {"activations": "relu_gelu"}),
    "swap_binary": ("swap", {"activations": "relu_gelu", "gelu_sign": "binary"}),
    "sap": ("sap", {"activations": "relu_gelu"}),
    "sap_binary": ("sap", {"activations": "relu_gelu", "gelu_sign": "binary"}),
    "lswag": ("lswag", {"activations": "relu_gelu"}),
    "nwot": ("nwot", {}),
    "ntk": ("ntk", {"weights": "conv_linear"}),
    "zen": ("zen", {}),
}


def study_raw(batch: int, size: int = 16) -> dict:
    return {"name": "device", "space": "nb201", "space_options": {"C": 4, "N": 1}, "task": "fashion-mnist",
            "data": {"source": "fashion-mnist-sample", "batch_size": batch, "size": size},
            "archs": {"from": "sample", "n": 3}, "seeds": [0],
            "proxies": [{label: {"proxy": name, **opts}} for label, (name, opts) in PROXIES.items()]}


class MixedNet(nn.Module):
    """ReLU, GELU and SiLU units in one network (SWAP_Universal's activations), with BN and a
    global pool so every proxy is defined."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                                  nn.Conv2d(6, 6, 3, padding=1), nn.BatchNorm2d(6), nn.GELU(),
                                  nn.Conv2d(6, 8, 3, padding=1), nn.BatchNorm2d(8), nn.SiLU(),
                                  nn.AdaptiveAvgPool2d(1))
        self.head = nn.Sequential(nn.Linear(8, 12), nn.GELU(), nn.Linear(12, 10))

    def forward(self, x):
        return self.head(self.body(x).flatten(1))


def gelu_probe(device: str | None = None):
    import zc_proxies

    g = torch.Generator().manual_seed(5)
    net = MixedNet()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    x = torch.randn(40, 1, 8, 8, generator=g)
    y = torch.randint(0, 10, (40,), generator=g)
    if device is not None:
        net, x, y = net.to(device), x.to(device), y.to(device)
    return zc_proxies.Probe(net, x, y, seed=7, num_classes=10)


def compute(device: str | None = None) -> dict:
    """{case: {arch or "net": {label: [value, status]}}}; ``device=None``: the old call
    signatures (no device argument), for writing the golden file."""
    import zc_proxies
    from experiments.config import parse_study
    from experiments.runner import Context

    out: dict = {}
    for case, batch in (("nb201_b16", 16), ("nb201_b70", 70)):
        study = parse_study(study_raw(batch))
        ctx = Context(study) if device is None else Context(study, device=device)
        res = {}
        for arch in ctx.space.sample(3, 0):
            labels = [s.label for s in ctx.plan.scored]
            scored = ctx.score("default", 0, arch, labels)
            res[str(arch)] = {k: [r.value, r.status] for k, r in sorted(scored.items())}
        out[case] = res
    scored = zc_proxies.score(gelu_probe(device), GELU_PROXIES)
    out["mixed_gelu"] = {"net": {k: [r.value, r.status] for k, r in sorted(scored.items())}}
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    if "--write" not in sys.argv:
        sys.exit("usage: python -m tests.device_cases --write")
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(compute(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
