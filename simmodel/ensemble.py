"""Monte Carlo replicates: seeds spawned from one root seed, optional worker processes.

Replicate r of every scenario gets the same SeedSequence child, so scenario differences are paired
(common random numbers). Results do not depend on the number of workers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simmodel import kernels
from simmodel.config import RunConfig, policy_history_of, resolve_path
from simmodel.data import draw_from_range, latest_full_year, load_base_year_table, load_indicators
from simmodel.errors import ConfigError, DataError
from simmodel.levers import Levers, Uncertainties
from simmodel.model import ModelInputs, SimModel
from simmodel.params import load_params
from simmodel.sectors import load_cities, load_fund_kinds, load_sectors
from simmodel.workers import default_context, process_pool


def load_inputs(cfg: RunConfig) -> tuple[ModelInputs, pd.DataFrame]:
    """Read and validate every input file named in the config; returns the model inputs and the
    historical indicator table."""
    d = cfg.data
    history = load_indicators(resolve_path(d.indicators))
    base_year = cfg.population.base_year or latest_full_year(history)
    if base_year >= cfg.end_year:
        raise ConfigError(f"population.base_year {base_year} must be before end_year {cfg.end_year}")
    base, _ = load_base_year_table(resolve_path(d.base_year), base_year, dict(cfg.population.overrides))
    inputs = ModelInputs(
        sectors=load_sectors(resolve_path(d.sectors)), cities=load_cities(resolve_path(d.cities)), base=base,
        fund_kinds=load_fund_kinds(resolve_path(d.fund_kinds)),
        params=load_params(parameter_file(cfg), dict(cfg.params.overrides)),
        base_year=base_year, end_year=cfg.end_year, policy_history=policy_history_of(cfg.policy_history))
    return inputs, history


def parameter_file(cfg: RunConfig) -> Path:
    """The parameter table the run uses: a calibration run's, or the priors (calibration=prior)."""
    if cfg.calibration == "prior":
        return resolve_path(cfg.data.parameters)
    from simmodel.calibration.runs import load_run

    return load_run(resolve_path(cfg.calibration_root), cfg.calibration).parameters_csv


# The four sources of what is unknown that a replicate draws (issue 13): base-year assumptions,
# behavioural parameters the calibration does not estimate, the estimated ones, and the model's own
# shocks. Each has its own seed key, so that a source can be held fixed (switched off) or shared
# between two runs (the variance decomposition) without moving the others.
SOURCES = ("assumptions", "behaviour", "estimates", "shocks")
_SOURCE_KEYS = {"assumptions": 1, "behaviour": 2, "estimates": 7919}
_PAIR_ROOT = 1 << 20  # spawn keys of the decomposition's independent draws start here
_REDRAW_KEY = 100_003  # offset of a redraw's key (see run_one)
# Some combinations of drawn base-year values and parameters cannot be met by any population (say
# 45 000 high-tech enterprises among 50 000 tech SMEs, whose R&D at the certification thresholds would
# exceed the firms' R&D total). Such a draw is redrawn, up to this many times: the draws then come
# from the stated ranges restricted to what the observed base year allows (about 2 % of draws here).
MAX_REDRAWS = 20


def _child(seed: np.random.SeedSequence, key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed.entropy, spawn_key=tuple(seed.spawn_key) + (key,))))


@dataclass(frozen=True)
class ReplicateKey:
    """The seed of each source a replicate draws from. A main replicate takes all four from its own
    SeedSequence; a decomposition run shares one source's seed with a main replicate and takes the
    others from an independent sequence."""

    assumptions: np.random.SeedSequence
    behaviour: np.random.SeedSequence
    estimates: np.random.SeedSequence
    shocks: np.random.SeedSequence

    @classmethod
    def of(cls, seed: np.random.SeedSequence) -> "ReplicateKey":
        return cls(seed, seed, seed, seed)


