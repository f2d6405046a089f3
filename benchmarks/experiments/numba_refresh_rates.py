"""Experiment for issue 17 (not part of simmodel, not run by the tests): the firms' yearly rates
(simmodel.model.stages.rates.refresh_rates) as one fused Numba loop against the numpy stage, on the
same 1:1 population (after five quarters) and the same uniforms.

Numba is not a dependency; to run this without touching the project's environment:

    .venv/bin/pip install --target /tmp/nbpkgs --no-deps numba==0.68.1 "llvmlite>=0.50,<0.51"
    PYTHONPATH=/tmp/nbpkgs .venv/bin/python benchmarks/experiments/numba_refresh_rates.py [--fastmath]

Measured on 2 December 2026 (this 2-core machine, 138 308 firm slots): numpy 20.0 ms a call, the Numba
loop 22.0 ms (20.3 ms with fastmath; this Numba has no SVML, so its logs and exponentials stay scalar
while numpy's are SIMD); compile 2.1 s; outputs equal to about 6e-6 relative, not bit-identical.
"""
import sys, time
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
import numpy as np, numba
from simmodel.config import RunConfig
from simmodel.ensemble import load_inputs
from simmodel.model import SimModel
from simmodel.model.stages.rates import refresh_rates, sector_shift, spillover
from simmodel.agents.firms import finance_hazard_cut, FirmStage, TECH_SME_MAX_REVENUE_CNY_100M, REFERENCE_REVENUE_CNY_100M

cfg = RunConfig(); inputs, _ = load_inputs(cfg)
m = SimModel(inputs, cfg.levers, cfg.uncertainties, scale=1.0, seed=1)
for _ in range(5): m.step()
f, p, ctx, lv = m.firms, m.params, m.growth_ctx, m.levers
year = m.years[m.q // 4]
shift = sector_shift(m.sectors, m.uncertainties, m.long_horizon, year, m.policy_start_year)
spill = spillover(m.government.basic_research_cny_100m_this_year, m.calib.other_rd_cny_100m, p)
cut = finance_hazard_cut(p, lv.small_firm_finance_index)
q = m.q
n = f.n

def numpy_version():
    refresh_rates(f, ctx, p, lv, q=q, sector_shift=shift, spillover=spill, macro_shock=0.01,
                  young_premium=m.young_premium, young_hazard=m.young_hazard,
                  shock_u=np.random.default_rng(7).random(n, dtype=np.float32))
    return f.g_annual[:n].copy(), f.shock_q[:n].copy(), f.p_innovate_q[:n].copy(), f.p_exit_q[:n].copy()

@numba.njit(cache=False, fastmath="--fastmath" in sys.argv)
def kernel(rev, sector, age_q, equity, designated, boost, boost_until, rd_int, grant_rd, talent, n_inv, pen_until, stage,
           u, drift, size_center, rd_ref, young_prem, young_haz, ref_rev, q, macro, size_slope, eq_boost, des_boost,
           vol_el, lap_scale, lap_min, lap_max, add, innov_el, innov_base, spill, talent_boost,
           exit_el, exit_base, funded_mult, pen_mult, cut, small_bits, small_max, hcap,
           g_out, shock_out, pin_out, pex_out):
    for i in range(rev.size):
        r = max(rev[i], 1e-6)
        logr = np.float32(np.log(np.float32(r / ref_rev)))
        s = sector[i]
        a = min(age_q[i], young_prem.size - 1)
        g = drift[s] + size_slope * (logr - size_center[s]) + young_prem[a]
        if equity[i] > 0:
            g += eq_boost * min(equity[i] / max(rev[i], 1e-6), 1.0)
        if designated[i]:
            g += des_boost
        if boost_until[i] > q:
            g += boost[i]
        g_out[i] = g + macro
        ui = u[i]
        e = np.float32(np.log1p(-min(np.float32(2.0) * abs(ui), np.float32(1.0 - 2.0 ** -24))))
        e = -e if ui > 0 else (e if ui < 0 else np.float32(0.0) * e)
        sc = min(max(np.exp(-vol_el * logr) * lap_scale, lap_min), lap_max)
        shock_out[i] = 0.25 * sc * e
        rd = add * grant_rd[i] + rd_int[i] * rev[i]
        ratio = np.float32(max(rd, 1e-12) / rd_ref[s])
        lam = np.exp(np.float32(innov_el) * np.log(ratio)) * innov_base * spill
        if talent[i] > 0:
            lam *= 1.0 + talent_boost * talent[i]
        pin_out[i] = -np.expm1(-lam / 4.0)
        h = np.exp(-exit_el * logr) * exit_base * young_haz[min(age_q[i], young_haz.size - 1)]
        if n_inv[i] > 0:
            h *= funded_mult
        if pen_until[i] > q:
            h *= pen_mult
        if cut != 0.0 and ((small_bits >> stage[i]) & 1) and rev[i] < small_max:
            h *= 1.0 - cut
        pex_out[i] = -np.expm1(-min(h, hcap) / 4.0)

def numba_version():
    u = np.random.default_rng(7).random(n, dtype=np.float32) - np.float32(0.5)
    outs = [np.empty(n, f.g_annual.dtype), np.empty(n, f.shock_q.dtype), np.empty(n, f.p_innovate_q.dtype), np.empty(n, f.p_exit_q.dtype)]
    bits = (1 << int(FirmStage.TECH_SME)) | (1 << int(FirmStage.HIGH_TECH)) | (1 << int(FirmStage.LITTLE_GIANT))
    sl = slice(0, n)
    kernel(f.revenue[sl], f.sector[sl], f.age_q[sl], f.equity[sl], f.designated[sl], f.boost[sl], f.boost_until_q[sl],
           f.rd_intensity[sl], f.grant_rd[sl], f.talent[sl], f.n_investors[sl], f.penalty_until_q[sl], f.stage[sl].astype(np.int64),
           u, (ctx.drift_annual + shift).astype(np.float32), ctx.size_center, ctx.rd_reference, m.young_premium, m.young_hazard,
           REFERENCE_REVENUE_CNY_100M, q, 0.01, p.growth_size_slope, p.fund_equity_growth_boost, p.designation_growth_boost,
           p.growth_volatility_size_elasticity, p.growth_laplace_scale_annual, p.growth_laplace_scale_min, p.growth_laplace_scale_max,
           p.subsidy_additionality, p.innovation_rd_elasticity, p.innovation_base_annual, spill, p.talent_innovation_boost,
           p.exit_size_elasticity, p.exit_hazard_base_annual, p.fund_funded_hazard_multiplier, p.fund_early_exit_hazard_multiplier,
           cut, bits, TECH_SME_MAX_REVENUE_CNY_100M, p.exit_hazard_cap_annual, *outs)
    return outs

a = numpy_version()
t = time.perf_counter(); b = numba_version(); print(f"numba first call (compile) {time.perf_counter() - t:.2f} s")
for name, x, y in zip(("g_annual", "shock_q", "p_innovate_q", "p_exit_q"), a, b):
    rel = np.max(np.abs(x.astype(float) - y.astype(float)) / np.maximum(np.abs(x.astype(float)), 1e-12))
    print(f"  {name}: identical {np.array_equal(x, y)}, max relative difference {rel:.2e}, dtype {x.dtype}")
for fn, label in ((numpy_version, "numpy stage"), (numba_version, "numba loop")):
    ts = []
    for _ in range(7):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    print(f"{label}: {1e3 * np.median(ts):.1f} ms median of 7 ({n} firm slots)")
