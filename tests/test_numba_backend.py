"""The numba backend: equivalence with the loop oracle, determinism, threads,
lazy compilation and the disk cache.

Tolerances: float64 agrees with the loop backend to rtol 1e-10 (the sums run
in a different order, so not bitwise).  float32 is compared with the float64
oracle on the same (float32-representable) data: the cost to rtol 1e-5 and
every gradient entry to 1e-4 of the largest gradient entry (float32 sums of
a few hundred terms).

Kernels are compiled once per dtype (serial and parallel drivers) and shared
by every test; the cache test compiles once more in a subprocess with its own
empty cache directory.
"""

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from conftest import BACKENDS, random_problem

import nnfast
from nnfast import Objective

pytestmark = pytest.mark.skipif("numba" not in BACKENDS, reason="numba backend not available")

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

F32_COST_RTOL = 1e-5
F32_GRAD_TOL = 1e-4  # relative to max |grad|


def evaluate(backend, X, y, sizes, theta, lam=0.0, loss="cross_entropy", n_threads=1, dtype=None):
    obj = Objective(X, y, sizes, lam=lam, loss=loss, backend=backend, n_threads=n_threads, dtype=dtype)
    J, g = obj(theta)
    assert obj.cost(theta) == pytest.approx(J, rel=1e-12 if obj.dtype == np.float64 else 1e-6)
    return J, g


def assert_matches_loop(X, y, sizes, theta, lam, loss, n_threads, dtype=np.float64):
    X = np.asarray(X)
    if dtype == np.float32:
        X32 = np.asarray(X, dtype=np.float32)
        t32 = np.asarray(theta, dtype=np.float32)
        J, g = evaluate("numba", X32, y, sizes, t32, lam, loss, n_threads)
        J_ref, g_ref = evaluate("loop", X32.astype(np.float64), y, sizes, t32.astype(np.float64),
                                lam, loss, 1)
        assert J == pytest.approx(J_ref, rel=F32_COST_RTOL)
        scale = max(np.max(np.abs(g_ref)), 1e-30)
        np.testing.assert_allclose(g, g_ref, rtol=0, atol=F32_GRAD_TOL * scale)
    else:
        J, g = evaluate("numba", X, y, sizes, theta, lam, loss, n_threads)
        J_ref, g_ref = evaluate("loop", X, y, sizes, theta, lam, loss, 1)
        assert J == pytest.approx(J_ref, rel=1e-10)
        np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-13 * np.max(np.abs(g_ref)))
    assert g.dtype == np.float64 and g.shape == (nnfast.n_params(sizes),)


# sizes x m: one to three hidden layers; m = 300 runs serially, 3000 x (20, 7, 3)
# (and the wider ones) runs in parallel chunks with 2 threads
CASES = [
    ((400, 25, 10), 300),
    ((20, 7, 3), 3000),
    ((9, 6, 5, 4), 1000),
    ((30, 5, 4, 3, 2), 777),
]


@pytest.mark.parametrize("sizes,m", CASES)
@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_matches_loop_float64(sizes, m, loss, lam):
    X, y, theta = random_problem(sizes, m, seed=m)
    assert_matches_loop(X, y, sizes, theta, lam, loss, n_threads=2)


@pytest.mark.parametrize("sizes,m", CASES[:2])
@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_matches_loop_float32(sizes, m, loss):
    X, y, theta = random_problem(sizes, m, seed=1)
    assert_matches_loop(X, y, sizes, theta, 1.0, loss, n_threads=2, dtype=np.float32)


def test_ex4_weights_parallel(ex4_weights):
    """The real ex4 weights on random digits-like inputs, 5000 rows, 2 threads."""
    theta = nnfast.pack(ex4_weights)
    rng = np.random.default_rng(4)
    X = rng.random((5000, 400)) * 0.2
    y = rng.integers(0, 10, 5000)
    for loss in ("cross_entropy", "squared_error"):
        J, g = evaluate("numba", X, y, (400, 25, 10), theta, 1.0, loss, 2)
        J_ref, g_ref = evaluate("numpy", X, y, (400, 25, 10), theta, 1.0, loss, 2)
        assert J == pytest.approx(J_ref, rel=1e-10)
        np.testing.assert_allclose(g, g_ref, rtol=1e-9, atol=1e-13)


def test_saturated_units_stay_finite():
    sizes = (5, 4, 3)
    X, y, theta = random_problem(sizes, 50, seed=3)
    theta = theta * 400.0  # logits in the hundreds: exp overflows, sigmoid saturates
    for loss in ("cross_entropy", "squared_error"):
        J, g = evaluate("numba", X, y, sizes, theta, 0.0, loss)
        J_ref, g_ref = evaluate("loop", X, y, sizes, theta, 0.0, loss)
        assert np.isfinite(J) and np.all(np.isfinite(g))
        assert J == pytest.approx(J_ref, rel=1e-10)
        np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-12)


@st.composite
def problems(draw):
    depth = draw(st.integers(1, 4))  # weight layers: 0 to 3 hidden layers
    sizes = tuple(draw(st.integers(1, 9)) for _ in range(depth + 1))
    m = draw(st.sampled_from([1, 2, 3, 5, 127, 128, 129, 200, 257]))
    seed = draw(st.integers(0, 2**16))
    layout = draw(st.sampled_from(["C", "F", "strided"]))
    return sizes, m, seed, layout


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.sampled_from(["cross_entropy", "squared_error"]),
       st.sampled_from([np.float64, np.float32]), st.sampled_from([1, 2, 3]))
