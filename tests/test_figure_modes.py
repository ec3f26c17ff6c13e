"""Quick and full outputs of ``reproduce``: separate folders, a mode footer on every PNG, wall times in
the JSON and in MANIFEST.md's quick and full columns (with totals), full-mode estimates."""

from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from rltheory import figures as F
from rltheory import plotting as P
from rltheory.errors import InvalidDataError, InvalidParameterError

COMMITTED = Path(__file__).resolve().parents[1] / "paper_figures"


@pytest.fixture(autouse=True)
def _clean_registry(monkeypatch):
    """Each test sees only the figures it registers (other test modules, or the real recipes loaded by an
    earlier test, would otherwise add rows and totals to its manifest)."""
    monkeypatch.setattr(F, "FIGURES", {})


def register(name: str, scale: str = ""):
    @F.figure(name, title=f"Mode test {name}", paper="Local (2024)", source="Fig. 1", status="reproduced")
    def make(quick):
        fig, ax = P.subplots()
        n = 20 if quick else 40  # full mode: a different figure, so overwriting would show
        ax.plot(np.arange(n), np.arange(n) ** 2, label="curve")
        P.legend_outside(ax)
        return F.FigureOutput(fig, {"n": n}, notes="", scale=scale.format(n=n))

    return make


def fake_clock(monkeypatch, step: float):
    """``reproduce``'s clock advancing ``step`` seconds per reading: each figure takes exactly ``step``."""
    ticks = iter(range(10_000))
    monkeypatch.setattr(F, "_clock", lambda: step * next(ticks))


def manifest_rows(out: Path) -> dict[str, list[str]]:
    rows = {}
    for line in (out / "MANIFEST.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| `") or line.startswith("| **total**"):
            cells = [c.strip() for c in line.split("|")[1:-1]]
            key = "total" if line.startswith("| **total**") else line.split("`")[1]
            rows[key] = cells
    return rows


def png_pixels(path: Path) -> np.ndarray:
    return matplotlib.image.imread(io.BytesIO(path.read_bytes()), format="png")


def test_full_mode_never_overwrites_quick(tmp_path):
    register("mode-a")
    F.reproduce("mode-a", out=tmp_path, progress=False, load=False)
    quick_png, quick_json = (tmp_path / "mode-a.png").read_bytes(), (tmp_path / "mode-a.json").read_text()
    results = F.reproduce("mode-a", full=True, out=tmp_path, progress=False, load=False)
    assert results[0].png == tmp_path / "full" / "mode-a.png"
    assert results[0].json == tmp_path / "full" / "mode-a.json"
    assert (tmp_path / "mode-a.png").read_bytes() == quick_png  # quick files untouched
    assert (tmp_path / "mode-a.json").read_text() == quick_json
    assert json.loads(quick_json)["mode"] == "quick" and json.loads(quick_json)["data"]["n"] == 20
    full = json.loads((tmp_path / "full" / "mode-a.json").read_text())
    assert full["mode"] == "full" and full["data"]["n"] == 40
    assert full["command"] == "rltheory reproduce mode-a --full"
    # and a quick run after a full one leaves the full files alone
    full_png = (tmp_path / "full" / "mode-a.png").read_bytes()
    F.reproduce("mode-a", out=tmp_path, progress=False, load=False)
    assert (tmp_path / "full" / "mode-a.png").read_bytes() == full_png
    assert F.output_dir(tmp_path, False) == tmp_path and F.output_dir(tmp_path, True) == tmp_path / "full"
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == ["mode-a.json", "mode-a.png"]


def test_mode_stamp_text():
    quick = F.mode_stamp("ucbvi-regret", False, "8 replicates x 2,000\n episodes")
    assert quick.startswith("QUICK MODE (reduced scale: 8 replicates x 2,000 episodes)")
    assert "rltheory reproduce ucbvi-regret --full" in quick
    full = F.mode_stamp("ucbvi-regret", True)
    assert full.startswith("FULL MODE (full scale)") and "QUICK" not in full


def _two_panels(axes_legend_below: bool):
    fig, axes = P.subplots(1, 2)
    for ax in axes:
        ax.plot([0, 1, 2], [0, 1, 4], label="x")
        ax.plot([0, 1, 2], [1, 1, 3], label="y")
    if axes_legend_below:
        P.legend_outside(axes[0], side="below")
    P.figure_legend(fig, axes)  # "outside lower center": the legend nearest the strip
    fig.suptitle("a title")
    return fig


