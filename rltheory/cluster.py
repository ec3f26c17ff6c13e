"""Where the experiment runner's chunks run: local processes (the default) or a Dask cluster.

:func:`rltheory.experiments.run_experiment` and :func:`~rltheory.experiments.sweep` take
``executor=``, resolved here by :func:`resolve_executor`:

* ``None``: the default executor, :func:`default_scheduler`: the scheduler set by
  :func:`scheduler_default` (``rltheory reproduce --scheduler ADDRESS`` uses it), else the
  environment variable ``RLTHEORY_SCHEDULER``, else local processes (``workers=``);
* ``"local"``: local processes, whatever the environment says;
* ``"dask"``: a ``distributed.Client()`` with Dask's own default (the scheduler named in Dask's
  configuration, e.g. ``DASK_SCHEDULER_ADDRESS``, else a new ``LocalCluster`` on this machine, whose
  worker processes, like ``workers=N``'s, need scripts to have the ``if __name__ == "__main__":`` guard);
* any other string: a Dask scheduler address (``"tcp://head-node:8786"``);
* a ``distributed.Client`` (or its ``get_executor()``): a :class:`DaskClientExecutor` on it;
* any other ``concurrent.futures.Executor``: used as it is.

Why not Dask's own ``Client.get_executor()``: its futures are fed by a coroutine that lets an
exception escape when a task finished but its result was lost before the gather (a cluster restarted
at that moment), and the ``concurrent.futures`` future is then never settled, so a sweep waiting on
it hangs. :class:`DaskClientExecutor` settles every future, whatever happens to the cluster.

Clients this module creates (from a string) are kept, one per string, and reused by later sweeps
of the same process; :func:`close_clients` closes them. The Dask extra is optional
(``pip install 'rltheory[dask]'``): ``distributed`` is imported only when a Dask executor is asked
for, never by ``import rltheory``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import contextvars
import os
import threading
from collections.abc import Iterator
from typing import Any

from .errors import InvalidParameterError

__all__ = ["SCHEDULER_ENV", "DaskClientExecutor", "resolve_executor", "check_executor", "scheduler_default",
           "default_scheduler", "dask_client", "close_clients", "is_remote"]

#: Environment variable naming the default scheduler: ``"dask"``, ``"local"`` or a Dask scheduler address.
SCHEDULER_ENV = "RLTHEORY_SCHEDULER"

_SCHEDULER: contextvars.ContextVar[str | None] = contextvars.ContextVar("rltheory_scheduler", default=None)
_CLIENTS: dict[str, Any] = {}
_LOCK = threading.Lock()


@contextlib.contextmanager
def scheduler_default(scheduler: str | None) -> Iterator[None]:
    """Within the block, ``executor=None`` means ``scheduler`` (``None``: no change).

    ``rltheory reproduce --scheduler ADDRESS`` wraps the figure recipes in it, so that the sweeps
    inside them (which pass no ``executor``) run on that Dask scheduler.
    """
    if scheduler is None:
        yield
        return
    _check_spec(scheduler, "scheduler")
    token = _SCHEDULER.set(scheduler)
    try:
        yield
    finally:
        _SCHEDULER.reset(token)


def default_scheduler() -> str | None:
    """What ``executor=None`` stands for: :func:`scheduler_default`'s, else ``$RLTHEORY_SCHEDULER``, else ``None``."""
    scheduler = _SCHEDULER.get()
    if scheduler is not None:
        return scheduler
    return os.environ.get(SCHEDULER_ENV) or None


def _check_spec(spec: str, name: str) -> None:
    if not spec.strip() or any(c.isspace() for c in spec):
        raise InvalidParameterError(name, f"must be 'local', 'dask' or a Dask scheduler address, got {spec!r}",
                                    value=spec)


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ModuleNotFoundError(
            "running sweeps on Dask needs the optional extra: pip install 'rltheory[dask]' "
            f"(import distributed failed: {exc})", name="distributed") from exc
    return distributed


def dask_client(spec: str = "dask"):
    """The ``distributed.Client`` for ``spec`` (``"dask"`` or a scheduler address), created once and reused."""
    _check_spec(spec, "executor")
    with _LOCK:
        client = _CLIENTS.get(spec)
        if client is not None and client.status in ("running", "connecting", "newly-created"):
            return client
        distributed = _import_distributed()
        client = distributed.Client() if spec == "dask" else distributed.Client(spec)
        _CLIENTS[spec] = client
        return client


