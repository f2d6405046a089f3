"""Settings of ``simmodel explore`` (conf/explore.yaml), typed and checked before the server starts."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from simmodel.config import PopulationConfig, check_population
from simmodel.errors import ConfigError
from simmodel.report.labels import LANGS


def _explore_population() -> PopulationConfig:
    # A tenth of the firms: 20 replicates then take about 10 s on two cores, so an answer arrives
    # while the question is still in mind; the page says the scale, and a memo-grade run is a
    # `simmodel run` at full scale (the page prints that command).
    return PopulationConfig(scale=0.1)


@dataclass
class ExploreConfig:
    """Primary config of ``simmodel explore``."""

    task: str = "explore"
    # localhost only by default: the page runs the model on this machine for whoever reaches it
    host: str = "127.0.0.1"
    port: int = 8765
    scenario: str = "baseline"  # the starting point when the address names none
    lang: str = "zh"  # the page's language when the address names none (zh or en, switchable on the page)
    population: PopulationConfig = field(default_factory=_explore_population)
    replicates: int = 20
    seed: int = 20250101  # the root seed of every run, so every run pairs with every other (common random numbers)
    decomposition_pairs: int = 8  # the variance decomposition's pairs per source (0: off), as uncertainty.decomposition_pairs
    # The emulator of the instant preview: an analysis folder, or a name under <output_root>/analyze/,
    # made by `simmodel analyze method=emulator`; "" for none (the page then waits for the model).
    emulator: str = "explorer"
    # Largest held-out RMSE of P(met) (probability units) at which an output's estimate is shown. An
    # assumption: 0.1 is the width at which an estimate still tells "likely" from "unlikely"; above it
    # the page says the estimate is refused and waits for the model.
    emulator_max_error: float = 0.1
    output_root: str = "results"  # runs go to <output_root>/explore/ (ordinary run folders)
    scenario_dir: str = "scenarios"  # where "Save as scenario" writes (relative: to the project root)
    max_runs: int = 2  # model runs at once, over all browser sessions; more wait their turn


def check(cfg: ExploreConfig) -> None:
    """Raise ConfigError naming the first bad value and what is allowed."""
    try:
        ipaddress.ip_address(cfg.host)
    except ValueError:
        if cfg.host != "localhost":
            raise ConfigError(f"host = {cfg.host!r} is not allowed: an IP address (127.0.0.1, the default, for this "
                              "machine only; 0.0.0.0 to let others on the network reach the page) or localhost") from None
    if isinstance(cfg.port, bool) or not isinstance(cfg.port, int) or not 0 <= cfg.port <= 65535:
        raise ConfigError(f"port = {cfg.port!r} is out of range: allowed an integer in [0, 65535] (0: any free port)")
    if cfg.lang not in LANGS:
        raise ConfigError(f"lang = {cfg.lang!r} is not allowed: one of {', '.join(LANGS)}")
    check_population(cfg.population)
    if not isinstance(cfg.replicates, int) or not 2 <= cfg.replicates <= 1000:
        raise ConfigError(f"replicates = {cfg.replicates!r} is out of range: allowed an integer in [2, 1000]")
    if not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise ConfigError(f"seed = {cfg.seed!r} is not allowed: a non-negative integer")
    if not isinstance(cfg.decomposition_pairs, int) or not 0 <= cfg.decomposition_pairs <= 1000:
        raise ConfigError(f"decomposition_pairs = {cfg.decomposition_pairs!r}: allowed an integer in [0, 1000] (0: off)")
    if isinstance(cfg.emulator_max_error, bool) or not isinstance(cfg.emulator_max_error, (int, float)) \
            or not 0 < cfg.emulator_max_error <= 1:
        raise ConfigError(f"emulator_max_error = {cfg.emulator_max_error!r}: allowed a probability in (0, 1]")
    if not isinstance(cfg.max_runs, int) or not 1 <= cfg.max_runs <= 64:
        raise ConfigError(f"max_runs = {cfg.max_runs!r}: allowed an integer in [1, 64]")
