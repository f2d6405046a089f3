"""Words of the memo (simmodel/report/labels.py, memo.py): every name the memo prints has its
Chinese, and text from files cannot become markup or an HTML entity in the Markdown."""

from __future__ import annotations

import csv
import re

from simmodel.config import PROJECT_ROOT
from simmodel.report import labels
from simmodel.report import memo as memo_mod


def test_every_scenario_file_has_a_chinese_name():
    slugs = {p.stem for p in (PROJECT_ROOT / "scenarios").glob("*.yaml")}
    # in the table, or in the file's own '# 名称:' line (a scenario saved from the explorer)
    named = set(labels.SCENARIO_NAMES_ZH) | {s for s in slugs if labels.scenario_header(s, "名称:")}
    assert slugs and slugs <= named, slugs - named
    assert all(re.search(r"[\u4e00-\u9fff]", labels.scenario_name("zh", s)) for s in slugs)
    assert labels.scenario_name("en", "land_tight") == "land_tight"  # English memos print the slug a user types


def test_every_behavioural_parameter_has_a_chinese_name():
    with open(PROJECT_ROOT / "calibration" / "data" / "parameters.csv", encoding="utf-8", newline="") as fh:
        names = {r["name"] for r in csv.DictReader(fh)}
    assert names and names <= set(labels.PARAMETER_NAMES_ZH), sorted(names - set(labels.PARAMETER_NAMES_ZH))
    assert not re.search(r"[A-Za-z]{3,}", "".join(labels.PARAMETER_NAMES_ZH.values()))


def test_every_unit_a_memo_prints_has_its_chinese():
    """Levers, uncertainties and base-year quantities: an untranslated unit would be English text
    in the Chinese memo's tables and job labels."""
    import pandas as pd

    from simmodel.levers import Uncertainties, specs

    units = {s.unit for s in {**specs(), **specs(Uncertainties)}.values()}
    units |= set(pd.read_csv(PROJECT_ROOT / "calibration" / "data" / "base_year.csv")["unit"].dropna())
    missing = sorted(u for u in units if not re.search(r"[\u4e00-\u9fff%]", labels.unit("zh", u)))
    assert not missing


def test_job_labels_in_words():
    """What a job changed, as its heading shows it: the scenario, then each override with its unit."""
    lab = memo_mod.JobLabel("baseline", [memo_mod.Change("levers", "fund_life_years", 8, 20)], [])
    assert lab.render("en", md=False) == "baseline + fund life 8 years"
    assert lab.render("zh", md=False) == "基准情景 + 基金存续期 8 年"
    regime = memo_mod.JobLabel("land_tight", [memo_mod.Change("levers", "fund_evaluation_regime", "yearly_profit")],
                               [("calibration", "default")])
    assert regime.render("zh", md=False) == "用地从紧情景 + 基金考核方式 按年度盈亏考核 + calibration=default"
    assert regime.render("zh") == "用地从紧情景 + 基金考核方式 按年度盈亏考核 + `calibration=default`"
    assert labels.lever_short_en("n_chain_projects_per_year") == "number of chain projects"
    assert labels.lever_short_en("attraction_grant_cny_10k_per_project") == "attraction grant"


def test_text_from_files_writes_no_entity_into_markdown():
    """esc() makes text inert with backslashes, never with entities (the English memo printed
    seed&#x27;s); render_html then shows it as written, with no markup from it."""
    text = "the seed's <b>x</b> & R&D &amp; &#39; [a](http://x) `c` *d*"
    md = memo_mod.esc(text)
    assert "&#" not in md.replace("&\\#", "") and "&amp;" not in md.replace("\\&amp;", "")
    assert "seed's" in md and "R&D" in md
    html = memo_mod.render_html(md, "en", "t", {})
    body = html.split("<body>", 1)[1]
    assert "<b>" not in body and "<a " not in body and "<code>" not in body and "<em>" not in body
    import html as html_mod

    shown = html_mod.unescape(re.sub(r"<[^>]+>", "", body)).strip()
    assert shown == text


def test_code_spans_hold_any_text():
    assert memo_mod.code("0_baseline_fund_life_years=8") == "`0_baseline_fund_life_years=8`"
    assert memo_mod.code("a`b") == "`` a`b ``"
    html = memo_mod.render_html("x " + memo_mod.code("<i>&amp;</i>") + " y", "en", "t", {})
    assert "<code>&lt;i&gt;&amp;amp;&lt;/i&gt;</code>" in html


def test_decomposition_notes_in_chinese():
    assert labels.note_zh("2 of 8 main outputs are not finite and were left out") == "8 个主输出中有 2 个不是有限值，已剔除"
    assert labels.note_zh("something new") is None  # the memo then quotes it as code
