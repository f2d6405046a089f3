"""Memos and plots from a real sweep on disk, through the real command line."""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from html.parser import HTMLParser

import pytest

from simmodel.report import memo as memo_mod
from simmodel.results import read_run
from tests.integration.test_cli import run_cli
from tests.integration.test_sweeps import QUICK, the_sweep

SWEEP = ["run", "-m", "scenario=baseline,subsidy_half", *[a for a in QUICK if not a.startswith("assumption")],
         "assumption_sensitivity.replicates=2", "assumption_sensitivity.scale=0.03", "output.plots=false"]


@pytest.fixture(scope="module")
def memos(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("memo")
    proc = run_cli(SWEEP, cwd)
    assert proc.returncode == 0, proc.stderr
    sweep = the_sweep(cwd)
    out = {}
    for lang in ("en", "zh"):
        m = run_cli(["memo", f"results={sweep}", "baseline=baseline", f"memo.lang={lang}", "memo.pdf=false"], cwd)
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


def test_memo_holds_the_numbers_of_the_summaries(memos):
    _, sweep, out = memos
    md = (out["en"] / "memo.md").read_text(encoding="utf-8")
    _, scen, _ = read_run(sweep / "1_subsidy_half")
    _, base, _ = read_run(sweep / "0_baseline")
    headline = _tables(md)[0]
    assert len(headline) == sum(len(v) for v in scen["targets"].values())
    for tid, year, _thr, p, ci, ref_p, d, _dci in headline:
        s = scen["targets"][tid][year]
        b = base["targets"][tid][year]
        assert float(p) == round(s["p_met"], 2)
        assert ci == f"[{s['p_met_ci95'][0]:.2f}, {s['p_met_ci95'][1]:.2f}]"
        assert float(ref_p) == round(b["p_met"], 2)
        assert float(d) == pytest.approx(s["p_met"] - b["p_met"], abs=0.0051)
    medians = next(t for t in _tables(md) if len(t[0]) == 7)
    for tid, year, median, _band, ref_median, *_ in medians:
        assert float(median) == round(scen["targets"][tid][year]["median"], 2)
        assert float(ref_median) == round(base["targets"][tid][year]["median"], 2)
    grants = scen["fiscal_cost_total_cny_100m"]["grants"]["median"]
    assert f"grants {grants:.1f}" in md
    assert "subsidy_half" in md.replace("\\_", "_")  # the scenario, its question and its levers
    assert "open competition grant cny 10k" in md


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
    job.label = "scenario=<i>x</i>"
    images = {}

    def fig(name, figure):
        from simmodel.report import plots

        plots.save(figure, cwd / name)
        images[name] = (cwd / name).read_bytes()
        return f"figures/{name}"

    from simmodel.config import RunConfig, resolve_path
    from simmodel.data import load_indicators

    ctx = memo_mod.build_context(study, "en", load_indicators(resolve_path(RunConfig().data.indicators)), fig)
    md = memo_mod.render_markdown(ctx)
    html = memo_mod.render_html(md, "en", "t <script>", images)
    for bad in ("<script>", "<b>slug", "<i>x", "<img src=x", "<strong>bold", 'href="http://x"'):
        assert bad not in html
    assert "&lt;script&gt;alert" in html and "&lt;b&gt;slug" in html
    checker = _Checker()
    checker.feed(html)
    assert not checker.errors


def test_memo_of_a_single_run_finds_its_baseline_or_says_how_to_make_one(tmp_path):
    args = [a for a in QUICK] + ["output.plots=false"]
    assert run_cli(["run", "scenario=subsidy_half", *args], tmp_path).returncode == 0
    run = next((tmp_path / "results" / "run" / "subsidy_half").iterdir())
    missing = run_cli(["memo", f"results={run}", "memo.lang=en"], tmp_path)
    assert missing.returncode == 2
    assert "no complete baseline run with the same seed" in missing.stderr
    assert "simmodel run scenario=baseline seed=7 replicates=8" in missing.stderr
    assert not (tmp_path / "results" / "memo").exists()
    assert run_cli(["run", "scenario=baseline", *args], tmp_path).returncode == 0
    ok = run_cli(["memo", f"results={run}", "memo.lang=zh"], tmp_path)
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
    proc = run_cli(["memo", f"results={sweep}", "memo.lang=zh", "memo.pdf=auto"], cwd)
    assert proc.returncode == 0, proc.stderr
    folder = sorted((cwd / "results" / "memo" / sweep.name).glob("zh-*"))[-1]
    if memo_mod.pdf_converter() is not None:
        assert (folder / "memo.pdf").read_bytes()[:5] == b"%PDF-"
    else:
        assert not (folder / "memo.pdf").exists()
        assert "no PDF written" in proc.stdout
        required = run_cli(["memo", f"results={sweep}", "memo.pdf=true"], cwd)
        assert required.returncode == 2 and "no HTML-to-PDF converter" in required.stderr


def test_a_memo_cites_the_analyses_it_is_given(memos):
    """`memo.analyses=[...]`: the memo names the factors that matter most (Morris) and the
    least-cost package (invert) from the analysis folders, with their source and manifest hash;
    a folder that is not a complete analysis is refused."""
    cwd, sweep, _ = memos
    small = ["replicates=2", "scale=0.02"]
    assert run_cli(["analyze", "method=morris", "trajectories=2", "name=screen", *small,
                    "factors=[land_quota_mu_per_year,talent_incentive_cny_10k_per_year,world_demand_shift_pct]"],
                   cwd).returncode == 0
    assert run_cli(["analyze", "method=invert", "name=cheapest", "target=T2", "p_level=0.5", "batch=3", "generations=1",
                    "polish_rounds=1", "factors=[talent_incentive_cny_10k_per_year]", *small], cwd).returncode == 0
    for lang, words in (("en", ("Which levers matter: analyses cited", "Least-cost package for T2 2027")),
                        ("zh", ("哪些措施最关键", "以最低财政成本"))):
        proc = run_cli(["memo", f"results={sweep}", f"memo.lang={lang}", "memo.pdf=false",
                        "memo.analyses=[screen,cheapest]"], cwd)
        assert proc.returncode == 0, proc.stderr
        folder = max((cwd / "results" / "memo" / sweep.name).glob(f"{lang}-*"))
        md = (folder / "memo.md").read_text(encoding="utf-8")
        assert all(w in md for w in words)
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
    bad = run_cli(["memo", f"results={sweep}", "memo.lang=en", "memo.analyses=[nowhere]"], cwd)
    assert bad.returncode == 2 and "not a complete analysis folder" in bad.stderr
