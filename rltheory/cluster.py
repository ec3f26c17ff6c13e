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
* a ``distributed.Client``: its ``get_executor(pure=False)``;
* any ``concurrent.futures.Executor``: used as it is.

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

__all__ = ["SCHEDULER_ENV", "resolve_executor", "check_executor", "scheduler_default", "default_scheduler",
           "dask_client", "close_clients", "is_remote"]

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
    if isinstance(executor, cf.Executor):
        return executor
    if isinstance(executor, str):
        _check_spec(executor, "executor")
        if executor == "local":
            return None
        return dask_client(executor).get_executor(pure=False)
    return executor.get_executor(pure=False)  # a distributed.Client (or anything shaped like one)


def is_remote(executor: cf.Executor | None) -> bool:
    """Whether ``executor`` may outlive this process's view of its tasks (anything but a local process pool).

    The experiment runner then has each chunk saved by the worker that computed it, so that a client
    that dies loses nothing already computed.
    """
    return executor is not None and not isinstance(executor, cf.ProcessPoolExecutor | cf.ThreadPoolExecutor)
