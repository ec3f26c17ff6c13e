"""BRIDGE loader: format validation, END state, reward normalisation, sticky actions, reachability, download."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rltheory.algorithms.effective_horizon_analysis import analyze, reachable, reachable_reference
from rltheory.errors import InvalidDataError, InvalidParameterError, ValidationError
from rltheory.mdps import bridge
from rltheory.planning import backward_induction

BRIDGE_FILES = {  # name -> horizon (../shared/data/bridge/README.md)
    "freeway_10_fs30": 10,
    "maze_easy_l0_30_fs1": 30,
    "MiniGrid-KeyCorridorS3R1-v0": 100,
    "MiniGrid-Empty-16x16-DistanceShaped-v0": 100,
    "MiniGrid-UnlockPickup-OpenDoorsPickupShaped-v0": 100,
}


def write_bridge(path: Path, transitions, rewards, **extra) -> Path:
    np.savez_compressed(path, transitions=np.asarray(transitions), rewards=np.asarray(rewards), **extra)
    return path


def random_bridge_arrays(rng, S, A, end_prob=0.1, reward_values=(0.0, 1.0)):
    T = rng.integers(0, S, size=(S, A))
    T[rng.random((S, A)) < end_prob] = -1
    R = rng.choice(np.asarray(reward_values, dtype=np.float32), size=(S, A))
    return T.astype(np.int64), R.astype(np.float32)


@st.composite
def bridge_files(draw, max_S=8, max_A=3):
    S = draw(st.integers(1, max_S))
    A = draw(st.integers(1, max_A))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return random_bridge_arrays(rng, S, A, end_prob=draw(st.sampled_from([0.0, 0.2])))


# ---------------------------------------------------------------------------- deterministic model


def test_end_state_is_absorbing_with_zero_reward(tmp_path):
    T = [[1, -1], [1, 0]]
    R = np.array([[0.0, 0.5], [1.0, 0.0]], np.float32)
    mdp = bridge.load(write_bridge(tmp_path / "toy_3_fs1.npz", T, R))
    assert mdp.H == 3 and mdp.S == 3 and mdp.sparse and mdp.stationary
    nxt, pr = mdp.successors
    assert nxt[0, 0, 1, 0] == 2                       # -1 -> END (index S)
    assert (nxt[0, 2, :, 0] == 2).all()               # END is absorbing
    assert (mdp.R[:, 2] == 0).all()                   # ... and pays nothing
    assert mdp.mu[0] == 1.0
    assert mdp.meta["reward_map"]["scale"] == 1.0 and mdp.meta["reward_map"]["offset"] == 0.0


def test_horizon_from_name():
    assert bridge.horizon_from_name("freeway_10_fs30.npz") == 10
    assert bridge.horizon_from_name("maze_easy_l0_30_fs1") == 30
    assert bridge.horizon_from_name("MiniGrid-KeyCorridorS3R1-v0.npz") == bridge.MINIGRID_HORIZON
    assert bridge.horizon_from_name("something.npz") is None


def test_horizon_required_when_not_in_name(tmp_path):
    path = write_bridge(tmp_path / "noname.npz", [[0]], np.zeros((1, 1), np.float32))
    with pytest.raises(InvalidParameterError) as info:
        bridge.load(path)
    assert info.value.argument == "horizon"
    assert bridge.load(path, horizon=4).H == 4


# ---------------------------------------------------------------------------- rewards


def test_scale_only_for_nonnegative_rewards(tmp_path):
    """maze pays 10: rewards are divided by 10, END keeps 0, values scale back exactly."""
    T = [[1, 2], [2, 2], [-1, -1]]
    R = np.array([[0, 10], [10, 0], [0, 10]], np.float32)
    mdp = bridge.load(write_bridge(tmp_path / "m_3_fs1.npz", T, R))
    rmap = mdp.meta["reward_map"]
    assert rmap["offset"] == 0.0 and rmap["scale"] == 10.0
    assert mdp.R.max() == 1.0 and (mdp.R[:, 3] == 0).all()
    v = backward_induction(mdp).value
    assert bridge.to_original_units(mdp, v) == pytest.approx(20.0)


def _raw_optimal_first_action(T, R, H):
    """Optimal first action by brute force over action sequences on the raw deterministic arrays."""
    import itertools

    S, A = T.shape
    best, arg = -np.inf, None
    for seq in itertools.product(range(A), repeat=H):
        s, g = 0, 0.0
        for a in seq:
            if s < 0:
                break
            g += R[s, a]
            s = T[s, a]
        if g > best + 1e-12:
            best, arg = g, seq[0]
    return best, arg


def test_affine_map_preserves_optimal_policy_with_early_ending(tmp_path):
    """Negative rewards: ending the episode at once (action 0, reward -0.1) beats a long path of -0.2 steps.
    Shifting only the non-END rewards would make the long path look better; the END-inclusive map does not."""
    T = np.array([[-1, 1], [2, 2], [3, 3], [3, 3]])
    R = np.array([[-0.1, -0.2], [-0.2, -0.2], [-0.2, -0.2], [0.5, 0.5]], np.float32)
    H = 4
    mdp = bridge.load(write_bridge(tmp_path / "neg.npz", T, R), horizon=H)
    rmap = mdp.meta["reward_map"]
    assert rmap["offset"] == pytest.approx(-0.2) and (mdp.R >= 0).all() and (mdp.R <= 1).all()
    best, first = _raw_optimal_first_action(T, R.astype(np.float64), H)
    plan = backward_induction(mdp)
    assert plan.policy[0, 0] == first == 0
    assert bridge.to_original_units(mdp, plan.value) == pytest.approx(best, abs=1e-6)
    # the naive map (END left at 0) would have preferred the long path
    naive = (R.astype(np.float64) - rmap["offset"]) / rmap["scale"]
    long_path = naive[0, 1] + naive[1, 0] + naive[2, 0] + naive[3, 0]
    assert long_path > naive[0, 0]


def test_normalize_none_refuses_rewards_outside_unit_interval(tmp_path):
    path = write_bridge(tmp_path / "neg_5_fs1.npz", [[0, 0]], np.array([[0.5, -0.2]], np.float32))
    with pytest.raises(bridge.BridgeFileError) as info:
        bridge.load(path, normalize=None)
    err = info.value
    assert isinstance(err, InvalidDataError) and isinstance(err, ValidationError)
    assert err.argument == "rewards" and err.index == (0, 1) and str(path) in str(err)
    assert "normalize='affine'" in str(err)
    with pytest.raises(InvalidParameterError):
        bridge.load(path, normalize="clip")


# ---------------------------------------------------------------------------- bad files


@pytest.mark.parametrize("case, array", [
    ("missing_transitions", "transitions"),
    ("missing_rewards", "rewards"),
    ("float_transitions", "transitions"),
    ("int_rewards", "rewards"),
    ("out_of_range", "transitions"),
    ("below_minus_one", "transitions"),
    ("shape_mismatch", "rewards"),
    ("one_dimensional", "transitions"),
    ("nan_reward", "rewards"),
    ("not_npz", "path"),
    ("no_file", "path"),
])
def test_bad_files_name_file_and_array(tmp_path, case, array):
    path = tmp_path / f"{case}.npz"
    good_T, good_R = np.array([[0, 1], [1, -1]]), np.zeros((2, 2), np.float32)
    if case == "missing_transitions":
        np.savez(path, rewards=good_R)
    elif case == "missing_rewards":
        np.savez(path, transitions=good_T)
    elif case == "float_transitions":
        np.savez(path, transitions=good_T.astype(float), rewards=good_R)
    elif case == "int_rewards":
        np.savez(path, transitions=good_T, rewards=good_R.astype(np.int32))
    elif case == "out_of_range":
        np.savez(path, transitions=np.array([[0, 2], [1, -1]]), rewards=good_R)
    elif case == "below_minus_one":
        np.savez(path, transitions=np.array([[0, 1], [-2, -1]]), rewards=good_R)
    elif case == "shape_mismatch":
        np.savez(path, transitions=good_T, rewards=np.zeros((2, 3), np.float32))
    elif case == "one_dimensional":
        np.savez(path, transitions=np.array([0, 1]), rewards=np.zeros(2, np.float32))
    elif case == "nan_reward":
        np.savez(path, transitions=good_T, rewards=np.array([[0, np.nan], [0, 0]], np.float32))
    elif case == "not_npz":
        path.write_text("not an archive")
    with pytest.raises(bridge.BridgeFileError) as info:
        bridge.load(path, horizon=3)
    err = info.value
    assert err.argument == array and err.array == array
    assert str(path) in str(err)
    if case == "out_of_range":
        assert err.index == (0, 1) and err.value == 2


# ---------------------------------------------------------------------------- sticky actions


def test_sticky_structure(tmp_path):
    rng = np.random.default_rng(0)
    T, R = random_bridge_arrays(rng, 5, 3, reward_values=(0.0, 0.5, 1.0))
    p = 0.25
    mdp = bridge.load(write_bridge(tmp_path / "x_6_fs1.npz", T, R), sticky=p)
    S, A = 5, 3
    first = mdp.meta["first_state"]
    assert first == (S + 1) * A and mdp.S == first + 1 and mdp.mu[first] == 1.0
    nxt, pr = mdp.successors
    end = S
    Tn = np.where(T == -1, end, T)
    Tn = np.vstack([Tn, np.full(A, end)])
    r = np.vstack([R.astype(np.float64), np.zeros(A)])
    for s in range(S + 1):
        for prev in range(A):
            x = s * A + prev
            for a in range(A):
                # chosen action executed w.p. 1 - p; the previously *executed* action w.p. p
                assert nxt[0, x, a, 0] == Tn[s, a] * A + a and pr[0, x, a, 0] == 1 - p
                assert nxt[0, x, a, 1] == Tn[s, prev] * A + prev and pr[0, x, a, 1] == p
                assert mdp.R[0, x, a] == pytest.approx((1 - p) * r[s, a] + p * r[s, prev])
    # first step is never sticky
    assert (pr[0, first, :, 0] == 1).all() and (nxt[0, first, :, 0] == Tn[0] * A + np.arange(A)).all()
    assert np.allclose(pr.sum(-1), 1)
    assert bridge.underlying(mdp, first) == 0 and bridge.underlying(mdp, 4 * A + 2) == 4


def test_tiny_sticky_probability_approaches_deterministic(tmp_path):
    rng = np.random.default_rng(3)
    T, R = random_bridge_arrays(rng, 6, 3)
    path = write_bridge(tmp_path / "y_5_fs1.npz", T, R)
    det = backward_induction(bridge.load(path)).value
    almost = backward_induction(bridge.load(path, sticky=1e-9)).value
    assert almost == pytest.approx(det, abs=1e-7)
    assert bridge.load(path, sticky=0.0).S == 7  # p = 0 is the deterministic model itself


def test_sticky_probability_validated(tmp_path):
    path = write_bridge(tmp_path / "z_3_fs1.npz", [[0]], np.zeros((1, 1), np.float32))
    for bad in (-0.1, 1.0, 2):
        with pytest.raises(InvalidParameterError) as info:
            bridge.load(path, sticky=bad)
        assert info.value.argument == "sticky"


@settings(max_examples=20)
@given(arrays=bridge_files(), H=st.integers(1, 6), p=st.sampled_from([0.0, 0.25]))
def test_reachable_states_twins_agree(tmp_path_factory, arrays, H, p):
    T, R = arrays
    path = write_bridge(tmp_path_factory.mktemp("b") / "r.npz", T, R)
    mdp = bridge.load(path, horizon=H, sticky=p)
    nxt, pr = mdp.successors
    start = np.flatnonzero(mdp.mu > 0)
    ptr, idx = reachable(nxt, pr, start, H)
    ptr2, idx2 = reachable_reference(nxt, pr, start, H)
    assert np.array_equal(ptr, ptr2) and np.array_equal(idx, idx2)
    lists = bridge.reachable_states(mdp)
    assert all(np.array_equal(lists[t], idx[ptr[t]:ptr[t + 1]]) for t in range(H))
    # every reachable state at t + 1 is a positive-probability successor of one at t
    for t in range(H - 1):
        succ = nxt[0, lists[t]][pr[0, lists[t]] > 0]
        assert set(lists[t + 1].tolist()) == set(succ.tolist())


def test_reachable_count_merges_the_first_step_state(tmp_path):
    # 0 -a-> 0 for every a: (0, a) is reachable again after the first step; the separate first-step
    # state must count as the authors' start state (0, 0), not as an extra state.
    path = write_bridge(tmp_path / "loop_4_fs1.npz", [[0, 0]], np.zeros((1, 2), np.float32))
    mdp = bridge.load(path, sticky=0.25)
    assert bridge.count_reachable(mdp) == 2          # (0, 0) and (0, 1)
    assert analyze(mdp).n_reachable == 2


# ---------------------------------------------------------------------------- download


def _archive(tmp_path, kind):
    src = tmp_path / "src"
    src.mkdir()
    T, R = np.array([[0, -1]]), np.array([[0.0, 1.0]], np.float32)
    write_bridge(src / "a.npz", T, R)
    write_bridge(src / "b.npz", T, R * 2)
    archive = tmp_path / f"bridge.{kind}"
    members = {"bridge/mdps/toy_a_2_fs1/consolidated.npz": src / "a.npz",
               "bridge/mdps/toy_b_2_fs1/consolidated.npz": src / "b.npz",
               "bridge/mdps_with_reward_shaping/toy_a_2_fs1/consolidated.npz": src / "b.npz",
               "bridge/summary.csv": None}
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for name, f in members.items():
                zf.writestr(name, f.read_bytes() if f else "mdp_name\n")
    else:
        with tarfile.open(archive, "w:gz") as tf:
            for name, f in members.items():
                if f is not None:
                    tf.add(f, arcname=name)
    return archive


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_download_from_local_archive(tmp_path, kind):
    archive = _archive(tmp_path, kind)
    out = bridge.download(["toy_a_2_fs1"], tmp_path / "dest", url=archive.as_uri())
    assert set(out) == {"toy_a_2_fs1"}
    mdp = bridge.load(out["toy_a_2_fs1"])
    assert mdp.H == 2 and mdp.R.max() == 1.0  # the base MDP, not the reward-shaped one (rewards x 2)
    everything = bridge.download(None, tmp_path / "all", url=archive.as_uri())
    assert set(everything) == {"toy_a_2_fs1", "toy_b_2_fs1"}


def test_download_with_injected_fetch_and_errors(tmp_path):
    archive = _archive(tmp_path, "zip")
    calls = []

    def fetch(url, dest):
        calls.append(url)
        dest.write_bytes(archive.read_bytes())

    out = bridge.download("toy_b_2_fs1", tmp_path / "d", url="https://example.invalid/bridge.zip", fetch=fetch)
    assert calls == ["https://example.invalid/bridge.zip"] and out["toy_b_2_fs1"].is_file()
    # already present: no second fetch
    bridge.download("toy_b_2_fs1", tmp_path / "d", url="https://example.invalid/bridge.zip", fetch=fetch)
    assert len(calls) == 1
    with pytest.raises(InvalidDataError) as info:
        bridge.download("no_such_mdp", tmp_path / "e", url="x", fetch=fetch)
    assert info.value.argument == "names"
    # a corrupt member is refused and nothing is left behind
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        buf = tmp_path / "bad.npz"
        np.savez(buf, transitions=np.array([[5]]), rewards=np.zeros((1, 1), np.float32))
        zf.write(buf, "mdps/broken_2_fs1/consolidated.npz")
    with pytest.raises(bridge.BridgeFileError) as info:
        bridge.download(None, tmp_path / "f", url=bad.as_uri())
    assert info.value.argument == "transitions" and "broken_2_fs1" in str(info.value)
    assert not list((tmp_path / "f").glob("*.npz"))


def test_download_single_npz_url(tmp_path):
    path = write_bridge(tmp_path / "solo_3_fs1.npz", [[0]], np.ones((1, 1), np.float32))
    out = bridge.download(None, tmp_path / "g", url=path.as_uri())
    assert list(out) == ["solo_3_fs1"] and bridge.load(out["solo_3_fs1"]).H == 3


# ---------------------------------------------------------------------------- the shared BRIDGE files


@pytest.mark.parametrize("name", sorted(BRIDGE_FILES))
def test_real_bridge_files_load(shared_dir, name):
    path = shared_dir / "data" / "bridge" / f"{name}.npz"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    T, R = bridge.read_arrays(path)
    det = bridge.load(path)
    assert det.H == BRIDGE_FILES[name] and det.S == T.shape[0] + 1 and det.A == T.shape[1]
    if name.startswith("maze"):
        assert det.meta["reward_map"]["scale"] == 10.0
    if name != "MiniGrid-UnlockPickup-OpenDoorsPickupShaped-v0":
        sticky = bridge.load(path, sticky=bridge.STICKY_PROBABILITY)
        assert sticky.S == (T.shape[0] + 1) * T.shape[1] + 1
        if name == "freeway_10_fs30":
            # spec C7: count only reachable sticky states (freeway: 322, not 591)
            assert bridge.count_reachable(sticky) == 322
