"""Side-by-side timing of nnfast's backends and, when installed, PyTorch and JAX.

``nnfast bench`` (and :func:`run_bench`) times one evaluation of the
regularised cost and its gradient for every available nnfast backend and,
when they are installed (never required), PyTorch on the CPU and JAX
(``jit(value_and_grad)``) computing the same function by automatic
differentiation, in the same dtype and with the same number of threads, all
in one process on the same data.  Every timed result is checked against the
NumPy backend's.  It also times end-to-end training (400 L-BFGS-B iterations
through scipy on an :class:`nnfast.Objective`) next to scikit-learn's
``MLPClassifier`` -- a *different model* (softmax output layer, its own L-BFGS
or Adam), so that row is context, not a like-for-like comparison.

FLOP count
----------
For a network ``n_0 -> n_1 -> ... -> n_L`` on ``m`` examples, the matrix
products of one cost+gradient evaluation are, per weight layer ``l``
(``n_{l-1} -> n_l``):

* forward ``Z_l = A_{l-1} W_lᵀ``: ``2 m n_{l-1} n_l``;
* gradient ``G_l = Δ_lᵀ A_{l-1}``: ``2 m n_{l-1} n_l``;
* error back to the layer below ``Δ_{l-1} = Δ_l W_l`` (not for ``l = 1``):
  ``2 m n_{l-1} n_l``,

so ``flops = 6 m Σ_l n_{l-1} n_l - 2 m n_0 n_1``; bias columns and the
elementwise work (sigmoids, loss) are left out.  The ex4 shape (5000 x 400
-> 25 -> 10) is 207.5 MFLOP.  GFLOP/s is that count over the median time,
shown next to the rate of one large square dgemm/sgemm measured in the same
run (``n = 2000``, same thread count), the machine's practical ceiling.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

__all__ = ["SHAPES", "flop_count", "ex4_shaped_mnist", "run_bench", "run_scaling", "memory_use",
           "machine_info", "gemm_rate", "format_table", "goal_summary", "plot_results", "BenchResult",
           "AVX2_ENV", "avx2_environment", "runner_simd"]

#: name -> (m, layer sizes)
SHAPES: Dict[str, tuple] = {
    "ex4": (5000, (400, 25, 10)),
    "mnist-100": (10000, (784, 100, 10)),
    "mnist-300": (10000, (784, 300, 10)),
    "mnist-128-64": (10000, (784, 128, 64, 10)),
    "tiny": (300, (20, 8, 3)),
}
DEFAULT_SHAPES = ("ex4", "mnist-100", "mnist-300", "mnist-128-64")
#: the per-example loop is ~0.4 s per ex4 evaluation: only timed on these shapes
LOOP_SHAPES = ("ex4", "tiny")
LAM = 1.0


def flop_count(layer_sizes: Sequence[int], m: int) -> int:
    """Floating-point operations of the matrix products of one cost+gradient evaluation.

    ``6 m Σ_l n_{l-1} n_l - 2 m n_0 n_1`` (see the module docstring).
    """
    sizes = list(layer_sizes)
    total = sum(6 * m * a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return int(total - 2 * m * sizes[0] * sizes[1])


def ex4_shaped_mnist(m: int = 5000, path=None):
    """Real data of the ex4 shape: ``m`` MNIST t10k digits cropped to their central 20x20.

    ex4data1.mat (5000 20x20 digits) is not redistributable; MNIST's digits sit
    in the central 20x20 box of the 28x28 image, so the crop keeps the digit.
    Each image is unrolled column-major like ex4data1 (``X[i].reshape(20, 20,
    order="F")`` shows it), and labels are ex4 class indices: digit d is class
    ``(d - 1) mod 10`` (class 9 is the digit 0), so ``ex4weights.mat`` applies.

    Returns
    -------
    X : ndarray of shape (m, 400), float64 in [0, 1]
    y : ndarray of shape (m,), int64 class indices 0..9
    """
    from .datasets import load_mnist

    X, digits = load_mnist("t10k", path)
    if not 1 <= m <= X.shape[0]:
        raise ValueError(f"m must be in 1..{X.shape[0]}, got {m}")
    images = X[:m].reshape(m, 28, 28)[:, 4:24, 4:24]
    X20 = np.ascontiguousarray(images.transpose(0, 2, 1).reshape(m, 400))
    return X20, (digits[:m] - 1) % 10


def _data_for(m, sizes, seed=0):
    """``(X, y, description)``: real digits where the shape allows and the files exist,
    otherwise uniform random inputs in [0, 1] (timing does not depend on the values)."""
    from .datasets import DataNotFoundError, load_mnist

    try:
        if sizes[0] == 400 and m <= 10000:
            X, y = ex4_shaped_mnist(m)
            return X, y % sizes[-1], "MNIST t10k cropped to 20x20"
        if sizes[0] == 784 and m <= 10000:
            X, y = load_mnist("t10k")
            return np.ascontiguousarray(X[:m]), y[:m] % sizes[-1], "MNIST t10k"
    except DataNotFoundError:
        pass
    rng = np.random.default_rng(seed)
    return rng.random((m, sizes[0])), rng.integers(0, sizes[-1], m), "random uniform [0, 1]"


# ---------------------------------------------------------------------------------------
# the machine


#: Environment that makes every runner use its AVX2 code on a CPU with AVX-512, so that
#: one machine can stand in for the AVX2-only CPUs most users have (each library reads
#: its variable when it loads, hence ``nnfast bench --simd avx2`` starts a new process):
#: nnfast's kernel, numba's LLVM target, OpenBLAS (numpy/scipy), PyTorch's own kernels
#: and its MKL and oneDNN, and XLA (JAX).
AVX2_ENV = {
    "NNFAST_SIMD": "avx2+fma",
    "NUMBA_CPU_NAME": "haswell",
    "OPENBLAS_CORETYPE": "Haswell",
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "DNNL_MAX_CPU_ISA": "AVX2",
}
AVX2_XLA_FLAG = "--xla_cpu_max_isa=AVX2"


def avx2_environment(environ=None) -> dict:
    """``environ`` (default ``os.environ``) with :data:`AVX2_ENV` and XLA's AVX2 flag set."""
    env = dict(os.environ if environ is None else environ)
    env.update(AVX2_ENV)
    if AVX2_XLA_FLAG not in env.get("XLA_FLAGS", ""):
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + AVX2_XLA_FLAG).strip()
    return env


