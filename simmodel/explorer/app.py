"""The explorer's page (Solara): levers as controls, an instant estimate, then the model.

Served by ``simmodel explore`` (simmodel/explorer/server.py), which passes its checked settings in
the environment (``SIMMODEL_EXPLORE``). Everything the page knows lives in its address (see
simmodel/explorer/state.py), so a control's change is a navigation: the new address is pushed, the
page re-reads it, and a reload or a shared link shows the same view. The page holds no model: its
runs are `simmodel run` processes (simmodel/explorer/runs.py) and it reads their run folders.
"""

from __future__ import annotations

import base64
import html
import functools
import json
import os
import threading
import time
from pathlib import Path

import solara

from simmodel.config import PROJECT_ROOT
from simmodel.errors import SimmodelError
from simmodel.explorer import state as S
from simmodel.explorer.config import ExploreConfig
from simmodel.explorer.runs import Runner, explore_root
from simmodel.report import labels

ENV = "SIMMODEL_EXPLORE"

# The page's own words; lever, target, article and scenario names come from simmodel/report/labels.py.
TEXT = {
    "en": {
        "title": "simmodel explorer: Zhejiang's 2027 and 2030 targets", "policies": "Policies (the draft's 24 measures)",
        "uncertainties": "Uncertainties (nobody in the province sets them)", "scenario": "Starting scenario",
        "article": "Art. {n}", "draft": "draft", "nnp": "no new policy", "range": "range", "grade": "evidence",
        "changed": "changed from {s}: {v}", "reset": "Back to the scenario",
        "estimate_head": "Instant estimate (emulator, not the model)",
        "estimate_note": "Estimated by a Gaussian-process emulator of the model; ± its error on held-out model runs "
                         "(RMSE). The model's answer replaces it when the run ends.",
        "no_estimate": "No estimate: {why}. Waiting for the model.",
        "model_head": "The model", "running": "Running the model ({scale} of the firms, {reps} replicates, common random "
        "numbers with {s}): {stage} {done}/{total}", "queued": "Waiting for a free slot to run the model...",
        "failed": "The model run failed: {error}", "target": "target", "year": "year", "p_met": "P(met) [95 %]",
        "change": "change from {s} [95 %]", "vs_nnp": "change from no_new_policy [95 %]", "est_p": "P(met), estimate",
        "est_change": "change from {s}, estimate", "refused": "refused: {why}",
        "fans": "Projections (median, 80 % and 95 % bands, history and targets)",
        "cost": "Fiscal cost 2025-{end}, mean over replicates", "cost_line": "{v} CNY 100 m (change from {s}: {d} [{lo}, {hi}])",
        "decomposition": "Where the uncertainty comes from (2027, share of variance; total-effect Sobol on {pairs} pairs "
                         "per source: wide at the page's settings, a full run uses 32)",
        "reproduce": "Reproduce", "run_cmd": "This run at full scale:", "memo_cmd": "A memo of this run:",
        "explorer_cmd": "The run the page made:", "save_head": "Save as scenario", "save_name": "scenario name (a-z, 0-9, _)",
        "save_q_en": "question (English; empty: written from the changes)", "save_q_zh": "question (Chinese; empty: written from the changes)",
        "save": "Save as scenario", "saved": "Saved {path}; run it with: simmodel run scenario={name}",
        "url_errors": "Parts of the address were not used:", "emulator_off": "no emulator ({why})",
        "same_as_start": "The state is the starting scenario itself.", "source_model": "model",
        "reused": "(reused: the same run was made before)", "grades": {"grounded": "grounded", "assumed": "assumed",
                                                                     "cost_only": "cost only", "uncertainty": "uncertainty"},
        "lang": "Language", "value": "value", "this_run": "This setting. ", "constant": "(the same in every training run)", "start_run": "The starting scenario, {s}. ",
        "trained": "Trained on {n} model runs around {s} at scale {scale} with {reps} replicates (the page runs "
                   "scale {page_scale} with {page_reps}).",
    },
    "zh": {
        "title": "simmodel 政策情景探索：浙江 2027、2030 年目标", "policies": "政策（征求意见稿 24 条措施）",
        "uncertainties": "外部不确定性（非本省可控）", "scenario": "起始情景",
        "article": "（{n}）", "draft": "原文取值", "nnp": "无新政策", "range": "范围", "grade": "依据",
        "changed": "相对{s}已修改：{v}", "reset": "恢复起始情景",
        "estimate_head": "即时估计（代理模型，非模型结果）",
        "estimate_note": "由模型的高斯过程代理模型估计；± 为其在留出模型运行上的误差（均方根误差）。模型运行结束后以模型结果替换。",
        "no_estimate": "暂无估计：{why}。等待模型结果。",
        "model_head": "模型结果", "running": "模型运行中（企业规模 {scale}，{reps} 次模拟，与{s}使用共同随机数）：{stage} {done}/{total}",
        "queued": "等待空闲运行槽位……", "failed": "模型运行失败：{error}", "target": "目标", "year": "年份",
        "p_met": "实现概率 [95%]", "change": "相对{s}的变化 [95%]", "vs_nnp": "相对无新政策的变化 [95%]",
        "est_p": "实现概率（估计）", "est_change": "相对{s}的变化（估计）", "refused": "不予估计：{why}",
        "fans": "预测（中位数、80% 与 95% 区间、历史值与目标）",
        "cost": "2025-{end} 年财政成本（各次模拟均值）", "cost_line": "{v} 亿元（相对{s}：{d} [{lo}, {hi}]）",
        "decomposition": "不确定性来源（2027 年，方差占比；总效应 Sobol 指数，每个来源 {pairs} 对：本页设置下区间较宽，完整运行用 32 对）",
        "reproduce": "复现", "run_cmd": "全规模运行本情景：", "memo_cmd": "生成本次运行的备忘录：",
        "explorer_cmd": "本页面实际运行的命令：", "save_head": "另存为情景", "save_name": "情景名称（a-z、0-9、_）",
        "save_q_en": "问题（英文；留空则按修改自动生成）", "save_q_zh": "问题（中文；留空则按修改自动生成）",
        "save": "另存为情景", "saved": "已保存 {path}；运行命令：simmodel run scenario={name}",
        "url_errors": "网址中以下部分未被采用：", "emulator_off": "无代理模型（{why}）",
        "same_as_start": "当前设置即起始情景本身。", "source_model": "模型",
        "reused": "（复用：此前已运行过相同设置）", "grades": labels.GRADES["zh"],
        "lang": "语言", "value": "取值", "this_run": "当前设置。", "constant": "（所有训练运行中均相同）", "start_run": "起始情景（{s}）。",
        "trained": "基于{s}附近的 {n} 次模型运行训练（规模 {scale}，每次 {reps} 次模拟；本页运行规模 {page_scale}，{page_reps} 次模拟）。",
    },
}


