"""Words of figures and memos in Chinese and English: written once here, never machine-translated.

The Chinese target names are the seed's own wording (第一部分 主要目标); lever names are in
lever_names_zh.csv beside this file, in the seed's terms, one per lever of simmodel/levers.py (a
test checks that none is missing).
"""

from __future__ import annotations

import csv
import re
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

# Base-year quantities (calibration/data/base_year.csv): those a replicate draws from their ranges
# name the drivers of a result (summary.json: drivers), and the assumption_sensitivity runs re-run
# some of them at the ends of their ranges. A quantity not listed shows under its code name.
ASSUMPTION_NAMES = {
    "en": {"t1_emerging_share_415x_pct": "T1 in the base year (emerging share of 415X revenue)",
           "t2_sei_share_pct": "T2 in the base year (SEI share of above-size industrial VA)",
           "digital_core_va_cny_100m": "digital-economy core VA in the base year",
           "n_pilot_zones": "pilot zones built before 2025",
           "future_base_revenue_factor": "multiplier on the future industries' base-year revenues",
           "n_above_size_firms": "number of above-size industrial firms in the base year",
           "gdp_cny_100m": "GDP in the base year",
           "above_size_industry_va_cny_100m": "above-size industrial VA in the base year",
           "cluster_415x_revenue_cny_100m": "415X cluster revenue in the base year",
           "non_415x_share_above_size_revenue_pct": "share of above-size revenue outside the 415X clusters",
           "n_tech_smes": "number of tech SMEs in the base year",
           "tech_sme_above_size_share_pct": "share of tech SMEs that are above-size",
           "n_high_tech_enterprises": "number of high-tech enterprises in the base year",
           "n_little_giants": "number of little giants in the base year",
           "n_single_champions": "number of single champions in the base year",
           "rd_intensity_pct": "R&D intensity in the base year",
           "rd_expenditure_cny_100m": "R&D expenditure in the base year",
           "enterprise_rd_share_pct": "enterprises' share of R&D expenditure",
           "n_national_clusters": "national advanced manufacturing clusters before 2025",
           "n_provincial_cluster_core_areas": "provincial cluster core areas",
           "va_per_mu_10k_cny": "value added per mu of industrial land",
           "industrial_land_transferred_mu": "industrial land transferred a year",
           "provincial_fund_subscribed_cny_100m": "provincial industry funds subscribed",
           "provincial_fund_initial_cny_100m": "provincial industry funds at set-up",
           "provincial_fund_leverage_ratio": "leverage of the provincial industry funds",
           "sci_innov_mother_fund_cny_100m": "science and innovation mother fund",
           "srdi_mother_fund_cny_100m": "specialised-SME (SRDI) mother fund",
           "state_vc_fund_cny_100m": "state-capital venture funds",
           "low_efficiency_land_stock_mu": "stock of low-efficiency industrial land"},
    "zh": {"t1_emerging_share_415x_pct": "基年新兴产业集群营收占“415X”集群比重",
           "t2_sei_share_pct": "基年战略性新兴产业增加值占规上工业比重",
           "digital_core_va_cny_100m": "基年数字经济核心产业增加值",
           "n_pilot_zones": "2025年前已建未来产业先导区数",
           "future_base_revenue_factor": "未来产业基年营收倍数",
           "n_above_size_firms": "基年规上工业企业数",
           "gdp_cny_100m": "基年地区生产总值",
           "above_size_industry_va_cny_100m": "基年规上工业增加值",
           "cluster_415x_revenue_cny_100m": "基年“415X”集群营收",
           "non_415x_share_above_size_revenue_pct": "“415X”集群以外营收占规上工业营收比重",
           "n_tech_smes": "基年科技型中小企业数",
           "tech_sme_above_size_share_pct": "科技型中小企业中规上企业占比",
           "n_high_tech_enterprises": "基年高新技术企业数",
           "n_little_giants": "基年专精特新“小巨人”企业数",
           "n_single_champions": "基年制造业单项冠军企业数",
           "rd_intensity_pct": "基年研发投入强度",
           "rd_expenditure_cny_100m": "基年研发经费支出",
           "enterprise_rd_share_pct": "企业研发经费占比",
           "n_national_clusters": "2025年前国家先进制造业集群数",
           "n_provincial_cluster_core_areas": "省级集群核心区数",
           "va_per_mu_10k_cny": "工业用地亩均增加值",
           "industrial_land_transferred_mu": "年度工业用地出让面积",
           "provincial_fund_subscribed_cny_100m": "省产业基金认缴规模",
           "provincial_fund_initial_cny_100m": "省产业基金设立时规模",
           "provincial_fund_leverage_ratio": "省产业基金放大倍数",
           "sci_innov_mother_fund_cny_100m": "科创母基金规模",
           "srdi_mother_fund_cny_100m": "专精特新母基金规模",
           "state_vc_fund_cny_100m": "国有资本创投基金规模",
           "low_efficiency_land_stock_mu": "低效工业用地存量"},
}

