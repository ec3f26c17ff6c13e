"""Sweeps on a real Dask cluster (``distributed.LocalCluster``, 2 worker processes): same numbers as a
local run, a cache written by the workers, recovery from a killed worker or a restarted cluster, a
progress bar that follows completed futures, and the scheduler chosen by ``--scheduler`` /
``$RLTHEORY_SCHEDULER``. Skipped when the ``dask`` extra is not installed.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rltheory import Trace, cluster, experiments
from rltheory.algorithm import Algorithm
from rltheory.algorithms import UCBVI
from rltheory.errors import InvalidParameterError
from rltheory.experiments import run_experiment, sweep
from rltheory.mdps import riverswim
from rltheory.rng import as_seed_sequences, generators

try:
    import distributed
except ImportError:  # the optional extra is absent: every cluster test skips
    distributed = None

needs_dask = pytest.mark.skipif(distributed is None, reason="needs the dask extra (dask[distributed])")
WAIT = 60.0  # seconds any wait on the cluster may take before the test fails


class Noise(Algorithm):
    """A fast learner stand-in: ``regret[r]`` = uniforms from replicate r's generator.

    Each call writes ``calls_dir/call-<a>-<b>-<pid>`` (``a``, ``b``: its replicate range, ``pid``: the
    process that ran it). A call whose range holds replicate ``gate`` first writes
    ``calls_dir/started-<pid>`` and waits until ``calls_dir/open`` exists.
    """

    def __init__(self, *, calls_dir: str | None = None, gate: int | None = None):
        self.calls_dir = calls_dir
        self.gate = gate

    def run(self, model, episodes, *, replicates=None, seed=0, backend=None):
        seeds = as_seed_sequences(seed, replicates)
        reps = [int(s.spawn_key[0]) for s in seeds]
        if self.calls_dir is not None:
            folder = Path(self.calls_dir)
            (folder / f"call-{reps[0]}-{reps[-1] + 1}-{os.getpid()}").touch()
            if self.gate is not None and self.gate in reps:
                (folder / f"started-{os.getpid()}").touch()
                deadline = time.monotonic() + WAIT
                while not (folder / "open").exists() and time.monotonic() < deadline:
                    time.sleep(0.02)
        regret = np.stack([g.random(episodes) for g in generators(seeds)])
        return Trace({"regret": regret}, {"algorithm": "Noise"})


def calls(folder: Path) -> list[tuple[int, int, int]]:
    """``(a, b, pid)`` of every recorded call, sorted."""
    return sorted(tuple(int(x) for x in p.name.split("-")[1:]) for p in folder.glob("call-*"))


def chunk_files(cache: Path) -> set[str]:
    (key_dir,) = [p for p in cache.iterdir() if p.is_dir()]
    return {p.name for p in key_dir.iterdir() if p.name != "config.json"}


def wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def in_thread(fn, *args, **kwargs) -> cf.Future:
    """Run ``fn`` in a background daemon thread (the sweep), so that the test can act on the cluster meanwhile.

    A daemon thread, not a ``ThreadPoolExecutor``: the interpreter joins a pool's threads at exit, so a sweep
    that never returned (the bug a test here caught) would hold pytest open after the last test.
    """
    future: cf.Future = cf.Future()
    future.set_running_or_notify_cancel()

    def target():
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the test through the future
            future.set_exception(exc)
        else:
            future.set_result(result)

    threading.Thread(target=target, daemon=True, name=f"in_thread-{fn.__name__}").start()
    return future


@pytest.fixture(scope="module")
def client():
    if distributed is None:
        pytest.skip("needs the dask extra (dask[distributed])")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  silence_logs=logging.CRITICAL) as local_cluster, \
            distributed.Client(local_cluster) as c:
        c.wait_for_workers(2, timeout=WAIT)
        yield c


@pytest.fixture
def fresh_client(client):
    """The module's client with both workers up (a previous test may have killed or restarted them)."""
    client.wait_for_workers(2, timeout=WAIT)
    yield client
    cluster.close_clients()


@pytest.fixture(scope="module")
def tiny():
    return riverswim(3, 4)


def local_noise(model, replicates: int, episodes: int = 7) -> Trace:
    return run_experiment(Noise(), model, episodes, replicates=replicates, seed=5, cache_dir=False,
                          progress=False, executor="local")


