"""Experiment for issue 17 (not part of simmodel, not run by the tests): the firms' yearly rates
(simmodel.model.stages.rates.refresh_rates) in Numba, two ways, against the numpy stage, on the same
1:1 population (after five quarters) and the same uniforms:

- **loop**: everything, logs and exponentials included, in one fused loop;
- **hybrid**: numpy takes the logs and exponentials (whole arrays at once, where its SIMD code is
  fast), three Numba loops take everything else (lookups, masks, products) in single passes.

Numba is not a dependency; to run this without touching the project's environment:

    .venv/bin/pip install --target /tmp/nbpkgs --no-deps numba==0.68.1 "llvmlite>=0.50,<0.51"
    PYTHONPATH=/tmp/nbpkgs .venv/bin/python benchmarks/experiments/numba_refresh_rates.py [--fastmath] [--rounds 3]

Measured on 2 December 2026 (this 2-core machine, 138 308 firm slots): numpy 20.0 ms a call, the Numba
loop 22.0 ms (20.3 ms with fastmath; this Numba has no SVML, so its logs and exponentials stay scalar
while numpy's are SIMD); compile 2.1 s; outputs equal to about 6e-6 relative, not bit-identical.

Measured on 3 December 2026 (after the numpy stage was made faster; three interleaved rounds of 7
calls each): numpy 9.6-9.7 ms a call, the loop 12.5-12.9 ms, the hybrid 4.8-5.0 ms, about half of
numpy's; hybrid compile 1.2 s; its outputs equal numpy's to 5.9e-6 relative (g_annual; 2.4e-7 for the
rest), not bit-identical. Importing Numba costs 0.5-0.7 s a process here (numpy alone 0.17 s). The
two kernels repeat the expected-growth lines on purpose: with them in one shared @njit function
(inlined or not) the loop took 14.7-19.4 ms and the hybrid 12.0-15.6 ms.
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

F32 = np.float32


@numba.njit(cache=False)
def hybrid_inputs(rev, rd_int, grant_rd, sector, rd_ref, add, u, rr, ratio, a):
    """What numpy's logs take: revenue (floored), the R&D ratio, and the shock's log1p argument."""
    for i in range(rev.size):
        rr[i] = F32(max(rev[i], 1e-6) / REFERENCE_REVENUE_CNY_100M)
        rd = add * grant_rd[i] + rd_int[i] * rev[i]
        ratio[i] = F32(max(rd, 1e-12) / rd_ref[sector[i]])
        a[i] = -min(F32(2.0) * abs(u[i]), F32(1.0 - 2.0 ** -24))


@numba.njit(cache=False)
def hybrid_growth(logr, lratio, sector, age_q, equity, rev, designated, boost, boost_until, q, drift, size_center,
                  young_prem, size_slope, eq_boost, des_boost, macro, vol_el, innov_el, exit_el, g_out, x):
    """Expected growth, and the three exponents (shock scale, innovation, exit) stacked in x."""
    n = logr.size
    amax = young_prem.size - 1
    for i in range(n):
        s = sector[i]
        lr = logr[i]
        g = drift[s] + size_slope * (lr - size_center[s]) + young_prem[min(age_q[i], amax)]
        if equity[i] > 0:
            g += eq_boost * min(equity[i] / max(rev[i], 1e-6), 1.0)
        if designated[i]:
            g += des_boost
        if boost_until[i] > q:
            g += boost[i]
        g_out[i] = g + macro
        x[i] = F32(-vol_el) * lr
        x[n + i] = F32(innov_el) * lratio[i]
        x[2 * n + i] = F32(-exit_el) * lr


@numba.njit(cache=False)
def hybrid_rates(x, e, u, talent, n_inv, pen_until, stage, rev, age_q, young_haz, q, lap_scale, lap_min, lap_max,
                 lam_mult, talent_boost, exit_base, funded_mult, pen_mult, cut, small_bits, small_max, hcap, shock_out, y):
    """The shock from exp(x[0]) and e, and the arguments of the two expm1 (innovation, exit) in y."""
    n = e.size
    amax = young_haz.size - 1
    for i in range(n):
        sc = min(max(x[i] * lap_scale, lap_min), lap_max)
        ei = -e[i] if u[i] > 0 else (e[i] if u[i] < 0 else F32(0.0))
        shock_out[i] = 0.25 * sc * ei
        lam = x[n + i] * lam_mult
        if talent[i] > 0:
            lam *= 1.0 + talent_boost * talent[i]
        y[i] = -lam / 4.0
        h = x[2 * n + i] * exit_base * young_haz[min(age_q[i], amax)]
        if n_inv[i] > 0:
            h *= funded_mult
        if pen_until[i] > q:
            h *= pen_mult
        if cut != 0.0 and ((small_bits >> stage[i]) & 1) and rev[i] < small_max:
            h *= 1.0 - cut
        y[n + i] = -min(h, hcap) / 4.0


def hybrid_version():
    sl = slice(0, n)
    rev, sector = f.revenue[sl], f.sector[sl]
    u = np.random.default_rng(7).random(n, dtype=np.float32) - np.float32(0.5)
    rr, ratio, a = np.empty(n, F32), np.empty(n, F32), np.empty(n, F32)
    hybrid_inputs(rev, f.rd_intensity[sl], f.grant_rd[sl], sector, ctx.rd_reference, p.subsidy_additionality, u, rr, ratio, a)
    logr, lratio, e = np.log(rr), np.log(ratio), np.log1p(a)  # numpy's SIMD logs
    g, x = np.empty(n, F32), np.empty(3 * n, F32)
    hybrid_growth(logr, lratio, sector, f.age_q[sl], f.equity[sl], rev, f.designated[sl], f.boost[sl], f.boost_until_q[sl], q,
                  (ctx.drift_annual + shift).astype(F32), ctx.size_center.astype(F32), m.young_premium, p.growth_size_slope,
                  p.fund_equity_growth_boost, p.designation_growth_boost, 0.01, p.growth_volatility_size_elasticity,
                  p.innovation_rd_elasticity, p.exit_size_elasticity, g, x)
    np.exp(x, out=x)  # the three exponentials in one SIMD call
    shock, y = np.empty(n, F32), np.empty(2 * n, F32)
    bits = (1 << int(FirmStage.TECH_SME)) | (1 << int(FirmStage.HIGH_TECH)) | (1 << int(FirmStage.LITTLE_GIANT))
    hybrid_rates(x, e, u, f.talent[sl], f.n_investors[sl], f.penalty_until_q[sl], f.stage[sl], rev, f.age_q[sl],
                 m.young_hazard, q, p.growth_laplace_scale_annual, p.growth_laplace_scale_min, p.growth_laplace_scale_max,
                 p.innovation_base_annual * spill, p.talent_innovation_boost, p.exit_hazard_base_annual,
                 p.fund_funded_hazard_multiplier, p.fund_early_exit_hazard_multiplier, cut, bits,
                 TECH_SME_MAX_REVENUE_CNY_100M, p.exit_hazard_cap_annual, shock, y)
    np.expm1(y, out=y)
    np.negative(y, out=y)
    return [g, shock, y[:n], y[n:]]


a = numpy_version()
versions = (("numpy stage", numpy_version), ("numba loop", numba_version), ("numba hybrid", hybrid_version))
for label, fn in versions[1:]:
    t = time.perf_counter(); b = fn(); print(f"{label}: first call (compile) {time.perf_counter() - t:.2f} s")
    for name, x, y in zip(("g_annual", "shock_q", "p_innovate_q", "p_exit_q"), a, b):
        rel = np.max(np.abs(x.astype(float) - y.astype(float)) / np.maximum(np.abs(x.astype(float)), 1e-12))
        print(f"  {name}: identical {np.array_equal(x, y)}, max relative difference {rel:.2e}, dtype {x.dtype}")
rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
for r in range(rounds):  # interleaved: a burst of load on a shared machine hits every version alike
    for label, fn in versions:
        ts = []
        for _ in range(7):
            t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
        print(f"round {r + 1}, {label}: {1e3 * np.median(ts):.1f} ms median of 7 ({n} firm slots)")
