"""The one base class of the errors a user can fix (a config, a path, a name, a file's
contents): the CLI prints them as ``zcbench: error: ...`` and exits 2; anything else is a bug
and keeps its traceback. At the bottom of the import graph, so every package can derive from it;
each error also derives from the built-in exception it used to be (``ValueError``,
``KeyError``, ...), so code that caught that still does."""
from __future__ import annotations


class ZcbenchError(Exception):
    """An error whose message says what went wrong and what to do; never a bug."""


class UsageError(ZcbenchError, ValueError):
    """A value the user gave that does not fit: a proxy's or space's option, a task, a count."""


class DuplicateNameError(ZcbenchError, ValueError):
    """A second registry entry under a name that is taken (two plugins, or a plugin and a
    built-in, define the same name)."""
