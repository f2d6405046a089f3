"""Figures: DataFrame in, Figure out; Chinese glyphs really drawn; every lever named in Chinese."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib import font_manager as fm
from matplotlib.ft2font import FT2Font

from simmodel.levers import specs
from simmodel.report import labels, plots
from simmodel.report.fonts import cjk_family


def _render(text: str, family: list[str]) -> np.ndarray:
    import matplotlib.pyplot as plt

    with plt.rc_context({"font.family": family}):
        fig = plt.figure(figsize=(3, 0.8), dpi=100)
        fig.text(0.02, 0.3, text, fontsize=20)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
    buf.seek(0)
    return plt.imread(buf)[..., :3].mean(axis=2)


def test_the_cjk_font_has_the_glyphs_of_the_seed_terms():
    family = cjk_family()
    path = fm.findfont(fm.FontProperties(family=family), fallback_to_default=False)
    font = FT2Font(path)
    for ch in "新兴产业集群营收占比战略性数字经济核心未来先导区亿元目标实现概率":
        assert font.get_char_index(ord(ch)) != 0, ch


def test_chinese_text_renders_as_glyphs_not_boxes():
    text = "新兴产业占比"
    cjk = _render(text, [cjk_family()])
    # DejaVu Sans has no CJK glyphs: matplotlib draws the same empty box for every character
    with pytest.warns(UserWarning, match="missing from font"):
        boxes = _render(text, ["DejaVu Sans"])
    ink_cjk, ink_box = (cjk < 0.5).sum(), (boxes < 0.5).sum()
    assert ink_cjk > 0 and ink_box > 0
    assert np.abs(cjk - boxes).mean() > 0.01
    # distinct characters give distinct shapes (tofu boxes would all be identical)
    a, b = _render("产", [cjk_family()]), _render("业", [cjk_family()])
    assert np.abs(a - b).sum() > 20


def _table() -> pd.DataFrame:
    rows = []
    for job, label, shift in [(0, "scenario=baseline", 0.0), (1, "scenario=subsidy_half", -0.1)]:
        for tid in ("T1", "T2"):
            p = 0.6 + shift
            rows.append({"job": job, "label": label, "target_id": tid, "year": 2027, "p_met": p, "p_met_lo": p - 0.1,
                         "p_met_hi": p + 0.1, "reference_job": 0, "diff_p_met": shift, "diff_p_met_lo": shift - 0.05,
                         "diff_p_met_hi": shift + 0.05, "diff_p_met_lo_unpaired": shift - 0.2,
                         "diff_p_met_hi_unpaired": shift + 0.2, "grants_cny_100m_median": 600 + 300 * shift,
                         "equity_cny_100m_median": 490.0})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_sweep_figures_come_from_the_table_alone(lang):
    t = _table()
    for make in (plots.probability_chart, plots.comparison_chart, plots.cost_probability_chart):
        fig = make(t, lang=lang)
        assert fig.axes and all(ax.get_xlabel() or ax.get_ylabel() or not ax.get_visible() or ax.get_title()
                                for ax in fig.axes)
        plots.save(fig, io.BytesIO())
    fig = plots.probability_chart(t, lang=lang)
    assert fig.axes[0].get_ylabel() == labels.text(lang, "p_met")


def test_calibration_and_backtest_figures(tmp_path):
    moments = pd.DataFrame({"moment": ["a", "b"], "observed": [1.0, 2.0], "observed_se": [0.1, 0.5],
                            "simulated_mean": [1.1, 1.0], "simulated_sd": [0.05, 0.2], "weight_share": [0.7, 0.3]})
    fig = plots.calibration_fit_chart(moments, lang="zh")
    xs = [line.get_xdata() for line in fig.axes[0].lines]
    assert any(np.allclose(x, [1.0, -2.0]) for x in xs)  # (sim - obs) / se per moment
    scores = pd.DataFrame({"indicator": ["gdp", "gdp"], "method": ["model", "random_walk_drift"], "rmse": [2.0, 4.0]})
    fig = plots.backtest_error_chart(scores, lang="en")
    heights = sorted(p.get_height() for p in fig.axes[0].patches)
    assert heights == [0.5, 1.0]  # relative to the random walk


def test_every_lever_has_a_chinese_name_in_the_seed_terms():
    from simmodel.levers import Uncertainties

    names = labels.lever_names_zh()
    known = set(specs()) | set(specs(Uncertainties))  # the analyses name uncertainties too
    assert known <= set(names), sorted(known - set(names))
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in n) for n in names.values())
    assert set(names) <= known, "a Chinese name for a lever that does not exist"
