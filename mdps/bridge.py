"""BRIDGE tabular MDPs: loader, sticky-action transform, reachable states, download helper.

BRIDGE (Laidlaw, Russell & Dragan, "Bridging RL Theory and Practice with the Effective Horizon",
NeurIPS 2023, arXiv:2304.09853) is a dataset of 155 deterministic MDPs built from Atari, Procgen
and MiniGrid, each stored as a NumPy ``.npz`` archive with two arrays (the format of the authors'
repository cassidylaidlaw/effective-horizon and of the Zenodo record 8226192):

* ``transitions``: integer array ``(S, A)``; entry ``[s, a]`` is the next state, or ``-1`` when the
  episode ends;
* ``rewards``: float array ``(S, A)``; the reward for taking ``a`` in ``s``.

The start state is index 0 and the horizon is not stored in the file (it is in the name:
``freeway_10_fs30`` -> 10, ``maze_easy_l0_30_fs1`` -> 30; the MiniGrid MDPs use 100). Data licence:
CC-BY-4.0 -- any use must cite the papers above.

Model built by :func:`load` (a sparse :class:`~rltheory.models.FiniteHorizonMDP`, successor form):

* **END state.** As in the authors' loaders, an absorbing state with index ``S`` is appended; every
  ``-1`` entry points to it and every action in it stays there.
* **Rewards in [0, 1], explicitly.** The library's models need rewards in ``[0, 1]``; BRIDGE rewards
  are not (maze pays 10, shaped MiniGrid pays -0.2). :func:`load` applies the affine map
  ``r' = (r - offset) / scale`` with ``offset = min(0, min r)`` and ``scale = max r - offset``, **to every
  state-action pair including the END state** (whose raw reward 0 becomes ``-offset / scale``). Every
  episode has exactly ``H`` steps, so every return is mapped by the same affine function
  ``G' = (G - H offset) / scale``; at every step ``t`` every ``Q_t(s, a)`` is mapped by
  ``Q' = (Q - (H - t) offset) / scale``, the same map for all actions, so optimal policies, greedy
  sets, ``k``-QVI-solvability and gaps-over-standard-deviations are all preserved. (Shifting the
  rewards of non-END states only would not: it would change the value of ending an episode early.)
  With non-negative rewards ``offset = 0`` and the map is a plain division by the largest reward.
  The map is recorded in ``mdp.meta["reward_map"]`` (``{"offset", "scale", "horizon"}``);
  ``normalize=None`` refuses files whose rewards leave ``[0, 1]`` instead, with an error naming the
  file, the array and the first offending entry.
* **Sticky actions** (``sticky=p > 0``; the ICLR 2024 paper's BRIDGE-Sticky, ``p = 0.25``): with
  probability ``p`` the previously *executed* action is executed instead of the chosen one, never at
  the first step. The state becomes ``(s, previous executed action)`` with index ``s * A + a`` for
  ``s`` in ``0..S`` (END included), exactly the authors' indexing, plus one extra *first-step state*
  with index ``(S + 1) * A`` (``mdp.meta["first_state"]``): the start state before any action, whose
  transitions are not sticky. (The authors' Julia code instead exempts timestep 1 from stickiness
  inside the start state ``(0, action 0)``; a separate state keeps the model stationary, which matters
  for memory: a stage-dependent successor table would be ``H`` times larger. The two models have the
  same values at every step; ``mdp.meta["state_aliases"]`` maps the first-step state to the authors'
  start state ``0`` so that reachable-state counts agree.) Each ``(state, action)`` has two successors,
  ``(T[s, a], a)`` with probability ``1 - p`` and ``(T[s, prev], prev)`` with probability ``p``, and the
  mean reward ``(1 - p) r(s, a) + p r(s, prev)``.

:func:`from_arrays` builds the same models from in-memory BRIDGE-format arrays; :func:`reachable_states`
lists the states reachable at each step under any actions (the authors' "visitable states") and
:func:`count_reachable` counts them; :func:`download` fetches MDPs from the public BRIDGE archive.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from rltheory.errors import InvalidDataError, InvalidParameterError
from rltheory.models import FiniteHorizonMDP
from rltheory.validation import check_int, check_real

__all__ = [
    "load",
    "from_arrays",
    "read_arrays",
    "horizon_from_name",
    "reachable_states",
    "count_reachable",
    "to_original_units",
    "sticky_index",
    "underlying",
    "download",
    "BridgeFileError",
    "BRIDGE_RECORD_URL",
    "BRIDGE_ARCHIVE_URL",
    "STICKY_PROBABILITY",
    "MINIGRID_HORIZON",
    "NORMALIZATIONS",
    "CITATION",
]

#: Repeat probability of BRIDGE-Sticky (ICLR 2024 paper; authors' README: "a 25% chance of repeating the
#: previous action at each timestep").
STICKY_PROBABILITY = 0.25
#: Horizon of the MiniGrid MDPs of BRIDGE (their names carry none; the authors' analyses use 100).
MINIGRID_HORIZON = 100
#: Accepted ``normalize=`` values of :func:`load`.
NORMALIZATIONS = ("affine", None)
#: The Zenodo record of the BRIDGE dataset (authors' README).
BRIDGE_RECORD_URL = "https://zenodo.org/record/8226192"
#: Default archive URL of :func:`download`. The record's file name could not be checked from this
#: project's build machines (no network there); if Zenodo serves the archive under another name, pass
#: ``url=`` (any ``http(s)://`` or ``file://`` URL of a ``.zip`` / ``.tar(.gz)`` archive, or of a single
#: ``.npz`` file).
BRIDGE_ARCHIVE_URL = BRIDGE_RECORD_URL + "/files/bridge_dataset.zip?download=1"
#: How to cite BRIDGE (required by its CC-BY-4.0 licence).
CITATION = ("Laidlaw, Russell & Dragan, Bridging RL Theory and Practice with the Effective Horizon, "
            "NeurIPS 2023 (arXiv:2304.09853); Laidlaw, Zhu, Russell & Dragan, The Effective Horizon "
            "Explains Deep RL Performance in Stochastic Environments, ICLR 2024 (arXiv:2312.08369)")


class BridgeFileError(InvalidDataError):
    """A BRIDGE file is unreadable or malformed.

    ``argument`` is the array at fault (``"transitions"``, ``"rewards"``) or ``"path"``; ``path`` the file.
    The message starts with the file's path.
    """

    def __init__(self, path, array: str, message: str, *, index=None, value=None):
        self.path = str(path)
        self.array = array
        super().__init__(array, f"in BRIDGE file {self.path}: {message}", index=index, value=value)


# ---------------------------------------------------------------------------- reading


def horizon_from_name(name: str | os.PathLike) -> int | None:
    """The horizon encoded in a BRIDGE MDP name, or ``None``.

    Atari ``<rom>_<H>_fs<frameskip>`` and Procgen ``<game>_<mode>_l<level>_<H>_fs<frameskip>`` carry
    it; MiniGrid names (``MiniGrid-...``) give :data:`MINIGRID_HORIZON`.

    >>> horizon_from_name("freeway_10_fs30.npz"), horizon_from_name("MiniGrid-KeyCorridorS3R1-v0")
    (10, 100)
    """
    stem = Path(name).name
    if stem.endswith(".npz"):
        stem = stem[:-4]
    if stem.startswith("MiniGrid-"):
        return MINIGRID_HORIZON
    m = re.search(r"_(\d+)_fs\d+$", stem)
    return int(m.group(1)) if m else None


def read_arrays(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate a BRIDGE ``.npz`` file.

    Returns
    -------
    transitions : int64 ``(S, A)``, entries in ``[-1, S)``;
    rewards : float64 ``(S, A)`` (the file's float32 values, converted exactly), finite.

    Raises
    ------
    BridgeFileError
        Naming the file and the array: missing file or array, not an ``.npz``, wrong dtype (transitions
        must be integers, rewards floats), wrong shape, indices out of range, non-finite rewards.
    """
    path = Path(path)
    if not path.is_file():
        raise BridgeFileError(path, "path", "no such file", value=str(path))
    try:
        with np.load(path, allow_pickle=False) as data:
            files = set(data.files)
            arrays = {k: data[k] for k in ("transitions", "rewards") if k in files}
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError, pickled objects...
        raise BridgeFileError(path, "path", f"cannot be read as an .npz archive ({type(exc).__name__}: {exc})",
                              value=str(path)) from None
    for key in ("transitions", "rewards"):
        if key not in arrays:
            raise BridgeFileError(path, key, f"array {key!r} is missing (the file has {sorted(files)})")
    return _validate_arrays(arrays["transitions"], arrays["rewards"], path)