def t(lang: str, key: str, **kw) -> str:
    if lang == "zh" and key == "article":  # the seed numbers its measures （一）-（二十四）
        kw = {"n": zh_numeral(kw["n"])}
    return TEXT[lang][key].format(**kw) if kw else TEXT[lang][key]


def zh_numeral(n: int) -> str:
    """1-99 in Chinese numerals, as the seed numbers its measures (二十二 for 22)."""
    digits = "零一二三四五六七八九"
    tens, ones = divmod(int(n), 10)
    return (("" if tens == 1 else digits[tens]) + "十" if tens else "") + (digits[ones] if ones or not tens else "")


# --- the server's settings and shared objects (one per server process) -----------------------------


@functools.lru_cache(maxsize=1)
def settings() -> ExploreConfig:
    from simmodel.config import PopulationConfig

    raw = json.loads(os.environ.get(ENV, "{}"))
    pop = PopulationConfig(**raw.pop("population", {"scale": 0.1}))
    return ExploreConfig(population=pop, **raw)


def run_settings() -> S.RunSettings:
    from simmodel.analysis.run import population_overrides

    c = settings()
    return S.RunSettings(scale=c.population.scale, replicates=c.replicates, seed=c.seed,
                         decomposition_pairs=c.decomposition_pairs,
                         population=tuple(a for a in population_overrides(c.population)
                                          if not a.startswith("population.scale=")))


