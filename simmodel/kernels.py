"""Compiled loops (Numba) for the passes over the firms that numpy would make several of (the firm
stages, the funds' screens and holdings, the government's pools and scores, the cities' land, the
yearly record), and for the random streams' seed words: each replaces them with one, and gives bit
for bit what those passes gave.
docs/extending.md lists which caller uses which loop.

Why bit for bit holds, and what keeps it:
- No logarithm or exponential is computed here: a compiled loop calls the C library's, whose last bit
  differs from numpy's own vectorised ones for about one float32 in eleven
  (``benchmarks/experiments/kernel_exp_bits.py``), so the stages keep those in numpy.
- Sums are the ones numpy computes in row order (``np.bincount`` with weights), or ``np.sum``'s
  pairwise summation, which ``pairwise_sum`` repeats operation by operation.
- Arithmetic is written in the dtypes numpy would use: a float32 array times a Python float stays
  float32 in numpy (NEP 50), so the constant is cast to float32 here first.
- A loop that draws takes its stream's numpy Generator by address (generator_at, generator_address)
  and draws with numpy's own algorithms on numpy's bit generator, in the order the stage drew in
  numpy: the same numbers, and the stream left in the same state (the tests check each draw used).

Numba is imported, and each loop compiled, at the loop's first call, not at import: a process that
never runs the model (a memo, a plot, the CLI's help) does not pay for it. Compiled code is cached
under ``__pycache__`` beside this file, so the compiler runs once per checkout and machine (about
50 s for the loops a replicate runs, on one core of this project's machines, 32-35 s where a run's
warm-up has a second core: see called, loop_signatures and simmodel.ensemble.warm_kernels); a
process that runs the model still pays about 0.5 s to load them and 100-130 MB of resident memory,
most of it Numba's LLVM library, whose pages processes share (``docs/performance.md``). Setting
``NUMBA_DISABLE_JIT=1`` runs the loops as plain Python (very slow, the same numbers: every case of
benchmarks/result_hashes.py hashes the same, 1:1 in 3 min), for a debugger; integers a loop counts
in are int64 (``np.int64(0)``, not ``0``), since in plain Python a count that starts as 0 and adds
uint8 values is a uint8 and wraps at 256 where Numba's is 64 bits.
"""

from __future__ import annotations

import functools
import os
import types
from collections.abc import Callable

import numpy as np

# What a run prints while the loops compile (simmodel.ensemble.warm_kernels), which the explorer
# shows as its run's stage (simmodel.explorer.runs)
COMPILING_NOTICE = ("compiling the model's loops (the first run of this checkout on this machine, or the first "
                    "since simmodel/kernels.py changed): under a minute, once; later runs load them in under a second")

_INLINED: dict[str, Callable] = {}  # the helpers of the loops, by name (see inlined and called)
_CALLED: set[str] = set()  # the names of those that are functions of their own (see called)
_HELPERS: dict[str, Callable] = {}  # the helpers compiled so far in this process, by name (see _with_helpers)
_LOOPS: dict[str, Callable] = {}  # every compiled loop of this module, by name (see compiled)


def inlined(fn: Callable) -> Callable:
    """A small helper of the compiled loops (one statement of a rule that several loops share, a
    firm's term, a table's lookup): each loop that calls it gets its body compiled into its own code
    (Numba's inlining), where the loop's vector instructions can take it in (see compiled). Called
    from Python, it is the plain function."""
    _INLINED[fn.__name__] = fn
    return fn


def called(fn: Callable) -> Callable:
    """A larger helper of the compiled loops (a rule with loops of its own: a sort, a ranking, a
    pairwise sum, an allocation): compiled once, at the first loop that calls it, as a function of its
    own that the loops call (LLVM still inlines it where it judges it pays), and cached as the loops
    are, so that processes that compile loops side by side (loop_signatures) share it. Inlined
    by Numba instead, its body was typed and optimised again at each call site of each loop, and those
    of the helpers it calls with it: the screens' round took 47-51 s to compile and the loops of a
    replicate 113 s, against 12 and 55 s so; the loops' times on a 1:1 replicate's captured
    arguments the same (73.3 against 73.1 ms in all, each loop within the measure's noise, which
    moved one that calls no helper by 4 %; docs/performance.md). Called from Python, it is the plain
    function."""
    _CALLED.add(fn.__name__)
    return inlined(fn)


def compiled(fn: Callable) -> Callable:
    """``fn`` compiled by Numba (no Python objects, the GIL released) at its first call, with the
    helpers it calls (inlined, called), and theirs: Numba compiles a call only to a function it has
    compiled, and compiling them at import would import Numba in every process. The loop's Numba
    dispatcher, made at its first call, is ``call.dispatcher()`` (compile_loops compiles by it)."""
    jitted = None

    def dispatcher():
        nonlocal jitted
        if jitted is None:
            from numba import njit

            jitted = njit(cache=True, nogil=True)(_with_helpers(fn, njit))
        return jitted

    @functools.wraps(fn)
    def call(*args):
        if jitted is None:
            dispatcher()
        return jitted(*args)

    call.dispatcher = dispatcher
    _LOOPS[fn.__name__] = call
    return call


def loop_signatures(run: Callable[[], object]) -> list[tuple[str, tuple]]:
    """What ``run()`` would have Numba compile, without compiling it: ``run`` is called with every
    compiled loop run as plain Python (as under NUMBA_DISABLE_JIT, the same numbers), and each loop's
    arguments typed as Numba types them at a call. Returns (loop, argument types) for each loop and
    types met, in the order first met. A few seconds for a replicate at scale 0.005 (a compiled one
    takes 0.1 s, once compiled); compile_loops then compiles them in processes of their own.

    The loops are swapped in this module's namespace, which the model's modules read at each call
    (``kernels.name(...)``): a process that records runs nothing else meanwhile."""
    from numba import typeof
    from numba.core.typing.typeof import Purpose

    global _recording
    seen: set = set()
    out: list[tuple[str, tuple]] = []

    def recorder(name: str, plain: Callable) -> Callable:
        def record(*args):
            sig = tuple(typeof(a, Purpose.argument) for a in args)
            if (name, sig) not in seen:
                seen.add((name, sig))
                out.append((name, sig))
            return plain(*args)
        return record

    loops = dict(_LOOPS)
    namespace = globals()
    _recording = True
    try:
        for name, call in loops.items():
            namespace[name] = recorder(name, call.__wrapped__)
        run()
    finally:
        namespace.update(loops)
        _recording = False
        _BY_ADDRESS.clear()
    return out


def loop_key(name: str, signature: tuple) -> str:
    """A name for a loop and the Numba types of its arguments, for a file name (the claims of
    compile_loops and claiming)."""
    import hashlib

    return f"{name}-{hashlib.sha1(repr(signature).encode()).hexdigest()[:16]}"


def compile_loops(signatures: list[tuple[str, tuple]], claim: Callable[[str], bool] | None = None,
                  done: Callable[[str], None] | None = None) -> int:
    """Compile the loops of ``signatures`` (loop_signatures' list) by Numba into its cache, last first,
    those whose loop_key ``claim`` grants (None: all), each followed by ``done(key)`` (compiled or
    not): a process that compiles some while another runs the model, which meets them from the first
    (claiming), lets the two meet half way (simmodel.ensemble.warm_kernels). A signature of a loop
    that is gone or no longer types is left to the loop's first call. Returns how many it compiled
    or loaded."""
    n = 0
    for name, sig in reversed(signatures):
        key = loop_key(name, sig)
        if name not in _LOOPS or (claim is not None and not claim(key)):
            continue
        try:
            _LOOPS[name].dispatcher().compile(sig)
            n += 1
        except Exception:  # noqa: BLE001, S112 - a head start only: the loop's first call compiles what it needs
            continue
        finally:
            if done is not None:
                done(key)
    return n


def claiming(claim: Callable[[str], bool], done: Callable[[str], None], wait: Callable[[str], None]) -> Callable[[], None]:
    """From now on, until the returned function is called, each loop of this process, at its first
    call with new argument types, claims its loop_key (``claim``) before Numba compiles or loads it,
    and says it is ``done`` after; where another process holds the claim, it ``wait``s for that
    process to say it is done, then loads what that process cached: a warm-up that meets the loops
    from the first and processes that compile them from the last (compile_loops) compile none
    twice. The loops are swapped in this module's namespace, which the model's modules read at each
    call; the swap costs a typing of the arguments a call (a few microseconds) while it lasts."""
    from numba import typeof
    from numba.core.typing.typeof import Purpose

    met: set[str] = set()

    def claimer(name: str, call: Callable) -> Callable:
        def first(*args):
            key = loop_key(name, tuple(typeof(a, Purpose.argument) for a in args))
            if key in met:
                return call(*args)
            met.add(key)
            if not claim(key):
                wait(key)
                return call(*args)
            try:
                return call(*args)
            finally:
                done(key)
        return first

    loops = dict(_LOOPS)
    namespace = globals()
    for name, call in loops.items():
        namespace[name] = claimer(name, call)

    def undo() -> None:
        namespace.update(loops)

    return undo


def _with_helpers(fn: Callable, njit: Callable) -> Callable:
    """``fn`` with the helpers it calls (inlined, called), and those they call, compiled into its
    globals (kept in _HELPERS: a helper is made once a process, whichever loop needs it first; a
    called one is compiled, or loaded from the cache, once), and
    Numba's own forms of the names in _NUMBA_FORMS (generator_at, next_uint64) where it calls them."""
    helpers = {}
    for name in fn.__code__.co_names:
        if name in _INLINED and name != fn.__name__:
            if name not in _HELPERS:
                body = _with_helpers(_INLINED[name], njit)
                _HELPERS[name] = njit(cache=True)(body) if name in _CALLED else njit(inline="always")(body)
            helpers[name] = _HELPERS[name]
        elif name in _NUMBA_FORMS and not _PLAIN_PYTHON:
            helpers[name] = _numba_form(name)
    if not helpers:
        return fn
    body = types.FunctionType(fn.__code__, {**fn.__globals__, **helpers}, fn.__name__, fn.__defaults__, fn.__closure__)
    body.__qualname__, body.__module__, body.__doc__ = fn.__qualname__, fn.__module__, fn.__doc__
    return body


# --------------------------------------------------------------------------- numpy's generators inside the loops
#
# A loop may draw from a stream itself: given the address of the stream's C interface (numpy's
# bitgen_t, generator_address), generator_at gives the loop the numpy Generator there, whose methods
# Numba implements by numpy's own algorithms on numpy's own bit generator, so the numbers, and the
# stream's state after them, are those numpy's methods give (tests/unit/test_kernels.py checks the
# ones the loops use). Numba unboxes a Generator passed as an argument in 8.4 us (ctypes casts at
# every call); an address is an integer, 0.2 us, and finding it 0.5 us. A loop so keeps a stage's
# draws and its passes in one call, in the order the stage drew them in numpy.


# whether Numba runs the loops as plain Python (NUMBA_DISABLE_JIT, which Numba reads at its import;
# read once here: os.environ costs about 0.5 us a lookup)
_PLAIN_PYTHON = os.environ.get("NUMBA_DISABLE_JIT", "0").strip() not in ("", "0")
# the generators behind addresses, for plain Python only (kept: a debugger's run holds every stream it drew
# from; loop_signatures forgets them when it is done)
_BY_ADDRESS: dict[int, np.random.Generator] = {}
_recording = False  # whether loop_signatures runs the loops as plain Python
_capsule_pointer: Callable | None = None  # ctypes' PyCapsule_GetPointer, set up at the first address


def jit_enabled() -> bool:
    """Whether the loops are compiled (False under NUMBA_DISABLE_JIT: they run as plain Python)."""
    return not _PLAIN_PYTHON


def generator_address(rng: np.random.Generator) -> int:
    """The address of ``rng``'s C interface, for a compiled loop's generator_at (0.5 us). Valid while
    ``rng`` lives (the caller holds it across the call). A loop draws without the generator's lock:
    a stream is used by one thread at a time."""
    global _capsule_pointer
    if _capsule_pointer is None:
        import ctypes

        get = ctypes.pythonapi.PyCapsule_GetPointer
        get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
        _capsule_pointer = get
    address = _capsule_pointer(rng.bit_generator.capsule, b"BitGenerator")
    if _PLAIN_PYTHON or _recording:
        _BY_ADDRESS[address] = rng
    return address


def generator_at(address: int) -> np.random.Generator:  # pragma: no cover - compiled
    """In a compiled loop: the numpy Generator whose C interface is at ``address``
    (generator_address); its methods draw what numpy's draw, bit for bit. Run as plain Python
    (NUMBA_DISABLE_JIT=1): the generator itself."""
    return _BY_ADDRESS[address]


def next_uint64(bit_generator) -> np.uint64:  # pragma: no cover - compiled
    """In a compiled loop: the stream's next 64-bit word (``generator_at(a).bit_generator``), the
    number of simmodel.agents.noise.next_word. Plain Python: the same, by random_raw."""
    return np.uint64(bit_generator.random_raw())


_NUMBA_FORMS = ("generator_at", "next_uint64")


@functools.cache
def _numba_form(name: str) -> object:
    """Numba's form of a name of _NUMBA_FORMS, made at the first compile that needs it."""
    if name == "next_uint64":
        from numba.np.random.generator_core import next_uint64 as numba_next_uint64

        return numba_next_uint64
    from llvmlite import ir
    from numba import types as nb_types
    from numba.core import cgutils
    from numba.extending import intrinsic
    from numba.np.random.generator_core import _bit_gen_type

    generator_type = nb_types.NumPyRandomGeneratorType("NumPyRandomGeneratorType")

    @intrinsic
    def numba_generator_at(typingctx, address):
        if not isinstance(address, nb_types.Integer):
            return None

        def codegen(context, builder, signature, args):
            # numpy's bitgen_t: the state, then next_uint64, next_uint32 and next_double, a pointer each
            word = ir.IntType(64)
            base = builder.inttoptr(args[0], word.as_pointer())
            state, next_u64, next_u32, next_double = (builder.load(builder.gep(base, [ir.Constant(word, k)]))
                                                      for k in range(4))
            bit_gen = cgutils.create_struct_proxy(_bit_gen_type)(context, builder)
            bit_gen.state_address, bit_gen.state, bit_gen.bit_generator = state, state, args[0]
            bit_gen.fnptr_next_uint64, bit_gen.fnptr_next_uint32, bit_gen.fnptr_next_double = next_u64, next_u32, next_double
            bit_gen.parent = cgutils.get_null_value(bit_gen.parent.type)
            gen = cgutils.create_struct_proxy(generator_type)(context, builder)
            gen.bit_generator = bit_gen._getvalue()
            # no Python object behind it: nothing for Numba to count references of or to box
            gen.meminfo = cgutils.get_null_value(gen.meminfo.type)
            gen.parent = cgutils.get_null_value(gen.parent.type)
            return gen._getvalue()

        return generator_type(address), codegen

    return numba_generator_at


def compared_as(dtype: type, x: float) -> np.generic:
    """``x`` in the dtype numpy compares an array of ``dtype`` with it in: a Python float meets a
    float32 array in float32 (NEP 50), a numpy float64 in float64. A compiled loop given it compares
    as numpy would. A Python float meeting a floating-point dtype is answered without
    np.result_type (about 1 us, which the entrants' rates would pay three times a quarter)."""
    if type(x) is float and dtype in (np.float32, np.float64):
        return dtype(x)
    return np.result_type(dtype, x).type(x)


@inlined
def keyed_unit(row, key):  # pragma: no cover - compiled
    """simmodel.agents.noise.keyed_uniform(key, row) for one firm row (``key``: uint32): the row times
    0x9E3779B9, XOR the key, then murmur3's 32-bit finaliser, each step cast back to 32 bits (Numba
    widens 32-bit integer arithmetic), and the top 24 bits as a float32 multiple of 2^-24."""
    h = np.uint32(np.uint32(np.uint32(row) * np.uint32(0x9E3779B9)) ^ key)
    h = np.uint32(h ^ (h >> np.uint32(16)))
    h = np.uint32(h * np.uint32(0x85EBCA6B))
    h = np.uint32(h ^ (h >> np.uint32(13)))
    h = np.uint32(h * np.uint32(0xC2B2AE35))
    h = np.uint32(h ^ (h >> np.uint32(16)))
    return np.float32(h >> np.uint32(8)) * np.float32(2.0 ** -24)


@compiled
def keyed_units(n, key):  # pragma: no cover - compiled
    """keyed_uniform(key, i) for the rows i = 0 .. n-1 (float32; ``key``: uint32), in a loop the
    compiler turns into vector instructions (0.4 ns a number here, numpy's generator 1.7)."""
    out = np.empty(n, np.float32)
    for i in range(n):
        out[i] = keyed_unit(i, key)
    return out