UNITS = {"en": {"%": "%", "count": "count", "%/yr": "% per year", "CNY 100m": "CNY 100 million"},
         "zh": {"%": "%", "count": "个", "%/yr": "%/年", "CNY 100m": "亿元", "years": "年", "regime": "方式",
                "mu per yr": "亩/年", "CNY 10k per project": "万元/项", "CNY 100m per yr": "亿元/年",
                "projects per yr": "项/年", "tasks per yr": "项/年", "zones by 2027": "个（至2027年）",
                "zones per yr": "个/年", "talents (teams) per yr": "人（团队）/年", "firms per yr": "家/年",
                "% of quota": "%（占指标）", "CNY 10k per task": "万元/项", "CNY 10k per firm": "万元/家",
                "zones per batch": "个/批", "index (1 = the 2021-2024 bid effort)": "指数（1 = 2021-2024年的争创力度）",
                "index (1 = the seed's market-access easing)": "指数（1 = 政策原文的市场准入放宽）",
                "index (1 = the seed's finance package)": "指数（1 = 政策原文的金融支持措施）",
                "index (1 = pre-2025 support)": "指数（1 = 2025年前的支持力度）",
                "% of non-adopters per yr": "%（占未应用企业）/年", "% of eligible incumbents per yr": "%（占符合条件企业）/年",
                "weight 0-1": "权重（0-1）", "% of grants": "%（占资助）", "CNY 10k per talent per yr": "万元/人/年",
                "grants per yr": "项/年", "CNY 10k per grant": "万元/项", "% of basic-research grants": "%（占基础研究资助）",
                "consortia per yr": "个/年", "CNY 10k per consortium": "万元/个", "platforms per yr": "个/年",
                "CNY 10k per platform": "万元/个", "bases per yr": "个/年", "CNY 10k per base": "万元/个",
                "% of public incubator places free": "%（免费入驻的公共孵化器场地）", "products per yr": "项/年",
                "scenarios per yr": "个/年", "certifications per yr": "项/年", "multiple of base plot ratio": "倍（相对基准容积率）",
                "% of fund capital incl. crowd-in": "%（占含撬动资金的基金规模）", "pp of annual growth": "个百分点（年增速）",
                # base-year quantities (calibration/data/base_year.csv)
                "10k CNY per mu": "万元/亩", "mu": "亩", "ratio": "倍"}}

# Pedigree of a lever's effect chain (simmodel.levers.LeverSpec.grade): grounded in a cited estimate,
# assumed with a range and its reasoning (drawn per replicate), or booked as cost with no modelled effect.
GRADES = {"en": {"grounded": "grounded", "assumed": "assumed", "cost_only": "cost only", "uncertainty": "uncertainty"},
          "zh": {"grounded": "有据", "assumed": "假设", "cost_only": "仅成本", "uncertainty": "外部不确定性"}}

# The four sources of what a replicate draws (simmodel.ensemble.SOURCES), as the variance
# decomposition and the drivers name them, and the overlap of their total effects (interactions
# counted in each source they involve).
SOURCE_NAMES = {"en": {"assumptions": "base-year assumptions", "behaviour": "behavioural parameters",
                       "estimates": "calibrated estimates", "shocks": "random shocks", "overlap": "overlap"},
                "zh": {"assumptions": "基年假设", "behaviour": "行为参数", "estimates": "校准估计", "shocks": "随机冲击",
                       "overlap": "重叠"}}

