"""The experiment runner: determinism across chunking and workers, cache, resume, atomicity."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from rltheory import Trace
from rltheory.algorithm import Algorithm
from rltheory.algorithms import UCBVI
from rltheory.errors import InvalidParameterError
from rltheory.experiments import (
    CACHE_DIRNAME,
    CACHE_ENV,
    cache_key,
    default_cache_dir,
    run_experiment,
    sweep,
)
from rltheory.mdps import riverswim
from rltheory.rng import as_seed_sequences, generators

CALLS_ENV = "RLTHEORY_TEST_CALLS_DIR"
FAIL_ENV = "RLTHEORY_TEST_FAIL_AT"


class NoiseAlgo(Algorithm):
    """A fast stand-in learner: ``regret[r] = scale * uniforms`` from replicate r's generator.

    Every call to ``run`` is recorded, in ``NoiseAlgo.calls`` (this process) and, when
    ``$RLTHEORY_TEST_CALLS_DIR`` is set, as a file ``call-<first>-<last+1>`` there (any
    process). ``NoiseAlgo.interrupt_on_call = k`` raises ``interrupt_with`` on the k-th call;
    ``$RLTHEORY_TEST_FAIL_AT = r`` raises RuntimeError in any call that includes replicate r.
    """

    calls: list[list[int]] = []
    interrupt_on_call: int | None = None
    interrupt_with: type[BaseException] = KeyboardInterrupt

    def __init__(self, *, scale: float = 1.0):
        self.scale = scale

    def run(self, model, episodes, *, replicates=None, seed=0, backend=None):
        seeds = as_seed_sequences(seed, replicates)
        reps = [int(s.spawn_key[0]) for s in seeds]
        NoiseAlgo.calls.append(reps)
        if os.environ.get(CALLS_ENV):
            Path(os.environ[CALLS_ENV], f"call-{reps[0]}-{reps[-1] + 1}").touch()
        if NoiseAlgo.interrupt_on_call == len(NoiseAlgo.calls):
            raise NoiseAlgo.interrupt_with("simulated interruption")
        fail_at = os.environ.get(FAIL_ENV)
        if fail_at is not None and int(fail_at) in reps:
            raise RuntimeError(f"simulated crash at replicate {fail_at}")
        regret = np.stack([g.random(episodes) * self.scale for g in generators(seeds)])
        return Trace({"regret": regret, "values": 1.0 - regret}, {"algorithm": "NoiseAlgo"})


@pytest.fixture(autouse=True)
def _reset_noise_algo():
    NoiseAlgo.calls = []
    NoiseAlgo.interrupt_on_call = None
    NoiseAlgo.interrupt_with = KeyboardInterrupt
    yield
    NoiseAlgo.calls = []
    NoiseAlgo.interrupt_on_call = None


@pytest.fixture(scope="module")
def tiny():
    return riverswim(3, 4)


def chunk_files(cache: Path) -> list[str]:
    """Names of the chunk files under the single key folder of ``cache``."""
    (key_dir,) = [p for p in cache.iterdir() if p.is_dir()]
    return sorted(p.name for p in key_dir.iterdir() if p.name.startswith("reps-"))


def fresh(model, replicates=20, **kwargs):
    """The reference: NoiseAlgo, 7 episodes, seed 5, no cache."""
    return run_experiment(NoiseAlgo(), model, 7, replicates=replicates, seed=5, cache_dir=False,
                          progress=False, **kwargs)


def noise(model, cache, replicates, chunk, **kwargs):
    """NoiseAlgo, 7 episodes, seed 5, cached under ``cache``."""
    return run_experiment(NoiseAlgo(), model, 7, replicates=replicates, seed=5,
                          chunk_replicates=chunk, cache_dir=cache, progress=False, **kwargs)


# ---------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("chunk", [1, 2, 5, 8])
def test_ucbvi_bit_identical_whatever_the_chunking(tiny, chunk):
    alg = UCBVI(bonus="hoeffding", bonus_scale=0.2)
    reference = alg.run(tiny, 25, replicates=5, seed=7)
    trace = run_experiment(alg, tiny, 25, replicates=5, seed=7, chunk_replicates=chunk,
                           cache_dir=False, progress=False)
    assert trace.regret.shape == (5, 25)
    assert set(trace.keys()) == set(reference.keys())
    for k in reference.keys():
        np.testing.assert_array_equal(trace[k], reference[k], err_msg=k)
    assert trace.meta["replicates"] == 5 and trace.meta["seed"] == 7


def test_ucbvi_workers_equal_serial(tmp_path, tiny):
    # The numpy backend keeps worker start-up cheap (no per-process numba compile).
    alg = UCBVI(bonus="bernstein", bonus_scale=0.05)
    serial = run_experiment(alg, tiny, 20, replicates=6, seed=3, chunk_replicates=6,
                            cache_dir=False, backend="numpy", progress=False)
    parallel = run_experiment(alg, tiny, 20, replicates=6, seed=3, chunk_replicates=2, workers=2,
                              cache_dir=tmp_path, backend="numpy", progress=False)
    for k in serial.keys():
        np.testing.assert_array_equal(parallel[k], serial[k], err_msg=k)
    assert chunk_files(tmp_path) == ["reps-0-2.npz", "reps-2-4.npz", "reps-4-6.npz"]
    # and a serial rerun reads the workers' files back unchanged
    again = run_experiment(alg, tiny, 20, replicates=6, seed=3, chunk_replicates=3,
                           cache_dir=tmp_path, backend="numpy", progress=False)
    assert again == serial
    assert again.meta["experiment"]["replicates_from_cache"] == 6


def test_noise_algo_matches_direct_run(tiny):
    direct = NoiseAlgo().run(tiny, 7, replicates=20, seed=5)
    for chunk in (1, 3, 20, 64):
        assert fresh(tiny, chunk_replicates=chunk) == direct


# ---------------------------------------------------------------------------- cache and resume


def test_cache_files_and_reuse(tmp_path, tiny):
    first = noise(tiny, tmp_path, 10, 4)
    assert NoiseAlgo.calls == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert chunk_files(tmp_path) == ["reps-0-4.npz", "reps-4-8.npz", "reps-8-10.npz"]
    (key_dir,) = [p for p in tmp_path.iterdir()]
    assert (key_dir / "config.json").is_file()
    assert first.meta["experiment"]["cache_key"] == key_dir.name
    NoiseAlgo.calls = []
    second = noise(tiny, tmp_path, 10, 4)
    assert NoiseAlgo.calls == []
    assert second == first == fresh(tiny, replicates=10)
    assert second.meta["experiment"]["replicates_from_cache"] == 10


def test_other_chunking_and_more_replicates_reuse_the_cache(tmp_path, tiny):
    noise(tiny, tmp_path, 12, 4)
    NoiseAlgo.calls = []
    same = noise(tiny, tmp_path, 12, 5)
    assert NoiseAlgo.calls == []
    assert same == fresh(tiny, replicates=12)
    NoiseAlgo.calls = []
    more = noise(tiny, tmp_path, 20, 5)
    # replicates 12..19 are new; pieces never cross a chunk boundary (15)
    assert NoiseAlgo.calls == [[12, 13, 14], [15, 16, 17, 18, 19]]
    assert more == fresh(tiny, replicates=20)
    assert "reps-12-15.npz" in chunk_files(tmp_path)


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, RuntimeError])
def test_resume_after_interruption_computes_only_missing_chunks(tmp_path, tiny, interruption):
    NoiseAlgo.interrupt_on_call = 3
    NoiseAlgo.interrupt_with = interruption
    with pytest.raises(interruption, match="simulated interruption"):
        noise(tiny, tmp_path, 20, 4)
    assert chunk_files(tmp_path) == ["reps-0-4.npz", "reps-4-8.npz"]
    NoiseAlgo.interrupt_on_call = None
    NoiseAlgo.calls = []
    resumed = noise(tiny, tmp_path, 20, 4)
    assert NoiseAlgo.calls == [[8, 9, 10, 11], [12, 13, 14, 15], [16, 17, 18, 19]]
    assert resumed == fresh(tiny)
    assert resumed.meta["experiment"]["replicates_computed"] == 12


def test_crash_in_a_worker_keeps_finished_chunks(tmp_path, tiny, monkeypatch):
    calls = tmp_path / "calls"
    calls.mkdir()
    cache = tmp_path / "cache"
    monkeypatch.setenv(CALLS_ENV, str(calls))
    monkeypatch.setenv(FAIL_ENV, "8")
    with pytest.raises(RuntimeError, match="simulated crash at replicate 8"):
        noise(tiny, cache, 16, 4, workers=2)
    done = chunk_files(cache)
    assert "reps-8-12.npz" not in done
    # submitted first, so running (or done) when the crash came: saved before it is raised
    assert {"reps-0-4.npz", "reps-4-8.npz"} <= set(done)
    monkeypatch.delenv(FAIL_ENV)
    for f in calls.iterdir():
        f.unlink()
    resumed = noise(tiny, cache, 16, 4, workers=2)
    recomputed = sorted(f.name.replace("call-", "reps-") + ".npz" for f in calls.iterdir())
    everything = {"reps-0-4.npz", "reps-4-8.npz", "reps-8-12.npz", "reps-12-16.npz"}
    assert recomputed == sorted(everything - set(done))
    assert resumed == fresh(tiny, replicates=16)


def test_failed_save_leaves_no_partial_file(tmp_path, tiny, monkeypatch):
    real_savez = np.savez

    def savez_then_fail(fh, *args, **kwargs):
        fh.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(np, "savez", savez_then_fail)
    with pytest.raises(OSError, match="disk full"):
        noise(tiny, tmp_path, 8, 4)
    (key_dir,) = list(tmp_path.iterdir())
    assert sorted(p.name for p in key_dir.iterdir()) == ["config.json"]  # no chunk, no temporary
    monkeypatch.setattr(np, "savez", real_savez)
    NoiseAlgo.calls = []
    trace = noise(tiny, tmp_path, 8, 4)
    assert len(NoiseAlgo.calls) == 2
    assert trace == fresh(tiny, replicates=8)
    assert sorted(p.name for p in key_dir.iterdir()) == ["config.json", "reps-0-4.npz",
                                                          "reps-4-8.npz"]


def test_corrupt_chunk_is_moved_aside_and_recomputed(tmp_path, tiny):
    noise(tiny, tmp_path, 8, 4)
    (key_dir,) = list(tmp_path.iterdir())
    (key_dir / "reps-4-8.npz").write_bytes(b"not a zip file")
    NoiseAlgo.calls = []
    with pytest.warns(RuntimeWarning, match="unusable cached chunk"):
        trace = noise(tiny, tmp_path, 8, 4)
    assert NoiseAlgo.calls == [[4, 5, 6, 7]]
    assert trace == fresh(tiny, replicates=8)
    assert (key_dir / "reps-4-8.npz.corrupt").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        noise(tiny, tmp_path, 8, 4)


def test_cache_key_changes_with_what_changes_results(tiny):
    base = cache_key(NoiseAlgo(), tiny, 7, seed=5)
    # equal inputs, new objects: same key
    assert base == cache_key(NoiseAlgo(scale=1.0), riverswim(3, 4), 7, seed=5)
    assert len(base) == 16 and int(base, 16) >= 0
    changed = {
        "params": cache_key(NoiseAlgo(scale=2.0), tiny, 7, seed=5),
        "model": cache_key(NoiseAlgo(), riverswim(4, 4), 7, seed=5),
        "horizon": cache_key(NoiseAlgo(), riverswim(3, 5), 7, seed=5),
        "seed": cache_key(NoiseAlgo(), tiny, 7, seed=6),
        "episodes": cache_key(NoiseAlgo(), tiny, 8, seed=5),
        "backend": cache_key(NoiseAlgo(), tiny, 7, seed=5, backend="numpy"),
        "run kwargs": cache_key(NoiseAlgo(), tiny, 7, seed=5, chunk_episodes=3),
        "algorithm": cache_key(UCBVI(), tiny, 7, seed=5),
    }
    for what, key in changed.items():
        assert key != base, what
    assert len(set(changed.values())) == len(changed)
    # progress bars do not change results: not in the key
    assert cache_key(NoiseAlgo(), tiny, 7, seed=5, progress=True) == base


def test_cache_key_hashes_array_params_and_models_without_fingerprint():
    class ArrayAlgo(NoiseAlgo):
        def __init__(self, *, weights=None):
            self.weights = weights

    class Bare:
        def __init__(self, P):
            self.P = P

    a = cache_key(ArrayAlgo(weights=np.arange(3.0)), Bare(np.eye(2)), 5)
    assert a == cache_key(ArrayAlgo(weights=np.arange(3.0)), Bare(np.eye(2)), 5)
    assert a != cache_key(ArrayAlgo(weights=np.arange(3.0) + 1), Bare(np.eye(2)), 5)
    assert a != cache_key(ArrayAlgo(weights=np.arange(3.0)), Bare(np.eye(2) * 2), 5)
    with pytest.raises(InvalidParameterError, match="no canonical form") as err:
        cache_key(ArrayAlgo(weights=object()), Bare(np.eye(2)), 5)
    assert err.value.argument == "algorithm"


def test_default_cache_dir(tmp_path, monkeypatch, tiny):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "from-env"))
    assert default_cache_dir() == tmp_path / "from-env"
    run_experiment(NoiseAlgo(), tiny, 7, replicates=2, progress=False)
    assert chunk_files(tmp_path / "from-env") == ["reps-0-2.npz"]
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.chdir(tmp_path)
    assert default_cache_dir() == tmp_path / CACHE_DIRNAME
    run_experiment(NoiseAlgo(), tiny, 7, replicates=2, cache_dir=None, progress=False)
    assert chunk_files(tmp_path / CACHE_DIRNAME) == ["reps-0-2.npz"]


def test_cache_disabled_writes_nothing(tmp_path, monkeypatch, tiny):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    fresh(tiny, replicates=3)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- sweep, validation


def test_sweep_runs_each_configuration(tmp_path, tiny):
    configs = [("one", NoiseAlgo(), tiny),
               ("two", NoiseAlgo(scale=2.0), tiny, {"backend": "numpy"})]
    out = sweep(configs, 7, replicates=5, seed=5, chunk_replicates=2, cache_dir=tmp_path,
                progress=False)
    assert list(out) == ["one", "two"]
    assert out["one"] == fresh(tiny, replicates=5)
    np.testing.assert_array_equal(out["two"].regret, 2.0 * out["one"].regret)
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2
    with pytest.raises(InvalidParameterError, match="duplicate label") as err:
        sweep([("a", NoiseAlgo(), tiny), ("a", NoiseAlgo(), tiny)], 7, replicates=1,
              cache_dir=False)
    assert err.value.argument == "configs"
    with pytest.raises(InvalidParameterError, match="entries must be"):
        sweep([("a", NoiseAlgo())], 7, replicates=1, cache_dir=False)


def test_sweep_per_configuration_episodes_and_seed(tmp_path, tiny):
    """A configuration's own ``episodes`` / ``seed`` replace the shared ones (and its cache key), nothing else."""
    configs = [("shared", NoiseAlgo(), tiny), ("own", NoiseAlgo(), tiny, {"episodes": 3, "seed": 9})]
    out = sweep(configs, 7, replicates=3, seed=5, chunk_replicates=2, cache_dir=tmp_path, progress=False)
    assert out["shared"] == fresh(tiny, replicates=3)
    own = run_experiment(NoiseAlgo(), tiny, 3, replicates=3, seed=9, cache_dir=False, progress=False)
    assert out["own"].regret.shape == (3, 3) and out["own"] == own
    assert out["own"].meta["seed"] == 9 and out["shared"].meta["seed"] == 5
    assert out["own"].meta["experiment"]["cache_key"] != out["shared"].meta["experiment"]["cache_key"]
    again = sweep(configs, 7, replicates=3, seed=5, chunk_replicates=2, cache_dir=tmp_path, progress=False)
    assert again["own"] == own and again["own"].meta["experiment"]["replicates_from_cache"] == 3
    with pytest.raises(InvalidParameterError) as err:
        sweep([("a", NoiseAlgo(), tiny, {"seed": -1})], 7, replicates=1, cache_dir=False)
    assert err.value.argument == "seed"
    with pytest.raises(InvalidParameterError) as err:
        sweep([("a", NoiseAlgo(), tiny, {"episodes": 0})], 7, replicates=1, cache_dir=False)
    assert err.value.argument == "episodes"