@compiled
def keyed_events(alive, p, key):  # pragma: no cover - compiled
    """A flag a firm: alive and its keyed uniform (keyed_uniform(key, row), ``key``: uint32) below
    its probability ``p`` (float32), compared in single precision; numpy's flatnonzero then finds the
    few that are set."""
    out = np.empty(alive.size, np.bool_)
    for i in range(alive.size):
        out[i] = alive[i] & (keyed_unit(i, key) < p[i])
    return out


@compiled
def exit_events(alive, p, key, exit_q, q):  # pragma: no cover - compiled
    """A quarter's exits (simmodel.model.stages.exit) in one pass: every alive firm whose keyed uniform
    (``key``: uint32, noise.row_key's) is below its probability ``p`` (float32) exits (``alive``
    cleared, ``exit_q`` set to ``q``), as noise.keyed_events' rows and two scatters did. Returns the
    number of exits."""
    n = 0
    for i in range(alive.size):  # selections, not branches: the loop stays in vector instructions
        die = alive[i] & (keyed_unit(i, key) < p[i])
        alive[i] = alive[i] ^ die
        exit_q[i] = q if die else exit_q[i]
        n += die
    return n


@compiled
def growth_log_points(g_annual, shock_q, alive, rows, log_points, out):  # pragma: no cover - compiled
    """A quarter's desired log-growth (float32, log points) into ``out``: a quarter of the year's rate,
    plus the shock, plus ``log_points`` at ``rows``; zero for dead firms (exp(0) = 1 exactly)."""
    quarter = np.float32(0.25)
    for i in range(g_annual.size):
        out[i] = quarter * g_annual[i] + shock_q[i]
    for j in range(rows.size):
        out[rows[j]] += np.float32(log_points[j])
    for i in range(g_annual.size):  # a selection, not a branch (80 -> 59-65 us a quarter at 100 000 firms)
        out[i] = out[i] if alive[i] else np.float32(0.0)


@compiled
def land_requests(revenue, growth, alive, sector, land_mu, industry_sector, land_per_revenue, plot_effect, above_size,
                  slack, city, priority_sector, log_productivity, land_refused):  # pragma: no cover - compiled
    """The quarter's land requests, then the growth (one call for grow_firms): which firms' revenue
    grown by ``growth`` (exp of the log points, float32) needs more land than they hold (alive, above
    size, in an industrial sector, needing ``revenue * growth * land_per_revenue[sector] /
    plot_effect`` mu, a higher plot ratio raising output per mu (art. 21), more than ``land_mu * (1 +
    slack)``), and for each request, before the revenue grows: the land it asks for (its need with the
    slack, less the land it holds), its revenue before growth (CNY 100 m per yr), and what the cities
    serve it by: its city (int64), whether its sector has priority, its log productivity
    (efficiency). Then every firm's revenue grows (float32 growth widened exactly, as numpy
    multiplies) and ``land_refused`` is cleared. Returns (rows, request, before, city, priority,
    efficiency), the rows ascending.

    First each firm's land per revenue, NaN outside industry (so that its test fails whatever the
    plot effect's sign), into an array of its own: a loop that reads a table by the firm's sector
    is not put in vector instructions, and the sector's tables read in the flags' loop made it the
    slowest of the stage (a 1:1 replicate's 24 calls, isolated: 11.3 against 6.6 ms in all). Then
    the flags in one pass, in vector instructions, without a branch (alive, above size, and the
    division for every firm), and the few requests gathered by a branch on the flag (a loop that
    gathered while it tested, its output index a chain from one firm to the next, took 0.62 against
    0.33 ms at 154 339 slots; so did a branch-free list of the rows in the flags' pass)."""
    room = 1.0 + slack
    n = revenue.size
    table = np.empty(land_per_revenue.size, np.float64)
    for s in range(table.size):
        table[s] = land_per_revenue[s] if industry_sector[s] else np.nan
    per_firm = by_sector(table, sector)
    asks = np.empty(n, np.bool_)
    m = 0
    for i in range(n):
        r = revenue[i] * np.float64(growth[i])
        a = alive[i] & (r >= above_size) & (r * per_firm[i] / plot_effect > land_mu[i] * room)
        asks[i] = a
        m += a
    rows = np.empty(m, np.intp)
    j = 0
    for i in range(n):
        if asks[i]:
            rows[j] = i
            j += 1
    request = np.empty(m, np.float64)
    before = np.empty(m, np.float64)
    req_city = np.empty(m, np.int64)
    priority = np.empty(m, np.bool_)
    efficiency = np.empty(m, np.float64)
    for j in range(m):
        i = rows[j]
        r0 = revenue[i]
        s = sector[i]
        need = r0 * np.float64(growth[i]) * land_per_revenue[s] / plot_effect
        request[j] = need * room - land_mu[i]
        before[j] = r0
        req_city[j] = city[i]
        priority[j] = priority_sector[s]
        efficiency[j] = log_productivity[i]
    for i in range(n):
        revenue[i] = revenue[i] * np.float64(growth[i])
    land_refused[:] = False
    return rows, request, before, req_city, priority, efficiency


@inlined
def numpy_max(a, b):  # pragma: no cover - compiled
    """np.maximum of two floats: ``a`` where it is at least ``b`` or NaN, else ``b``."""
    return a if (a >= b or np.isnan(a)) else b


@inlined
def numpy_min(a, b):  # pragma: no cover - compiled
    """np.minimum of two floats: ``a`` where it is at most ``b`` or NaN, else ``b``."""
    return a if (a <= b or np.isnan(a)) else b


@compiled
def land_outcomes(rows, granted, request, before, land_mu, revenue, land_refused, city, sector, land_per_va, va_ratio,
                  slack, plot_effect, refused_share, n_cities):  # pragma: no cover - compiled
    """What the cities' answers (``granted``, a flag per request at ``rows``) do: a granted firm adds
    its request to its land (mu); a refused one is flagged in ``land_refused`` and grows only up to
    what its land supports (mu times the slack and the plot effect, over the sector's land per VA
    and VA ratio) or its revenue before growth (``before``), whichever is more, plus
    ``refused_share`` of the growth above that. Returns the refused rows, the refused mu per city
    (added in request order, as np.bincount adds) and their total (summed pairwise, as np.sum): the
    numpy statements of grow_firms before this loop, in one pass."""
    m = rows.size
    n_ko = 0
    for j in range(m):
        n_ko += not granted[j]
    ko = np.empty(n_ko, rows.dtype)
    for_ko = np.empty(n_ko, np.float64)
    refused = np.zeros(n_cities)
    room = 1.0 + slack
    k = 0
    for j in range(m):
        i = rows[j]
        if granted[j]:
            land_mu[i] += request[j]
            continue
        land_refused[i] = True
        s = sector[i]
        cap = land_mu[i] * room * plot_effect / (land_per_va[s] * va_ratio[s])
        desired = revenue[i]
        floor = numpy_min(desired, numpy_max(cap, before[j]))
        revenue[i] = floor + refused_share * (desired - floor)
        refused[city[i]] += request[j]
        ko[k] = i
        for_ko[k] = request[j]
        k += 1
    return ko, refused, pairwise_sum(for_ko, 0, n_ko)


@compiled
def sector_revenue_sums(alive, revenue, sector, n_sectors, above_size):  # pragma: no cover - compiled
    """Revenue of the alive firms by sector, all and above size (CNY 100 m per yr, population units),
    added in row order as ``np.bincount`` adds its weights, dead firms and those below size adding
    +0.0 as they did to numpy's (revenue times the mask).

    The base-year firms are stored sector by sector, so consecutive rows mostly add to one bin:
    bincount then waits on its own store before each addition. Here a run of rows of one sector adds
    into registers, loaded from the bins at its start and stored at its end: the same additions in
    the same order, so the same sums, bit for bit. Without branches on the firm's data (a dead or
    small firm adds +0.0) this took 0.28 against 0.64 ms on the 211 482 slots at the end of a 1:1
    replicate."""
    revenue_all = np.zeros(n_sectors)
    revenue_above = np.zeros(n_sectors)
    if alive.size == 0:
        return revenue_all, revenue_above
    cur = sector[0]
    run_all = 0.0
    run_above = 0.0
    for i in range(alive.size):
        s = sector[i]
        if s != cur:
            revenue_all[cur] = run_all
            revenue_above[cur] = run_above
            cur = s
            run_all = revenue_all[s]
            run_above = revenue_above[s]
        r = revenue[i] * alive[i]
        run_all += r
        run_above += r * (r >= above_size)
    revenue_all[cur] = run_all
    revenue_above[cur] = run_above
    return revenue_all, revenue_above


@inlined
def revenue_log_argument(r, reference):  # pragma: no cover - compiled
    """``np.float32(np.maximum(r, 1e-6) / reference)`` for one revenue (CNY 100 m per yr; NaN stays
    NaN, as under np.maximum): the argument of the rates' log of revenue."""
    if r < 1e-6:  # noqa: PLR1730 - np.maximum: a NaN (not below) stays NaN
        r = 1e-6
    return np.float32(r / reference)


@compiled
def log_revenue_argument(revenue, reference, out):  # pragma: no cover - compiled
    """``(np.maximum(revenue, 1e-6) / reference).astype(np.float32)`` into ``out`` (revenue in CNY
    100 m per yr), the argument of the rates' log of revenue, in one pass instead of three."""
    for i in range(revenue.size):
        out[i] = revenue_log_argument(revenue[i], reference)


@inlined
def clipped(v, factor, low, high):  # pragma: no cover - compiled
    """``v * factor``, then at least ``low`` and at most ``high``, each step rounded to float32 as
    numpy stores it (NaN kept): np.clip's arithmetic after a scaling."""
    v = np.float32(v * factor)
    if v < low:
        v = np.float32(low)
    if v > high:
        v = np.float32(high)
    return v


@compiled
def scale_and_clip(x, factor, low, high):  # pragma: no cover - compiled
    """``x *= factor``, then ``np.maximum(x, low, out=x)`` and ``np.minimum(x, high, out=x)``, on a
    float32 array in place, each step rounded to float32 as numpy stores it (``factor``, ``low`` and
    ``high`` in the dtype numpy computes in with a float32 array, see compared_as), NaN kept: the
    growth shock's scale after its exponential (simmodel.agents.firms.growth_scale)."""
    for i in range(x.size):
        x[i] = clipped(x[i], factor, low, high)


@inlined
def growth_of(base, logr, center, premium, equity, revenue, designated, boosted, boost, size_slope, equity_boost,
              designation_boost):  # pragma: no cover - compiled
    """expected_growth of one firm (float64, log points per yr) from its values."""
    a = base
    a += size_slope * (logr - center)
    a += np.float64(premium)
    if equity > 0:
        a += equity_boost * min(equity / max(revenue, 1e-6), 1.0)
    if designated:
        a += designation_boost
    if boosted:
        a += boost
    return a


@inlined
def by_sector(table, sector):  # pragma: no cover - compiled
    """``table[sector]``: each firm's entry of a table by sector, in a loop of its own. A loop that
    reads a table by the firm's sector (or age) inside its arithmetic is not put in vector
    instructions; gathered first, the arithmetic's loop is (rate_exponents: 3.7 -> 2.9 ms over a
    1:1 replicate's calls; rate_probabilities, the young hazard by age: 2.9 -> 1.5; land_requests)."""
    out = np.empty(sector.size, table.dtype)
    for i in range(sector.size):
        out[i] = table[sector[i]]
    return out


@inlined
def by_age(table, age_q):  # pragma: no cover - compiled
    """Each firm's entry of a table by age in quarters, the last entry for older firms (see by_sector)."""
    last = table.size - 1
    out = np.empty(age_q.size, table.dtype)
    for i in range(age_q.size):
        out[i] = table[min(age_q[i], last)]
    return out


@inlined
def firm_growth(i, base, logr, center, premium, equity, revenue, designated, boost_until_q, boost, q, size_slope,
                equity_boost, designation_boost):  # pragma: no cover - compiled
    """growth_of firm ``i``, its sector's and age's values gathered (``base``, ``center``,
    ``premium``: by_sector, by_age), every value it may read loaded before its tests (written first
    as one helper reading the arrays inside its tests, the loops ran 7x slower, 3.1 against 0.43 ms
    at 1:1)."""
    return growth_of(base[i], logr[i], center[i], premium[i], equity[i], revenue[i], designated[i], boost_until_q[i] > q,
                     boost[i], size_slope, equity_boost, designation_boost)


@compiled
def expected_growth(sector, logr, age_q, equity, revenue, designated, boost_until_q, boost, q, sector_base,
                    size_center, size_slope, young_premium, equity_boost, designation_boost):  # pragma: no cover - compiled
    """Expected log-growth per yr before shocks (float64): ``sector_base[sector]`` (drift plus
    uncertainties), the size slope times ``logr`` less the sector's size centre, the young premium by
    age in quarters (the last entry for older firms), then, added in this order, the fund equity boost
    (``equity_boost`` times equity / revenue capped at 1), the designation boost and a firm's own boost
    while ``boost_until_q > q``. The size term is computed in the precision of ``logr - size_center``
    (float32 for the model's arrays): ``size_slope`` must come cast to it, as numpy casts a Python
    float that multiplies an array."""
    n = sector.size
    out = np.empty(n, np.float64)
    base, center, premium = by_sector(sector_base, sector), by_sector(size_center, sector), by_age(young_premium, age_q)
    for i in range(n):
        out[i] = firm_growth(i, base, logr, center, premium, equity, revenue, designated, boost_until_q, boost, q,
                             size_slope, equity_boost, designation_boost)
    return out


@inlined
def exit_hazard_of(x, young, funded, penalised, small, base32, funded32, penalty32, small32,
                   cap32):  # pragma: no cover - compiled
    """exit_hazard_terms of one firm after its size term ``x`` (float32, per yr): the factors (float32)
    of its age (``young``), of being fund-backed, penalised and a small tech firm (flags), capped."""
    x = x * base32
    x = np.float32(x * young)  # h *= an array: stored as float32
    if funded:
        x = x * funded32
    if penalised:
        x = x * penalty32
    if small:
        x = x * small32
    return min(x, cap32)


@inlined
def firm_exit_hazard(x, i, young, n_investors, penalty_until_q, stage, revenue, q, base32, funded32, penalty32,
                     small_factor, small32, small_stage_bits, small_max_revenue, cap32):  # pragma: no cover - compiled
    """exit_hazard_of firm ``i``, its values looked up, its young hazard gathered (``young``: by_age;
    small tech firms only where ``small_factor`` is not 1)."""
    small = (small_factor != 1.0) & (((small_stage_bits >> stage[i]) & 1) == 1) & (revenue[i] < small_max_revenue)
    return exit_hazard_of(x, young[i], n_investors[i] > 0, penalty_until_q[i] > q, small, base32, funded32, penalty32,
                          small32, cap32)


@compiled
def exit_hazard_terms(h, age_q, young_hazard, n_investors, penalty_until_q, stage, revenue, q, base, funded_multiplier,
                      penalty_multiplier, small_factor, small_stage_bits, small_max_revenue, cap):  # pragma: no cover - compiled
    """The exit hazard's factors after its size term ``h`` (float32, per yr, written in place), in
    float32 as numpy computes them: the base rate, the young hazard by age in quarters, the fund-backed
    and the penalised multipliers, ``small_factor`` for small tech firms (stage bit set in
    ``small_stage_bits``, revenue below ``small_max_revenue``; 1 leaves them alone), capped at ``cap``."""
    base32, funded32, penalty32 = np.float32(base), np.float32(funded_multiplier), np.float32(penalty_multiplier)
    small32, cap32 = np.float32(small_factor), np.float32(cap)
    young = by_age(young_hazard, age_q)
    for i in range(h.size):
        h[i] = firm_exit_hazard(h[i], i, young, n_investors, penalty_until_q, stage, revenue, q, base32, funded32,
                                penalty32, small_factor, small32, small_stage_bits, small_max_revenue, cap32)


@inlined
def rd_ratio_of(grant_rd, rd_intensity, revenue, rd_reference, additionality):  # pragma: no cover - compiled
    """A firm's R&D spending (induced by grants, plus own, CNY 100 m per yr, floor 1e-12) over its
    sector's reference, float32."""
    rd = additionality * grant_rd + rd_intensity * revenue
    return np.float32(max(rd, 1e-12) / rd_reference)


@compiled
def rd_ratio(grant_rd, rd_intensity, revenue, sector, rd_reference, additionality):  # pragma: no cover - compiled
    """R&D spending (induced by grants, plus own) over the sector's base-year reference, float32
    (floor 1e-12 CNY 100 m on the spending)."""
    n = sector.size
    out = np.empty(n, np.float32)
    for i in range(n):
        out[i] = rd_ratio_of(grant_rd[i], rd_intensity[i], revenue[i], rd_reference[sector[i]], additionality)
    return out


@inlined
def innovation_of(x, f32, t, talent_boost):  # pragma: no cover - compiled
    """innovation_terms of one firm: its R&D term ``x`` (float32) times the base rate and spillover
    ``f32`` (float32), then times ``1 + talent_boost * t`` in float64, stored in float32, if it has
    talents (``t``)."""
    x = x * f32
    if t != 0:
        x = np.float32(np.float64(x) * (1.0 + talent_boost * np.float64(t)))
    return x