def _openblas_simd() -> str:
    """The kernel family numpy's OpenBLAS runs (e.g. SkylakeX = AVX-512, Haswell = AVX2)."""
    try:
        from threadpoolctl import threadpool_info

        archs = sorted({p.get("architecture") or "?" for p in threadpool_info()
                        if p.get("internal_api") == "openblas"})
        if archs:
            return "openblas " + "/".join(archs)
        apis = sorted({p.get("internal_api") for p in threadpool_info() if p.get("user_api") == "blas"})
        return "/".join(apis) or "?"
    except Exception:
        return "?"


def runner_simd(name: str) -> str:
    """The instruction set a runner's arithmetic uses here, as each library reports it."""
    try:
        if name == "cython":
            from .backends._cython import _fused
            return _fused.simd_level()
        if name == "numba":
            forced = os.environ.get("NUMBA_CPU_NAME")
            if forced:
                return f"llvm {forced}"
            import llvmlite.binding as llvm
            features = llvm.get_host_cpu_features()
            return ("llvm avx512f" if features.get("avx512f") else
                    "llvm avx2" if features.get("avx2") else f"llvm {llvm.get_host_cpu_name()}")
        if name in ("numpy", "loop"):
            return _openblas_simd()
        if name == "pytorch":
            import torch
            return "torch " + torch.backends.cpu.get_cpu_capability().lower()
        if name == "jax":
            return "xla avx2" if AVX2_XLA_FLAG in os.environ.get("XLA_FLAGS", "") else "xla native"
    except Exception:
        return "?"
    return "?"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        import cpuinfo  # py-cpuinfo, optional

        return cpuinfo.get_cpu_info().get("brand_raw", "") or platform.processor()
    except Exception:
        return platform.processor() or platform.machine()


def _cpu_flags() -> List[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return sorted(f for f in flags if f.startswith(("avx", "fma", "sse4")))
    except OSError:
        pass
    return []


def _version(name):
    try:
        module = __import__(name)
    except Exception:
        return None
    return getattr(module, "__version__", "installed")


def machine_info() -> dict:
    """CPU model, cores, SIMD flags, BLAS (threadpoolctl) and library versions."""
    from . import __version__
    from ._validation import cpu_count

    info = {
        "cpu": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {"nnfast": __version__},
    }
    for name in ("numpy", "scipy", "numba", "sklearn", "threadpoolctl"):
        info["versions"][name] = _version(name)
    for name in ("torch", "jax"):  # only if already imported or importable cheaply
        info["versions"][name] = _installed_version(name)
    info["simd_forced"] = {k: os.environ[k] for k in (*AVX2_ENV, "XLA_FLAGS") if os.environ.get(k)}
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{k: p.get(k) for k in ("user_api", "internal_api", "version",
                                               "threading_layer", "architecture", "num_threads",
                                               "filepath")}
                        for p in threadpool_info()]
    except Exception as exc:
        info["blas"] = f"unknown ({exc})"
    return info


