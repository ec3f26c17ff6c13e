"""Plot helpers for figure recipes: mean ± standard-error bands, dashed bounds, fixed style.

Everything here works without a display: figures are plain :class:`matplotlib.figure.Figure`
objects drawn by the Agg canvas (no ``pyplot`` state, nothing to close). Output is
deterministic: :data:`STYLE` fixes the rcParams (font, sizes, colours, DPI, SVG hash salt) and
:func:`savefig` strips the metadata that would embed versions or dates, so the same data gives
the same bytes.

A typical recipe::

    fig, ax = subplots()
    data = {"curves": plot_curves(ax, k, {"UCBVI-BF": trace.cumulative_regret}, spacing="log"),
            "bound": plot_bound(ax, k, bound, "Thm. 2 upper bound", spacing="log")}
    regret_axes(ax, log=True)

The returned dictionaries hold the subsampled points actually drawn (about
:data:`MAX_POINTS` per curve), ready for a figure's JSON.
"""

from __future__ import annotations

import contextlib
import math
import os
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path

import matplotlib
import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from .errors import InvalidDataError, InvalidParameterError
from .validation import check_int, check_real

__all__ = [
    "OKABE_ITO",
    "BOUND_COLOR",
    "STYLE",
    "MAX_POINTS",
    "style",
    "subplots",
    "mean_and_se",
    "subsample_indices",
    "plot_curves",
    "plot_bound",
    "regret_axes",
    "legend_outside",
    "figure_legend",
    "integer_ticks",
    "note_box",
    "stamp_footer",
    "savefig",
]

#: Okabe & Ito (2008) colour-blind-safe palette, in plotting order (yellow and black last:
#: yellow is faint on white, black is kept for bounds).
OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
#: Colour of theorem bounds (dashed).
BOUND_COLOR = "#000000"
#: Default number of points drawn (and stored) per curve.
MAX_POINTS = 300

#: Fixed rcParams applied by :func:`style`: same bytes on every machine with the same matplotlib.
STYLE: dict = {
    "figure.figsize": (5.0, 3.4),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.facecolor": "white",
    "figure.facecolor": "white",
    "font.family": "DejaVu Sans",  # ships with matplotlib
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "legend.fontsize": 8.0,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "axes.prop_cycle": matplotlib.cycler(color=list(OKABE_ITO)),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "legend.frameon": False,
    "text.usetex": False,
    "svg.hashsalt": "rltheory",
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "image.cmap": "viridis",
}

