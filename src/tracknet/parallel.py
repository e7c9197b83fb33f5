"""Per-event work run in this process, in worker processes, or on a Dask cluster.

:func:`run_ordered` maps a picklable task over items and yields the results in the
items' order, whatever the engine, so a run gives the same outputs with any number of
workers (docs/parallel.md). Dask is imported only when a scheduler address is given.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import ConfigError

__all__ = ["Workers", "machine_cores", "prestart", "run_ordered", "worker_threads"]

T = TypeVar("T")
R = TypeVar("R")

#: The most worker processes ``--workers`` accepts.
MAX_WORKERS = 512
#: Thread-pool variables set in each worker, so that workers x threads fits the cores.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: Tasks in flight per worker: enough to keep every worker busy, few enough to bound memory.
_IN_FLIGHT_PER_WORKER = 2
#: How long stopped workers may take to unwind their tasks before they are killed, seconds.
_STOP_GRACE_S = 10.0


def machine_cores() -> int:
    """The cores this process may run on (its CPU affinity, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def worker_threads(n_workers: int) -> int:
    """Threads per worker so that ``n_workers`` workers together use the cores once."""
    return max(1, machine_cores() // max(1, n_workers))


@dataclass(frozen=True)
class Workers:
    """Where per-event work runs: ``n`` local processes (1: this process), or the Dask
    scheduler at ``scheduler`` (``tcp://host:8786``), whose workers must see the same
    files and have tracknet installed."""

    n: int = 1
    scheduler: str | None = None

    def validate(self) -> Workers:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or not self.n >= 1:
            raise ConfigError(f"--workers must be a positive integer, got {self.n!r}")
        if self.n > MAX_WORKERS:
            raise ConfigError(f"--workers must be at most {MAX_WORKERS}, got {self.n}")
        if self.scheduler is not None and not str(self.scheduler).strip():
            raise ConfigError("--scheduler must be an address such as tcp://host:8786")
        return self

    @classmethod
    def of(cls, workers: int | None, scheduler: str | None = None) -> Workers:
        """From the command-line options: ``workers`` None means every core."""
        return cls(machine_cores() if workers is None else workers, scheduler or None).validate()

    @property
    def parallel(self) -> bool:
        return self.scheduler is not None or self.n > 1

    def describe(self) -> str:
        if self.scheduler is not None:
            return f"the Dask scheduler at {self.scheduler}"
        return "this process" if self.n == 1 else f"{self.n} worker processes"


class _Stopped(SystemExit):
    """SIGTERM in a worker: the pool is being stopped."""


def _exit_on_term(signum: int, frame: Any) -> None:
    raise _Stopped(128 + signum)  # the cleanup of atomic writers runs


def _call_in_worker(task: Callable[[T], R], item: T) -> R:
    """``task(item)`` in a worker; stopped, the worker ends once the task has unwound
    (the pool would otherwise catch the exit and start the next task)."""
    try:
        return task(item)
    except _Stopped as stop:
        os._exit(int(stop.code or 1))


def _init_worker(threads: int) -> None:
    """Set up a worker process: its thread pools, SIGINT left to the parent, SIGTERM (the
    parent stopping the pool) unwinding the task so its temporary files are removed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_term)
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(threads)
    _set_torch_threads(threads)


def _set_torch_threads(threads: int) -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def _call_on_dask(task: Callable[[Any], Any], item: Any) -> Any:
    """Run ``task(item)`` on a Dask worker with one PyTorch thread per worker thread."""
    _set_torch_threads(1)
    return task(item)


def run_ordered(
    task: Callable[[T], R],
    items: Sequence[T],
    workers: Workers,
    *,
    preload: tuple[str, ...] = (),
) -> Iterator[R]:
    """Yield ``task(item)`` for every item, in the order of ``items``.

    One worker runs the tasks here, one after the other. More run them in a pool of
    processes started by a fork server (``preload``: modules it imports once, for
    example the module of ``task``); each worker gets ``cores // n`` threads. With a
    scheduler the tasks go to that Dask cluster. At most a few tasks per worker are in
    flight at once, so memory does not grow with the number of items. An exception in a
    task is raised here, and the tasks not yet started are cancelled. No more processes
    start than there are items; a single item runs here.
    """
    workers.validate()
    n = min(workers.n, len(items))
    if workers.scheduler is not None and items:
        yield from _run_on_dask(task, items, workers.scheduler)
    elif n <= 1:
        for item in items:
            yield task(item)
    else:
        yield from _run_in_pool(task, items, n, preload)


def prestart(workers: Workers, preload: tuple[str, ...] = ()) -> None:
    """Start the fork server of a local pool now, so that it imports ``preload`` while
    this process goes on with its own start (commands call it first thing)."""
    if workers.scheduler is None and workers.n > 1:
        _pool_context(workers.n, preload)


def _pool_context(n: int, preload: tuple[str, ...]) -> Any:
    """The fork-server context of a pool of ``n``, its server started with ``cores // n``
    threads for each thread pool (workers fork from it and inherit them)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tracknet.parallel", *preload])
    saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
    os.environ.update({name: str(worker_threads(n)) for name in _THREAD_VARIABLES})
    try:
        from multiprocessing import forkserver

        forkserver.ensure_running()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return context


def _run_in_pool(
    task: Callable[[T], R], items: Iterable[T], n: int, preload: tuple[str, ...]
) -> Iterator[R]:
    threads = worker_threads(n)
    pool = ProcessPoolExecutor(
        max_workers=n,
        mp_context=_pool_context(n, preload),
        initializer=_init_worker,
        initargs=(threads,),
    )
    pending: deque[Future[R]] = deque()
    finished = False
    try:
        for item in items:
            pending.append(pool.submit(_call_in_worker, task, item))
            if len(pending) >= n * _IN_FLIGHT_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:
            _stop_pool(pool, pending)


def _stop_pool(pool: ProcessPoolExecutor, pending: Iterable[Future[Any]]) -> None:
    """Stop the workers now (an error or an interrupt) and leave nothing running.

    Tasks not started are cancelled; the workers get SIGTERM, on which a running task
    unwinds (its atomic writers remove their temporary files) and the worker exits
    (:func:`_exit_on_term`); one still alive after :data:`_STOP_GRACE_S` is killed. Only
    then is the pool shut down, so its manager thread never waits on a live worker
    (``shutdown(wait=False)`` followed by dying workers can leave that thread, and with
    it the interpreter's exit, waiting for ever).
    """
    for future in pending:
        future.cancel()
    processes = list(getattr(pool, "_processes", {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + _STOP_GRACE_S
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
    pool.shutdown(wait=True, cancel_futures=True)


def _run_on_dask(task: Callable[[T], R], items: Iterable[T], address: str) -> Iterator[R]:
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError(
            "--scheduler needs Dask: pip install 'tracknet[dask]' (dask.distributed)"
        ) from None
    try:
        client = Client(address, set_as_default=False, timeout="5s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        n_threads = max(1, sum(client.nthreads().values()))
        pending: deque[Any] = deque()
        for item in items:
            pending.append(client.submit(_call_on_dask, task, item, pure=False))
            if len(pending) >= n_threads * _IN_FLIGHT_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        client.close()