def test_footer_is_added_below_the_figure_without_changing_it(tmp_path):
    plain = P.savefig(_two_panels(False), tmp_path / "plain.png")
    fig = _two_panels(False)
    region = P.stamp_footer(fig, F.mode_stamp("some-figure", False, "3 replicates, a long scale text " * 6))
    width, height = fig.get_size_inches()
    assert region.y0 < -0.1 and region.y1 == height and region.x1 == width
    footer = next(t for t in fig.texts if t.get_text().startswith("QUICK MODE"))
    assert "\n" in footer.get_text()  # wrapped to the figure's width
    stamped = P.savefig(fig, tmp_path / "stamped.png", bbox_inches=region)
    a, b = png_pixels(plain), png_pixels(stamped)
    dpi = P.STYLE["savefig.dpi"]
    assert a.shape[1] == b.shape[1] and b.shape[0] == a.shape[0] + round(-region.y0 * dpi)
    # the figure, pixel for pixel (the figure legend, anchored to the saved region by default, would drop
    # into the strip), and dark text in the strip
    assert np.array_equal(b[: a.shape[0]], a)
    assert b[a.shape[0]:, :, :3].min() < 0.5
    with pytest.raises(InvalidParameterError, match="text"):
        P.stamp_footer(fig, "  ")


def test_footer_lies_below_every_other_artist():
    fig = _two_panels(True)  # an axes legend below the x-axis too
    P.stamp_footer(fig, "QUICK MODE")
    fig.draw_without_rendering()
    footer = next(t for t in fig.texts if t.get_text() == "QUICK MODE")
    assert footer.get_window_extent().y1 < 0  # wholly below the figure's area
    for artist in [*fig.legends, *fig.axes, fig.axes[0].get_legend(), fig._suptitle]:  # the rest inside it
        assert artist.get_window_extent().y0 >= 0, artist
    assert fig.get_layout_engine() is None or type(fig.get_layout_engine()).__name__ == "PlaceHolderLayoutEngine"


def test_reproduce_stamps_every_png_with_its_mode(tmp_path, monkeypatch):
    register("mode-b", scale="{n} points")
    stamps = []
    real = F.stamp_footer
    monkeypatch.setattr(F, "stamp_footer", lambda fig, text: stamps.append(text) or real(fig, text))
    F.reproduce("mode-b", out=tmp_path, progress=False, load=False)
    F.reproduce("mode-b", full=True, out=tmp_path, progress=False, load=False)
    assert stamps == [F.mode_stamp("mode-b", False, "20 points"), F.mode_stamp("mode-b", True, "40 points")]
    assert json.loads((tmp_path / "mode-b.json").read_text())["scale"] == "20 points"
    assert json.loads((tmp_path / "full" / "mode-b.json").read_text())["scale"] == "40 points"
    # the PNG is taller than the figure: the footer strip is in the file
    height_px = 3.4 * P.STYLE["savefig.dpi"]
    assert png_pixels(tmp_path / "mode-b.png").shape[0] > height_px + 5


def test_wall_times_land_in_json_and_manifest_with_totals(tmp_path, monkeypatch):
    register("mode-c")
    register("mode-d")
    register("mode-e")
    fake_clock(monkeypatch, 1.5)
    F.reproduce(["mode-c", "mode-d"], out=tmp_path, progress=False, load=False)  # 1.5 s each
    fake_clock(monkeypatch, 3000.0)
    results = F.reproduce(["mode-c"], full=True, out=tmp_path, progress=False, load=False)
    assert results[0].seconds == 3000.0
    wall = json.loads((tmp_path / "full" / "mode-c.json").read_text())["wall_time"]
    assert wall["seconds"] == 3000.0 and wall["scheduler"] == "local" and wall["cpu_count"] >= 1
    assert json.loads((tmp_path / "mode-d.json").read_text())["wall_time"]["seconds"] == 1.5
    rows = manifest_rows(tmp_path)
    # columns: figure, paper, command, quick, full, status
    assert rows["mode-c"][3:5] == ["1.5 s", "50.0 min"]
    assert rows["mode-d"][3:5] == ["1.5 s", "not generated"]
    assert rows["mode-e"][3:5] == ["not generated", "not generated"]
    total = rows["total"]
    assert total[3].startswith("3.0 s for 2 of 3 figures on ")
    assert total[4].startswith("measured: 50.0 min for 1 of 3 figures")
    # MANIFEST is rebuilt from the JSONs alone (no run needed)
    (tmp_path / "MANIFEST.md").unlink()
    F.write_manifest(tmp_path)
    assert manifest_rows(tmp_path) == rows