# ---------------------------------------------------------------------------- same numbers


@needs_dask
def test_ucbvi_on_dask_is_bit_identical_to_local_whatever_the_chunking(fresh_client, tiny):
    alg = UCBVI(bonus="bernstein", bonus_scale=0.05)
    local = run_experiment(alg, tiny, 15, replicates=6, seed=3, chunk_replicates=6, cache_dir=False,
                           backend="numpy", progress=False)
    for chunk, executor in [(1, fresh_client), (4, fresh_client.get_executor())]:
        on_dask = run_experiment(alg, tiny, 15, replicates=6, seed=3, chunk_replicates=chunk,
                                 cache_dir=False, backend="numpy", progress=False, executor=executor)
        assert set(on_dask.keys()) == set(local.keys())
        for k in local.keys():
            np.testing.assert_array_equal(on_dask[k], local[k], err_msg=f"{k}, chunk {chunk}")


@needs_dask
def test_sweep_grid_on_dask_equals_the_local_sweep_and_runs_on_the_workers(fresh_client, tiny, tmp_path):
    configs = [(name, Noise(calls_dir=str(tmp_path)), model)
               for name, model in [("three", tiny), ("five", riverswim(5, 4))]]
    local = sweep(configs, 9, replicates=8, seed=2, chunk_replicates=8, cache_dir=False, progress=False)
    for p in tmp_path.glob("call-*"):
        p.unlink()
    on_dask = sweep(configs, 9, replicates=8, seed=2, chunk_replicates=1, cache_dir=False, progress=False,
                    executor=fresh_client)
    assert list(on_dask) == ["three", "five"] and on_dask == local
    workers = set(fresh_client.run(os.getpid).values())
    ran_on = {pid for _, _, pid in calls(tmp_path)}
    assert ran_on <= workers and os.getpid() not in ran_on
    assert {(a, b) for a, b, _ in calls(tmp_path)} == {(r, r + 1) for r in range(8)}


# ---------------------------------------------------------------------------- shared cache


@needs_dask
def test_workers_write_the_cache_and_a_local_rerun_reads_it(fresh_client, tiny, tmp_path, monkeypatch):
    def client_must_not_save(*args, **kwargs):
        raise AssertionError("the client saved a chunk its worker had already written")

    monkeypatch.setattr(experiments, "_save_atomic", client_must_not_save)  # this process only
    first = run_experiment(Noise(), tiny, 7, replicates=10, seed=5, chunk_replicates=3, cache_dir=tmp_path,
                           progress=False, executor=fresh_client)
    assert chunk_files(tmp_path) == {"reps-0-3.npz", "reps-3-6.npz", "reps-6-9.npz", "reps-9-10.npz"}
    monkeypatch.undo()
    assert first == local_noise(tiny, 10)
    again = run_experiment(Noise(), tiny, 7, replicates=12, seed=5, chunk_replicates=4, cache_dir=tmp_path,
                           progress=False, executor="local")
    assert again.meta["experiment"]["replicates_from_cache"] == 10
    assert again == local_noise(tiny, 12)


# ---------------------------------------------------------------------------- failures


@needs_dask
def test_worker_killed_mid_sweep_loses_nothing(fresh_client, tiny, tmp_path):
    calls_dir, cache = tmp_path / "calls", tmp_path / "cache"
    calls_dir.mkdir()
    alg = Noise(calls_dir=str(calls_dir), gate=4)
    running = in_thread(run_experiment, alg, tiny, 7, replicates=8, seed=5, chunk_replicates=2,
                        cache_dir=cache, progress=False, executor=fresh_client)
    wait_for(lambda: list(calls_dir.glob("started-*")), "the gated chunk to start")
    (started,) = calls_dir.glob("started-*")
    victim = int(started.name.split("-")[1])
    os.kill(victim, signal.SIGKILL)  # the worker computing replicates [4, 6) dies mid-chunk
    (calls_dir / "open").touch()
    trace = running.result(timeout=WAIT)
    assert trace == local_noise(tiny, 8)
    assert chunk_files(cache) == {"reps-0-2.npz", "reps-2-4.npz", "reps-4-6.npz", "reps-6-8.npz"}
    gated = [pid for a, _, pid in calls(calls_dir) if a == 4]
    assert len(gated) == 2 and gated[0] != gated[1] and victim in gated  # rerun elsewhere, once


