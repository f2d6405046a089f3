"""Fan charts as figures for a paper: the axis spans the data, the run is named under the title, the
legend covers neither the data nor a label; English figures never touch the CJK font."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from simmodel.report import fonts, plots

BASE = 2024


def _values(first: int = BASE, last: int = 2030, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = [{"replicate": r, "year": y, "value": 40 + 1.5 * (y - first) + rng.normal(0, 0.5 + 0.3 * (y - first))}
            for r in range(n) for y in range(first, last + 1)]
    return pd.DataFrame(rows)


def _history() -> pd.DataFrame:
    # points up to the base year and near the top of the axes, where a legend in the axes used to sit
    return pd.DataFrame({"year": [2016, 2019, 2020, 2021, 2023], "value": [52.0, 50.0, 49.0, 47.0, 41.0],
                         "label": ["observed (2016: older SEI catalogue, a series break)"] + ["observed"] * 4})


TARGETS = [{"year": 2027, "threshold": 45.0, "assumption": False}, {"year": 2030, "threshold": 52.0, "assumption": True}]


def _fan(lang: str = "en", **kw):
    return plots.fan_chart(_values(), title="T2 SEI share of above-size industry VA", unit="%", history=_history(),
                           targets=TARGETS, base_year=BASE, lang=lang, **kw)


def _by_gid(fig, gid: str):
    found = [t for t in fig.findobj(lambda a: a.get_gid() == gid)]
    assert len(found) == 1, gid
    return found[0]


def _extent(artist, renderer):
    return artist.get_window_extent(renderer)


def test_the_x_axis_spans_the_years_drawn_and_no_more():
    fig = _fan()
    lo, hi = fig.axes[0].get_xlim()
    assert lo == pytest.approx(2016 - plots.X_MARGIN)  # the first observed point
    # the last target's line ends at 2030.4: the axis ends half a year later, not at 2031.2
    assert hi == pytest.approx(2030 + plots.TARGET_HALF_WIDTH + plots.X_MARGIN)
    assert hi < 2031
    plots.save(fig, io.BytesIO())
    # without history or targets: the projection's years only
    fig = plots.fan_chart(_values(), title="t", unit="u")
    assert fig.axes[0].get_xlim() == pytest.approx((BASE - plots.X_MARGIN, 2030 + plots.X_MARGIN))
    plots.save(fig, io.BytesIO())


def test_the_title_names_the_indicator_and_the_subtitle_the_run():
    fig = _fan(subtitle=plots.scenario_subtitle("en", "land_tight", "levers.fund_life_years=8"))
    ax = fig.axes[0]
    assert ax.get_title() == "T2 SEI share of above-size industry VA"
    sub = _by_gid(fig, "subtitle").get_text()
    assert "land_tight" in sub and "levers.fund_life_years=8" in sub
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    # the subtitle sits between the title and the axes, overlapping neither
    title, subtitle, axes = ax.title.get_window_extent(r), _extent(_by_gid(fig, "subtitle"), r), ax.get_window_extent(r)
    assert subtitle.y0 >= axes.y1 - 0.5 and title.y0 >= subtitle.y1 - 0.5
    plots.save(fig, io.BytesIO())
    assert plots.scenario_subtitle("en", "baseline") == "scenario: baseline"
    assert plots.scenario_subtitle("zh", "baseline", "levers.fund_life_years=8") == "情景：baseline；levers.fund_life_years=8"
    assert plots.scenario_subtitle("en") == ""


def test_target_fan_names_the_scenario_and_the_job(monkeypatch):
    traj = _values().assign(indicator="t2_sei_share_pct")
    history = pd.DataFrame({"indicator": ["sei_va_share_above_scale_industry_pct"] * 2, "year": [2020, 2023],
                            "value": [33.0, 38.0]})
    by_year = {"2027": {"indicator": "t2_sei_share_pct", "threshold": 34.0, "unit": "%",
                        "threshold_source": "seed"}}
    fig = plots.target_fan(traj, history, "T2", by_year, BASE, "en", scenario="land_tight", label="levers.fund_life_years=8")
    assert _by_gid(fig, "subtitle").get_text() == "scenario: land_tight; levers.fund_life_years=8"
    plots.save(fig, io.BytesIO())
    fig = plots.target_fan(traj, history, "T2", by_year, BASE, "en")  # the old call: no subtitle
    assert not fig.findobj(lambda a: a.get_gid() == "subtitle")
    plots.save(fig, io.BytesIO())


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_legend_covers_neither_the_base_year_label_nor_the_data(lang):
    fig = _fan(lang, subtitle=plots.scenario_subtitle(lang, "baseline", "levers.fund_life_years=8"))
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    ax = fig.axes[0]
    legends = fig.legends + ([ax.get_legend()] if ax.get_legend() else [])
    assert len(legends) == 1
    legend = legends[0].get_window_extent(r)
    base = _extent(_by_gid(fig, "base_year"), r)
    assert not legend.overlaps(base)
    assert not legend.overlaps(ax.get_window_extent(r))  # outside the axes: it hides no point
    for text in [ax.title, ax.xaxis.label, _by_gid(fig, "subtitle"), *ax.get_xticklabels()]:
        assert not legend.overlaps(text.get_window_extent(r)), text.get_text()
    # everything inside the figure: nothing is cut off at the edge
    box = fig.bbox
    for bb in (legend, base, ax.title.get_window_extent(r)):
        assert bb.x0 >= box.x0 - 1 and bb.x1 <= box.x1 + 1 and bb.y0 >= box.y0 - 1 and bb.y1 <= box.y1 + 1
    # the base-year label sits at its marker, inside the axes
    axes = ax.get_window_extent(r)
    x_base = ax.transData.transform((BASE, 0))[0]
    assert axes.x0 <= base.x0 and base.x1 <= axes.x1 and axes.y0 <= base.y0 and base.y1 <= axes.y1 + 0.5
    assert abs(base.x0 - x_base) < 10
    plots.save(fig, io.BytesIO())


def test_english_figures_never_touch_the_cjk_font(monkeypatch):
    """English figures must not load (or look for) the 16 MB CJK font: only zh figures need it."""
    import matplotlib.backends.backend_agg as agg
    from matplotlib import font_manager as fm

    cjk = fonts.cjk_font_file()  # before the traps: where the CJK face lives (None: no font to touch)
    opened: list[str] = []

    def no_cjk():
        raise AssertionError("an English figure asked for the CJK font")

    def trace(get_font):
        def wrapped(paths, *a, **k):
            opened.extend(str(p) for p in ([paths] if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__") else paths))
            return get_font(paths, *a, **k)
        return wrapped

    monkeypatch.setattr(fonts, "cjk_family", no_cjk)
    monkeypatch.setattr(agg, "get_font", trace(agg.get_font))
    monkeypatch.setattr(fm, "get_font", trace(fm.get_font))
    fig = _fan("en", subtitle=plots.scenario_subtitle("en", "baseline"))
    plots.save(fig, io.BytesIO())
    t = pd.DataFrame({"job": [0, 1], "label": ["a", "b"], "target_id": ["T1", "T1"], "year": [2027, 2027],
                      "p_met": [0.5, 0.6], "p_met_lo": [0.4, 0.5], "p_met_hi": [0.6, 0.7]})
    plots.save(plots.probability_chart(t, lang="en"), io.BytesIO())
    assert opened, "the trace saw no font opened: it traces the wrong function"
    assert cjk is None or not any(str(cjk) in p for p in opened), opened
    assert not any("CJK" in p or "cjk" in p for p in opened), opened
    # and a Chinese figure does ask for it (the trap works)
    with pytest.raises(AssertionError, match="CJK"):
        _fan("zh")


def test_importing_the_module_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, simmodel.report.plots as p; print('matplotlib' in sys.modules); p.plt; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert out == ["False", "True"]
