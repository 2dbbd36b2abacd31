"""One unpickler for the benchmark files (NB101, NB201, NATS, TNB101, CIFAR, ImageNet16): it loads plain
data only (numbers, strings, bytes, containers, numpy scalars and arrays) and refuses any other
global, because unpickling calls whatever function a pickle names."""
from __future__ import annotations

import _compat_pickle
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

#: (module, name) globals that plain-data pickles use, under numpy 1 and numpy 2 module names.
ALLOWED: set[tuple[str, str]] = {
    ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "list"), ("builtins", "dict"),
    ("builtins", "tuple"), ("builtins", "float"), ("builtins", "int"), ("builtins", "str"),
    ("builtins", "bytearray"),
    ("_codecs", "encode"),  # how protocol 0-2 pickles store bytes (numpy scalars)
    ("numpy", "dtype"), ("numpy", "ndarray"),
}
for _mod in ("numpy.core", "numpy._core"):
    ALLOWED |= {(f"{_mod}.multiarray", "scalar"), (f"{_mod}.multiarray", "_reconstruct"),
                (f"{_mod}.numeric", "_frombuffer")}


def _numpy_core():
    return np._core if hasattr(np, "_core") else np.core  # numpy 2 / numpy 1


class PlainUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only :data:`ALLOWED` globals (Python 2 names mapped
    first); any other raises ``pickle.UnpicklingError`` naming it."""

    def find_class(self, module: str, name: str):
        if (module, name) in _compat_pickle.NAME_MAPPING:  # Python 2 names (protocol <= 2)
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) in ALLOWED:
            if module.startswith(("numpy.core.", "numpy._core.")):
                return getattr(getattr(_numpy_core(), module.rsplit(".", 1)[1]), name)
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not plain data")


def load(f: BinaryIO, **kwargs: Any) -> Any:
    """``pickle.load(f, **kwargs)`` through :class:`PlainUnpickler`."""
    return PlainUnpickler(f, **kwargs).load()


# ---- torch.save files (the NB201 and TNB101 .pth) --------------------------------------

def numpy_safe_globals() -> list:
    """numpy scalars and dtypes as ``torch.serialization.safe_globals`` entries, under both the
    numpy 1 (``numpy.core``) and numpy 2 (``numpy._core``) module names."""
    out: list = [np.dtype]
    try:
        from numpy._core.multiarray import scalar  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]
    out += [(scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar")]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        out += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return out


_TORCH_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER of the legacy format
_TORCH_PROTOCOL = 1001


class _NeedsTorch(Exception):
    """The fast plain-data reader cannot read this file (tensors, another layout)."""


class _PlainTorchUnpickler(PlainUnpickler):
    """Refuses tensor storages, leaving such files to ``torch.load``."""

    def persistent_load(self, pid):  # a tensor storage: leave the file to torch.load
        raise _NeedsTorch()


def _plain_torch_load(path: Path) -> Any:
    """The object of a ``torch.save`` file that holds no tensors, read with the C unpickler and
    the plain-data allowlist: 10-20x faster than ``torch.load(weights_only=True)``, which
    unpickles in Python (minutes for the 2-4 GB NB201 files). Both of torch.save's layouts: the
    zip archive (``<name>/data.pkl``) and the legacy stream (magic number, protocol version,
    sys info, object)."""
    import zipfile

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
                if len(names) != 1:
                    raise _NeedsTorch()
                with z.open(names[0]) as f:
                    return _PlainTorchUnpickler(f, encoding="latin1").load()
        with open(path, "rb") as f:
            if PlainUnpickler(f, encoding="latin1").load() != _TORCH_MAGIC:
                raise _NeedsTorch()
            if PlainUnpickler(f, encoding="latin1").load() != _TORCH_PROTOCOL:
                raise _NeedsTorch()
            PlainUnpickler(f, encoding="latin1").load()  # sys info
            return _PlainTorchUnpickler(f, encoding="latin1").load()
    except _NeedsTorch:
        raise
    except Exception:  # not plain data, or not readable: torch.load says which
        raise _NeedsTorch() from None


def torch_load(path: str | Path) -> Any:
    """The object of a ``torch.save`` file: read by :func:`_plain_torch_load` when it holds
    plain data only, else by ``torch.load(weights_only=True)`` with numpy scalars allowed. Never
    runs code from the file: a file that needs more raises ``pickle.UnpicklingError``."""
    path = Path(path)
    try:
        return _plain_torch_load(path)
    except _NeedsTorch:
        pass
    import contextlib

    import torch

    allow = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
    with allow(numpy_safe_globals()) if allow is not None else contextlib.nullcontext():
        return torch.load(path, map_location="cpu", weights_only=True)
