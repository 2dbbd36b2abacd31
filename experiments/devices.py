"""Where networks are scored: ``--device auto|cpu|cuda|cuda:N`` and the study key ``device``.

``auto`` is CUDA when torch sees a GPU, else the CPU. The network is built on the CPU from its
seeded weights (the same weights on every device) and moved to the device with its batch; every
signal then follows the network's device. With several scoring processes (``--workers``),
``auto`` and ``cuda`` spread them over the visible GPUs round robin, one device per process;
``cuda:N`` puts them all on GPU N.

On a CUDA device, :func:`setup` makes the scores as reproducible as torch allows:
deterministic algorithms where torch has them (``torch.use_deterministic_algorithms(True,
warn_only=True)``, ``CUBLAS_WORKSPACE_CONFIG=:4096:8``, cuDNN deterministic, no cuDNN
benchmark) and TF32 off (TF32 matmuls and convolutions round to 10 mantissa bits, which moves
values near zero across the sign and so changes SWAP's pattern counts); ``tf32=True`` allows it.
"""
from __future__ import annotations

import os
import re

from zc_proxies.errors import ZcbenchError

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"
_PATTERN = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")
CUBLAS_ENV = "CUBLAS_WORKSPACE_CONFIG"


class DeviceError(ZcbenchError, ValueError):
    """A device that cannot be used here; the message says what to write instead."""


def check_device(text) -> str:
    """The device spec, validated (``auto``, ``cpu``, ``cuda``, ``cuda:N``)."""
    if not isinstance(text, str) or not _PATTERN.match(text.strip()):
        raise DeviceError(f"device must be {DEVICE_CHOICES}, not {text!r}")
    return text.strip()


def cuda_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_devices(spec: str, processes: int = 1) -> list[str]:
    """The device of each of ``processes`` scoring processes (cycled when fewer are listed)."""
    spec = check_device(spec)
    if spec == "cpu":
        return ["cpu"]
    n = cuda_count()
    if spec == "auto" and n == 0:
        return ["cpu"]
    if n == 0:
        raise DeviceError(f"device {spec!r} needs a CUDA GPU, but torch sees none (torch "
                          f"{_torch_version()}); use --device cpu, or auto to take a GPU only when there is one")
    if spec.startswith("cuda:"):
        i = int(spec.split(":")[1])
        if i >= n:
            raise DeviceError(f"device {spec!r}: torch sees {n} CUDA GPU(s), cuda:0 to cuda:{n - 1}")
        return [spec]
    return [f"cuda:{i}" for i in range(min(n, max(1, processes)))]


def resolve_device(spec: str) -> str:
    """The one device of a single scoring process."""
    return resolve_devices(spec, 1)[0]


def _torch_version() -> str:
    import torch

    return torch.__version__


def setup(device: str, *, tf32: bool = False) -> None:
    """Configure this process for scoring on ``device`` (a resolved device): on CUDA, select it,
    use deterministic algorithms and set TF32 (off unless ``tf32``). A no-op on the CPU."""
    import torch

    if not str(device).startswith("cuda"):
        return
    os.environ.setdefault(CUBLAS_ENV, ":4096:8")  # read when cuBLAS starts, before the first matmul
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = bool(tf32)
    torch.backends.cudnn.allow_tf32 = bool(tf32)
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    if ":" in str(device):
        torch.cuda.set_device(torch.device(device))


DEVICE_HELP = ("where to score: auto (CUDA when torch sees a GPU, else the CPU), cpu, cuda or cuda:N; overrides the "
               "config's device key (default auto); with --workers, auto and cuda deal the GPUs to the processes")
TF32_HELP = "allow TF32 on CUDA (off by default: it moves values near zero across the sign, and so SWAP counts)"


def add_device_args(p) -> None:
    """--device and --tf32, the same on every scoring command."""
    p.add_argument("--device", default=None, metavar="DEVICE", help=DEVICE_HELP)
    p.add_argument("--tf32", action="store_true", default=None, help=TF32_HELP)


def apply_device_args(config, args) -> None:
    """The command line's --device and --tf32 over a study or search config's keys."""
    if args.device is not None:
        config.device = check_device(args.device)
    if args.tf32:
        config.tf32 = True