def test_property_matches_loop(problem, loss, dtype, n_threads):
    sizes, m, seed, layout = problem
    X, y, theta = random_problem(sizes, m, seed=seed)
    if sizes[-1] == 1:
        y = (np.arange(m) % 2).reshape(m, 1).astype(float)  # targets in [0, 1]
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        wide = np.zeros((m, 2 * sizes[0]))
        wide[:, ::2] = X
        X = wide[:, ::2]
    assert_matches_loop(X, y, sizes, theta, 0.5, loss, n_threads, dtype)


def test_parallel_path_many_blocks_and_chunks():
    """More chunks than blocks, a ragged last block, n_threads above the core count
    (643 rows: 2 blocks of 336 on 2 cores, so 3 to 7 threads get only 2 chunks)."""
    import numba

    sizes = (40, 9, 3)
    m = 128 * 5 + 3
    X, y, theta = random_problem(sizes, m, seed=11)
    J_ref, g_ref = evaluate("loop", X, y, sizes, theta)
    before = numba.get_num_threads()
    for n_threads in (1, 2, 3, 4, 6, 7):
        J, g = evaluate("numba", X, y, sizes, theta, n_threads=n_threads)
        assert J == pytest.approx(J_ref, rel=1e-10)
        np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-14)
    assert numba.get_num_threads() == before  # restored after every call


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_deterministic(dtype):
    """Bitwise equal repeated calls; and, because the chunks (gradient slabs) do not
    depend on n_threads, bitwise equal results for 1, 2 and 3 threads."""
    sizes = (400, 25, 10)
    X, y, theta = random_problem(sizes, 1500, seed=5, dtype=dtype)
    results = {}
    for n_threads in (1, 2, 3):
        obj = Objective(X, y, sizes, lam=1.0, backend="numba", n_threads=n_threads)
        J, g = obj(theta)
        for _ in range(3):
            J2, g2 = obj(theta)
            assert J2 == J  # bitwise, same n_threads
            assert np.array_equal(g2, g)
        results[n_threads] = (J, g)
    (J1, g1), (J2, g2) = results[1], results[2]
    assert J1 == pytest.approx(J2, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-15 * np.max(np.abs(g1)))
    for n_threads in (2, 3):
        assert results[n_threads][0] == J1
        assert np.array_equal(results[n_threads][1], g1)


def test_concurrent_python_threads():
    """Several Python threads calling parallel kernels at once (workqueue would abort)."""
    sizes = (20, 7, 3)
    X, y, theta = random_problem(sizes, 3000, seed=2)
    obj = Objective(X, y, sizes, backend="numba", n_threads=2)
    J_ref, g_ref = obj(theta)
    out, errors = [], []

    def work():
        try:
            for _ in range(5):
                out.append(obj(theta))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(out) == 20
    for J, g in out:
        assert J == J_ref and np.array_equal(g, g_ref)


def test_build_info():
    info = nnfast.get_backend("numba").build_info()
    assert {"numba", "threading layer", "cache dir"} <= set(info)
    import numba

    assert info["numba"] == numba.__version__


def _run(code, env=None):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_compiles_nothing():
    result = _run("""
        import json
        import nnfast
        import nnfast.backends._numba
        from nnfast.backends import _numba_kernels as k
        assert "numba" in nnfast.available_backends()
        nnfast.get_backend("numba").build_info()
        compiled = {name: len(getattr(k, name).signatures)
                    for name in ("chunk_loss_grad", "parallel_loss_grad", "_tile_dots", "_dots_acc_best")}
        print(json.dumps(compiled))
    """)
    assert result == {"chunk_loss_grad": 0, "parallel_loss_grad": 0, "_tile_dots": 0,
                      "_dots_acc_best": 0}


def test_second_process_loads_from_cache(tmp_path):
    code = """
        import json, time
        import numpy as np
        import nnfast
        from nnfast.backends import _numba_kernels as k
        X = np.random.default_rng(0).random((20, 6)); y = np.arange(20) % 3
        t = time.perf_counter()
        J, g = nnfast.cost_grad(nnfast.init_theta([6, 4, 3], random_state=0), X, y, [6, 4, 3],
                                backend="numba", n_threads=1)
        stats = k.chunk_loss_grad.stats
        print(json.dumps({"hits": sum(stats.cache_hits.values()),
                          "misses": sum(stats.cache_misses.values()),
                          "seconds": time.perf_counter() - t, "J": J}))
    """
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    first = _run(code, env)
    second = _run(code, env)
    assert first["misses"] >= 1 and first["hits"] == 0  # compiled and saved
    assert second["hits"] >= 1 and second["misses"] == 0  # loaded, nothing compiled
    assert second["J"] == first["J"]
    assert any(p.suffix == ".nbc" for p in tmp_path.rglob("*"))


def test_warm_up_loads_both_drivers():
    backend = nnfast.get_backend("numba")
    backend.warm_up(dtypes=(np.float64,))
    loaded = backend.build_info()["kernels loaded"]
    assert "serial float64" in loaded and "parallel float64" in loaded