def test_manifest_shows_estimates_and_dask_extrapolations(tmp_path, monkeypatch):
    register("mode-f")
    register("mode-g")
    fake_clock(monkeypatch, 60.0)
    F.reproduce(["mode-f"], full=True, out=tmp_path, progress=False, load=False)
    estimates = {"_note": "measured on a busy machine",
                 "mode-f": {"dask": "8 workers: about 10 s (1 chunk x 80 / 8)"},
                 "mode-g": {"seconds": 7200 * 3, "method": "1 of 10 seeds timed, x10",
                            "details": "timed seed 0 in full settings: 2160 s", "dask": "4 workers: ~1.5 h"}}
    (tmp_path / "full" / "estimates.json").write_text(json.dumps(estimates))
    F.write_manifest(tmp_path)
    rows = manifest_rows(tmp_path)
    assert rows["mode-f"][4] == "60.0 s; Dask: 8 workers: about 10 s (1 chunk x 80 / 8)"
    assert rows["mode-g"][4] == "not run; est. 6.0 h (1 of 10 seeds timed, x10); Dask: 4 workers: ~1.5 h"
    assert rows["total"][4].startswith("measured: 60.0 s for 1 of 2 figures")
    assert "estimated: 6.0 h for 1 more; all 2: about 6.0 h" in rows["total"][4]
    text = (tmp_path / "MANIFEST.md").read_text()
    assert "- `mode-g`: timed seed 0 in full settings: 2160 s" in text
    assert "Full-mode timings: measured on a busy machine" in text
    # a measured full run wins over an estimate
    F.reproduce(["mode-g"], full=True, out=tmp_path, progress=False, load=False)
    assert manifest_rows(tmp_path)["mode-g"][4] == "60.0 s; Dask: 4 workers: ~1.5 h"


@pytest.mark.parametrize("entry, match", [
    ({"seconds": -1, "method": "x"}, "not a positive number"),
    ({"seconds": "long", "method": "x"}, "not a positive number"),
    ({"seconds": 10}, "without its method"),
    (["not", "an", "object"], "not an object"),
])
def test_bad_estimates_are_named(tmp_path, entry, match):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "estimates.json").write_text(json.dumps({"fig": entry}))
    with pytest.raises(InvalidDataError, match=match):
        F.read_estimates(tmp_path)
    (tmp_path / "full" / "estimates.json").write_text("[1, 2]")
    with pytest.raises(InvalidDataError, match="not a JSON object"):
        F.read_estimates(tmp_path)


def test_manifest_flags_files_of_the_wrong_mode_and_untimed_files(tmp_path):
    register("mode-h")
    register("mode-i")
    F.reproduce(["mode-h", "mode-i"], out=tmp_path, progress=False, load=False)
    doc = json.loads((tmp_path / "mode-h.json").read_text())
    doc["mode"] = "full"  # e.g. a full run written into the quick folder by an older rltheory
    (tmp_path / "mode-h.json").write_text(json.dumps(doc))
    doc = json.loads((tmp_path / "mode-i.json").read_text())
    del doc["wall_time"]  # written before wall times were recorded
    (tmp_path / "mode-i.json").write_text(json.dumps(doc))
    F.write_manifest(tmp_path)
    rows = manifest_rows(tmp_path)
    assert "full mode files in the quick folder" in rows["mode-h"][3]
    assert rows["mode-i"][3] == "generated, time not recorded"
    assert "(1 more generated without a recorded time)" in rows["total"][3]


def test_format_seconds():
    assert F.format_seconds(0.04) == "0.0 s" and F.format_seconds(119.94) == "119.9 s"
    assert F.format_seconds(120) == "2.0 min" and F.format_seconds(7199) == "120.0 min"
    assert F.format_seconds(7200) == "2.0 h" and F.format_seconds(36000) == "10.0 h"


def test_committed_full_outputs_are_full_mode_and_complete():
    folder = COMMITTED / "full"
    for js in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if js.name == F.ESTIMATES_FILE:
            continue
        doc = json.loads(js.read_text(encoding="utf-8"))
        assert doc["mode"] == "full", js.name
        assert doc["wall_time"]["seconds"] > 0, js.name
        assert js.with_suffix(".png").is_file(), js.name
    F.read_estimates(COMMITTED)  # the committed estimates parse


def test_bare_write_manifest_loads_the_recipes(tmp_path, monkeypatch):
    """A fresh process calling write_manifest alone (nothing registered yet) writes every recipe's row."""
    loaded = []

    def fake_load_recipes(group=F.ENTRY_POINT_GROUP):
        loaded.append(group)
        register("mode-loaded")
        return {}

    monkeypatch.setattr(F, "load_recipes", fake_load_recipes)
    F.write_manifest(tmp_path)
    assert loaded == [F.ENTRY_POINT_GROUP]
    assert "mode-loaded" in manifest_rows(tmp_path)
    F.write_manifest(tmp_path)  # figures registered now: not loaded again
    assert len(loaded) == 1
