"""Quick timing of the cython backend against numpy (and loop) in the same run.

Usage::

    python benchmarks/bench_kernels_cython.py            # ex4 shape + larger shapes
    python benchmarks/bench_kernels_cython.py --quick    # ex4 shape only, no loop
    python benchmarks/bench_kernels_cython.py --simd avx2+fma
    python benchmarks/bench_kernels_cython.py --isolated  # one process per backend

Reports the median (and the minimum) of many evaluations (cost and
gradient) in ms, the speed-up over numpy, the kernel's GFLOP/s (of
``nnfast.bench.flop_count``) and, for scale, the GFLOP/s of a large np.dot
(2000 x 2000) measured in the same run.
The backends take turns in three rounds of consecutive calls, each after a
pause and a few untimed calls (so that both see similar machine load, but
neither runs while the other library's worker threads are still spinning);
on a shared machine the minimum is the steadier figure.
"""

import argparse
import json
import subprocess
import sys

import numpy as np
from threadpoolctl import threadpool_limits

import nnfast
from nnfast.backends._cython import _fused
from nnfast.bench import flop_count, time_in_turns


LAM = 1.0


def paired_times(fns, min_runs=30, min_seconds=1.0, rounds=3, pause=1.0, warmup=3):
    """{name: (median, min)} in seconds.

    The functions take turns (``nnfast.bench.time_in_turns``) in ``rounds`` rounds of
    consecutive calls, so that all see similar machine load, with a pause and ``warmup``
    untimed calls before each round: after a call the worker threads of OpenBLAS keep
    spinning for a while (and OpenMP's too), which slows down the other library's calls
    if they follow at once.
    """
    times = time_in_turns(fns, turns=rounds, calls_per_turn=max(1, -(-min_runs // rounds)),
                          turn_min_time=min_seconds / rounds, warmup=warmup, pause=pause)
    return {name: (float(np.median(t)), float(np.min(t))) for name, t in times.items()}


def dgemm_gflops(n=2000, dtype=np.float64, threads=2):
    """(median, best) GFLOP/s of a square matrix product."""
    A = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    B = A.copy()
    with threadpool_limits(threads, "blas"):
        med, best = paired_times({"dot": lambda: A @ B}, min_runs=15, min_seconds=1.0,
                                 pause=0.1)["dot"]
    return 2 * n ** 3 / med / 1e9, 2 * n ** 3 / best / 1e9


def problem(sizes, m, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (m, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], m)
    theta = rng.uniform(-0.12, 0.12, nnfast.n_params(sizes)).astype(dtype)
    return X, y, theta


def child(spec, simd):
    """--child: time one backend on one configuration in this process; print JSON."""
    sizes, m, dtype, threads, name, lam = json.loads(spec)
    if simd:
        _fused.set_simd_level(simd)
    X, y, theta = problem(sizes, m, np.dtype(dtype))
    obj = nnfast.Objective(X, y, sizes, lam=lam, backend=name, n_threads=threads)
    with threadpool_limits(threads, "blas"):
        res = paired_times({name: lambda: obj(theta)}, min_runs=45, min_seconds=1.5, pause=0.2)
    print(json.dumps(res[name]))


def isolated_times(sizes, m, dtype, threads, names, simd):
    """{name: (median, min)}, each backend timed in a process of its own."""
    res = {}
    for name in names:
        spec = json.dumps([sizes, m, np.dtype(dtype).name, threads, name, LAM])
        cmd = [sys.executable, __file__, "--child", spec] + (["--simd", simd] if simd else [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        res[name] = tuple(json.loads(out.strip().splitlines()[-1]))
    return res


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="ex4 shape only, no loop backend")
    parser.add_argument("--simd", default=None, help="SIMD path to force (see show_config)")
    parser.add_argument("--isolated", action="store_true",
                        help="time each backend in a process of its own (no other library's "
                             "threads in the process; slower to run)")
    parser.add_argument("--lam", type=float, default=1.0,
                        help="L2 strength (default 1.0).  With lam > 0, Objective's penalty "
                             "term is a dot product that OpenBLAS runs on 2 threads for "
                             "10285 parameters; its workers then keep spinning and take a "
                             "core from the next kernel call: use --lam 0 to time the kernel alone")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global LAM
    LAM = args.lam
    if args.child:
        return child(args.child, args.simd)
    if args.simd:
        _fused.set_simd_level(args.simd)
    print(f"cython backend: simd={_fused.simd_level()} openmp={_fused.openmp_enabled()} "
          f"flags={_fused.build_flags()[1]!r}; lam={LAM}")
    g64 = dgemm_gflops(dtype=np.float64)
    g32 = dgemm_gflops(dtype=np.float32)
    print(f"np.dot 2000x2000, 2 threads, GFLOP/s (median / best): float64 {g64[0]:.1f} / "
          f"{g64[1]:.1f}, float32 {g32[0]:.1f} / {g32[1]:.1f}")

    shapes = [([400, 25, 10], 5000)]
    if not args.quick:
        shapes += [([784, 100, 10], 10000), ([784, 128, 64, 10], 10000)]
    for sizes, m in shapes:
        fl = flop_count(sizes, m)
        print(f"\n{sizes} m={m} ({fl / 1e6:.0f} MFLOP per evaluation), ms median (min):")
        for dtype in (np.float64, np.float32):
            X, y, theta = problem(sizes, m, dtype)
            for threads in (1, 2):
                if args.isolated:
                    res = isolated_times(sizes, m, dtype, threads, ("cython", "numpy"), args.simd)
                else:
                    objs = {name: nnfast.Objective(X, y, sizes, lam=LAM, backend=name,
                                                   n_threads=threads)
                            for name in ("cython", "numpy")}
                    with threadpool_limits(threads, "blas"):
                        res = paired_times({name: (lambda o=obj: o(theta))
                                            for name, obj in objs.items()},
                                           min_runs=45, min_seconds=1.5)
                c, n = res["cython"], res["numpy"]
                line = (f"  {np.dtype(dtype).name} {threads} thr: cython {c[0] * 1e3:7.2f} ({c[1] * 1e3:6.2f})"
                        f"  numpy {n[0] * 1e3:7.2f} ({n[1] * 1e3:6.2f})  x{n[0] / c[0]:.1f} (x{n[1] / c[1]:.1f})"
                        f"  {fl / c[0] / 1e9:5.1f} ({fl / c[1] / 1e9:5.1f}) GFLOP/s")
                if not args.quick and sizes == [400, 25, 10] and threads == 2:
                    loop = nnfast.Objective(X, y, sizes, lam=LAM, backend="loop")
                    t_loop = paired_times({"loop": lambda: loop(theta)}, min_runs=3, min_seconds=0,
                                          pause=0, warmup=0)["loop"][0]
                    line += f"  loop {t_loop * 1e3:.0f} (x{t_loop / c[0]:.0f})"
                print(line)


if __name__ == "__main__":
    main()