def _installed_version(name):
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return None
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def gemm_rate(dtype=np.float64, n: int = 2000, threads: Optional[int] = None, repeat: int = 7) -> float:
    """GFLOP/s of one ``n x n`` matrix product through NumPy's BLAS.

    The best of ``repeat`` products: on a shared machine the fastest run is the
    one closest to what the hardware can do, and that is the ceiling wanted here.
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.random((n, n)).astype(dtype)
    b = rng.random((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    with threadpool_limits(threads, user_api="blas"):
        np.matmul(a, b, out=out)
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            np.matmul(a, b, out=out)
            times.append(time.perf_counter() - t)
    return 2.0 * n ** 3 / min(times) / 1e9


# ---------------------------------------------------------------------------------------
# runners: each builds, for one data set, a function theta -> (J, grad float64)


class Skip(Exception):
    """A runner that cannot run here (not installed, too slow for this shape...)."""


def _nnfast_runner(backend):
    def build(X, Y, sizes, dtype, threads, lam):
        from .objective import Objective

        obj = Objective(X.astype(dtype), Y.astype(dtype), sizes, lam=lam, backend=backend,
                        n_threads=threads, dtype=dtype)
        return obj
    return build


def _torch_build(X, Y, sizes, dtype, threads, lam):
    try:
        import torch
    except Exception as exc:
        raise Skip(f"PyTorch not installed ({type(exc).__name__})")
    from ._network import layer_offsets

    torch.set_num_threads(threads)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=dtype))
    Yt = torch.from_numpy(np.ascontiguousarray(Y, dtype=dtype))
    m = X.shape[0]
    offsets = layer_offsets(sizes)
    bce = torch.nn.functional.binary_cross_entropy_with_logits

    def fun(theta):
        th = torch.from_numpy(np.asarray(theta, dtype=dtype)).requires_grad_(True)
        a = Xt
        reg = 0.0
        for s, e, shape in offsets:
            w = th[s:e].view(shape)
            z = torch.addmm(w[:, 0], a, w[:, 1:].t())
            a = torch.sigmoid(z)
            reg = reg + (w[:, 1:] ** 2).sum()
        J = bce(z, Yt, reduction="sum") / m + lam / (2.0 * m) * reg
        J.backward()
        return float(J.detach()), th.grad.numpy().astype(np.float64)

    fun.threads_note = f"torch.set_num_threads({threads})"
    return fun


_JAX_THREADS = None


def _jax_build(X, Y, sizes, dtype, threads, lam):
    global _JAX_THREADS
    if "jax" not in sys.modules:
        # XLA's CPU thread pool is fixed when JAX starts: one thread on request, else all cores
        if threads == 1:
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                       + " --xla_cpu_multi_thread_eigen=false"
                                       + " intra_op_parallelism_threads=1").strip()
            _JAX_THREADS = 1
        else:
            _JAX_THREADS = "all cores"
    try:
        import jax
        import jax.numpy as jnp
    except Exception as exc:
        raise Skip(f"JAX not installed ({type(exc).__name__})")
    from ._network import layer_offsets
    from ._validation import cpu_count

    if threads != cpu_count() and _JAX_THREADS != threads:
        raise Skip(f"JAX's thread pool is fixed at start-up ({_JAX_THREADS}); "
                   f"run with --threads {threads} alone to time it")
    jax.config.update("jax_enable_x64", True)
    jdtype = jnp.float64 if dtype == np.float64 else jnp.float32
    Xj = jnp.asarray(X, dtype=jdtype)
    Yj = jnp.asarray(Y, dtype=jdtype)
    m = X.shape[0]
    offsets = layer_offsets(sizes)

    def cost(th):
        a = Xj
        reg = 0.0
        for s, e, shape in offsets:
            w = th[s:e].reshape(shape)
            z = a @ w[:, 1:].T + w[:, 0]
            a = jax.nn.sigmoid(z)
            reg = reg + jnp.sum(w[:, 1:] ** 2)
        loss = jnp.sum(jnp.maximum(z, 0) - Yj * z + jnp.log1p(jnp.exp(-jnp.abs(z))), dtype=jnp.float64)
        return loss / m + lam / (2.0 * m) * reg

    vg = jax.jit(jax.value_and_grad(cost))

    def fun(theta):
        J, g = vg(jnp.asarray(theta, dtype=jdtype))
        g.block_until_ready()
        return float(J), np.asarray(g, dtype=np.float64)

    return fun


def runners(include_peers=True, backends=None) -> Dict[str, Callable]:
    """name -> builder, nnfast backends first, then the installed peers."""
    from .backends import available_backends

    names = available_backends() if backends is None else list(backends)
    if backends is None:
        names.append("auto")     # what a user gets by default: measured against the rest
    out = {name: _nnfast_runner(name) for name in names}
    if include_peers:
        if _installed_version("torch"):
            out["pytorch"] = _torch_build
        if _installed_version("jax"):
            out["jax"] = _jax_build
    return out


# ---------------------------------------------------------------------------------------
# timing


@dataclass
class BenchResult:
    shape: str
    layers: List[int]
    m: int
    dtype: str
    runner: str
    threads: int
    median_s: float = float("nan")
    min_s: float = float("nan")
    iqr_s: float = float("nan")
    rounds: int = 0
    first_call_s: float = float("nan")
    gflops: float = float("nan")
    gflops_best: float = float("nan")
    pct_of_gemm: float = float("nan")
    speedup_vs_numpy: float = float("nan")
    speedup_vs_numpy_min: float = float("nan")
    cost_rel_err: float = float("nan")
    grad_rel_err: float = float("nan")
    ok: bool = False
    skipped: str = ""
    data: str = ""
    simd: str = ""


#: pause before each block of timed calls, long enough for idle OpenMP/OpenBLAS
#: threads of the previous runner to stop spinning
BLOCK_PAUSE_S = 0.25


def _time_calls(fun, theta, repeat, min_time=0.0):
    times = []
    t_end = time.perf_counter() + min_time
    while len(times) < repeat or time.perf_counter() < t_end:
        t = time.perf_counter()
        fun(theta)
        times.append(time.perf_counter() - t)
        if len(times) >= 10 * repeat:
            break
    return times


def _rel(a, b):
    den = np.linalg.norm(b)
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / den) if den else float(np.linalg.norm(a))


def time_shape(shape, m, sizes, dtypes, threads, repeat, runner_map, gemm, lam=LAM,
               log=None, seed=0, min_time=0.3) -> List[BenchResult]:
    """Time every runner on one shape, for each dtype; check each against NumPy float64."""
    from threadpoolctl import threadpool_limits

    from ._network import init_theta
    from ._validation import check_targets
    from .objective import Objective

    X, y, data_name = _data_for(m, sizes, seed)
    Y = check_targets(y, m, sizes[-1], np.float64)
    theta = init_theta(sizes, "auto", random_state=seed)
    ref_J, ref_g = Objective(X, Y, sizes, lam=lam, backend="numpy", n_threads=threads)(theta)
    flops = flop_count(sizes, m)
    results = []
    for dtype in dtypes:
        dt = np.dtype(dtype)
        tol = 1e-9 if dt == np.float64 else 1e-3
        th = theta.astype(dt)
        rows, funs, times = {}, {}, {}
        for name, build in runner_map.items():
            r = rows[name] = BenchResult(shape=shape, layers=list(sizes), m=m, dtype=dt.name,
                                         runner=name, threads=threads, data=data_name)
            if name == "loop" and shape not in LOOP_SHAPES:
                r.skipped = "per-example loop: timed on the ex4 shape only"
                continue
            try:
                with threadpool_limits(threads, user_api="blas"):
                    fun = build(X, Y, sizes, dt.type, threads, lam)
                    t = time.perf_counter()
                    fun(th)                      # warm-up: compilation, JIT, caches
                    r.first_call_s = time.perf_counter() - t
                    fun(th)
                    # "auto" reports the backend it chose, and that backend's SIMD level
                    chosen = getattr(getattr(fun, "backend", None), "name", name)
                    r.simd = runner_simd(chosen) if chosen == name else f"{chosen}, {runner_simd(chosen)}"
            except Skip as exc:
                r.skipped = str(exc)
                continue
            funs[name], times[name] = fun, []
        # Blocks of back-to-back calls, runners taking turns block by block: the load of a
        # shared machine still falls on all of them alike, while each block sees only its
        # own runtime's threads, as an optimiser's consecutive calls do.  Before a block,
        # a pause lets the previous runtime's idle threads (OpenMP, OpenBLAS, Eigen) stop
        # spinning, and one untimed call wakes this runner's threads and caches.
        # Timing runners call by call instead measured mostly that cross-runtime
        # spinning (cython on ex4: 7.8 ms against 2.9 ms run alone).
        per_block = max(3, -(-repeat // 3))
        t_end = time.perf_counter() + min_time * len(funs)
        k = 0
        while k < repeat or (time.perf_counter() < t_end and k < 10 * repeat):
            for name, fun in funs.items():
                n_calls = 1 if name == "loop" else per_block
                if name == "loop" and len(times[name]) >= 3:
                    continue  # ~0.2 s a call: three are enough
                time.sleep(BLOCK_PAUSE_S)
                with threadpool_limits(threads, user_api="blas"):
                    if name != "loop":
                        fun(th)
                    for _ in range(n_calls):
                        t = time.perf_counter()
                        J, g = fun(th)
                        times[name].append(time.perf_counter() - t)
                rows[name].cost_rel_err = abs(J - ref_J) / abs(ref_J)   # the timed result
                rows[name].grad_rel_err = _rel(g, ref_g)
            k += per_block
        for name in funs:
            r, ts = rows[name], times[name]
            r.rounds = len(ts)
            r.median_s = statistics.median(ts)
            r.min_s = min(ts)
            q = np.percentile(ts, [25, 75])
            r.iqr_s = float(q[1] - q[0])
            r.gflops = flops / r.median_s / 1e9
            r.gflops_best = flops / r.min_s / 1e9
            rate = gemm.get(dt.name)
            r.pct_of_gemm = 100.0 * r.gflops / rate if rate else float("nan")
            r.ok = bool(r.cost_rel_err <= tol and r.grad_rel_err <= tol)
        numpy_row = rows.get("numpy")
        for name, r in rows.items():
            if numpy_row is not None and numpy_row.rounds and r.rounds:
                r.speedup_vs_numpy = numpy_row.median_s / r.median_s
                r.speedup_vs_numpy_min = numpy_row.min_s / r.min_s
            results.append(r)
            if log and r.rounds:
                log(f"  {shape:<13} {dt.name:<8} {name:<8} {1e3 * r.median_s:9.2f} ms (min "
                    f"{1e3 * r.min_s:.2f})" + ("" if r.ok else
                                               f"   MISMATCH (grad rel err {r.grad_rel_err:.1e})"))
    return results


def time_training(threads, iters=400, quick=False, log=None) -> List[dict]:
    """ex4 shape: 400 L-BFGS-B iterations (scipy on an nnfast.Objective) per backend,
    next to scikit-learn's MLPClassifier (a different model: softmax output)."""
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    from ._network import init_theta
    from .backends import available_backends, optimizer_blas_limit
    from .objective import Objective

    m, sizes = SHAPES["tiny"] if quick else SHAPES["ex4"]
    X, y, data_name = _data_for(m, sizes)
    theta0 = init_theta(sizes, "auto", random_state=0)
    rows = []
    for backend in [b for b in available_backends() if b != "loop"]:
        obj = Objective(X, y, sizes, lam=LAM, backend=backend, n_threads=threads)
        obj(theta0)  # warm-up
        # as nnfast.train does: scipy's own BLAS on one thread (see optimizer_blas_limit)
        with threadpool_limits(threads, user_api="blas"), optimizer_blas_limit(obj.backend):
            t = time.perf_counter()
            res = minimize(obj, theta0, jac=True, method="L-BFGS-B",
                           options={"maxiter": iters, "gtol": 1e-12, "ftol": 1e-15})
            elapsed = time.perf_counter() - t
        from .api import predict

        acc = float(np.mean(predict(res.x, X, sizes, backend="numpy") == y))
        rows.append(dict(what=f"nnfast {backend} + scipy L-BFGS-B", model="sigmoid outputs, "
                         "cross-entropy, lambda=1", seconds=elapsed, iterations=int(res.nit),
                         evaluations=int(res.nfev), final_cost=float(res.fun), train_accuracy=acc,
                         data=data_name, ms_per_evaluation=1e3 * elapsed / max(res.nfev, 1)))
        if log:
            log(f"  train {backend:<8} {elapsed:7.2f} s  {res.nit} iterations, {res.nfev} evaluations")
    try:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        for solver in ("lbfgs", "adam"):
            clf = MLPClassifier(hidden_layer_sizes=sizes[1:-1], activation="logistic", solver=solver,
                                alpha=LAM, max_iter=iters, tol=0.0, random_state=0,
                                **({"max_fun": 10 ** 6} if solver == "lbfgs" else {}))
            with threadpool_limits(threads, user_api="blas"), warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t = time.perf_counter()
                clf.fit(X, y)
                elapsed = time.perf_counter() - t
            rows.append(dict(what=f"scikit-learn MLPClassifier ({solver})",
                             model="DIFFERENT MODEL: softmax output, log-loss; "
                                   + ("L-BFGS" if solver == "lbfgs" else "Adam epochs of minibatches of 200"),
                             seconds=elapsed, iterations=int(clf.n_iter_), evaluations=None,
                             final_cost=float(clf.loss_), train_accuracy=float(clf.score(X, y)),
                             data=data_name, ms_per_evaluation=None))
            if log:
                log(f"  train sklearn-{solver:<6} {elapsed:7.2f} s  {clf.n_iter_} iterations")
    except ImportError:  # pragma: no cover
        pass
    return rows