def test_progress_bar_over_chunks(tiny, capsys):
    run_experiment(NoiseAlgo(), tiny, 7, replicates=4, chunk_replicates=2, cache_dir=False,
                   progress=True)
    assert "NoiseAlgo on RiverSwim-3" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, argument", [
    ({"replicates": 0}, "replicates"),
    ({"chunk_replicates": 0}, "chunk_replicates"),
    ({"workers": 0}, "workers"),
    ({"seed": -1}, "seed"),
    ({"seed": np.random.SeedSequence(1)}, "seed"),
    ({"cache_dir": 3}, "cache_dir"),
    ({"episodes": 0}, "episodes"),
])
def test_bad_arguments_name_the_argument(tiny, kwargs, argument):
    args = {"replicates": 2, "episodes": 7, "cache_dir": False, "progress": False, **kwargs}
    episodes = args.pop("episodes")
    with pytest.raises(InvalidParameterError) as err:
        run_experiment(NoiseAlgo(), tiny, episodes, **args)
    assert err.value.argument == argument
    assert isinstance(err.value, ValueError)


def test_algorithm_must_be_an_instance(tiny):
    with pytest.raises(InvalidParameterError, match="write NoiseAlgo") as err:
        run_experiment(NoiseAlgo, tiny, 7, replicates=1, cache_dir=False)
    assert err.value.argument == "algorithm"


