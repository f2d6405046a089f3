"""Memos and plots from a real sweep on disk, through the real command line."""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from simmodel.report import memo as memo_mod
from simmodel.results import read_run
from tests.integration.test_cli import run_cli
from tests.integration.test_memo_study import check_language
from tests.integration.test_sweeps import QUICK, the_sweep

# 16 replicates, not QUICK's 8: with 143 drawn quantities a driver must pass p < 0.05 / 143, which on 8
# replicates takes a near-perfect rank order (rho >= 0.95) and fails by chance for T1's own base-year
# value (rho 0.93 on one stream); on 16 that value passes with room (p about 1e-7).
SWEEP = ["run", "-m", "scenario=baseline,subsidy_half", "replicates=16",
         *[a for a in QUICK if not a.startswith(("assumption", "replicates="))],
         "assumption_sensitivity.replicates=2", "assumption_sensitivity.scale=0.03", "output.plots=false"]


@pytest.fixture(scope="module")
def memos(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("memo")
    proc = run_cli(SWEEP, cwd)
    assert proc.returncode == 0, proc.stderr
    sweep = the_sweep(cwd)
    out = {}
    for lang in ("en", "zh"):
        m = run_cli(["memo", f"results={sweep}", "baseline=baseline", f"lang={lang}", "pdf=false"], cwd)
        assert m.returncode == 0, m.stderr
        folder = next((cwd / "results" / "memo" / sweep.name).glob(f"{lang}-*"))
        out[lang] = folder
    return cwd, sweep, out


def _tables(md: str) -> list[list[list[str]]]:
    """Every Markdown table as rows of cells, header and separator dropped."""
    lines = md.splitlines()
    tables, current = [], None
    for i, line in enumerate(lines):
        if line.startswith("|"):
            if i + 1 < len(lines) and lines[i + 1].startswith("|---"):
                current = []
                tables.append(current)
                continue
            if line.startswith("|---") or current is None:
                continue
            current.append([c.strip() for c in line.strip().strip("|").split(" | ")])
        else:
            current = None
    return tables


# The header of each table of a scenario's section, per language: a table is found by its header.
HEADERS = {
    "en": {"headline": "| target | year | threshold | P(met) | 95 % interval | P(met), no new policy |",
           "baseline": "| target | year | P(met) | baseline P(met) |", "medians": "| target | year | median | 80 % band |",
           "levers": "| lever | grade |", "decomposition": "| target | base-year assumptions |",
           "drivers": "| target | quantity | source | Spearman's rho |"},
    "zh": {"headline": "| 目标 | 年份 | 门槛 | 实现概率 | 95% 区间 | 无新政策时实现概率 |",
           "baseline": "| 目标 | 年份 | 实现概率 | 基准实现概率 |", "medians": "| 目标 | 年份 | 中位数 | 80% 区间 |",
           "levers": "| 政策杠杆 | 依据等级 |", "decomposition": "| 目标 | 基年假设 |",
           "drivers": "| 目标 | 抽取量 | 来源 | 斯皮尔曼秩相关系数 |"},
}
# What the memo prints for the no_new_policy verdicts and for a source switched off (labels.py)
VERDICTS_ZH = {"met either way": "有无新政策均实现", "missed either way": "有无新政策均未实现",
               "the policy raises the odds": "新政策提高实现概率", "the policy lowers the odds": "新政策降低实现概率",
               "no clear difference": "无明显差异"}
OFF = {"en": "not drawn", "zh": "未抽取"}


def _table(md: str, header: str) -> list[list[str]]:
    """The rows of the one table whose header line starts with `header` (separator dropped)."""
    lines = md.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(header)]
    assert len(starts) == 1, (header, len(starts))
    rows = []
    for line in lines[starts[0] + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
    return rows


def _num(cell: str) -> float:
    return 0.0 if cell == "0.00" else float(cell)


def _pair(cell: str) -> tuple[float, float]:
    lo, hi = re.fullmatch(r"\[(\S+), (\S+)\]", cell).groups()
    return _num(lo), _num(hi)


def _cell(cell: str) -> str:
    """Text of the memo as read: Markdown's backslash escapes dropped."""
    return re.sub(r"\\(.)", r"\1", cell)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_memo_holds_the_numbers_of_the_summaries(memos, lang):
    """Headline: P(met), P(met) under no_new_policy, the paired change, its interval and the verdict,
    each as summary.json has it; then the change from the baseline and the medians."""
    _, sweep, out = memos
    md = (out[lang] / "memo.md").read_text(encoding="utf-8")
    _, scen, _ = read_run(sweep / "1_subsidy_half")
    _, base, _ = read_run(sweep / "0_baseline")
    cf = scen["counterfactual"]
    assert cf["scenario"] == "no_new_policy" and not cf.get("self")
    headline = _table(md, HEADERS[lang]["headline"])
    assert len(headline) == sum(len(v) for v in scen["targets"].values())
    for tid, year, _thr, p, ci, cf_p, cf_d, cf_dci, verdict in headline:
        s = scen["targets"][tid][year]
        c = cf["targets"][tid][year]
        assert _num(p) == pytest.approx(s["p_met"], abs=0.0051)
        assert _pair(ci) == pytest.approx(s["p_met_ci95"], abs=0.0051)
        assert _num(cf_p) == pytest.approx(c["p_met"], abs=0.0051)
        assert _num(cf_d) == pytest.approx(c["diff_p_met"], abs=0.0051)
        assert _pair(cf_dci) == pytest.approx(c["diff_p_met_ci95"], abs=0.0051)
        assert verdict == (c["verdict"] if lang == "en" else VERDICTS_ZH[c["verdict"]])
    changes = _table(md, HEADERS[lang]["baseline"])
    assert len(changes) == len(headline)
    for tid, year, p, ref_p, d, _dci in changes:
        s, b = scen["targets"][tid][year], base["targets"][tid][year]
        assert _num(p) == pytest.approx(s["p_met"], abs=0.0051)
        assert _num(ref_p) == pytest.approx(b["p_met"], abs=0.0051)
        assert _num(d) == pytest.approx(s["p_met"] - b["p_met"], abs=0.0051)
    for tid, year, median, _band, cf_median, ref_median, *_ in _table(md, HEADERS[lang]["medians"]):
        assert _num(median) == pytest.approx(scen["targets"][tid][year]["median"], abs=0.0051)
        assert _num(cf_median) == pytest.approx(cf["targets"][tid][year]["median"], abs=0.0051)
        assert _num(ref_median) == pytest.approx(base["targets"][tid][year]["median"], abs=0.0051)
    # the comparison's own run folder is named, with its manifest's hash
    assert Path(cf["run"]).name in _cell(md)
    if lang == "en":
        grants = scen["fiscal_cost_total_cny_100m"]["grants"]["median"]
        assert f"grants {grants:.1f}" in md
        assert "subsidy_half" in md.replace("\\_", "_")  # the scenario, its question and its levers
        assert "open competition grant cny 10k" in md


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_memo_gives_each_lever_changed_its_grade(memos, lang):
    """The levers-changed table names each lever's evidence grade as the registry declares it
    (grounded / assumed / cost only; 有据 / 假设 / 仅成本)."""
    from simmodel.levers import Uncertainties, specs
    from simmodel.report import labels

    _, _, out = memos
    md = (out[lang] / "memo.md").read_text(encoding="utf-8")
    registry = {**specs(), **specs(Uncertainties)}
    by_name = {labels.lever_name(lang, n): s for n, s in registry.items()}
    rows = _table(md, HEADERS[lang]["levers"])
    assert rows
    seen = set()
    for name, grade, *_ in rows:
        spec = by_name[re.sub(r" \(uncertainty, not a lever\)$|（外部不确定性，非政策杠杆）$", "", _cell(name))]
        assert grade == labels.GRADES[lang][spec.grade]
        seen.add(spec.grade)
    assert "cost_only" in seen  # subsidy_half halves the attraction grant, which only costs
    assert "assumed" in seen
    words = ("grounded", "assumed", "cost only") if lang == "en" else ("有据", "假设", "仅成本")
    assert all(w in md for w in words)  # the legend under the table


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_memo_shows_where_the_uncertainty_comes_from(memos, lang):
    """For each target in 2027: the share of variance from each of the four sources with its
    interval ("not drawn" for a source switched off), the overlap, then the top drivers with
    their Spearman rho, all as summary.json has them."""
    from simmodel.report import labels

    _, sweep, out = memos
    md = (out[lang] / "memo.md").read_text(encoding="utf-8")
    _, scen, _ = read_run(sweep / "1_subsidy_half")
    vd = scen["variance_decomposition"]
    assert ("Where the uncertainty comes from" if lang == "en" else "不确定性来自哪里") in md
    header = next(line for line in md.splitlines() if line.startswith(HEADERS[lang]["decomposition"]))
    assert [c.strip() for c in header.strip("|").split("|")][1:] == (
        [labels.source_name(lang, s) for s in vd["sources"]] + [labels.source_name(lang, "overlap")])
    rows = _table(md, HEADERS[lang]["decomposition"])
    assert [r[0] for r in rows] == [tid for tid, by in vd["targets"].items() if "2027" in by]
    n_drawn = 0
    for tid, *cells, inter in rows:
        block = vd["targets"][tid]["2027"]
        assert block["variance"] > 0, "the quick sweep's targets vary"
        for src, cell in zip(vd["sources"], cells, strict=True):
            ix = block["indices"][src]
            if ix.get("off"):
                assert cell == OFF[lang]
                continue
            n_drawn += 1
            st, ci = cell.split(" ", 1)
            assert _num(st) == pytest.approx(ix["st"], abs=0.0051)
            assert _pair(ci) == pytest.approx(ix["ci95"], abs=0.0051)
        assert _num(inter) == pytest.approx(block["overlap"], abs=0.0051)
    assert n_drawn >= len(rows) * 2  # at least the assumptions and the shocks are drawn by default
    drivers = _table(md, HEADERS[lang]["drivers"])
    expected = [(tid, d) for tid, by in scen["drivers"].items() for d in by.get("2027", [])]
    assert len(drivers) == len(expected) > 0
    for (tid, name, source, rho), (etid, d) in zip(drivers, expected, strict=True):
        assert tid == etid and source == labels.source_name(lang, d["source"])
        assert _num(rho) == pytest.approx(d["rho"], abs=0.0051)
        if d["source"] == "assumptions":
            assert _cell(name) == labels.assumption_name(lang, d["name"])
        elif not d["name"].startswith("growth_prior_pct:"):
            # a parameter: its code name as code, beside its Chinese name in the Chinese memo
            assert name == (f"{labels.parameter_name(lang, d['name'])}（`{d['name']}`）" if lang == "zh"
                            else f"`{d['name']}`")


def _render(study, lang: str) -> str:
    """The memo's Markdown of a study as loaded (and edited) in memory; its figures are not drawn."""
    from simmodel.config import RunConfig, resolve_path
    from simmodel.data import load_indicators

    def fig(name, make):
        assert callable(make)  # drawn by write_memo once the text is built; the text does not need it
        return f"figures/{name}"

    ctx = memo_mod.build_context(study, lang, load_indicators(resolve_path(RunConfig().data.indicators)), fig)
    return memo_mod.render_markdown(ctx)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_memo_says_plainly_when_a_target_is_met_or_missed_either_way(memos, lang):
    """A target met (missed) under both the scenario and no_new_policy gets a sentence saying that
    the policy is not what decides it, with both probabilities; with none, the memo says so."""
    cwd, sweep, _ = memos
    study = memo_mod.load_study(sweep, "baseline", cwd / "results")
    job = next(j for j in study.jobs if j.num == 1)
    targets = job.summary["counterfactual"]["targets"]
    for by_year in targets.values():
        for c in by_year.values():
            c["verdict"] = "no clear difference"
    md = _render(study, lang)
    none = ("No target is met or missed either way" if lang == "en" else "没有目标属于有无新政策均实现或均未实现")
    assert none in md
    targets["T2"]["2027"]["verdict"] = "met either way"
    targets["T5"]["2027"]["verdict"] = "missed either way"
    md = _render(study, lang)
    assert none not in md
    para = next(line for line in md.splitlines() if line.startswith("**Does the policy decide it?**" if lang == "en"
                                                                      else "**新政策是否起决定作用？**"))
    p = {tid: f"{job.summary['targets'][tid]['2027']['p_met']:.2f}" for tid in ("T2", "T5")}
    q = {tid: f"{targets[tid]['2027']['p_met']:.2f}" for tid in ("T2", "T5")}
    if lang == "en":
        assert ("Met either way, with P(met) at least 0.9 both with this scenario and with no new policy: "
                f"T2 2027 ({p['T2']} and {q['T2']}).") in para
        assert f"Missed either way, with P(met) at most 0.1 under both: T5 2027 ({p['T5']} and {q['T5']})." in para
        assert "the policy is not what decides the outcome" in para
    else:
        assert f"有无新政策均实现（本情景与无新政策时实现概率均不低于 0.9）：T2 2027 年（{p['T2']} 与 {q['T2']}）。" in para
        assert f"有无新政策均未实现（两种情形下实现概率均不高于 0.1）：T5 2027 年（{p['T5']} 与 {q['T5']}）。" in para
        assert "决定结果的并非新政策" in para
    verdicts = {(r[0], r[1]): r[8] for r in _table(md, HEADERS[lang]["headline"])}
    assert verdicts[("T2", "2027")] == ("met either way" if lang == "en" else "有无新政策均实现")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_memo_of_older_results_says_what_is_not_in_the_run(memos, lang):
    """Folders written before issue 13 have no counterfactual, decomposition or drivers: the memo
    still renders, without those columns, and says that the information is not in that run; a folder
    with only assumption_sensitivity shows that table instead of the drivers."""
    cwd, sweep, _ = memos
    study = memo_mod.load_study(sweep, "baseline", cwd / "results")
    for job in study.jobs:
        for key in ("counterfactual", "variance_decomposition", "drivers"):
            job.summary.pop(key)
        job.summary["uncertainty"] = {"calibration": "default", "parameter_draws": True,
                                      "sources": ["firm-level shocks", "calibrated parameters drawn per replicate"]}
    md = _render(study, lang)
    if lang == "en":
        assert "The comparison with `no_new_policy` is not in this run" in md
        assert "The variance decomposition is not in this run" in md
        assert "The drivers are not in this run" in md
        assert "firm-level shocks, calibrated parameters drawn per replicate." in md
    else:
        assert "本次运行没有与无新政策情景（`no_new_policy`）的比较" in md
        assert "本次运行没有方差分解结果" in md and "本次运行没有影响因素结果" in md
        assert "企业层面冲击；每次模拟抽取校准参数。" in md
    assert HEADERS[lang]["headline"] not in md
    headline = _tables(md)[0]
    assert len(headline[0]) == 5  # target, year, threshold, P(met), its interval
    job = next(j for j in study.jobs if j.num == 1)
    job.summary["assumption_sensitivity"] = {
        "replicates": 2, "scale": 0.03, "reference": {},
        "quantities": {"t1_emerging_share_415x_pct": {
            "unit": "%", "value": 52.0,
            "low": {"value": 46.0, "targets": {"T1": {"2027": {"p_met": 0.25, "median": 55.0}}}},
            "high": {"value": 57.0, "targets": {"T1": {"2027": {"p_met": 0.75, "median": 60.0}}}}}}}
    md = _render(study, lang)
    assert "The drivers are not in this run" not in md and "本次运行没有影响因素结果" not in md
    from simmodel.report import labels

    name = labels.assumption_name(lang, "t1_emerging_share_415x_pct")
    row = next(line for line in md.splitlines() if line.startswith(f"| {name} |"))
    assert "| T1 | 0.25 | 0.75 |" in row


def test_no_english_in_the_chinese_memo_and_no_entities_in_either(memos):
    """With everything a run can hold (no_new_policy comparison, decomposition, drivers, levers,
    calibration): no HTML entity in either Markdown, no English word left in the Chinese one outside
    code, file names and the short list of test_memo_study.ALLOWED_ASCII."""
    _, _, out = memos
    check_language({lang: (out[lang] / "memo.md").read_text(encoding="utf-8") for lang in out})


def test_chinese_and_english_memos_agree_on_every_number(memos):
    _, _, out = memos
    texts = {lang: (out[lang] / "memo.md").read_text(encoding="utf-8") for lang in out}

    def decimals(text: str) -> Counter:
        return Counter(re.findall(r"[-+]?\d+\.\d+", text))

    def cells(text: str) -> list[str]:
        vals = []
        for table in _tables(text):
            for row in table:
                for c in row:
                    m = re.fullmatch(r"第(\d+)条", c)
                    if m:
                        vals.append(m.group(1))
                    elif not re.search(r"[A-Za-z\u4e00-\u9fff]", c):
                        vals += re.findall(r"[-+]?\d+(?:\.\d+)?", c)
        return vals

    assert decimals(texts["zh"]) == decimals(texts["en"])
    assert cells(texts["zh"]) == cells(texts["en"])
    assert len(cells(texts["en"])) > 100
    assert re.search(r"[\u4e00-\u9fff]", texts["zh"]) and "政策杠杆" in texts["zh"]
    assert "基本" not in texts["en"] and not re.search(r"[\u4e00-\u9fff]{3}", texts["en"].split("## Appendix")[0]
                                                        .replace("“415X”", ""))


class _Checker(HTMLParser):
    VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "area", "base", "wbr"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.images = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def test_html_is_well_formed_and_self_contained(memos):
    _, _, out = memos
    for lang, folder in out.items():
        html = (folder / "memo.html").read_text(encoding="utf-8")
        assert html.startswith("<!DOCTYPE html>")
        checker = _Checker()
        checker.feed(html)
        checker.close()
        assert not checker.errors and not checker.stack, (checker.errors, checker.stack)
        assert len(checker.images) >= 6 + 3  # six fan charts and the three comparison figures
        for img in checker.images:
            assert img["src"].startswith("data:image/png;base64,")
            assert base64.b64decode(img["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
            assert img.get("alt")
        manifest = json.loads((folder / "manifest.json").read_text())
        assert {"memo.md", "memo.html"} <= set(manifest["files"]) and manifest["lang"] == lang


def test_text_from_files_is_escaped_in_html(memos):
    cwd, sweep, _ = memos
    study = memo_mod.load_study(sweep, "baseline", cwd / "results")
    nasty = "<script>alert('x')</script> | **bold** [link](http://x) <img src=x onerror=alert(1)>"
    job = next(j for j in study.jobs if j.num == 1)
    job.summary["scenario"]["question"] = nasty
    job.summary["scenario"]["slug"] = "<b>slug</b>"
    # the heading names the job by its scenario and overrides (its manifest's)
    job.manifest["overrides"] = ["scenario=<b>slug</b>", "levers.fund_evaluation_regime=<i>x</i>"]
    job.manifest["config"]["levers"]["fund_evaluation_regime"] = "<i>x</i>"
    # text of the issue-13 keys: a verdict, a drawn quantity's name, a source, a decomposition note
    job.summary["counterfactual"]["targets"]["T1"]["2027"]["verdict"] = "<u>verdict</u>"
    # (a quick run may have no driver beyond chance: put one in)
    job.summary["drivers"].setdefault("T1", {})["2027"] = [{"source": "<em>src</em>", "name": "<s>driver</s>", "rho": 0.9, "p": 0.0}]
    block = job.summary["variance_decomposition"]["targets"]["T1"]["2027"]
    block.update(variance=1.0, note="<tt>note</tt>")
    images = {}

    def fig(name, make):
        from simmodel.report import plots

        plots.save(make(), cwd / name)
        images[name] = (cwd / name).read_bytes()
        return f"figures/{name}"

    from simmodel.config import RunConfig, resolve_path
    from simmodel.data import load_indicators

    ctx = memo_mod.build_context(study, "en", load_indicators(resolve_path(RunConfig().data.indicators)), fig)
    md = memo_mod.render_markdown(ctx)
    html = memo_mod.render_html(md, "en", "t <script>", images)
    for bad in ("<script>", "<b>slug", "<i>x", "<img src=x", "<strong>bold", 'href="http://x"', "<u>", "<s>", "<em>src",
                "<tt>"):
        assert bad not in html
    assert "&lt;script&gt;alert" in html and "&lt;b&gt;slug" in html
    for shown in ("&lt;u&gt;verdict", "&lt;s&gt;driver", "&lt;em&gt;src", "&lt;tt&gt;note"):
        assert shown in html
    checker = _Checker()
    checker.feed(html)
    assert not checker.errors


def test_memo_of_a_single_run_finds_its_baseline_or_says_how_to_make_one(tmp_path):
    args = [a for a in QUICK] + ["output.plots=false"]
    assert run_cli(["run", "scenario=subsidy_half", *args], tmp_path).returncode == 0
    run = next((tmp_path / "results" / "run" / "subsidy_half").iterdir())
    missing = run_cli(["memo", f"results={run}", "lang=en"], tmp_path)
    assert missing.returncode == 2
    assert "no complete baseline run with the same seed" in missing.stderr
    assert "simmodel run scenario=baseline seed=7 replicates=8" in missing.stderr
    assert not (tmp_path / "results" / "memo").exists()
    assert run_cli(["run", "scenario=baseline", *args], tmp_path).returncode == 0
    ok = run_cli(["memo", f"results={run}", "lang=zh"], tmp_path)
    assert ok.returncode == 0, ok.stderr
    md = next((tmp_path / "results" / "memo").rglob("memo.md")).read_text(encoding="utf-8")
    assert "基准运行" in md and "政策杠杆" in md


def test_plot_command_writes_each_kind(memos, tmp_path):
    cwd, sweep, _ = memos
    # one of each source (a run, a sweep, a calibration run) through the CLI; every figure
    # function is exercised on its own in tests/unit/test_plots.py
    for kind, src in [("fan", sweep / "1_subsidy_half"), ("cost", sweep), ("backtest", "default")]:
        out = tmp_path / f"{kind}.png"
        proc = run_cli(["plot", f"kind={kind}", f"results={src}", "lang=zh", "target=T2", f"out={out}"], cwd)
        assert proc.returncode == 0, proc.stderr
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = run_cli(["plot", "kind=pie", f"results={sweep}"], cwd)
    assert bad.returncode == 2 and "one of fan, probability" in bad.stderr


def test_pdf_where_a_converter_exists_and_a_clear_note_where_not(memos):
    cwd, sweep, _ = memos
    proc = run_cli(["memo", f"results={sweep}", "lang=zh", "pdf=auto"], cwd)
    assert proc.returncode == 0, proc.stderr
    folder = sorted((cwd / "results" / "memo" / sweep.name).glob("zh-*"))[-1]
    if memo_mod.pdf_converter() is not None:
        assert (folder / "memo.pdf").read_bytes()[:5] == b"%PDF-"
    else:
        assert not (folder / "memo.pdf").exists()
        assert "no PDF written" in proc.stdout
        required = run_cli(["memo", f"results={sweep}", "pdf=true"], cwd)
        assert required.returncode == 2 and "no HTML-to-PDF converter" in required.stderr


def test_a_memo_cites_the_analyses_it_is_given(memos):
    """`analyses=[...]`: the memo names the factors that matter most (Morris) and the
    least-cost package (invert) from the analysis folders, with their source and manifest hash;
    a folder that is not a complete analysis is refused."""
    cwd, sweep, _ = memos
    small = ["replicates=2", "population.scale=0.02"]
    assert run_cli(["analyze", "method=morris", "trajectories=2", "name=screen", *small,
                    "factors=[land_quota_mu_per_year,talent_incentive_cny_10k_per_year,world_demand_shift_pct]"],
                   cwd).returncode == 0
    assert run_cli(["analyze", "method=invert", "name=cheapest", "target=T2", "p_level=0.5", "batch=3", "generations=1",
                    "polish_rounds=1", "factors=[talent_incentive_cny_10k_per_year]", *small], cwd).returncode == 0
    for lang, words in (("en", ("Which levers matter: analyses cited", "Least-cost package for T2 2027")),
                        ("zh", ("哪些措施最关键", "以最低财政成本"))):
        proc = run_cli(["memo", f"results={sweep}", f"lang={lang}", "pdf=false",
                        "analyses=[screen,cheapest]"], cwd)
        assert proc.returncode == 0, proc.stderr
        folder = max((cwd / "results" / "memo" / sweep.name).glob(f"{lang}-*"))
        md = (folder / "memo.md").read_text(encoding="utf-8")
        assert all(w in md for w in words)
        check_language({lang: md})  # the analyses' words too
        manifest = json.loads((folder / "manifest.json").read_text())
        assert [a["folder"] for a in manifest["analyses"]] == ["screen", "cheapest"]
    # the English memo's Morris rows name the factor with the largest mu* for each 2027 output
    import pandas as pd

    t = pd.read_parquet(cwd / "results" / "analyze" / "screen" / "analysis" / "indices.parquet")
    top = t[t["output"] == "T2_2027_median"].sort_values("mu_star", ascending=False).iloc[0]
    en = (max((cwd / "results" / "memo" / sweep.name).glob("en-*")) / "memo.md").read_text()
    from simmodel.report.labels import lever_name

    row = next(line for line in en.splitlines() if line.startswith("| T2 ") and "| median |" in line)
    assert lever_name("en", top["factor"]) in row.split("|")[3].split(";")[0]
    bad = run_cli(["memo", f"results={sweep}", "lang=en", "analyses=[nowhere]"], cwd)
    assert bad.returncode == 2 and "not a complete analysis folder" in bad.stderr


def test_a_figure_that_fails_to_draw_stops_the_memo_naming_it_and_leaves_no_folder(memos, monkeypatch, tmp_path):
    """The memo's figures are drawn in forked processes once its text is built: a figure that fails
    there stops the memo with an error that names it, and nothing is published."""
    from simmodel.report import memo as memo_mod
    from simmodel.report import plots

    _, sweep, _ = memos

    def broken(*args, **kwargs):
        raise ValueError("no figure today")

    monkeypatch.setattr(plots, "target_fan", broken)
    with pytest.raises(RuntimeError) as err:
        memo_mod.write_memo(sweep, baseline="baseline", lang="en", output_root=tmp_path, pdf="false")
    assert re.search(r"fan_\d+_T\d\.png", str(err.value)) and "no figure today" in str(err.value)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
