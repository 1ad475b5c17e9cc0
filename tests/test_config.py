"""show_config, `nnfast info`, and the backend registry."""

import io
import json
import subprocess
import sys

import pytest

import nnfast
from nnfast.backends import Backend, get_backend


def test_show_config_lists_the_backend_and_threads(backend):
    out = io.StringIO()
    nnfast.show_config(file=out)
    text = out.getvalue()
    assert f"  {backend} " in text
    assert "cores usable" in text and "numpy" in text and "thread pools" in text


def test_config_info_reasons_for_unavailable():
    info = nnfast.config_info()
    for name, entry in info["backends"].items():
        assert entry["detail"], name  # a description, or why it is not available
    assert info["backends"]["numpy"]["available"] and info["backends"]["loop"]["available"]


def test_import_is_light():
    code = ("import sys, nnfast; heavy = [m for m in ('numba', 'matplotlib', 'sklearn', "
            "'scipy.optimize', 'dask', 'torch') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_auto_is_an_available_backend():
    backend = get_backend("auto")
    assert backend.name in nnfast.available_backends() and backend.name != "loop"


def test_register_custom_backend():
    import nnfast.backends
    from nnfast.backends import _AUTO_ORDER
    from nnfast.backends._numpy import NumpyBackend

    class Doubled(NumpyBackend):
        name = "doubled"

        def loss_grad_sum(self, *args):
            return 2 * super().loss_grad_sum(*args)

    nnfast.register_backend("doubled", Doubled)
    try:
        X, y = [[1.0, 2.0]], [1]
        J = nnfast.cost([0.0] * 6, X, y, [2, 2], backend="doubled")
        assert J == pytest.approx(4 * 0.6931471805599453)
    finally:
        nnfast.backends.unregister_backend("doubled")
    assert "doubled" not in _AUTO_ORDER
    with pytest.raises(ValueError, match="backend name"):
        nnfast.register_backend("", Doubled)


def test_backend_instances_are_backends(backend):
    assert isinstance(get_backend(backend), Backend) and get_backend(backend).name == backend


def test_cli_info_json():
    out = subprocess.run([sys.executable, "-m", "nnfast.cli", "info", "--json"],
                         capture_output=True, text=True, check=True)
    info = json.loads(out.stdout)
    assert info["nnfast"] == nnfast.__version__ and "numpy" in info["backends"]


def test_cli_without_command_prints_help_and_fails():
    out = subprocess.run([sys.executable, "-m", "nnfast.cli"], capture_output=True, text=True)
    assert out.returncode == 2 and "info" in out.stdout


def test_numpy_backend_limits_blas_threads_only_when_asked(monkeypatch):
    from nnfast.backends import _numpy

    seen = []
    monkeypatch.setattr(_numpy, "blas_threads", lambda n: seen.append(n) or __import__("contextlib").nullcontext())
    monkeypatch.setattr(_numpy, "cpu_count", lambda: 4)
    X, y = [[1.0, 2.0]], [1]
    nnfast.cost([0.0] * 6, X, y, [2, 2], backend="numpy", n_threads=1)
    nnfast.cost([0.0] * 6, X, y, [2, 2], backend="numpy", n_threads=4)
    assert seen == [1, None]


def test_blas_threads_limit_is_applied():
    from threadpoolctl import threadpool_info

    from nnfast.backends._base import blas_threads

    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    if not blas:
        pytest.skip("no BLAS library visible to threadpoolctl")
    with blas_threads(1):
        assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")


def _blas_threads_by_path():
    from threadpoolctl import threadpool_info

    return {p["filepath"]: p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


def test_optimizer_blas_limit(backend):
    from nnfast.backends import optimizer_blas_limit

    before = _blas_threads_by_path()
    if not before:
        pytest.skip("no BLAS library visible to threadpoolctl")
    b = get_backend(backend)
    with optimizer_blas_limit(b):
        inside = _blas_threads_by_path()
    assert _blas_threads_by_path() == before  # restored
    for path, n in inside.items():
        if not b.uses_blas or "scipy.libs" in path:
            assert n == 1, path  # the optimiser's own BLAS (or all, for BLAS-free kernels)
        else:
            assert n == before[path], path  # the kernel's BLAS keeps its threads


def test_a_builtin_backend_that_does_not_load_fails_its_tests(monkeypatch):
    import conftest

    monkeypatch.setattr(conftest, "backend_status", lambda: {
        "numba": (False, "ImportError: No module named 'numba'"),
        "from_a_plugin": (False, "ImportError: No module named 'plugin'"),
        "numpy": (True, "NumPy")})
    with pytest.raises(pytest.fail.Exception,
                       match="built-in backend 'numba' does not load: ImportError: No module named 'numba'"):
        conftest.require_backend("numba")
    with pytest.raises(pytest.fail.Exception, match="'cython' does not load: it is not registered"):
        conftest.require_backend("cython")
    with pytest.raises(pytest.skip.Exception, match="optional backend 'from_a_plugin' is not available"):
        conftest.require_backend("from_a_plugin")
    assert conftest.require_backend("numpy") == "numpy"
    assert conftest.require_backend("auto") == "auto"
