"""One registry idiom for the whole house (timm style): ``register``, ``list`` with wildcard
patterns, ``get`` with close-name suggestions, and third-party entries from an entry-point group.

Every registry of the project is a :class:`Registry`: proxies (``zc_proxies.base.PROXIES``), the
probe's signals (``zc_proxies.probe.SIGNALS``), search spaces (``search_spaces.base.SPACES``) and
ground-truth formats (``search_spaces.ground_truth.FORMATS``). It is a generic container and
knows nothing of what it holds; a second entry under a taken name is an error. A registry may
name the modules that register its built-in entries (``builtins``): they are imported on its
first use, not when the registry is, so importing a package that only needs the registry (as
``search_spaces`` needs the proxies' one) does not import every entry's module.
"""
from __future__ import annotations

import contextlib
import difflib
import fnmatch
from types import ModuleType
from typing import Callable, Generic, Iterable, Iterator, TypeVar

from zc_proxies.errors import DuplicateNameError, ZcbenchError

T = TypeVar("T")


class UnknownNameError(ZcbenchError, KeyError):
    """A name that no registry entry has; the message lists close names."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


class PluginImportError(ZcbenchError, ImportError):
    """A plugin module (a study's ``plugins:`` or ``--import``) that cannot be imported."""


def import_plugins(items: Iterable[str]) -> list[ModuleType]:
    """Import each plugin: a module name (``my_package.my_proxies``, found on ``sys.path``,
    e.g. through ``PYTHONPATH``) or the path of a ``.py`` file (``./my_proxy.py``, relative to
    the current folder). Importing registers what the module defines; a module already
    imported is not imported again."""
    import importlib
    import importlib.util
    import sys
    from pathlib import Path

    modules = []
    for item in items:
        item = str(item)
        is_file = item.endswith(".py") or "/" in item or "\\" in item
        try:
            if is_file:
                path = Path(item).expanduser().resolve()
                if not path.is_file():
                    raise FileNotFoundError(f"no such file: {path}")
                name = path.stem
                mod = sys.modules.get(name)
                if mod is not None and Path(getattr(mod, "__file__", "") or "").resolve() != path:
                    raise ImportError(f"a different module named {name!r} is already imported "
                                      f"({getattr(mod, '__file__', None)}); rename the file")
                if mod is None:
                    spec = importlib.util.spec_from_file_location(name, path)
                    mod = importlib.util.module_from_spec(spec)
                    sys.modules[name] = mod
                    try:
                        spec.loader.exec_module(mod)
                    except BaseException:
                        del sys.modules[name]
                        raise
            else:
                mod = importlib.import_module(item)
        except Exception as exc:
            how = ("a module name found on PYTHONPATH (e.g. `PYTHONPATH=. zcbench run ...` for ./my_proxy.py), "
                   "the path of a .py file (plugins: [./my_proxy.py]), or a package installed with a "
                   "`zcbench.proxies` entry point (then no plugins entry is needed)")
            raise PluginImportError(f"cannot import plugin {item!r}: {type(exc).__name__}: {exc}. "
                                    f"A plugin is {how}") from exc
        modules.append(mod)
    return modules


class Registry(Generic[T]):
    """A name -> entry mapping. ``kind`` names the entries in error messages ("proxy", "space");
    ``hint`` is added to the message for an unknown name with no close match (how to make one known);
    ``listed``: ``zcbench list PLURAL`` lists the entries (else the message names them all);
    ``builtins``: the modules that register the built-in entries, imported on first use (before
    any entry-point plugin, so a plugin that takes a built-in name is the one refused)."""

    def __init__(self, kind: str, entry_point_group: str | None = None, plural: str | None = None,
                 hint: str = "", listed: bool = True, builtins: tuple[str, ...] = ()):
        self.kind = kind
        self.listed = listed
        self.plural = plural or kind + "s"
        self.hint = hint
        self.entry_point_group = entry_point_group
        self._entries: dict[str, T] = {}
        self._plugins_loaded = entry_point_group is None
        self.builtins = tuple(builtins)
        self._builtins_loaded = not self.builtins
        self.plugin_errors: dict[str, str] = {}

    def _load_builtins(self) -> None:
        """Import the modules that register the built-in entries, once (importing registers).

        Entries added before (a plugin imported first, or one built-in module imported on its
        own) come after the built-ins, as if added later; one that takes a built-in's name is
        refused here, since its registration could not know the name was taken."""
        if self._builtins_loaded:
            return
        self._builtins_loaded = True  # set first: those modules register through add()
        import importlib

        early = dict(self._entries)
        self._entries.clear()
        try:
            for module in self.builtins:
                importlib.import_module(module)
        finally:
            clash = sorted(n for n in early if n in self._entries and self._entries[n] is not early[n])
            self._entries.update({n: e for n, e in early.items() if n not in clash})
        if clash:
            raise DuplicateNameError(f"{self.kind} {clash[0]!r} is already registered: it is a built-in "
                                     f"{self.kind}; register yours under another name")

    def add(self, name: str, entry: T, *, overwrite: bool = False) -> T:
        if not overwrite and name in self._entries:
            raise DuplicateNameError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def _load_plugins(self) -> None:
        """Import the built-in modules, then every module named in the entry-point group, once;
        importing registers."""
        self._load_builtins()
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.entry_point_group):
            try:
                obj = ep.load()
                # an entry point may name a module (registration on import) or a callable
                # that registers when called
                if callable(obj) and not isinstance(obj, type):
                    obj()
            except Exception as exc:  # a broken plugin must not break the built-ins
                self.plugin_errors[ep.name] = f"{type(exc).__name__}: {exc}"

    def names(self, pattern: str | Iterable[str] = "*") -> list[str]:
        """Sorted names matching one or several shell-style wildcard patterns."""
        self._load_plugins()
        patterns = [pattern] if isinstance(pattern, str) else list(pattern)
        return sorted(n for n in self._entries if any(fnmatch.fnmatchcase(n, p) for p in patterns))

    def get(self, name: str) -> T:
        self._load_plugins()
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            known = (f"Run `zcbench list {self.plural}` to see all {len(self._entries)} of them." if self.listed
                     else f"Known {self.plural}: {', '.join(sorted(self._entries))}.")
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}.{hint} " + known
                + (f" {self.hint}" if self.hint and not close else "")
            ) from None

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._entries

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __iter__(self):
        """The names in the order registered."""
        return iter([name for name, _ in self.items()])

    def __len__(self) -> int:
        return len(self.items())

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) in the order registered (an order some lookups rely on)."""
        self._load_plugins()
        return list(self._entries.items())

    def values(self) -> list[T]:
        """The entries in the order registered."""
        return [entry for _, entry in self.items()]

    @contextlib.contextmanager
    def replaced(self, entries: dict[str, T]) -> Iterator["Registry[T]"]:
        """Within the block, ``entries`` stand in for the registered entries of the same names
        (what a benchmark that counts calls, or a test, needs); every entry is back afterwards."""
        self._load_plugins()
        unknown = sorted(set(entries) - set(self._entries))
        if unknown:
            raise UnknownNameError(f"no {self.kind} {unknown[0]!r} to replace")
        saved = dict(self._entries)
        self._entries.update(entries)
        try:
            yield self
        finally:
            self._entries.clear()
            self._entries.update(saved)

    @contextlib.contextmanager
    def scoped(self) -> Iterator["Registry[T]"]:
        """Entries added within the block (a test's, or a plugin tried out) are gone afterwards."""
        self._load_plugins()
        saved = dict(self._entries)
        try:
            yield self
        finally:
            self._entries.clear()
            self._entries.update(saved)

    def decorator(self, name: str, make: Callable[[Callable], T]) -> Callable[[Callable], Callable]:
        def wrap(fn: Callable) -> Callable:
            self.add(name, make(fn))
            return fn

        return wrap