def close_clients() -> None:
    """Close every client :func:`dask_client` created (and the local clusters it started)."""
    with _LOCK:
        clients = list(_CLIENTS.values())
        _CLIENTS.clear()
    for client in clients:
        with contextlib.suppress(Exception):
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()


def check_executor(executor) -> None:
    """Raise :class:`InvalidParameterError` unless ``executor`` is an accepted value (connects to nothing)."""
    if executor is None or isinstance(executor, cf.Executor) or callable(getattr(executor, "get_executor", None)):
        return
    if isinstance(executor, str):
        _check_spec(executor, "executor")
        return
    raise InvalidParameterError(
        "executor", "must be None, 'local', 'dask', a Dask scheduler address, a distributed.Client or a "
        f"concurrent.futures.Executor, got {type(executor).__name__}", value=type(executor).__name__)


def resolve_executor(executor) -> cf.Executor | None:
    """The ``concurrent.futures.Executor`` that ``executor=`` names, or ``None`` for local processes.

    See the module docstring for the accepted values.
    """
    check_executor(executor)
    if executor is None:
        executor = default_scheduler()
        if executor is None:
            return None
    if isinstance(executor, DaskClientExecutor):
        return executor
    if isinstance(executor, cf.Executor):
        client = _client_of_dask_executor(executor)
        return executor if client is None else DaskClientExecutor(client)
    if isinstance(executor, str):
        _check_spec(executor, "executor")
        if executor == "local":
            return None
        return DaskClientExecutor(dask_client(executor))
    return DaskClientExecutor(executor)  # a distributed.Client (or anything shaped like one)


def _client_of_dask_executor(executor: cf.Executor):
    """The client behind Dask's own ``ClientExecutor`` (``Client.get_executor()``), else ``None``."""
    if type(executor).__name__ == "ClientExecutor" and type(executor).__module__.startswith("distributed"):
        return getattr(executor, "_client", None)
    return None


class _DaskTaskFuture(cf.Future):
    """A ``concurrent.futures.Future`` mirroring one Dask future; settled exactly once, always.

    ``cancel()`` cancels the Dask task too. The outcome arrives by the Dask future's done callback
    (run on a Dask callback thread), which reads the result there: a result lost after the task
    finished (the cluster restarted in between) settles this future as cancelled instead of leaving
    it pending.
    """

    def __init__(self, dask_future):
        super().__init__()
        self._dask_future = dask_future
        self._settle_lock = threading.Lock()
        self._notified = False

    def _notify_cancelled(self) -> None:
        if not self._notified:
            self._notified = True
            self.set_running_or_notify_cancel()  # wakes cf.wait / cf.as_completed

    def cancel(self) -> bool:
        with self._settle_lock:
            cancelled = super().cancel()
            if cancelled:
                self._notify_cancelled()
        if cancelled:
            with contextlib.suppress(Exception):
                self._dask_future.cancel()
        return cancelled

    def _settle(self, dask_future) -> None:
        try:
            outcome, value = "result", dask_future.result()
        except BaseException as exc:  # noqa: BLE001 - every outcome must reach the waiting sweep
            lost = dask_future.cancelled() or isinstance(exc, cf.CancelledError) or \
                type(exc).__name__ in ("CancelledError", "FutureCancelledError")
            outcome, value = ("cancelled" if lost else "error"), exc
        with self._settle_lock:
            if not self.cancelled() and outcome == "cancelled":
                super().cancel()
            if self.cancelled():
                self._notify_cancelled()
            elif outcome == "result":
                self.set_result(value)
            else:
                self.set_exception(value)


class DaskClientExecutor(cf.Executor):
    """A ``concurrent.futures.Executor`` on a ``distributed.Client``, every task impure (``pure=False``).

    Each returned future is settled once its Dask task finishes, fails or is cancelled, including a
    cancellation by a cluster restart that races with the end of the task (see the module docstring).
    """

    def __init__(self, client):
        self.client = client

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        dask_future = self.client.submit(fn, *args, pure=False, **kwargs)
        future = _DaskTaskFuture(dask_future)
        dask_future.add_done_callback(future._settle)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to release: the client belongs to whoever made it."""


def is_remote(executor: cf.Executor | None) -> bool:
    """Whether ``executor`` may outlive this process's view of its tasks (anything but a local process pool).

    The experiment runner then has each chunk saved by the worker that computed it, so that a client
    that dies loses nothing already computed.
    """
    return executor is not None and not isinstance(executor, cf.ProcessPoolExecutor | cf.ThreadPoolExecutor)