def scenario_dir() -> Path:
    p = Path(settings().scenario_dir)
    return p if p.is_absolute() else PROJECT_ROOT / p


@functools.lru_cache(maxsize=1)
def runner() -> Runner:
    return Runner(explore_root(settings().output_root), settings().max_runs)


_EMULATOR_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def emulator() -> tuple[object | None, str]:
    """The emulator named by the settings, or None and why not."""
    name = settings().emulator
    if not name:
        return None, "emulator='' in the settings"
    from simmodel.analysis.emulator import load_emulator

    path = Path(name)
    if not path.is_dir():
        path = Path(settings().output_root) / "analyze" / name
    try:
        return load_emulator(path), ""
    except SimmodelError as exc:
        return None, str(exc)


def _page_words() -> str:
    """Every character the page can show: its own words, the labels, the scenario files' headers."""
    words = [json.dumps(TEXT, ensure_ascii=False), json.dumps(labels.ARTICLE_TITLES, ensure_ascii=False),
             json.dumps(labels.TARGET_NAMES, ensure_ascii=False), json.dumps(labels.SCENARIO_NAMES_ZH, ensure_ascii=False),
             json.dumps(labels.GRADES, ensure_ascii=False), json.dumps(labels.SOURCE_NAMES, ensure_ascii=False),
             json.dumps(labels.TERMS_ZH, ensure_ascii=False), json.dumps(labels.VALUE_NAMES_ZH, ensure_ascii=False),
             json.dumps(labels.TEXT, ensure_ascii=False), "".join(labels.lever_names_zh().values()),
             "0123456789.,;:%±≈✎–—[]()-+ abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_/→…“”，。：；（）、？▸▾",
             "零一二三四五六七八九十"]  # the measures' numbers, （一）-（二十四）
    for p in sorted(Path(scenario_dir()).glob("*.yaml")):
        words.append("".join(ln for ln in p.read_text(encoding="utf-8").splitlines()[:6] if ln.startswith("#")))
    return "".join(sorted(set("".join(words))))


def font_css() -> str:
    """The CJK font cut down to every character the page can show, as an @font-face: the page then
    draws Chinese on a machine with no CJK font, and fetches nothing to do it. Cutting the font
    takes seconds, so the result is kept on disk beside the runs, keyed by the characters; the
    server makes it before it starts (simmodel/explorer/server.py). The characters are read again
    at every render (about 2 ms): a scenario saved on the page brings words of its own (its
    question), which the next cut carries."""
    return _font_css(_page_words())


@functools.lru_cache(maxsize=8)
def _font_css(chars: str) -> str:
    import hashlib

    cache = explore_root(settings().output_root) / "fonts" / f"cjk-{hashlib.sha256(chars.encode()).hexdigest()[:16]}.css"
    if cache.is_file():
        return cache.read_text(encoding="utf-8")
    from simmodel.report.memo import font_subset

    sub = font_subset(chars)
    css = ""
    if sub is not None:
        mime, data = sub
        css = (f"@font-face {{ font-family: 'simmodel-cjk'; src: url('data:{mime};base64,{base64.b64encode(data).decode()}') "
               f"format('{mime.split('/')[1]}'); }}\n"
               ".simmodel-page, .simmodel-page * { font-family: Roboto, 'simmodel-cjk', sans-serif !important; }\n")
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(css, encoding="utf-8")
    tmp.replace(cache)
    return css