def _validate_arrays(T, R, source) -> tuple[np.ndarray, np.ndarray]:
    T, R = np.asarray(T), np.asarray(R)
    if not np.issubdtype(T.dtype, np.integer):
        raise BridgeFileError(source, "transitions", f"array 'transitions' must have an integer dtype, got {T.dtype}",
                              value=str(T.dtype))
    if not np.issubdtype(R.dtype, np.floating):
        raise BridgeFileError(source, "rewards", f"array 'rewards' must have a floating dtype, got {R.dtype}",
                              value=str(R.dtype))
    if T.ndim != 2 or T.shape[0] < 1 or T.shape[1] < 1:
        raise BridgeFileError(source, "transitions", "array 'transitions' must have shape (S, A) with S, A >= 1, "
                              f"got {T.shape}", value=T.shape)
    if R.shape != T.shape:
        raise BridgeFileError(source, "rewards", f"array 'rewards' must have the shape of 'transitions' {T.shape}, "
                              f"got {R.shape}", value=R.shape)
    S = T.shape[0]
    bad = (T < -1) | (T >= S)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise BridgeFileError(source, "transitions", f"array 'transitions' entries must lie in [-1, {S}) "
                              f"(next state, or -1 for the end), got {int(T[idx])}", index=idx, value=int(T[idx]))
    finite = np.isfinite(R)
    if not finite.all():
        idx = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise BridgeFileError(source, "rewards", f"array 'rewards' must be finite, got {R[idx]!r}", index=idx,
                              value=float(R[idx]))
    return T.astype(np.int64), R.astype(np.float64)


