"""Where tasks run: in this process, a local process pool, or a Dask cluster.

An executor takes task specs and yields their outcomes as they complete, in
whatever order. The sweep assembles results by task key, never by completion
order, and each task is a pure function of its spec, so the results are the
same whichever executor runs them and with however many workers. A problem of
the executor itself (a worker process killed, a Dask worker lost) becomes a
failed outcome for the tasks it hit, like an error inside a task.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from sim.experiment.task import FAILED, TaskOutcome, TaskSpec, describe

__all__ = [
    "DaskExecutor",
    "Executor",
    "ExecutorError",
    "InProcessExecutor",
    "LocalExecutor",
    "NoWorkersError",
    "make_executor",
]

Runner = Callable[[TaskSpec], TaskOutcome]
"""The function that runs one task (``run_task``; tests may pass their own)."""


WAIT_FOR_WORKERS_S = 60
"""How long a sweep waits for a first worker to join the scheduler it was pointed at."""


NO_WORKERS_S = 60.0
"""How long a Dask sweep waits with tasks queued and no worker before it gives up."""
PARENT_CHECK_S = 1.0
"""How often a pool worker checks that the sweep that started it is still running."""
POLL_S = 0.05
"""How often a Dask sweep looks for completed tasks."""
WORKER_CHECK_S = 0.5
"""How often it asks the scheduler for its workers while no task completes."""


class ExecutorError(RuntimeError):
    """An executor could not be started (Dask missing, scheduler unreachable)."""


class NoWorkersError(ExecutorError):
    """Every Dask worker is gone and none came back: the queued tasks would wait forever."""


class Executor(Protocol):
    """Runs tasks and yields their outcomes in completion order."""

    name: str
    workers: int

    def run(self, runner: Runner, specs: Sequence[TaskSpec]) -> Iterator[TaskOutcome]:
        """Run every spec; yield one outcome per spec as each completes."""
        ...

    def close(self) -> None:
        """Release workers (idempotent)."""
        ...


def _failed(spec: TaskSpec, exc: BaseException) -> TaskOutcome:
    return TaskOutcome(spec.key, FAILED, describe(exc))


class InProcessExecutor:
    """Runs tasks one after another in this process (``--workers 1``)."""

    name = "local"
    workers = 1

    def run(self, runner: Runner, specs: Sequence[TaskSpec]) -> Iterator[TaskOutcome]:
        """Run each spec in turn."""
        for spec in specs:
            try:
                outcome = runner(spec)
            except Exception as exc:  # a runner that raises instead of reporting
                outcome = _failed(spec, exc)
            yield outcome

    def close(self) -> None:
        """Nothing to release."""


class LocalExecutor:
    """A pool of worker processes on this machine (``concurrent.futures``).

    Workers are forked from a ``forkserver`` that has imported the simulator
    once (``spawn`` where there is none, as on Windows); both are safe alongside
    threads (the progress bar), unlike a plain ``fork``. Workers are kept for the
    executor's life, so a capacity search's many small sweeps pay the start-up
    once. If a worker process dies (killed, out of memory) the pool is
    restarted for the tasks not yet done, at most ``max_restarts`` times.
    """

    name = "local"

    def __init__(self, workers: int | None = None, max_restarts: int = 2) -> None:
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        if self.workers < 1:
            raise ExecutorError(f"--workers must be ≥ 1, got {self.workers}")
        self.max_restarts = max_restarts
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=_context(),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        return self._pool

    def run(self, runner: Runner, specs: Sequence[TaskSpec]) -> Iterator[TaskOutcome]:
        """Submit every spec to the pool; yield outcomes as they complete."""
        pending = {spec.key: spec for spec in specs}
        restarts = 0
        while pending:
            pool = self._get_pool()
            futures: dict[Future[TaskOutcome], TaskSpec] = {
                pool.submit(_run_in_worker, runner, spec): spec for spec in pending.values()
            }
            broken: BaseException | None = None
            for future in self._completed(futures):
                spec = futures[future]
                try:
                    outcome = future.result()
                except BrokenProcessPool as exc:
                    broken = exc
                    continue
                except Exception as exc:
                    outcome = _failed(spec, exc)
                del pending[spec.key]
                yield outcome
            if broken is not None:
                self._discard_pool()
                restarts += 1
                if restarts > self.max_restarts:
                    for spec in pending.values():
                        yield _failed(spec, broken)
                    return

    def _completed(
        self, futures: dict[Future[TaskOutcome], TaskSpec]
    ) -> Iterator[Future[TaskOutcome]]:
        """Futures as they complete; on Ctrl-C, the workers are stopped before it propagates."""
        try:
            yield from as_completed(futures)
        except KeyboardInterrupt:
            self._interrupt_workers()
            raise

    def _interrupt_workers(self) -> None:
        """Interrupt every worker's task (each removes its staging folder) and drop the pool.

        Without this a worker interrupted by Ctrl-C took the next queued task and ran it
        to the end, and the sweep took that long to exit.
        """
        pool = self._pool
        if pool is None:
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:  # a Ctrl-C at the terminal has interrupted them already
            process.join(timeout=1.0)
        for process in processes:  # not so if only this process was sent the signal
            if process.is_alive():
                with contextlib.suppress(OSError):
                    os.kill(process.pid, signal.SIGINT)
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
        self._pool = None

    def _discard_pool(self) -> None:
        if self._pool is not None:
            # Shutting down alone lets running tasks go on to their end (minutes, after a
            # Ctrl-C); their results would be thrown away, so stop the workers now.
            processes = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()
            for process in processes:
                process.join(timeout=5)
            self._pool = None

    def close(self) -> None:
        """Stop the worker processes (running and pending tasks are cancelled)."""
        self._discard_pool()


def _start_worker(parent_pid: int) -> None:
    """In each pool worker: leave Ctrl-C to the sweep, and exit when the sweep is gone.

    Ctrl-C reaches the whole process group; the sweep stops its workers itself.
    A sweep killed outright (``kill -9``) cannot, so each worker watches for it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent_pid,), daemon=True).start()