CSS = """
.simmodel-page .lever { border-bottom: 1px solid #eee; padding: 4px 0 6px 0; }
.simmodel-page .lever-changed { background: #fff8e1; }
.simmodel-page .caption { font-size: 12px; color: #555; }
.simmodel-page .estimate { color: #6a4c93; }
.simmodel-page .cmd { font-family: monospace; font-size: 12px; background: #f5f5f5; padding: 4px; word-break: break-all; }
.simmodel-page table { border-collapse: collapse; font-size: 13px; }
.simmodel-page td, .simmodel-page th { border: 1px solid #ddd; padding: 2px 6px; }
.simmodel-page .controls { max-height: 88vh; overflow-y: auto; }
"""


# --- results read from run folders ---------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _job(folder: str):
    from simmodel import sweep
    from simmodel.results import read_run

    traj, summary, manifest = read_run(Path(folder))
    return sweep.Job(num=0, label=manifest.get("scenario", ""), path=Path(folder), status="complete",
                     summary=summary, manifest=manifest, traj=traj)


@functools.lru_cache(maxsize=64)
def comparison(folder: str, start_folder: str):
    """The aggregate table of a run against the starting scenario's run (paired by their seeds)."""
    from simmodel import sweep

    import dataclasses

    a, b = dataclasses.replace(_job(folder), num=1), dataclasses.replace(_job(start_folder), num=0)
    table, _, _ = sweep.aggregate_table([b, a], reference_job=b)
    return table[table["job"] == 1].set_index(["target_id", "year"])


@functools.lru_cache(maxsize=128)
def fan_png(folder: str, target_id: str, lang: str) -> bytes:
    import io

    from simmodel.config import DataConfig, resolve_path
    from simmodel.data import load_indicators
    from simmodel.report import plots

    job = _job(folder)
    history = load_indicators(resolve_path(DataConfig().indicators))
    fig = plots.target_fan(job.traj, history, target_id, job.summary["targets"][target_id],
                           job.summary.get("base_year", 2024), lang, scenario=job.summary["scenario"]["slug"])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def heading(text: str, level: int = 3, classes: list[str] | None = None) -> None:
    solara.HTML(tag=f"h{level}", unsafe_innerHTML=html.escape(text), classes=classes or [])


def bold(text: str, rest: str = "") -> None:
    solara.HTML(tag="p", unsafe_innerHTML=f"<b>{html.escape(text)}</b> {html.escape(rest)}")


def table(md: str, classes: list[str] | None = None, style: str | None = None) -> None:
    """A pipe table written as Markdown, shown as HTML with every cell escaped. Not solara.Markdown:
    that one fetches a diagram library (mermaid) from a CDN, which a network without internet lacks."""
    lines = [ln.strip().strip("|") for ln in md.strip().splitlines()]
    head, body = lines[0], lines[2:]
    cells = lambda ln: [html.escape(c.strip()) for c in ln.split(" | ")]  # noqa: E731
    out = "<thead><tr>" + "".join(f"<th>{c}</th>" for c in cells(head)) + "</tr></thead><tbody>"
    out += "".join("<tr>" + "".join(f"<td>{c}</td>" for c in cells(ln)) + "</tr>" for ln in body) + "</tbody>"
    solara.HTML(tag="table", unsafe_innerHTML=out, classes=classes or [], style=style)


def _pct(x: float) -> str:
    return "–" if x != x else f"{x:.2f}"


def _signed(x: float) -> str:
    """+0.12; a change that rounds to zero is +0.00, never -0.00."""
    return "–" if x != x else f"{(0.0 if abs(x) < 0.005 else x):+.2f}"


# --- components ----------------------------------------------------------------------------------