TEXT = {
    "en": {
        "year": "year", "median": "median projection", "band80": "80 % band", "band95": "95 % band",
        "base_year": "base year", "target_seed": "{year} target (draft)", "proxy": "{year} proxy (assumption)",
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
            "model": "模型", "emulator": "代理模型（仿真器）",
            # what each replicate draws (summary.json: uncertainty.sources)
            "base-year assumptions drawn from their ranges": "基年假设在其取值范围内抽取",
            "behavioural parameters and sector growth priors drawn from their ranges": "行为参数与行业增长先验在其取值范围内抽取",
            "calibrated parameters drawn from the calibration's covariance": "校准参数按校准协方差抽取",
            # the paired comparison with no_new_policy (summary.json: counterfactual.targets.*.verdict)
            "met either way": "有无新政策均实现", "missed either way": "有无新政策均未实现",
            "the policy raises the odds": "新政策提高实现概率", "the policy lowers the odds": "新政策降低实现概率",
            "no clear difference": "无明显差异"}


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


def grade(lang: str, g: str) -> str:
    """A lever's evidence grade in words (zh: 有据 / 假设 / 仅成本)."""
    return GRADES[lang].get(g, g)


def source_name(lang: str, source: str) -> str:
    """A source of uncertainty (assumptions, behaviour, estimates, shocks) or the overlap, in words."""
    return SOURCE_NAMES[lang].get(source, source)


def lever_name(lang: str, lever: str) -> str:
    """A lever's name: the seed's term in Chinese, the registry name with spaces in English."""
    if lang == "zh":
        return lever_names_zh().get(lever, lever)
    return lever.replace("_", " ")


# --- scenarios, parameters and values in words (issue 15: no English left in the Chinese memo) ----

# Each scenario file's name in Chinese (scenarios/<slug>.yaml; the file's '# 问题:' header line says
# what it asks). English memos print the slug itself: it is what a user types. A test checks that
# every scenario file has a name here.
SCENARIO_NAMES_ZH = {
    "baseline": "基准情景",
    "no_new_policy": "无新政策情景",
    "history": "历史重演情景",
    "ai_plus_fast": "“人工智能+”加速推广情景",
    "fund_life_8y": "基金存续期8年情景",
    "fund_yearly_profit": "基金按年度盈亏考核情景",
    "land_generous": "用地宽松情景",
    "land_tight": "用地从紧情景",
    "pilot_zones_plus": "先导区与“揭榜挂帅”倍增情景",
    "slow_breakthroughs": "技术突破推迟情景",
    "subsidy_double": "补助翻倍情景",
    "subsidy_half": "补助减半情景",
    "talent_surge": "人才倍增情景",
    "world_demand_shock": "外需走弱情景",
}

# The behavioural parameters (calibration/data/parameters.csv) in Chinese: memos name them where a
# replicate draws them (drivers), where the calibration estimates them (weakly identified ones) and
# where a run overrides them (params.overrides). The Chinese memo prints the name with the code in
# backticks beside it; a test checks that every parameter of the file has a name here.
PARAMETER_NAMES_ZH = {
    "growth_laplace_scale_annual": "企业年增长冲击尺度",
    "growth_volatility_size_elasticity": "增长波动的规模弹性",
    "growth_size_slope": "增长率对企业规模的斜率",
    "growth_young_premium_annual": "新企业增长溢价",
    "growth_young_halflife_years": "新企业增长溢价半衰期",
    "exit_hazard_base_annual": "成熟企业年退出风险",
    "exit_size_elasticity": "退出风险的规模弹性",
    "exit_young_excess": "新企业超额退出风险倍数",
    "exit_age_decay_years": "新企业超额退出风险衰减年限",
    "exit_hazard_cap_annual": "企业年退出风险上限",
    "entry_rate_annual": "年新创企业率",
    "entrant_revenue_median_cny_100m": "新创企业营收中位数",
    "entrant_revenue_sigma": "新创企业营收离散度",
    "startup_record_rate_annual": "新创企业入库科技型中小企业的年概率",
    "pilot_zone_entry_boost": "先导区对新创企业进入的带动",
    "incubator_entry_elasticity": "孵化器免费入驻对新创企业进入的带动",
    "innovation_base_annual": "企业年创新基准概率",
    "innovation_rd_elasticity": "创新概率的研发弹性",
    "innovation_step_mean": "单次创新的平均生产率提升",
    "subsidy_additionality": "补助的研发额外性",
    "basic_research_spillover": "基础研究溢出弹性",
    "talent_innovation_boost": "人才对企业创新的带动",
    "talent_leave_rate_annual": "人才年流失率",
    "talent_incentive_half_effect_cny_10k": "使人才流失率减半的激励额",
    "fund_deploy_years": "基金投资期",
    "fund_ticket_to_revenue": "单笔投资与被投企业营收之比",
    "fund_min_ticket_cny_100m": "基金最小单笔投资",
    "fund_equity_growth_boost": "股权投资对被投企业增长的带动",
    "fund_funded_hazard_multiplier": "获投企业的退出风险倍数",
    "fund_early_exit_revenue_cut": "基金提前退出造成的营收损失比例",
    "fund_early_exit_hazard_multiplier": "基金提前退出后的退出风险倍数",
    "fund_crowd_in_base_ratio": "基金撬动社会资本的基准倍数",
    "fund_crowd_in_life_elasticity": "撬动倍数的存续期弹性",
    "fund_yearly_profit_crowd_in_factor": "按年度盈亏考核时的撬动倍数系数",
    "fund_yearly_profit_horizon_years": "按年度盈亏考核的基金可接受的最长退出期",
    "fund_yearly_profit_loss_exit_prob": "按年度盈亏考核的基金卖出亏损持仓的年概率",
    "fund_maturity_discount_per_stage": "企业梯度每升一级的退出期缩短比例",
    "private_vc_commitment_cny_100m_per_year": "社会创投资本年新增募资",
    "private_vc_life_years": "社会创投基金存续期",
    "land_capacity_slack": "企业用地产能余量",
    "land_refused_growth_share": "用地申请被拒企业仍能实现的增长比例",
    "land_relocation_prob": "用地申请被拒企业的迁移概率",
    "land_plot_ratio_phase_in_years": "容积率调整全面生效年限",
    "little_giant_new_per_year": "年新增专精特新“小巨人”企业数",
    "single_champion_new_per_year": "年新增制造业单项冠军数",
    "high_tech_certification_rate_annual": "科技型中小企业年获高新技术企业认定概率",
    "high_tech_lapse_rate_annual": "高新技术企业资格年失效概率",
    "ladder_support_elasticity": "国家级认定数对梯度培育支持的弹性",
    "designation_growth_boost": "获认定企业的增长带动",
    "national_cluster_strength_elasticity": "国家集群胜出率对集群实力的弹性",
    "pilot_zone_min_future_firms": "申报先导区所需的最少未来产业企业数",
    "pilot_zone_removal_rate_annual": "先导区年摘牌概率",
    "flagship_demand_boost": "标志性产品和场景的需求带动",
    "ai_plus_productivity_gain": "应用“人工智能+”的生产率提升",
    "quality_brand_demand_boost": "“浙江制造”认证的需求带动",
    "spinoff_revenue_share": "裂变企业带走的母公司营收比例",
    "rest_of_economy_growth_pct": "模型外经济的名义增速",
    "grant_cap_utilisation": "补助实际额占上限的比例",
    "land_renovation_cost_cny_10k_per_mu": "每亩低效工业用地整治的财政成本",
    "base_age_mean_above_size_years": "基年规上企业平均年龄",
    "base_age_mean_tech_sme_years": "基年科技型中小企业平均年龄",
    "base_productivity_dispersion": "基年企业生产率离散度",
    "base_rd_dispersion": "行业内研发强度离散度",
    "largest_firm_revenue_cny_100m": "最大企业营收上限",
    "spinoff_same_sector_prob": "裂变企业留在母公司行业的概率",
    "fund_early_exit_penalty_years": "基金提前退出后退出风险升高的年限",
    "national_cluster_innovation_elasticity": "国家集群胜出率对集群生产率的半弹性",
    "fund_follow_on_share": "基金年度预算中留作追加投资的比例",
    "fund_follow_on_ticket_ratio": "追加投资与首笔投资之比",
    "emerging_growth_shift_pct": "新兴和未来产业增长先验的平移",
    "traditional_growth_shift_pct": "传统产业增长先验的平移",
    "aggregate_growth_shock_sd": "全省年度增长冲击标准差",
    "pilot_zone_batch_prob_annual": "全省年内认定一批先导区的概率",
    "pilot_zone_min_future_revenue_cny_100m": "申报先导区所需的最低未来产业营收",
    "national_cluster_round_prob_annual": "国家先进制造业集群年内开展竞赛的概率",
    "national_cluster_winners_per_round": "每轮国家先进制造业集群胜出数",
    "national_cluster_zhejiang_share": "每轮胜出集群中浙江所占比例",
    "national_cluster_bid_elasticity": "浙江胜出概率对争创力度的弹性",
    "future_type_support_years": "未来型企业认定和支持年限",
    "fund_min_tte_share": "新投资的最短退出期占孕育期的比例",
    "compute_voucher_min_digital_share": "享受算力券的行业数字经济核心占比下限",
    "high_tech_lapse_multiplier_below_threshold": "研发强度不达标的高新技术企业资格失效倍数",
    "little_giant_min_revenue_cny_100m": "“小巨人”企业最低营收",
    "little_giant_max_revenue_cny_100m": "“小巨人”企业最高营收",
    "single_champion_min_revenue_cny_100m": "单项冠军最低营收",
    "selection_rd_weight": "认定遴选中研发强度的权重",
    "growth_laplace_scale_min": "增长冲击尺度下限",
    "growth_laplace_scale_max": "增长冲击尺度上限",
    "new_track_entry_effect": "新赛道市场准入放宽对新创企业进入的带动",
    "finance_hazard_reduction_pct": "金融支持措施降低的小企业退出风险",
}

# Values of a lever that are words, not numbers (simmodel.levers.FundRegime)
VALUE_NAMES_ZH = {"portfolio": "整体业绩考核", "yearly_profit": "按年度盈亏考核"}


def scenario_name(lang: str, slug: str) -> str:
    """A scenario's name: the slug in English, the Chinese name in Chinese: from SCENARIO_NAMES_ZH, else
    the file's '# 名称:' header line (a scenario saved from the explorer has one), else ''."""
    if lang == "zh":
        return SCENARIO_NAMES_ZH.get(slug) or scenario_header(slug, "名称:")
    return slug


def scenario_header(slug: str, key: str, scenario_dir: Path | None = None) -> str:
    """The value of a '# key ...' line in the header of scenarios/<slug>.yaml ('' where there is none)."""
    from simmodel.config import PROJECT_ROOT

    path = Path(scenario_dir or PROJECT_ROOT / "scenarios") / f"{slug}.yaml"
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", str(slug)) or not path.is_file():
        return ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if text.startswith(key):
            return text[len(key):].strip()
    return ""


def parameter_name(lang: str, name: str) -> str:
    """A behavioural parameter's Chinese name ('' where it has none, and always in English, where
    the memo prints the code name itself)."""
    return PARAMETER_NAMES_ZH.get(name, "") if lang == "zh" else ""


def value_name(lang: str, value) -> str:
    """A lever's value in words where it is a word (a fund regime), else as it is."""
    v = getattr(value, "value", value)
    return VALUE_NAMES_ZH.get(str(v), str(v)) if lang == "zh" else str(v)


_EN_UNIT_SUFFIX = re.compile(r"(?:_(?:cny|10k|100m|pct|mu|years)|_per_(?:year|project))+$")


def lever_short_en(lever: str) -> str:
    """A lever's English name without the unit its code name ends in (the value's unit follows it
    in a job's label): fund_life_years -> 'fund life', n_chain_projects_per_year -> 'number of
    chain projects'."""
    stem = _EN_UNIT_SUFFIX.sub("", lever) or lever
    words = stem.replace("_", " ")
    return "number of " + words[2:] if words.startswith("n ") else words


# Notes of the variance decomposition (simmodel/decompose.py), in Chinese
_NOTES_ZH = [
    (re.compile(r"the output does not vary \(its variance is 0 or not finite\): no share of variance to decompose"),
     "输出不变（方差为 0 或非有限值）：没有可分解的方差份额"),
    (re.compile(r"(\d+) of (\d+) main outputs are not finite and were left out"), r"\2 个主输出中有 \1 个不是有限值，已剔除"),
    (re.compile(r"(\d+) of (\d+) pairs dropped \(an output is NaN or infinite\)"), r"\2 对中有 \1 对因输出非有限值而剔除"),
    (re.compile(r"the output does not vary: st is undefined"), "输出不变：全效应指数无定义"),
    (re.compile(r"no valid pair: st is undefined"), "没有有效的配对：全效应指数无定义"),
]


def note_zh(note: str) -> str | None:
    """A decomposition note in Chinese, each '; '-separated part translated; None where a part is
    not known (the memo then quotes the note as written)."""
    out = []
    for part in str(note).split("; "):
        for pattern, repl in _NOTES_ZH:
            if pattern.fullmatch(part):
                out.append(pattern.sub(repl, part))
                break
        else:
            return None
    return "；".join(out)


# The 24 measures' headings: Chinese verbatim from the seed (the first sentence of each numbered
# measure, （一）-（二十四）), English our translation. The explorer groups its levers under them.
ARTICLE_TITLES = {
    "zh": {1: "实施集群提能升级壮大新兴产业", 2: "推进产业链协同创新提升新兴产业", 3: "深化“人工智能+”赋能新兴产业",
           4: "推动企业内生裂变催生新兴产业", 5: "以技术预见识别发展方向", 6: "以区域先导引领前瞻布局",
           7: "以业态模式创新开辟新赛道", 8: "以投入增长激活新动力", 9: "面向全球开放引才", 10: "适度超前精准育才",
           11: "产业导向用好人才", 12: "加强原创性颠覆性创新", 13: "支持核心技术攻关", 14: "加速成果产业化应用",
           15: "选种育苗孵化企业", 16: "精准招引培优企业", 17: "分类施策育强企业", 18: "支持产品市场开拓",
           19: "提供场景应用机会", 20: "加强质量品牌建设", 21: "加强用地供给", 22: "强化基金引导", 23: "创新金融服务",
           24: "加强数据供给"},
    "en": {1: "Upgrade the clusters to grow emerging industries",
           2: "Lift emerging industries by innovation along the chain",
           3: "Empower emerging industries with \"AI+\"",
           4: "Spawn emerging industries from firms' own spin-offs",
           5: "Find directions by technology foresight",
           6: "Lay out future industries early through pilot zones",
           7: "Open new tracks with new business forms and models",
           8: "Activate new drivers by growing investment",
           9: "Recruit talent openly worldwide",
           10: "Train talent precisely and somewhat ahead of need",
           11: "Use talent where industry needs it",
           12: "Strengthen original and disruptive innovation",
           13: "Support breakthroughs in core technologies",
           14: "Speed up the industrial use of research results",
           15: "Select seeds and incubate firms",
           16: "Attract and cultivate firms precisely",
           17: "Grow firms stronger with measures by kind",
           18: "Support products in opening markets",
           19: "Offer scenarios for applications",
           20: "Strengthen quality and brands",
           21: "Strengthen the supply of land",
           22: "Strengthen the guidance of funds",
           23: "Innovate financial services",
           24: "Strengthen the supply of data"},
}


def article_title(lang: str, article: int) -> str:
    """A measure's heading in the seed ('第 N 条' is not the seed's numbering: it numbers （一）-（二十四）)."""
    return ARTICLE_TITLES[lang].get(article, str(article))
