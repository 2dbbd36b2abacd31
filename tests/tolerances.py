"""How closely a score computed on this machine must equal one computed on another: the one table
the golden and reference tests (tests/test_device.py, tests/test_reference_agreement.py) use.

Bit for bit holds only on one machine with the same kernels, thread count and library versions
(tested by computing twice in one process). Across machines three things differ:

* torch's random initialisation (``normal_``, ``uniform_``): its DEFAULT kernels (ARM, or
  ``ATEN_CPU_CAPABILITY=default``) round some initial weights differently from its AVX2/AVX512
  ones, in the last float32 bit (2^-24 relative);
* the float32 convolution and matrix kernels (oneDNN, MKL, ATen's own): another summation
  order, a few float32 ulps per output;
* LAPACK (OpenBLAS or MKL, numpy's or torch's) and the float64 reductions: a few float64 ulps.

Each proxy's tolerance is a relative one, argued from its arithmetic; where the argument gives
only an order of magnitude, the bound is about 10 x the worst difference measured between this
machine's default kernels and other selections of them (``ATEN_CPU_CAPABILITY`` default/avx2,
``ONEDNN_MAX_CPU_ISA`` SSE41/AVX2, ``MKL_CBWR=COMPATIBLE``, ``OPENBLAS_CORETYPE``
Haswell/Prescott) on the networks of tests/device_cases.py. 0 means equal: integer counts and
shapes. A proxy missing here fails the tests that look it up: add it, with its reason, when you
add a proxy to a golden or reference test.
"""
from __future__ import annotations

import functools
import math

#: one float32 ulp, relative, at most (2^-23): two roundings of one number differ by at most this
F32 = 2.0 ** -23

#: proxy name -> (relative tolerance, why)
TOLERANCES: dict[str, tuple[float, str]] = {
    # ---- integer counts and shapes: exact
    "params": (0.0, "a count of weights"),
    "flops": (0.0, "a count of multiply-adds, from shapes only"),
    "swap": (0.0, "a count of distinct activation sign patterns (the mean of counts over repeats)"),
    "sap": (0.0, "a count of distinct per-unit sign patterns"),
    "linear_regions": (0.0, "a count of distinct activation patterns"),
    # ---- float64 arithmetic on exact or last-bit inputs
    "reg_swap": (1e-15, "a count times exp of a float64 expression of the parameter count: exp's last "
                        "bit (numpy's SIMD and scalar exp differ by up to 1 ulp, 2.2e-16)"),
    "nwot": (1e-13, "log|det K| of an integer kernel (K counts equal activation signs, exact); LAPACK's LU "
                    "(OpenBLAS or MKL, any core type) rounds each pivot to a few float64 ulps: an absolute "
                    "error of about n^2 ulps (5e-13 for n = 70) on values of 100 and more"),
    "l2_norm": (2 * F32, "a float64 sum of squared weights: a weight that differs in its last float32 bit "
                         "(torch's DEFAULT and AVX2 initialisation kernels) changes its square by at most 2^-22 "
                         "relative, and so the sum of these positive terms (1.8e-7 measured)"),
    "synflow": (1e-7, "a float64 sum of positive products of |w| along paths: weights that differ in their last "
                      "float32 bit (one ulp, of either sign, averaging out: 7e-10 measured) and float64 passes "
                      "(1e-15)"),
    # ---- float32 forward and backward passes, reduced in float64
    "grad_norm": (5e-6, "float64 sums of float32 gradients, positive terms: the gradients' rounding through "
                        "the network's depth (2.5e-7 measured)"),
    "snip": (5e-6, "as grad_norm: |w g| summed (1.0e-7 measured)"),
    "fisher": (5e-6, "as grad_norm: squared activation-gradient products summed (3.3e-7 measured)"),
    "jacov": (1e-6, "log-eigenvalues of the correlation of float32 input Jacobians, float64 (7.9e-8 measured)"),
    "epe_nas": (2e-5, "correlations of float32 Jacobians per class, summed in float64 (2.4e-6 measured)"),
    "zen": (5e-6, "log of float64 norms of float32 feature differences under a 1e-2 input mix (3.7e-7 measured)"),
    "ntk": (1e-3, "λmax/λmin of the float64 Gram matrix of float32 per-sample gradients: λmin carries the "
                  "gradients' rounding times the condition number, the value itself (7.5e-5 measured at 2,724)"),
    "plain": (1e-4, "a signed sum of w g with cancellation: the gradients' rounding relative to the much "
                    "larger terms (6.8e-6 measured)"),
    "grasp": (2e-3, "a signed sum of w Hg with heavy cancellation, through a Hessian-vector product "
                    "(1.5e-4 measured)"),
    "zico": (5e-3, "log of mean/std of each weight's gradient over 2 chunks, std = |g1 - g2| / 2: the "
                   "gradients' rounding amplified where the two are close (6.7e-4 measured)"),
    "lswag": (5e-3, "a count (Ψ) times Λ, a log-sum of 1/sqrt of per-weight gradient variances over 2 "
                    "chunks, amplified as zico (5.0e-4 measured)"),
}

