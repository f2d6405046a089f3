"""Rolling-origin backtest on the replayed history: for each cutoff, calibrate on the replayed years
up to it (simmodel.calibration.fit), simulate from the early base year through every later year with
data, and score the model's levels against what happened and against plain statsmodels forecasters
fitted to the rows up to the cutoff (simmodel.calibration.forecasters).

The model's forecast of a year is the simulated level itself, replicate by replicate (parameters
drawn from the origin's posterior, its own shocks): the model starts from the base year's data and
lives through the held-out years, as Poledna et al. (2023) score their ABM from each forecast origin.
Any year after the cutoff with a row is scored, so rows a user adds (2025, 2026) are scored without a
code change. Errors are in log points x 100 for levels (so indicators of different size compare) and
in pp for shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simmodel.calibration import forecasters as fc

# (indicator in the data, indicator in the model, kind): what the backtest scores; kind "level" is
# scored in log points x 100 and forecast on the log scale, "share" in pp and "count" in units
BACKTEST_SERIES = (
    ("gdp_cny_100m", "gdp_cny_100m", "level"),
    ("digital_core_va_cny_100m", "digital_core_va_cny_100m", "level"),
    ("digital_core_va_share_gdp_pct", "t3_digital_core_share_gdp_pct", "share"),
    ("rd_intensity_pct", "rd_intensity_pct", "share"),
    ("high_tech_enterprises_count", "n_high_tech", "level"),
    ("little_giant_national_cumulative_count", "n_little_giant", "level"),
    ("single_champion_cumulative_count", "n_single_champion", "level"),
    ("national_adv_mfg_clusters_cumulative", "t4_national_clusters", "count"),
    ("cluster_415x_revenue_cny_100m", "cluster_415x_revenue_cny_100m", "level"),
)


@dataclass
class OriginResult:
    cutoff: int
    forecasts: pd.DataFrame  # cutoff, indicator, method, year, mean, lo80, hi80, lo95, hi95, actual, error


def annual_rows(history: pd.DataFrame, indicator: str) -> pd.DataFrame:
    sub = history[history["indicator"] == indicator].sort_values("year")
    return sub[["year", "value"]]


def model_forecast(paths: np.ndarray, years_sim: np.ndarray, target_years: np.ndarray) -> tuple[np.ndarray, ...]:
    """Median and 80 % / 95 % quantiles over replicates of the simulated value in each target year."""
    col = {int(y): i for i, y in enumerate(years_sim)}
    missing = [int(y) for y in target_years if int(y) not in col]
    if missing:
        raise ValueError(f"the simulation does not reach year(s) {missing}; it runs {years_sim[0]}-{years_sim[-1]}")
    q = np.array([np.quantile(paths[:, col[int(y)]], [0.5, 0.1, 0.9, 0.025, 0.975]) for y in target_years])
    return q[:, 0], q[:, 1], q[:, 2], q[:, 3], q[:, 4]


def error(actual: np.ndarray, predicted: np.ndarray, kind: str) -> np.ndarray:
    """Forecast error: 100 x log ratio for levels, difference in pp for shares."""
    if kind == "level":
        return 100.0 * (np.log(predicted) - np.log(actual))
    return predicted - actual


def score_origin(history: pd.DataFrame, cutoff: int, paths: dict[str, np.ndarray], years_sim: np.ndarray,
                 last_data_year: int) -> OriginResult:
    """Every held-out row (after the cutoff, up to the last data year, within the simulated years) of
    the scored series: the model's forecast and each forecaster's (fitted to the rows up to the
    cutoff; a series needs two such rows for the forecasters, the model needs none)."""
    rows = []
    for data_name, sim_name, kind in BACKTEST_SERIES:
        obs = annual_rows(history, data_name)
        train = obs[obs["year"] <= cutoff]
        test = obs[(obs["year"] > cutoff) & (obs["year"] <= min(last_data_year, int(years_sim[-1])))]
        if test.empty or sim_name not in paths:
            continue
        ty = test["year"].to_numpy(int)
        actual = test["value"].to_numpy(float)
        mean, lo80, hi80, lo95, hi95 = model_forecast(paths[sim_name], years_sim, ty)
        rows += [dict(cutoff=cutoff, indicator=data_name, method="model", year=int(y), mean=m, lo80=a, hi80=b, lo95=c, hi95=d,
                      actual=act, notes="") for y, m, a, b, c, d, act in zip(ty, mean, lo80, hi80, lo95, hi95, actual)]
        if len(train) < 2:
            continue  # no forecaster can be fitted to fewer than two rows; the model is still scored
        for name, f in fc.FORECASTERS.items():
            res = f(train["year"].to_numpy(int), train["value"].to_numpy(float), ty, log=(kind == "level"))
            rows += [dict(cutoff=cutoff, indicator=data_name, method=name, year=int(y), mean=m, lo80=a, hi80=b, lo95=c, hi95=d,
                          actual=act, notes="; ".join([res.method] + list(res.notes)))
                     for y, m, a, b, c, d, act in zip(res.years, res.mean, res.lo80, res.hi80, res.lo95, res.hi95, actual)]
    df = pd.DataFrame(rows)
    if not df.empty:
        kinds = {d: k for d, _, k in BACKTEST_SERIES}
        df["error"] = [float(error(np.array([a]), np.array([m]), kinds[i])[0]) for a, m, i in zip(df["actual"], df["mean"], df["indicator"])]
    return OriginResult(cutoff, df)


def scores(forecasts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per indicator and method: n, RMSE, MAE, coverage of the 80 % and 95 % intervals; and the
    Diebold-Mariano test of the model against each forecaster on the pooled (cutoff, year) errors."""
    rows, dm_rows = [], []
    for (ind, method), g in forecasts.groupby(["indicator", "method"], sort=False):
        e = g["error"].to_numpy(float)
        rows.append({"indicator": ind, "method": method, "n": len(e), "rmse": float(np.sqrt(np.mean(e ** 2))),
                     "mae": float(np.mean(np.abs(e))),
                     "coverage80": fc.coverage(g["actual"].to_numpy(float), g["lo80"].to_numpy(float), g["hi80"].to_numpy(float)),
                     "coverage95": fc.coverage(g["actual"].to_numpy(float), g["lo95"].to_numpy(float), g["hi95"].to_numpy(float))})
    for ind, g in forecasts.groupby("indicator", sort=False):
        model = g[g["method"] == "model"].set_index(["cutoff", "year"])["error"]
        for method in fc.FORECASTERS:
            other = g[g["method"] == method].set_index(["cutoff", "year"])["error"]
            both = model.index.intersection(other.index)
            res = fc.diebold_mariano(model.loc[both].to_numpy(float), other.loc[both].to_numpy(float))
            dm_rows.append({"indicator": ind, "versus": method, "n": len(both), "applicable": bool(res.get("applicable")),
                            "statistic": res.get("statistic", float("nan")), "pvalue": res.get("pvalue", float("nan")),
                            "note": res.get("reason", "negative statistic: the model's squared errors are smaller")})
    return pd.DataFrame(rows), pd.DataFrame(dm_rows)


