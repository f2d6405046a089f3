"""Typed configuration schemas.

Plain dataclasses: the CLI registers them in Hydra's ConfigStore, the model receives an instance and
never sees Hydra. Range checks with clear messages live in :func:`validate`.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from simmodel import levers as levers_mod
from simmodel.errors import ConfigError
from simmodel.levers import Levers, PolicyHistory, Uncertainties

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class PopulationConfig:
    """The synthetic base-year population."""

    scale: float = 1.0  # 1.0 = one agent per firm (1:1); 0.1 = a tenth, for quick looks
    # The year the population is synthesised for (from calibration/data/base_year_<year>.csv when the
    # default table describes another year). None: the latest year with a full-year GDP value. An
    # earlier year replays the history: see policy_history and scenarios/history.yaml.
    base_year: Optional[int] = None
    # Base-year quantities to override (names from calibration/data/base_year.csv), e.g. to see how
    # much an answer depends on an assumption: population.overrides.t1_emerging_share_415x_pct=48
    overrides: dict[str, float] = field(default_factory=dict)


@dataclass
class DataConfig:
    """Input files; relative paths are relative to the project root."""

    indicators: str = "calibration/data/zhejiang_indicators.csv"
    sectors: str = "calibration/data/sectors.csv"
    cities: str = "calibration/data/cities.csv"
    fund_kinds: str = "calibration/data/fund_kinds.csv"
    base_year: str = "calibration/data/base_year.csv"
    parameters: str = "calibration/data/parameters.csv"


@dataclass
class PolicyHistoryConfig:
    """The levers of the years before the draft's measures switch on (start_year): a replay from an
    earlier base year runs them (simmodel.levers.PolicyHistory). Without steps, those years run under
    the no_new_policy values; scenarios/history.yaml gives the instruments of the time, with sources."""

    start_year: int = 2025
    # "from year" -> {lever: value}: the value holds from that year until a later step changes it
    levers: dict[str, dict[str, Any]] = field(default_factory=dict)


def policy_history_of(cfg: PolicyHistoryConfig) -> PolicyHistory:
    """The checked PolicyHistory of a config section."""
    return levers_mod.policy_history(cfg.start_year, {k: dict(v or {}) for k, v in (cfg.levers or {}).items()})


def load_policy_history(path: str) -> PolicyHistory:
    """The policy_history section of a scenario file (scenarios/history.yaml), checked."""
    from omegaconf import OmegaConf

    file = resolve_path(path)
    if not file.is_file():
        raise ConfigError(f"policy history file {file} does not exist; the project's is scenarios/history.yaml")
    node = OmegaConf.to_container(OmegaConf.load(file)).get("policy_history")
    if not isinstance(node, dict):
        raise ConfigError(f"{file} has no policy_history section (start_year and levers by year)")
    unknown = set(node) - {"start_year", "levers"}
    if unknown:
        raise ConfigError(f"{file}: policy_history.{sorted(unknown)[0]} is not a key; allowed: start_year, levers")
    return levers_mod.policy_history(int(node.get("start_year", 2025)), node.get("levers") or {})


@dataclass
class ParamsConfig:
    """Behavioural parameters: priors from data.parameters, overridable by name."""

    overrides: dict[str, float] = field(default_factory=dict)


@dataclass
class TargetsConfig:
    """Thresholds of T1-T6. 2027 values are the draft's; 2030 values and T6 are assumptions."""

    t1_2027_pct: float = 58.0  # draft
    t2_2027_pct: float = 34.0  # draft
    t3_2027_pct: float = 12.5  # draft ("超12.5%": strictly above)
    t4_2027_count: float = 10.0  # draft
    t5_2027_count: float = 35.0  # draft
    # Assumption: "keep high-speed growth" read as compound growth of future-industry revenue of at
    # least 15 %/yr from the base year (double-digit growth is how Chinese plans use the phrase).
    t6_threshold_pct_per_year: float = 15.0
    # 2030 proxies, all assumptions: the draft's 2030 aims are qualitative. Default: the 2027 target
    # plus three more years at roughly the pace the 2027 target implies from the base year.
    t1_2030_pct: float = 64.0
    t2_2030_pct: float = 35.0
    t3_2030_pct: float = 13.5
    t6_2030_threshold_pct_per_year: float = 15.0