@compiled
def innovation_terms(lam, talent, factor, talent_boost):  # pragma: no cover - compiled
    """The innovation hazard's factors after its R&D term ``lam`` (float32, per yr, in place): the base
    rate times the spillover (``factor``, cast to float32 as numpy does), then ``1 + talent_boost *
    talent`` for firms with talents, multiplied in float64 and stored in float32."""
    f32 = np.float32(factor)
    for i in range(lam.size):
        lam[i] = innovation_of(lam[i], f32, talent[i], talent_boost)


@inlined
def laplace_argument_of(u):  # pragma: no cover - compiled
    """-min(2|u - 1/2|, 1 - 2^-24) for a uniform ``u`` (float32): log1p of it is minus a standard
    Laplace draw's magnitude."""
    return -min(np.float32(2.0) * abs(u - np.float32(0.5)), np.float32(1.0 - 2.0 ** -24))


@inlined
def shock_of(log1p_arg, u, scale):  # pragma: no cover - compiled
    """A quarter of the annual Laplace shock (float32, log points): a quarter of ``scale`` times the
    draw, whose magnitude is -``log1p_arg`` and whose sign is that of ``u`` - 1/2."""
    one = np.float32(1.0)
    c = u - np.float32(0.5)
    sign = one if c > 0 else (-one if c < 0 else np.float32(0.0))
    return (np.float32(0.25) * scale) * (log1p_arg * -sign)


@compiled
def rate_arguments(revenue, grant_rd, rd_intensity, sector, rd_reference, additionality, reference, shock_u,
                   out):  # pragma: no cover - compiled
    """The arguments of the yearly rates' logarithms, one pass for refresh_rates: into the rows of
    ``out`` (float32, 3 x firms) revenue's (revenue_log_argument, of log), the R&D ratio's
    (rd_ratio_of, of log) and the growth shock's (laplace_argument_of, of log1p)."""
    # a loop each (in one, the gather of the R&D reference kept the others from vector instructions:
    # 311 against 213 us at 1:1)
    n = revenue.size
    for i in range(n):
        out[0, i] = revenue_log_argument(revenue[i], reference)
    for i in range(n):
        out[1, i] = rd_ratio_of(grant_rd[i], rd_intensity[i], revenue[i], rd_reference[sector[i]], additionality)
    for i in range(n):
        out[2, i] = laplace_argument_of(shock_u[i])


@compiled
def rate_exponents(logs, sector, age_q, equity, revenue, designated, boost_until_q, boost, q, sector_base, size_center,
                   size_slope, young_premium, equity_boost, designation_boost, macro_shock, g_annual, volatility_slope,
                   exit_slope, rd_elasticity, out):  # pragma: no cover - compiled
    """After rate_arguments' logarithms (``logs``: log revenue, log R&D ratio, the shock's log1p),
    a pass for refresh_rates after the sector's and age's values are gathered (by_sector, by_age):
    the expected growth (firm_growth) plus ``macro_shock`` into
    ``g_annual`` (float32, log points per yr: the double sum rounded once, as numpy stores it), and
    into the rows of ``out`` (float32, 3 x firms) the arguments of numpy's exp: ``volatility_slope``
    and ``exit_slope`` (float32, minus the elasticities) times log revenue, the log R&D ratio times
    ``rd_elasticity`` (float32)."""
    logr = logs[0]
    n = sector.size
    base, center, premium = by_sector(sector_base, sector), by_sector(size_center, sector), by_age(young_premium, age_q)
    for i in range(n):
        a = firm_growth(i, base, logr, center, premium, equity, revenue, designated, boost_until_q, boost, q, size_slope,
                        equity_boost, designation_boost)
        g_annual[i] = np.float32(a + macro_shock)
    for i in range(n):
        out[0, i] = volatility_slope * logr[i]
    for i in range(n):
        out[1, i] = exit_slope * logr[i]
    for i in range(n):
        out[2, i] = logs[1, i] * rd_elasticity


@compiled
def rate_probabilities(exps, logs, shock_u, talent, age_q, young_hazard, n_investors, penalty_until_q, stage, revenue,
                       q, scale_factor, scale_low, scale_high, innovation_factor, talent_boost, exit_base,
                       funded_multiplier, penalty_multiplier, small_factor, small_stage_bits, small_max_revenue, cap,
                       shock_q):  # pragma: no cover - compiled
    """After rate_exponents' exponentials (``exps``: the shock's scale before its clip, the exit and the
    innovation hazards' size and R&D terms), a pass for refresh_rates (the young hazard gathered
    first, by_age): the quarter's growth shock
    (clipped, shock_of with ``logs[2]``) into ``shock_q``, and into ``logs[0]`` and ``logs[1]`` minus
    a quarter of the innovation and the exit hazards (innovation_of, exit_hazard_of), the arguments of
    numpy's expm1 (the factors as growth_scale, innovation_terms and exit_hazard_terms take them)."""
    f32 = np.float32(innovation_factor)
    base32, funded32, penalty32 = np.float32(exit_base), np.float32(funded_multiplier), np.float32(penalty_multiplier)
    small32, cap32 = np.float32(small_factor), np.float32(cap)
    four = np.float32(4.0)
    n = shock_u.size
    for i in range(n):
        shock_q[i] = shock_of(logs[2, i], shock_u[i], clipped(exps[0, i], scale_factor, scale_low, scale_high))
    for i in range(n):
        logs[0, i] = -innovation_of(exps[2, i], f32, talent[i], talent_boost) / four
    young = by_age(young_hazard, age_q)
    for i in range(n):
        logs[1, i] = -firm_exit_hazard(exps[1, i], i, young, n_investors, penalty_until_q, stage, revenue, q, base32,
                                       funded32, penalty32, small_factor, small32, small_stage_bits, small_max_revenue,
                                       cap32) / four


@compiled
def gap_rows(log_u, per_gap, n, last):  # pragma: no cover - compiled
    """A batch of successes from the gaps between them (simmodel.agents.noise.trial_rows): before
    success i, ``log_u[i] * per_gap`` failures (log_u: numpy's log1p of minus the uniforms; per_gap:
    1 / log1p(-rate)), at most ``n``, truncated to an integer; each success one row after its
    failures, counting from the row ``last``. Returns the rows below ``n``, whether the batch reached
    ``n`` (the trials are over) and the row of its last success otherwise: numpy's product, minimum,
    cast, cumulative sum and bisection of the batch in one pass."""
    rows = np.empty(log_u.size, np.int64)
    pos = np.int64(last)
    bound = np.float64(n)
    for i in range(log_u.size):
        pos += np.int64(min(log_u[i] * per_gap, bound)) + 1
        if pos >= n:
            return rows[:i], True, pos
        rows[i] = pos
    return rows, False, pos


# --------------------------------------------------------------------------- the talents

@compiled
def talent_departures(active, firm, talent, address, threshold):  # pragma: no cover - compiled
    """A quarter's departures (simmodel.agents.talent.TalentPool.retain): each active talent, in row
    order, draws a uniform from the stream at ``address`` (generator_address; the numbers of numpy's
    ``rng.random(n_active)``) and leaves when it is below ``threshold``; it stops being active and its
    firm (``firm``, -1: none) has one talent fewer (``talent``, by firm row). Returns how many left. One
    call instead of numpy's draw, flatnonzero, comparison, gathers, np.subtract.at and scatter (the same
    integers: a firm that loses two talents is decremented twice either way)."""
    rng = generator_at(address)
    gone = 0
    for i in range(active.size):
        if active[i] and rng.random() < threshold:  # a draw for the active ones only
            active[i] = False
            k = firm[i]
            if k >= 0:
                talent[k] -= 1
            gone += 1
    return gone


@compiled
def release_exited(active, firm, alive):  # pragma: no cover - compiled
    """The active talents whose firm (``firm``, -1: none) is no longer alive lose it (firm = -1)."""
    for i in range(active.size):
        k = firm[i]
        if active[i] and k >= 0 and not alive[k]:  # a firm's flag read only for a matched talent
            firm[i] = -1


# --------------------------------------------------------------------------- the funds' candidates