def run_bench(shapes=DEFAULT_SHAPES, dtypes=("float64", "float32"), threads=None, repeat=15,
              output="bench-results", quick=False, peers=True, training=True, backends=None,
              train_iters=400, scaling=False, log=print) -> dict:
    """Run the comparison, print the table, write ``bench.json`` and ``bench.png`` to ``output``.

    Returns the JSON document as a dict (keys: ``machine``, ``settings``, ``gemm_gflops``,
    ``flop_formula``, ``results``, ``training``, and ``scaling`` when asked).
    """
    from ._validation import check_n_threads

    threads = check_n_threads(threads)
    for name in shapes:
        if name not in SHAPES:
            raise ValueError(f"unknown shape {name!r}; choose from {sorted(SHAPES)}")
    if quick:
        shapes, repeat, train_iters = ("tiny",), min(repeat, 3), min(train_iters, 20)
    dtypes = [np.dtype(d).name for d in dtypes]
    for d in dtypes:
        if d not in ("float64", "float32"):
            raise ValueError(f"dtype must be float64 or float32, got {d}")
    out_dir = Path(output)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = log or (lambda *a: None)

    doc = {"machine": machine_info(),
           "settings": dict(shapes=list(shapes), dtypes=dtypes, threads=threads, repeat=repeat,
                            quick=quick, lam=LAM, loss="cross_entropy"),
           "flop_formula": "6 m sum_l n_(l-1) n_l - 2 m n_0 n_1 (matrix products only)"}
    n_gemm = 500 if quick else 2000
    doc["gemm_gflops"] = {d: gemm_rate(np.dtype(d), n=n_gemm, threads=threads) for d in dtypes}
    doc["gemm_n"] = n_gemm
    forced = doc["machine"]["simd_forced"]
    log(f"machine: {doc['machine']['cpu']}, {threads} threads; large gemm "
        + ", ".join(f"{d} {v:.1f} GFLOP/s" for d, v in doc["gemm_gflops"].items())
        + f" ({_openblas_simd()})"
        + (f"; forced: {' '.join(f'{k}={v}' for k, v in forced.items())}" if forced else ""))
    runner_map = runners(include_peers=peers, backends=backends)
    results = []
    for name in shapes:
        m, sizes = SHAPES[name]
        results += time_shape(name, m, sizes, dtypes, threads, repeat, runner_map,
                              doc["gemm_gflops"], log=log, min_time=0.02 if quick else 0.3)
        time.sleep(0.2)  # let OpenMP pools of the previous runners stop spinning
    # the gemm rate again after the timings: keep the better of the two measurements
    for d in dtypes:
        again = gemm_rate(np.dtype(d), n=n_gemm, threads=threads)
        if again > doc["gemm_gflops"][d]:
            doc["gemm_gflops"][d] = again
            for r in results:
                if r.dtype == d and r.rounds:
                    r.pct_of_gemm = 100.0 * r.gflops / again
    doc["results"] = [asdict(r) for r in results]
    doc["training"] = time_training(threads, train_iters, quick, log) if training else []
    doc["memory"] = memory_use(ms=(300, 1200) if quick else (5000, 20000), threads=threads,
                               backends=backends, log=log,
                               sizes=SHAPES["tiny"][1] if quick else SHAPES["ex4"][1])
    if scaling:
        doc["scaling"] = run_scaling(threads_list=(1, threads) if threads > 1 else (1,),
                                     quick=quick, peers=peers, backends=backends, log=log)
    doc["versions"] = doc["machine"]["versions"]
    with open(out_dir / "bench.json", "w") as fh:
        json.dump(doc, fh, indent=2, default=_json_default)
    plot_results(doc, out_dir / "bench.png")
    if scaling:
        plot_scaling(doc["scaling"], out_dir / "scaling.png")
    log("")
    log(format_table(doc))
    log("")
    log(format_memory(doc["memory"]))
    log(f"\nwrote {out_dir / 'bench.json'} and {out_dir / 'bench.png'}"
        + (f" and {out_dir / 'scaling.png'}" if scaling else ""))
    return doc


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def run_scaling(ms=(1000, 2000, 5000, 10000, 20000, 60000), sizes=(784, 25, 10),
                threads_list=(1, 2), repeat=5, quick=False, peers=True, backends=None, log=None):
    """Median time of one evaluation against m (synthetic data of MNIST width) and threads."""
    if quick:
        ms, repeat = (200, 500), 2
    runner_map = runners(include_peers=peers, backends=backends)
    runner_map.pop("loop", None)
    rows = []
    for threads in threads_list:
        for m in ms:
            rng = np.random.default_rng(0)
            X = rng.random((m, sizes[0]))
            y = rng.integers(0, sizes[-1], m)
            from ._validation import check_targets
            from threadpoolctl import threadpool_limits
            from ._network import init_theta

            Y = check_targets(y, m, sizes[-1], np.float64)
            theta = init_theta(sizes, "auto", random_state=0)
            for name, build in runner_map.items():
                try:
                    with threadpool_limits(threads, user_api="blas"):
                        fun = build(X, Y, list(sizes), np.float64, threads, LAM)
                        fun(theta)
                        times = _time_calls(fun, theta, repeat, 0.1)
                except Skip:
                    continue
                med = statistics.median(times)
                rows.append(dict(runner=name, m=m, threads=threads, median_s=med,
                                 gflops=flop_count(sizes, m) / med / 1e9))
                if log:
                    log(f"  scaling {name:<8} m={m:<6} threads={threads} {1e3 * med:9.2f} ms")
    return {"layers": list(sizes), "dtype": "float64", "data": "random uniform [0, 1]", "rows": rows}


