"""The progress bar of long commands: feedback from the first second, an ETA only once it means something.

A plain tqdm bar says nothing until the first item is done (worker processes starting, the
first chunk of architectures scoring: tens of seconds), then estimates its rate from that one
late update (a 16-hour ETA for an 8-minute study), and counts the items resumed from an
earlier run as if they had been done in no time. :class:`StudyBar` shows a status
("preparing", "starting 2 workers") until work arrives, counts resumed items apart
(:meth:`skip`), and shows an ETA only after ``eta_after`` items done in this run, from the
rate since the first of them arrived (start-up excluded).
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm

NO_ETA = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"


class StudyBar(tqdm):
    def __init__(self, *args, eta_after: int = 5, status: str = "preparing", **kwargs):
        kwargs.setdefault("file", sys.stderr)
        kwargs.setdefault("dynamic_ncols", True)
        self._eta_after = max(1, int(eta_after))
        self._done = 0  # items done in this run
        self._first: tuple[float, int] | None = None  # (time, items) when the first work arrived
        self._eta_format = kwargs.pop("bar_format", None)
        super().__init__(*args, bar_format=NO_ETA, **kwargs)
        if status:
            self.set_postfix_str(status)

    def skip(self, n: int) -> None:
        """``n`` items that need no work (stored by an earlier run): they move the bar, not the rate."""
        if n:
            super().update(n)

    def update(self, n: int = 1):
        """``n`` items done in this run (a whole chunk at once: one update, not ``n``)."""
        if self.disable:
            return super().update(n)
        now = time.time()
        if self._first is None:
            self._first = (now, n)
        self._done += n
        if self._done >= self._eta_after and self.bar_format == NO_ETA and self._done > self._first[1]:
            self.bar_format = self._eta_format
        return super().update(n)

    @property
    def format_dict(self):
        d = super().format_dict
        if self._first is not None and self._done > self._first[1]:
            t, k = self._first
            elapsed = time.time() - t
            if elapsed > 0:
                d["rate"] = (self._done - k) / elapsed
        else:
            d["rate"] = None
        return d