@solara.component
def LeverControl(c: S.Control, value, start_value, scenario: str, lang: str, on_change):
    """One lever: its name, a slider (or the choices) and a box for an exact value, and beneath them
    its unit, range, the draft's value, the no_new_policy value and its evidence grade."""
    error, set_error = solara.use_state("")
    changed = not S.same_value(value, start_value)

    def set_value(v):
        try:
            on_change(c.name, v)
            set_error("")
        except SimmodelError as exc:
            set_error(str(exc))

    with solara.Column(classes=["lever", f"lever-{c.name}"] + (["lever-changed"] if changed else []), gap="0px"):
        solara.Text(c.label(lang), style={"font-weight": "500"})
        if lang == "zh":
            solara.Text(c.name, classes=["caption"])
        if c.kind == "choice":
            solara.ToggleButtonsSingle(value=value, on_value=set_value, classes=[f"choice-{c.name}"],
                                       children=[solara.Button(labels.value_name(lang, ch), value=ch, text=True)
                                                 for ch in c.choices])
        else:
            with solara.Row(gap="8px", style={"align-items": "center"}):
                slider = solara.SliderInt if c.kind == "int" else solara.SliderFloat
                with solara.Column(style={"flex": "1 1 auto"}):
                    slider("", value=value, min=c.low, max=c.high, step=c.step, on_value=set_value,
                           thumb_label=False)
                solara.InputText(t(lang, "value"), value=S.format_value(value), on_value=set_value, continuous_update=False,
                                 classes=[f"value-{c.name}"], style={"max-width": "130px"}, error=error or False)
        grade = TEXT[lang]["grades"].get(c.grade, c.grade)
        span = "" if c.kind == "choice" else f" · {t(lang, 'range')} [{c.low:g}, {c.high:g}]"
        shown = (lambda v: labels.value_name(lang, v)) if c.kind == "choice" else S.format_value
        solara.Text(f"{c.unit}{span} · {t(lang, 'draft')} {shown(c.default)} · "
                    f"{t(lang, 'nnp')} {shown(c.no_new_policy)} · {t(lang, 'grade')}: {grade}"
                    + (f" · {labels.scenario_name(lang, scenario) or scenario}: {shown(start_value)}" if scenario != "baseline" else ""),
                    classes=["caption"])
        if error:
            solara.Text(error, style={"color": "#b00020"}, classes=["lever-error"])


@solara.component
def ArticleGroup(article: int, title: str, cs: list, values: dict, start: dict, state: S.PageState, on_change):
    """One measure of the draft: its heading, and its levers once opened. Closed groups render no
    controls at all: a change then re-renders a few dozen widgets, not every lever's."""
    lang = state.lang
    n_changed = sum(1 for c in cs if c.name in state.changed())
    open_, set_open = solara.use_state(n_changed > 0)
    summary = f"{'▾' if open_ else '▸'} {t(lang, 'article', n=article)} {title}" + (f" ({n_changed} ✎)" if n_changed else "")
    with solara.Column(classes=["article", f"article-{article}"], gap="0px"):
        solara.Button(summary, on_click=lambda: set_open(not open_), text=True, classes=["article-toggle"],
                      style={"text-transform": "none", "justify-content": "flex-start", "font-size": "14px"})
        if open_:
            with solara.Column(style={"padding-left": "16px"}, gap="0px"):
                for c in cs:
                    LeverControl(c, values[c.name], start[c.name], state.scenario, lang, on_change)


@solara.component
def Controls(state: S.PageState, start: dict, on_change):
    lang = state.lang
    values = dict(start)
    values.update(state.changed())
    with solara.Column(classes=["controls"]):
        heading(t(lang, 'policies'))
        for article, title, cs in S.by_article(lang):
            ArticleGroup(article, title, cs, values, start, state, on_change)
        heading(t(lang, 'uncertainties'))
        for c in S.uncertainty_controls():
            LeverControl(c, values[c.name], start[c.name], state.scenario, lang, on_change)