def memory_use(sizes=(400, 25, 10), ms=(5000, 20000), threads=None, backends=None,
               log=None) -> dict:
    """Memory each nnfast backend allocates, traced by :mod:`tracemalloc`, against m.

    For every backend and every ``m`` (random float64 data of width ``sizes[0]``):

    * ``prepared_bytes``: what an :class:`~nnfast.Objective` keeps beyond the caller's
      ``X`` (targets in the backend's layout, packed copies of X), made once per objective;
    * ``first_call_bytes``: peak allocated during the first evaluation above what was
      allocated before it (work buffers that later calls reuse, and the returned gradient);
    * ``call_bytes``: the same for a later evaluation (the steady state of an optimiser).

    NumPy's allocations are traced; the ``numba`` kernel's own buffers (allocated inside
    compiled code, a few of ``block x width`` per chunk) are not, and ``loop`` is left out
    above 5000 rows (it takes about a second per evaluation there).

    Returns
    -------
    dict with ``layers``, ``dtype``, ``rows`` (one dict per backend and m) and ``note``.
    """
    import gc
    import tracemalloc

    from .backends import available_backends
    from .objective import Objective
    from ._network import init_theta
    from ._validation import check_n_threads

    threads = check_n_threads(threads)
    names = [b for b in available_backends() if backends is None or b in backends]
    theta = init_theta(list(sizes), "auto", random_state=0)
    rows = []
    for m in ms:
        rng = np.random.default_rng(0)
        X = rng.random((m, sizes[0]))
        y = rng.integers(0, sizes[-1], m)
        for name in names:
            if name == "loop" and m > 5000:
                continue
            gc.collect()
            tracemalloc.start()
            try:
                base = tracemalloc.get_traced_memory()[0]
                objective = Objective(X, y, list(sizes), lam=LAM, backend=name, n_threads=threads)
                prepared = tracemalloc.get_traced_memory()[0] - base
                peaks = []
                for _ in range(2):
                    gc.collect()
                    tracemalloc.reset_peak()
                    before = tracemalloc.get_traced_memory()[0]
                    result = objective(theta)
                    peaks.append(tracemalloc.get_traced_memory()[1] - before)
                    del result
            finally:
                tracemalloc.stop()
            del objective
            rows.append(dict(backend=name, m=m, x_bytes=X.nbytes, prepared_bytes=prepared,
                             first_call_bytes=peaks[0], call_bytes=peaks[1]))
            if log:
                log(f"  memory {name:<7} m={m:<6} prepared {prepared / 2**20:7.2f} MiB"
                    f" (X: {X.nbytes / 2**20:.2f} MiB), first call {peaks[0] / 2**10:9.1f} KiB,"
                    f" later calls {peaks[1] / 2**10:9.1f} KiB")
    note = ("tracemalloc: NumPy allocations are traced; numba's in-kernel buffers are not; "
            "loop only up to m = 5000")
    return {"layers": list(sizes), "dtype": "float64", "threads": threads, "rows": rows,
            "note": note}