def _exit_with(parent_pid: int) -> None:
    """End this worker process once ``parent_pid`` has ended."""
    while True:
        time.sleep(PARENT_CHECK_S)
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # the pid was reused by another user's process
            os._exit(1)


class TaskInterruptedError(Exception):
    """A task not run (or cut short) because its worker was interrupted."""


_interrupted = False
"""Set in a pool worker by its first SIGINT: the tasks still queued to it are refused."""


def _run_in_worker(runner: Runner, spec: TaskSpec) -> TaskOutcome:
    """Run one task in a pool worker; after a Ctrl-C, refuse the tasks still queued to it.

    The task's own clean-up (its scratch folder) runs as the interrupt unwinds, and
    further SIGINTs are ignored so it runs whole. The worker itself stays alive:
    one that exited would make the pool terminate the others mid-clean-up.
    """
    if _interrupted:
        raise TaskInterruptedError(f"task {spec.key} not run: the worker was interrupted")
    signal.signal(signal.SIGINT, _interrupt_once)
    try:
        return runner(spec)
    except KeyboardInterrupt:
        raise TaskInterruptedError(f"task {spec.key} interrupted") from None
    finally:
        # Between tasks a worker ignores Ctrl-C (see _start_worker): a signal that
        # finds it idle must not raise in the pool's own loop.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _interrupt_once(_signum: int, _frame: object) -> None:
    """Raise KeyboardInterrupt for the first SIGINT and ignore the rest (clean-up runs whole)."""
    global _interrupted
    _interrupted = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["sim.experiment.task"])
        return context
    return multiprocessing.get_context("spawn")