@compiled
def fund_candidates(alive, stage, sector, log_productivity, tables, n_sectors, gestation,
                    tte_factor):  # pragma: no cover - compiled
    """The alive firms whose (stage, sector) each kind of fund backs (``tables``: a row per kind, at
    most 8, true in cell stage * n_sectors + sector), in row order, kind after kind: their rows, their
    expected time to exit (years, float32: the sector's gestation times the stage's factor), their log
    productivity (float32), and where each kind's begin (``starts``, one more than the kinds).

    One pass over the firms gives each a byte with a bit per kind (the table's cell, if alive); then
    for each kind a pass over those bytes moves a cursor by the kind's bit, writing each row (only the
    row: writing each firm's time to exit and productivity too cost a quarter more), before the
    gathers. The year's kinds once, rather than the firms' fields once a kind."""
    n = alive.size
    n_kinds = tables.shape[0]
    bits = np.zeros(tables.shape[1], np.uint8)
    for t in range(n_kinds):
        for c in range(tables.shape[1]):
            if tables[t, c]:
                bits[c] |= np.uint8(1 << t)
    # each (stage, sector) cell's time to exit, then each firm's, written in the pass that reads its
    # stage and sector: the kinds' gathers then read one array a candidate instead of two and a table
    n_cells = tables.shape[1]
    tte_cell = np.empty(n_cells, np.float32)
    for c in range(n_cells):
        tte_cell[c] = np.float32(gestation[c % n_sectors] * tte_factor[c // n_sectors])
    code = np.empty(n, np.uint8)
    tte_firm = np.empty(n, np.float32)
    for i in range(n):
        c = np.int64(stage[i]) * n_sectors + sector[i]
        code[i] = bits[c] * alive[i]
        tte_firm[i] = tte_cell[c]
    starts = np.zeros(n_kinds + 1, np.int64)
    for t in range(n_kinds):
        m = np.int64(0)
        for i in range(n):
            m += (code[i] >> t) & 1
        starts[t + 1] = starts[t] + m
    rows = np.empty(starts[n_kinds] + 1, np.intp)  # one spare: the row is written before the test moves it on
    for t in range(n_kinds):
        k = starts[t]
        for i in range(n):
            rows[k] = i
            k += (code[i] >> t) & 1
    rows = rows[:starts[n_kinds]]
    tte = np.empty(rows.size, np.float32)
    lp = np.empty(rows.size, np.float32)
    for j in range(rows.size):
        i = rows[j]
        tte[j] = tte_firm[i]
        lp[j] = np.float32(log_productivity[i])
    return rows, tte, lp, starts


@compiled
def ladder_moves(alive, stage, age_q, revenue, key, record_p, certify_p, codes, tech_sme_max, was_high_tech,
                 certified, u):  # pragma: no cover - compiled
    """The ladder's moves that need no logarithm, in one pass (simmodel.model.stages.ladder): each
    firm's uniform ``keyed_unit(row, key)`` (``key``: uint32) into ``u``; an alive start-up at least 4
    quarters old with its uniform below ``record_p`` becomes a tech SME, an alive tech SME below
    ``certify_p`` becomes high-tech (flagged in ``certified``), and an alive tech SME after those
    moves with revenue above ``tech_sme_max`` (CNY 100 m per yr) becomes conventional; the alive
    firms that were high-tech are flagged in ``was_high_tech``, for their lapse, which compares
    logarithms. ``codes``: the stages' codes (start-up, tech SME, conventional, high-tech). Writes
    stage, was_high_tech, certified and u. The thresholds come in the dtype numpy compares the
    float32 uniforms in (see compared_as).

    Without a branch: the stage is random from row to row, and a mispredicted branch costs more than
    the pass (with branches, 0.48 ms at 100 000 firms; so, 0.09). The flags are bytes that numpy's
    flatnonzero reads as booleans (a byte array of codes it reads 6-10 times slower)."""
    startup, tech_sme, conventional, high_tech = codes[0], codes[1], codes[2], codes[3]
    for i in range(alive.size):
        a = alive[i]
        s = stage[i]
        x = keyed_unit(i, key)
        record = a & (s == startup) & (age_q[i] >= 4) & (x < record_p)
        certify = a & (s == tech_sme) & (x < certify_p)
        new = s + record * (tech_sme - s) + certify * (high_tech - s)
        grown = a & (new == tech_sme) & (revenue[i] > tech_sme_max)
        stage[i] = new + grown * (conventional - new)
        was_high_tech[i] = a & (s == high_tech)
        certified[i] = certify
        u[i] = x


@inlined
def rd_tier(revenue, uppers):  # pragma: no cover - compiled
    """simmodel.agents.firms.high_tech_rd_tier for one revenue (CNY 100 m per yr): the number of
    ``uppers`` (the thresholds' revenue bounds, ascending) less those it is below (NaN: none)."""
    t = uppers.size
    for j in range(uppers.size):
        t -= revenue < uppers[j]
    return t


@compiled
def certified_rd(rows, revenue, rd_intensity, uppers, thresholds):  # pragma: no cover - compiled
    """The certified firms (``rows``) raise their R&D intensity to the high-tech threshold at their
    revenue: ``rd_intensity[rows] = np.maximum(rd_intensity[rows], thresholds[tier])`` (NaN stays NaN,
    as under np.maximum), the tier by rd_tier; in one pass instead of numpy's gathers and the tier's
    comparisons."""
    for j in range(rows.size):
        i = rows[j]
        a = rd_intensity[i]
        b = thresholds[rd_tier(revenue[i], uppers)]
        rd_intensity[i] = a if (a >= b) | np.isnan(a) else b


@compiled
def high_tech_lapse(rows, log_share, revenue, u, stage, uppers, log_thresholds, p_meets, p_below, tech_sme_max,
                    tech_sme, conventional):  # pragma: no cover - compiled
    """The high-tech firms' lapse (simmodel.model.stages.ladder.climb_ladder), the logarithms numpy's:
    firm ``rows[j]`` meets the threshold when ``log_share[j]`` (its log effective R&D share) reaches
    the logarithm of its tier's (``log_thresholds``, the tier by rd_tier), and lapses when its
    uniform ``u`` (float32, compared in double precision as numpy compares it with a float64
    probability) is below ``p_meets``, or ``p_below`` where it does not meet it: to ``tech_sme`` below
    ``tech_sme_max`` revenue (CNY 100 m per yr), else ``conventional``. Writes stage."""
    for j in range(rows.size):
        i = rows[j]
        meets = log_share[j] >= log_thresholds[rd_tier(revenue[i], uppers)]
        if np.float64(u[i]) < (p_meets if meets else p_below):
            stage[i] = tech_sme if revenue[i] < tech_sme_max else conventional


@compiled
def stage_pool_flags(alive, stage, stage_bits, revenue, low, high, sector, sector_ok, out):  # pragma: no cover - compiled
    """A flag a firm into ``out``: alive, its stage's bit set in ``stage_bits``, unless ``low`` is None
    its revenue in [``low``, ``high``] (CNY 100 m per yr; NaN in none) and, unless ``sector_ok`` is
    None, its sector's flag in ``sector_ok`` set: a selection's pool in one pass instead of numpy's
    half dozen (numpy's flatnonzero then finds the rows faster than a compiled loop moving a cursor,
    1.6 ns a firm). The sector's flag is looked up in a pass of its own, for every firm, without a
    branch: the lookup keeps the loop it is in from vector instructions (0.02 ms at 100 000 firms
    without it, 0.15 with it in the same loop)."""
    for i in range(alive.size):
        f = alive[i] & np.bool_((stage_bits >> stage[i]) & 1)
        if low is not None:
            f = f & (revenue[i] >= low) & (revenue[i] <= high)
        out[i] = f
    if sector_ok is not None:  # looked up for every firm, without a branch (136 -> 104 us a call at 100 000 firms)
        for i in range(alive.size):
            out[i] = out[i] & sector_ok[sector[i]]


@compiled
def times_sqrt_revenue(weight, rows, revenue):  # pragma: no cover - compiled
    """``weight *= np.sqrt(np.maximum(revenue[rows], 1e-6))`` in place (revenue in CNY 100 m per yr;
    NaN stays NaN, as under np.maximum; a square root is correctly rounded in both)."""
    r = np.empty(rows.size, np.float64)
    for j in range(rows.size):
        r[j] = revenue[rows[j]]
    # without a branch, so that the square roots run in vector instructions (2.7 ns a weight with one)
    for j in range(rows.size):
        x = r[j]
        weight[j] *= np.sqrt(x if (x >= 1e-6) | np.isnan(x) else 1e-6)


@compiled
def innovation_quarter(alive, p, key, address, step_mean, ai_ramp_q, ramp_rows, ramp_gain, n_innovations,
                       log_productivity):  # pragma: no cover - compiled
    """A quarter's innovations (simmodel.model.stages.innovate) in one call: the alive firms whose keyed
    uniform (``key``: uint32, noise.row_key's, drawn by the caller) is below their probability ``p``
    (float32; noise.keyed_events' rows, ascending), then an exponential step each with mean
    ``step_mean`` (log points) drawn from the stream at ``address`` (generator_address; numpy's
    ``rng.exponential`` numbers, after the key), then innovation_steps. Returns (rows, gains, the
    number of innovators). The key is an argument: drawn here, just before the pass, it made the same
    pass (the flags alone) run at half the speed, 73 against 38 us over 200 000 firms, as if no longer
    in vector instructions."""
    n = alive.size
    flag = np.empty(n, np.bool_)
    n_hit = 0
    for i in range(n):
        e = alive[i] & (keyed_unit(i, key) < p[i])
        flag[i] = e
        n_hit += e
    hit = flagged_rows(flag, n_hit)
    rng = generator_at(address)
    gain = np.empty(n_hit, np.float64)
    for j in range(n_hit):
        gain[j] = rng.exponential(step_mean)
    rows, gains = innovation_gains(hit, gain, ai_ramp_q, ramp_rows, ramp_gain, n_innovations, log_productivity)
    return rows, gains, n_hit


@called
def flagged_rows(flag, n_flagged):  # pragma: no cover - compiled
    """The positions of the ``n_flagged`` set flags, ascending (np.flatnonzero's). Where a few per
    cent are set, the flags eight at a time, skipping the words of none (20 us over 200 000 flags
    against numpy's 31, and 65 for a branch a flag); where more are, a write a flag without a branch
    (a branch taken at random mispredicts). One in sixteen lies between the two uses measured, a few
    per cent (innovations: skipping pays) and about half (future-industry firms: 1 057 against 688 us
    at 200 000 firms); the crossover itself was not measured."""
    n = flag.size
    if 16 * n_flagged > n:
        rows = np.empty(n_flagged + 1, np.intp)  # one spare: the row is written before the test moves it on
        k = 0
        for i in range(n):
            rows[k] = i
            k += flag[i]
        return rows[:n_flagged]
    rows = np.empty(n_flagged, np.intp)
    whole = n - n % 8
    words = flag[:whole].view(np.uint64)
    k = 0
    for w in range(words.size):
        if words[w]:
            for i in range(8 * w, 8 * w + 8):
                if flag[i]:
                    rows[k] = i
                    k += 1
    for i in range(whole, n):
        if flag[i]:
            rows[k] = i
            k += 1
    return rows


@compiled
def innovation_steps(hit, gain, ai_ramp_q, ramp_rows, ramp_gain, n_innovations,
                     log_productivity):  # pragma: no cover - compiled
    """innovation_gains in one call (for the tests)."""
    return innovation_gains(hit, gain, ai_ramp_q, ramp_rows, ramp_gain, n_innovations, log_productivity)


@called
def innovation_gains(hit, gain, ai_ramp_q, ramp_rows, ramp_gain, n_innovations,
                     log_productivity):  # pragma: no cover - compiled
    """A quarter's productivity gains (simmodel.model.stages.innovate): the innovators at ``hit``
    (ascending) with their steps ``gain`` (log points), and the AI+ adopters still ramping up
    (``ai_ramp_q`` > 0, which counts down), who gain ``ramp_gain`` more: an innovator that ramps up
    its step plus the ramp, summed in that order, the others the ramp alone, after the innovators in
    row order. ``ramp_rows``: ascending and distinct, every row whose ai_ramp_q may be above 0 (the
    year's adopters, a few per cent of the firms): only those are read, instead of every firm's
    counter a quarter (a 1:1 replicate's 24 calls, isolated, 2.1 ms). Writes n_innovations (+1 an
    innovator), ai_ramp_q and log_productivity (+ the gain); returns (rows, gains), as numpy's masks,
    flatnonzero and concatenations gave them."""
    n_ramp = ramp_rows.size
    ramping = np.empty(n_ramp, np.bool_)
    n_ramping = 0
    for k in range(n_ramp):
        i = ramp_rows[k]
        r = ai_ramp_q[i] > 0
        ramping[k] = r
        n_ramping += r
        ai_ramp_q[i] -= r
    rows = hit
    if n_ramping:
        n_hit_ramping = 0
        k = 0
        for j in range(hit.size):  # both ascending: the hit's place among the adopters, by a walk
            i = hit[j]
            while k < n_ramp and ramp_rows[k] < i:
                k += 1
            r = k < n_ramp and ramp_rows[k] == i and ramping[k]
            gain[j] += ramp_gain * np.float64(r)  # numpy added the ramp times the mask to every step
            if r:
                n_hit_ramping += 1
                ramping[k] = False
        n_other = n_ramping - n_hit_ramping
        rows = np.empty(hit.size + n_other, np.intp)
        rows[:hit.size] = hit
        all_gain = np.empty(hit.size + n_other, np.float64)
        all_gain[:hit.size] = gain
        m = hit.size
        for k in range(n_ramp):
            if ramping[k]:
                rows[m] = ramp_rows[k]
                all_gain[m] = ramp_gain
                m += 1
        gain = all_gain
    for j in range(hit.size):
        n_innovations[hit[j]] += 1
    for j in range(rows.size):
        log_productivity[rows[j]] += gain[j]
    return rows, gain


@compiled
def effective_rd_share(rows, revenue, rd_intensity, grant_rd, additionality):  # pragma: no cover - compiled
    """R&D (own plus what grants induce) over revenue for the firms at ``rows``, floored at 1e-6
    (revenue floored at 1e-9 CNY 100 m): the argument of the ladder's log."""
    out = np.empty(rows.size, np.float64)
    for j in range(rows.size):
        i = rows[j]
        rev = max(revenue[i], 1e-9)
        rd = rd_intensity[i] * rev + additionality * grant_rd[i]
        out[j] = max(rd / rev, 1e-6)
    return out


@compiled
def fund_block_scores(log_productivity, floor, firm, tte_years, revenue, keys32, life_left, short_horizon,
                      horizon_years, above_size, held, n_held, where, ticket_to_revenue):  # pragma: no cover - compiled
    """block_scores in one call, the holdings ``held`` fund after fund, ``n_held`` of each (the tests)."""
    held_start = np.zeros(n_held.size + 1, np.int64)
    for j in range(n_held.size):
        held_start[j + 1] = held_start[j] + n_held[j]
    return block_scores(log_productivity, floor, firm, tte_years, revenue, keys32, life_left, short_horizon,
                        horizon_years, above_size, held, held_start, where, ticket_to_revenue)


@called
def block_scores(log_productivity, floor, firm, tte_years, revenue, keys32, life_left, short_horizon, horizon_years,
                 above_size, held, held_start, where, ticket_to_revenue):  # pragma: no cover - compiled
    """A screening round of a kind's funds (simmodel.agents.funds.screen) over the block of its
    candidates with ``log_productivity >= floor`` (both float32): the block's positions, and for each
    fund (a row) whether it may back each (expected time to exit within its ``life_left``, float32
    years; under ``short_horizon`` also within ``horizon_years``, float32, and revenue at least
    ``above_size``; and not held already) and its score: log productivity plus the keyed uniform of
    (its key, the firm), in float64, minus infinity where it may not; then the block's base tickets
    (``ticket_to_revenue`` times revenue, CNY 100 m) and their mean (numpy's: its pairwise sum over
    their number).

    Holdings: ``held``, the firm rows each fund holds, fund j's from ``held_start[j]`` to
    ``held_start[j + 1]``; a firm of the block is found by ``where``, a scratch array by firm row
    that is -1 on entry and left so, set for the block's firms while the holdings are looked up
    (what ``drop_held`` finds by bisection).

    The block's rows are gathered once into arrays that each fund's loop then reads in order, which
    the compiler turns into vector instructions (1:1: 6.2 -> 4.5 ms over a replicate's 77 rounds)."""
    n = log_productivity.size
    nb = 0
    for i in range(n):
        nb += log_productivity[i] >= floor
    block = np.empty(nb + 1, np.intp)  # one spare: the position is written before the test moves it on
    k = 0
    for i in range(n):
        block[k] = i
        k += log_productivity[i] >= floor
    lp = np.empty(nb, np.float64)
    tte = np.empty(nb, np.float32)
    fits = np.empty(nb, np.bool_)
    row = np.empty(nb, np.uint32)
    base_ticket = np.empty(nb, np.float64)
    for b in range(nb):
        i = block[b]
        t = tte_years[i]
        tte[b] = t
        fits[b] = (not short_horizon) or (t <= horizon_years and revenue[i] >= above_size)
        lp[b] = np.float64(log_productivity[i])
        row[b] = np.uint32(firm[i])
        base_ticket[b] = ticket_to_revenue * revenue[i]
    g = keys32.size
    score = np.empty((g, nb), np.float64)
    ok = np.empty((g, nb), np.bool_)
    for j in range(g):
        key = np.uint32(keys32[j])
        life = life_left[j]
        for b in range(nb):
            e = fits[b] & (tte[b] <= life)
            ok[j, b] = e
            # simmodel.agents.noise.keyed_uniform of (the fund's key, the firm)
            score[j, b] = lp[b] + np.float64(keyed_unit(row[b], key)) if e else -np.inf
    for b in range(nb):
        where[firm[block[b]]] = b
    for j in range(g):
        for t in range(held_start[j], held_start[j + 1]):
            h = held[t]
            if h < where.size and where[h] >= 0:
                ok[j, where[h]] = False
                score[j, where[h]] = -np.inf
    for b in range(nb):
        where[firm[block[b]]] = -1
    mean_ticket = pairwise_sum(base_ticket, 0, nb) / nb if nb else 0.0
    return block[:nb], score, ok, base_ticket, mean_ticket


@compiled
def drawn_for_tests(address, n, scale):  # pragma: no cover - compiled
    """For the tests: from the stream at ``address``, a 64-bit word, then ``n`` uniforms, then ``n``
    exponentials of mean ``scale``, one draw at a time as the loops draw."""
    rng = generator_at(address)
    word = next_uint64(rng.bit_generator)
    u = np.empty(n)
    for i in range(n):
        u[i] = rng.random()
    e = np.empty(n)
    for i in range(n):
        e[i] = rng.exponential(scale)
    return word, u, e


@compiled
def flagged_rows_for_tests(flag, n_flagged):  # pragma: no cover - compiled
    """flagged_rows in one call (for the tests)."""
    return flagged_rows(flag, n_flagged)


# --------------------------------------------------------------------------- the cities' land

@compiled
def land_in_order(city, efficiency, priority, request_mu, budget_mu, priority_share,
                  max_passes):  # pragma: no cover - compiled
    """simmodel.agents.cities.allocate_land in one call: the requests' order (requests_in_order), then
    the cities' two phases (served_land). Returns (granted, by request; mu used, by city; whether
    every city code is in 0 .. n_cities - 1: if not, nothing is served and the caller says which)."""
    nc = budget_mu.size
    for i in range(city.size):
        if city[i] < 0 or city[i] >= nc:
            return np.zeros(city.size, np.bool_), np.zeros(nc, np.float64), False
    order = requests_in_order(city, efficiency, priority, nc)
    granted, used = served_land(order, city, request_mu, priority, budget_mu, priority_share, max_passes)
    return granted, used, True


@compiled
def serve_land(order, city, request_mu, priority, budget_mu, priority_share, max_passes):  # pragma: no cover - compiled
    """served_land in one call (the tests)."""
    return served_land(order, city, request_mu, priority, budget_mu, priority_share, max_passes)


@called
def served_land(order, city, request_mu, priority, budget_mu, priority_share, max_passes):  # pragma: no cover - compiled
    """The cities' allocation of land requests (simmodel.agents.cities.allocate_land) in the order
    ``order`` (by city, then most efficient first: request_order): phase 1 serves priority requests
    from each city's reserved share (``budget_mu * priority_share``, mu) while their running sum fits
    it; phase 2 then passes, at most ``max_passes`` times, over the requests not served, each pass
    serving those that fit what the city has left and whose running sum among the fitting ones fits
    it too. Returns (granted, by request; mu used, by city).

    The sums are numpy's: a city's running sum is the running sum over all requests in order (as
    np.cumsum adds) less its value before the city's first request, and what a city has used adds
    its granted requests in order from zero (as np.bincount adds its weights). A pass after the
    first reads only the requests not served yet (a 1:1 replicate's 24 calls, isolated: 2.9 -> 2.1
    ms)."""
    r = order.size
    nc = budget_mu.size
    c = np.empty(r, np.int64)
    need = np.empty(r, np.float64)
    pri = np.empty(r, np.bool_)
    for j in range(r):
        o = order[j]
        c[j] = city[o]
        need[j] = request_mu[o]
        pri[j] = priority[o]
    # each city's first request in the order (np.searchsorted of the city codes)
    first = np.empty(nc, np.int64)
    j = 0
    for cc in range(nc):
        while j < r and c[j] < cc:
            j += 1
        first[cc] = j
    cs = np.empty(r, np.float64)
    g = np.zeros(r, np.bool_)
    total = 0.0
    for j in range(r):
        total += need[j] if pri[j] else 0.0
        cs[j] = total
    for j in range(r):
        f0 = first[c[j]]
        run = cs[j] - cs[f0 - 1] if f0 > 0 else cs[j]
        g[j] = pri[j] and run <= budget_mu[c[j]] * priority_share
    left = np.empty(nc, np.float64)
    # the requests not served yet, in order: a pass reads only these. A served request adds +0.0 to
    # the running sum (it does not fit), as does one larger than what is left, so the sum over these
    # is the sum over all, bit for bit, and a city's running sum starts from the sum before its first
    # one (numpy's value before the city's first request: only zeros lie between)
    todo = np.empty(r + 1, np.int64)
    n_todo = 0
    for j in range(r):
        todo[n_todo] = j
        n_todo += not g[j]
    for _ in range(max_passes):
        used = np.zeros(nc, np.float64)
        for j in range(r):
            if g[j]:
                used[c[j]] += need[j]
        for cc in range(nc):
            left[cc] = budget_mu[cc] - used[cc]
        total = 0.0
        city_start = 0.0
        cur = -1
        n_new = 0
        for t in range(n_todo):
            j = todo[t]
            cc = c[j]
            if cc != cur:
                cur = cc
                city_start = total
            fits = need[j] <= left[cc]  # a request larger than what is left is skipped
            total += need[j] if fits else 0.0
            run = total - city_start if first[cc] > 0 else total
            if fits and run <= left[cc]:
                g[j] = True
                n_new += 1
        if n_new == 0:
            break
        kept = 0
        for t in range(n_todo):
            j = todo[t]
            todo[kept] = j
            kept += not g[j]
        n_todo = kept
    granted = np.zeros(r, np.bool_)
    used = np.zeros(nc, np.float64)
    for j in range(r):
        granted[order[j]] = g[j]
        if g[j]:
            used[c[j]] += need[j]
    return granted, used


# --------------------------------------------------------------------------- the funds' holdings

@called
def block_sum(a, lo, n):  # pragma: no cover - compiled
    """numpy's sum of ``a[lo:lo + n]`` for n <= 128 (one block of its pairwise summation): below 8 in
    row order, otherwise eight running sums over the rows in turn, added in pairs, then the rest."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    whole = n - n % 8
    while i < whole:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@compiled
def cumulative_sum(a):  # pragma: no cover - compiled
    """np.cumsum(a, dtype=np.float64), bit for bit: numpy's accumulation is sequential (the first
    element as it is, each next one added to the sum before it; no pairwise summation as in np.sum),
    and so is this loop, at a quarter of numpy's time (50 against 198 us for 60 000 values here: the
    addition's latency, where numpy's accumulate loop takes about 3 ns a value)."""
    out = np.empty(a.size, np.float64)
    if a.size == 0:
        return out
    s = np.float64(a[0])
    out[0] = s
    for i in range(1, a.size):
        s += np.float64(a[i])
        out[i] = s
    return out


@inlined
def count_at_or_below(cdf, k, x):  # pragma: no cover - compiled
    """The number of values of ``cdf`` (ascending) at or below ``x``, given that the first ``k`` are:
    ``cdf.searchsorted(x, side="right")`` found by stepping on from ``k``."""
    while k < cdf.size and cdf[k] <= x:
        k += 1
    return k


@inlined
def guide_table(cdf, bins):  # pragma: no cover - compiled
    """At each of ``bins`` equal steps b / bins of [0, 1) (a power of two, so that a step is exact),
    the number of values of ``cdf`` (a cumulative distribution ending at exactly 1, ascending) at or
    below it, by one merge of the steps with ``cdf``."""
    table = np.empty(bins, np.intp)
    j = 0
    for b in range(bins):
        j = count_at_or_below(cdf, j, b / bins)
        table[b] = j
    return table


@inlined
def walk_table(cdf, table, u):  # pragma: no cover - compiled
    """For each uniform of ``u``, the number of values of ``cdf`` at or below it, moving on from the
    count at its step of ``table`` (guide_table; ``u * table.size`` is exact) past the values still
    at or below it."""
    bins = table.size
    out = np.empty(u.size, np.intp)
    for i in range(u.size):
        out[i] = count_at_or_below(cdf, table[np.intp(u[i] * bins)], u[i])
    return out


@compiled
def categorical_steps(cdf, u, bins):  # pragma: no cover - compiled
    """For each uniform of ``u``, the number of values of ``cdf`` (a cumulative distribution ending
    at exactly 1, ascending) at or below it: ``cdf.searchsorted(u, side="right")``, found from a
    table of that count at ``bins`` equal steps (guide_table, a power of two), moving on from the
    draw's step (walk_table) (simmodel.agents.firms.draw_categorical)."""
    return walk_table(cdf, guide_table(cdf, bins), u)


