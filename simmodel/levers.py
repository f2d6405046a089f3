"""The lever registry: every measure of the seed policy as a typed, range-checked parameter.

One dataclass field per lever. Its metadata (a :class:`LeverSpec`) carries the seed article, the
unit, the allowed range, the value under the ``no_new_policy`` counterfactual, where the default
comes from, the mechanism, and the function in the code where the lever acts. The field's default is
the seed's number where the seed gives one, otherwise a labelled assumption.

Uncertainties (what nobody in the province controls) are declared the same way in
:class:`Uncertainties`, and kept apart from levers as in the EMA Workbench.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import math
from dataclasses import dataclass, field, fields
from typing import Any

from simmodel.errors import ConfigError


LEVER_GRADES = ("grounded", "assumed", "cost_only")


class FundRegime(str, enum.Enum):
    """How government funds are judged (seed art. 22). Member names are lower case because they
    are what a user types (OmegaConf matches enum values by member name)."""

    portfolio = "portfolio"  # judged on the whole portfolio over the fund's life
    yearly_profit = "yearly_profit"  # judged on each year's profit and loss


@dataclass(frozen=True)
class LeverSpec:
    """Declaration of one lever or uncertainty. Ranges are closed intervals."""

    article: int  # seed article (1-24); 0 for uncertainties
    unit: str
    low: float
    high: float
    no_new_policy: Any  # value under the counterfactual (measures off or pre-2025 level)
    source: str  # "seed art. N: ..." or "assumption: ..." or "data: ..."
    mechanism: str
    acts_in: str  # module.function where it acts
    # Pedigree of the lever's effect chain (LEVER_GRADES): "grounded" (each step's strength from a
    # cited estimate), "assumed" (a strength with a range and its reasoning, drawn per replicate), or
    # "cost_only" (it is booked as fiscal cost; no modelled effect). Uncertainties: "uncertainty".
    grade: str = "assumed"
    strength: str = ""  # the behavioural parameter(s) that set how strongly it acts, if any
    choices: tuple[str, ...] = ()


def lever(default: Any, **spec: Any) -> Any:
    """A dataclass field that carries its LeverSpec in metadata."""
    return field(default=default, metadata={"lever": LeverSpec(**spec)})


_NONE = "none: this measure is new in the seed"


@dataclass
class Levers:
    """Policy levers, one per measure of the seed (24 articles). Units are in the names."""

    # art. 1 ----------------------------------------------------------------------------------
    national_cluster_bid_intensity: float = lever(
        1.0, article=1, unit="index (1 = the 2021-2024 bid effort)", low=0.0, high=3.0,
        no_new_policy=1.0,
        source="assumption: 1 is the effort behind the 2021-2024 rounds; the seed asks to 'bid for national clusters' without a number",
        mechanism="raises the quality of the province's bids in the rounds of the national advanced-manufacturing cluster competition: the odds that a national winner is a Zhejiang cluster scale as index^national_cluster_bid_elasticity (T4)",
        acts_in="simmodel.agents.government.Government.bid_national_clusters", strength="national_cluster_bid_elasticity")
    # art. 2 ----------------------------------------------------------------------------------
    n_chain_projects_per_year: int = lever(
        50, article=2, unit="projects per yr", low=0, high=500, no_new_policy=0,
        source="seed art. 2: 50 core / chokepoint industrialisation projects a year",
        mechanism="the government selects that many emerging-cluster firms a year; the grant raises their R&D by the additionality, R&D raises innovation and productivity",
        acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    chain_project_grant_cny_10k: float = lever(
        500.0, article=2, unit="CNY 10k per project", low=0.0, high=5000.0, no_new_policy=500.0,
        source="assumption: the seed gives 'tiered support' without an amount; CNY 5 m is half the art. 13 key-technology cap",
        mechanism="grant size per chain project (booked to n_chain_projects_per_year)",
        acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    # art. 3 ----------------------------------------------------------------------------------
    ai_plus_adoption_pct_per_year: float = lever(
        10.0, article=3, unit="% of non-adopters per yr", low=0.0, high=50.0, no_new_policy=4.0,
        source="assumption: 10 %/yr under the AI+ programme, 4 %/yr pre-2025 diffusion",
        mechanism="share of above-size firms not yet using AI+ that adopt it each year; an adopter gains ai_plus_productivity_gain in productivity over a year",
        acts_in="simmodel.model.stages.ai_plus.adopt_ai_plus", grade="assumed", strength="ai_plus_productivity_gain")
    # art. 4 ----------------------------------------------------------------------------------
    spinoff_rate_pct_per_year: float = lever(
        0.6, article=4, unit="% of eligible incumbents per yr", low=0.0, high=5.0, no_new_policy=0.3,
        source="assumption: 0.3 %/yr organic spin-offs, doubled by the carve-out and tax-sharing measures",
        mechanism="high-tech and larger incumbents create new firms in emerging or future sectors, each taking spinoff_revenue_share of the parent's revenue",
        acts_in="simmodel.model.stages.enter.spin_off", grade="assumed", strength="spinoff_revenue_share, spinoff_same_sector_prob")
    # art. 5 ----------------------------------------------------------------------------------
    foresight_targeting_weight: float = lever(
        0.5, article=5, unit="weight 0-1", low=0.0, high=1.0, no_new_policy=0.0,
        source="assumption: foresight committee gives support a 50 % weight on sector prospects",
        mechanism="weight of a sector's prospects (vs the firm's own productivity) in the score by which grant and market recipients are selected; prospects are what a planner can know in that year: each sector's observed revenue growth over the past years of the simulation (none in the first year), never the model's growth priors",
        acts_in="simmodel.agents.government.Government.select_recipients", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    # art. 6 ----------------------------------------------------------------------------------
    pilot_zones_planned_per_batch: int = lever(
        7, article=6, unit="zones per batch", low=0, high=30, no_new_policy=5,
        source="seed art. 6: 35 provincial future-industry pilot zones by 2027; from the end-2024 stock (base-year table, 8 + a second batch) at one batch a year that is a plan of about 7 a batch; before 2025: 8 in the 2022 batch, at least 5 listed in H1 2025",
        mechanism="the province's plan for each designation batch; a batch is held in a year with probability pilot_zone_batch_prob_annual and designates at most the planned number among the (city, future sector) places that meet the programme's criteria (pilot_zone_min_future_firms, pilot_zone_min_future_revenue_cny_100m): the number reached is what qualifying places allow (T5); zones raise entry in their city and sector",
        acts_in="simmodel.agents.government.Government.designate_pilot_zones",
        strength="pilot_zone_entry_boost, pilot_zone_batch_prob_annual, pilot_zone_min_future_revenue_cny_100m")
    n_open_competition_tasks_per_year: int = lever(
        30, article=6, unit="tasks per yr", low=0, high=500, no_new_policy=0,
        source="assumption: the seed's open-competition (揭榜挂帅) tasks for pilot zones, count not given",
        mechanism="grants to firms in pilot-zone cities and sectors; raise R&D by the additionality",
        acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    open_competition_grant_cny_10k: float = lever(
        1000.0, article=6, unit="CNY 10k per task", low=0.0, high=10000.0, no_new_policy=1000.0,
        source="assumption: 'tiered support' from provincial funds; CNY 10 m, the art. 13 key-technology cap",
        mechanism="grant size per open-competition task",
        acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    # art. 7 ----------------------------------------------------------------------------------
    new_track_access_index: float = lever(
        1.0, article=7, unit="index (1 = the seed's market-access easing)", low=0.0, high=3.0, no_new_policy=0.0,
        source="seed art. 7: market access and application scenarios for new tracks (low-altitude economy, commercial space, autonomous driving); 0 before",
        mechanism="raises start-up entry in the new-track sectors by new_track_entry_effect x index",
        acts_in="simmodel.model.stages.enter.expected_entrants", strength="new_track_entry_effect")
    # art. 8 ----------------------------------------------------------------------------------
    future_industry_funding_share_pct: float = lever(
        30.0, article=8, unit="% of grants", low=0.0, high=100.0, no_new_policy=10.0,
        source="assumption: the seed raises the future-industry share of S&T and industry money; 10 % before, 30 % after",
        mechanism="share of each firm-grant programme given to firms in future industries and new tracks (reserved for them, and since the rest goes by score to other firms, also their ceiling)",
        acts_in="simmodel.agents.government.Government.select_recipients", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    # art. 9-11 -------------------------------------------------------------------------------
    n_talents_recruited_per_year: int = lever(
        100, article=9, unit="talents (teams) per yr", low=0, high=2000, no_new_policy=0,
        source="seed art. 9: 100 high-level talents (teams) recruited a year",
        mechanism="new talents matched to firms in emerging and future sectors; each raises its firm's innovation hazard",
        acts_in="simmodel.agents.talent.TalentPool.recruit", grade="assumed", strength="talent_innovation_boost, talent_leave_rate_annual")
    n_talents_cultivated_per_year: int = lever(
        100, article=10, unit="talents (teams) per yr", low=0, high=2000, no_new_policy=0,
        source="seed art. 10: 100 high-level talents (teams) cultivated a year",
        mechanism="as recruited talents, matched a year later (training lag)",
        acts_in="simmodel.agents.talent.TalentPool.recruit", grade="assumed", strength="talent_innovation_boost, talent_leave_rate_annual")
    talent_incentive_cny_10k_per_year: float = lever(
        50.0, article=11, unit="CNY 10k per talent per yr", low=0.0, high=1000.0, no_new_policy=0.0,
        source="assumption: dual appointments, income and reward incentives worth CNY 0.5 m a talent a year",
        mechanism="lowers the rate at which talents leave: leave rate / (1 + incentive / talent_incentive_half_effect_cny_10k)",
        acts_in="simmodel.agents.talent.TalentPool.retain", grade="assumed", strength="talent_incentive_half_effect_cny_10k")
    # art. 12 ---------------------------------------------------------------------------------
    n_basic_research_grants_per_year: int = lever(
        600, article=12, unit="grants per yr", low=0, high=10000, no_new_policy=600,
        source="assumption: grants funded by the natural-science and applied-basic-research programmes (which predate the seed)",
        mechanism="basic-research money goes to universities and institutes; every firm's innovation hazard rises by (1 + the year's basic-research grants / base-year public R&D)^basic_research_spillover",
        acts_in="simmodel.agents.government.Government.fund_basic_research", grade="assumed", strength="basic_research_spillover")
    natural_science_grant_cap_cny_10k: float = lever(
        100.0, article=12, unit="CNY 10k per grant", low=0.0, high=1000.0, no_new_policy=100.0,
        source="seed art. 12: up to CNY 1 m per natural-science-fund project",
        mechanism="cap per natural-science grant",
        acts_in="simmodel.agents.government.Government.fund_basic_research", grade="assumed", strength="basic_research_spillover")
    applied_basic_research_grant_cap_cny_10k: float = lever(
        300.0, article=12, unit="CNY 10k per grant", low=0.0, high=3000.0, no_new_policy=300.0,
        source="seed art. 12: up to CNY 3 m per applied-basic-research project",
        mechanism="cap per applied-basic-research grant",
        acts_in="simmodel.agents.government.Government.fund_basic_research", grade="assumed", strength="basic_research_spillover")
    applied_basic_research_share_pct: float = lever(
        30.0, article=12, unit="% of basic-research grants", low=0.0, high=100.0, no_new_policy=30.0,
        source="assumption: 30 % of basic-research grants are applied projects",
        mechanism="mix of the two grant types",
        acts_in="simmodel.agents.government.Government.fund_basic_research", grade="assumed", strength="basic_research_spillover")
    # art. 13 ---------------------------------------------------------------------------------
    n_key_tech_projects_per_year: int = lever(
        100, article=13, unit="projects per yr", low=0, high=1000, no_new_policy=100,
        source="assumption: number of key-technology projects a year (programme predates the seed)",
        mechanism="R&D grants to high-tech firms and above, raising R&D by the additionality",
        acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    key_tech_grant_cap_cny_10k: float = lever(
        1000.0, article=13, unit="CNY 10k per project", low=0.0, high=10000.0, no_new_policy=1000.0,
        source="seed art. 13: up to CNY 10 m per key-technology project",
        mechanism="cap per key-technology grant", acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    n_innovation_consortia_per_year: int = lever(
        10, article=13, unit="consortia per yr", low=0, high=200, no_new_policy=10,
        source="assumption: provincial innovation consortia funded a year",
        mechanism="large R&D grants to chain-leading firms (little giants, champions)",
        acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    consortium_grant_cap_cny_10k: float = lever(
        3000.0, article=13, unit="CNY 10k per consortium", low=0.0, high=30000.0, no_new_policy=3000.0,
        source="seed art. 13: up to CNY 30 m per provincial innovation consortium",
        mechanism="cap per consortium grant", acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    n_province_local_projects_per_year: int = lever(
        30, article=13, unit="projects per yr", low=0, high=500, no_new_policy=30,
        source="assumption: province-local joint projects a year",
        mechanism="R&D grants to high-tech firms chosen by cities",
        acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    province_local_grant_cap_cny_10k: float = lever(
        2000.0, article=13, unit="CNY 10k per project", low=0.0, high=20000.0, no_new_policy=2000.0,
        source="seed art. 13: up to CNY 20 m per province-local project",
        mechanism="cap per province-local grant", acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    # art. 14 ---------------------------------------------------------------------------------
    n_pilot_platforms_provincial_per_year: int = lever(
        10, article=14, unit="platforms per yr", low=0, high=200, no_new_policy=0,
        source="assumption: provincial concept-verification / pilot-scale platforms recognised a year",
        mechanism="grants to firms hosting platforms; raise R&D and innovation",
        acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    pilot_platform_grant_provincial_cny_10k: float = lever(
        1000.0, article=14, unit="CNY 10k per platform", low=0.0, high=10000.0, no_new_policy=1000.0,
        source="seed art. 14: CNY 10 m per provincial pilot platform",
        mechanism="grant per provincial platform", acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    n_pilot_platforms_national_per_year: int = lever(
        2, article=14, unit="platforms per yr", low=0, high=50, no_new_policy=0,
        source="assumption: national pilot platforms recognised a year",
        mechanism="as provincial platforms", acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    pilot_platform_grant_national_cny_10k: float = lever(
        3000.0, article=14, unit="CNY 10k per platform", low=0.0, high=30000.0, no_new_policy=3000.0,
        source="seed art. 14: CNY 30 m per national pilot platform",
        mechanism="grant per national platform", acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    n_patent_projects_per_year: int = lever(
        100, article=14, unit="projects per yr", low=0, high=2000, no_new_policy=100,
        source="assumption: high-value patent projects a year (programme predates the seed)",
        mechanism="small R&D grants to tech SMEs and high-tech firms",
        acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    patent_project_grant_cny_10k: float = lever(
        30.0, article=14, unit="CNY 10k per project", low=0.0, high=300.0, no_new_policy=30.0,
        source="seed art. 14: up to CNY 0.3 m per high-value patent project",
        mechanism="cap per patent project", acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    n_patent_bases_per_year: int = lever(
        10, article=14, unit="bases per yr", low=0, high=200, no_new_policy=10,
        source="assumption: new high-value patent bases a year",
        mechanism="grants to high-tech firms hosting a base",
        acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    patent_base_grant_cny_10k: float = lever(
        100.0, article=14, unit="CNY 10k per base", low=0.0, high=1000.0, no_new_policy=100.0,
        source="seed art. 14: up to CNY 1 m per high-value patent base",
        mechanism="cap per patent base", acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    # art. 15 ---------------------------------------------------------------------------------
    incubator_free_entry_pct: float = lever(
        100.0, article=15, unit="% of public incubator places free", low=0.0, high=100.0, no_new_policy=0.0,
        source="seed art. 15: newly registered firms may enter government-built incubators free of charge",
        mechanism="raises start-up entry by incubator_entry_elasticity x lever / 100",
        acts_in="simmodel.model.stages.enter.expected_entrants", grade="assumed", strength="incubator_entry_elasticity")
    # art. 16 ---------------------------------------------------------------------------------
    n_attracted_projects_per_year: int = lever(
        50, article=16, unit="projects per yr", low=0, high=1000, no_new_policy=30,
        source="assumption: 30 large emerging-industry projects attracted a year before, 50 with the seed's targeted attraction",
        mechanism="new above-size firms in emerging clusters, sized from the base-year size law of above-size firms; each needs land from its city's budget that year or the project goes elsewhere",
        acts_in="simmodel.agents.government.Government.attract_projects", grade="assumed", strength="land_per_va (data), the base-year size law")
    attraction_grant_cny_10k_per_project: float = lever(
        1000.0, article=16, unit="CNY 10k per project", low=0.0, high=20000.0, no_new_policy=1000.0,
        source="assumption: tiered support per attracted project, CNY 10 m",
        mechanism="cost, no modelled effect: the price of each attracted project (booked to n_attracted_projects_per_year's line); how many come is set by n_attracted_projects_per_year", acts_in="simmodel.agents.government.Government.attract_projects", grade="cost_only")
    # art. 17 ---------------------------------------------------------------------------------
    n_future_type_firms_per_year: int = lever(
        100, article=17, unit="firms per yr", low=0, high=1000, no_new_policy=0,
        source="seed art. 17: 100 'future-type' firms cultivated a year",
        mechanism="selected future-industry firms get a grant (future_type_firm_grant_cny_10k) and designation_growth_boost",
        acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="designation_growth_boost, future_type_support_years, subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    future_type_firm_grant_cny_10k: float = lever(
        200.0, article=17, unit="CNY 10k per firm", low=0.0, high=5000.0, no_new_policy=200.0,
        source="assumption: CNY 2 m support per future-type firm",
        mechanism="grant per future-type firm", acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")
    ladder_support_index: float = lever(
        1.5, article=17, unit="index (1 = pre-2025 support)", low=0.0, high=3.0, no_new_policy=1.0,
        source="assumption: the seed 'increases support' for tech SMEs, specialised SMEs and champions by half",
        mechanism="scales high-tech certification and the number of little giants and champions won (elasticity ladder_support_elasticity)",
        acts_in="simmodel.model.stages.ladder.climb_ladder", grade="assumed", strength="ladder_support_elasticity")
    # art. 18-20 ------------------------------------------------------------------------------
    n_flagship_products_per_year: int = lever(
        100, article=18, unit="products per yr", low=0, high=1000, no_new_policy=0,
        source="seed art. 18: 100 flagship products (technologies) a year",
        mechanism="first-purchase and procurement: the chosen firms grow by flagship_demand_boost for a year",
        acts_in="simmodel.agents.government.Government.open_markets", grade="assumed", strength="flagship_demand_boost")
    n_flagship_scenarios_per_year: int = lever(
        100, article=19, unit="scenarios per yr", low=0, high=1000, no_new_policy=0,
        source="seed art. 19: 100 flagship application scenarios a year",
        mechanism="scenario winners (emerging and future firms) grow by flagship_demand_boost for a year",
        acts_in="simmodel.agents.government.Government.open_markets", grade="assumed", strength="flagship_demand_boost")
    n_quality_certifications_per_year: int = lever(
        200, article=20, unit="certifications per yr", low=0, high=5000, no_new_policy=200,
        source="assumption: 'Made in Zhejiang' certifications a year (programme predates the seed)",
        mechanism="certified firms grow by quality_brand_demand_boost for a year",
        acts_in="simmodel.agents.government.Government.open_markets", grade="assumed", strength="quality_brand_demand_boost")
    # art. 21 ---------------------------------------------------------------------------------
    land_quota_mu_per_year: float = lever(
        127000.0, article=21, unit="mu per yr", low=0.0, high=500000.0, no_new_policy=127000.0,
        source="data: industrial land transferred in 2020, 127000 mu (the only year in the data)",
        mechanism="new industrial land the cities can allocate to firms' requests each year (rationed by simmodel.agents.cities.allocate_land)",
        acts_in="simmodel.agents.cities.City.open_year", grade="assumed", strength="land_refused_growth_share, land_capacity_slack, land_relocation_prob")
    land_renovation_mu_per_year: float = lever(
        30000.0, article=21, unit="mu per yr", low=0.0, high=200000.0, no_new_policy=10000.0,
        source="assumption: renovation of low-efficiency industrial land, 10000 mu/yr before, 30000 with the seed's push",
        mechanism="renovated land added to the cities' allocable stock (cost land_renovation_cost_cny_10k_per_mu)",
        acts_in="simmodel.agents.cities.City.open_year", grade="assumed", strength="land_refused_growth_share, land_capacity_slack, land_renovation_cost_cny_10k_per_mu")
    land_priority_emerging_pct: float = lever(
        50.0, article=21, unit="% of quota", low=0.0, high=100.0, no_new_policy=0.0,
        source="assumption: the seed gives new construction-land quota to emerging and future projects first; share reserved",
        mechanism="share of each city's quarterly land budget served first to emerging-cluster and future-industry requests",
        acts_in="simmodel.agents.cities.allocate_land", grade="assumed", strength="land_refused_growth_share")
    plot_ratio_multiplier: float = lever(
        1.15, article=21, unit="multiple of base plot ratio", low=0.5, high=2.0, no_new_policy=1.0,
        source="assumption: higher plot ratio and building density ('上楼入地') raise output per mu by 15 %",
        mechanism="raises value added per mu of land (phased in over land_plot_ratio_phase_in_years), so growth needs less new land",
        acts_in="simmodel.agents.cities.plot_ratio_effect", grade="assumed", strength="land_plot_ratio_phase_in_years")
    # art. 22 ---------------------------------------------------------------------------------
    fund_life_years: int = lever(
        20, article=22, unit="years", low=1, high=20, no_new_policy=10,
        source="seed art. 22: fund life up to 20 years; pre-2025 guidance funds typically 7-10 years (assumption: 10)",
        mechanism="life of the government fund vintages raised from the policy's first year on (earlier vintages, and those of a replayed history, keep the life they were raised with): a fund backs only firms whose time to exit fits in its remaining life; at the end of life it exits everything, early exits cut revenue and raise exit hazard; longer lives crowd in more private money",
        acts_in="simmodel.agents.funds.screen", grade="assumed", strength="fund_crowd_in_life_elasticity, fund_early_exit_revenue_cut, fund_early_exit_hazard_multiplier, fund_equity_growth_boost, fund_funded_hazard_multiplier, fund_crowd_in_base_ratio")
    fund_evaluation_regime: FundRegime = lever(
        FundRegime.portfolio, article=22, unit="regime", low=math.nan, high=math.nan,
        no_new_policy=FundRegime.yearly_profit,
        source="seed art. 22: funds not judged on one project or one year's profit",
        mechanism="yearly_profit: funds back only firms with a short time to exit, sell holdings whose revenue fell, and crowd in less",
        acts_in="simmodel.agents.funds.screen", choices=tuple(r.value for r in FundRegime), grade="assumed", strength="fund_yearly_profit_horizon_years, fund_yearly_profit_loss_exit_prob, fund_yearly_profit_crowd_in_factor")
    fund_max_single_project_pct: float = lever(
        20.0, article=22, unit="% of fund capital incl. crowd-in", low=1.0, high=50.0, no_new_policy=10.0,
        source="assumption: the seed raises the single-project share; 10 % before, 20 % after",
        mechanism="cap on one ticket as a share of the fund",
        acts_in="simmodel.agents.funds.screen", grade="assumed", strength="fund_ticket_to_revenue")
    future_industry_fund_cny_100m: float = lever(
        100.0, article=22, unit="CNY 100m", low=0.0, high=2000.0, no_new_policy=0.0,
        source="assumption: the seed proposes a future-industry fund without a size",
        mechanism="a new government fund (vintage = the policy's first year, 2025) investing only in future industries",
        acts_in="simmodel.agents.government.Government.commit_funds", grade="assumed", strength="fund_equity_growth_boost, fund_funded_hazard_multiplier, fund_crowd_in_base_ratio")
    state_vc_fund_cny_100m: float = lever(
        150.0, article=22, unit="CNY 100m", low=0.0, high=2000.0, no_new_policy=0.0,
        source="data: first batch of state-capital venture fund clusters, CNY 15 bn (2025)",
        mechanism="a new government venture fund (vintage = the policy's first year, 2025) investing in start-ups, tech SMEs and high-tech firms of emerging and future sectors",
        acts_in="simmodel.agents.government.Government.commit_funds", grade="assumed", strength="fund_equity_growth_boost, fund_funded_hazard_multiplier, fund_crowd_in_base_ratio")
    provincial_fund_commitment_cny_100m_per_year: float = lever(
        40.0, article=22, unit="CNY 100m per yr", low=0.0, high=1000.0, no_new_policy=40.0,
        source="data (derived): provincial industry funds grew from 200 at set-up (2015) to ~600 subscribed (2025): 40 a year",
        mechanism="a new provincial fund vintage each year",
        acts_in="simmodel.agents.government.Government.commit_funds", grade="assumed", strength="fund_equity_growth_boost, fund_funded_hazard_multiplier, fund_crowd_in_base_ratio")
    # art. 23 ---------------------------------------------------------------------------------
    small_firm_finance_index: float = lever(
        1.0, article=23, unit="index (1 = the seed's finance package)", low=0.0, high=3.0, no_new_policy=0.0,
        source="seed art. 23: equity-loan-bond-insurance linkage, credit and IP-pledge loans, loan renewal without principal repayment; 0 before",
        mechanism="cuts the exit hazard of tech SMEs, high-tech firms and little giants below CNY 200 m revenue by finance_hazard_reduction_pct x index (at most 80 %)",
        acts_in="simmodel.agents.firms.exit_hazard", strength="finance_hazard_reduction_pct")
    # art. 24 ---------------------------------------------------------------------------------
    compute_voucher_cny_100m_per_year: float = lever(
        5.0, article=24, unit="CNY 100m per yr", low=0.0, high=200.0, no_new_policy=0.0,
        source="assumption: compute and corpus vouchers worth CNY 500 m a year",
        mechanism="vouchers go to digital-core firms in proportion to their size and act as R&D grants (additionality)",
        acts_in="simmodel.agents.government.Government.award_grants", grade="assumed", strength="compute_voucher_min_digital_share, subsidy_additionality, innovation_rd_elasticity, innovation_step_mean")


@dataclass
class Uncertainties:
    """Exogenous uncertainties: not levers, nobody in the province sets them."""

    world_demand_shift_pct: float = lever(
        0.0, article=0, unit="pp of annual growth", low=-10.0, high=5.0, no_new_policy=0.0,
        source="assumption: 0 = world demand as in the growth priors",
        mechanism="added to the annual growth of every industrial sector",
        acts_in="simmodel.model.stages.rates.sector_shift", grade="uncertainty")
    breakthrough_delay_years: float = lever(
        0.0, article=0, unit="years", low=0.0, high=10.0, no_new_policy=0.0,
        source="assumption: 0 = long-horizon future industries mature as in their growth priors",
        mechanism="long-horizon future industries grow at their low growth prior until the delay has passed, and their gestation (time to a fund exit) is longer by the delay",
        acts_in="simmodel.model.stages.rates.sector_shift", grade="uncertainty")


def specs(cls: type = Levers) -> dict[str, LeverSpec]:
    """Name -> LeverSpec for every lever (or uncertainty) of ``cls``, in declaration order."""
    return {f.name: f.metadata["lever"] for f in fields(cls)}


def defaults(cls: type = Levers) -> dict[str, Any]:
    return {f.name: f.default for f in fields(cls)}


def no_new_policy_values() -> dict[str, Any]:
    return {name: s.no_new_policy for name, s in specs(Levers).items()}


@dataclass(frozen=True)
class PolicyHistory:
    """The levers in force in the years before the draft's measures switch on.

    Years from ``start_year`` on run under the scenario's levers. An earlier year runs under the
    ``no_new_policy`` values (the programmes as they were before the draft) changed by every step
    ``(from_year, values)`` with ``from_year`` at or before it, in order: a step holds until the next
    one changes the same lever. ``scenarios/history.yaml`` gives Zhejiang's steps with their sources.
    A run whose base year is start_year - 1 (the default, 2024) never sees a step."""

    start_year: int = 2025
    steps: tuple[tuple[int, tuple[tuple[str, Any], ...]], ...] = ()

    def levers_at(self, year: int, levers: Levers) -> Levers:
        """The levers in force in ``year``, ``levers`` being the scenario's (from start_year)."""
        if year >= self.start_year:
            return levers
        values = no_new_policy_values()
        for from_year, changes in self.steps:
            if from_year <= year:
                values.update(changes)
        return _pre_policy(tuple(sorted(values.items())))