@dataclass
class ParameterSampler:
    """Draws the calibrated parameters per replicate: normal with the run's covariance, truncated
    (by redrawing) to each parameter's plausible range; other parameters stay fixed."""

    names: tuple[str, ...]
    mean: np.ndarray
    cov: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def draw(self, seed: np.random.SeedSequence) -> dict[str, float]:
        # keyed on the replicate's seed: the same replicate draws the same parameters in every scenario
        rng = _child(seed, _SOURCE_KEYS["estimates"])
        for _ in range(1000):
            x = rng.multivariate_normal(self.mean, self.cov, method="eigh")
            if np.all(x >= self.low) and np.all(x <= self.high):
                return dict(zip(self.names, map(float, x)))
        return dict(zip(self.names, map(float, np.clip(x, self.low, self.high))))


@dataclass
class RangeSampler:
    """Draws named quantities from their stated ranges and distributions (calibration/data:
    base_year.csv for assumptions, parameters.csv and sectors.csv for behaviour): one uniform per
    quantity, in a fixed order, mapped by each one's distribution (simmodel.data.draw_from_range)."""

    source: str
    names: tuple[str, ...]
    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    distribution: tuple[str, ...]

    def draw(self, seed: np.random.SeedSequence, attempt: int = 0) -> dict[str, float]:
        u = _child(seed, _SOURCE_KEYS[self.source] + _REDRAW_KEY * attempt).random(len(self.names))
        # every quantity in one call: a call each took, with the other sampler's, 1.94 ms a replicate
        # for 135 quantities, one call each 0.15 ms
        x = draw_from_range(self.value, self.low, self.high, self.distribution, u)
        return dict(zip(self.names, x.tolist(), strict=True))


GROWTH_PREFIX = "growth_prior_pct:"  # behaviour draws of a sector's growth prior are named growth_prior_pct:<sector>


@dataclass
class UncertaintyDraws:
    """What each replicate draws (None: that source is held at its central value)."""

    assumptions: RangeSampler | None = None
    behaviour: RangeSampler | None = None
    estimates: ParameterSampler | None = None
    shocks: bool = True

    def active(self) -> tuple[str, ...]:
        return tuple(s for s in SOURCES if (getattr(self, s) if s != "shocks" else self.shocks))

    def apply(self, inputs: ModelInputs, key: ReplicateKey, attempt: int = 0) -> tuple[ModelInputs, dict[str, dict[str, float]]]:
        """The inputs of one replicate and what was drawn, by source (attempt > 0: a redraw of the
        assumptions and behavioural parameters, see MAX_REDRAWS)."""
        drawn: dict[str, dict[str, float]] = {}
        if self.assumptions is not None:
            d = self.assumptions.draw(key.assumptions, attempt)
            drawn["assumptions"] = d
            base = dict(inputs.base)
            for name, v in d.items():
                base[name] = dataclasses.replace(base[name], value=v)
            inputs = dataclasses.replace(inputs, base=base)
        params: dict[str, float] = {}
        if self.behaviour is not None:
            d = self.behaviour.draw(key.behaviour, attempt)
            drawn["behaviour"] = d
            growth = {k[len(GROWTH_PREFIX):]: v for k, v in d.items() if k.startswith(GROWTH_PREFIX)}
            params.update({k: v for k, v in d.items() if not k.startswith(GROWTH_PREFIX)})
            if growth:
                s = inputs.sectors
                g = s.growth_prior.copy()
                for sid, v in growth.items():
                    g[s.index(sid)] = v / 100.0
                inputs = dataclasses.replace(inputs, sectors=dataclasses.replace(s, growth_prior=g))
        if self.estimates is not None:
            d = self.estimates.draw(key.estimates)
            drawn["estimates"] = d
            params.update(d)
        if params:
            inputs = dataclasses.replace(inputs, params=dataclasses.replace(inputs.params, **params))
        return inputs, drawn


def parameter_sampler(cfg: RunConfig) -> ParameterSampler | None:
    if not cfg.uncertainty.estimates or cfg.calibration == "prior":
        return None
    from simmodel.calibration.runs import load_run

    run = load_run(resolve_path(cfg.calibration_root), cfg.calibration)
    est = run.estimates.set_index("name")
    names = tuple(n for n in est.index if n not in cfg.params.overrides)
    if not names:
        return None
    cov = run.covariance.loc[list(names), list(names)].to_numpy(float)
    return ParameterSampler(names, est.loc[list(names), "estimate"].to_numpy(float), cov,
                            est.loc[list(names), "low"].to_numpy(float), est.loc[list(names), "high"].to_numpy(float))