def _reward_map(path, rewards: np.ndarray, normalize, H: int) -> dict:
    if normalize is None:
        bad = (rewards < 0) | (rewards > 1)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise BridgeFileError(path, "rewards", f"array 'rewards' has entries outside [0, 1] (got "
                                  f"{float(rewards[idx])!r}); the theory needs rewards in [0, 1]: pass "
                                  "normalize='affine' to map them there explicitly", index=idx,
                                  value=float(rewards[idx]))
        return {"offset": 0.0, "scale": 1.0, "horizon": H, "kind": "identity"}
    offset = min(0.0, float(rewards.min()))
    top = float(rewards.max())
    scale = top - offset if top > offset else 1.0
    return {"offset": offset, "scale": scale, "horizon": H, "kind": "affine",
            "formula": "r' = (r - offset) / scale on every (state, action), END included; "
                       "return G' = (G - horizon * offset) / scale"}


# ---------------------------------------------------------------------------- models


def sticky_index(s, prev_action, A: int):
    """Index of the sticky state ``(s, previous executed action)``: ``s * A + prev_action`` (authors' layout)."""
    return np.asarray(s) * A + np.asarray(prev_action)


def underlying(mdp: FiniteHorizonMDP, states) -> np.ndarray:
    """Underlying BRIDGE state(s) of model state(s) (identity for a non-sticky model; END is ``S``)."""
    states = np.asarray(states)
    sticky = mdp.meta.get("sticky", 0.0)
    if not sticky:
        return states
    A = mdp.A
    first = mdp.meta["first_state"]
    return np.where(states == first, 0, states // A)


def load(path: str | os.PathLike, horizon: int | None = None, sticky: float = 0.0, *,
         normalize: str | None = "affine", name: str | None = None) -> FiniteHorizonMDP:
    """A BRIDGE MDP as a sparse :class:`~rltheory.models.FiniteHorizonMDP` (see the module docstring).

    Parameters
    ----------
    path : path to a BRIDGE ``.npz`` file.
    horizon : int >= 1, optional
        Episode length ``H``; defaults to :func:`horizon_from_name` of the file name.
    sticky : float in [0, 1)
        Repeat probability of the previously executed action (0: the deterministic MDP;
        :data:`STICKY_PROBABILITY` = 0.25 is BRIDGE-Sticky).
    normalize : {"affine", None}
        ``"affine"``: map rewards into ``[0, 1]`` by the policy-preserving affine map recorded in
        ``mdp.meta["reward_map"]``; ``None``: require rewards already in ``[0, 1]``.
    name : str, optional
        Model name (default: the file stem, with ``-Sticky`` appended when ``sticky > 0``).

    Returns
    -------
    FiniteHorizonMDP, stationary, from successor lists: deterministic ``S' = S + 1`` states and
    ``K = 1``; sticky ``S' = (S + 1) A + 1`` states and ``K = 2``. Initial state: 0 (deterministic) or the
    first-step state ``(S + 1) A`` (sticky).

    Raises
    ------
    BridgeFileError (an :class:`~rltheory.errors.InvalidDataError`) naming the file and the array;
    InvalidParameterError for a bad ``horizon``, ``sticky`` or ``normalize``.
    """
    try:
        path = Path(path)
    except TypeError:
        raise InvalidParameterError("path", f"must be a path to a BRIDGE .npz file, got {path!r}",
                                    value=repr(path)) from None
    if name is not None and not isinstance(name, str):
        raise InvalidParameterError("name", f"must be a string or None, got {name!r}", value=repr(name))
    if not path.is_file():  # before the horizon: a missing file is the problem, not its name
        raise BridgeFileError(path, "path", "no such file", value=str(path))
    if horizon is None:
        horizon = horizon_from_name(path)
        if horizon is None:
            raise InvalidParameterError("horizon", f"is not encoded in the file name {path.name!r}; pass horizon=",
                                        value=None)
    T, raw = read_arrays(path)
    stem = path.name[:-4] if path.name.endswith(".npz") else path.name
    return _build(T, raw, horizon, sticky, normalize, name, stem, str(path))


def from_arrays(transitions, rewards, horizon: int, sticky: float = 0.0, *, normalize: str | None = "affine",
                name: str = "BRIDGE-arrays") -> FiniteHorizonMDP:
    """:func:`load` for arrays in the BRIDGE format (``transitions (S, A)`` int, ``-1`` = end;
    ``rewards (S, A)`` float; start state 0). Errors name ``"<arrays>"`` as the file."""
    if not isinstance(name, str):
        raise InvalidParameterError("name", f"must be a string, got {name!r}", value=repr(name))
    T, raw = _validate_arrays(transitions, rewards, "<arrays>")
    return _build(T, raw, horizon, sticky, normalize, None, name, "<arrays>")


def _build(T, raw, horizon, sticky, normalize, name, stem, source) -> FiniteHorizonMDP:
    # ``x in NORMALIZATIONS`` on an array raises a bare ValueError: only None or a str may match.
    if not (normalize is None or (isinstance(normalize, str) and normalize in NORMALIZATIONS)):
        raise InvalidParameterError("normalize", f"must be one of {NORMALIZATIONS}, got {normalize!r}",
                                    value=normalize)
    H = check_int(horizon, "horizon", low=1)
    p = check_real(sticky, "sticky", low=0.0, high=1.0, high_open=True)
    S, A = T.shape
    rmap = _reward_map(source, raw, normalize, H)
    end = S
    nxt = np.concatenate([np.where(T == -1, end, T), np.full((1, A), end, np.int64)])      # (S + 1, A)
    r = np.concatenate([raw, np.zeros((1, A))])                                              # (S + 1, A)
    r = (r - rmap["offset"]) / rmap["scale"]
    r = np.clip(r, 0.0, 1.0)  # only rounding can leave [0, 1] here
    meta = {"source": "BRIDGE", "file": source, "bridge_name": stem, "horizon_from_name": horizon_from_name(stem),
            "underlying_states": S, "end_state": end, "sticky": p, "reward_map": rmap,
            "licence": "CC-BY-4.0", "citation": CITATION}
    if p == 0.0:
        mu = np.zeros(S + 1)
        mu[0] = 1.0
        return FiniteHorizonMDP.from_successors(nxt[..., None], np.ones((S + 1, A, 1)), r, mu, H,
                                                name=name or stem, meta=meta)
    n = (S + 1) * A
    first = n
    states = np.arange(n)
    s_of, prev_of = states // A, states % A
    acts = np.arange(A)
    succ = np.empty((n + 1, A, 2), np.int64)
    prob = np.empty((n + 1, A, 2))
    rew = np.empty((n + 1, A))
    succ[:n, :, 0] = nxt[s_of] * A + acts                                  # chosen action executed
    succ[:n, :, 1] = (nxt[s_of, prev_of] * A + prev_of)[:, None]           # previous action repeated
    prob[:n, :, 0], prob[:n, :, 1] = 1.0 - p, p
    rew[:n] = (1.0 - p) * r[s_of] + p * r[s_of, prev_of][:, None]
    succ[first, :, 0] = succ[first, :, 1] = nxt[0] * A + acts              # first step: never sticky
    prob[first, :, 0], prob[first, :, 1] = 1.0, 0.0
    rew[first] = r[0]
    mu = np.zeros(n + 1)
    mu[first] = 1.0
    meta.update(first_state=first, state_aliases={first: 0},
                state_layout="s * A + previous executed action for s in 0..S (END = S); first-step state last")
    return FiniteHorizonMDP.from_successors(succ, prob, np.clip(rew, 0.0, 1.0), mu, H,
                                            name=name or f"{stem}-Sticky", meta=meta)


def to_original_units(mdp: FiniteHorizonMDP, value, steps: int | None = None):
    """Map a value of ``mdp`` (a return over ``steps`` steps, default ``H``) back to the file's reward units.

    ``G = scale * G' + steps * offset`` with the map of ``mdp.meta["reward_map"]`` (identity without one).
    """
    rmap = mdp.meta.get("reward_map")
    if not rmap:
        return value
    steps = mdp.H if steps is None else steps
    return rmap["scale"] * np.asarray(value) + steps * rmap["offset"]



# ---------------------------------------------------------------------------- reachability


def reachable_states(mdp: FiniteHorizonMDP) -> list[np.ndarray]:
    """States reachable at each step from the initial distribution under *any* actions.

    Returns a list of ``H`` sorted int64 arrays: entry ``t`` holds the states with positive probability
    at step ``t`` (``t = 0``: the support of ``mu``) under some sequence of actions. Successors with
    probability 0 do not count. This is the authors' ``visitable_states``; the number of distinct
    states over all steps (with ``mdp.meta["state_aliases"]`` applied) is their reachable-state count.
    Plain NumPy; :mod:`rltheory.algorithms.effective_horizon_values` has a compiled twin.
    """
    nxt, pr = mdp.successors
    Hp = nxt.shape[0]
    cur = np.flatnonzero(mdp.mu > 0)
    out = []
    for t in range(mdp.H):
        out.append(cur)
        hp = t if Hp > 1 else 0
        n, p = nxt[hp, cur], pr[hp, cur]
        cur = np.unique(n[p > 0])
    return out


def count_reachable(mdp: FiniteHorizonMDP, reach: list[np.ndarray] | None = None) -> int:
    """Distinct states reachable at some step ``0..H-1``, aliases (``mdp.meta["state_aliases"]``) merged."""
    reach = reachable_states(mdp) if reach is None else reach
    states = np.unique(np.concatenate(reach))
    aliases = mdp.meta.get("state_aliases") or {}
    if aliases:
        states = np.unique(np.array([aliases.get(int(s), int(s)) for s in states], dtype=np.int64))
    return int(states.size)



# ---------------------------------------------------------------------------- download


def _fetch_url(url: str, dest: Path) -> None:
    """Default fetcher: ``urllib`` (http, https, file URLs) into ``dest``."""
    with urllib.request.urlopen(url) as response, open(dest, "wb") as fh:  # noqa: S310 (documented URL schemes)
        shutil.copyfileobj(response, fh)


def _members(archive: Path):
    """``(member name, reader)`` pairs of a zip or tar archive (reader() returns the bytes)."""
    if zipfile.is_zipfile(archive):
        zf = zipfile.ZipFile(archive)
        for info in zf.infolist():
            if not info.is_dir():
                yield info.filename, (lambda info=info: zf.read(info))
        zf.close()
        return
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                if member.isfile():
                    yield member.name, (lambda member=member: tf.extractfile(member).read())
        return
    raise BridgeFileError(archive, "path", "is neither a zip nor a tar archive nor an .npz file")


def _wanted_name(member: str, names: set[str] | None) -> str | None:
    """The MDP name of an archive member ``.../mdps/<name>/consolidated.npz`` or ``.../<name>.npz``."""
    parts = member.replace("\\", "/").split("/")
    if parts[-1] == "consolidated.npz" and len(parts) >= 2:
        if len(parts) >= 3 and parts[-3] not in ("mdps",):
            return None  # e.g. mdps_with_reward_shaping/...: only the base MDPs
        name = parts[-2]
    elif parts[-1].endswith(".npz") and "consolidated" not in parts[-1]:
        name = parts[-1][:-4]
    else:
        return None
    if names is not None and name not in names:
        return None
    return name


def download(names: str | Iterable[str] | None = None, dest: str | os.PathLike = "bridge", *,
             url: str = BRIDGE_ARCHIVE_URL, fetch: Callable[[str, Path], None] | None = None,
             overwrite: bool = False) -> dict[str, Path]:
    """Download BRIDGE MDPs into ``dest/<name>.npz``; returns ``{name: path}``.

    Fetches ``url`` (default: the public BRIDGE archive on Zenodo, :data:`BRIDGE_ARCHIVE_URL`) to a temporary
    file, then keeps the base MDPs ``mdps/<name>/consolidated.npz`` of the archive (a ``.zip`` or
    ``.tar(.gz)``), or the file itself when ``url`` names a single ``.npz``. Every kept file is validated
    with :func:`read_arrays` before it is moved into place (atomically), so a corrupt download never leaves
    a bad file behind.

    Parameters
    ----------
    names : str or iterable of str, optional
        MDP names to keep (e.g. ``"freeway_10_fs30"``); ``None`` keeps every base MDP.
    dest : folder, created if needed.
    url : ``http(s)://`` or ``file://`` URL.
    fetch : callable ``(url, destination_path) -> None``, optional
        Replaces the network fetch (tests pass one that copies a local file).
    overwrite : bool
        Replace files already in ``dest`` (default: keep them and skip).

    Raises
    ------
    BridgeFileError for an unreadable archive or an invalid MDP; InvalidDataError when a requested
    name is not in the archive.

    Licence: CC-BY-4.0; cite :data:`CITATION`.
    """
    if isinstance(names, str):
        names = [names]
    wanted = None if names is None else set(names)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    fetch = fetch or _fetch_url
    out: dict[str, Path] = {}
    if wanted is not None and not overwrite:
        for n in list(wanted):
            if (dest / f"{n}.npz").is_file():
                out[n] = dest / f"{n}.npz"
        wanted -= set(out)
        if not wanted:
            return out
    with tempfile.TemporaryDirectory(prefix="bridge-") as tmp:
        archive = Path(tmp) / "download"
        fetch(url, archive)
        if not archive.is_file():
            raise BridgeFileError(archive, "path", f"nothing was downloaded from {url}")
        if zipfile.is_zipfile(archive) and _is_npz(archive):
            name = Path(url.split("?")[0]).name
            name = name[:-4] if name.endswith(".npz") else name
            items = [(f"{name}.npz", lambda: archive.read_bytes())]
        else:
            items = _members(archive)
        for member, read in items:
            name = _wanted_name(member, wanted)
            if name is None or name in out:
                continue
            target = dest / f"{name}.npz"
            if target.exists() and not overwrite:
                out[name] = target
                continue
            fd, tmp_file = tempfile.mkstemp(prefix=f".{name}.", suffix=".npz", dir=dest)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(read())
                try:
                    read_arrays(tmp_file)
                except BridgeFileError as exc:
                    raise BridgeFileError(f"{url}!{member}", exc.array, str(exc).split(": ", 2)[-1],
                                          index=exc.index, value=exc.value) from None
                os.replace(tmp_file, target)
            finally:
                if os.path.exists(tmp_file):
                    os.unlink(tmp_file)
            out[name] = target
    if wanted is not None:
        missing = sorted(wanted - set(out))
        if missing:
            raise InvalidDataError("names", f"not found in the BRIDGE archive {url}: {missing}", value=missing)
    return out


def _is_npz(path: Path) -> bool:
    """A zip whose members are all ``.npy`` arrays (an ``.npz`` file, not an archive of ``.npz`` files)."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    return bool(names) and all(n.endswith(".npy") for n in names)

