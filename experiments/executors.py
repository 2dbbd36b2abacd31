"""Where scoring work runs: one executor interface for this process, a local process pool and
(later) a Ray cluster, so the runner does not know which one it has.

An executor maps a module-level function over picklable tasks and yields ``(index, result)``
as tasks complete, in any order; the caller alone writes the results store. Every process that
scores runs torch with ``threads`` threads (default 1: on a shared machine two threads per
process measured 17-50x slower, and one thread makes the scores the same bit for bit whatever
the number of processes).

Local pool workers die with their parent (``kill -9`` of ``zcbench run`` leaves no orphans
behind) and ignore Ctrl-C, which the parent handles: it stops the workers at once and
reports what is stored.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from abc import ABC, abstractmethod
from typing import Any, Callable, Iterator, Sequence

DEFAULT_THREADS = 1
THREADS_ENV = "ZCBENCH_THREADS"


def default_threads() -> int:
    """Torch threads per scoring process: ``$ZCBENCH_THREADS``, else 1."""
    text = os.environ.get(THREADS_ENV, "")
    if not text:
        return DEFAULT_THREADS
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive number of threads, not {text!r}")
    return n


def set_threads(n: int) -> int:
    """Set torch's intra-op threads; returns the previous count."""
    import torch

    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    return before


class Executor(ABC):
    """Runs ``fn(task)`` for each task; ``parallelism`` says how many run at once."""

    parallelism: int = 1

    @abstractmethod
    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        """Yield ``(index into tasks, fn(task))`` as tasks complete. Interrupting the iteration
        (Ctrl-C, an exception in the caller) stops the work that is still running."""

    def close(self) -> None:
        pass

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class InProcess(Executor):
    """Runs tasks one after the other in this process, with ``threads`` torch threads (the
    previous setting is restored afterwards, so a notebook keeps its own)."""

    def __init__(self, threads: int | None = None):
        self.threads = threads or default_threads()

    def map(self, fn, tasks):
        before = set_threads(self.threads)
        try:
            for i, task in enumerate(tasks):
                yield i, fn(task)
        finally:
            set_threads(before)


def _die_with_parent(parent: int) -> None:
    """In a worker: end this process when the parent dies, even by SIGKILL. Linux's
    PR_SET_PDEATHSIG does it at once; a watchdog thread polling the parent's pid covers other
    systems (and a parent that died before prctl ran)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch():
        import time

        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(1.0)

    threading.Thread(target=watch, name="zcbench-parent-watch", daemon=True).start()


def _pool_init(parent: int, threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    _die_with_parent(parent)
    set_threads(threads)


class LocalPool(Executor):
    """``workers`` spawned processes on this machine, ``threads`` torch threads each."""

    def __init__(self, workers: int, threads: int | None = None):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.parallelism = workers
        self.threads = threads or default_threads()
        self._pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_pool_init,
                                         initargs=(os.getpid(), self.threads))

    def map(self, fn, tasks):
        from concurrent.futures import as_completed

        futures = {self._pool.submit(fn, t): i for i, t in enumerate(tasks)}
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Cancel what has not started and end the workers now (not after their tasks)."""
        pool = self._pool
        for f in list(getattr(pool, "_pending_work_items", {}).values()):
            f.future.cancel()
        for p in list((getattr(pool, "_processes", None) or {}).values()):
            if p.is_alive():
                p.terminate()
        pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def make_executor(workers: int = 1, *, threads: int | None = None, kind: str = "local") -> Executor:
    """The executor for ``--workers`` (and later ``--executor``): this process for one worker,
    a local pool of spawned processes for more."""
    if kind != "local":
        raise ValueError(f"unknown executor {kind!r}; known: local")
    if workers <= 1:
        return InProcess(threads)
    return LocalPool(workers, threads)