@needs_dask
def test_cluster_restarted_mid_sweep_then_rerun_computes_only_what_is_missing(fresh_client, tiny, tmp_path):
    calls_dir, cache = tmp_path / "calls", tmp_path / "cache"
    calls_dir.mkdir()
    alg = Noise(calls_dir=str(calls_dir), gate=4)
    running = in_thread(run_experiment, alg, tiny, 7, replicates=8, seed=5, chunk_replicates=2,
                        cache_dir=cache, progress=False, executor=fresh_client)
    wait_for(lambda: list(calls_dir.glob("started-*")) and len(list(calls_dir.glob("call-*"))) == 4,
             "every chunk to start")
    # every worker killed while [4, 6) waits at its gate; on a loaded machine a nanny can take over a minute to
    # bring its worker back, so the restart does not wait for them (the rerun below does)
    fresh_client.restart(timeout=WAIT, wait_for_workers=False)
    with pytest.raises(cf.CancelledError, match="rerun to compute only the missing"):
        running.result(timeout=WAIT)
    done = chunk_files(cache)
    assert "reps-4-6.npz" not in done and not [p for p in done if not p.endswith(".npz")]
    (calls_dir / "open").touch()
    for p in calls_dir.glob("call-*"):
        p.unlink()
    fresh_client.wait_for_workers(2, timeout=WAIT)
    resumed = run_experiment(alg, tiny, 7, replicates=8, seed=5, chunk_replicates=2, cache_dir=cache,
                             progress=False, executor=fresh_client)
    assert resumed == local_noise(tiny, 8)
    recomputed = {f"reps-{a}-{b}.npz" for a, b, _ in calls(calls_dir)}
    assert recomputed == {"reps-0-2.npz", "reps-2-4.npz", "reps-4-6.npz", "reps-6-8.npz"} - done
    assert resumed.meta["experiment"]["replicates_computed"] == 2 * len(recomputed)


@needs_dask
def test_client_killed_mid_sweep_its_running_chunk_is_still_saved(fresh_client, tmp_path):
    calls_dir, cache = tmp_path / "calls", tmp_path / "cache"
    calls_dir.mkdir()
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
              "from test_dask import Noise\n"
              "from rltheory.experiments import run_experiment\n"
              "from rltheory.mdps import riverswim\n"
              f"run_experiment(Noise(calls_dir={str(calls_dir)!r}, gate=4), riverswim(3, 4), 7, replicates=8, "
              f"seed=5, chunk_replicates=2, cache_dir={str(cache)!r}, progress=False, "
              f"executor={fresh_client.scheduler.address!r})\n")
    client_process = subprocess.Popen([sys.executable, "-c", script])
    try:
        wait_for(lambda: list(calls_dir.glob("started-*")), "the gated chunk to start")
    finally:
        client_process.kill()  # the client dies while a worker runs replicates [4, 6)
        client_process.wait()
    (calls_dir / "open").touch()
    wait_for(lambda: "reps-4-6.npz" in chunk_files(cache), "the orphaned chunk to be saved by its worker")
    done = chunk_files(cache)
    for p in calls_dir.glob("call-*"):
        p.unlink()
    resumed = run_experiment(Noise(calls_dir=str(calls_dir), gate=4), riverswim(3, 4), 7, replicates=8, seed=5,
                             chunk_replicates=2, cache_dir=cache, progress=False, executor="local")
    assert resumed == local_noise(riverswim(3, 4), 8)
    assert {f"reps-{a}-{b}.npz" for a, b, _ in calls(calls_dir)} == {
        "reps-0-2.npz", "reps-2-4.npz", "reps-4-6.npz", "reps-6-8.npz"} - done