def format_memory(memory) -> str:
    """The result of :func:`memory_use` as a plain-text table."""
    ms = sorted({r["m"] for r in memory["rows"]})
    lines = [f"memory, {'-'.join(map(str, memory['layers']))}, float64, threads "
             f"{memory['threads']} (MiB kept by the objective beyond X; KiB allocated per call)"]
    header = f"{'backend':<8}" + "".join(
        f" {'m=' + str(m) + ' prepared':>18} {'first call':>11} {'later calls':>12}" for m in ms)
    lines.append(header)
    lines.append("-" * len(header))
    for name in dict.fromkeys(r["backend"] for r in memory["rows"]):
        cells = []
        for m in ms:
            r = next((r for r in memory["rows"] if r["backend"] == name and r["m"] == m), None)
            if r is None:
                cells.append(f" {'-':>18} {'-':>11} {'-':>12}")
            else:
                cells.append(f" {r['prepared_bytes'] / 2**20:18.2f} {r['first_call_bytes'] / 2**10:11.1f}"
                             f" {r['call_bytes'] / 2**10:12.1f}")
        lines.append(f"{name:<8}" + "".join(cells))
    lines.append(memory["note"])
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# output


def format_table(doc) -> str:
    """The results as a plain-text table, one block per shape."""
    lines = []
    gemm = doc.get("gemm_gflops", {})
    blas = doc["machine"].get("blas")
    blas_text = ", ".join(sorted({f"{b.get('internal_api')} {b.get('version') or ''}".strip()
                                  for b in blas if b.get("user_api") == "blas"})) \
        if isinstance(blas, list) else str(blas)
    forced = doc["machine"].get("simd_forced")
    if forced:
        lines.append("SIMD forced by: " + " ".join(f"{k}={v}" for k, v in forced.items()))
    lines.append(f"{doc['machine']['cpu']} ({doc['machine']['usable_cpus']} cores usable) | threads "
                 f"{doc['settings']['threads']} | BLAS: {blas_text} | large gemm (best of 7, n = "
                 f"{doc.get('gemm_n')}): " + ", ".join(f"{d} {v:.1f} GFLOP/s" for d, v in gemm.items()))
    header = (f"{'shape':<13} {'dtype':<8} {'runner':<8} {'simd':<18} {'median ms':>10} {'min ms':>9} "
              f"{'x numpy':>8} {'(min)':>6} {'GFLOP/s':>8} {'(min)':>6} {'% gemm':>7} "
              f"{'grad err':>9}  check")
    lines.append(header)
    lines.append("-" * len(header))
    last = None
    for r in doc["results"]:
        key = (r["shape"], r["dtype"])
        if last is not None and key != last:
            lines.append("")
        last = key
        if r["skipped"]:
            lines.append(f"{r['shape']:<13} {r['dtype']:<8} {r['runner']:<8} skipped: {r['skipped']}")
            continue
        lines.append(
            f"{r['shape']:<13} {r['dtype']:<8} {r['runner']:<8} {r.get('simd', ''):<18} {1e3 * r['median_s']:10.2f} "
            f"{1e3 * r['min_s']:9.2f} {r['speedup_vs_numpy']:8.2f} {r['speedup_vs_numpy_min']:6.2f} "
            f"{r['gflops']:8.1f} {r['gflops_best']:6.1f} {r['pct_of_gemm']:7.1f} "
            f"{r['grad_rel_err']:9.1e}  {'ok' if r['ok'] else 'MISMATCH'}")
    goals = goal_summary(doc)
    if goals:
        lines.append("")
        lines.append("against the goals (medians of this run): best fused backend vs the fastest of "
                     "numpy, PyTorch and JAX, and vs the large-gemm rate")
        for g in goals:
            auto = (f"; auto {g['auto_ms']:.2f} ms = {g['auto_vs_best_backend']:.2f}x the fastest "
                    f"backend ({g['fastest_backend']})" if g.get("auto_ms") else "")
            lines.append(f"  {g['shape']:<13} {g['dtype']:<8} {g['fused']:<7} {g['fused_ms']:8.2f} ms "
                         f"= {g['vs_fastest_peer']:5.2f}x {g['fastest_peer']:<8} "
                         f"{g['pct_of_gemm']:5.1f}% of gemm{auto}")
    if doc.get("training"):
        lines.append("")
        lines.append("training, ex4 shape" + (" (quick: tiny shape)" if doc["settings"]["quick"] else "")
                     + ":")
        for t in doc["training"]:
            per = f", {t['ms_per_evaluation']:.2f} ms/evaluation" if t.get("ms_per_evaluation") else ""
            lines.append(f"  {t['what']:<40} {t['seconds']:8.2f} s  {t['iterations']} iterations"
                         f"{per}; train accuracy {100 * t['train_accuracy']:.1f}%  [{t['model']}]")
    lines.append("")
    lines.append("x numpy: NumPy backend time / this time, same dtype (median; (min): fastest calls); "
                 "GFLOP/s: " + doc["flop_formula"] + " over the median ((min): over the fastest call); "
                 "% gemm: median GFLOP/s over the best large-gemm rate")
    return "\n".join(lines)


