"""Pass budget of NAS-Bench-Suite-Zero's 13 proxies: what each shared signal runs, what it costs,
and how far the fused probe is from the passes the proxies' definitions need.

    python -m experiments.benchmarks.pass_budget [--spaces nb201 nb301 nb101] [--networks 3 2 2]
        [--out results/pass_budget.md]

Per network (built and probed as ``zcbench run`` does, one torch thread, the first Fashion-MNIST
training images at 32 x 32: 64 for NB201 C=16 N=5, 32 for NB301 and NB101 as NB-Suite-Zero):

* the 13 proxies scored in one fused probe, with every pass counted, not estimated: a forward
  pass is an outermost ``nn.Module`` call (global module hooks; its batch size and dtype are
  kept), a backward pass a call of ``torch.autograd.backward`` (``Tensor.backward``) or
  ``torch.autograd.grad`` (marked 2nd order when the graph it differentiates holds nodes that a
  ``create_graph`` backward recorded: GraSP's Hessian-gradient product), a copy
  an outermost ``copy.deepcopy`` of an ``nn.Module``. Each count and CPU second goes to the
  signal that ran it (a signal computed inside another goes to the inner one); what runs
  outside every signal goes to the proxy (its own arithmetic: eigenvalues, determinants, the
  flops count);
* the unit costs of the same network and batch: one forward pass (train mode, no autograd
  graph) and one forward + backward of the loss (``F`` and ``FB`` below), medians of 3;
* the bound: the passes the union of the 13 definitions needs, each once, run bare (no hooks,
  copies or proxy arithmetic): one train-mode forward of the batch shared by the loss gradient,
  fisher, nwot's codes and the input Jacobian; the loss gradient with its graph (GraSP's Hg
  needs it), the Jacobian's backward to the input, GraSP's 2nd-order backward; SynFlow's float64
  forward + backward of one all-ones sample; Zen's two forward passes of the re-initialised copy.

CPU seconds are the process's own (``time.process_time``, one torch thread): what the work cost
on a shared machine, where wall time depends on the other processes.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import os
import platform
import statistics
import time
import types
from collections import defaultdict

import torch
import torch.nn.functional as F
from torch import nn

from experiments.benchmarks import add_out_argument, publish

NBSZ_PROXIES = ["epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm", "nwot", "params", "plain",
                "snip", "synflow", "zen"]
SPACES = {"nb201": ({"C": 16, "N": 5}, 64), "nb301": ({}, 32), "nb101": ({}, 32)}
DEFAULT_NETWORKS = {"nb201": 3, "nb301": 2, "nb101": 2}
OUTSIDE = "(outside signals)"


def _second_order(outputs, limit: int = 64) -> bool:
    """Does ``outputs``'s graph differentiate a backward pass (a node recorded by a
    ``create_graph`` backward, ``*BackwardBackward*``) within ``limit`` nodes of it?"""
    todo = [t.grad_fn for t in ([outputs] if isinstance(outputs, torch.Tensor) else outputs)
            if isinstance(t, torch.Tensor) and t.grad_fn is not None]
    seen = 0
    while todo and seen < limit:
        node = todo.pop(0)
        seen += 1
        if "BackwardBackward" in type(node).__name__:
            return True
        todo += [n for n, _ in node.next_functions if n is not None]
    return False


class PassLog:
    """Counts forward/backward passes and module copies, per region (a signal or a proxy)."""

    def __init__(self):
        self.region = [OUTSIDE]
        self.fwd = defaultdict(list)       # region -> [(batch, dtype, grad enabled)]
        self.bwd = defaultdict(list)       # region -> ["1st" | "1st+graph" | "2nd"]
        self.copies = defaultdict(int)
        self.cpu = defaultdict(float)      # region -> exclusive CPU seconds
        self._depth = 0
        self._copy_depth = 0

    # regions ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def enter(self, name: str):
        t = time.process_time()
        outer = self.region[-1]
        self.cpu[outer] += t - self._mark if hasattr(self, "_mark") else 0.0
        self._mark = t
        self.region.append(name)
        try:
            yield
        finally:
            t = time.process_time()
            self.cpu[name] += t - self._mark
            self._mark = t
            self.region.pop()

    def start(self):
        self._mark = time.process_time()

    def stop(self):
        self.cpu[self.region[-1]] += time.process_time() - self._mark

    # hooks -----------------------------------------------------------------------------
    def _pre(self, module, args):
        if self._depth == 0:
            x = next((a for a in args if isinstance(a, torch.Tensor)), None)
            self.fwd[self.region[-1]].append((None if x is None else int(x.shape[0]),
                                              None if x is None else str(x.dtype).replace("torch.", ""),
                                              torch.is_grad_enabled()))
        self._depth += 1

    def _post(self, module, args, out):
        self._depth = max(0, self._depth - 1)

    def _backward(self, outputs, create_graph: bool):
        kind = "2nd" if _second_order(outputs) else ("1st+graph" if create_graph else "1st")
        self.bwd[self.region[-1]].append(kind)

    @contextlib.contextmanager
    def counting(self):
        from torch.nn.modules import module as M

        h1 = M.register_module_forward_pre_hook(self._pre)
        h2 = M.register_module_forward_hook(self._post)
        ag_backward, ag_grad, deepcopy = torch.autograd.backward, torch.autograd.grad, copy.deepcopy
        log = self

        def backward(tensors, *a, **k):
            log._backward(tensors, bool(k.get("create_graph", False)))
            return ag_backward(tensors, *a, **k)

        def grad(outputs, *a, **k):
            log._backward(outputs, bool(k.get("create_graph", False)))
            return ag_grad(outputs, *a, **k)

        def counted_deepcopy(x, memo=None, _nil=[]):
            top = log._copy_depth == 0 and isinstance(x, nn.Module)
            if top:
                log.copies[log.region[-1]] += 1
            log._copy_depth += 1
            try:
                return deepcopy(x, memo, _nil) if memo is not None else deepcopy(x)
            finally:
                log._copy_depth -= 1

        torch.autograd.backward, torch.autograd.grad, copy.deepcopy = backward, grad, counted_deepcopy
        try:
            yield self
        finally:
            torch.autograd.backward, torch.autograd.grad, copy.deepcopy = ag_backward, ag_grad, deepcopy
            h1.remove()
            h2.remove()


@contextlib.contextmanager
def attributed(log: PassLog):
    """Every registered signal and proxy function runs inside its own region of ``log``."""
    import zc_proxies
    from zc_proxies.probe import SIGNALS

    def wrap_signal(name, fn):
        def run(probe, **params):
            with log.enter(name):
                return fn(probe, **params)
        return run

    signals = {name: wrap_signal(name, fn) for name, fn in SIGNALS.items()}
    infos = [zc_proxies.get_proxy(n) for n in NBSZ_PROXIES]
    saved_fn = [(i, i.fn) for i in infos]

    def wrap_proxy(name, fn):
        def run(probe, **opts):
            with log.enter("proxy " + name):
                return fn(probe, **opts)
        return run

    for info, fn in saved_fn:
        object.__setattr__(info, "fn", wrap_proxy(info.name, fn))
    try:
        with SIGNALS.replaced(signals):
            yield
    finally:
        for info, fn in saved_fn:
            object.__setattr__(info, "fn", fn)


def _cpu(fn, reps: int = 3) -> float:
    out = []
    for _ in range(reps):
        t = time.process_time()
        fn()
        out.append(time.process_time() - t)
    return statistics.median(out)


def unit_costs(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """CPU seconds of one train-mode forward (no graph) and one forward + backward of the loss."""
    from zc_proxies.losses import main_output

    work = copy.deepcopy(net).train()

    def fwd():
        with torch.no_grad():
            work(x)

    def fb():
        work.zero_grad(set_to_none=True)
        F.cross_entropy(main_output(work(x)), y).backward()

    fwd(), fb()  # warm-up
    return {"F": _cpu(fwd), "FB": _cpu(fb)}


def _identity(self, x):
    return x


def bound_passes(net: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """CPU seconds of the passes the 13 definitions need, each once, run bare (see the module doc)."""
    from zc_proxies.gradients import weight_layers
    from zc_proxies.losses import main_output
    from zc_proxies.probe import gaussian_init_

    work = copy.deepcopy(net).train()
    weights = [m.weight for _, m in weight_layers(work)]
    syn = copy.deepcopy(net)
    for m in syn.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.forward = types.MethodType(_identity, m)
    with torch.no_grad():
        for t in syn.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    syn = syn.double()
    syn_w = [m.weight for _, m in weight_layers(syn)]
    ones = torch.ones((1, *x.shape[1:]), dtype=torch.float64)
    zen = gaussian_init_(copy.deepcopy(net).train(), torch.Generator().manual_seed(seed))
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))

    def shared():
        xi = x.detach().requires_grad_(True)
        out = main_output(work(xi))
        g = torch.autograd.grad(F.cross_entropy(out, y), weights, create_graph=True, allow_unused=True)
        torch.autograd.grad(out, xi, torch.ones_like(out), retain_graph=True)
        z = sum((gi.detach() * gi).sum() for gi in g if gi is not None)
        torch.autograd.grad(z, weights, allow_unused=True)

    def synflow():
        torch.autograd.grad(main_output(syn(ones)).sum(), syn_w, allow_unused=True)

    def zen_passes():
        with torch.no_grad():
            zen(noise)
            zen(noise + 0.01 * noise)

    shared(), synflow(), zen_passes()  # warm-up
    return {"shared": _cpu(shared), "synflow": _cpu(synflow), "zen": _cpu(zen_passes)}


def profile(space_name: str, n: int, seed: int = 0) -> list[dict]:
    import zc_proxies
    from experiments.inputs import study_probe
    from search_spaces.base import get_space
    from search_spaces.data import load_batch

    options, batch = SPACES[space_name]
    space = get_space(space_name, **options)
    x, y = load_batch("fashion-mnist", batch, size=32, split="train", pick="first")
    archs = space.sample(n + 1, seed)
    wanted = {p: (p, {}) for p in NBSZ_PROXIES}
    rows = []
    for i, arch in enumerate(archs):
        probe = study_probe(space, arch, "cifar10", seed, x, y)
        log = PassLog()
        with attributed(log), log.counting():
            log.start()
            t = time.process_time()
            res = zc_proxies.score(probe, wanted)
            total = time.process_time() - t
            log.stop()
        if i == 0:
            continue  # warm-up network
        failed = {p: r.message for p, r in res.items() if r.status == "failed"}
        rows.append({"arch": str(arch), "total": total, "log": log, "failed": failed,
                     "unit": unit_costs(probe.net, x, y), "bound": bound_passes(probe.net, x, y)})
        print(f"{space_name} {arch}: {total:.2f} s CPU, FB {rows[-1]['unit']['FB']:.3f} s, "
              f"bound {sum(rows[-1]['bound'].values()):.2f} s", flush=True)
    return rows


def _cell(text: str, width: int = 90) -> str:
    """``text`` inside markdown (NB201's architecture strings hold ``|``), cut to ``width``."""
    text = text if len(text) <= width else text[: width - 3] + "..."
    return text.replace("|", "\\|")


def _passes(fwds, bwds) -> str:
    parts = []
    counts = defaultdict(int)
    for b, dt, g in fwds:
        counts[f"F[{b}{'' if dt == 'float32' else ' ' + str(dt)}{'' if g else ', no grad'}]"] += 1
    parts += [f"{c} {k}" if c > 1 else k for k, c in counts.items()]
    bc = defaultdict(int)
    for k in bwds:
        bc[k] += 1
    parts += [f"{c} B{'' if k == '1st' else '(' + k + ')'}" if c > 1 else f"B{'' if k == '1st' else '(' + k + ')'}"
              for k, c in bc.items()]
    return " + ".join(parts) or "none"


def space_table(name: str, rows: list[dict]) -> list[str]:
    options, batch = SPACES[name]
    regions = sorted({r for row in rows for r in set(row["log"].cpu) | set(row["log"].fwd)},
                     key=lambda r: (r.startswith("proxy ") or r == OUTSIDE, r))
    fb = statistics.median(r["unit"]["FB"] for r in rows)
    f = statistics.median(r["unit"]["F"] for r in rows)
    total = statistics.median(r["total"] for r in rows)
    bound = statistics.median(sum(r["bound"].values()) for r in rows)
    first = rows[0]["log"]
    lines = [f"## {name} ({', '.join(f'{k}={v}' for k, v in options.items()) or 'defaults'}), batch {batch}, "
             f"{len(rows)} networks", "",
             f"One forward F = {f:.3f} s, one forward + backward FB = {fb:.3f} s (medians, CPU). "
             f"Fused 13 proxies: {total:.2f} s = **{total / fb:.1f} FB**; the bound: {bound:.2f} s = "
             f"**{bound / fb:.1f} FB** (shared pass {statistics.median(r['bound']['shared'] for r in rows) / fb:.2f}, "
             f"synflow {statistics.median(r['bound']['synflow'] for r in rows) / fb:.2f}, zen "
             f"{statistics.median(r['bound']['zen'] for r in rows) / fb:.2f}); zcbench is "
             f"**{total / bound:.2f}x** the bound.", "",
             "| signal / proxy | passes (first network; F[batch], B = backward) | copies | median CPU s | in FB |",
             "|---|---|---:|---:|---:|"]
    for reg in regions:
        cpu = statistics.median(r["log"].cpu.get(reg, 0.0) for r in rows)
        if reg.startswith("proxy ") and cpu < 0.001 and not first.fwd.get(reg):
            continue
        lines.append(f"| {reg} | {_passes(first.fwd.get(reg, []), first.bwd.get(reg, []))} | "
                     f"{first.copies.get(reg, 0)} | {cpu:.3f} | {cpu / fb:.2f} |")
    fails = {p: m for r in rows for p, m in r["failed"].items()}
    if fails:
        lines += ["", "Failed: " + "; ".join(f"{p}: {m}" for p, m in fails.items())]
    lines += ["", "Per network (CPU s): " + "; ".join(
        f"`{_cell(r['arch'])}` {r['total']:.2f} (FB {r['unit']['FB']:.3f}, bound {sum(r['bound'].values()):.2f})"
        for r in rows), ""]
    return lines


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spaces", nargs="+", default=list(SPACES), choices=list(SPACES))
    ap.add_argument("--networks", nargs="+", type=int, default=None,
                    help="timed networks per space, in --spaces order (default 3 NB201, 2 NB301, 2 NB101)")
    ap.add_argument("--seed", type=int, default=0)
    add_out_argument(ap, "pass_budget")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    nets = args.networks or [DEFAULT_NETWORKS[s] for s in args.spaces]
    if len(nets) != len(args.spaces):
        ap.error("give one --networks count per space")
    load0 = os.getloadavg()
    out = {s: profile(s, n, args.seed) for s, n in zip(args.spaces, nets)}
    load1 = os.getloadavg()
    lines = ["# Pass budget: NB-Suite-Zero's 13 proxies against the passes their definitions need", "",
             f"{', '.join(NBSZ_PROXIES)}; default options, one fused probe per network; the first Fashion-MNIST "
             f"training images at 32 x 32; {platform.machine()}, 1 torch thread, torch {torch.__version__}. "
             f"CPU seconds of this process (load average {load0[0]:.1f} at the start, {load1[0]:.1f} at the end, "
             "on a 2-core machine shared with other jobs: CPU seconds, not wall). One unmeasured warm-up network "
             "per space. How passes are counted and what the bound runs: "
             "`python -m experiments.benchmarks.pass_budget --help`.", ""]
    for s in args.spaces:
        lines += space_table(s, out[s])
    lines += [f"Reproduce: `python -m experiments.benchmarks.pass_budget --spaces {' '.join(args.spaces)} "
              f"--networks {' '.join(map(str, nets))} --out {args.out}`"]
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