@functools.lru_cache(maxsize=256)
def _pre_policy(items: tuple[tuple[str, Any], ...]) -> Levers:
    """One Levers object per distinct pre-policy setting (built once: the model asks every year)."""
    values = dict(items)
    values["fund_evaluation_regime"] = FundRegime(values["fund_evaluation_regime"])
    return Levers(**values)


def policy_history(start_year: int, steps: dict) -> PolicyHistory:
    """Build and check a PolicyHistory from a config mapping {from_year: {lever: value}}: every name
    must be a lever, every value in its declared range, every year before start_year."""
    known = specs(Levers)
    years = {}
    for key in steps:
        try:
            years[key] = int(key)
        except (TypeError, ValueError):
            raise ConfigError(f"policy_history.levers: {key!r} is not a year; allowed: years before "
                              f"policy_history.start_year = {start_year}") from None
    out = []
    for key in sorted(steps, key=years.get):
        year = years[key]
        if year >= start_year:
            raise ConfigError(f"policy_history.levers.{year}: a step must come before policy_history.start_year = "
                              f"{start_year} (from then on the scenario's levers apply)")
        if not isinstance(steps[key] or {}, dict):
            raise ConfigError(f"policy_history.levers.{year}: expected lever names and values, not {steps[key]!r}")
        changes = dict(steps[key] or {})
        for name, value in changes.items():
            if name not in known:
                close = difflib.get_close_matches(name, list(known), n=1)
                raise ConfigError(f"policy_history.levers.{year}.{name}: no such lever"
                                  + (f"; did you mean {close[0]}?" if close else "; the levers are listed in docs/ODD.md"))
            check_one(name, value.value if isinstance(value, enum.Enum) else value, known[name],
                       f"policy_history.levers.{year}:")
        out.append((year, tuple(sorted((k, v.value if isinstance(v, enum.Enum) else v) for k, v in changes.items()))))
    return PolicyHistory(int(start_year), tuple(out))