def test_cache_key_changes_with_the_library_code(monkeypatch):
    """A code change (simulated through the source fingerprint) must never reuse cached results."""
    import rltheory.experiments as ex
    from rltheory.algorithms import UCBVI
    from rltheory.mdps import riverswim

    mdp = riverswim(3, 4)
    before = ex.cache_key(UCBVI(), mdp, 10)
    monkeypatch.setattr(ex, "code_fingerprint", lambda algorithm=None: "0123456789abcdef")
    assert ex.cache_key(UCBVI(), mdp, 10) != before


# ---------------------------------------------------------------------------- bad input and damaged caches (issue 10)


def _key_dir(cache: Path) -> Path:
    (key_dir,) = [p for p in cache.iterdir() if p.is_dir()]
    return key_dir


@pytest.mark.parametrize("arrays", [None, {}, [("regret", np.zeros((1, 2)))], {"a": np.zeros(2), "b": np.zeros(3)},
                                    {1: np.zeros((1, 2))}, {"a": np.float64(1.0)}])
def test_trace_rejects_bad_arrays(arrays):
    from rltheory.errors import InvalidDataError

    with pytest.raises(InvalidDataError) as err:
        Trace(arrays)
    assert err.value.argument == "arrays"


def test_trace_load_of_corrupt_files_is_a_validation_error(tmp_path):
    from rltheory.errors import InvalidDataError

    good = Trace({"regret": np.ones((2, 3))}, {"x": 1}).save(tmp_path / "good.npz")
    raw = good.read_bytes()
    cases = {"empty.npz": b"", "truncated.npz": raw[: len(raw) // 2], "garbage.npz": b"not a zip file at all"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    np.savez(tmp_path / "badmeta.npz", __meta__=np.array("{not json"), regret=np.ones((1, 2)))
    np.savez(tmp_path / "listmeta.npz", __meta__=np.array("[1, 2]"), regret=np.ones((1, 2)))
    np.savez(tmp_path / "noarrays.npz", __meta__=np.array("{}"))
    for name in [*cases, "badmeta.npz", "listmeta.npz", "noarrays.npz"]:
        with pytest.raises(InvalidDataError) as err:
            Trace.load(tmp_path / name)
        assert err.value.argument in ("path", "arrays"), name
    with pytest.raises(FileNotFoundError):
        Trace.load(tmp_path / "missing.npz")
    assert Trace.load(good) == Trace({"regret": np.ones((2, 3))})


def test_sweep_and_run_experiment_reject_bad_configs_and_keywords(tiny, tmp_path):
    with pytest.raises(InvalidParameterError) as err:
        sweep(None, 5, replicates=1, cache_dir=False)
    assert err.value.argument == "configs"
    with pytest.raises(InvalidParameterError) as err:
        sweep("abc", 5, replicates=1, cache_dir=False)
    assert err.value.argument == "configs"
    with pytest.raises(InvalidParameterError, match="not a keyword of NoiseAlgo.run") as err:
        run_experiment(NoiseAlgo(), tiny, 5, replicates=1, cache_dir=False, bonus_scal=2.0)
    assert err.value.argument == "bonus_scal"
    assert NoiseAlgo.calls == []  # refused before any work
    file = tmp_path / "a-file"
    file.write_text("x")
    with pytest.raises(InvalidParameterError) as err:
        run_experiment(NoiseAlgo(), tiny, 5, replicates=1, cache_dir=file)
    assert err.value.argument == "cache_dir"


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_chunk_episodes_is_checked_before_running(tiny, bad):
    from rltheory.algorithms import UCBVI

    with pytest.raises(InvalidParameterError) as err:
        run_experiment(UCBVI(), tiny, 5, replicates=1, cache_dir=False, progress=False, chunk_episodes=bad)
    assert err.value.argument == "chunk_episodes"


def _run(tiny, cache, **kw):
    return run_experiment(NoiseAlgo(), tiny, 6, replicates=4, chunk_replicates=2, cache_dir=cache, progress=False,
                          **kw)


def test_chunk_with_a_missing_array_or_wrong_episodes_is_quarantined_and_recomputed(tiny, tmp_path):
    cache = tmp_path / "cache"
    ref = _run(tiny, cache)
    key_dir = _key_dir(cache)
    # a chunk that lost an array, and one with the wrong episode count, each keeping its stamp
    t = Trace.load(key_dir / "reps-0-2.npz")
    Trace({"regret": t.regret}, t.meta).save(key_dir / "reps-0-2.npz")
    t = Trace.load(key_dir / "reps-2-4.npz")
    Trace({"regret": t.regret[:, :3], "values": t.values[:, :3]}, t.meta).save(key_dir / "reps-2-4.npz")
    NoiseAlgo.calls = []
    with pytest.warns(RuntimeWarning, match="moved aside"):
        again = _run(tiny, cache)
    assert again == ref
    assert sorted(NoiseAlgo.calls) == [[0, 1], [2, 3]]
    assert (key_dir / "reps-0-2.npz.corrupt").exists() and (key_dir / "reps-2-4.npz.corrupt").exists()
    NoiseAlgo.calls = []
    assert _run(tiny, cache) == ref and NoiseAlgo.calls == []  # the recomputed chunks are good


def test_chunk_copied_under_another_range_or_key_is_not_used(tiny, tmp_path):
    cache = tmp_path / "cache"
    ref = _run(tiny, cache)
    key_dir = _key_dir(cache)
    (key_dir / "reps-2-4.npz").write_bytes((key_dir / "reps-0-2.npz").read_bytes())  # same shape, wrong rows
    NoiseAlgo.calls = []
    with pytest.warns(RuntimeWarning, match=r"holds replicates \[0, 2\]"):
        assert _run(tiny, cache) == ref
    assert NoiseAlgo.calls == [[2, 3]]
    other = tmp_path / "other"
    run_experiment(NoiseAlgo(scale=2.0), tiny, 6, replicates=2, chunk_replicates=2, cache_dir=other, progress=False)
    (key_dir / "reps-0-2.npz").write_bytes((_key_dir(other) / "reps-0-2.npz").read_bytes())
    NoiseAlgo.calls = []
    with pytest.warns(RuntimeWarning, match="belongs to cache key"):
        assert _run(tiny, cache) == ref
    assert NoiseAlgo.calls == [[0, 1]]


def test_chunk_stamp_does_not_leak_into_results(tiny, tmp_path):
    _run(tiny, tmp_path)
    t = _run(tiny, tmp_path)
    assert "cache_chunk" not in t.meta and t.meta["experiment"]["replicates_from_cache"] == 4


def test_inconsistent_chunks_are_recomputed_not_a_bare_concatenate_error(tiny, tmp_path):
    """A chunk whose arrays disagree with the others' (even with a self-consistent stamp) is recomputed."""
    import rltheory.experiments as ex

    cache = tmp_path / "cache"
    ref = _run(tiny, cache)
    key_dir = _key_dir(cache)
    t = Trace.load(key_dir / "reps-0-2.npz")
    odd = Trace({"regret": t.regret[:, :2], "values": t.values[:, :2]}, {k: v for k, v in t.meta.items()})
    odd.meta["cache_chunk"] = ex._stamp(odd, odd.meta["cache_chunk"]["key"], 0, 2, 6)
    odd.save(key_dir / "reps-0-2.npz")
    NoiseAlgo.calls = []
    with pytest.warns(RuntimeWarning, match="do not match the other chunks"):
        assert _run(tiny, cache) == ref
    assert NoiseAlgo.calls == [[0, 1], [2, 3]]  # one chunk against one: no majority, both recomputed
    # three chunks, one odd: only the odd one is recomputed
    big = tmp_path / "big"
    run6 = dict(replicates=6, chunk_replicates=2, cache_dir=big, progress=False)
    ref6 = run_experiment(NoiseAlgo(), tiny, 6, **run6)
    odd.meta["cache_chunk"] = ex._stamp(odd, _key_dir(big).name, 2, 4, 6)
    odd.save(_key_dir(big) / "reps-2-4.npz")
    NoiseAlgo.calls = []
    with pytest.warns(RuntimeWarning, match="do not match the other chunks"):
        assert run_experiment(NoiseAlgo(), tiny, 6, **run6) == ref6
    assert NoiseAlgo.calls == [[2, 3]]


def test_stale_tmp_files_are_cleaned(tiny, tmp_path):
    import rltheory.experiments as ex

    cache = tmp_path / "cache"
    _run(tiny, cache)
    key_dir = _key_dir(cache)
    old, fresh = key_dir / ".reps-0-2.npz.123.tmp", key_dir / ".reps-2-4.npz.456.tmp"
    old.write_bytes(b"partial")
    fresh.write_bytes(b"being written")
    past = old.stat().st_mtime - ex.STALE_TMP_SECONDS - 10
    os.utime(old, (past, past))
    _run(tiny, cache)
    assert not old.exists() and fresh.exists()
