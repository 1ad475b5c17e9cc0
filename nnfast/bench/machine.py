"""The machine a benchmark runs on: CPU, SIMD levels, BLAS, versions, the gemm ceiling.

Also the environment that forces every library onto its AVX2 code
(:data:`AVX2_ENV`, :func:`avx2_environment`), so that a CPU with AVX-512 can
stand in for the AVX2-only CPUs most users have.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import List, Optional

import numpy as np

from .timing import time_calls

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
            from ..backends._cython import _fused
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


def _installed_version(name):
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return None
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def machine_info() -> dict:
    """CPU model, cores, SIMD flags, BLAS (threadpoolctl) and library versions."""
    from .. import __version__
    from .._validation import cpu_count

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
        times = time_calls(np.matmul, a, b, out, repeat=repeat, warmup=1)
    return 2.0 * n ** 3 / min(times) / 1e9