def goal_summary(doc) -> List[dict]:
    """Per shape and dtype: the faster fused backend (cython, numba) against the fastest
    peer (numpy, PyTorch, JAX) and the gemm rate, and ``auto`` against the fastest backend
    (the ratios the kernel issue states its targets in)."""
    by_key: Dict[tuple, Dict[str, dict]] = {}
    for r in doc.get("results", []):
        if r.get("rounds") and not r.get("skipped"):
            by_key.setdefault((r["shape"], r["dtype"]), {})[r["runner"]] = r
    out = []
    for (shape, dtype), rows in by_key.items():
        fused = [rows[n] for n in ("cython", "numba") if n in rows]
        peers = [rows[n] for n in ("numpy", "pytorch", "jax") if n in rows]
        if not fused or not peers:
            continue
        best = min(fused, key=lambda r: r["median_s"])
        peer = min(peers, key=lambda r: r["median_s"])
        g = dict(shape=shape, dtype=dtype, fused=best["runner"], fused_ms=1e3 * best["median_s"],
                 fastest_peer=peer["runner"], peer_ms=1e3 * peer["median_s"],
                 vs_fastest_peer=peer["median_s"] / best["median_s"],
                 pct_of_gemm=best["pct_of_gemm"], simd=best.get("simd", ""))
        backends = [r for n, r in rows.items() if n in ("cython", "numba", "numpy")]
        if "auto" in rows and backends:
            fastest = min(backends, key=lambda r: r["median_s"])
            g.update(auto_ms=1e3 * rows["auto"]["median_s"], fastest_backend=fastest["runner"],
                     auto_vs_best_backend=rows["auto"]["median_s"] / fastest["median_s"])
        out.append(g)
    return out