def _estimate_table(est: S.Estimate, lang: str, scenario: str) -> str:
    s = labels.scenario_name(lang, scenario) or scenario
    rows = [f"| {t(lang, 'target')} | {t(lang, 'year')} | {t(lang, 'est_p')} | {t(lang, 'est_change', s=s)} |",
            "|---|---|---|---|"]
    for tid in S.TARGET_IDS:
        for year in S.YEARS:
            if (tid, year) not in est.values:
                continue
            v = est.values[(tid, year)]
            name = f"{tid} {labels.target_name(lang, tid)}"
            if "refused" in v:
                rows.append(f"| {name} | {year} | {t(lang, 'refused', why=v['refused'])} | |")
            elif v.get("constant"):  # never varied over the training runs: no error to show, nothing to estimate
                rows.append(f"| {name} | {year} | {v['p']:.2f} {t(lang, 'constant')} | {_signed(0.0)} |")
            else:
                rows.append(f"| {name} | {year} | ≈ {v['p']:.2f} ± {v['error']:.2f} | ≈ {_signed(v['change'])} |")
    return "\n".join(rows)


def _model_table(cmp, summary: dict, lang: str, scenario: str, same: bool) -> str:
    s = labels.scenario_name(lang, scenario) or scenario
    head = f"| {t(lang, 'target')} | {t(lang, 'year')} | {t(lang, 'p_met')} |"
    head += "" if same else f" {t(lang, 'change', s=s)} |"
    head += f" {t(lang, 'vs_nnp')} |"
    rows = [head, "|---" * (head.count("|") - 1) + "|"]
    cf = (summary.get("counterfactual") or {}).get("targets", {})
    for tid in S.TARGET_IDS:
        for year in S.YEARS:
            if (tid, year) not in cmp.index:
                continue
            r = cmp.loc[(tid, year)]
            cell = f"| {tid} {labels.target_name(lang, tid)} | {year} | {_pct(r.p_met)} [{_pct(r.p_met_lo)}, {_pct(r.p_met_hi)}] |"
            if not same:
                cell += f" {_signed(r.diff_p_met)} [{_signed(r.diff_p_met_lo)}, {_signed(r.diff_p_met_hi)}] |"
            c = cf.get(tid, {}).get(str(year))
            cell += (f" {_signed(c['diff_p_met'])} [{_signed(c['diff_p_met_ci95'][0])}, {_signed(c['diff_p_met_ci95'][1])}] "
                     f"{labels.term(lang, c['verdict'])} |" if c else " – |")
            rows.append(cell)
    return "\n".join(rows)