def assumption_sampler(cfg: RunConfig, inputs: ModelInputs) -> RangeSampler | None:
    """Base-year values the data do not pin down (kinds assumption, derived, inferred) with a range;
    observed values, fixed ones and the user's overrides are not drawn."""
    if not cfg.uncertainty.assumptions:
        return None
    qs = [q for q in inputs.base.values()
          if q.kind in ("assumption", "derived", "inferred") and q.low < q.high and q.distribution != "fixed"]
    if not qs:
        return None
    return RangeSampler("assumptions", tuple(q.name for q in qs), np.array([q.value for q in qs]), np.array([q.low for q in qs]),
                        np.array([q.high for q in qs]), tuple(q.distribution for q in qs))


def behaviour_sampler(cfg: RunConfig, inputs: ModelInputs, estimated: tuple[str, ...]) -> RangeSampler | None:
    """Behavioural parameters with a plausible range that the calibration does not estimate (or all of
    them with calibration=prior), at the run's parameter file values as modes, plus each sector's growth
    prior within its range (sectors.csv, triangular); the user's params.overrides are not drawn."""
    if not cfg.uncertainty.behaviour:
        return None
    from simmodel.params import load_param_table

    table = load_param_table(parameter_file(cfg))
    # what the calibration estimated is the estimates' source (held at the estimate when that is off)
    skip = set(estimated) | set(cfg.params.overrides) | {r.name for r in table.values() if r.kind == "calibrated"}
    rows = [r for r in table.values() if r.name not in skip and r.low < r.high and r.distribution != "fixed"]
    names = [r.name for r in rows]
    value = [getattr(inputs.params, r.name) for r in rows]
    low, high, dist = [r.low for r in rows], [r.high for r in rows], [r.distribution for r in rows]
    s = inputs.sectors
    for k in range(s.n):
        if s.growth_low[k] < s.growth_high[k]:
            names.append(GROWTH_PREFIX + s.ids[k])
            value.append(100.0 * s.growth_prior[k])
            low.append(100.0 * s.growth_low[k])
            high.append(100.0 * s.growth_high[k])
            dist.append("triangular")
    return RangeSampler("behaviour", tuple(names), np.array(value, float), np.array(low, float), np.array(high, float), tuple(dist))


def uncertainty_draws(cfg: RunConfig, inputs: ModelInputs) -> UncertaintyDraws:
    """The draws a run's replicates make, from its uncertainty switches."""
    est = parameter_sampler(cfg)
    return UncertaintyDraws(assumptions=assumption_sampler(cfg, inputs),
                            behaviour=behaviour_sampler(cfg, inputs, est.names if est is not None else ()),
                            estimates=est, shocks=cfg.uncertainty.shocks)


@dataclass
class ReplicateResult:
    replicate: int
    trajectory: pd.DataFrame  # year x indicator
    fiscal_cost: dict[str, list[float]]  # lever -> CNY 100 m per simulated year
    drawn: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)  # source -> name -> value