@dataclass
class UncertaintyConfig:
    """What each replicate draws, so that P(met) and the bands carry it (issue 13). Each source can be
    switched off: it is then held at its central value (shocks: every replicate takes replicate 0's)."""

    # base-year values the data do not pin down (calibration/data/base_year.csv: kinds assumption,
    # derived, inferred), each from its range and stated distribution
    assumptions: bool = True
    # behavioural parameters the calibration does not estimate (calibration/data/parameters.csv) and
    # each sector's growth prior (sectors.csv), from their plausible ranges and stated distributions
    behaviour: bool = True
    # the calibrated parameters, normal with the calibration run's covariance, truncated to their
    # ranges (calibration=prior has none: there the behaviour draws cover every parameter)
    estimates: bool = True
    # the model's own randomness: firm-level and province-wide shocks, entry, selection noise
    shocks: bool = True
    # The variance decomposition (summary.json: variance_decomposition): for each source, this many
    # extra replicates equal to a main replicate but for that source, drawn afresh (grouped
    # total-effect Sobol indices, nested draws), at most one per main replicate (so at most
    # `replicates`). 0 switches it off. Fewer pairs, wider intervals: the summary gives each share's 95 %
    # interval (tests/unit/test_decompose.py measures the estimator's coverage).
    decomposition_pairs: int = 32


@dataclass
class CounterfactualConfig:
    """Every run also runs its counterfactual on the same seeds (paired): the same configuration with
    every lever at its no_new_policy value (simmodel/levers.py; scenarios/no_new_policy.yaml holds the
    same values), unless the run is that already. summary.json then holds P(met) under both, with the
    paired difference. The counterfactual is an ordinary run folder under results/run/no_new_policy/,
    reused when the same settings come back."""

    enabled: bool = True


@dataclass
class AssumptionSensitivityConfig:
    """Re-run the scenario with each listed base-year assumption at the low and the high end of its
    range, so that the outputs show how much each answer depends on it (summary.json:
    assumption_sensitivity). Smaller ensembles than the main run; common random numbers."""

    # Off by default: the per-replicate draws carry the assumptions inside P(met), and the variance
    # decomposition says how much of each answer they account for. On, it adds this table.
    enabled: bool = False
    replicates: int = 10
    scale: float = 0.25
    quantities: list[str] = field(default_factory=lambda: [
        "t1_emerging_share_415x_pct", "t2_sei_share_pct", "digital_core_va_cny_100m", "n_pilot_zones",
        "n_above_size_firms"])


@dataclass
class OutputConfig:
    root: str = "results"  # relative to the working directory
    plots: bool = True
    progress: bool = True


