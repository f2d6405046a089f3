"""Behavioural parameters: one typed field per parameter, values from calibration/data/parameters.csv.

The CSV carries each parameter's value, plausible range, the distribution a replicate draws it from
over that range (fixed / triangular with its mode at the value / uniform), unit, kind (data /
literature / assumption) and source; docs/ODD.md shows them as one table. The calibration (issue 3) writes a run whose values
replace these priors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from simmodel.data import draw_from_range, parse_ranged_row, read_csv_rows
from simmodel.errors import DataError

PARAM_COLUMNS = ("name", "value", "low", "high", "distribution", "unit", "kind", "source")
PARAM_KINDS = ("data", "literature", "assumption", "calibrated")


@dataclass(frozen=True)
class Params:
    """Behavioural parameters (units in the CSV; annual rates unless the name says otherwise)."""

    growth_laplace_scale_annual: float
    growth_volatility_size_elasticity: float
    growth_size_slope: float
    growth_young_premium_annual: float
    growth_young_halflife_years: float
    exit_hazard_base_annual: float
    exit_size_elasticity: float
    exit_young_excess: float
    exit_age_decay_years: float
    exit_hazard_cap_annual: float
    entry_rate_annual: float
    entrant_revenue_median_cny_100m: float
    entrant_revenue_sigma: float
    startup_record_rate_annual: float
    pilot_zone_entry_boost: float
    incubator_entry_elasticity: float
    innovation_base_annual: float
    innovation_rd_elasticity: float
    innovation_step_mean: float
    subsidy_additionality: float
    basic_research_spillover: float
    talent_innovation_boost: float
    talent_leave_rate_annual: float
    talent_incentive_half_effect_cny_10k: float
    fund_deploy_years: float
    fund_ticket_to_revenue: float
    fund_min_ticket_cny_100m: float
    fund_equity_growth_boost: float
    fund_funded_hazard_multiplier: float
    fund_early_exit_revenue_cut: float
    fund_early_exit_hazard_multiplier: float
    fund_crowd_in_base_ratio: float
    fund_crowd_in_life_elasticity: float
    fund_yearly_profit_crowd_in_factor: float
    fund_yearly_profit_horizon_years: float
    fund_yearly_profit_loss_exit_prob: float
    fund_maturity_discount_per_stage: float
    private_vc_commitment_cny_100m_per_year: float
    private_vc_life_years: float
    land_capacity_slack: float
    land_refused_growth_share: float
    land_relocation_prob: float
    land_plot_ratio_phase_in_years: float
    little_giant_new_per_year: float
    single_champion_new_per_year: float
    high_tech_certification_rate_annual: float
    high_tech_lapse_rate_annual: float
    ladder_support_elasticity: float
    designation_growth_boost: float
    national_cluster_strength_elasticity: float
    pilot_zone_min_future_firms: float
    pilot_zone_removal_rate_annual: float
    flagship_demand_boost: float
    ai_plus_productivity_gain: float
    quality_brand_demand_boost: float
    spinoff_revenue_share: float
    rest_of_economy_growth_pct: float
    grant_cap_utilisation: float
    land_renovation_cost_cny_10k_per_mu: float
    base_age_mean_above_size_years: float
    base_age_mean_tech_sme_years: float
    base_productivity_dispersion: float
    base_rd_dispersion: float
    largest_firm_revenue_cny_100m: float
    spinoff_same_sector_prob: float
    fund_early_exit_penalty_years: float
    national_cluster_innovation_elasticity: float
    fund_follow_on_share: float
    fund_follow_on_ticket_ratio: float
    emerging_growth_shift_pct: float
    traditional_growth_shift_pct: float
    aggregate_growth_shock_sd: float
    pilot_zone_batch_prob_annual: float
    pilot_zone_min_future_revenue_cny_100m: float
    national_cluster_round_prob_annual: float
    national_cluster_winners_per_round: float
    national_cluster_zhejiang_share: float
    national_cluster_bid_elasticity: float
    future_type_support_years: float
    fund_min_tte_share: float
    compute_voucher_min_digital_share: float
    high_tech_lapse_multiplier_below_threshold: float
    little_giant_min_revenue_cny_100m: float
    little_giant_max_revenue_cny_100m: float
    single_champion_min_revenue_cny_100m: float
    selection_rd_weight: float
    growth_laplace_scale_min: float
    growth_laplace_scale_max: float
    new_track_entry_effect: float
    finance_hazard_reduction_pct: float


@dataclass(frozen=True)
class ParamInfo:
    name: str
    value: float
    low: float
    high: float
    distribution: str  # fixed, triangular (mode at value) or uniform (simmodel.data.DISTRIBUTIONS)
    unit: str
    kind: str
    source: str

    def draw(self, u):
        """The parameter at uniform number u in [0, 1) (draw_from_range on its range)."""
        return draw_from_range(self.value, self.low, self.high, self.distribution, u)


def load_param_table(path: Path) -> dict[str, ParamInfo]:
    rows = read_csv_rows(path, PARAM_COLUMNS, "parameter")
    known = {f.name for f in dataclasses.fields(Params)}
    out: dict[str, ParamInfo] = {}
    for line, r in rows:
        where = f"parameter file {path}, line {line}"
        name = r["name"]
        if name not in known:
            raise DataError(f"{where}: unknown parameter {name!r}")
        if name in out:
            raise DataError(f"{where}: parameter {name} is given twice")
        v, lo, hi = parse_ranged_row(r, where, name, PARAM_KINDS, "source")
        out[name] = ParamInfo(name, v, lo, hi, r["distribution"], r["unit"], r["kind"], r["source"])
    missing = sorted(known - set(out))
    if missing:
        raise DataError(f"parameter file {path} lacks: {', '.join(missing)}")
    return out


def load_params(path: Path, overrides: dict[str, float] | None = None) -> Params:
    table = load_param_table(path)
    values = {name: info.value for name, info in table.items()}
    for name, v in (overrides or {}).items():
        if name not in table:
            raise DataError(f"params.overrides.{name}: no such parameter; see {path}")
        info = table[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not info.low <= v <= info.high:
            raise DataError(
                f"params.overrides.{name} = {v!r} is outside its plausible range [{info.low:g}, {info.high:g}] {info.unit}")
        values[name] = float(v)
    return Params(**values)
