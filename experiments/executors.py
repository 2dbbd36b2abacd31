"""Where scoring work runs: one executor interface for this process, a local process pool and
a Ray cluster, so the runner does not know which one it has.

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

On Ray (an optional extra, ``pip install 'zcbench[ray]'``) a task whose worker process or
machine dies runs again elsewhere; since every task's result is yielded once and the caller
writes each result once (the store ignores a row it already holds), a run that lost workers
stores the same rows as one that did not.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from abc import ABC, abstractmethod
from typing import Any, Callable, Iterator, Sequence

from zc_proxies.errors import UsageError, ZcbenchError

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
        raise UsageError(f"{THREADS_ENV} must be a positive number of threads, not {text!r}")
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


class ExecutorError(ZcbenchError, ValueError):
    """An executor that cannot start: Ray not installed, a cluster that cannot be reached."""


RAY_INSTALL = "pip install 'zcbench[ray]'"


def import_ray():
    """The ``ray`` module, or an ExecutorError that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ExecutorError(f"--executor ray needs Ray, which is not installed here ({exc}); install it with "
                            f"`{RAY_INSTALL}` (or `pip install ray`), on every machine of the cluster") from None
    return ray


def loopback_only(ray) -> None:
    """Make a local Ray cluster started from this process listen and talk on 127.0.0.1 only:
    Ray would otherwise pick this machine's network interface, so that even a one-machine
    cluster's traffic went through it. (Ray's own switch for this, read by its workers too.)"""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray._private.ray_constants.ENABLE_RAY_CLUSTER = False


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail fast on a HOST:PORT (or ray://HOST:PORT) that nothing listens on, where Ray itself
    would retry for minutes; other address forms ("auto") are left to Ray."""
    import socket

    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not sep or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise OSError(f"nothing answers at {host}:{port} ({exc.strerror or exc})") from None


def _ray_call(fn, task, threads, device=None, tf32=False):
    """In a Ray worker: run ``fn(task)`` with ``threads`` torch threads on ``device`` (Ray shows
    a task only the GPU it reserved, as ``cuda``)."""
    set_threads(threads)
    _assign_device(device, tf32)
    return fn(task)


class RayExecutor(Executor):
    """Tasks on a Ray cluster: the one at ``address`` (or ``$RAY_ADDRESS``; ``"auto"``: the one
    started on this machine with ``ray start --head``), or without one a new local cluster of
    ``workers`` tasks at once (default: one per core) that ends with this executor. If this
    process is already connected to Ray (``ray.init()`` in a notebook), that cluster is used
    and left running.

    Each task reserves ``threads`` CPUs (torch runs that many threads in it; default 1) and,
    when ``device`` is a CUDA device, one GPU (Ray then shows the task only its own GPU, as
    ``cuda:0``). ``parallelism`` is the number of tasks the cluster runs at once, capped at
    ``workers`` when an ``address`` and ``workers`` are both given.

    A task whose worker process or node dies is run again by Ray (``max_retries`` times), and
    if it still fails with a lost worker, node or result, submitted again from here
    (``resubmits`` times); an error raised by ``fn`` itself is raised here at once, as the
    exception ``fn`` raised."""

    def __init__(self, workers: int | None = None, threads: int | None = None, *, address: str | None = None,
                 device: str | None = None, tf32: bool = False, max_retries: int = 3, resubmits: int = 3,
                 init_options: dict[str, Any] | None = None):
        ray = import_ray()
        self._ray = ray
        self.threads = threads or default_threads()
        address = address or os.environ.get("RAY_ADDRESS") or None
        self.address = address
        self.num_gpus = 1 if device is not None and str(device).startswith("cuda") else 0
        self.device = "cuda" if self.num_gpus else device  # the task's view of its reserved GPU
        self.tf32 = tf32
        self.max_retries = max_retries
        self.resubmits = resubmits
        self._owned = False
        if not ray.is_initialized():
            opts = {"include_dashboard": False, "logging_level": "WARNING", **(init_options or {})}
            if address:
                try:
                    _check_reachable(address)
                    ray.init(address=address, **opts)
                except Exception as exc:  # OSError, ConnectionError, AuthenticationError, ...
                    raise ExecutorError(
                        f"cannot connect to the Ray cluster at {address}: {exc}. Start one with `ray start --head` "
                        "(it prints its address; on the head machine --address auto finds it); the cluster's "
                        "machines and this one need the same zcbench and Ray. A cluster with token authentication "
                        "(Ray's default) also needs RAY_AUTH_MODE=token here and its token in ~/.ray/auth_token "
                        "(`ray get-auth-token` on the head)") from None
            else:
                cpus = workers * self.threads if workers else os.cpu_count() or 1
                loopback_only(ray)
                ray.init(address="local", num_cpus=cpus, **opts)
            self._owned = True
        self._cap = workers if address else None
        try:
            self.parallelism = self._slots()
        except BaseException:
            self.close()
            raise

    def _slots(self) -> int:
        res = self._ray.cluster_resources()
        slots = int(res.get("CPU", 1) // self.threads)
        if self.num_gpus:
            slots = min(slots, int(res.get("GPU", 0)))
            if slots < 1:
                raise ExecutorError("the Ray cluster has no GPU for a CUDA device; start its nodes on machines with "
                                    "GPUs (`ray start --num-gpus N`), or score on the CPU")
        if self._cap:
            slots = min(slots, self._cap)
        return max(1, slots)

    def map(self, fn, tasks):
        import time

        ray = self._ray
        from ray import exceptions as rex

        lost = (rex.WorkerCrashedError, rex.NodeDiedError, rex.ObjectLostError, rex.OutOfMemoryError)
        remote = ray.remote(_ray_call).options(
            num_cpus=self.threads, num_gpus=self.num_gpus, max_retries=self.max_retries, retry_exceptions=False,
            name=f"zcbench.{getattr(fn, '__name__', 'task')}")
        running: dict[Any, int] = {}
        tries = [0] * len(tasks)
        todo = list(range(len(tasks)))[::-1]  # popped from the end: in order
        window, checked = 4 * self.parallelism, time.monotonic()

        def submit(i):
            running[remote.remote(fn, tasks[i], self.threads, self.device, self.tf32)] = i

        try:
            while todo or running:
                if time.monotonic() - checked > 10:  # nodes that joined the cluster get work too
                    window, checked = 4 * self._slots(), time.monotonic()
                while todo and len(running) < window:
                    submit(todo.pop())
                (ref,), _ = ray.wait(list(running), num_returns=1)
                i = running.pop(ref)
                try:
                    result = ray.get(ref)
                except rex.RayTaskError as exc:
                    cause = getattr(exc, "cause", None)
                    if isinstance(cause, BaseException):
                        raise cause from exc
                    raise
                except lost as exc:
                    tries[i] += 1
                    if tries[i] > self.resubmits:
                        raise ExecutorError(f"task {i} was lost {tries[i]} times on the Ray cluster "
                                            f"(last: {type(exc).__name__}: {exc}); run the same command again "
                                            "to resume") from exc
                    print(f"zcbench: a Ray task was lost ({type(exc).__name__}); submitting it again",
                          file=sys.stderr)
                    submit(i)
                    continue
                yield i, result
        except BaseException:
            self.stop(list(running))
            raise

    def stop(self, refs=()) -> None:
        """Cancel ``refs`` (the tasks still running), ending their worker processes now."""
        for ref in refs:
            try:
                self._ray.cancel(ref, force=True)
            except Exception:
                pass

    def close(self) -> None:
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()
        self._owned = False


EXECUTORS = ("local", "ray")


def make_executor(workers: int | None = None, *, threads: int | None = None, kind: str = "local",
                  address: str | None = None, devices: Sequence[str] | None = None,
                  tf32: bool = False) -> Executor:
    """The executor for ``--workers`` and ``--executor``: locally, this process for one
    worker, a local pool of spawned processes for more, with ``devices`` (resolved, e.g. by
    :func:`experiments.devices.resolve_devices`) dealt to the processes round robin; ``ray``:
    a :class:`RayExecutor` on the cluster at ``address`` (without one, a local cluster of
    ``workers`` CPUs, default every core), one reserved GPU per task for a CUDA device."""
    if kind == "ray":
        return RayExecutor(workers, threads, address=address, device=devices[0] if devices else None, tf32=tf32)
    if kind != "local":
        raise ExecutorError(f"unknown executor {kind!r}; known: {', '.join(EXECUTORS)}")
    if address:
        raise ExecutorError(f"an address ({address}) is for --executor ray, not {kind}")
    if not workers or workers <= 1:
        return InProcess(threads, devices, tf32)
    return LocalPool(workers, threads, devices, tf32)
