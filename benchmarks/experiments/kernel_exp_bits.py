"""Experiment for issue 17 (not run by the tests): do a compiled loop's logarithms and exponentials
give numpy's bits? They do not, which is why simmodel.kernels leaves them to numpy.

Numba's ``np.exp`` and ``np.log`` inside a loop call the C library's scalar functions; numpy's own
array functions use its vectorised implementations. Both are accurate to within an ulp or so, but
not the same ulp, and the model's results are checked bit for bit.

    .venv/bin/python benchmarks/experiments/kernel_exp_bits.py

Measured on 4 December 2026 (this machine, numba 0.68.1, numpy 2.5.5): exp in float32 differs for
199 839 958 of the 2 212 495 362 float32 values in [-30, 30] (9.0 %); on 10 000 000 random values,
exp in float64 on [-5, 5] differs for 462 799 (4.6 %), log in float64 on [1e-6, 1e6] for 605, and log
in float32 for 370 917 (3.7 %). About 50 s.
"""
import time

import numpy as np
from numba import njit


@njit
def loop_exp(x, out):
    for i in range(x.size):
        out[i] = np.exp(x[i])


@njit
def loop_log(x, out):
    for i in range(x.size):
        out[i] = np.log(x[i])


def differ(fn, numpy_fn, x: np.ndarray) -> int:
    want = numpy_fn(x)
    got = np.empty_like(want)
    fn(x, got)
    return int((want.view(np.uint8).reshape(x.size, -1) != got.view(np.uint8).reshape(x.size, -1)).any(axis=1).sum())


def main() -> None:
    t = time.perf_counter()
    bad = total = 0
    top = np.array(30.0, np.float32).view(np.uint32).item()
    step = 1 << 26
    for sign in (0, 0x80000000):
        for start in range(0, top + 1, step):
            x = (np.arange(start, min(start + step, top + 1), dtype=np.uint32) | np.uint32(sign)).view(np.float32)
            bad += differ(loop_exp, np.exp, x)
            total += x.size
    print(f"exp float32, every value in [-30, 30]: {bad} of {total} differ ({100 * bad / total:.1f} %)")
    rng = np.random.default_rng(0)
    x = rng.uniform(-5, 5, 10_000_000)
    print(f"exp float64, 1e7 values in [-5, 5]: {differ(loop_exp, np.exp, x)} differ")
    x = rng.uniform(1e-6, 1e6, 10_000_000)
    print(f"log float64, 1e7 values in [1e-6, 1e6]: {differ(loop_log, np.log, x)} differ")
    print(f"log float32, the same values: {differ(loop_log, np.log, x.astype(np.float32))} differ")
    print(f"({time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