@compiled
def categorical_guide(cdf, bins):  # pragma: no cover - compiled
    """guide_table of ``cdf`` at ``bins`` steps, for a distribution that many batches draw from
    (simmodel.agents.firms.categorical_guide)."""
    return guide_table(cdf, bins)


@compiled
def categorical_walk(cdf, table, u):  # pragma: no cover - compiled
    """``cdf.searchsorted(u, side="right")`` from a table made once (categorical_guide): walk_table."""
    return walk_table(cdf, table, u)


@compiled
def startup_draws(address, expected, cdf, table, cell_city, cell_sector, log_median, sigma, dispersion,
                  sector_rd_intensity):  # pragma: no cover - compiled
    """A quarter's start-ups' draws (simmodel.model.stages.enter.enter_startups) from the stream at
    ``address`` (generator_address), in the order and with the numbers of the numpy calls they
    replace: their number, Poisson with mean ``expected``; a uniform each, placed in a city x sector
    cell by ``cdf`` and its table (categorical_walk's rule); the log of each one's revenue, normal with
    mean ``log_median`` and deviation ``sigma``; then each one's log productivity, normal with mean 0
    and deviation ``dispersion``. Returns (number, city, sector, log revenue, log productivity, R&D
    intensity: the sector's): the cells' cities and sectors and the sectors' R&D gathered as numpy
    gathered them."""
    rng = generator_at(address)
    n = rng.poisson(expected)
    u = np.empty(n, np.float64)
    for i in range(n):
        u[i] = rng.random()
    cell = walk_table(cdf, table, u)
    city = np.empty(n, cell_city.dtype)
    sector = np.empty(n, cell_sector.dtype)
    rd = np.empty(n, sector_rd_intensity.dtype)
    for i in range(n):
        c = cell[i]
        city[i] = cell_city[c]
        sector[i] = cell_sector[c]
        rd[i] = sector_rd_intensity[cell_sector[c]]
    log_revenue = np.empty(n, np.float64)
    for i in range(n):
        log_revenue[i] = rng.normal(log_median, sigma)
    log_productivity = np.empty(n, np.float64)
    for i in range(n):
        log_productivity[i] = rng.normal(0.0, dispersion)
    return n, city, sector, log_revenue, log_productivity, rd


