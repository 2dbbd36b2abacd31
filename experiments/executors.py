"""Where scoring work runs: one executor interface for this process, a local process pool and
(later) a Ray cluster, so the runner does not know which one it has.

An executor maps a module-level function over picklable tasks and yields ``(index, result)``
as tasks complete, in any order; the caller alone writes the results store. Every process that
scores runs torch with ``threads`` threads (default 1: on a shared machine two threads per
process measured 17-50x slower, and one thread makes the scores the same bit for bit whatever
the number of processes). Every scoring process also gets a device (``devices``: one per
process, round robin over the list, see :mod:`experiments.devices`), set up when it starts and
read by the work with :func:`worker_device`.

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


_DEVICE: str | None = None  # the device of this scoring process, once an executor assigned one


def worker_device() -> str | None:
    """The device the executor gave this process (None: none given, the caller decides)."""
    return _DEVICE


def _assign_device(device: str | None, tf32: bool) -> None:
    global _DEVICE
    if device is not None:
        from experiments.devices import setup

        setup(device, tf32=tf32)
    _DEVICE = device


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
    previous setting is restored afterwards, so a notebook keeps its own) on the first of
    ``devices``."""

    def __init__(self, threads: int | None = None, devices: Sequence[str] | None = None, tf32: bool = False):
        self.threads = threads or default_threads()
        self.device = devices[0] if devices else None
        self.tf32 = tf32

    def map(self, fn, tasks):
        global _DEVICE
        before = set_threads(self.threads)
        device_before = _DEVICE
        _assign_device(self.device, self.tf32)
        try:
            for i, task in enumerate(tasks):
                yield i, fn(task)
        finally:
            set_threads(before)
            _DEVICE = device_before


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


def _pool_init(parent: int, threads: int, devices: Sequence[str] | None = None, counter=None,
               tf32: bool = False) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    _die_with_parent(parent)
    set_threads(threads)
    device = None
    if devices:
        with counter.get_lock():  # the k-th worker to start takes devices[k % len(devices)]
            k = counter.value
            counter.value += 1
        device = devices[k % len(devices)]
    _assign_device(device, tf32)


class LocalPool(Executor):
    """``workers`` spawned processes on this machine, ``threads`` torch threads each, worker k
    on ``devices[k % len(devices)]``."""

    def __init__(self, workers: int, threads: int | None = None, devices: Sequence[str] | None = None,
                 tf32: bool = False):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("spawn")
        self.parallelism = workers
        self.threads = threads or default_threads()
        self.devices = list(devices) if devices else None
        self._pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_pool_init,
                                         initargs=(os.getpid(), self.threads, self.devices, ctx.Value("i", 0), tf32))

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


def make_executor(workers: int = 1, *, threads: int | None = None, kind: str = "local",
                  devices: Sequence[str] | None = None, tf32: bool = False) -> Executor:
    """The executor for ``--workers`` (and later ``--executor``): this process for one worker,
    a local pool of spawned processes for more; ``devices`` (resolved, e.g. from
    :func:`experiments.devices.resolve_devices`) are dealt to the processes round robin."""
    if kind != "local":
        raise ValueError(f"unknown executor {kind!r}; known: local")
    if workers <= 1:
        return InProcess(threads, devices, tf32)
    return LocalPool(workers, threads, devices, tf32)
