"""One unpickler for the benchmark files (NB101, NB201, NATS, CIFAR, ImageNet16): it loads plain
data only (numbers, strings, bytes, containers, numpy scalars and arrays) and refuses any other
global, because unpickling calls whatever function a pickle names."""
from __future__ import annotations

import _compat_pickle
import pickle
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