#: (relative, why): the ``accumulate: float32`` sums of a reference implementation, summed by
#: this machine's kernels in another order
FLOAT32_SUM = (1e-6, "a float32 sum of up to 2^17 positive terms in another order (vector width): "
                     "pairwise summation's error is at most log2(n) float32 roundings, 17 x 6e-8")

#: (points, why): a trained network's accuracy against the shipped benchmark file's
ACCURACY_POINTS = (1.0, "two epochs of float32 SGD: other kernels round each step differently and the "
                        "differences grow over the 80 steps; a few of the 2,000 images (0.05 points each) flip")

#: sha256 (first 16 hex digits) of what :func:`kernels_fingerprint` computes, on the machine that
#: computed tests/data/device_golden.json and ../shared/data/reference_values (torch 2.13.0+cpu,
#: its AVX2/AVX512 kernels, oneDNN's AVX512 convolutions, MKL). Print it with
#: ``python -m tests.tolerances``.
KERNELS_FINGERPRINT = "f15fdf7078350cb7"


@functools.lru_cache(maxsize=1)
def kernels_fingerprint() -> str:
    """A hash of the initial weights of seeded NB201 networks (small ones and a full-size one) as
    this torch draws them, and of the full-size one's float32 forward output and cross-entropy
    weight gradients on a fixed batch."""
    import hashlib

    import torch

    from search_spaces.base import get_space, seeded_build

    h = hashlib.sha256()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as zcbench scores
    try:
        small = get_space("nb201", C=4, N=1)
        for arch in small.sample(3, 0):
            for p in seeded_build(small, arch, "cifar10", 0).state_dict().values():
                h.update(p.detach().contiguous().numpy().tobytes())
        full = get_space("nb201", C=16, N=5)
        net = seeded_build(full, full.sample(20, seed=0)[0], "cifar10", 0)
        g = torch.Generator().manual_seed(0)
        x, y = torch.randn(16, 3, 32, 32, generator=g), torch.randint(0, 10, (16,), generator=g)
        out = net(x)
        out = out[-1] if isinstance(out, tuple) else out
        torch.nn.functional.cross_entropy(out, y).backward()
        for t in [out.detach()] + list(net.state_dict().values()) + [p.grad for p in net.parameters()]:
            h.update(t.detach().contiguous().numpy().tobytes())
    finally:
        torch.set_num_threads(threads)
    return h.hexdigest()[:16]


def same_float32_kernels() -> bool:
    """Whether this machine's torch initialises networks to the very float32 numbers, and runs
    their passes with the very float32 rounding, the stored values were computed with. Not so
    under torch's DEFAULT kernels (ARM, x86 without AVX2, ``ATEN_CPU_CAPABILITY=default``: some
    initial weights differ in their last bit) nor under other convolution or matrix kernels
    (``ONEDNN_MAX_CPU_ISA``, ``MKL_CBWR``). Then a unit whose input lies within rounding of zero
    can take the other sign, and the scores read from its sign (nwot's codes) or through its
    derivative (every gradient proxy) move by a step: on NB201's full-size networks grasp and
    plain by up to 15 %, epe_nas by 1 %."""
    return kernels_fingerprint() == KERNELS_FINGERPRINT


#: (golden case, network) whose activations include a value within float32 rounding of zero:
#: under torch's DEFAULT initialisation kernels a ReLU input changes sign on one of the 70 images
#: (nwot moves by 5e-6, grasp by 5e-2). Where :func:`same_float32_kernels` is false, only its
#: sizes are compared.
SIGN_FLIP_CASES = {
    ("nb201_b70", "|nor_conv_1x1~0|+|avg_pool_3x3~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|"),
}
#: what is compared for a SIGN_FLIP_CASES network under other float32 kernels: values computed
#: from shapes only
SHAPE_ONLY = ("params", "flops")


def tolerance(proxy: str) -> float:
    """The relative tolerance of ``proxy`` (0: equal)."""
    if proxy not in TOLERANCES:
        raise KeyError(f"no tolerance for proxy {proxy!r}: add it, with its reason, to tests/tolerances.py")
    return TOLERANCES[proxy][0]


def rel_diff(got: float, want: float) -> float:
    """|got - want| / |want|; 0 for equal values (NaN equals NaN), inf for one non-finite."""
    if got == want or (math.isnan(got) and math.isnan(want)):
        return 0.0
    if not (math.isfinite(got) and math.isfinite(want)):
        return math.inf
    return abs(got - want) / max(abs(want), 1e-300)


def close(proxy: str, got: float, want: float, tol: float | None = None) -> bool:
    """Whether ``got`` (computed here) equals ``want`` (stored from another run) within ``proxy``'s
    tolerance (or ``tol``)."""
    return rel_diff(got, want) <= (tolerance(proxy) if tol is None else tol)


if __name__ == "__main__":
    print(kernels_fingerprint())