# A series enters the headline scorecard with at least this many held-out model points (issue 14's goal)
SCORECARD_MIN_POINTS = 3


def scorecard(sc: pd.DataFrame, min_points: int = SCORECARD_MIN_POINTS) -> dict:
    """The headline of a backtest from its scores table: for each series with at least ``min_points``
    held-out model points, whether the model's RMSE is below the random walk with drift's; and the
    coverage of the model's 80 % and 95 % intervals pooled over every held-out point."""
    model = sc[sc["method"] == "model"].set_index("indicator")
    rw = sc[sc["method"] == "random_walk_drift"].set_index("indicator")
    series = []
    for ind, r in model.iterrows():
        if int(r["n"]) < min_points or ind not in rw.index:
            continue
        series.append({"indicator": ind, "n": int(r["n"]), "rmse_model": float(r["rmse"]), "rmse_rw": float(rw.loc[ind, "rmse"]),
                       "beats_rw": bool(r["rmse"] < rw.loc[ind, "rmse"])})
    n_pts = model["n"].astype(float)
    cov80 = float((model["coverage80"] * n_pts).sum() / n_pts.sum()) if n_pts.sum() else float("nan")
    cov95 = float((model["coverage95"] * n_pts).sum() / n_pts.sum()) if n_pts.sum() else float("nan")
    return {"series": series, "n_series": len(series), "n_beats_rw": sum(s["beats_rw"] for s in series),
            "coverage80": cov80, "coverage95": cov95, "n_points": int(n_pts.sum()), "min_points": min_points}


def scorecard_lines(card: dict) -> list[str]:
    """The scorecard as Markdown lines, with the goals of issue 14 stated beside the figures."""
    lines = [f"Series with at least {card['min_points']} held-out points: the model beats the random walk with drift on "
             f"{card['n_beats_rw']} of {card['n_series']} (goal: a majority). Coverage of the model's intervals over all "
             f"{card['n_points']} held-out points: 80 % interval {100 * card['coverage80']:.0f} % (goal 70-90 %), 95 % interval "
             f"{100 * card['coverage95']:.0f} %.", ""]
    if card["series"]:
        lines += ["| series | held-out points | RMSE model | RMSE random walk | model better |", "|---|---|---|---|---|"]
        lines += [f"| {s['indicator']} | {s['n']} | {s['rmse_model']:.3f} | {s['rmse_rw']:.3f} | {'yes' if s['beats_rw'] else 'no'} |"
                  for s in card["series"]]
    return lines


def figure(forecasts: pd.DataFrame, history: pd.DataFrame, indicator: str):
    import matplotlib.pyplot as plt

    from simmodel.report import plots

    g = forecasts[forecasts["indicator"] == indicator]
    obs = annual_rows(history, indicator)
    fig, ax = plt.subplots(figsize=(7.0, 4.0), dpi=150)
    ax.plot(obs["year"], obs["value"], "o-", color=plots.PALETTE["black"], ms=4, lw=1, label="observed")
    colors = {"model": plots.PALETTE["blue"], "random_walk_drift": plots.PALETTE["orange"],
              "linear_trend": plots.PALETTE["green"], "state_space_by_aic": plots.PALETTE["purple"]}
    for (method, cutoff), h in g.groupby(["method", "cutoff"]):
        ax.plot(h["year"], h["mean"], "-", color=colors.get(method, "0.5"), lw=1.2,
                label=method if cutoff == g["cutoff"].min() else None)
        if method == "model":
            ax.fill_between(h["year"], h["lo80"], h["hi80"], color=colors["model"], alpha=0.15, lw=0)
    ax.set_title(f"Backtest, rolling origin: {indicator}", fontsize=10)
    ax.set_xlabel("year")
    ax.set_ylabel("%" if indicator.endswith("_pct") else "count" if indicator.endswith("_count") else "CNY 100m")
    ax.legend(fontsize=7, frameon=False)
    ax.grid(True, color="0.9", lw=0.6)
    fig.tight_layout()
    return fig