def plot_results(doc, path) -> None:
    """One panel per shape: median milliseconds per runner and dtype, speed-up vs NumPy marked."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    shapes = list(dict.fromkeys(r["shape"] for r in doc["results"]))
    dtypes = list(dict.fromkeys(r["dtype"] for r in doc["results"]))
    fig, axes = plt.subplots(len(shapes), 1, figsize=(9, 2.2 + 1.6 * len(shapes) * max(1, len(dtypes)) / 2),
                             squeeze=False)
    colours = {"float64": "#1f77b4", "float32": "#ff7f0e"}
    for ax, shape in zip(axes[:, 0], shapes):
        rows = [r for r in doc["results"] if r["shape"] == shape and not r["skipped"]]
        names = list(dict.fromkeys(r["runner"] for r in rows))
        height = 0.8 / max(1, len(dtypes))
        for k, dt in enumerate(dtypes):
            for i, name in enumerate(names):
                r = next((r for r in rows if r["runner"] == name and r["dtype"] == dt), None)
                if r is None:
                    continue
                y = i + k * height
                ms = 1e3 * r["median_s"]
                ax.barh(y, ms, height=height, color=colours.get(dt, "grey"),
                        label=dt if i == 0 else None)
                ax.text(ms, y, f" {ms:.3g} ms (x{r['speedup_vs_numpy']:.3g})", va="center", fontsize=7)
        ax.set_yticks([i + 0.4 - height / 2 for i in range(len(names))])
        simd = {r["runner"]: r.get("simd", "") for r in rows if r.get("simd")}
        ax.set_yticklabels([f"{n}\n({simd[n]})" if n in simd else n for n in names], fontsize=7)
        ax.invert_yaxis()
        m, layers = rows[0]["m"], rows[0]["layers"] if rows else (0, [])
        ax.set_title(f"{shape}: m = {m}, layers {'-'.join(map(str, layers))}", fontsize=9)
        values = [1e3 * r["median_s"] for r in rows]
        if values and max(values) / min(values) > 20:   # the per-example loop: log scale
            ax.set_xscale("log")
            ax.set_xlim(right=ax.get_xlim()[1] * 6)
        else:
            ax.set_xlim(0, 1.45 * max(values or [1]))
        ax.legend(fontsize=7, loc="lower right")
    axes[-1, 0].set_xlabel(f"median time of one cost+gradient evaluation (ms); "
                           f"{doc['settings']['threads']} threads; (xN) = speed-up over NumPy")
    forced = doc["machine"].get("simd_forced")
    fig.suptitle(doc["machine"]["cpu"] + (" - every library forced to AVX2" if forced
                                          else " - each library's native SIMD"), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scaling(scaling, path) -> None:
    """Time per evaluation against m (log-log) for each thread count, and threads speed-up."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = scaling["rows"]
    runners_ = list(dict.fromkeys(r["runner"] for r in rows))
    threads_list = sorted({r["threads"] for r in rows})
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    colour = {name: f"C{i}" for i, name in enumerate(runners_)}
    for name in runners_:
        for t in threads_list:
            pts = sorted((r["m"], r["median_s"]) for r in rows if r["runner"] == name and r["threads"] == t)
            if pts:
                ax1.plot(*zip(*[(m, 1e3 * s) for m, s in pts]), marker="o", color=colour[name],
                         linestyle="-" if t == threads_list[-1] else "--", label=f"{name}, {t} thr")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("examples m")
    ax1.set_ylabel("ms per cost+gradient evaluation")
    ax1.set_title(f"time against m, layers {'-'.join(map(str, scaling['layers']))}, float64", fontsize=9)
    ax1.legend(fontsize=7)
    ax1.grid(True, which="both", alpha=0.3)
    if len(threads_list) > 1:
        t0, t1 = threads_list[0], threads_list[-1]
        for name in runners_:
            pts = []
            for m in sorted({r["m"] for r in rows}):
                a = [r["median_s"] for r in rows if r["runner"] == name and r["m"] == m and r["threads"] == t0]
                b = [r["median_s"] for r in rows if r["runner"] == name and r["m"] == m and r["threads"] == t1]
                if a and b:
                    pts.append((m, a[0] / b[0]))
            if pts:
                ax2.plot(*zip(*pts), marker="o", color=colour[name], label=name)
        ax2.axhline(t1 / t0, color="grey", linestyle=":", label="ideal")
        ax2.set_xscale("log")
        ax2.set_xlabel("examples m")
        ax2.set_ylabel(f"speed-up {t0} -> {t1} threads")
        ax2.set_title("thread scaling", fontsize=9)
        ax2.legend(fontsize=7)
        ax2.grid(True, alpha=0.3)
    else:
        ax2.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
