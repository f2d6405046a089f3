"""Memos of the study in issue 15 (fund life 8 or 20 years, land as it is or tight), through the real
command line: each job named by what it changed, a misspelt baseline refused, the PDF written from
relative paths, the HTML carrying its Chinese font, and no English or HTML entity where none belongs."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import stat
from pathlib import Path

import pytest

from simmodel.report import memo as memo_mod
from tests.integration.test_cli import run_cli
from tests.integration.test_sweeps import the_sweep

SWEEP = ["run", "-m", "scenario=baseline,land_tight", "levers.fund_life_years=8,20", "population.scale=0.02",
         "replicates=3", "seed=7", "output.progress=false", "assumption_sensitivity.enabled=false",
         "uncertainty.decomposition_pairs=0", "counterfactual.enabled=false", "output.plots=false"]

# Words of three or more ASCII letters allowed in the Chinese memo outside code, and why: each is
# how Chinese policy text itself writes the term.
ALLOWED_ASCII = {
    "GDP": "数字经济核心产业增加值占GDP比重 is the seed's own wording of T3",
    "UTC": "the time zone of the memo's time stamp",
    "CNY": "currency code, as in official Chinese statistics in English tables",
    "PDF": "the file format",
    "R&D": "as written in Chinese statistical tables",
}


def english_words(md: str) -> list[str]:
    """ASCII words of 3+ letters left in a memo once code spans, link and image targets, URLs, file
    paths, Markdown escapes and numbers are taken out (T1-T6 leave a single letter)."""
    text = re.sub(r"(`+).+?\1", " ", md)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"[\w.-]*/[\w./-]+|\b[\w-]+\.(?:md|json|png|csv|parquet|yaml|html|pdf)\b", " ", text)
    text = re.sub(r"\\(.)", r"\1", text)
    text = re.sub(r"\d+(?:\.\d+)?", " ", text)
    return sorted({w for w in re.findall(r"[A-Za-z][A-Za-z&]{2,}", text) if w not in ALLOWED_ASCII})


def entities(md: str) -> list[str]:
    """HTML entities in Markdown text (&amp;, &#x27;, &lt; ...), as a reader sees them once Markdown's
    backslash escapes are taken out (the English memo printed seed&\\#x27;s, shown as seed&#x27;s)."""
    return re.findall(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);", re.sub(r"\\(.)", r"\1", md))


def check_language(texts: dict[str, str]) -> None:
    for lang, md in texts.items():
        assert not entities(md), (lang, entities(md)[:5])
    if "zh" in texts:
        assert not english_words(texts["zh"]), english_words(texts["zh"])


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("study")
    proc = run_cli(SWEEP, cwd)
    assert proc.returncode == 0, proc.stderr
    sweep = the_sweep(cwd)
    out = {}
    for lang in ("zh", "en"):
        # results= relative to the working directory, as a user types it; the PDF where a converter exists
        rel = sweep.relative_to(cwd)
        m = run_cli(["memo", f"results={rel}", f"lang={lang}", "pdf=auto" if lang == "zh" else "pdf=false"], cwd)
        assert m.returncode == 0, m.stderr
        out[lang] = next((cwd / "results" / "memo" / sweep.name).glob(f"{lang}-*"))
    return cwd, sweep, out


def _md(out: dict, lang: str) -> str:
    return (out[lang] / "memo.md").read_text(encoding="utf-8")


def _read(md_text: str) -> str:
    return re.sub(r"\\(.)", r"\1", md_text)


EXPECTED = {  # job number -> its heading
    "en": {0: "baseline + fund life 8 years", 2: "land_tight + fund life 8 years", 3: "land_tight + fund life 20 years"},
    "zh": {0: "基准情景 + 基金存续期 8 年", 2: "用地从紧情景 + 基金存续期 8 年", 3: "用地从紧情景 + 基金存续期 20 年"},
}
REFERENCE = {"en": "baseline + fund life 20 years", "zh": "基准情景 + 基金存续期 20 年"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_each_job_is_headed_by_what_it_changed(study, lang):
    """The heading of each job names its scenario and its overrides, above the folder it reads; the
    question says what the overrides change; the title lists each job once."""
    _, sweep, out = study
    md = _md(out, lang)
    lines = md.splitlines()
    heads = [(i, _read(line[3:])) for i, line in enumerate(lines) if line.startswith("## ")][:3]
    assert [h for _, h in heads] == list(EXPECTED[lang].values())
    for (i, head), num in zip(heads, EXPECTED[lang]):
        folder = re.search(r"`([^`]+)`", lines[i + 2]).group(1)
        assert folder.startswith(f"{num}_")
        overrides = json.loads((sweep / folder / "manifest.json").read_text())["overrides"]
        life = next(o for o in overrides if o.startswith("levers.fund_life_years=")).split("=")[1]
        assert f" {life} " in head + " "
        assert next(o for o in overrides if o.startswith("scenario=")).split("=")[1] in _read(lines[i + 2])
    title = _read(lines[0])
    if lang == "zh":
        listed, ref = title.split("：", 1)[1].split("，与")
        assert listed.split("、") == list(EXPECTED[lang].values()) and ref == REFERENCE[lang] + "比较"
    else:
        listed, ref = title.split(": ", 1)[1].split(", against ")
        assert listed.split(", ") == list(EXPECTED[lang].values()) and ref == REFERENCE[lang]
    questions = [_read(line) for line in lines if line.startswith("**问题。**" if lang == "zh" else "**The question.**")]
    assert len(questions) == 3
    if lang == "zh":
        assert "基金存续期为 8 年（政策原文为 20 年）" in questions[0] and "其余措施均按政策原文数字实施" in questions[0]
        assert "新增工业用地指标减半" in questions[1] and "基金存续期为 8 年（该情景为 20 年）" in questions[1]
        assert "基金存续期为 20 年（与该情景相同）" in questions[2]
    else:
        assert "fund life 8 years (the draft's: 20 years)" in questions[0]
        assert "industrial land quota is cut by half" in questions[1]
        assert "fund life 8 years (the scenario's: 20 years)" in questions[1]
        assert "fund life 20 years (as in the scenario)" in questions[2]
    how = next(line for line in lines if line.startswith("- **比较基准。**" if lang == "zh" else "- **Reference.**"))
    assert REFERENCE[lang] in _read(how)


def test_a_misspelt_baseline_is_refused_before_anything_is_written(study, tmp_path):
    """baseline=basline names no scenario, job or run folder: one line with the closest name and
    what is allowed, exit 2, no memo folder; a valid scenario that no job is keeps today's fallback,
    said at the top; a job's number or a run folder names the reference directly."""
    cwd, sweep, _ = study
    out = tmp_path / "out"
    bad = run_cli(["memo", f"results={sweep}", "baseline=basline", f"output_root={out}"], cwd)
    assert bad.returncode == 2
    err = bad.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "baseline=basline" in err and "did you mean baseline=baseline?" in err
    assert "a scenario (" in err and "land_tight" in err and "a job of this sweep" in err and "run folder" in err
    assert not out.exists()
    # a run folder's memo refuses it too
    job = next(sweep.glob("2_*"))
    bad = run_cli(["memo", f"results={job}", "baseline=basline", f"output_root={out}"], cwd)  # job folders hold no '='

    assert bad.returncode == 2 and "did you mean baseline=baseline?" in bad.stderr and not out.exists()

    study_ = memo_mod.load_study(sweep, "no_new_policy", cwd / "results")
    assert study_.ref_kind == "first" and study_.reference.num == 0
    study_ = memo_mod.load_study(sweep, "3", cwd / "results")
    assert study_.ref_kind == "job" and study_.reference.num == 3
    study_ = memo_mod.load_study(sweep, str(next(sweep.glob("1_*"))), cwd / "results")
    assert study_.ref_kind == "job" and study_.reference.num == 1
    study_ = memo_mod.load_study(sweep, "baseline", cwd / "results")
    assert study_.ref_kind == "scenario" and study_.reference.num == 1


def test_the_html_carries_a_subset_of_its_chinese_font(study):
    """memo.html draws its Chinese without any system font: an @font-face with the CJK font cut down
    to the memo's characters, first in the body's font-family, covering every non-ASCII character."""
    from fontTools.ttLib import TTFont

    _, _, out = study
    page = (out["zh"] / "memo.html").read_text(encoding="utf-8")
    m = re.search(r"@font-face \{ font-family: '([^']+)'; src: url\('data:font/(woff2?|ttf|otf);base64,([A-Za-z0-9+/=]+)'\)",
                  page)
    assert m, "no embedded @font-face"
    family, data = m.group(1), base64.b64decode(m.group(3))
    assert re.search(r"body \{ font-family: \"" + re.escape(family) + '"', page)
    assert len(data) < 2_000_000  # a subset, not the 16 MB font
    cmap = TTFont(io.BytesIO(data)).getBestCmap()
    md = _md(out, "zh")
    missing = sorted({c for c in md if ord(c) > 127 and ord(c) not in cmap})
    assert not missing
    assert "@font-face" not in (out["en"] / "memo.html").read_text(encoding="utf-8")  # no Chinese to draw


def test_no_english_in_the_chinese_memo_and_no_entities_in_either(study):
    _, _, out = study
    check_language({lang: _md(out, lang) for lang in ("zh", "en")})


def test_pdf_from_relative_paths(study, tmp_path, monkeypatch):
    """Chromium is given file URIs, which need absolute paths: a memo written under a relative
    output folder (results=results/..., the default output_root) printed with Path.as_uri() on a
    relative path raised ValueError. Here a stand-in for chromium records what it is given."""
    _, _, out = study
    if memo_mod.pdf_converter() is not None:  # the fixture's zh memo was printed from a relative results=
        assert (out["zh"] / "memo.pdf").read_bytes()[:5] == b"%PDF-"
    fake = tmp_path / "chromium"
    log = tmp_path / "args.txt"
    fake.write_text("#!/bin/sh\n"
                    f"printf '%s\\n' \"$@\" > '{log}'\n"
                    "for a in \"$@\"; do case \"$a\" in\n"
                    "  --print-to-pdf=*) printf '%%PDF-1.4' > \"${a#--print-to-pdf=}\";;\n"
                    "esac; done\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(memo_mod, "pdf_converter", lambda: ("chromium", [str(fake)]))
    work = tmp_path / "work"
    (work / "memo").mkdir(parents=True)
    shutil.copy(out["zh"] / "memo.html", work / "memo" / "memo.html")
    monkeypatch.chdir(work)
    assert memo_mod.write_pdf(Path("memo/memo.html"), Path("memo/memo.pdf")) == "chromium"
    assert (work / "memo" / "memo.pdf").read_bytes()[:5] == b"%PDF-"
    args = log.read_text().splitlines()
    uri = next(a for a in args if a.startswith("file:"))
    assert uri.startswith("file:///") and uri.endswith(".print-memo.html")
    assert not (work / "memo" / ".print-memo.html").exists()  # the print copy is removed


def _sections(md: str) -> dict[int, str]:
    """Each job's section of a memo, by job number (from the line under its heading)."""
    out = {}
    parts = re.split(r"^## ", md, flags=re.M)
    for part in parts[1:]:
        m = re.search(r"`(\d+)_[^`]*`", part.split("\n", 3)[2] if part.count("\n") >= 2 else "")
        if m:
            out[int(m.group(1))] = part
    return out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_memo_prints_the_summaries_numbers(study, lang):
    """Every P(met) of a job's headline table is that job's summary.json value, to the digit printed."""
    _, sweep, out = study
    sections = _sections(_md(out, lang))
    assert set(sections) == {0, 2, 3}
    for num, text in sections.items():
        folder = next(sweep.glob(f"{num}_*"))
        summary = json.loads((folder / "summary.json").read_text())
        for tid, by_year in summary["targets"].items():
            for year, t in by_year.items():
                row = re.search(rf"^\| {tid} \| {year} \| [^|]+\| ([0-9.]+) \|", text, flags=re.M)
                assert row, (num, tid, year)
                assert row.group(1) == f"{t['p_met']:.2f}", (num, tid, year, row.group(1), t["p_met"])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_cost_section_says_where_a_change_comes_from_and_when_a_ratio_is_shown(study, lang):
    """The land_tight jobs save what the land renovation lever no longer spends: the memo names the
    lever, shows the funds' budget beside the fiscal cost, and prints no cost-effectiveness on a saving."""
    from simmodel.report import labels

    _, sweep, out = study
    text = _read(_sections(_md(out, lang))[3])
    assert labels.lever_name(lang, "land_renovation_mu_per_year") in text and "land_renovation_mu_per_year" in text
    assert ("基金计划投资" if lang == "zh" else "The funds' budget in 2027") in text
    assert ("不报告成本效益：财政成本下降" if lang == "zh" else "Cost-effectiveness is not reported: the fiscal cost falls") in text
    table = __import__("pandas").read_parquet(sweep / "aggregate" / "aggregate.parquet")
    assert not table.loc[table["job"] == 3, "cost_effective"].any()


def test_a_figure_for_a_paper_and_a_comparison_of_calibrations(study):
    """The rest of the study through the real command line: a fan chart of one job (a sweep folder
    is answered with its jobs), and the two committed calibrations compared."""
    cwd, sweep, _ = study
    whole = run_cli(["plot", f"results={sweep}", "target=T3"], cwd)
    assert whole.returncode == 2 and "is a sweep" in whole.stderr and "3_land_tight_fund_life_years-20" in whole.stderr
    job = next(sweep.glob("3_*"))
    fan = run_cli(["plot", f"results={job}", "target=T3", "lang=zh", f"out={cwd / 'fan_t3.png'}"], cwd)
    assert fan.returncode == 0, fan.stderr
    assert (cwd / "fan_t3.png").stat().st_size > 10_000
    cmp = run_cli(["compare", "runs=[default,replay]", f"output_root={cwd / 'cmp'}"], cwd)
    assert cmp.returncode == 0, cmp.stderr
    assert "Backtest scorecard" in cmp.stdout