def _decomposition_table(summary: dict, lang: str) -> str:
    vd = summary.get("variance_decomposition") or {}
    from simmodel.ensemble import SOURCES

    rows = [f"| {t(lang, 'target')} | " + " | ".join(labels.source_name(lang, s) for s in SOURCES) + " |",
            "|---" * (len(SOURCES) + 1) + "|"]
    for tid, by_year in vd.get("targets", {}).items():
        b = by_year.get("2027")
        if not b or b.get("note"):
            rows.append(f"| {tid} | {(b or {}).get('note', '–')} |" + " |" * (len(SOURCES) - 1))
            continue
        cells = []
        for src in SOURCES:
            ix = b["indices"][src]
            cells.append("off" if ix.get("off") else f"{ix['st']:.2f} [{ix['ci95'][0]:.2f}, {ix['ci95'][1]:.2f}]")
        rows.append(f"| {tid} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def use_job(overrides: list[str]):
    """The run of these overrides, followed while it goes (the component re-renders as it moves) and
    let go of when the page asks for another."""
    key = tuple(overrides)
    job, set_job = solara.use_state(None)
    _, set_seen = solara.use_state(None)  # what the page last showed of the run: re-render only on news

    def submit():
        j = runner().submit(list(key))
        set_job(j)
        return lambda: runner().release(j)

    solara.use_effect(submit, [key])

    def follow(cancel: threading.Event):
        j = job
        try:
            while j is not None and not cancel.is_set():
                set_seen((j.status, j.stage, j.done, j.total))
                if not j.running:
                    return
                time.sleep(0.5)
        except Exception:  # noqa: BLE001 - the page closed under us: nobody is left to show the progress to
            return

    solara.use_thread(follow, dependencies=[job])
    return job if job is not None and job.overrides == list(key) else None


@solara.component
def EstimatePanel(est: S.Estimate, emu, lang: str, scenario: str):
    with solara.Column(classes=["estimate"]):
        heading(t(lang, 'estimate_head'))
        if est.note:
            solara.Info(t(lang, "no_estimate", why=est.note), classes=["no-estimate"])
        else:
            table(_estimate_table(est, lang, scenario), classes=["estimate-table"], style="color: #4a2c73")
            solara.Text(t(lang, "estimate_note") + " " + _trained(emu, lang), classes=["caption"])


@solara.component
def ModelPanel(state: S.PageState, start_state: S.PageState, est: S.Estimate, emu):
    """The estimate while the model runs, then the model's answer in its place."""
    lang = state.lang
    rs = run_settings()
    same = not state.changes
    # both hooks every time (hooks keep their order); with no change the two are one shared run
    job = use_job(S.run_overrides(state, rs))
    start_job = use_job(S.run_overrides(start_state, rs))
    s = labels.scenario_name(lang, state.scenario) or state.scenario
    answered = job is not None and job.status == "done" and start_job is not None and start_job.status == "done"
    if not answered:
        EstimatePanel(est, emu, lang, state.scenario)
    heading(t(lang, 'model_head'))
    for j, whose in ([(job, "")] if same else [(job, t(lang, "this_run")), (start_job, t(lang, "start_run", s=s))]):
        if j is None:
            continue
        if j.status == "queued":
            solara.Text(whose + t(lang, "queued"))
        elif j.status == "running":
            solara.Text(whose + t(lang, "running", scale=f"{rs.scale:g}", reps=rs.replicates, s=s, stage=j.stage,
                                  done=j.done, total=j.total or "?"), classes=["run-progress"])
            solara.ProgressLinear(j.fraction if j.total else True)
        elif j.status == "failed":
            solara.Error(t(lang, "failed", error=j.error), classes=["run-error"])
    if job is None or job.status != "done" or start_job is None or start_job.status != "done":
        return
    cmp = comparison(str(job.folder), str(start_job.folder))
    summary = _job(str(job.folder)).summary
    with solara.Column(classes=["model-result"]):
        if same:
            solara.Text(t(lang, "same_as_start"))
        table(_model_table(cmp, summary, lang, state.scenario, same), classes=["model-table"])
        first = cmp.iloc[0]
        end = settings_end_year(summary)
        bold(f"{t(lang, 'cost', end=end)}:", t(lang, "cost_line", v=f"{first.cost_cny_100m:,.1f}", s=s,
                                                                   d=f"{first.diff_cost_cny_100m:+,.1f}",
                                                                   lo=f"{first.diff_cost_lo:+,.1f}",
                                                                   hi=f"{first.diff_cost_hi:+,.1f}"))
        if summary.get("variance_decomposition"):
            bold(t(lang, 'decomposition', pairs=summary["variance_decomposition"].get("pairs", "?")))
            table(_decomposition_table(summary, lang), classes=["decomposition-table"])
        bold(t(lang, 'fans'))
        with solara.Row(style={"flex-wrap": "wrap"}, classes=["fan-charts"]):
            for tid in S.TARGET_IDS:
                if tid in summary["targets"]:
                    solara.Image(fan_png(str(job.folder), tid, lang), width="420px")
        bold(t(lang, 'reproduce'))
        solara.Text(t(lang, "run_cmd"))
        full = S.RunSettings(scale=1.0, replicates=100, seed=rs.seed, decomposition_pairs=32)
        solara.Text(S.run_command(state, full), classes=["cmd", "run-command"])
        solara.Text(t(lang, "explorer_cmd") + (" " + t(lang, "reused") if job.stage == "reused" else ""))
        solara.Text(S.run_command(state, rs), classes=["cmd", "explorer-command"])
        solara.Text(t(lang, "memo_cmd"))
        solara.Text(S.memo_command(job.folder, None if same else start_job.folder, lang), classes=["cmd", "memo-command"])


def _trained(emu, lang: str) -> str:
    st, rs = emu.settings, run_settings()
    pop = st.get("population") or {}
    n = next((v.get("n_train", 0) + v.get("n_holdout", 0) for v in emu.validation.values() if v.get("n_train")), 0)
    return t(lang, "trained", n=n, scale=f"{pop.get('scale', float('nan')):g}", reps=st.get("replicates", "?"),
             s=st.get("scenario", "?"), page_scale=f"{rs.scale:g}", page_reps=rs.replicates)


def settings_end_year(summary: dict) -> int:
    years = [int(y) for by in summary["targets"].values() for y in by]
    return max(years) if years else 2030


@solara.component
def SavePanel(state: S.PageState, start: dict):
    lang = state.lang
    name, set_name = solara.use_state("")
    q_en, set_q_en = solara.use_state("")
    q_zh, set_q_zh = solara.use_state("")
    message, set_message = solara.use_state(("", ""))

    def save():
        try:
            path = S.save_scenario(state, start, name.strip(), scenario_dir(), question_en=q_en, question_zh=q_zh)
            set_message(("ok", t(lang, "saved", path=path, name=path.stem)))
        except SimmodelError as exc:
            set_message(("error", str(exc)))

    heading(t(lang, 'save_head'))
    solara.InputText(t(lang, "save_name"), value=name, on_value=set_name, classes=["save-name"])
    solara.InputText(t(lang, "save_q_en"), value=q_en, on_value=set_q_en, classes=["save-q-en"])
    solara.InputText(t(lang, "save_q_zh"), value=q_zh, on_value=set_q_zh, classes=["save-q-zh"])
    solara.Button(t(lang, "save"), on_click=save, color="primary", classes=["save-button"])
    kind, text = message
    if kind == "ok":
        solara.Success(text, classes=["save-ok"])
    elif kind == "error":
        solara.Error(text, classes=["save-error"])


@solara.component
def Page():
    cfg = settings()
    router = solara.use_router()
    search = router.search or ""
    parsed = solara.use_memo(lambda: S.parse_query(search, scenario_dir(), cfg.scenario, cfg.lang), [search])
    state, start, url_errors = parsed
    lang = state.lang

    def push(new: S.PageState):
        router.push(f"{router.path or '/'}?{S.to_query(new)}")

    def on_change(name, value):
        push(state.with_value(name, value, start))  # raises ConfigError for the control to show

    solara.Title("simmodel explorer")
    solara.Style(font_css() + CSS)
    with solara.Column(classes=["simmodel-page"], style={"padding": "12px"}):
        with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}, gap="16px"):
            heading(t(lang, 'title'), 2)
            solara.ToggleButtonsSingle(value=lang, classes=["lang-switch"],
                                       on_value=lambda v: push(S.PageState(state.scenario, v, state.changes)),
                                       children=[solara.Button("中文", value="zh", text=True),
                                                 solara.Button("English", value="en", text=True)])
            slugs = S.scenario_slugs(scenario_dir())
            solara.Select(t(lang, "scenario"), values=slugs, value=state.scenario, classes=["scenario-select"],
                          on_value=lambda v: push(S.PageState(v, lang)), style={"max-width": "260px"})
            if state.changes:
                solara.Button(t(lang, "reset"), on_click=lambda: push(S.PageState(state.scenario, lang)), text=True,
                              classes=["reset-button"])
        question = S.scenario_question(scenario_dir(), state.scenario, lang)
        if question:
            solara.Text(question, classes=["caption"])
        if url_errors:
            solara.Warning(t(lang, "url_errors") + " " + "; ".join(url_errors), classes=["url-errors"])
        with solara.Columns([5, 7]):
            Controls(state, start, on_change)
            with solara.Column():
                emu, why = emulator()
                est = S.estimate(emu, state, start, cfg.emulator_max_error,
                                 S.scenario_settings(scenario_dir(), state.scenario)) if emu is not None else S.Estimate(
                    {}, t(lang, "emulator_off", why=why))
                ModelPanel(state, S.PageState(state.scenario, lang), est, emu)
                SavePanel(state, start)