def test_a_chunk_already_saved_is_read_back_by_its_worker_not_recomputed(tiny, tmp_path):
    """What a rescheduled Dask task does when the worker that ran it first had already saved it."""
    calls_dir, cache = tmp_path / "calls", tmp_path / "cache"
    calls_dir.mkdir()
    alg = Noise(calls_dir=str(calls_dir))
    first = run_experiment(alg, tiny, 7, replicates=4, seed=5, chunk_replicates=2, cache_dir=cache,
                           progress=False)
    (key_dir,) = [p for p in cache.iterdir() if p.is_dir()]
    key = key_dir.name
    for p in calls_dir.glob("call-*"):
        p.unlink()
    again = experiments._compute_chunk(alg, tiny, 7, 5, 2, 4, None, {}, str(key_dir / "reps-2-4.npz"), key)
    assert not list(calls_dir.glob("call-*"))
    np.testing.assert_array_equal(again.regret, first.regret[2:4])
    fresh = experiments._compute_chunk(alg, tiny, 7, 5, 4, 6, None, {}, str(key_dir / "reps-4-6.npz"), key)
    assert calls(calls_dir) == [(4, 6, os.getpid())] and (key_dir / "reps-4-6.npz").exists()
    np.testing.assert_array_equal(fresh.regret, local_noise(tiny, 6).regret[4:6])


# ---------------------------------------------------------------------------- progress


class Bar:
    """Records what the runner's tqdm bar is told."""

    made: list[Bar] = []

    def __init__(self, total, initial=0, **kwargs):
        self.total, self.n = total, initial
        Bar.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, k=1):
        self.n += k

    def set_postfix(self, **kwargs):
        pass


@needs_dask
def test_progress_bar_advances_as_futures_complete(fresh_client, tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "tqdm", Bar)
    Bar.made = []
    alg = Noise(calls_dir=str(tmp_path), gate=6)
    running = in_thread(run_experiment, alg, tiny, 7, replicates=8, seed=5, chunk_replicates=2,
                        cache_dir=False, progress=True, executor=fresh_client)
    wait_for(lambda: Bar.made and Bar.made[0].n == 3, "three chunks to complete")
    assert not running.done()  # the bar moved while [6, 8) is still blocked
    (tmp_path / "open").touch()
    running.result(timeout=WAIT)
    assert (Bar.made[0].total, Bar.made[0].n) == (4, 4)


# ---------------------------------------------------------------------------- choosing the scheduler


@needs_dask
def test_scheduler_from_environment_context_and_dask_config(fresh_client, tiny, tmp_path, monkeypatch):
    import dask

    address = fresh_client.scheduler.address
    workers = set(fresh_client.run(os.getpid).values())

    def ran_on(**kwargs) -> set[int]:
        for p in tmp_path.glob("call-*"):
            p.unlink()
        run_experiment(Noise(calls_dir=str(tmp_path)), tiny, 7, replicates=4, seed=5, chunk_replicates=1,
                       cache_dir=False, progress=False, **kwargs)
        return {pid for _, _, pid in calls(tmp_path)}

    assert ran_on() == {os.getpid()}  # the default: this process
    monkeypatch.setenv(cluster.SCHEDULER_ENV, address)
    assert ran_on() <= workers
    assert ran_on(executor="local") == {os.getpid()}
    with cluster.scheduler_default("local"):
        assert ran_on() == {os.getpid()}
    monkeypatch.delenv(cluster.SCHEDULER_ENV)
    with cluster.scheduler_default(address):
        assert ran_on() <= workers
    with dask.config.set({"scheduler-address": address}):  # "dask": distributed.Client()'s own default
        assert ran_on(executor="dask") <= workers
    assert ran_on() == {os.getpid()}


@needs_dask
def test_cli_scheduler_option_reaches_the_recipes(monkeypatch, tmp_path):
    from rltheory import cli, figures

    seen = []
    monkeypatch.setattr(figures, "load_recipes", lambda: {})
    monkeypatch.setattr(figures, "check_names", lambda names: None)
    monkeypatch.setattr(figures, "reproduce", lambda *a, **k: seen.append(cluster.default_scheduler()) or [])
    assert cli.main(["reproduce", "--out", str(tmp_path), "--scheduler", "tcp://10.0.0.1:8786"]) == 0
    assert seen == ["tcp://10.0.0.1:8786"]
    assert cluster.default_scheduler() is None
    assert cli.main(["reproduce", "--out", str(tmp_path), "--scheduler", "not an address"]) == 2


def test_bad_executor_is_refused_before_any_work(tiny):
    with pytest.raises(InvalidParameterError, match="executor") as err:
        run_experiment(Noise(), tiny, 7, replicates=2, cache_dir=False, progress=False, executor=3)
    assert err.value.argument == "executor"
    with pytest.raises(InvalidParameterError, match="executor"):
        run_experiment(Noise(), tiny, 7, replicates=2, cache_dir=False, progress=False, executor=" ")