@dataclass
class RunConfig:
    """Primary config of ``simmodel run``."""

    task: str = "run"
    scenario_slug: str = "baseline"  # set by the CLI from the chosen scenario file
    scenario_question: str = ""
    scenario_question_zh: str = ""  # the header's '# 问题:' line, for memos in Chinese
    seed: int = 20250101  # root seed: every random draw of every replicate flows from it
    replicates: int = 100
    workers: int = 0  # processes for replicates (0: one per core); results do not depend on it
    end_year: int = 2030
    # Calibration run whose parameters the model uses: a folder name under calibration/runs/, or
    # "prior" for the priors of data.parameters (calibration/data/parameters.csv).
    # The default is `replay` (calibrated on the replayed history 2020-2025, issue 14): its backtest
    # scorecard beats that of `default` (the calibration on growth moments from a 2024 start, kept for
    # comparison): `simmodel compare runs=[default,replay]`.
    calibration: str = "replay"
    calibration_root: str = "calibration/runs"  # where calibration runs live (relative: to the project root)
    uncertainty: UncertaintyConfig = field(default_factory=UncertaintyConfig)
    counterfactual: CounterfactualConfig = field(default_factory=CounterfactualConfig)
    population: PopulationConfig = field(default_factory=PopulationConfig)
    policy_history: PolicyHistoryConfig = field(default_factory=PolicyHistoryConfig)
    data: DataConfig = field(default_factory=DataConfig)
    params: ParamsConfig = field(default_factory=ParamsConfig)
    levers: Levers = field(default_factory=Levers)
    uncertainties: Uncertainties = field(default_factory=Uncertainties)
    targets: TargetsConfig = field(default_factory=TargetsConfig)
    assumption_sensitivity: AssumptionSensitivityConfig = field(default_factory=AssumptionSensitivityConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    # A point of an analysis design (simmodel/analysis/design.py): levers and uncertainties from
    # row design_row of the design folder, on top of the scenario. Empty: no design.
    design: str = ""
    design_row: int = -1


def plain(obj):
    """Dataclass config -> JSON-able dict (enums as values)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def resolve_path(p: str) -> Path:
    path = Path(p)
    return path if path.is_absolute() else PROJECT_ROOT / path


def _positive(name: str, value: float, allowed: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} = {value!r} is not a number; allowed: {allowed}")


def check_population(pop: PopulationConfig, replay: bool = False) -> None:
    """population.scale in (0, 10]; population.base_year a year (a replay needs one: it has no
    'latest year' default); population.overrides numbers (their names are checked where the table is read)."""
    _positive("population.scale", pop.scale, "a number in (0, 10]")
    if not 0 < pop.scale <= 10:
        raise ConfigError(f"population.scale = {pop.scale:g} is out of range: allowed (0, 10] (1 = one agent per firm)")
    by = pop.base_year
    if (by is None and replay) or (by is not None and (isinstance(by, bool) or not isinstance(by, int) or not 2000 <= by <= 2100)):
        raise ConfigError(f"population.base_year = {by!r}: allowed a year with a base-year table "
                          f"(calibration/data/base_year*.csv)")
    for name, v in (pop.overrides or {}).items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"population.overrides.{name} = {v!r} is not a number")


def validate(cfg: RunConfig) -> None:
    """Check every value a user can set; raise ConfigError naming the key and what is allowed."""
    check_population(cfg.population)
    if not isinstance(cfg.replicates, int) or not 1 <= cfg.replicates <= 100000:
        raise ConfigError(f"replicates = {cfg.replicates!r} is out of range: allowed an integer in [1, 100000]")
    if not isinstance(cfg.workers, int) or not 0 <= cfg.workers <= 256:
        raise ConfigError(f"workers = {cfg.workers!r} is out of range: allowed an integer in [0, 256] (0: one per core)")
    if not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise ConfigError(f"seed = {cfg.seed!r} is not allowed: a non-negative integer")
    if not 2025 <= cfg.end_year <= 2040:
        raise ConfigError(f"end_year = {cfg.end_year} is out of range: allowed [2025, 2040]")
    by = cfg.population.base_year
    if by is not None and (isinstance(by, bool) or not isinstance(by, int) or not 2015 <= by < cfg.end_year):
        raise ConfigError(f"population.base_year = {by!r} is out of range: allowed a year in [2015, end_year) with a "
                          f"base-year table (calibration/data/base_year*.csv)")
    ph = cfg.policy_history
    if isinstance(ph.start_year, bool) or not isinstance(ph.start_year, int) or not 2015 < ph.start_year <= cfg.end_year:
        raise ConfigError(f"policy_history.start_year = {ph.start_year!r}: allowed a year in (2015, end_year]")
    policy_history_of(ph)
    for name in ("t1_2027_pct", "t2_2027_pct", "t3_2027_pct", "t1_2030_pct", "t2_2030_pct", "t3_2030_pct"):
        v = getattr(cfg.targets, name)
        _positive(f"targets.{name}", v, "a share in [0, 100]")
        if not 0 <= v <= 100:
            raise ConfigError(f"targets.{name} = {v:g} is out of range: allowed [0, 100] %")
    for name in ("t4_2027_count", "t5_2027_count"):
        v = getattr(cfg.targets, name)
        _positive(f"targets.{name}", v, "a count >= 0")
        if v < 0:
            raise ConfigError(f"targets.{name} = {v:g} is out of range: allowed >= 0")
    for name in ("t6_threshold_pct_per_year", "t6_2030_threshold_pct_per_year"):
        v = getattr(cfg.targets, name)
        _positive(f"targets.{name}", v, "a growth rate in [-50, 200] %/yr")
        if not -50 <= v <= 200:
            raise ConfigError(f"targets.{name} = {v:g} is out of range: allowed [-50, 200] %/yr")
    pairs = cfg.uncertainty.decomposition_pairs
    if isinstance(pairs, bool) or not isinstance(pairs, int) or not 0 <= pairs <= 100000:
        raise ConfigError(f"uncertainty.decomposition_pairs = {pairs!r} is out of range: allowed an integer in [0, 100000] (0: off)")
    a = cfg.assumption_sensitivity
    if a.enabled:
        if not isinstance(a.replicates, int) or not 1 <= a.replicates <= 10000:
            raise ConfigError(f"assumption_sensitivity.replicates = {a.replicates!r}: allowed an integer in [1, 10000]")
        if not 0 < a.scale <= 10:
            raise ConfigError(f"assumption_sensitivity.scale = {a.scale!r}: allowed (0, 10]")
    levers_mod.validate(cfg.levers, cfg.uncertainties)


# The parameters the replayed history (2020-2025) can speak to, estimated by default: the growth shifts
# (GDP, VA and cluster levels), the rest of the economy (GDP), the certification and ladder rates
# (high-tech, little-giant and single-champion counts), innovation (R&D and productivity) and Zhejiang's
# share of national cluster winners (T4).
DEFAULT_ESTIMATED = (
    "emerging_growth_shift_pct", "traditional_growth_shift_pct", "rest_of_economy_growth_pct",
    "high_tech_certification_rate_annual", "little_giant_new_per_year", "single_champion_new_per_year",
    "innovation_base_annual", "national_cluster_zhejiang_share",
)


@dataclass
class HistoryTreatmentConfig:
    """How the calibration reads the history (see simmodel.calibration.moments)."""

    cutoff: Optional[int] = None  # ignore rows after this year (set by backtests)
    grades: str = "calibration/data/grades.csv"
    # Assumption: a row's weight (inverse-variance multiplier) by source grade of data/README.md: an
    # official bulletin counts fully, a relay of an official statement 0.7, a secondary compilation or
    # preliminary estimate 0.4. Plausible range: B 0.5-0.9, C 0.2-0.6; the report shows the weights.
    grade_weights: dict[str, float] = field(default_factory=lambda: {"A": 1.0, "B": 0.7, "C": 0.4})
    # Assumption: a partial-year growth rate or share says about half as much about the full year as
    # an annual value (it covers half to three quarters of it, with seasonal swings). Range 0-1.
    partial_year_weight: float = 0.5
    # years at which a series breaks: no change is measured across them
    breaks: dict[str, list[int]] = field(default_factory=lambda: {"gdp_cny_100m": [2023]})


def replay_population() -> PopulationConfig:
    """The population of a replay (calibrate, backtest): the 2020 table at a tenth of 1:1."""
    return PopulationConfig(scale=0.1, base_year=2020)


@dataclass
class CalibrateConfig:
    """Primary config of ``simmodel calibrate``."""

    task: str = "calibrate"
    name: str = "replay"  # the run folder: calibration/runs/<name>/
    overwrite: bool = False
    runs_root: str = "calibration/runs"
    data: DataConfig = field(default_factory=DataConfig)
    # the replay: the population of population.base_year (a base-year table for it must exist) lives
    # through the years after it under the policy of the time (policy_history: a scenario file's
    # section), at population.scale; population.overrides fixes base-year quantities as in a run
    population: PopulationConfig = field(default_factory=replay_population)
    policy_history: str = "scenarios/history.yaml"
    seed: int = 20240101
    replicates: int = 8
    max_evaluations: int = 400  # a safety budget: the search stops on its tolerance first
    tolerance: float = 1e-3
    workers: int = 0
    estimated: list[str] = field(default_factory=lambda: list(DEFAULT_ESTIMATED))
    history: HistoryTreatmentConfig = field(default_factory=HistoryTreatmentConfig)
    progress: bool = True


def validate_calibrate(cfg: CalibrateConfig) -> None:
    if not isinstance(cfg.replicates, int) or not 2 <= cfg.replicates <= 1000:
        raise ConfigError(f"replicates = {cfg.replicates!r}: allowed an integer in [2, 1000] (standard errors need two)")
    check_population(cfg.population, replay=True)
    if not isinstance(cfg.max_evaluations, int) or not 1 <= cfg.max_evaluations <= 100000:
        raise ConfigError(f"max_evaluations = {cfg.max_evaluations!r}: allowed an integer in [1, 100000]")
    if isinstance(cfg.tolerance, bool) or not isinstance(cfg.tolerance, (int, float)) or not 1e-8 <= cfg.tolerance <= 0.1:
        raise ConfigError(f"tolerance = {cfg.tolerance!r}: allowed a number in [1e-8, 0.1]")
    if not isinstance(cfg.workers, int) or not 0 <= cfg.workers <= 256:
        raise ConfigError(f"workers = {cfg.workers!r}: allowed an integer in [0, 256] (0: one per core)")
    if not cfg.estimated:
        raise ConfigError("estimated: give at least one parameter to estimate")
    if len(set(cfg.estimated)) != len(cfg.estimated):
        raise ConfigError(f"estimated: a parameter is listed twice: {cfg.estimated}")
    h = cfg.history
    if h.cutoff is not None and not 2000 <= h.cutoff <= 2100:
        raise ConfigError(f"history.cutoff = {h.cutoff}: allowed a year in [2000, 2100]")
    for g in ("A", "B", "C"):
        if g not in h.grade_weights or not 0 < h.grade_weights[g] <= 1:
            raise ConfigError(f"history.grade_weights.{g}: allowed a weight in (0, 1] for each of A, B, C")
    if not 0 <= h.partial_year_weight <= 1:
        raise ConfigError(f"history.partial_year_weight = {h.partial_year_weight}: allowed [0, 1]")


@dataclass
class BacktestConfig:
    """Primary config of ``simmodel backtest``: rolling-origin calibration and scoring."""

    task: str = "backtest"
    cutoff: Optional[int] = None  # a single origin (overrides cutoffs)
    cutoffs: list[int] = field(default_factory=lambda: [2021, 2022])
    calibration_name: Optional[str] = None  # also write the scores into calibration/runs/<name>/backtest.csv
    runs_root: str = "calibration/runs"
    data: DataConfig = field(default_factory=DataConfig)
    # the replay's start (population.base_year: every origin simulates from it) and scale
    population: PopulationConfig = field(default_factory=replay_population)
    policy_history: str = "scenarios/history.yaml"
    seed: int = 20240101
    replicates: int = 8
    max_evaluations: int = 400
    tolerance: float = 1e-3
    # replicates of the projection from each origin, each with parameters drawn from the origin's
    # estimates and covariance: the model's forecast bands carry parameter and shock uncertainty
    forecast_replicates: int = 40
    workers: int = 0
    estimated: list[str] = field(default_factory=lambda: list(DEFAULT_ESTIMATED))
    history: HistoryTreatmentConfig = field(default_factory=HistoryTreatmentConfig)
    output_root: str = "results"
    progress: bool = True


@dataclass
class CompareConfig:
    """Primary config of ``simmodel compare``."""

    task: str = "compare"
    runs: list[str] = field(default_factory=lambda: ["default"])
    runs_root: str = "calibration/runs"
    output_root: str = "results"



@dataclass
class MemoConfig:
    """Primary config of ``simmodel memo``: a memo from results on disk (never runs the model)."""

    task: str = "memo"
    results: str = ""  # a run folder or a sweep folder
    baseline: str = "baseline"  # the reference scenario's slug, or a run folder to compare with
    lang: str = "zh"  # zh or en: the whole memo in that language (templates per language); as in simmodel plot
    pdf: str = "auto"  # auto: where a converter exists; true: required; false: never
    # analysis folders (simmodel analyze; a folder or a name under <output_root>/analyze/) whose
    # findings the memo cites: which levers matter, PRIM's box, the least-cost package
    analyses: list[str] = field(default_factory=list)
    output_root: str = "results"  # the memo goes to <output_root>/memo/<source>/<lang>-<time>/


PLOT_KINDS = ("fan", "probability", "comparison", "cost", "calibration", "backtest")


@dataclass
class PlotConfig:
    """Primary config of ``simmodel plot``: one figure from results on disk, for papers."""

    task: str = "plot"
    kind: str = "fan"  # one of PLOT_KINDS
    # fan: a run folder (or a sweep job's); probability, comparison, cost: a sweep folder;
    # calibration, backtest: a calibration run's name (under calibration_root) or folder
    results: str = ""
    target: str = "T1"  # fan: which target
    year: int = 2027  # cost: which year's targets
    lang: str = "en"  # en or zh: the figure's words; as in simmodel memo
    out: str = ""  # file to write (.png, .svg or .pdf); default <output_root>/plots/<kind>[_<target>]_<lang>.png
    calibration_root: str = "calibration/runs"
    output_root: str = "results"


ANALYZE_METHODS = ("morris", "sobol", "prim", "invert", "emulator")


@dataclass
class AnalyzeConfig:
    """Primary config of ``simmodel analyze``: which levers matter (Morris, Sobol), which
    combinations are enough (PRIM), the least-cost package (invert) and the stored emulator the
    explorer previews with (emulator), the model evaluated as a sweep through any Hydra launcher."""

    task: str = "analyze"
    method: str = "morris"  # one of ANALYZE_METHODS
    factors: list[str] = field(default_factory=list)  # levers and uncertainties to vary; empty: all
    ranges: dict[str, list[float]] = field(default_factory=dict)  # NAME: [low, high], else the stated rule
    trajectories: int = 10  # morris: trajectories of k + 1 points each
    levels: int = 4  # morris: grid levels
    sobol_n: int = 64  # sobol: base sample, a power of two; n x (k + 2) points
    samples: int = 200  # prim: Latin-hypercube points
    p_level: float = 0.8  # prim: a point is a success if every 2027 target is met with at least this probability
    replicates: int = 10  # per point, the same seeds at every point (common random numbers)
    # the population of every evaluation, as in simmodel run: scale, base_year (None: the latest), overrides
    population: PopulationConfig = field(default_factory=PopulationConfig)
    seed: int = 20250101
    scenario: str = "baseline"  # the scenario the factors vary around
    name: str = ""  # the analysis folder under <output_root>/analyze/; default: method and a hash of the settings
    output_root: str = "results"
    # A Morris analysis (folder or name under <output_root>/analyze/) whose screen picks the factors
    # of this one: the screen_top with the largest mu*. Ignored when factors are given.
    screen: str = ""
    screen_top: int = 8
    # invert: the target and year whose P(met) must reach p_level, at the least fiscal cost
    target: str = "T2"
    target_year: int = 2027
    batch: int = 16  # invert: points per batch of the global search (one sweep each)
    generations: int = 8  # invert: batches of the global search (Optuna multi-objective TPE)
    polish_rounds: int = 4  # invert: rounds of the pattern search from the best package found
    # sobol: "auto" fits a Gaussian-process emulator when the model would need more than
    # emulator_budget_minutes here, "true" always, "false" never
    emulator: str = "auto"
    emulator_budget_minutes: float = 30.0
    # sobol with an emulator, and method=emulator (a Latin hypercube over the factors, the fitted
    # emulator stored in the analysis folder for simmodel explore): model runs to train it on; 0:
    # 10 per factor, at least 20
    emulator_points: int = 0
    emulator_holdout: float = 0.25  # share of those held out to measure its error
    # Q^2 (share of held-out variance predicted) an output's emulator needs to be used. An
    # assumption: 0.9 is a common acceptance level for surrogate models; the table shows every Q^2.
    # method=emulator stores every output and records whether it reaches this level ("accepted").
    emulator_min_q2: float = 0.9
    emulator_sobol_n: int = 4096  # Sobol base sample on the emulator (cheap: no model runs)