def check_one(name: str, value: Any, spec: LeverSpec, kind: str) -> None:
    if spec.grade not in LEVER_GRADES + ("uncertainty",):
        raise ConfigError(f"{kind} {name}: pedigree grade {spec.grade!r} is not one of {', '.join(LEVER_GRADES)}")
    where = f"(draft article {spec.article})" if spec.article else "(uncertainty)"
    if spec.choices:
        raw = value.value if isinstance(value, enum.Enum) else value
        if raw not in spec.choices:
            raise ConfigError(
                f"{kind} {name} = {raw!r} is not allowed: choose one of {', '.join(spec.choices)} {where}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{kind} {name} = {value!r} is not a number; allowed range [{spec.low:g}, {spec.high:g}] {spec.unit} {where}")
    if not (spec.low <= value <= spec.high) or (isinstance(value, float) and not math.isfinite(value)):
        raise ConfigError(
            f"{kind} {name} = {value:g} is out of range [{spec.low:g}, {spec.high:g}] {spec.unit} {where}")


def validate(levers: Levers, uncertainties: Uncertainties | None = None) -> None:
    """Raise ConfigError naming the first lever or uncertainty outside its declared range."""
    for name, spec in specs(Levers).items():
        check_one(name, getattr(levers, name), spec, "lever")
    if uncertainties is not None:
        for name, spec in specs(Uncertainties).items():
            check_one(name, getattr(uncertainties, name), spec, "uncertainty")


def articles_covered() -> set[int]:
    return {s.article for s in specs(Levers).values()}


def as_dict(obj: Any) -> dict[str, Any]:
    """Plain dict of a Levers/Uncertainties object, enums as their values (for manifests)."""
    out = {}
    for k, v in dataclasses.asdict(obj).items():
        out[k] = v.value if isinstance(v, enum.Enum) else v
    return out