def test_dask_without_the_extra_says_how_to_install_it(tiny, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now fails
    with pytest.raises(ModuleNotFoundError, match=r"rltheory\[dask\]"):
        run_experiment(Noise(), tiny, 7, replicates=2, cache_dir=False, progress=False, executor="dask")


def test_importing_rltheory_does_not_import_dask():
    code = ("import sys, rltheory, rltheory.experiments, rltheory.cluster, rltheory.cli, rltheory.figures\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- the executor adapter, without a cluster


class FakeDaskFuture:
    """Enough of ``distributed.Future`` for :class:`cluster.DaskClientExecutor`: the test decides the outcome."""

    def __init__(self):
        self.callbacks, self.outcome, self.was_cancelled = [], None, False

    def add_done_callback(self, fn):
        self.callbacks.append(fn)

    def finish(self, outcome):
        self.outcome = outcome
        for fn in self.callbacks:
            threading.Thread(target=fn, args=(self,), daemon=True).start()  # Dask calls back on its own thread

    def result(self):
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome

    def cancelled(self):
        return self.was_cancelled

    def cancel(self):
        self.was_cancelled = True


class FakeClient:
    def __init__(self):
        self.submitted = []

    def submit(self, fn, *args, pure=True, **kwargs):
        assert pure is False  # chunks are impure: two replicates' chunks must never be merged by Dask
        self.submitted.append(FakeDaskFuture())
        return self.submitted[-1]


class FutureCancelledError(cf.CancelledError):
    """What ``Client._gather`` raises for a task whose result a cluster restart lost."""


def settled(futures, timeout=10.0):
    done, pending = cf.wait(futures, timeout=timeout)
    assert not pending, "a future was never settled: a sweep waiting on it would hang"
    return done


@pytest.mark.parametrize("lost", [FutureCancelledError("scheduler-restart"), cf.CancelledError()])
def test_a_result_lost_after_the_task_finished_settles_the_future_as_cancelled(lost):
    # the race CI met: the task finished, then a restart lost its result before the gather; Dask's own
    # ClientExecutor left its future pending for ever, and run_experiment waited on it past CI's limit
    executor = cluster.DaskClientExecutor(FakeClient())
    futures = [executor.submit(print, i) for i in range(3)]
    for dask_future, outcome in zip(executor.client.submitted, [1, lost, ValueError("boom")], strict=True):
        dask_future.finish(outcome)
    settled(futures)
    assert futures[0].result() == 1
    assert futures[1].cancelled()
    with pytest.raises(ValueError, match="boom"):
        futures[2].result()
    assert [f for f in cf.as_completed(futures, timeout=10)] != []  # as_completed wakes for all three


def test_cancelling_wakes_the_waiter_at_once_and_cancels_the_dask_task():
    executor = cluster.DaskClientExecutor(FakeClient())
    future = executor.submit(print)
    assert future.cancel()
    settled([future], timeout=1.0)  # without waiting for Dask to call back
    assert executor.client.submitted[0].was_cancelled
    executor.client.submitted[0].finish(cf.CancelledError())  # the late callback changes nothing
    executor.client.submitted[0].finish(3)
    time.sleep(0.1)
    assert future.cancelled()


def test_a_task_finishing_after_its_future_was_cancelled_leaves_it_cancelled():
    executor = cluster.DaskClientExecutor(FakeClient())
    future = executor.submit(print)
    future.cancel()
    executor.client.submitted[0].finish(7)
    time.sleep(0.1)
    assert future.cancelled() and settled([future])


def test_dask_own_executor_and_a_client_both_resolve_to_the_settling_adapter():
    class ClientExecutor(cf.Executor):  # stands for distributed.cfexecutor.ClientExecutor
        __module__ = "distributed.cfexecutor"

        def __init__(self, client):
            self._client = client

    client = FakeClient()
    client.get_executor = lambda **kw: ClientExecutor(client)
    for given in (client, ClientExecutor(client)):
        resolved = cluster.resolve_executor(given)
        assert isinstance(resolved, cluster.DaskClientExecutor) and resolved.client is client
    thread_pool = cf.ThreadPoolExecutor(1)
    assert cluster.resolve_executor(thread_pool) is thread_pool  # any other executor is used as it is
    thread_pool.shutdown()