class DaskExecutor:
    """Tasks on a Dask distributed cluster: a running scheduler, or a local cluster.

    Each task is submitted as one future under a unique key. Workers need
    sscard-sim installed (the same version); they need no access to the sweep
    folder, since results come back with the outcome (with a store, they write
    the task folders there and only the task's row comes back).
    """

    name = "dask"

    def __init__(
        self,
        scheduler: str | None = None,
        workers: int | None = None,
        processes: bool = True,
        connect_timeout_s: float = 10.0,
        no_workers_s: float = NO_WORKERS_S,
    ) -> None:
        try:
            import distributed as _distributed
        except ImportError:
            raise ExecutorError(
                "--executor dask needs Dask distributed: pip install 'sscard-sim[cluster]'"
            ) from None
        distributed: Any = _distributed  # its API is untyped
        self._distributed = distributed
        self._cluster: Any = None
        self.no_workers_s = no_workers_s
        self.where = (
            f"the Dask scheduler at {scheduler}" if scheduler else "the local Dask cluster"
        )
        try:
            if scheduler is not None:
                self._client: Any = distributed.Client(
                    scheduler, timeout=f"{connect_timeout_s}s", set_as_default=False
                )
            else:
                n = workers if workers is not None else (os.cpu_count() or 1)
                self._cluster = distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=processes, dashboard_address=None,
                    # dashboard_address=None alone still serves the dashboard on port 8787.
                    scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                )  # fmt: skip
                self._client = distributed.Client(self._cluster, set_as_default=False)
        except (OSError, TimeoutError, ValueError, RuntimeError) as exc:
            where = f"the Dask scheduler at {scheduler}" if scheduler else "a Dask LocalCluster"
            self.close()
            raise ExecutorError(f"cannot start {where}: {exc}") from None
        try:
            self._client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS_S)
        except TimeoutError:
            self.close()
            raise ExecutorError(
                f"no Dask worker joined the scheduler at {scheduler} in {WAIT_FOR_WORKERS_S}s"
            ) from None
        self.workers = len(self._client.scheduler_info().get("workers", {}))

    def run(self, runner: Runner, specs: Sequence[TaskSpec]) -> Iterator[TaskOutcome]:
        """Submit every spec as a future; yield outcomes as they complete.

        Each result is released as soon as it is handed over, so a worker lost
        later has nothing finished to recompute.

        Raises:
            NoWorkersError: no worker for :attr:`no_workers_s` with tasks queued.
        """
        token = uuid.uuid4().hex[:12]
        futures = {
            self._client.submit(
                runner,
                spec,
                key=f"sscard-{token}-v{spec.key.variant}-r{spec.key.replication}",
                pure=False,
            ): spec
            for spec in specs
        }
        try:
            done = self._distributed.as_completed(list(futures), loop=self._client.loop)
            watch = _WorkerWatch(self)
            while not done.is_empty():
                if not done.has_ready():
                    watch.check(len(futures))
                    time.sleep(POLL_S)
                    continue
                for future in done.next_batch(block=False):
                    spec = futures.pop(future)
                    try:
                        outcome = future.result()
                    except Exception as exc:  # KilledWorker, lost connection, …
                        outcome = _failed(spec, exc)
                    future.release()
                    yield outcome
                watch.reset()
        finally:
            self._client.cancel(list(futures))

    def workers_now(self) -> int:
        """Workers the scheduler knows at this moment."""
        return len(self._client.scheduler_info().get("workers", {}))

    def close(self) -> None:
        """Disconnect; stop the local cluster if this executor started one."""
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


class _WorkerWatch:
    """Notices a Dask cluster left with tasks queued and no worker to run them."""

    def __init__(self, executor: DaskExecutor) -> None:
        self.executor = executor
        self.checked = time.monotonic()
        self.alone_since: float | None = None

    def reset(self) -> None:
        """A task completed: some worker is there."""
        self.alone_since = None

    def check(self, queued: int) -> None:
        """Raise :class:`NoWorkersError` once no worker has been seen for long enough."""
        now = time.monotonic()
        if now - self.checked < WORKER_CHECK_S:
            return
        self.checked = now
        if self.executor.workers_now():
            self.alone_since = None
            return
        self.alone_since = now if self.alone_since is None else self.alone_since
        waited = self.executor.no_workers_s
        if now - self.alone_since >= waited:
            raise NoWorkersError(
                f"no Dask worker left at {self.executor.where} for {waited:g}s with "
                f"{queued} task(s) queued; finished tasks are kept: start workers and run "
                "the same command again to resume"
            )


def make_executor(
    name: str, workers: int | None = None, scheduler: str | None = None
) -> InProcessExecutor | LocalExecutor | DaskExecutor:
    """The executor named on the command line (``local`` or ``dask``)."""
    if name == "dask":
        return DaskExecutor(scheduler, workers)
    if name != "local":
        raise ExecutorError(f"unknown executor {name!r} (known: local, dask)")
    if scheduler is not None:
        raise ExecutorError("--scheduler needs --executor dask")
    if workers == 1:
        return InProcessExecutor()
    return LocalExecutor(workers)
