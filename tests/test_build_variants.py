"""The compiled extension built the two other ways the build supports, and checked.

* ``NNFAST_NO_OPENMP=1``: what a compiler without OpenMP gives, a single-threaded
  extension (asking for threads must still give the right answer);
* ``NNFAST_PLAIN_C=1``: only the plain-C scalar microkernels, the code compilers
  without GNU vector extensions (MSVC) compile.

Each variant is built from a copy of the sources into a temporary folder (about
20 s each) and loaded in a fresh interpreter in place of the installed
extension, where its cost and gradient are compared with the ``loop`` oracle.
``NNFAST_TEST_CC=clang`` (for example) builds them with another C compiler.
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK = textwrap.dedent("""\
    import importlib.util, json, sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])    # the tests' folder, for the oracle
    from _oracle import CYTHON_FLOAT32_TOLERANCE, assert_matches_oracle, loop_oracle
    spec = importlib.util.spec_from_file_location("nnfast._kernels._fused", sys.argv[1])
    fused = importlib.util.module_from_spec(spec)
    sys.modules["nnfast._kernels._fused"] = fused
    spec.loader.exec_module(fused)
    import nnfast
    from nnfast.backends import _cython
    assert _cython._fused is fused
    _cython.SERIAL_WORK = 0            # let the small problems below ask for threads
    worst = 0.0
    for sizes, dtype, loss, lam in [([400, 25, 10], np.float64, "cross_entropy", 1.0),
                                    ([37, 19, 5], np.float64, "squared_error", 0.0),
                                    ([9, 33, 2, 4], np.float64, "cross_entropy", 1.0),
                                    ([37, 19, 5], np.float32, "cross_entropy", 1.0)]:
        rng = np.random.default_rng(len(sizes))
        m = 203
        X = rng.uniform(0, 1, (m, sizes[0])).astype(dtype)
        y = rng.integers(0, sizes[-1], m)
        theta = rng.uniform(-0.5, 0.5, nnfast.n_params(sizes)).astype(dtype)
        J, g = nnfast.Objective(X, y, sizes, lam=lam, loss=loss, backend="cython",
                                n_threads=3)(theta)
        J_ref, g_ref = loop_oracle(X, y, sizes, theta, lam=lam, loss=loss)
        assert_matches_oracle((J, g), (J_ref, g_ref), dtype,
                              CYTHON_FLOAT32_TOLERANCE if dtype == np.float32 else None)
        worst = max(worst, float(np.max(np.abs(g - g_ref)) / np.abs(g_ref).max()))
    info = nnfast.backends.get_backend("cython").build_info()
    print(json.dumps({"openmp": fused.openmp_enabled(), "simd": fused.simd_levels(),
                      "flags": info["flags"], "worst": worst}))
""")


def _copy_sources(dest):
    """What ``setup.py build_ext`` needs, without build products or caches."""
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "nnfast", dest / "nnfast",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "_fused.c", "__pycache__"))


@pytest.mark.slow
@pytest.mark.parametrize("variant, env, openmp, simd", [
    ("no-openmp", {"NNFAST_NO_OPENMP": "1"}, False, None),
    ("plain-c", {"NNFAST_PLAIN_C": "1"}, None, ["scalar"]),
])
def test_build_variant_matches_loop(tmp_path, variant, env, openmp, simd):
    if not (ROOT / "setup.py").exists():
        pytest.skip("needs the source tree (setup.py next to tests/)")
    src = tmp_path / "src"
    src.mkdir()
    _copy_sources(src)
    build_env = {**os.environ, **env}
    build_env.pop("NNFAST_NATIVE", None)
    if os.environ.get("NNFAST_TEST_CC"):
        build_env["CC"] = os.environ["NNFAST_TEST_CC"]
        build_env["LDSHARED"] = os.environ["NNFAST_TEST_CC"] + " -shared"
    built = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(tmp_path / "lib"),
         "--build-temp", str(tmp_path / "tmp")],
        cwd=src, env=build_env, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    if openmp is False:
        assert "NO OpenMP" in built.stdout, built.stdout[-2000:]
    libs = list((tmp_path / "lib").rglob("_fused*"))
    assert len(libs) == 1, libs

    run_env = {k: v for k, v in os.environ.items() if k != "NNFAST_SIMD"}
    checked = subprocess.run([sys.executable, "-c", CHECK, str(libs[0]), str(ROOT / "tests")],
                             cwd=tmp_path,
                             env=run_env, capture_output=True, text=True, timeout=600)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    import json

    report = json.loads(checked.stdout.strip().splitlines()[-1])
    if openmp is not None:
        assert report["openmp"] is openmp
        assert ("-fopenmp" in report["flags"]) is openmp
    if simd is not None:
        assert report["simd"] == simd
        assert "NNF_NO_VECTOR_EXT" in report["flags"]
    else:
        assert report["simd"][-1] == "scalar" and len(report["simd"]) >= 2
