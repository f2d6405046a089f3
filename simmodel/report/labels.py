"""Words of figures and memos in Chinese and English: written once here, never machine-translated.

The Chinese target names are the seed's own wording (第一部分 主要目标); lever names are in
lever_names_zh.csv beside this file, in the seed's terms, one per lever of simmodel/levers.py (a
test checks that none is missing).
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

LANGS = ("zh", "en")

TARGET_NAMES = {
    "en": {"T1": "Emerging clusters' share of 415X cluster revenue",
           "T2": "Strategic emerging industries' share of above-size industrial VA",
           "T3": "Digital-economy core industries' VA as a share of GDP",
           "T4": "National advanced manufacturing clusters",
           "T5": "Provincial future-industry pilot zones",
           "T6": "Future industries' growth (keep high-speed growth)"},
    "zh": {"T1": "新兴产业集群营收占“415X”集群比重",
           "T2": "战略性新兴产业增加值占规上工业比重",
           "T3": "数字经济核心产业增加值占GDP比重",
           "T4": "创建国家先进制造业集群",
           "T5": "建设省级未来产业先导区",
           "T6": "未来产业保持高速增长"},
}

# Base-year assumptions the runs re-run at the ends of their ranges (assumption_sensitivity)
ASSUMPTION_NAMES = {
    "en": {"t1_emerging_share_415x_pct": "T1 in the base year (emerging share of 415X revenue)",
           "t2_sei_share_pct": "T2 in the base year (SEI share of above-size industrial VA)",
           "digital_core_va_cny_100m": "digital-economy core VA in the base year",
           "n_pilot_zones": "pilot zones built before 2025",
           "n_above_size_firms": "number of above-size industrial firms in the base year"},
    "zh": {"t1_emerging_share_415x_pct": "基年新兴产业集群营收占“415X”集群比重",
           "t2_sei_share_pct": "基年战略性新兴产业增加值占规上工业比重",
           "digital_core_va_cny_100m": "基年数字经济核心产业增加值",
           "n_pilot_zones": "2025年前已建未来产业先导区数",
           "n_above_size_firms": "基年规上工业企业数"},
}

UNITS = {"en": {"%": "%", "count": "count", "%/yr": "% per year", "CNY 100m": "CNY 100 million"},
         "zh": {"%": "%", "count": "个", "%/yr": "%/年", "CNY 100m": "亿元", "years": "年", "regime": "方式",
                "mu per yr": "亩/年", "CNY 10k per project": "万元/项", "CNY 100m per yr": "亿元/年",
                "projects per yr": "项/年", "tasks per yr": "项/年", "zones by 2027": "个（至2027年）",
                "zones per yr": "个/年", "talents (teams) per yr": "人（团队）/年", "firms per yr": "家/年",
                "% of quota": "%（占指标）", "CNY 10k per task": "万元/项", "CNY 10k per firm": "万元/家"}}

TEXT = {
    "en": {
        "year": "year", "median": "median projection", "band80": "80 % band", "band95": "95 % band",
        "base_year": "base year", "target_seed": "{year} target (seed)", "proxy": "{year} proxy (assumption)",
        "observed": "observed", "derived": "derived from observed series",
        "p_met": "probability the target is met", "change_p": "change in P(met) from reference",
        "reference": "reference", "paired": "thick: 95 % interval paired by common random numbers; thin: as independent runs",
        "comparison_title": "Change from the reference ({ref})",
        "prob_title": "Probability each target is met, by scenario (95 % intervals)",
        "fit_title": "Calibration fit: observed and simulated statistics",
        "fit_x": "statistic (observed ± 2 s.e. in black, simulated mean ± 2 s.d. in blue)",
        "fit_observed": "observed", "fit_simulated": "simulated",
        "backtest_title": "Backtest: error of the model and of the statistical forecasters",
        "backtest_y": "RMSE / RMSE of the random walk with drift",
        "cost_title": "Fiscal cost and probability of meeting each target",
        "cost_x": "fiscal cost, median over replicates (CNY 100 million, grants + equity)",
        "scenario": "scenario",
    },
    "zh": {
        "year": "年份", "median": "中位数预测", "band80": "80% 区间", "band95": "95% 区间",
        "base_year": "基年", "target_seed": "{year}年目标（政策原文）", "proxy": "{year}年参照值（假设）",
        "observed": "观测值", "derived": "由观测序列推算",
        "p_met": "目标实现概率", "change_p": "目标实现概率相对基准的变化",
        "reference": "基准", "paired": "粗线：共同随机数配对的95%区间；细线：按独立运行计算",
        "comparison_title": "相对基准（{ref}）的变化",
        "prob_title": "各情景下各目标的实现概率（95%区间）",
        "fit_title": "校准拟合：观测统计量与模拟统计量",
        "fit_x": "统计量（黑：观测值±2倍标准误；蓝：模拟均值±2倍标准差）",
        "fit_observed": "观测", "fit_simulated": "模拟",
        "backtest_title": "回测：模型与统计预测方法的误差",
        "backtest_y": "均方根误差 / 带漂移随机游走的均方根误差",
        "cost_title": "财政成本与各目标实现概率",
        "cost_x": "财政成本，各次模拟的中位数（亿元，补助+股权投资）",
        "scenario": "情景",
    },
}


# Uncertainty sources and job states as summary.json and the sweep write them (English ids)
TERMS_ZH = {"firm-level shocks": "企业层面冲击", "province-wide yearly growth shock": "全省年度增长冲击",
            "calibrated parameters drawn per replicate": "每次模拟抽取校准参数", "failed": "失败",
            "pending": "未完成", "corrupt": "已损坏", "complete": "完成",
            # where an analysis's numbers come from (simmodel/analysis)
            "model": "模型", "emulator": "代理模型（仿真器）"}


def term(lang: str, word: str) -> str:
    return TERMS_ZH.get(word, word) if lang == "zh" else word


def check_lang(lang: str) -> str:
    from simmodel.errors import ConfigError

    if lang not in LANGS:
        raise ConfigError(f"lang = {lang!r} is not allowed: one of {', '.join(LANGS)}")
    return lang


def text(lang: str, key: str, **kw) -> str:
    return TEXT[lang][key].format(**kw)


def target_name(lang: str, target_id: str) -> str:
    return TARGET_NAMES[lang].get(target_id, target_id)


def unit(lang: str, u: str) -> str:
    return UNITS[lang].get(u, u)


@lru_cache(maxsize=1)
def lever_names_zh() -> dict[str, str]:
    with open(Path(__file__).with_name("lever_names_zh.csv"), encoding="utf-8", newline="") as fh:
        return {row["lever"]: row["name_zh"] for row in csv.DictReader(fh)}


def assumption_name(lang: str, quantity: str) -> str:
    return ASSUMPTION_NAMES[lang].get(quantity, quantity)


def lever_name(lang: str, lever: str) -> str:
    """A lever's name: the seed's term in Chinese, the registry name with spaces in English."""
    if lang == "zh":
        return lever_names_zh().get(lever, lever)
    return lever.replace("_", " ")