# Metadata keys that would embed a version or a date, per output format.
_NO_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
    "svg": {"Creator": None, "Date": None},
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context manager applying :data:`STYLE` (used by ``rltheory reproduce`` around recipes)."""
    with matplotlib.rc_context(STYLE):
        yield


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None,
             gridspec_kw: dict | None = None, **subplot_kw) -> tuple[Figure, object]:
    """A new :class:`Figure` (constrained layout, :data:`STYLE`) and its axes.

    Returns ``(fig, ax)`` for one panel, else ``(fig, axes)`` with ``axes`` a NumPy array of
    shape ``(nrows, ncols)`` squeezed as :meth:`Figure.subplots` does. No ``pyplot``: nothing
    to close, no display needed. ``gridspec_kw`` (e.g. ``{"height_ratios": (3, 1)}``) goes to
    :meth:`Figure.subplots`; other keywords are passed to every subplot.
    """
    nrows = check_int(nrows, "nrows", low=1)
    ncols = check_int(ncols, "ncols", low=1)
    with style():
        if figsize is None:
            w, h = STYLE["figure.figsize"]
            figsize = (w * (1 + 0.8 * (ncols - 1)), h * (1 + 0.8 * (nrows - 1)))
        fig = Figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(nrows, ncols, subplot_kw=subplot_kw or None, gridspec_kw=gridspec_kw)
    return fig, axes


def mean_and_se(values, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the mean along ``axis``.

    ``values`` of shape ``(replicates, n)`` (``axis=0``) gives two arrays of shape ``(n,)``.
    The standard error is ``std(ddof=1) / sqrt(replicates)``; with one replicate it is 0.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        raise InvalidDataError("values", "must have at least one dimension, got a scalar",
                               value=float(arr))
    if not -arr.ndim <= axis < arr.ndim:
        raise InvalidParameterError(
            "axis", f"must be in [{-arr.ndim}, {arr.ndim}) for values of shape {arr.shape}, "
            f"got {axis}", value=axis)
    n = arr.shape[axis]
    if n == 0:
        raise InvalidDataError("values", f"has no entries along axis {axis} (shape {arr.shape})",
                               value=arr.shape)
    mean = arr.mean(axis=axis)
    if n == 1:
        return mean, np.zeros_like(mean)
    return mean, arr.std(axis=axis, ddof=1) / math.sqrt(n)


def subsample_indices(n: int, max_points: int = MAX_POINTS, *,
                      spacing: str = "linear") -> np.ndarray:
    """Sorted distinct indices into an axis of length ``n``, at most ``max_points`` of them.

    Always includes ``0`` and ``n - 1``. ``spacing="linear"``: evenly spaced; ``"log"``:
    evenly spaced in ``log(index + 1)`` (dense at the start, for log-scaled axes). Returns
    ``arange(n)`` when ``n <= max_points``. Shape ``(m,)``, ``m <= max_points``.
    """
    n = check_int(n, "n", low=1)
    max_points = check_int(max_points, "max_points", low=2)
    if spacing not in ("linear", "log"):
        raise InvalidParameterError("spacing", f"must be 'linear' or 'log', got {spacing!r}",
                                    value=spacing)
    if n <= max_points:
        return np.arange(n)
    if spacing == "log":
        idx = np.round(np.geomspace(1.0, float(n), max_points)).astype(np.int64) - 1
    else:
        idx = np.round(np.linspace(0.0, n - 1.0, max_points)).astype(np.int64)
    idx = np.unique(np.concatenate(([0], idx, [n - 1])))
    return idx


def _as_x(x) -> np.ndarray:
    xs = np.asarray(x, dtype=np.float64)
    if xs.ndim != 1 or xs.size == 0:
        raise InvalidDataError("x", f"must be a non-empty 1-d array, got shape {xs.shape}",
                               value=xs.shape)
    return xs


def plot_curves(ax, x, curves: Mapping[str, np.ndarray], *, spacing: str = "linear",
                max_points: int = MAX_POINTS, colors: Mapping[str, str] | None = None,
                band: float = 1.0, alpha: float = 0.2) -> dict[str, dict[str, np.ndarray]]:
    """Draw each curve's mean over replicates with a ± ``band`` standard-error band.

    Parameters
    ----------
    ax : matplotlib Axes
    x : array, shape ``(n,)``
        Shared x values (e.g. episodes ``1..K``).
    curves : mapping label -> array of shape ``(replicates, n)``
        (or ``(n,)``: one replicate, drawn without a band)
    spacing : {"linear", "log"}
        How points are subsampled to at most ``max_points`` (statistics use every point).
    colors : mapping label -> colour, optional
        Defaults to :data:`OKABE_ITO` in order.
    band : float >= 0
        Band half-width in standard errors (1.0: mean ± SE; 1.96: normal 95% interval).

    Returns
    -------
    dict label -> {"x": (m,), "mean": (m,), "se": (m,), "replicates": int}, the points drawn.
    """
    xs = _as_x(x)
    band = check_real(band, "band", low=0.0)
    if not isinstance(curves, Mapping) or not curves:
        raise InvalidDataError("curves", "must be a non-empty mapping label -> (replicates, n) "
                               "array", value=type(curves).__name__)
    idx = subsample_indices(xs.size, max_points, spacing=spacing)
    out: dict[str, dict[str, np.ndarray]] = {}
    for i, (label, values) in enumerate(curves.items()):
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None]
        if arr.ndim != 2 or arr.shape[1] != xs.size:
            raise InvalidDataError(
                "curves", f"curve {label!r} must have shape (replicates, {xs.size}), "
                f"got {np.shape(values)}", value=np.shape(values))
        mean, se = mean_and_se(arr, axis=0)
        color = (colors or {}).get(label, OKABE_ITO[i % len(OKABE_ITO)])
        xm, mm, sm = xs[idx], mean[idx], se[idx]
        if arr.shape[0] > 1 and band > 0:
            ax.fill_between(xm, mm - band * sm, mm + band * sm, color=color, alpha=alpha,
                            linewidth=0)
        ax.plot(xm, mm, color=color, label=str(label))
        out[str(label)] = {"x": xm, "mean": mm, "se": sm, "replicates": int(arr.shape[0])}
    return out


def plot_bound(ax, x, y, label: str, *, color: str = BOUND_COLOR, spacing: str = "linear",
               max_points: int = MAX_POINTS) -> dict[str, np.ndarray]:
    """Draw a theorem's bound as a dashed line; ``x`` and ``y`` of shape ``(n,)``.

    Returns ``{"x": (m,), "y": (m,)}``, the subsampled points drawn.
    """
    xs = _as_x(x)
    ys = np.asarray(y, dtype=np.float64)
    if ys.ndim == 0:
        ys = np.full(xs.shape, float(ys))
    if ys.shape != xs.shape:
        raise InvalidDataError("y", f"must have the shape of x {xs.shape}, got {ys.shape}",
                               value=ys.shape)
    idx = subsample_indices(xs.size, max_points, spacing=spacing)
    ax.plot(xs[idx], ys[idx], linestyle="--", linewidth=1.2, color=color, label=str(label))
    return {"x": xs[idx], "y": ys[idx]}


def regret_axes(ax, *, log: bool | str = False, xlabel: str = "episodes K",
                ylabel: str = "cumulative regret", title: str | None = None, legend: bool = True):
    """Label a regret plot: axis labels with units, optional log scales, legend.

    ``log``: ``False`` (linear), ``True`` or ``"both"`` (log-log), ``"x"`` or ``"y"``.
    Returns ``ax``.
    """
    if log not in (False, True, "both", "x", "y"):
        raise InvalidParameterError("log", f"must be False, True, 'both', 'x' or 'y', got {log!r}",
                                    value=log)
    if log in (True, "both", "x"):
        ax.set_xscale("log")
    if log in (True, "both", "y"):
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")
    return ax


def legend_outside(ax, *, side: str = "right", fontsize: float = 7.0, ncol: int = 1, **kwargs):
    """Put ``ax``'s legend outside the plotting area so that it never covers a curve.

    ``side="right"``: to the right of the axes (top-aligned); ``"below"``: under the x-axis label,
    centred, in ``ncol`` columns. Constrained layout (:func:`subplots`) makes room for it. Returns
    the legend, or ``None`` when ``ax`` has no labelled artist.
    """
    if side not in ("right", "below"):
        raise InvalidParameterError("side", f"must be 'right' or 'below', got {side!r}", value=side)
    if not ax.get_legend_handles_labels()[0]:
        return None
    if side == "right":
        return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                         fontsize=fontsize, ncol=ncol, **kwargs)
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), borderaxespad=0.0,
                     fontsize=fontsize, ncol=ncol, **kwargs)


def figure_legend(fig: Figure, axes, *, fontsize: float = 8.0, ncol: int = 4, **kwargs):
    """One legend for the whole figure, below every panel (never over a curve).

    Collects the labelled artists of ``axes`` (an Axes or an array of them), keeps the first artist
    of each label, in order, and places them under the figure (``loc="outside lower center"``,
    which constrained layout makes room for). Returns the legend, or ``None`` without labels.
    """
    seen: dict[str, object] = {}
    for ax in np.atleast_1d(axes).ravel():
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in seen and not label.startswith("_"):
                seen[label] = handle
    if not seen:
        return None
    return fig.legend(list(seen.values()), list(seen), loc="outside lower center", fontsize=fontsize,
                      ncol=min(ncol, len(seen)), **kwargs)


def integer_ticks(ax, values, *, axis: str = "x", max_ticks: int = 12) -> None:
    """Plain integer tick labels at ``values`` on a (possibly log-scaled) axis.

    A log axis that spans less than a couple of decades gets one labelled tick (``10^0``) or
    none from matplotlib's default locator; this puts a tick at each distinct value (at most
    ``max_ticks`` of them, evenly thinned) with plain labels and removes the minor ticks.
    """
    if axis not in ("x", "y"):
        raise InvalidParameterError("axis", f"must be 'x' or 'y', got {axis!r}", value=axis)
    vals = np.unique(np.asarray(values, dtype=np.float64))
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return
    if vals.size > max_ticks:
        vals = vals[np.unique(np.round(np.linspace(0, vals.size - 1, max_ticks)).astype(int))]
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_ticks(vals, labels=[f"{v:g}" for v in vals])
    target.set_minor_locator(matplotlib.ticker.NullLocator())


def note_box(ax, text: str, *, loc: str = "lower right", fontsize: float = 7.0):
    """A boxed note inside ``ax`` (e.g. a vacuous bound's value, which would dwarf the data if drawn).

    ``loc``: ``"lower right"``, ``"upper left"``, ``"upper right"`` or ``"lower left"``.
    """
    places = {"lower right": (0.98, 0.03, "right", "bottom"), "upper left": (0.02, 0.97, "left", "top"),
              "upper right": (0.98, 0.97, "right", "top"), "lower left": (0.02, 0.03, "left", "bottom")}
    if loc not in places:
        raise InvalidParameterError("loc", f"must be one of {sorted(places)}, got {loc!r}", value=loc)
    x, y, ha, va = places[loc]
    return ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=fontsize,
                   bbox={"boxstyle": "round,pad=0.35", "facecolor": "white", "edgecolor": "#999999",
                         "alpha": 0.9})


def stamp_footer(fig: Figure, text: str, *, fontsize: float = 7.0, color: str = "#333333",
                 dpi: float | None = None):
    """Write ``text`` in a strip added under ``fig`` (right-aligned, wrapped to the figure's width).

    The strip lies below the figure's own area, so the footer never covers a panel, a label or a
    legend. Returns the region to save, in inches (a :class:`matplotlib.transforms.Bbox`: the
    figure plus the strip), for ``savefig(fig, path, bbox_inches=...)``; saved without it, the
    footer is cut off. The figure's layout is computed here (at ``dpi``, default :data:`STYLE`'s
    ``savefig.dpi``) and then frozen (layout engine ``"none"``), and figure legends are pinned to
    the figure's own area, so that the saved region does not move them into the strip; the strip
    is a whole number of pixels at ``dpi``. Draw nothing more on ``fig`` afterwards.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidParameterError("text", f"must be a non-empty string, got {text!r}", value=text)
    dpi = STYLE["savefig.dpi"] if dpi is None else dpi
    width, height = fig.get_size_inches()
    old_dpi = fig.dpi
    fig.set_dpi(dpi)
    try:
        fig.draw_without_rendering()  # the layout engine places everything, at the saving resolution
        fig.set_layout_engine("none")  # ... and its positions are kept from here on
        # savefig(bbox_inches=region) makes the region the figure's bbox, to which figure legends are
        # anchored by default ("outside lower center" would drop into the strip): anchor them to the
        # figure's own area (figure coordinates, which the saved region leaves in place)
        for legend in fig.legends:
            legend.set_bbox_to_anchor((0.0, 0.0, 1.0, 1.0), transform=fig.transFigure)
        # DejaVu Sans averages about 0.55 em per character
        chars = max(20, int(width * 72.0 / (0.55 * fontsize)) - 4)
        pad = 0.06  # inches
        artist = fig.text(1.0 - pad / width, -pad / height, textwrap.fill(text, chars), ha="right", va="top",
                          fontsize=fontsize, color=color)
        fig.draw_without_rendering()
        extent = artist.get_window_extent().transformed(fig.dpi_scale_trans.inverted())
    finally:
        fig.set_dpi(old_dpi)
    bottom = math.floor((min(extent.y0, -pad) - pad) * dpi) / dpi
    left = min(0.0, math.floor((extent.x0 - pad) * dpi) / dpi)
    return Bbox([[left, bottom], [width, height]])


def savefig(fig: Figure, path: str | os.PathLike, *, dpi: float | None = None, bbox_inches=None) -> Path:
    """Save ``fig`` to ``path`` atomically and byte-reproducibly; returns the path.

    The format follows the suffix (``.png``, ``.pdf``, ``.svg``). Metadata that would embed the
    matplotlib version or a date is removed; the file is written under a temporary name and
    renamed into place, so readers never see a partial image. ``bbox_inches``: the region saved
    (matplotlib's argument; e.g. what :func:`stamp_footer` returns); default the figure's area.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if not fmt:
        raise InvalidParameterError(
            "path", f"needs a suffix naming the format (.png, .pdf, .svg), got {path}",
            value=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with style():
            fig.savefig(tmp, format=fmt, dpi=dpi if dpi is not None else STYLE["savefig.dpi"],
                        metadata=_NO_METADATA.get(fmt), bbox_inches=bbox_inches)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path