@compiled
def designate_zones(pilot_zone, alive, sector, city, revenue, is_future, removal_rate, batch_prob, planned, min_firms,
                    min_revenue, address):  # pragma: no cover - compiled
    """A year's pilot zones (simmodel.agents.government.Government.designate_pilot_zones) in one call,
    drawing from the stream at ``address`` (generator_address) what the numpy statements drew, in
    their order: a uniform each existing zone (city by city, sector by sector), those below
    ``removal_rate`` removed (when it is positive); a uniform for the batch, which happens below
    ``batch_prob`` when ``planned`` is positive; then the places that qualify (pilot_zone_candidates'
    rule: at least ``min_firms`` alive firms of a future-industry sector in the city, whose revenue,
    summed in row order as np.bincount sums it, reaches ``min_revenue``) and are not zones yet, a
    uniform each, and the ``planned`` best by revenue become zones, ties by their uniform
    (np.lexsort((u, -merit))'s order). Writes ``pilot_zone`` (cities x sectors); returns (zones
    removed, zones designated)."""
    rng = generator_at(address)
    n_cities, n_sectors = pilot_zone.shape
    n_zones = 0
    for c in range(n_cities):
        for s in range(n_sectors):
            n_zones += pilot_zone[c, s]
    removed = 0
    if n_zones and removal_rate > 0:
        drop = np.empty(n_zones, np.bool_)
        for z in range(n_zones):
            drop[z] = rng.uniform(0.0, 1.0) < removal_rate
        z = 0
        for c in range(n_cities):
            for s in range(n_sectors):
                if pilot_zone[c, s]:
                    if drop[z]:
                        pilot_zone[c, s] = False
                        removed += 1
                    z += 1
    if rng.random() >= batch_prob or planned <= 0:
        return removed, 0
    # the alive firms of future-industry sectors by a pass without branches (a branch a firm, taken at
    # random for about one in ten, cost a third more than numpy at 200 000 firms), then their places
    flag = np.empty(alive.size, np.bool_)
    n_future = 0
    for i in range(alive.size):
        e = alive[i] & is_future[sector[i]]
        flag[i] = e
        n_future += e
    counts = np.zeros((n_cities, n_sectors), np.int64)
    merit = np.zeros((n_cities, n_sectors), np.float64)
    for i in flagged_rows(flag, n_future):
        counts[city[i], sector[i]] += 1
        merit[city[i], sector[i]] += revenue[i]
    cell = np.empty(n_cities * n_sectors, np.int64)  # the qualifying places that are not zones yet
    key = np.empty(n_cities * n_sectors, np.float64)  # minus their merit, as np.lexsort's first key
    n_cand = 0
    for c in range(n_cities):
        for s in range(n_sectors):
            if (counts[c, s] >= min_firms) & (merit[c, s] >= min_revenue) & is_future[s] & ~pilot_zone[c, s]:
                cell[n_cand] = c * n_sectors + s
                key[n_cand] = -merit[c, s]
                n_cand += 1
    if n_cand == 0:
        return removed, 0
    u = np.empty(n_cand, np.float64)
    for k in range(n_cand):
        u[k] = rng.uniform(0.0, 1.0)
    # np.lexsort((u, key)): by key, then u, then position (stable), NaN last; an insertion sort (at
    # most the cities x sectors places)
    order = np.arange(n_cand)
    for a in range(1, n_cand):
        x = order[a]
        b = a - 1
        while b >= 0 and lexsort_before(key[x], u[x], key[order[b]], u[order[b]]):
            order[b + 1] = order[b]
            b -= 1
        order[b + 1] = x
    chosen = min(planned, n_cand)
    for k in range(chosen):
        pilot_zone[cell[order[k]] // n_sectors, cell[order[k]] % n_sectors] = True
    return removed, chosen


@inlined
def lexsort_before(key_a, u_a, key_b, u_b):  # pragma: no cover - compiled
    """Whether (key_a, u_a) sorts strictly before (key_b, u_b) as np.lexsort((u, key)) sorts them: by
    key, then by u, NaN after every number and NaNs equal to each other (equal pairs keep their order)."""
    nan_a, nan_b = np.isnan(key_a), np.isnan(key_b)
    if nan_a != nan_b:
        return nan_b
    if not nan_a and key_a != key_b:
        return key_a < key_b
    nan_a, nan_b = np.isnan(u_a), np.isnan(u_b)
    if nan_a != nan_b:
        return nan_b
    return (not nan_a) and u_a < u_b


@compiled
def spin_off_rows(parents, u_target, u_same, sector, kept_sector, target_sector, target_cdf, same_prob, revenue, share,
                  city, log_productivity, sector_rd_intensity):  # pragma: no cover - compiled
    """The spin-offs of ``parents`` (rows, distinct; simmodel.model.stages.enter.spin_off): each stays
    in its parent's sector where that sector is flagged in ``kept_sector`` and its ``u_same`` is below
    ``same_prob``, else goes to ``target_sector[target_cdf.searchsorted(u_target, side="right")]``;
    it takes ``share`` of its parent's revenue, which the parent loses (written to ``revenue``).
    Returns the spin-offs' sector, revenue, city, log productivity and R&D intensity (their
    sector's): numpy's gathers, np.where and the subtraction, element by element, in one call. A
    target beyond the last (a distribution not ending at 1) is refused, as numpy's gather refused it."""
    k = parents.size
    csec = np.empty(k, sector.dtype)
    crev = np.empty(k, revenue.dtype)
    ccity = np.empty(k, city.dtype)
    clp = np.empty(k, log_productivity.dtype)
    crd = np.empty(k, sector_rd_intensity.dtype)
    for j in range(k):  # the sectors first: a refused target leaves the parents' revenue unwritten
        ps = sector[parents[j]]
        if kept_sector[ps] and u_same[j] < same_prob:
            csec[j] = ps
        else:
            t = count_at_or_below(target_cdf, 0, u_target[j])
            if t == target_sector.size:  # numpy's gather would refuse it too (IndexError)
                raise ValueError("spin_off_rows: a uniform at or above the targets' cumulative distribution's end")
            csec[j] = target_sector[t]
    for j in range(k):
        i = parents[j]
        cs = csec[j]
        r = revenue[i] * share
        crev[j] = r
        revenue[i] = revenue[i] - r
        ccity[j] = city[i]
        clp[j] = log_productivity[i]
        crd[j] = sector_rd_intensity[cs]
    return csec, crev, ccity, clp, crd


@called
def pairwise_sum(a, lo, n):  # pragma: no cover - compiled
    """numpy's ``a[lo:lo + n].sum()`` bit for bit (float64, contiguous): its pairwise summation, a
    block of up to 128 rows summed by block_sum, a longer run split in two at half its length rounded
    down to a multiple of 8 and the halves' sums added. The recursion is unrolled on a stack (a
    compiled loop cannot inline a function that calls itself). numpy's reduction adds that to its
    identity, +0.0, which a sum of negative zeros shows. tests/unit/test_kernels.py checks it against
    numpy's sum for lengths 0 to 20 000."""
    if n <= 128:
        return 0.0 + block_sum(a, lo, n)
    depth = 2
    m = n
    while m > 128:
        m //= 2
        depth += 1
    node_lo = np.empty(2 * depth, np.int64)
    node_n = np.empty(2 * depth, np.int64)
    node_state = np.zeros(2 * depth, np.int64)  # 0: left half next, 1: right half next, 2: both summed
    sums = np.empty(2 * depth, np.float64)
    top = 0
    node_lo[0], node_n[0] = lo, n
    n_sums = 0
    while top >= 0:
        a_lo, a_n = node_lo[top], node_n[top]
        if a_n <= 128:
            sums[n_sums] = block_sum(a, a_lo, a_n)
            n_sums += 1
            top -= 1
            continue
        half = a_n // 2
        half -= half % 8
        if node_state[top] == 0:
            node_state[top] = 1
            top += 1
            node_lo[top], node_n[top], node_state[top] = a_lo, half, 0
        elif node_state[top] == 1:
            node_state[top] = 2
            top += 1
            node_lo[top], node_n[top], node_state[top] = a_lo + half, a_n - half, 0
        else:
            n_sums -= 1
            sums[n_sums - 1] = sums[n_sums - 1] + sums[n_sums]
            top -= 1
    return 0.0 + sums[0]


@compiled
def fresh_draws(cdf, w, u, total, need):  # pragma: no cover - compiled
    """One batch of draw_without_replacement (simmodel.agents.firms): each uniform of ``u`` times
    ``total`` falls on the cumulative weights ``cdf`` (the first position whose sum exceeds it, as
    ``searchsorted(side="right")``; one beyond the last is dropped); a position whose weight ``w`` is
    still above zero is taken, in draw order, until ``need`` are, and its weight zeroed (so a
    position drawn again, in this batch or an earlier one, is dropped). Returns the positions taken
    and the sum of their weights as numpy sums them (pairwise, in draw order): what np.unique,
    a sort of the first draws and four masks did, in one pass."""
    n = w.size
    out = np.empty(min(need, u.size), np.int64)
    taken = np.empty(out.size, np.float64)
    m = 0
    for j in range(u.size):
        if m == need:
            break
        p = np.searchsorted(cdf, u[j] * total, side="right")
        if p < n and w[p] > 0.0:
            out[m] = p
            taken[m] = w[p]
            w[p] = 0.0
            m += 1
    return out[:m], pairwise_sum(taken, 0, m)


@compiled
def fund_book_exits(firm, ticket, year_in, tte, start, new_start, lo, hi, w, acts, year, wound_up, yearly_profit,
                    follow_budget, sell_u, loss_exit_prob, ticket_ratio, alive, revenue, revenue_year_start, equity,
                    n_investors, penalty_until_q, revenue_kept, penalty_q, counts,
                    spent):  # pragma: no cover - compiled
    """The exits and follow-on rounds of the funds ``lo`` .. ``hi - 1`` of a book (simmodel.agents.funds.FundBook:
    holdings ``firm``, ``ticket`` in CNY 100 m, ``year_in``, ``tte`` in years; fund f's rows from
    ``start[f]`` to ``start[f + 1]``), one fund after another, as simmodel.model.funds.fund_year orders them.

    A fund that acts this year (``acts``) exits: a holding is matured when ``year`` less its entry
    year reaches its time to exit; a fund ``wound_up`` sells everything; otherwise it keeps what is
    neither matured nor of an exited firm and, under ``yearly_profit`` rules, sells a holding whose
    revenue fell over the year when its uniform (``sell_u``, by row) is below ``loss_exit_prob``. Each
    holding left takes its ticket out of the firm's equity and one from its investors; an early exit
    (not matured, firm alive) multiplies the firm's revenue by ``revenue_kept`` and sets its
    penalty_until_q to ``penalty_q``. Then, with a follow-on budget (``follow_budget`` > 0, CNY 100 m),
    its follow-on rounds: in the holdings kept whose firm is alive and grew over the year (revenue over
    max(revenue_year_start, 1e-9) above 1), fastest growth first (equal growth in holding order), a
    round of ``ticket_ratio`` times the first ticket while the running sum stays within the budget,
    added to the firm's equity and the holding's ticket.

    The rows kept move down to ``w`` onwards (``new_start[f]``: where fund f's now begin); returns
    where the next fund's go. ``counts[f]``: early exits, normal exits (matured, firm alive), write-offs
    (firm exited) and follow-on rounds; ``spent[f]``: the rounds' money, numpy's sum of them. A fund
    holds a firm at most once, so within a fund no firm is touched twice; between funds the firms'
    arrays are written in fund order."""
    for f in range(lo, hi):
        a, b = start[f], start[f + 1]
        new_start[f] = w
        if not acts[f]:  # not raised yet, or neither holding nor deploying: its rows (none) move
            for i in range(a, b):
                firm[w], ticket[w], year_in[w], tte[w] = firm[i], ticket[i], year_in[i], tte[i]
                w += 1
            continue
        n_early = 0
        n_normal = 0
        n_off = 0
        for i in range(a, b):
            fi = firm[i]
            early = (year - year_in[i]) < tte[i]
            al = alive[fi]
            k = False
            if not wound_up[f]:
                early = early and al
                k = early
                if yearly_profit[f] and revenue[fi] < revenue_year_start[fi] and sell_u[i] < loss_exit_prob:
                    k = False
            if k:
                firm[w], ticket[w], year_in[w], tte[w] = fi, ticket[i], year_in[i], tte[i]
                w += 1
            else:
                equity[fi] -= ticket[i]
                n_investors[fi] -= 1
                if early and al:
                    revenue[fi] *= revenue_kept
                    penalty_until_q[fi] = penalty_q
                    n_early += 1
                elif al:
                    n_normal += 1
                else:
                    n_off += 1
        counts[f, 0] = n_early
        counts[f, 1] = n_normal
        counts[f, 2] = n_off
        s = new_start[f]
        if follow_budget[f] <= 0 or w == s:
            continue
        grew = np.empty(w - s, np.intp)
        minus_growth = np.empty(w - s, np.float64)
        m = 0
        for i in range(s, w):
            fi = firm[i]
            g = revenue[fi] / max(revenue_year_start[fi], 1e-9)
            if alive[fi] and g > 1.0:
                grew[m] = i
                minus_growth[m] = -g
                m += 1
        order = np.argsort(minus_growth[:m], kind="mergesort")
        rounds = np.empty(m, np.float64)
        rows = np.empty(m, np.intp)
        total = 0.0
        taken = 0
        for r in range(m):
            # every round whose running sum is within the budget, as numpy's mask of the cumsum took
            # them (with rounds of at least zero, the first that breaks it ends the rounds)
            t = ticket_ratio * ticket[grew[order[r]]]
            total += t
            if total <= follow_budget[f]:
                rows[taken] = grew[order[r]]
                rounds[taken] = t
                taken += 1
        for r in range(taken):
            equity[firm[rows[r]]] += rounds[r]
            ticket[rows[r]] += rounds[r]
        counts[f, 3] = taken
        spent[f] = pairwise_sum(rounds, 0, taken)
    return w


@compiled
def fund_book_deals(firm, ticket, year_in, tte, start, deal_start, deal_firm, deal_ticket, deal_tte, year, equity,
                    n_investors, sector, long_horizon, spent, spent_long):  # pragma: no cover - compiled
    """A year's new deals booked (simmodel.model.funds.fund_year): fund f's deals (rows
    ``deal_start[f]`` to ``deal_start[f + 1]`` of ``deal_firm``, ``deal_ticket`` in CNY 100 m and
    ``deal_tte`` in years) follow its holdings in the book, entered in ``year``; each adds its ticket
    to the firm's equity and one to its investors, fund after fund. ``spent[f]`` and ``spent_long[f]``:
    numpy's sums of fund f's tickets, and of those in ``long_horizon`` sectors. Returns the book's new
    arrays (firm, ticket, year_in, tte) and its new starts."""
    n_funds = start.size - 1
    n = start[n_funds] + deal_start[n_funds]
    out_firm = np.empty(n, firm.dtype)
    out_ticket = np.empty(n, ticket.dtype)
    out_year_in = np.empty(n, year_in.dtype)
    out_tte = np.empty(n, tte.dtype)
    out_start = np.empty(n_funds + 1, start.dtype)
    long_tickets = np.empty(deal_start[n_funds], np.float64)
    w = 0
    for f in range(n_funds):
        out_start[f] = w
        for i in range(start[f], start[f + 1]):
            out_firm[w], out_ticket[w], out_year_in[w], out_tte[w] = firm[i], ticket[i], year_in[i], tte[i]
            w += 1
        a, b = deal_start[f], deal_start[f + 1]
        n_long = 0
        for j in range(a, b):
            c = deal_firm[j]
            equity[c] += deal_ticket[j]
            n_investors[c] += 1
            out_firm[w], out_ticket[w], out_year_in[w], out_tte[w] = c, deal_ticket[j], year, deal_tte[j]
            w += 1
            if long_horizon[sector[c]]:
                long_tickets[n_long] = deal_ticket[j]
                n_long += 1
        spent[f] = pairwise_sum(deal_ticket, a, b - a)
        spent_long[f] = pairwise_sum(long_tickets, 0, n_long)
    out_start[n_funds] = w
    return out_firm, out_ticket, out_year_in, out_tte, out_start


# --------------------------------------------------------------------------- the funds' screens

@inlined
def ranks_below(score_a, pos_a, score_b, pos_b):  # pragma: no cover - compiled
    """Whether (score_a, position pos_a) ranks below (score_b, pos_b) in a stable descending sort:
    a lower score, or an equal one at a later position."""
    return score_a < score_b or (score_a == score_b and pos_a > pos_b)


@inlined
def sift_down(hs, hp, m, x, i):  # pragma: no cover - compiled
    """Put (score ``x``, position ``i``) at the root of a heap of ``m`` (scores ``hs``, positions ``hp``;
    its root ranks lowest, see ranks_below) and move it down to its place."""
    c = 0
    while True:
        child = 2 * c + 1
        if child >= m:
            break
        if child + 1 < m and ranks_below(hs[child + 1], hp[child + 1], hs[child], hp[child]):
            child += 1
        if ranks_below(hs[child], hp[child], x, i):
            hs[c] = hs[child]
            hp[c] = hp[child]
            c = child
        else:
            break
    hs[c] = x
    hp[c] = i


@inlined
def ranks_before(x, tie, a, b):  # pragma: no cover - compiled
    """Whether item ``a`` comes before item ``b`` in descending_order: a higher ``x``, or an equal one
    with a lower ``tie``; a NaN comes after every number and ties another NaN (as in numpy's sorts of
    ``-x``)."""
    xa = x[a]
    xb = x[b]
    if xa > xb:
        return True
    if xa == xb or (np.isnan(xa) and np.isnan(xb)):  # NaNs are equal to each other in numpy's sorts
        return tie[a] < tie[b]
    return np.isnan(xb) and not np.isnan(xa)


@called
def merge_sort(x, tie, items, lo, hi, tmp):  # pragma: no cover - compiled
    """items[lo:hi] in descending_order's order (ranks_before), stably: runs of 16 by insertion, then
    merged bottom-up through ``tmp`` (at least hi long); for a bucket of many items, or every item
    when their values are not all finite."""
    run = 16
    for a in range(lo, hi, run):
        for j in range(a + 1, min(a + run, hi)):
            v = items[j]
            c = j
            while c > a and ranks_before(x, tie, v, items[c - 1]):
                items[c] = items[c - 1]
                c -= 1
            items[c] = v
    src = items
    dst = tmp
    width = run
    while width < hi - lo:
        for a in range(lo, hi, 2 * width):
            mid = min(a + width, hi)
            end = min(a + 2 * width, hi)
            i = a
            j = mid
            for w in range(a, end):
                # the right item goes first only when it ranks before the left one: stable
                if j < end and (i >= mid or ranks_before(x, tie, src[j], src[i])):
                    dst[w] = src[j]
                    j += 1
                else:
                    dst[w] = src[i]
                    i += 1
        src, dst = dst, src
        width *= 2
    if src is not items:
        for w in range(lo, hi):
            items[w] = src[w]


@inlined
def bucket_scale(x, items, n_buckets):  # pragma: no cover - compiled
    """The buckets of equal width that ``x`` at ``items`` (at least one) fall into, highest first:
    (the highest value, buckets per unit of x). The scale is 0 where there are no such buckets: a
    value not finite, all equal, or a range too narrow for a finite scale."""
    hi = x[items[0]]
    lo = hi
    finite = True
    for j in range(items.size):
        v = x[items[j]]
        finite &= np.isfinite(v)
        hi = max(hi, v)
        lo = min(lo, v)
    scale = n_buckets / (hi - lo) if finite and hi > lo else 0.0
    return hi, (scale if np.isfinite(scale) and scale > 0.0 else 0.0)


@inlined
def bucket_of(v, hi, scale, top):  # pragma: no cover - compiled
    """The bucket of value ``v`` (bucket_scale's ``hi`` and ``scale``; ``top``: the last bucket). It
    never decreases as the value does (each operation rounds monotonically); the lowest value lands
    on top + 1, or just past it by rounding, and is put in the last."""
    return min(np.int64((hi - v) * scale), top)


@called
def bucket_layout(x, tie, items):  # pragma: no cover - compiled
    """The first half of descending_order: ``items`` dealt into buckets of equal width in ``x``,
    highest first, each in the items' order. Returns (the items so dealt, their values, their ties,
    where each bucket starts, with the end last, whether they are sorted already); sort_buckets then
    orders each bucket. Where bucket_scale finds no buckets, every item is sorted at once (merge_sort)
    and the values and ties are not returned."""
    n = items.size
    out = np.empty(n, items.dtype)
    xs = np.empty(n, np.float64)
    ts = np.empty(n, tie.dtype)
    n_buckets = max(n // 2, 1)
    hi, scale = bucket_scale(x, items, n_buckets) if n else (0.0, 0.0)
    if scale == 0.0:
        out[:] = items
        merge_sort(x, tie, out, 0, n, np.empty(n, items.dtype))
        return out, xs, ts, np.zeros(0, np.int64), True
    for j in range(n):
        xs[j] = x[items[j]]
    bucket = np.empty(n, np.int64)
    start = np.zeros(n_buckets + 1, np.int64)
    top = n_buckets - 1
    for j in range(n):
        b = bucket_of(xs[j], hi, scale, top)
        bucket[j] = b
        start[b + 1] += 1
    for b in range(n_buckets):
        start[b + 1] += start[b]
    fill = start[:n_buckets].copy()
    values = xs.copy()
    for j in range(n):
        b = bucket[j]
        w = fill[b]
        out[w] = items[j]
        xs[w] = values[j]
        ts[w] = tie[items[j]]
        fill[b] = w + 1
    return out, xs, ts, start, False


@called
def sort_buckets(x, tie, out, xs, ts, start):  # pragma: no cover - compiled
    """The second half of descending_order: each bucket of bucket_layout (the items ``out`` with their
    values ``xs`` and ties ``ts``, finite; ``start``) in order, stably: an insertion sort over the
    values side by side, or, for a bucket of more than 32, merge_sort. The large buckets are sorted in
    a loop of their own: with them in it, the insertion sorts' loop took three times as long."""
    n_buckets = start.size - 1
    large = False
    for b in range(n_buckets):
        a = start[b]
        e = start[b + 1]
        if e - a <= 32:
            for j in range(a + 1, e):
                v = xs[j]
                t = ts[j]
                it = out[j]
                c = j
                while c > a and (v > xs[c - 1] or (v == xs[c - 1] and t < ts[c - 1])):
                    xs[c] = xs[c - 1]
                    ts[c] = ts[c - 1]
                    out[c] = out[c - 1]
                    c -= 1
                xs[c] = v
                ts[c] = t
                out[c] = it
        else:
            large = True
    if large:
        tmp = np.empty(out.size, out.dtype)
        for b in range(n_buckets):
            a = start[b]
            e = start[b + 1]
            if e - a > 32:
                merge_sort(x, tie, out, a, e, tmp)
                for j in range(a, e):
                    xs[j] = x[out[j]]
                    ts[j] = tie[out[j]]


@called
def descending_order(x, tie, items):  # pragma: no cover - compiled
    """``items`` (positions in ``x`` and ``tie``) ordered by ``x`` from highest to lowest, equal values
    by ``tie`` (lowest first), then as they come in ``items``: for items in ascending position order,
    ``np.lexsort((tie[items], -x[items]))``; with ``tie`` all equal, ``np.argsort(-x[items],
    kind="stable")``. A NaN comes last (as numpy's).

    numpy's sorts of doubles run a scalar quicksort on this machine (and its stable sort a timsort);
    here a counting sort into n / 2 buckets of equal width between the lowest and the highest value
    (bucket_layout), then an insertion sort within each (sort_buckets): O(n) for values spread as log
    productivities are (2 048 scores in 18 against numpy's 31-49 us). The bucket of a value
    (bucket_of) never decreases as the value does, so the buckets in order hold the values in order;
    the counting sort keeps the items' order within a bucket, and the sorts keep it among equals.
    Returns the items in order."""
    out, xs, ts, start, done = bucket_layout(x, tie, items)
    if not done:
        sort_buckets(x, tie, out, xs, ts, start)
    return out


@compiled
def city_order(city, efficiency, priority, n_cities):  # pragma: no cover - compiled
    """requests_in_order in one call (simmodel.agents.cities.request_order)."""
    return requests_in_order(city, efficiency, priority, n_cities)


@called
def requests_in_order(city, efficiency, priority, n_cities):  # pragma: no cover - compiled
    """The order land requests are served in (simmodel.agents.cities.request_order): by city (codes 0
    .. n_cities - 1), most efficient first, priority first among equal efficiencies, then by position,
    ``np.lexsort((~priority, -efficiency, city))``: a counting sort by city (which keeps the positions'
    order), then descending_order within each city, its ties the priority flags (0 first)."""
    r = city.size
    start = np.zeros(n_cities + 1, np.int64)
    for i in range(r):
        start[city[i] + 1] += 1
    for c in range(n_cities):
        start[c + 1] += start[c]
    fill = start[:n_cities].copy()
    by_city = np.empty(r, np.int64)
    for i in range(r):
        c = city[i]
        by_city[fill[c]] = i
        fill[c] += 1
    tie = np.empty(r, np.uint8)
    for i in range(r):
        tie[i] = 0 if priority[i] else 1
    order = np.empty(r, np.int64)
    for c in range(n_cities):
        a = start[c]
        e = start[c + 1]
        if e > a:
            order[a:e] = descending_order(efficiency, tie, by_city[a:e])
    return order


@compiled
def stable_descending(x, tie, items):  # pragma: no cover - compiled
    """descending_order in one call (for the tests and the benchmarks): the items in order."""
    return descending_order(x, tie, items)


@compiled
def ranked_within_budget(score, ok, k, base_ticket, min_ticket, cap, budget):  # pragma: no cover - compiled
    """heap_ranking in one call (for the tests)."""
    return heap_ranking(score, ok, k, base_ticket, min_ticket, cap, budget)


@called
def heap_ranking(score, ok, k, base_ticket, min_ticket, cap, budget):  # pragma: no cover - compiled
    """The ``k`` best positions a fund may back (``ok``) by ``score``, highest first, equal scores by
    position (``np.argsort(-score, kind="stable")`` of them, cut at k), their tickets
    (``base_ticket`` clipped to [``min_ticket``, ``cap``] as np.maximum then np.minimum clip) and how
    many of them their running sum keeps within ``budget`` (``np.searchsorted(np.cumsum(tickets),
    budget, side="right")``). For the small k of most screens at small populations
    (ranked_group_within_budget): a heap of the k best so far, which a position enters
    only when it ranks above the worst of them, in one pass over the block; O(n + k log k log(n / k)).
    Returns (positions, tickets, kept)."""
    hs = np.empty(max(k, 1), np.float64)  # a min-heap of the best so far: its root ranks lowest
    hp = np.empty(max(k, 1), np.int64)
    m = 0
    for i in range(score.size):
        if not ok[i]:
            continue
        x = score[i]
        if m < k:  # sift up
            c = m
            m += 1
            while c > 0:
                parent = (c - 1) >> 1
                if ranks_below(x, i, hs[parent], hp[parent]):
                    hs[c] = hs[parent]
                    hp[c] = hp[parent]
                    c = parent
                else:
                    break
            hs[c] = x
            hp[c] = i
        elif k > 0 and ranks_below(hs[0], hp[0], x, i):  # in place of the root
            sift_down(hs, hp, m, x, i)
    order = np.empty(m, np.int64)
    for j in range(m - 1, -1, -1):  # pop the lowest ranked to the back
        order[j] = hp[0]
        sift_down(hs, hp, j, hs[j], hp[j])  # the last in the root's place, the heap one shorter
    tickets = np.empty(m, np.float64)
    total = 0.0
    kept = 0
    counting = True
    for j in range(m):
        t = base_ticket[order[j]]
        t = min_ticket if t < min_ticket else t  # noqa: FURB136 - np.maximum: a NaN stays NaN
        t = cap if t > cap else t  # noqa: FURB136 - np.minimum, as above
        tickets[j] = t
        total += t
        if counting and total <= budget:
            kept += 1
        else:
            counting = False
    return order, tickets, kept


@called
def within_budget(order, base_ticket, min_ticket, cap, budget):  # pragma: no cover - compiled
    """The tickets of the positions ``order`` (``base_ticket`` clipped to [``min_ticket``, ``cap``] as
    np.maximum then np.minimum clip) that their running sum keeps within ``budget``
    (``np.searchsorted(np.cumsum(tickets), budget, side="right")`` of them). Returns (those tickets,
    how many)."""
    tickets = np.empty(order.size, np.float64)
    total = 0.0
    kept = 0
    for j in range(order.size):
        t = base_ticket[order[j]]
        t = min_ticket if t < min_ticket else t  # noqa: FURB136 - np.maximum: a NaN stays NaN
        t = cap if t > cap else t  # noqa: FURB136 - np.minimum, as above
        total += t
        if not total <= budget:  # a NaN stops it, as searchsorted puts a NaN sum last
            break
        tickets[j] = t
        kept += 1
    return tickets[:kept], kept


_COARSE_BUCKETS = 1024  # bucket_ranking's first split of a large ranking


@called
def bucket_ranking(score, ok, tie, k, base_ticket, min_ticket, cap, budget):  # pragma: no cover - compiled
    """heap_ranking's answer for every position a fund may back (``ok``), for rankings too large for
    the heap: the positions in descending_order (``tie``: zeros, the positions then decide), their
    tickets until the running sum passes ``budget``. Where there are many, only the best are sorted:
    they are counted into _COARSE_BUCKETS buckets of equal width, and the positions of the top buckets
    holding at least ``k`` (about twice the deals the budget buys) are sorted, four times as many
    while those all fit. A position left out ranks below every one sorted (its bucket is lower, and
    equal scores share a bucket), so the deals are those of sorting all. Returns (positions in rank
    order, as far as they are sorted; the kept ones' tickets; how many are kept)."""
    n_ok = 0
    items = np.empty(score.size, np.int64)
    for i in range(score.size):  # branch-free: the positions a fund may back, ascending
        items[n_ok] = i
        n_ok += ok[i]
    items = items[:n_ok]
    if n_ok > 4 * _COARSE_BUCKETS and 4 * k < n_ok:
        hi, scale = bucket_scale(score, items, _COARSE_BUCKETS)
        if scale > 0.0:
            top = _COARSE_BUCKETS - 1
            bucket = np.empty(n_ok, np.int16)
            counts = np.zeros(_COARSE_BUCKETS, np.int64)
            for j in range(n_ok):
                b = bucket_of(score[items[j]], hi, scale, top)
                bucket[j] = b
                counts[b] += 1
            target = max(k, 1)
            while True:
                last = 0  # the top buckets holding at least target positions: 0 .. last
                held = counts[0]
                while held < target and last < top:
                    last += 1
                    held += counts[last]
                best = np.empty(held + 1, np.int64)  # one more: where the last ones left out are written
                w = 0
                for j in range(n_ok):  # branch-free, as above
                    best[w] = items[j]
                    w += bucket[j] <= last
                order = descending_order(score, tie, best[:held])
                tickets, kept = within_budget(order, base_ticket, min_ticket, cap, budget)
                if kept < order.size or held == n_ok:
                    return order, tickets, kept
                target = 4 * target
    order = descending_order(score, tie, items)
    tickets, kept = within_budget(order, base_ticket, min_ticket, cap, budget)
    return order, tickets, kept


@compiled
def ranked_group_within_budget(score, ok, budgets, caps, base_ticket, mean_ticket, min_ticket, k_max, block_max,
                               firm, block, tte_years):  # pragma: no cover - compiled
    """ranked_group in one call (the tests)."""
    return ranked_group(score, ok, budgets, caps, base_ticket, mean_ticket, min_ticket, k_max, block_max, firm, block,
                        tte_years)


@compiled
def screen_round(log_productivity, floor, firm, tte_years, revenue, group, keys32, life_left, short_horizon,
                 horizon_years, above_size, held, held_lo, held_hi, where, ticket_to_revenue, budgets, caps, min_ticket,
                 k_max, block_max):  # pragma: no cover - compiled
    """A screening round of simmodel.agents.funds.screen_funds in one call: the funds ``group``
    (positions in the screen's funds, whose keys, lives left, holdings (``held``, fund j's from
    ``held_lo[j]`` to ``held_hi[j]``), budgets and largest tickets are given for all of them) score
    the block of candidates at or above ``floor`` (block_scores), then rank it within their budgets
    (ranked_group; the mean ticket at least ``min_ticket``). Returns ranked_group's answer."""
    g = group.size
    keys = np.empty(g, keys32.dtype)
    life = np.empty(g, life_left.dtype)
    budget = np.empty(g, np.float64)
    cap = np.empty(g, np.float64)
    start = np.zeros(g + 1, np.int64)
    for jj in range(g):
        j = group[jj]
        keys[jj] = keys32[j]
        life[jj] = life_left[j]
        budget[jj] = budgets[j]
        cap[jj] = caps[j]
        start[jj + 1] = start[jj] + held_hi[j] - held_lo[j]
    own = np.empty(start[g], held.dtype)
    for jj in range(g):
        j = group[jj]
        own[start[jj]:start[jj + 1]] = held[held_lo[j]:held_hi[j]]
    block, score, ok, base_ticket, mean_ticket = block_scores(log_productivity, floor, firm, tte_years, revenue, keys,
                                                              life, short_horizon, horizon_years, above_size, own, start,
                                                              where, ticket_to_revenue)
    # about the mean ticket (a ticket is at least the smallest one): how many deals a budget buys
    mean_ticket = max(mean_ticket, min_ticket)
    return ranked_group(score, ok, budget, cap, base_ticket, mean_ticket, min_ticket, k_max, block_max, firm, block,
                        tte_years)


@called
def ranked_group(score, ok, budgets, caps, base_ticket, mean_ticket, min_ticket, k_max, block_max, firm, block,
                 tte_years):  # pragma: no cover - compiled
    """Every fund's ranking of a screening round in one call (simmodel.agents.funds.screen; the rule
    as numpy states it: rank_within_budget there): for each fund (a row of ``score`` and ``ok``, its
    budget and largest ticket in ``budgets`` and ``caps``, CNY 100 m), the positions it may back best
    score first, equal scores by position, each with its ticket, taken until the next would carry
    their running sum past its budget. Where the block has at most ``block_max`` positions, by the
    heap (heap_ranking) of about twice the deals ``mean_ticket`` buys, four times as many while those
    fit, up to ``k_max``; beyond, every position the fund may back in descending_order
    (bucket_ranking), which also takes a ranking the heap went round on past k_max.

    Returns, in the funds' order, the deals' firms (``firm`` at the block's positions ``block``),
    tickets and expected years to exit (float64 of ``tte_years``); then each fund's number of deals
    and the score of the first position its budget refused (``has_refused`` False: every position it
    may back fits)."""
    g, nb = score.shape
    n_deals = np.zeros(g, np.int64)
    refused = np.zeros(g, np.float64)
    has_refused = np.zeros(g, np.bool_)
    tie = np.zeros(nb, np.uint8)
    rankings = []
    total = 0
    for j in range(g):
        n_ok = 0
        for b in range(nb):
            n_ok += ok[j, b]
        k = 0
        if n_ok:
            # ceil(2 * budget / min(mean_ticket, cap)) + 1, at most n_ok, in floating point: a float
            # beyond the integers' range would overflow math.ceil's
            want = np.ceil(2.0 * budgets[j] / min(mean_ticket, caps[j])) + 1.0
            k = n_ok if want >= n_ok else np.int64(want)
        while True:
            if nb > block_max or k > k_max:
                order, tickets, m = bucket_ranking(score[j], ok[j], tie, k, base_ticket, min_ticket, caps[j], budgets[j])
                break
            order, tickets, m = heap_ranking(score[j], ok[j], k, base_ticket, min_ticket, caps[j], budgets[j])
            if m < order.size or order.size == n_ok:
                break
            k = min(n_ok, 4 * k)
        if m < order.size:
            refused[j] = score[j, order[m]]
            has_refused[j] = True
        n_deals[j] = m
        total += m
        rankings.append((order[:m], tickets[:m]))
    out_firm = np.empty(total, np.int64)
    out_ticket = np.empty(total, np.float64)
    out_tte = np.empty(total, np.float64)
    t = 0
    for j in range(g):
        order, tickets = rankings[j]
        for r in range(order.size):
            pos = block[order[r]]
            out_firm[t] = firm[pos]
            out_ticket[t] = tickets[r]
            out_tte[t] = np.float64(tte_years[pos])
            t += 1
    return out_firm, out_ticket, out_tte, n_deals, refused, has_refused


# --------------------------------------------------------------------------- the government's pools

@compiled
def pool_masks(alive, stage, revenue, sector, city, sector_flags, zone, stage_bits, flag_masks, above_only, zone_only,
               above_size, masks, flags):  # pragma: no cover - compiled
    """Every named pool of a decision round (simmodel.agents.government.POOL_RULES) in one compiled
    call (a pass for the firms' sector flags, size and zone, then a pass a pool): pool p's row of
    ``masks`` flags the alive firms whose stage's bit is set in
    ``stage_bits[p]``, whose sector's flags (``sector_flags``, a byte by sector) share a bit with
    ``flag_masks[p]`` (0: any sector), above size (revenue at least ``above_size``, CNY 100 m per
    yr) where ``above_only[p]``, in a city and sector with a pilot zone (``zone``, city x sector)
    where ``zone_only[p]``. ``flags`` gets each firm's sector flags, which the pools' future-industry
    split reads. The zone is looked up only for firms of a sector with a zone somewhere (bit 2 of
    its flags), as numpy's pool did; the firms are stored sector by sector, so that test is
    predictable."""
    n = alive.size
    above = np.empty(n, np.bool_)
    in_zone = np.zeros(n, np.bool_)
    for i in range(n):
        fl = sector_flags[sector[i]]
        flags[i] = fl
        above[i] = revenue[i] >= above_size
        if fl & 4:
            in_zone[i] = zone[city[i], sector[i]]
    # a pool at a time, over the firms in order: each row written in turn, in vector instructions
    # (the pools inside the firms' loop took 1.8 ms at 100 000 firms)
    for p in range(stage_bits.size):
        bits = stage_bits[p]
        fm = flag_masks[p]
        need_above = above_only[p]
        need_zone = zone_only[p]
        row = masks[p]
        for i in range(n):
            row[i] = (alive[i] & np.bool_((bits >> stage[i]) & 1) & ((fm == 0) | ((flags[i] & fm) != 0))
                      & ((not need_above) | above[i]) & ((not need_zone) | in_zone[i]))


@compiled
def split_pool(rows, flags, bit, base):  # pragma: no cover - compiled
    """split_by_bit in one call: ((rows, base scores) of the firms with the bit set, (those of the others))."""
    set_rows, set_base, other_rows, other_base = split_by_bit(rows, flags, bit, base)
    return (set_rows, set_base), (other_rows, other_base)


@called
def split_by_bit(rows, flags, bit, base):  # pragma: no cover - compiled
    """A pool's firms (``rows``, with their base scores ``base``) split by one bit of their sector's
    flags (``flags``, a byte per firm): rows and base scores of the firms with the bit set, then
    those of the others, each in pool order."""
    n = rows.size
    mask = np.empty(n, np.bool_)
    n_set = 0
    for j in range(n):
        m = (flags[rows[j]] >> bit) & 1 == 1
        mask[j] = m
        n_set += m
    set_rows = np.empty(n_set, rows.dtype)
    set_base = np.empty(n_set, base.dtype)
    other_rows = np.empty(n - n_set, rows.dtype)
    other_base = np.empty(n - n_set, base.dtype)
    a = 0
    b = 0
    for j in range(n):
        if mask[j]:
            set_rows[a] = rows[j]
            set_base[a] = base[j]
            a += 1
        else:
            other_rows[b] = rows[j]
            other_base[b] = base[j]
            b += 1
    return set_rows, set_base, other_rows, other_base


@compiled
def keyed_scores(rows, base, floor, key):  # pragma: no cover - compiled
    """A selection's candidates in a pool (``rows``, with their base scores ``base``): the positions
    whose base reaches ``floor``, and their scores, ``base + keyed_uniform(key, row)`` (``key``: its
    low 32 bits, uint32) in float64, as numpy adds a float32 uniform to a float64 base; in two passes
    instead of numpy's dozen over small arrays (simmodel.agents.government.choose_with_noise)."""
    n = base.size
    # the positions first, without a branch (one spare slot: each is written before the test moves
    # the output on), then the scores of those alone: in the model 50 -> 23 us a call at 100 000
    # firms, where a branch on the base chose a tenth of a pool
    near = np.empty(n + 1, np.intp)
    m = 0
    for i in range(n):
        near[m] = i
        m += base[i] >= floor
    score = np.empty(m, np.float64)
    k = np.uint32(key)
    for j in range(m):
        i = near[j]
        score[j] = base[i] + np.float64(keyed_unit(rows[i], k))
    return near[:m], score


@compiled
def noisy_top(rows, base, key, k):  # pragma: no cover - compiled
    """noisy_top_of in one call: (the chosen rows, highest score first; whether the choice is exact)."""
    return noisy_top_of(rows, base, key, k)


@called
def noisy_top_of(rows, base, key, k):  # pragma: no cover - compiled
    """The ``k`` firms of a pool (``rows``, 0 < k < rows.size) with the highest score, ``base``
    (aligned with rows, float64) plus the firm's keyed uniform (keyed_unit(row, ``key``), ``key``
    uint32), in one pass: a buffer of up to 2k of the best so far, cut back to those at least its
    k-th best score when it fills, which a firm then enters only by scoring above that; a firm whose
    base is more than 1 below it is never scored (its noise is below 1). Returns (the chosen rows,
    highest score first; whether the choice is exact): not exact when the k-th best score ties the
    best left out (a partition's order then decides, which this pass does not reproduce), a score
    is NaN, or fewer than k score above -inf; simmodel.agents.government.choose_with_noise then
    chooses by partitions."""
    cap = 2 * k
    bs = np.empty(cap, np.float64)
    br = np.empty(cap, rows.dtype)
    c = 0
    floor = -np.inf  # the buffer's k-th best at its last cut: a firm must score above it
    left_out = -np.inf  # the best score not kept
    exact = True
    for j in range(rows.size):
        b = base[j]
        if b + 1.0 < floor:  # scores below b + 1
            continue
        x = b + np.float64(keyed_unit(rows[j], key))
        if not x > floor:
            exact &= not np.isnan(x)
            left_out = max(left_out, x)
            continue
        if c == cap:  # cut back to those at least the k-th best
            c, floor = top_buffer_cut(bs, br, c, k)
            if c == cap:  # 2k scores tied: no room left
                return br[:0], False
            if not x > floor:
                left_out = max(left_out, x)
                continue
        bs[c] = x
        br[c] = rows[j]
        c += 1
    return top_buffer_result(bs, br, c, k, left_out, exact)


@inlined
def top_buffer_cut(bs, br, c, k):  # pragma: no cover - compiled
    """A top-k buffer (scores ``bs``, rows ``br``, the first ``c`` >= k in use) cut back to the
    entries that score at least its k-th best, in place: returns (how many are kept, that score).
    Those cut score below it, which the k-th best reaches: never tied to it."""
    v = np.partition(bs[:c], c - k)[c - k]
    kept = 0
    for i in range(c):
        if bs[i] >= v:
            bs[kept] = bs[i]
            br[kept] = br[i]
            kept += 1
    return kept, v


@called
def top_buffer_result(bs, br, c, k, left_out, exact):  # pragma: no cover - compiled
    """A top-k buffer's answer (scores ``bs``, rows ``br``, the first ``c`` in use; ``left_out``: the
    best score not kept): (its k best rows, highest score first; whether that choice is exact: k of
    them, the k-th best above every score left out, and ``exact`` as the scan found it)."""
    order = np.argsort(bs[:c])[::-1]
    t = min(k, c)
    chosen = np.empty(t, br.dtype)
    for i in range(t):
        chosen[i] = br[order[i]]
    if t < k:  # fewer than k scored above -inf: the others tie at -inf
        return chosen, False
    last = bs[order[t - 1]]
    if t < c:
        left_out = max(left_out, bs[order[t]])
    return chosen, exact and last > left_out


# The round's pool firms in bands of base score (see pool_bands): base scores are standardised, so
# that bands of a sixteenth over [-6, 6] (the ends open) split them finely where the selections look.
_BAND_HIGH = 6.0
_BANDS_PER_UNIT = 16.0
_BANDS = 192
# the bands whose firms are put in order: the best, until they hold this share of the pools' firms
# (a selection that must look further is made from its pool, as before)
_BANDED_SHARE = 1 / 8
_BANDED_ALL_BELOW = 4096  # firms: fewer, and every band is put in order
_FUTURE_CODE = np.uint16(1 << 15)  # of a firm's code in the bands: its sector is a future industry


@inlined
def band_of(b):  # pragma: no cover - compiled
    """The band of a base score ``b`` (finite): its distance below _BAND_HIGH in bands, cut to
    [0, _BANDS - 1] (a monotone function of the score: a higher score is never in a lower band)."""
    x = (_BAND_HIGH - b) * _BANDS_PER_UNIT
    return min(np.int64(x) if x >= 0.0 else 0, _BANDS - 1)


@compiled
def pool_bands(masks, flags, future_bit, base):  # pragma: no cover - compiled
    """pool_bands_of in one call."""
    return pool_bands_of(masks, flags, future_bit, base)


@called
def pool_bands_of(masks, flags, future_bit, base):  # pragma: no cover - compiled
    """The firms of the round's pools (the rows of ``masks``) by bands of their base score (``base``,
    by firm row), best band first, the best bands' firms in order (counting, in row order within
    a band; the bands that hold about the best ``_BANDED_SHARE`` of the firms, found from every 8th
    firm): (their rows, base scores and codes, a code a firm: bit p set for each pool p it is in,
    bit 15 for a future-industry sector (bit ``future_bit`` of its ``flags``); where each band in
    order starts; each band's highest base score (-inf when empty) or, for a band not in order, the
    upper edge of its scores; how many bands are in order; whether the bands could be made: not
    where a base score is NaN or infinite). A band's firms all score below its highest base score
    plus 1, and every band below it lower still: a firm's band is a monotone function of its base
    score, so a lower band never holds a higher one."""
    n = base.size
    n_bands = _BANDS
    # every firm's code, a pool at a time (in vector instructions; a firm at a time, it took 4x as long)
    code = np.zeros(n, np.uint16)
    for p in range(masks.shape[0]):
        row = masks[p]
        bit = np.uint16(1 << p)
        for i in range(n):
            code[i] |= np.uint16(row[i]) * bit
    n_sorted = n_bands
    if n >= _BANDED_ALL_BELOW:  # how many bands to put in order, from every 8th firm's
        sampled = np.zeros(n_bands, np.int64)
        m = 0
        for i in range(0, n, 8):
            if code[i]:
                sampled[band_of(base[i])] += 1
                m += 1
        cum = 0
        for j in range(n_bands):
            cum += sampled[j]
            if cum >= _BANDED_SHARE * m:
                n_sorted = j + 1
                break
    # whether each firm's band is in order (band_of(b) < n_sorted, compared before the cut to an
    # integer, which keeps the loop in vector instructions and takes a NaN as no band), then those
    # firms, without a branch a firm: membership is unpredictable, and a branch on it cost three
    # times as much
    keep = np.empty(n, np.bool_)
    bad = np.empty(n, np.bool_)
    for i in range(n):
        b = base[i]
        inside = code[i] != 0
        bad[i] = inside & ~((b > -np.inf) & (b < np.inf))  # NaN fails both
        keep[i] = inside & (min((_BAND_HIGH - b) * _BANDS_PER_UNIT, n_bands - 1.0) < n_sorted)
    fut = _FUTURE_CODE
    for i in range(n):
        code[i] |= np.uint16((flags[i] >> future_bit) & 1) * fut
    finite = not bad.any()
    start = np.zeros(n_bands + 1, np.int64)
    # a band not in order: the highest base score it may hold, its upper edge (a margin for rounding)
    top = np.empty(n_bands)
    top[0] = np.inf
    for j in range(1, n_bands):
        top[j] = _BAND_HIGH - j / _BANDS_PER_UNIT + 1e-9
    if not finite:
        return np.empty(0, np.intp), np.empty(0, np.float64), np.empty(0, np.uint16), start, top, 0, False
    kept = np.empty(n + 1, np.intp)
    m = 0
    for i in range(n):
        kept[m] = i
        m += keep[i]
    band = np.empty(m, np.int64)
    counts = np.zeros(n_bands, np.int64)
    top[:n_sorted] = -np.inf
    for t in range(m):
        b = base[kept[t]]
        j = band_of(b)
        band[t] = j
        counts[j] += 1
        top[j] = max(top[j], b)
    for j in range(n_sorted):
        start[j + 1] = start[j] + counts[j]
    at = start[:n_sorted].copy()
    out_rows = np.empty(m, np.intp)
    out_base = np.empty(m, np.float64)
    out_code = np.empty(m, np.uint16)
    for t in range(m):
        i = kept[t]
        j = band[t]
        a = at[j]
        out_rows[a] = i
        out_base[a] = base[i]
        out_code[a] = code[i]
        at[j] = a + 1
    return out_rows, out_base, out_code, start, top, n_sorted, True


@called
def banded_top_of(rows, base, code, start, top, n_sorted, pool, part, key, k):  # pragma: no cover - compiled
    """noisy_top_of over the firms of pool ``pool`` in the bands of pool_bands (``part``: 0 all of
    them, 1 those of future industries, 2 the others), best band first: the same k best and the same
    answer to whether the choice is exact, found without scoring the bands whose highest base score
    plus 1 falls below the k-th best so far (no firm there, nor in any band below, can reach it).
    Not exact, too, where it must look into a band not in order. Returns (the chosen rows, whether
    exact, how many firms of the part it saw: noisy_top_of is for a part larger than k, which the
    caller checks where it saw no more than k)."""
    cap = 2 * k
    bs = np.empty(cap, np.float64)
    br = np.empty(cap, rows.dtype)
    c = 0
    floor = -np.inf  # as in noisy_top_of: a firm must score above it
    left_out = -np.inf
    entered = 0  # firms that entered the buffer since its last cut
    seen = 0  # firms of the part
    want = np.uint16(1 << pool)
    fut = _FUTURE_CODE
    for band in range(top.size):
        if top[band] == -np.inf:  # empty
            continue
        if c >= k and entered:  # the k-th best so far: can this band or any below reach it?
            c, floor = top_buffer_cut(bs, br, c, k)
            entered = 0
            if c == cap:
                return br[:0], False, seen
        if top[band] + 1.0 < floor:
            break
        if band >= n_sorted:  # the firms of this band and below are not in order: the pool decides
            return br[:0], False, seen
        for j in range(start[band], start[band + 1]):
            cj = code[j]
            if not (cj & want) or (part == 1 and not (cj & fut)) or (part == 2 and (cj & fut)):
                continue
            seen += 1
            b = base[j]
            if b + 1.0 < floor:
                continue
            x = b + np.float64(keyed_unit(rows[j], key))
            if not x > floor:
                left_out = max(left_out, x)
                continue
            if c == cap:
                c, floor = top_buffer_cut(bs, br, c, k)
                entered = 0
                if c == cap:
                    return br[:0], False, seen
                if not x > floor:
                    left_out = max(left_out, x)
                    continue
            bs[c] = x
            br[c] = rows[j]
            c += 1
            entered += 1
    chosen, exact = top_buffer_result(bs, br, c, k, left_out, True)
    return chosen, exact, seen


@compiled
def banded_top(masks, flags, future_bit, base, pool, part, key, k):  # pragma: no cover - compiled
    """banded_top_of in one call (for the tests): (the chosen rows, whether exact); (nothing, False)
    where the bands cannot be made."""
    rows, b, code, start, top, n_sorted, ok = pool_bands_of(masks, flags, future_bit, base)
    if not ok:
        return np.empty(0, np.intp), False
    chosen, exact, seen = banded_top_of(rows, b, code, start, top, n_sorted, pool, part, key, k)
    return chosen, exact and (seen > k or part_size(masks[pool], flags, future_bit, part) > k)


@inlined
def part_size(mask, flags, future_bit, part):  # pragma: no cover - compiled
    """How many firms ``mask`` flags (``part``: 0 all, 1 those whose ``flags`` have ``future_bit``
    set, 2 the others)."""
    m = 0
    for i in range(mask.size):
        f = (flags[i] >> future_bit) & 1
        m += mask[i] & ((part == 0) | ((part == 1) & (f == 1)) | ((part == 2) & (f == 0)))
    return m


@inlined
def chosen_with_noise(rows, base, k, key):  # pragma: no cover - compiled
    """simmodel.agents.government.choose_with_noise's compiled half: (the chosen rows, whether the
    choice is exact; where it is not, choose_with_noise chooses by partitions)."""
    if k <= 0 or rows.size == 0:
        return np.empty(0, rows.dtype), True
    if k >= rows.size:
        return rows.copy(), True
    return noisy_top_of(rows, base, key, k)


@inlined
def masked_positions(mask):  # pragma: no cover - compiled
    """np.flatnonzero(mask), without a branch a position (each written before the test moves on)."""
    n = mask.size
    out = np.empty(n + 1, np.intp)
    m = 0
    for i in range(n):
        out[m] = i
        m += mask[i]
    return out[:m]


@compiled
def selection_round(masks, flags, future_bit, base_score, pool_of, ks, k_future, keys, bands):  # pragma: no cover - compiled
    """A round of selections (simmodel.agents.government.Government.choose_round) in one call:
    selection s chooses ``ks[s]`` firms of pool ``pool_of[s]`` (a row of ``masks``, the round's pools;
    -1: none), ``k_future[s]`` of them reserved for firms whose sector flags (``flags``) have
    ``future_bit`` set, by ``base_score`` (by firm row) plus the keyed uniform of (``keys[s]``,
    uint64, the firm), as Government.select_recipients chooses: from the round's ``bands``
    (pool_bands) where they answer exactly (banded_top_of; a part of the pool no larger than what it
    gives is the pool's), else from the pool, whose rows, base scores and split are made when a
    selection first draws from it that way. The same firms either way, highest score first (in any
    order among equal scores). Returns (the chosen rows, selection after selection; where each
    starts, n + 1 offsets; whether each is exact: where it is not, a choice by partitions decides,
    which the caller makes)."""
    n_sel = pool_of.size
    n_pools = masks.shape[0]
    total = 0
    for s in range(n_sel):
        total += max(ks[s], 0)
    out = np.empty(total, np.intp)
    start = np.zeros(n_sel + 1, np.int64)
    exact = np.ones(n_sel, np.bool_)
    empty_rows = np.empty(0, np.intp)
    empty_base = np.empty(0, np.float64)
    band_rows, band_base, band_code, band_start, band_top, n_sorted, banded = bands
    made = np.zeros(n_pools, np.bool_)
    split = np.zeros(n_pools, np.bool_)
    rows_of = [empty_rows for _ in range(n_pools)]
    base_of = [empty_base for _ in range(n_pools)]
    fut_rows_of = [empty_rows for _ in range(n_pools)]
    fut_base_of = [empty_base for _ in range(n_pools)]
    rest_rows_of = [empty_rows for _ in range(n_pools)]
    rest_base_of = [empty_base for _ in range(n_pools)]
    at = 0
    for s in range(n_sel):
        start[s] = at
        p = pool_of[s]
        k = ks[s]
        if p < 0 or k <= 0:
            continue
        key = np.uint32(keys[s] & np.uint64(0xFFFFFFFF))  # keyed_uniform reads a key's low 32 bits
        kf = k_future[s]
        if banded:  # from the bands (where each part holds more than it gives); else, or not exact, as below
            if kf == 0:
                chosen, ok, seen = banded_top_of(band_rows, band_base, band_code, band_start, band_top, n_sorted, p, 0,
                                                 key, k)
                if ok and (seen > k or part_size(masks[p], flags, future_bit, 0) > k):
                    out[at:at + chosen.size] = chosen
                    at += chosen.size
                    continue
            else:
                first, ok1, seen = banded_top_of(band_rows, band_base, band_code, band_start, band_top, n_sorted, p, 1,
                                                 key, kf)
                if ok1 and (seen > kf or part_size(masks[p], flags, future_bit, 1) > kf):
                    second, ok2 = first[:0], True
                    if k > kf:
                        second, ok2, seen = banded_top_of(band_rows, band_base, band_code, band_start, band_top, n_sorted,
                                                          p, 2, key, k - kf)
                        ok2 = ok2 and (seen > k - kf or part_size(masks[p], flags, future_bit, 2) > k - kf)
                    if ok2:
                        out[at:at + first.size] = first
                        at += first.size
                        out[at:at + second.size] = second
                        at += second.size
                        continue
        if not made[p]:
            rows = masked_positions(masks[p])
            rows_of[p] = rows
            base_of[p] = base_score[rows]
            made[p] = True
        idx = rows_of[p]
        if idx.size == 0:
            continue
        if kf == 0:
            chosen, ok = chosen_with_noise(idx, base_of[p], k, key)
            out[at:at + chosen.size] = chosen
            at += chosen.size
            exact[s] = ok
            continue
        if not split[p]:
            a_rows, a_base, b_rows, b_base = split_by_bit(idx, flags, future_bit, base_of[p])
            fut_rows_of[p], fut_base_of[p], rest_rows_of[p], rest_base_of[p] = a_rows, a_base, b_rows, b_base
            split[p] = True
        first, ok1 = chosen_with_noise(fut_rows_of[p], fut_base_of[p], kf, key)
        second, ok2 = chosen_with_noise(rest_rows_of[p], rest_base_of[p], k - first.size, key)
        out[at:at + first.size] = first
        at += first.size
        out[at:at + second.size] = second
        at += second.size
        ok3 = True
        m = first.size + second.size
        if m < k:  # not enough firms of one kind: fill from the other
            left = np.ones(idx.size, np.bool_)
            left[np.searchsorted(idx, first)] = False
            left[np.searchsorted(idx, second)] = False
            pos = masked_positions(left)
            third, ok3 = chosen_with_noise(idx[pos], base_of[p][pos], k - m, key)
            out[at:at + third.size] = third
            at += third.size
        exact[s] = ok1 and ok2 and ok3
    start[n_sel] = at
    return out[:at], start, exact


# --------------------------------------------------------------------------- the yearly record

@compiled
def firm_counts(alive, stage, revenue, n_stages, above_size):  # pragma: no cover - compiled
    """The alive firms: how many at each ladder stage (``stage`` in [0, n_stages)), in all, and with
    revenue at least ``above_size`` (CNY 100 m per yr)."""
    by_stage = np.zeros(n_stages, np.int64)
    n_alive = 0
    n_above = 0
    for i in range(alive.size):  # a dead firm adds 0, without a branch (341-345 -> 189-193 us at 100 000 firms)
        a = alive[i]
        n_alive += a
        n_above += a & (revenue[i] >= above_size)
    # a pass a stage, in vector instructions: adding into the stage's bin, each firm waited on the
    # store of the one before it (a 1:1 replicate's 7 calls 1.41 -> 0.78 ms, isolated)
    for s in range(n_stages):
        m = 0
        for i in range(alive.size):
            m += alive[i] & (stage[i] == s)
        by_stage[s] = m
    return by_stage, n_alive, n_above


@compiled
def alive_rd_spending(rd_intensity, revenue, grant_rd, additionality, alive):  # pragma: no cover - compiled
    """Each firm's R&D spending (own plus what grants induce, CNY 100 m per yr) times its alive flag
    (+0.0 for the dead): the terms of the province's firm R&D, which numpy then sums pairwise."""
    out = np.empty(alive.size, np.float64)
    for i in range(alive.size):
        out[i] = (rd_intensity[i] * revenue[i] + additionality * grant_rd[i]) * np.float64(alive[i])
    return out


@compiled
def alive_mean_std(alive, x):  # pragma: no cover - compiled
    """The mean and standard deviation of ``x`` (float64) over the alive firms, numpy's
    ``np.compress(alive, x).mean()`` and ``.std()`` bit for bit: the kept values' pairwise sum over
    their count, then the pairwise sum of each one's squared deviation from it over the count, its
    square root (NaN, NaN with no alive firm). One call instead of numpy's compress, mean and std
    and their temporaries: 11 against 28 us at 10 000 firms, 122 against 195 at 113 000 (a tight
    loop, 80 % alive)."""
    n = x.size
    kept = np.empty(n + 1, np.float64)  # one spare slot: each is written before the flag moves the output on
    m = 0
    for i in range(n):
        kept[m] = x[i]
        m += alive[i]
    if m == 0:
        return np.nan, np.nan
    mean = pairwise_sum(kept, 0, m) / m
    for j in range(m):
        d = kept[j] - mean
        kept[j] = d * d
    return mean, np.sqrt(pairwise_sum(kept, 0, m) / m)


@compiled
def selection_base_score(log_productivity, mu, sd, weight, prospects, sector):  # pragma: no cover - compiled
    """The government's selection score without noise: ``(1 - weight) * (log_productivity - mu) / sd
    + weight * prospects[sector]``, operation by operation in numpy's order (subtract, multiply by
    1 - weight, divide by sd; the prospect times weight added last)."""
    out = np.empty(log_productivity.size, np.float64)
    keep = 1.0 - weight
    prospect = by_sector(prospects, sector)
    for i in range(out.size):
        x = log_productivity[i] - mu
        x *= keep
        x /= sd
        out[i] = x + prospect[i] * weight
    return out


@compiled
def digital_weights(revenue, alive, sector, digital):  # pragma: no cover - compiled
    """Revenue of the alive firms of digital sectors (``digital``, a flag per sector), +0.0 for the
    others, as numpy's revenue times the mask: the compute vouchers' weights before they are summed."""
    out = np.empty(revenue.size, np.float64)
    in_digital = by_sector(digital, sector)
    for i in range(out.size):
        out[i] = revenue[i] * np.float64(alive[i] & in_digital[i])
    return out


@compiled
def add_shares(total_out, weights, amount, weights_sum):  # pragma: no cover - compiled
    """``total_out += weights * amount / weights_sum`` (CNY 100 m per yr), each product and quotient
    rounded as numpy's in-place steps round them."""
    for i in range(total_out.size):
        total_out[i] += (weights[i] * amount) / weights_sum


# --------------------------------------------------------------------------- the random streams' seeds

@compiled
def stream_seeds(pool, keys, suffix, state_constants, mix_l, mix_r, xshift):  # pragma: no cover - compiled
    """The seed words of one stream a row of ``keys`` (its last two 32-bit words: purpose, index), as
    numpy's SeedSequence computes them (simmodel.model.streams: the words every stream shares already
    mixed into ``pool``; ``suffix`` the hash constants those two words meet, ``state_constants``
    generate_state's). SeedSequence's 32-bit arithmetic is done in 64-bit unsigned integers and masked
    to 32 bits (a product of two 32-bit words fits; a difference wrapped modulo 2^64 is right modulo
    2^32), every operand cast to uint64 first so that nothing is widened to a float. Returns four
    64-bit words a row, low 32-bit word first in each."""
    m32 = np.uint64(0xFFFFFFFF)
    shift = np.uint64(xshift)
    n_pool = pool.size
    out = np.empty((keys.shape[0], state_constants.shape[0] // 2), np.uint64)
    mixed = np.empty(n_pool, np.uint64)
    state = np.empty(state_constants.shape[0], np.uint64)
    for row in range(keys.shape[0]):
        for d in range(n_pool):
            mixed[d] = pool[d]
        c = 0
        for j in range(keys.shape[1]):
            for d in range(n_pool):
                v = ((np.uint64(keys[row, j]) ^ suffix[c, 0]) * suffix[c, 1]) & m32
                v ^= v >> shift
                r = (mix_l * mixed[d] - mix_r * v) & m32
                mixed[d] = r ^ (r >> shift)
                c += 1
        for i in range(state_constants.shape[0]):
            v = ((mixed[i % n_pool] ^ state_constants[i, 0]) * state_constants[i, 1]) & m32
            state[i] = v ^ (v >> shift)
        for k in range(out.shape[1]):
            out[row, k] = state[2 * k] | (state[2 * k + 1] << np.uint64(32))
    return out