def replicate_seeds(root_seed: int, n: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(root_seed).spawn(n)


def replicate_keys(root_seed: int, n: int, shocks: bool = True) -> list[ReplicateKey]:
    """The main replicates' keys. Without shock uncertainty every replicate takes replicate 0's shocks."""
    seeds = replicate_seeds(root_seed, n)
    return [dataclasses.replace(ReplicateKey.of(ss), shocks=ss if shocks else seeds[0]) for ss in seeds]


def pair_keys(root_seed: int, plan: list[tuple[str, int]], shocks: bool = True) -> list[ReplicateKey]:
    """Keys of the decomposition's runs (simmodel.decompose): run (G, j) keeps every source of main
    replicate j except G, which it draws from an independent sequence of its own (spawn key 2^20 + j)."""
    main = replicate_keys(root_seed, 1 + max((j for _, j in plan), default=0), shocks)
    out = []
    for group, j in plan:
        other = np.random.SeedSequence(root_seed, spawn_key=(_PAIR_ROOT + j,))
        out.append(dataclasses.replace(main[j], **{group: other}))
    return out


def build_model(inputs: ModelInputs, levers: Levers, uncertainties: Uncertainties, scale: float, key: ReplicateKey,
                draws: UncertaintyDraws | None, replicate: int = 0) -> tuple[SimModel, dict[str, dict[str, float]]]:
    """One replicate's model, built on its draws (redrawn where the base year cannot be met, see
    MAX_REDRAWS), and what it drew, by source ("redraws": how many draws were refused)."""
    if draws is None or (draws.assumptions is None and draws.behaviour is None):
        drawn: dict[str, dict[str, float]] = {}
        if draws is not None:
            inputs, drawn = draws.apply(inputs, key)
        return SimModel(inputs, levers, uncertainties, scale=scale, seed=key.shocks), drawn
    for attempt in range(MAX_REDRAWS + 1):
        inp, drawn = draws.apply(inputs, key, attempt)
        try:
            model = SimModel(inp, levers, uncertainties, scale=scale, seed=key.shocks)
        except DataError as exc:
            if attempt == MAX_REDRAWS:
                raise DataError(f"replicate {replicate}: no draw of the base-year assumptions and behavioural "
                                f"parameters in {MAX_REDRAWS + 1} attempts gives a population that meets the base "
                                f"year ({exc}); check the ranges in calibration/data") from None
            continue
        if attempt:
            drawn["redraws"] = {"n": float(attempt)}
        return model, drawn
    raise AssertionError("unreachable")


def run_one(inputs: ModelInputs, levers: Levers, uncertainties: Uncertainties, scale: float,
            seed: np.random.SeedSequence | ReplicateKey, replicate: int, sampler: ParameterSampler | None = None,
            draws: UncertaintyDraws | None = None) -> ReplicateResult:
    key = seed if isinstance(seed, ReplicateKey) else ReplicateKey.of(seed)
    if draws is None and sampler is not None:
        draws = UncertaintyDraws(estimates=sampler)
    model, drawn = build_model(inputs, levers, uncertainties, scale, key, draws, replicate)
    with model:  # its firms handed back at once, for the worker's next replicate (SimModel.close)
        traj = model.run()
    return ReplicateResult(replicate, traj, model.fiscal_cost_by_lever(), drawn)


_WORKER_STATE: dict = {}

# A replicate of about 600 firms (scale against the 1:1 population of some 118 000): it calls the
# model's compiled loops in a few milliseconds once they are loaded
_WARM_SCALE = 0.005
_warm = False


# after how many seconds of warm-up a run says the loops are compiling, and starts processes that
# compile them beside it (see warm_kernels): loading them takes about 0.6 s
_NOTICE_AFTER_S = 3.0
_COMPILERS_AFTER_S = 1.0


def warm_kernels(inputs: ModelInputs, levers: Levers, uncertainties: Uncertainties, *,
                 notice: Callable[[str], None] | None = None) -> None:
    """Load the model's compiled loops (simmodel.kernels) into this process, by running a small
    replicate of ``inputs`` once per process (its results are dropped). Where this process forks
    workers (run_ensemble calls it then), a worker inherits them; otherwise every worker of every
    pool loads them from Numba's cache itself, about 0.5 s a worker: three ensembles of 20
    replicates at scale 0.1 on two workers took 3.2-3.5 s, 2.2-2.4 with this 0.6 s warm-up (a
    default run makes three: the scenario, no_new_policy and the decomposition's).

    On a checkout whose loops are not compiled yet it compiles them (50-53 s on one core, 32-35 with
    a second): once the warm-up has taken _COMPILERS_AFTER_S seconds, processes of their own compile
    loops on the spare cores (_LoopCompilers); once it has taken _NOTICE_AFTER_S, ``notice``, if
    given, is called with kernels.COMPILING_NOTICE, so that a run says why it waits before its
    progress bar starts (a run or a calibration that shows its progress calls it first for that
    reason, whatever its workers)."""
    global _warm
    if _warm:
        return
    _warm = True
    import threading

    compilers = _LoopCompilers(inputs, levers, uncertainties)
    timers = [threading.Timer(_COMPILERS_AFTER_S, compilers.start)]
    if notice is not None:
        timers.append(threading.Timer(_NOTICE_AFTER_S, notice, args=(kernels.COMPILING_NOTICE,)))
    for timer in timers:
        timer.daemon = True
        timer.start()
    try:
        with SimModel(inputs, levers, uncertainties, scale=_WARM_SCALE, seed=0) as model:
            model.run()
    except Exception:  # noqa: S110 - a speed-up only: the workers load what it did not, and report any error
        pass
    finally:
        for timer in timers:
            timer.cancel()
        compilers.stop()


# At most this many processes compile loops beside a warm-up that compiles (each holds Numba's
# compiler: 618 MB at most, resident, in one that compiled every loop alone; the loops of a
# replicate took 50-53 s on one core here, 32-35 s with one)
_COMPILERS_MAX = 3


def spare_cores() -> int:
    """The cores this process may run on, less the one it runs on."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    return max(n - 1, 0)


_COMPILER_MAIN = "from simmodel.ensemble import compile_loops_main; compile_loops_main()"


class _LoopCompilers:
    """Processes that compile the model's loops while this one's warm-up meets them: each finds what a
    warm-up replicate calls with its loops run as plain Python (kernels.loop_signatures, a few
    seconds) and compiles those into Numba's cache from the last (kernels.compile_loops), while the
    warm-up meets them from the first (kernels.claiming). Each loop goes to whichever claims it first
    (a file made with O_EXCL in a folder of this process's), and whoever waits for one loads what the
    other cached: none is compiled twice. stop() ends them: by the warm-up's end, what they would
    compile the warm-up has. One a spare core, at most _COMPILERS_MAX; none on one core, nor where
    the loops run as plain Python (NUMBA_DISABLE_JIT)."""

    def __init__(self, inputs: ModelInputs, levers: Levers, uncertainties: Uncertainties) -> None:
        import threading

        self._job = (inputs, levers, uncertainties)
        self._procs: list = []
        self._claims: str | None = None
        self._undo: Callable[[], None] | None = None
        self._stopped = False
        self._lock = threading.Lock()

    def start(self) -> None:
        import pickle
        import subprocess
        import sys
        import tempfile

        with self._lock:
            n = min(spare_cores(), _COMPILERS_MAX)
            if self._stopped or self._procs or n == 0 or not kernels.jit_enabled():
                return
            self._claims = tempfile.mkdtemp(prefix="simmodel-loops-")
            job = pickle.dumps((*self._job, self._claims, os.getpid()))
            for _ in range(n):
                try:
                    proc = subprocess.Popen([sys.executable, "-c", _COMPILER_MAIN], stdin=subprocess.PIPE,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    self._procs.append(proc)
                    proc.stdin.write(job)
                    proc.stdin.close()
                except OSError:  # a speed-up only
                    break
            if self._procs:
                claims = self._claims
                self._undo = kernels.claiming(lambda key: claim_loop(claims, key), lambda key: done_loop(claims, key),
                                              self._wait)

    def _wait(self, key: str) -> None:
        """Until the process that claimed ``key`` is done with it, or no compiler is left."""
        import time

        done = os.path.join(self._claims, key + _DONE)
        while not os.path.exists(done) and any(proc.poll() is None for proc in self._procs):
            time.sleep(0.02)

    def stop(self) -> None:
        import shutil
        import subprocess

        with self._lock:
            self._stopped = True
            if self._undo is not None:
                self._undo()
            for proc in self._procs:
                proc.terminate()
            for proc in self._procs:
                try:
                    proc.wait(timeout=2)
                except subprocess.TimeoutExpired:  # still starting, with SIGTERM ignored as its parent's
                    proc.kill()
                    proc.wait()
            if self._claims is not None:
                shutil.rmtree(self._claims, ignore_errors=True)


_DONE = ".done"  # a claim's file, and this after its name when its loop is compiled (see _LoopCompilers)


def claim_loop(claims: str, key: str) -> bool:
    """Whether this process is the first to claim the loop ``key`` (kernels.loop_key) in the folder
    ``claims``."""
    try:
        os.close(os.open(os.path.join(claims, key), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    except OSError:  # the folder gone (the compilers stopped): compile it here
        return True
    return True


def done_loop(claims: str, key: str) -> None:
    """Say that the loop ``key`` claimed in ``claims`` is compiled (or failed to)."""
    with contextlib.suppress(OSError):
        os.close(os.open(os.path.join(claims, key + _DONE), os.O_CREAT | os.O_WRONLY))


def compile_loops_main() -> None:
    """A process of _LoopCompilers: reads (inputs, levers, uncertainties, claims folder, parent
    pid) pickled from standard input, records the warm-up replicate's loops and compiles those it
    claims. Ends within a second of its parent (whose thread that started it is a timer's: the
    kernel's death signal would come when that thread ends, so the parent is watched instead)."""
    import pickle
    import signal
    import sys
    import threading
    import time

    # what its parent ignored or blocked it would too (exec keeps both): ended by stop(), it ends
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):  # not on Windows
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    inputs, levers, uncertainties, claims, parent = pickle.load(sys.stdin.buffer)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()

    def run() -> None:
        with SimModel(inputs, levers, uncertainties, scale=_WARM_SCALE, seed=0) as model:
            model.run()

    kernels.compile_loops(kernels.loop_signatures(run), lambda key: claim_loop(claims, key),
                          lambda key: done_loop(claims, key))


def _worker_init(inputs, levers, uncertainties, scale, draws):
    _WORKER_STATE.update(inputs=inputs, levers=levers, uncertainties=uncertainties, scale=scale, draws=draws)


def _worker_run(args):
    seed, r = args
    st = _WORKER_STATE
    return run_one(st["inputs"], st["levers"], st["uncertainties"], st["scale"], seed, r, draws=st["draws"])


def run_ensemble(inputs: ModelInputs, levers: Levers, uncertainties: Uncertainties, *, scale: float, root_seed: int,
                 replicates: int, workers: int = 1, progress: Callable[[int], None] | None = None,
                 sampler: ParameterSampler | None = None, draws: UncertaintyDraws | None = None,
                 keys: list[ReplicateKey] | None = None) -> list[ReplicateResult]:
    """Run ``replicates`` replicates; ``progress(k)`` is called after each finished replicate.

    draws: what each replicate draws (default: nothing but its shocks, or the estimates of
    ``sampler``). keys: the replicates' seed keys (default: the main replicates of root_seed, with
    replicate 0's shocks for all when draws.shocks is False)."""
    if draws is None:
        draws = UncertaintyDraws(estimates=sampler)
    if keys is None:
        keys = replicate_keys(root_seed, replicates, draws.shocks)
    seeds = keys
    replicates = len(keys)
    out: list[ReplicateResult] = []
    if workers == 0:
        workers = os.cpu_count() or 1
    workers = min(workers, replicates)
    if workers <= 1:
        for r, ss in enumerate(seeds):
            out.append(run_one(inputs, levers, uncertainties, scale, ss, r, draws=draws))
            if progress:
                progress(1)
        return out
    if default_context().get_start_method() == "fork":  # nothing to gain where workers start fresh (spawn)
        warm_kernels(inputs, levers, uncertainties)
    # workers that exit when this process dies, even by SIGKILL (simmodel.workers)
    with process_pool(min(workers, os.cpu_count() or 1), initializer=_worker_init,
                      initargs=(inputs, levers, uncertainties, scale, draws)) as pool:
        for res in pool.map(_worker_run, [(ss, r) for r, ss in enumerate(seeds)]):
            out.append(res)
            if progress:
                progress(1)
    out.sort(key=lambda x: x.replicate)
    return out
