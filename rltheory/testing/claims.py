"""The shapes theorems take, as checks that name their worst case.

Each function compares two sides of an inequality elementwise (after NumPy broadcasting) and
returns a :class:`ClaimResult`: truthy when the claim holds, and in every case the worst entry —
its index (named by ``axes``, by default ``replicate`` and ``episode`` for 2-d arrays), the two
sides there, the margin, and the ``model`` it was checked on if given. ``result.check()`` raises
:class:`ClaimViolation` (an ``AssertionError``) with that report, so ``claims.within(...).check()``
reads as an assertion in a test, and Hypothesis shrinks a failing model through it::

    from rltheory.testing import claims
    claims.upper_bounds(trace, v_star).check()            # optimism on every episode
    claims.stays_above(trace.values, 0.9 * v_base).check()  # safety, episode by episode
    claims.contracts(kl_per_iteration, 1 / (1 + 2 * beta)).check()
    claims.sublinear(trace.cumulative_regret, 0.5).check()

Tolerances are explicit: ``atol`` (absolute) and, where it makes sense, ``rtol`` (relative to the
larger side), so float noise is not mistaken for a counterexample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidParameterError
from ..validation import check_real

__all__ = ["ClaimResult", "ClaimViolation", "upper_bounds", "stays_above", "contracts", "sublinear", "within"]


class ClaimViolation(AssertionError):
    """A claim failed; ``.result`` is the :class:`ClaimResult` with the worst case."""

    def __init__(self, result: ClaimResult):
        super().__init__(result.report())
        self.result = result


@dataclass(frozen=True)
class ClaimResult:
    """Outcome of a claim check.

    Attributes
    ----------
    claim : str
        The inequality checked, in words (``"upper >= reference"``).
    holds : bool
        Whether it held everywhere (within tolerance).
    worst : dict
        The worst entry: ``index`` (named by axis, e.g. ``{"replicate": 2, "episode": 17}``), ``lhs`` and
        ``rhs`` (the two sides there), ``margin`` (how far inside (>= 0) or outside (< 0) the claim it was),
        plus claim-specific facts (a fitted slope and its interval, ...).
    violations : int
        Number of entries where the claim failed.
    model : str or None
        The model it was checked on (its name), when given.
    """

    claim: str
    holds: bool
    worst: dict = field(default_factory=dict)
    violations: int = 0
    model: str | None = None

    def __bool__(self) -> bool:
        return self.holds

    def report(self) -> str:
        status = "holds" if self.holds else f"FAILS at {self.violations} entr{'y' if self.violations == 1 else 'ies'}"
        facts = ", ".join(f"{k}={_fmt(v)}" for k, v in self.worst.items())
        where = f" on {self.model}" if self.model else ""
        return f"claim {self.claim!r} {status}{where}; worst case: {facts}"

    __str__ = report

    def check(self) -> ClaimResult:
        """Return ``self`` if the claim holds, else raise :class:`ClaimViolation` with the report."""
        if not self.holds:
            raise ClaimViolation(self)
        return self


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return repr(v)


def _array(x, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(name, f"must be a real array, got {type(x).__name__}: {exc}",
                                    value=type(x).__name__) from None
    nan = np.isnan(arr)
    if nan.any():
        idx = np.unravel_index(int(np.argmax(nan)), arr.shape) if arr.ndim else ()
        raise InvalidParameterError(name, "contains NaN", index=idx, value=float("nan"))
    return arr


def _pair(lhs, rhs, lhs_name: str, rhs_name: str):
    a, b = _array(lhs, lhs_name), _array(rhs, rhs_name)
    try:
        a, b = np.broadcast_arrays(a, b)
    except ValueError:
        raise InvalidParameterError(rhs_name, f"shape {np.shape(rhs)} does not broadcast against {lhs_name}'s "
                                              f"shape {np.shape(lhs)}", value=np.shape(rhs)) from None
    if a.size == 0:
        raise InvalidParameterError(lhs_name, "is empty: nothing to check", value=a.shape)
    return a, b


def _axes_names(ndim: int, axes) -> tuple[str, ...]:
    if axes is not None:
        axes = tuple(axes)
        if len(axes) != ndim:
            raise InvalidParameterError("axes", f"names {len(axes)} axes but the arrays have {ndim}", value=axes)
        return axes
    return {0: (), 1: ("index",), 2: ("replicate", "episode")}.get(ndim, tuple(f"axis{i}" for i in range(ndim)))


def _model_name(model) -> str | None:
    if model is None or isinstance(model, str):
        return model
    return getattr(model, "name", None) or repr(model)


def _compare(lhs, rhs, *, claim, lhs_name, rhs_name, atol, rtol, axes, model) -> ClaimResult:
    """``lhs >= rhs - (atol + rtol * max(|lhs|, |rhs|))`` everywhere; worst = the smallest slack."""
    atol = check_real(atol, "atol", low=0.0)
    rtol = check_real(rtol, "rtol", low=0.0)
    a, b = _pair(lhs, rhs, lhs_name, rhs_name)
    with np.errstate(invalid="ignore"):
        slack = np.where(a == b, 0.0, a - b)  # equal infinities are not a violation
        tol = atol + rtol * np.maximum(np.abs(a), np.abs(b))
    bad = slack < -tol
    flat = int(np.argmin(slack))
    idx = np.unravel_index(flat, a.shape) if a.ndim else ()
    names = _axes_names(a.ndim, axes)
    worst = {"index": {n: int(i) for n, i in zip(names, idx, strict=True)},
             lhs_name: float(a[idx]), rhs_name: float(b[idx]), "margin": float(slack[idx])}
    return ClaimResult(claim, not bool(bad.any()), worst, int(bad.sum()), _model_name(model))


def upper_bounds(upper, reference, *, atol: float = 1e-9, rtol: float = 0.0, axes=None, model=None) -> ClaimResult:
    """Optimism: ``upper >= reference`` everywhere.

    ``upper`` is an array or a :class:`~rltheory.trace.Trace` (then its ``optimistic_values``, the
    ``(replicates, episodes)`` upper values at the initial state); ``reference`` broadcasts against it
    (typically ``V*``, a scalar or a per-state array).
    """
    if hasattr(upper, "keys") and hasattr(upper, "arrays"):
        if "optimistic_values" not in upper:
            raise InvalidParameterError("upper", f"the trace has no 'optimistic_values' (has {sorted(upper.keys())})",
                                        value=sorted(upper.keys()))
        upper = upper["optimistic_values"]
    return _compare(upper, reference, claim="upper >= reference", lhs_name="upper", rhs_name="reference",
                    atol=atol, rtol=rtol, axes=axes, model=model)


def stays_above(values, threshold, *, atol: float = 0.0, axes=None, model=None) -> ClaimResult:
    """Safety per episode: ``values >= threshold`` for every replicate and episode (e.g. ``(1 - alpha) V^b``)."""
    return _compare(values, threshold, claim="values >= threshold", lhs_name="values", rhs_name="threshold",
                    atol=atol, rtol=0.0, axes=axes, model=model)


def within(measured, bound, *, atol: float = 0.0, rtol: float = 0.0, axes=None, model=None) -> ClaimResult:
    """A bound that must hold: ``measured <= bound`` everywhere."""
    return _compare(bound, measured, claim="measured <= bound", lhs_name="bound", rhs_name="measured",
                    atol=atol, rtol=rtol, axes=axes, model=model)


def contracts(sequence, rate, *, atol: float = 1e-12, rtol: float = 1e-9, model=None) -> ClaimResult:
    """A linear rate: ``e[t + 1] <= rate * e[t]`` for every step of a non-negative error sequence.

    ``sequence`` is ``(T,)`` or ``(replicates, T)`` (the last axis is the iteration). The tolerance
    ``atol + rtol * e[t]`` absorbs float noise once errors reach machine precision.
    """
    rate = check_real(rate, "rate", low=0.0)
    e = _array(sequence, "sequence")
    if e.ndim not in (1, 2) or e.shape[-1] < 2:
        raise InvalidParameterError("sequence", f"must be (T,) or (replicates, T) with T >= 2, got shape {e.shape}",
                                    value=e.shape)
    if (e < 0).any():
        idx = np.unravel_index(int(np.argmax(e < 0)), e.shape)
        raise InvalidParameterError("sequence", "must be non-negative (an error or a divergence)", index=idx,
                                    value=float(e[idx]))
    prev, nxt = e[..., :-1], e[..., 1:]
    result = _compare(rate * prev + atol + rtol * prev, nxt, claim=f"e[t+1] <= {rate:g} e[t]",
                      lhs_name="rate_times_previous", rhs_name="next", atol=0.0, rtol=0.0,
                      axes=("iteration",) if e.ndim == 1 else ("replicate", "iteration"), model=model)
    worst = dict(result.worst)
    t = worst["index"]["iteration"]
    worst["index"] = {**worst["index"], "iteration": t + 1}
    ratio = nxt / np.where(prev > 0, prev, np.nan)
    worst["largest_ratio"] = float(np.nanmax(ratio)) if np.isfinite(ratio).any() else float("nan")
    return ClaimResult(result.claim, result.holds, worst, result.violations, result.model)


def sublinear(cumulative_regret, exponent, *, fit_from: float = 0.1, confidence: float = 0.95, n_boot: int = 1000,
              seed: int = 0, model=None) -> ClaimResult:
    """Growth no faster than ``K^exponent``: the log-log slope of the mean cumulative regret.

    The slope is fitted by least squares on ``log(mean regret)`` against ``log(k)`` at 30 log-spaced
    episodes from ``fit_from * K`` to ``K``; the interval is a bootstrap over replicates (``n_boot``
    resamples; with one replicate, the least-squares standard error under a normal approximation).
    The claim **fails** only when the whole interval lies above ``exponent`` (the data are significantly
    steeper), so noise alone does not produce a counterexample; ``worst`` reports the slope, the interval
    and the exponent.
    """
    exponent = check_real(exponent, "exponent", low=0.0)
    fit_from = check_real(fit_from, "fit_from", low=0.0, high=1.0, low_open=True, high_open=True)
    confidence = check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    c = _array(cumulative_regret, "cumulative_regret")
    if c.ndim == 1:
        c = c[None]
    if c.ndim != 2 or c.shape[1] < 10:
        raise InvalidParameterError("cumulative_regret", f"must be (K,) or (replicates, K) with K >= 10, got shape "
                                                         f"{np.shape(cumulative_regret)}", value=c.shape)
    K = c.shape[1]
    ks = np.unique(np.geomspace(max(1, int(fit_from * K)), K, 30).astype(np.int64))
    x = np.log(ks)

    def slope(rows):
        m = rows[:, ks - 1].mean(axis=0)
        if (m <= 0).any():
            return np.nan
        return float(np.polyfit(x, np.log(m), 1)[0])

    est = slope(c)
    if not np.isfinite(est):
        raise InvalidParameterError("cumulative_regret", "must be positive on the fitted range (from fit_from * K)",
                                    value=float(c[:, ks[0] - 1].mean()))
    alpha = 1.0 - confidence
    if c.shape[0] >= 2:
        rng = np.random.default_rng(seed)
        boots = np.array([slope(c[rng.integers(0, c.shape[0], c.shape[0])]) for _ in range(n_boot)])
        lo, hi = np.nanquantile(boots, [alpha / 2, 1 - alpha / 2])
    else:
        from scipy import stats

        y = np.log(c[0, ks - 1])
        coef, cov = np.polyfit(x, y, 1, cov=True)
        se = float(np.sqrt(cov[0, 0]))
        z = float(stats.norm.ppf(1 - alpha / 2))
        lo, hi = est - z * se, est + z * se
    holds = bool(lo <= exponent)
    worst = {"slope": est, "interval": (float(lo), float(hi)), "exponent": exponent,
             "episodes": (int(ks[0]), int(ks[-1])), "margin": float(exponent - lo)}
    return ClaimResult(f"log-log slope <= {exponent:g}", holds, worst, 0 if holds else 1, _model_name(model))
