"""Rolling-origin backtest: calibrate on the history up to a cutoff, project the years after it,
score against what happened and against plain statsmodels forecasters.

The model's forecast of an indicator is the last observed value at or before the cutoff carried
forward with the calibrated model's own simulated change over the same number of years (growth
factors for levels, pp changes for shares), replicate by replicate: the model starts from the base
year's population, so it is the model's dynamics, not its levels, that a backtest can judge.
Errors are in log points x 100 for levels (so indicators of different size compare) and in pp for
shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simmodel.calibration import forecasters as fc

# (indicator in the data, indicator in the model, kind): what the backtest scores
BACKTEST_SERIES = (
    ("gdp_cny_100m", "gdp_cny_100m", "level"),
    ("digital_core_va_cny_100m", "digital_core_va_cny_100m", "level"),
    ("digital_core_va_share_gdp_pct", "t3_digital_core_share_gdp_pct", "share"),
    ("rd_intensity_pct", "rd_intensity_pct", "share"),
    ("high_tech_enterprises_count", "n_high_tech", "level"),
)


@dataclass
class OriginResult:
    cutoff: int
    forecasts: pd.DataFrame  # cutoff, indicator, method, year, mean, lo80, hi80, lo95, hi95, actual, error


def annual_rows(history: pd.DataFrame, indicator: str) -> pd.DataFrame:
    sub = history[history["indicator"] == indicator].sort_values("year")
    return sub[["year", "value"]]


def model_forecast(paths: np.ndarray, years_sim: np.ndarray, last_year: int, last_value: float, target_years: np.ndarray,
                   kind: str) -> tuple[np.ndarray, ...]:
    """Quantiles of last_value carried forward with the simulated k-year change (k = year - last_year),
    measured from the first simulated year (a yearly average like the later ones)."""
    first = paths[:, 1]  # column 0 is the base-year state
    out = []
    for y in target_years:
        k = int(y - last_year)
        col = 1 + k
        if col >= paths.shape[1]:
            raise ValueError(f"simulation too short for a {k}-year horizon; raise end_year")
        if kind == "level":
            vals = last_value * paths[:, col] / first
        else:
            vals = last_value + paths[:, col] - first
        out.append(np.quantile(vals, [0.5, 0.1, 0.9, 0.025, 0.975]))
    q = np.array(out)
    return q[:, 0], q[:, 1], q[:, 2], q[:, 3], q[:, 4]


def error(actual: np.ndarray, predicted: np.ndarray, kind: str) -> np.ndarray:
    """Forecast error: 100 x log ratio for levels, difference in pp for shares."""
    if kind == "level":
        return 100.0 * (np.log(predicted) - np.log(actual))
    return predicted - actual


def score_origin(history: pd.DataFrame, cutoff: int, paths: dict[str, np.ndarray], years_sim: np.ndarray,
                 last_data_year: int) -> OriginResult:
    rows = []
    for data_name, sim_name, kind in BACKTEST_SERIES:
        obs = annual_rows(history, data_name)
        train = obs[obs["year"] <= cutoff]
        test = obs[(obs["year"] > cutoff) & (obs["year"] <= last_data_year)]
        if len(train) < 2 or test.empty or sim_name not in paths:
            continue
        ty = test["year"].to_numpy(int)
        actual = test["value"].to_numpy(float)
        ly, lv = int(train["year"].iloc[-1]), float(train["value"].iloc[-1])
        mean, lo80, hi80, lo95, hi95 = model_forecast(paths[sim_name], years_sim, ly, lv, ty, kind)
        rows += [dict(cutoff=cutoff, indicator=data_name, method="model", year=int(y), mean=m, lo80=a, hi80=b, lo95=c, hi95=d,
                      actual=act, notes="") for y, m, a, b, c, d, act in zip(ty, mean, lo80, hi80, lo95, hi95, actual)]
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
