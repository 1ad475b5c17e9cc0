"""The numba backend: equivalence with the loop oracle, determinism, threads,
lazy compilation and the disk cache.

Tolerances: the oracle's, per dtype (``tests/_oracle.py``): float64 to rtol 1e-10
(the sums run in a different order, so not bitwise); float32 against the float64
oracle on the same data, the cost to rtol 1e-5 and every gradient entry to 1e-4 of
the largest one.

Kernels are compiled once per dtype and driver (loss only or loss and
gradient; first layer by register tiles or by BLAS) and shared by every test;
the cache test compiles once more in a subprocess with its own empty cache
directory.  ``first_layer`` forces either first-layer path on any shape, so
both are checked against the oracle on the same small problems.
"""

import contextlib

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from _oracle import Tolerance, assert_matches_oracle, loop_oracle
from conftest import network_problem, random_problem, require_backend

import nnfast
from nnfast import Objective

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FIRST_LAYER_PATHS = ["tiles", "blas"]


@pytest.fixture(autouse=True)
def numba_backend():
    """numba is a built-in backend: where it does not load, every test here fails saying why."""
    return require_backend("numba")


@contextlib.contextmanager
def first_layer(path):
    """Run the numba backend's first layer by ``path`` ("tiles", "blas") on any shape."""
    from nnfast.backends import _numba

    saved = _numba._BLAS_MIN_INPUTS, _numba._BLAS_MIN_UNITS
    _numba._BLAS_MIN_INPUTS, _numba._BLAS_MIN_UNITS = (0, 0) if path == "blas" else (10**9, 10**9)
    try:
        yield
    finally:
        _numba._BLAS_MIN_INPUTS, _numba._BLAS_MIN_UNITS = saved


def evaluate(backend, X, y, sizes, theta, lam=0.0, loss="cross_entropy", n_threads=1, dtype=None):
    obj = Objective(X, y, sizes, lam=lam, loss=loss, backend=backend, n_threads=n_threads, dtype=dtype)
    J, g = obj(theta)
    assert obj.cost(theta) == pytest.approx(J, rel=1e-12 if obj.dtype == np.float64 else 1e-6)
    return J, g


def assert_matches_loop(X, y, sizes, theta, lam, loss, n_threads, dtype=np.float64):
    X = np.asarray(X, dtype=dtype)
    theta = np.asarray(theta, dtype=dtype)
    J, g = evaluate("numba", X, y, sizes, theta, lam, loss, n_threads)
    assert_matches_oracle((J, g), loop_oracle(X, y, sizes, theta, lam=lam, loss=loss), dtype)
    assert g.dtype == np.float64 and g.shape == (nnfast.n_params(sizes),)


# sizes x m: one to three hidden layers; m = 300 runs serially, 3000 x (20, 7, 3)
# (and the wider ones) runs in parallel chunks with 2 threads
CASES = [
    ((400, 25, 10), 300),
    ((20, 7, 3), 3000),
    ((9, 6, 5, 4), 1000),
    ((30, 5, 4, 3, 2), 777),
]


@pytest.mark.parametrize("path", FIRST_LAYER_PATHS)
@pytest.mark.parametrize("sizes,m", CASES)
@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_matches_loop_float64(sizes, m, loss, lam, path):
    X, y, theta = random_problem(sizes, m, seed=m)
    with first_layer(path):
        assert_matches_loop(X, y, sizes, theta, lam, loss, n_threads=2)


@pytest.mark.parametrize("path", FIRST_LAYER_PATHS)
@pytest.mark.parametrize("sizes,m", CASES[:2])
@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_matches_loop_float32(sizes, m, loss, path):
    X, y, theta = random_problem(sizes, m, seed=1)
    with first_layer(path):
        assert_matches_loop(X, y, sizes, theta, 1.0, loss, n_threads=2, dtype=np.float32)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_wide_first_layer_runs_through_blas(dtype):
    """784 -> 100 -> 10 takes the BLAS path by default (and ex4's 400 -> 25 the
    tiles); its result matches NumPy's over several chunks."""
    from nnfast.backends._numba import _first_layer_by_blas

    assert _first_layer_by_blas((784, 100, 10)) and _first_layer_by_blas((784, 128, 64, 10))
    assert not _first_layer_by_blas((400, 25, 10))
    sizes = (784, 100, 10)
    rng = np.random.default_rng(7)
    X = rng.random((3000, 784)).astype(dtype)
    y = rng.integers(0, 10, 3000)
    theta = nnfast.init_theta(sizes, random_state=7, dtype=dtype)
    J, g = evaluate("numba", X, y, sizes, theta, 1.0, "cross_entropy", 2)
    numpy_float64 = evaluate("numpy", X.astype(np.float64), y, sizes, theta.astype(np.float64),
                             1.0, "cross_entropy", 2)
    if dtype == np.float64:
        assert_matches_oracle((J, g), numpy_float64, tolerance=Tolerance(
            cost_rtol=1e-12, grad_rtol=1e-10, grad_atol_of_max=1e-14))
    else:
        assert_matches_oracle((J, g), numpy_float64, dtype)


def test_ex4_weights_parallel(ex4_weights):
    """The real ex4 weights on random digits-like inputs, 5000 rows, 2 threads."""
    theta = nnfast.pack(ex4_weights)
    rng = np.random.default_rng(4)
    X = rng.random((5000, 400)) * 0.2
    y = rng.integers(0, 10, 5000)
    for loss in ("cross_entropy", "squared_error"):
        J, g = evaluate("numba", X, y, (400, 25, 10), theta, 1.0, loss, 2)
        numpy_result = evaluate("numpy", X, y, (400, 25, 10), theta, 1.0, loss, 2)
        assert_matches_oracle((J, g), numpy_result,
                              tolerance=Tolerance(cost_rtol=1e-10, grad_rtol=1e-9, grad_atol=1e-13))


def test_saturated_units_stay_finite():
    sizes = (5, 4, 3)
    X, y, theta = random_problem(sizes, 50, seed=3)
    theta = theta * 400.0  # logits in the hundreds: exp overflows, sigmoid saturates
    for loss in ("cross_entropy", "squared_error"):
        J, g = evaluate("numba", X, y, sizes, theta, 0.0, loss)
        assert np.isfinite(J) and np.all(np.isfinite(g))
        assert_matches_oracle((J, g), loop_oracle(X, y, sizes, theta, loss=loss),
                              tolerance=Tolerance(cost_rtol=1e-10, grad_rtol=1e-10, grad_atol=1e-12))


@st.composite
def problems(draw):
    depth = draw(st.integers(1, 4))  # weight layers: 0 to 3 hidden layers
    sizes = tuple(draw(st.integers(1, 9)) for _ in range(depth + 1))
    m = draw(st.sampled_from([1, 2, 3, 5, 127, 128, 129, 200, 257]))
    seed = draw(st.integers(0, 2**16))
    layout = draw(st.sampled_from(["C", "F", "strided"]))
    path = draw(st.sampled_from(FIRST_LAYER_PATHS))
    return sizes, m, seed, layout, path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.sampled_from(["cross_entropy", "squared_error"]),
       st.sampled_from([np.float64, np.float32]), st.sampled_from([1, 2, 3]))
def test_property_matches_loop(problem, loss, dtype, n_threads):
    sizes, m, seed, layout, path = problem
    X, y, theta = random_problem(sizes, m, seed=seed)
    if sizes[-1] == 1:
        y = (np.arange(m) % 2).reshape(m, 1).astype(float)  # targets in [0, 1]
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        wide = np.zeros((m, 2 * sizes[0]))
        wide[:, ::2] = X
        X = wide[:, ::2]
    with first_layer(path):
        assert_matches_loop(X, y, sizes, theta, 0.5, loss, n_threads, dtype)


def test_parallel_path_many_blocks_and_chunks():
    """More chunks than blocks, a ragged last block, n_threads above the core count
    (643 rows: 2 blocks of 336 on 2 cores, so 3 to 7 threads get only 2 chunks)."""
    import numba

    sizes = (40, 9, 3)
    m = 128 * 5 + 3
    X, y, theta = random_problem(sizes, m, seed=11)
    oracle = loop_oracle(X, y, sizes, theta)
    before = numba.get_num_threads()
    for n_threads in (1, 2, 3, 4, 6, 7):
        J, g = evaluate("numba", X, y, sizes, theta, n_threads=n_threads)
        assert_matches_oracle((J, g), oracle,
                              tolerance=Tolerance(cost_rtol=1e-10, grad_rtol=1e-10, grad_atol=1e-14))
    assert numba.get_num_threads() == before  # restored after every call


@pytest.mark.parametrize("path", FIRST_LAYER_PATHS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_deterministic(dtype, path):
    """Bitwise equal repeated calls; and, because the chunks (gradient slabs) do not
    depend on n_threads, bitwise equal results for 1, 2 and 3 threads."""
    sizes = (400, 25, 10)
    X, y, theta = random_problem(sizes, 1500, seed=5, dtype=dtype)
    results = {}
    for n_threads in (1, 2, 3):
        obj = Objective(X, y, sizes, lam=1.0, backend="numba", n_threads=n_threads)
        with first_layer(path):
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


@pytest.mark.parametrize("setting", ["workqueue", "default"])
def test_threading_layer_choice_gives_the_same_bits(setting):
    """On numba's workqueue layer (which aborts when two Python threads start parallel
    regions at once) the chunks run on Python threads; on the default one, a thread-safe
    layer where one imports.  Each gives the same bits for every thread count, from
    several Python threads at once."""
    result = _run("""
        import json, threading
        import numpy as np
        import nnfast
        from nnfast.backends import _numba
        rng = np.random.default_rng(4)
        X = rng.random((3000, 20)); y = rng.integers(0, 3, 3000)
        theta = nnfast.init_theta([20, 7, 3], random_state=1)
        out = {n: nnfast.Objective(X, y, [20, 7, 3], lam=1.0, backend="numba", n_threads=n)(theta)
               for n in (1, 2)}
        obj = nnfast.Objective(X, y, [20, 7, 3], lam=1.0, backend="numba", n_threads=2)
        both = []
        threads = [threading.Thread(target=lambda: both.append(obj(theta))) for _ in range(3)]
        [t.start() for t in threads]; [t.join() for t in threads]
        same = all(J == out[1][0] and np.array_equal(g, out[1][1])
                   for J, g in [out[2]] + both)
        print(json.dumps({"layer": _numba.parallel_layer(), "same": same, "n": len(both),
                          "threads": nnfast.get_backend("numba").build_info()["threads"],
                          "J": out[1][0]}))
    """, dict(os.environ, NUMBA_THREADING_LAYER=setting))
    assert result["same"] and result["n"] == 3
    if setting == "workqueue":
        assert result["layer"] is None and result["threads"].startswith("Python threads")
    else:
        assert result["layer"] in (None, "omp", "tbb")
        assert (result["layer"] is None) == result["threads"].startswith("Python threads")
    rng = np.random.default_rng(4)
    X = rng.random((3000, 20))
    J_ref = nnfast.cost(nnfast.init_theta([20, 7, 3], random_state=1), X,
                        rng.integers(0, 3, 3000), [20, 7, 3], lam=1.0, backend="numpy")
    assert result["J"] == pytest.approx(J_ref, rel=1e-12)


def test_build_info():
    info = nnfast.get_backend("numba").build_info()
    assert {"numba", "threads", "cache dir", "kernels loaded"} <= set(info)
    import numba

    assert info["numba"] == numba.__version__


def _run(code, env=None, with_stderr=False):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return (result, proc.stderr) if with_stderr else result


def test_import_compiles_nothing():
    result = _run("""
        import json
        import nnfast
        import nnfast.backends._numba
        from nnfast._kernels import numba_fused as k
        assert "numba" in nnfast.available_backends()
        nnfast.get_backend("numba").build_info()
        names = ["chunk_loss_grad", "chunk_forward", "_tile_dots", "_dots_acc_best",
                 "_forward_hidden"]
        print(json.dumps({name: len(getattr(k, name).signatures) for name in names}))
    """)
    assert len(result) == 5 and set(result.values()) == {0}


def test_a_call_compiles_only_its_path(tmp_path):
    """The loss alone on a wide network (first layer by BLAS) compiles neither the
    register tiles nor the backward pass, nor any head but its own; its gradient then adds the backward
    pass (whose hidden layers use the tiles), still without the first layer's
    tile paths.  (An empty cache: code loaded from the cache
    does not list its callees.)"""
    result = _run("""
        import json
        import numpy as np
        import nnfast
        from numba.core import event
        sizes = [784, 64, 10]
        X = np.random.default_rng(0).random((50, 784)); y = np.arange(50) % 10
        obj = nnfast.Objective(X, y, sizes, backend="numba", n_threads=1)
        theta = nnfast.init_theta(sizes, random_state=0)

        def compiled(call):
            # numba announces every function it compiles, the overloads' implementations too
            with event.install_recorder("numba:compile") as recorder:
                call(theta)
            return sorted({e.data["dispatcher"].py_func.__name__
                           for _, e in recorder.buffer if e.is_start})

        after_loss = compiled(obj.cost)
        after_grad = compiled(obj)
        loaded = nnfast.get_backend("numba").build_info()["kernels loaded"]
        # a network outside the fixed set: its head's set, with no other head's code
        targets = np.random.default_rng(1).random((50, 10))
        regression = nnfast.Objective(X, targets, sizes, backend="numba", n_threads=1,
                                      activation="tanh", output="identity")
        after_other = compiled(regression.cost)
        print(json.dumps([after_loss, after_grad, loaded, after_other]))
    """, dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path)))
    after_loss, after_grad, loaded = set(result[0]), set(result[1]), result[2]
    after_other = set(result[3])
    assert {"_identity_layer", "_tanh_f64"} <= after_other
    assert not {"_softmax_output", "_softmax_rows"} & after_other
    # the logistic head's code only: the softmax and identity heads are never typed
    other_heads = {"_softmax_output", "_softmax_rows", "_identity_layer"}
    assert {"_forward_first_blas", "_logistic_layer"} <= after_loss
    assert not {"_tile_dots", "_backward_hidden", "_grad_first_blas", "_forward_first_tiles",
                "_grad_first_tiles", *other_heads} & after_loss
    assert {"_tile_dots", "_backward_hidden", "_grad_first_blas"} <= after_grad
    assert not {"_forward_first_tiles", "_grad_first_tiles", *other_heads} & after_grad
    assert loaded == "loss blas float64, loss+gradient blas float64"


def test_second_process_loads_from_cache(tmp_path):
    """A cold first call compiles only the driver it needs, saves it, and says so
    on stderr (one line); a second process loads it from the cache silently."""
    code = """
        import json, time
        import numpy as np
        import nnfast
        from nnfast._kernels import numba_fused as k
        X = np.random.default_rng(0).random((20, 6)); y = np.arange(20) % 3
        t = time.perf_counter()
        J, g = nnfast.cost_grad(nnfast.init_theta([6, 4, 3], random_state=0), X, y, [6, 4, 3],
                                backend="numba", n_threads=1)
        # the driver the call ran: the parallel one on a thread-safe threading layer
        stats = [k.chunk_loss_grad.stats] + [drivers.chunks_loss_grad.stats
                                             for drivers in k.PARALLEL_DRIVERS.values()]
        print(json.dumps({"hits": sum(sum(s.cache_hits.values()) for s in stats),
                          "misses": sum(sum(s.cache_misses.values()) for s in stats),
                          "compiled": nnfast.get_backend("numba").build_info()["kernels loaded"],
                          "seconds": time.perf_counter() - t, "J": J}))
    """
    from nnfast.backends._numba_notice import MESSAGE

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    first, first_err = _run(code, env, with_stderr=True)
    second, second_err = _run(code, env, with_stderr=True)
    assert first["misses"] >= 1 and first["hits"] == 0  # compiled and saved
    assert second["hits"] >= 1 and second["misses"] == 0  # loaded, nothing compiled
    # a one-shot call's gradient takes the BLAS first layer (no block-transposed X)
    assert first["compiled"] == second["compiled"] == "loss+gradient blas float64"
    assert second["J"] == first["J"]
    assert any(p.suffix == ".nbc" for p in tmp_path.rglob("*"))
    notice = MESSAGE.split("{")[0]
    assert [line for line in first_err.splitlines() if notice in line] == [
        MESSAGE.format(what=" (loss+gradient, float64)")]
    assert notice not in second_err


def test_warm_up_loads_the_drivers_asked_for():
    backend = nnfast.get_backend("numba")
    backend.warm_up(dtypes=(np.float64,), gradient=True, loss_only=True)
    backend.warm_up(dtypes=(np.float64,), blas=True)
    loaded = backend.build_info()["kernels loaded"].split(", ")
    assert {"loss+gradient tiles float64", "loss tiles float64",
            "loss+gradient blas float64"} <= set(loaded)



def test_ex4s_and_sklearns_default_networks_have_drivers_of_their_own():
    """ex4's network (logistic hidden units and output), scikit-learn's MLP defaults
    (relu under a softmax or an identity output) and tanh under a softmax run parallel
    drivers made for them (a first call compiles only their own code); any other network
    its head's set."""
    from nnfast._kernels import numba_fused as k
    from nnfast.backends import _numba

    if _numba.parallel_layer() is None:
        pytest.skip("no thread-safe numba threading layer here: the serial drivers run")
    backend = nnfast.get_backend("numba")
    backend.warm_up(dtypes=(np.float64,), activation="relu", output="softmax")
    backend.warm_up(dtypes=(np.float64,), activation="tanh", output="identity")
    backend.warm_up(dtypes=(np.float64,))
    ex4 = (k.HEAD_LOGISTIC_CROSS_ENTROPY, k.ACT_LOGISTIC)
    relu_softmax = (k.HEAD_SOFTMAX_CROSS_ENTROPY, k.ACT_RELU)
    identity_head = (k.HEAD_IDENTITY_SQUARED_ERROR, -1)
    heads = {(head, -1) for head in (k.HEAD_LOGISTIC_CROSS_ENTROPY, k.HEAD_LOGISTIC_SQUARED_ERROR,
                                     k.HEAD_SOFTMAX_CROSS_ENTROPY, k.HEAD_IDENTITY_SQUARED_ERROR)}
    # (other tests may have made other sets before this one)
    assert {identity_head, ex4, relu_softmax} <= set(k.PARALLEL_DRIVERS) <= heads | set(
        k.FIXED_NETWORKS)
    assert (k.HEAD_IDENTITY_SQUARED_ERROR, k.ACT_TANH) not in k.PARALLEL_DRIVERS
    assert k.PARALLEL_DRIVERS[identity_head].kernel_signatures()     # tanh + identity
    assert k.PARALLEL_DRIVERS[ex4].kernel_signatures()
    assert k.PARALLEL_DRIVERS[relu_softmax].kernel_signatures()
    # the drivers around the kernels are the same for every network
    assert k.PARALLEL_DRIVERS[ex4].chunks_loss_grad is k.chunks_loss_grad
    assert k.PARALLEL_DRIVERS[identity_head].chunks_loss_grad is k.chunks_loss_grad
    assert k.drivers_key(k.HEAD_SOFTMAX_CROSS_ENTROPY, k.ACT_TANH) == (
        k.HEAD_SOFTMAX_CROSS_ENTROPY, k.ACT_TANH)
    assert k.drivers_key(k.HEAD_SOFTMAX_CROSS_ENTROPY, k.ACT_LOGISTIC) == (
        k.HEAD_SOFTMAX_CROSS_ENTROPY, -1)
    assert k.drivers_key(k.HEAD_IDENTITY_SQUARED_ERROR, k.ACT_TANH) == (
        k.HEAD_IDENTITY_SQUARED_ERROR, -1)
    assert k.drivers_key(k.HEAD_SOFTMAX_CROSS_ENTROPY, -1) == (k.HEAD_SOFTMAX_CROSS_ENTROPY, -1)
    assert k.drivers_key(*ex4) == ex4
    assert k.uniform_activation(np.array([2, 2])) == 2
    assert k.uniform_activation(np.array([0, 2])) == -1
    assert k.uniform_activation(np.array([], dtype=np.int64)) == k.ACT_IDENTITY


# ---- saturation (issue 12): the kernels' exp gives exactly 0 and inf where libm does
def _grid(dtype):
    if dtype == np.float64:
        x = np.linspace(-800.0, 800.0, 160001)
        edges = [-746.0, -745.2, -745.13, -745.0, -744.5, -709.9, -708.4, 709.7, 709.78, 709.79,
                 710.0, 0.0, -0.0, 1e-300, -1e-300]
    else:
        x = np.linspace(-110.0, 100.0, 42001)
        edges = [-104.0, -103.98, -103.9, -103.28, -87.4, -88.7, 88.72, 88.73, 89.0, 0.0, -0.0]
    return np.concatenate([x, edges]).astype(dtype)


def assert_near_libm(got, ref, dtype, ulps):
    """Within ``ulps`` ulp of ``ref`` where ``ref`` is a normal number, within one
    unit where it is subnormal, and exactly 0 or inf where ``ref`` is."""
    assert got.dtype == dtype
    ref = np.asarray(ref, dtype=np.float64)
    got = got.astype(np.float64)
    tiny = np.finfo(dtype).tiny
    assert np.array_equal(got[ref == 0], ref[ref == 0])
    assert np.array_equal(got[np.isinf(ref)], ref[np.isinf(ref)])
    normal = (ref >= tiny) & np.isfinite(ref)
    assert np.max(np.abs(got[normal] - ref[normal]) / ref[normal]) <= ulps * np.finfo(dtype).eps
    sub = (ref > 0) & (ref < tiny)
    assert np.all(np.abs(got[sub] - ref[sub]) <= np.finfo(dtype).smallest_subnormal)


@pytest.mark.parametrize("dtype, int_dtype", [(np.float64, np.int64), (np.float32, np.int32)])
def test_bit_casts_are_numpys_views(dtype, int_dtype):
    """exp's powers of two and log's mantissas come from an LLVM bitcast in the loop
    (numba_math._from_bits / _to_bits): the same bits as NumPy's views, both ways, for
    zeros, subnormals, infinities and NaN; any other type is refused at typing."""
    import numba

    from nnfast._kernels.numba_math import _from_bits, _to_bits

    @numba.njit
    def to_bits(x):
        out = np.empty(x.shape[0], dtype=int_dtype)
        for i in range(x.shape[0]):
            out[i] = _to_bits(x[i])
        return out

    @numba.njit
    def from_bits(b):
        out = np.empty(b.shape[0], dtype=dtype)
        for i in range(b.shape[0]):
            out[i] = _from_bits(b[i])
        return out

    info = np.finfo(dtype)
    x = np.array([0.0, -0.0, 1.0, -2.5, info.tiny, info.smallest_subnormal, -info.max,
                  np.inf, -np.inf, np.nan, 1.0 / 3.0], dtype=dtype)
    x = np.concatenate([x, np.random.default_rng(0).standard_normal(1000).astype(dtype) * 1e3])
    assert np.array_equal(to_bits(x), x.view(int_dtype))
    assert np.array_equal(from_bits(x.view(int_dtype)).view(int_dtype), x.view(int_dtype))

    @numba.njit
    def from_float_bits(v):
        return _from_bits(v)

    with pytest.raises(numba.core.errors.TypingError):
        from_float_bits(dtype(1.0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exp_matches_libm_at_the_ends(dtype):
    """Below ~-745 (float32 ~-103.9) exp is exactly 0 and above ~709.78 (88.72) inf,
    as NumPy's; subnormal results within one unit; elsewhere within 3 ulp."""
    from nnfast._kernels.numba_math import exp_array

    x = _grid(dtype)
    with np.errstate(over="ignore", under="ignore"):
        ref = np.exp(x)
    got = exp_array(x)
    assert (ref == 0).any() and np.isinf(ref).any()  # the grid reaches both ends
    assert_near_libm(got, ref, dtype, ulps=3)
    assert np.all(got[(ref > 0) & np.isfinite(ref)] > 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_saturates_exactly_like_numpy(dtype):
    from scipy.special import expit

    from nnfast._kernels.numba_math import sigmoid_array

    x = _grid(dtype)
    got, ref = sigmoid_array(x), expit(x)
    saturated = (ref == 0) | (ref == 1)
    assert saturated.sum() > 1000  # the grid reaches both ends
    assert np.array_equal(got[saturated], ref[saturated])
    assert np.array_equal(got == 0, ref == 0) and np.array_equal(got == 1, ref == 1)
    assert_near_libm(got, ref, dtype, ulps=4)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log1p_exp_neg_abs_matches_numpy(dtype):
    """The cross-entropy term log1p(exp(-|z|)): within 4 ulp of NumPy's where that is
    a normal number, within one subnormal unit below, exactly 0 where NumPy's is."""
    from nnfast._kernels.numba_math import log1p_exp_neg_abs_array

    x = _grid(dtype)
    with np.errstate(under="ignore"):
        ref = np.log1p(np.exp(-np.abs(x)))
    got = log1p_exp_neg_abs_array(x)
    assert (ref == 0).any()
    assert_near_libm(got, ref, dtype, ulps=4)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_output_sigmoid_saturates_like_the_c_kernel(dtype):
    """The output layer's activation is e / (1 + e) with e = exp(-|z|) below 0, as the C
    kernel's output layer computes it: it goes through the subnormals to 0 where
    1 / (1 + exp(-z)) is already exactly 0, and equals it elsewhere within 4 ulp."""
    from nnfast._kernels.numba_math import output_sigmoid_array

    x = _grid(dtype)
    with np.errstate(over="ignore", under="ignore"):
        e = np.exp(-np.abs(x.astype(np.float64)))
        ref = np.where(x < 0, e / (1 + e), 1 / (1 + e))
    got = output_sigmoid_array(x)
    assert ((ref > 0) & (ref < np.finfo(dtype).tiny)).any()  # the grid reaches the subnormals
    assert_near_libm(got, ref.astype(dtype), dtype, ulps=4)


def _saturated_problem(z, dtype):
    """A 2 -> 3 -> 2 network whose hidden and output logits are 0 or +-z."""
    X = np.array([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [-1.0, -1.0], [0.5, -0.25]]) * z
    W1 = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    W2 = np.array([[0.0, z, 0.0, 0.0], [1.0, 0.0, -z, 0.5]])  # no cancelling +-z terms
    y = np.array([0, 1, 1, 0, 1])
    return X.astype(dtype), y, nnfast.pack([W1, W2], dtype=dtype)


@pytest.mark.parametrize("path", FIRST_LAYER_PATHS)
@pytest.mark.parametrize("dtype,z", [(np.float64, 800.0), (np.float64, 1e300),
                                     (np.float32, 100.0), (np.float32, 1e30)])
@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_saturated_cost_and_gradient_equal_numpy(dtype, z, loss, path):
    """Where NumPy's gradient is exactly 0 (saturated sigmoids: a (1 - a) = 0), so is
    numba's, bitwise; the rest agrees to round-off."""
    X, y, theta = _saturated_problem(z, dtype)
    with first_layer(path):
        J, g = evaluate("numba", X, y, (2, 3, 2), theta, 0.0, loss)
    J_ref, g_ref = evaluate("numpy", X, y, (2, 3, 2), theta, 0.0, loss)
    assert np.isfinite(J) and np.all(np.isfinite(g))
    exact = g_ref == 0
    assert exact.sum() >= 3  # a saturated hidden unit: its three weights
    assert np.array_equal(g[exact], g_ref[exact])
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(g, g_ref, rtol=rtol, atol=0)
    assert J == pytest.approx(J_ref, rel=rtol)


@pytest.mark.parametrize("backend", ["numpy", "numba"], indirect=True)
@pytest.mark.parametrize("scale", [1e300, 1e305, 1e307])
def test_gradient_check_passes_on_saturated_inputs(scale, backend):
    """ex4's debug problem with X scaled far into saturation: numba passes the
    gradient check as numpy does (before, its hidden sigmoids stopped at 1e-308
    instead of 0, and a (1 - a) x gave gradients of 1e-3 where the truth is 0)."""
    from nnfast.gradcheck import debug_problem

    theta, X, y, sizes = debug_problem((3, 5, 3), 5)
    assert nnfast.gradient_check(theta, X * scale, y, sizes, backend=backend, n_threads=1).passed


def test_gradient_check_kernel_announces_a_cold_compile(tmp_path):
    """The gradient check's own numba kernel says so on stderr when it compiles,
    and not when a later process loads it from the cache."""
    code = """
        import json
        import numpy as np
        from nnfast.gradcheck import debug_problem, numerical_gradient
        theta, X, y, sizes = debug_problem((3, 5, 3), 5)
        g = numerical_gradient(theta, X, y, sizes, engine="numba", n_threads=1)
        print(json.dumps({"g0": float(g[0])}))
    """
    from nnfast.backends._numba_notice import MESSAGE

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    first, first_err = _run(code, env, with_stderr=True)
    second, second_err = _run(code, env, with_stderr=True)
    assert first == second
    line = MESSAGE.format(what=" (gradient check)")
    assert first_err.splitlines().count(line) == 1
    assert MESSAGE.split("{")[0] not in second_err


# ---- every hidden activation and head (issue 14) -------------------------------------
#: (layer sizes, hidden activations): no hidden layer, each activation alone, and two
#: hidden layers where every activation appears on each side
NETWORKS = [((7, 4), ())] + [((7, 6, 4), (a,)) for a in ("logistic", "tanh", "relu", "identity")] \
    + [((7, 6, 5, 4), pair) for pair in [("relu", "tanh"), ("tanh", "identity"),
                                         ("identity", "logistic"), ("logistic", "relu")]]
#: rows of the activation tests: with ``small_blocks``, three blocks of 64 and one of 11
ROWS = 203


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of at most 64 rows, whatever the number of cores this process sees."""
    from nnfast.backends import _numba

    monkeypatch.setattr(_numba, "_BLOCK_ROWS", 64)


def test_the_activation_tests_have_a_partial_block(small_blocks):
    from nnfast.backends._numba import _block_rows

    assert _block_rows(ROWS) == 64


@pytest.mark.parametrize("path", FIRST_LAYER_PATHS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes, hidden", NETWORKS)
@pytest.mark.parametrize("output, loss", [("logistic", "cross_entropy"),
                                          ("logistic", "squared_error"),
                                          ("softmax", "cross_entropy"),
                                          ("identity", "squared_error")])
def test_every_activation_and_head_matches_the_oracle(sizes, hidden, output, loss, dtype, path,
                                                     small_blocks):
    X, y, theta = network_problem(sizes, output, ROWS, dtype)
    kw = dict(lam=1.0, loss=loss, activation=hidden or "logistic", output=output)
    obj = Objective(X, y, sizes, backend="numba", n_threads=2, **kw)
    with first_layer(path):
        J, g = obj(theta)
        J_loss_only = obj.cost(theta)
    assert J_loss_only == pytest.approx(J, rel=1e-12 if dtype == np.float64 else 1e-6)
    assert_matches_oracle((J, g), loop_oracle(X, y, sizes, theta, **kw), dtype)


@pytest.mark.parametrize("path", FIRST_LAYER_PATHS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes, hidden", NETWORKS)
@pytest.mark.parametrize("output", ["logistic", "softmax", "identity"])
def test_predictions_of_every_network_match_the_oracle(sizes, hidden, output, dtype, path,
                                                       small_blocks):
    """The compiled forward driver against the loop oracle on the same (float32-
    representable) values; X is left as it was."""
    X, _, theta = network_problem(sizes, output, ROWS, dtype, seed=1)
    X_before = X.copy()
    kw = dict(activation=hidden or "logistic", output=output)
    with first_layer(path):
        h = nnfast.predict_proba(theta, X, sizes, backend="numba", **kw)
    expected = nnfast.predict_proba(theta.astype(np.float64), X.astype(np.float64), sizes,
                                    backend="loop", **kw)
    assert h.dtype == dtype and h.shape == expected.shape
    assert np.array_equal(X, X_before)
    if dtype == np.float64:
        np.testing.assert_allclose(h, expected, rtol=1e-12, atol=1e-15)
    else:
        np.testing.assert_allclose(h, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize("output, loss", [("logistic", "cross_entropy"),
                                          ("softmax", "cross_entropy"),
                                          ("identity", "squared_error")])
def test_every_head_in_parallel_chunks_is_bitwise_the_same_for_any_thread_count(output, loss):
    """3001 rows of (20, 7, 5, 3): several blocks and chunks, the last block partial."""
    sizes = (20, 7, 5, 3)
    X, y, theta = network_problem(sizes, output, 3001, np.float64, seed=3)
    kw = dict(lam=0.5, loss=loss, activation=("tanh", "relu"), output=output)
    results = [Objective(X, y, sizes, backend="numba", n_threads=n, **kw)(theta) for n in (1, 2, 3)]
    for J, g in results[1:]:
        assert J == results[0][0] and np.array_equal(g, results[0][1])
    assert_matches_oracle(results[0], loop_oracle(X, y, sizes, theta, **kw))
    predictions = [nnfast.predict_proba(theta, X, sizes, backend="numba", n_threads=n,
                                        activation=("tanh", "relu"), output=output) for n in (1, 2)]
    assert np.array_equal(predictions[0], predictions[1])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=st.integers(1, 140), n_in=st.integers(1, 40), hidden=st.lists(st.integers(1, 19), max_size=2),
       n_out=st.integers(1, 12), act=st.sampled_from(["logistic", "tanh", "relu", "identity"]),
       head=st.sampled_from([("logistic", "cross_entropy"), ("logistic", "squared_error"),
                             ("softmax", "cross_entropy"), ("identity", "squared_error")]),
       path=st.sampled_from(FIRST_LAYER_PATHS), seed=st.integers(0, 2**16))
def test_any_network_on_any_shape_matches_the_oracle(m, n_in, hidden, n_out, act, head, path, seed):
    output, loss = head
    sizes = (n_in, *hidden, n_out)
    X, y, theta = network_problem(sizes, output, m, np.float64, seed=seed)
    kw = dict(lam=0.5, loss=loss, activation=act, output=output)
    with first_layer(path):
        result = Objective(X, y, sizes, backend="numba", n_threads=2, **kw)(theta)
    assert_matches_oracle(result, loop_oracle(X, y, sizes, theta, **kw))


def test_predictions_compile_their_own_driver():
    sizes = (6, 4, 3)
    X, _, theta = network_problem(sizes, "softmax", 20, np.float64)
    nnfast.predict_proba(theta, X, sizes, backend="numba", activation="relu", output="softmax")
    loaded = nnfast.get_backend("numba").build_info()["kernels loaded"].split(", ")
    assert "forward tiles float64" in loaded


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tanh_follows_numpy_to_a_few_ulp(dtype):
    """tanh by the C kernel's expm1 form: within 4 ulp of NumPy's everywhere, including
    tiny arguments (where 1 - 2 / (1 + e^2z) would lose every digit), +-1 when saturated."""
    from nnfast._kernels.numba_math import tanh_array

    tiny = np.array([1e-30, -1e-30, 1e-9, -3e-9, 1e-5, 0.0], dtype=dtype)
    x = np.concatenate([np.linspace(-30, 30, 60001).astype(dtype), tiny, [dtype(400), dtype(-400)]])
    got, ref = tanh_array(x), np.tanh(x.astype(np.float64))
    assert got.dtype == dtype
    scale = np.maximum(np.abs(ref), np.finfo(dtype).tiny)
    assert np.max(np.abs(got - ref) / scale) <= 4 * np.finfo(dtype).eps
    assert got[-2] == 1 and got[-1] == -1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_of_a_softmax_sum_follows_numpy(dtype):
    """The softmax's log S (S >= 1, from its exponent bits and mantissa, as the C kernel's
    vlog_ge1): within 2 ulp of NumPy's; log 1 is exactly 0."""
    from nnfast._kernels.numba_math import log_ge1_array

    rng = np.random.default_rng(0)
    x = np.concatenate([[1.0, 2.0, np.sqrt(2.0), 1e30], 1 + rng.random(20000) * 10,
                        np.exp(rng.uniform(0, 60, 2000))]).astype(dtype)
    got, ref = log_ge1_array(x), np.log(x.astype(np.float64))
    assert got[0] == 0
    positive = ref > 0
    assert np.max(np.abs(got[positive] - ref[positive]) / ref[positive]) <= 2 * np.finfo(dtype).eps


def test_the_gradient_check_kernel_says_which_networks_it_handles():
    """The numba gradient-check kernel knows ex4's logistic units only: for any other
    layer before the output, or another output, the NumPy engine does the work."""
    from nnfast._kernels.numba_gradcheck import handles

    assert handles(None, "logistic") and handles(("logistic",), "logistic")
    assert handles(("relu", "logistic"), "logistic")  # only the layer before the output counts
    assert not handles(("tanh",), "logistic")
    assert not handles(("logistic", "relu"), "logistic")
    assert not handles(("logistic",), "softmax") and not handles(None, "identity")


def test_functions_without_python_wrappers_are_private_to_the_kernels():
    """The building blocks compile no CPython wrapper (numba_tiles.INNER: a faster cold
    first call), and calling one from Python would crash: each must be private, and
    the functions the backend and the tests call from Python must keep theirs."""
    from numba.core.registry import CPUDispatcher

    from nnfast._kernels import numba_fused, numba_math, numba_tiles

    unwrapped, wrapped = set(), set()
    for module in (numba_fused, numba_tiles, numba_math):
        for name, value in vars(module).items():
            if isinstance(value, CPUDispatcher):
                no_wrapper = value.targetoptions.get("no_cpython_wrapper", False)
                (unwrapped if no_wrapper else wrapped).add(name)
    assert unwrapped and all(name.startswith("_") for name in unwrapped)
    assert {"chunk_loss_grad", "chunk_forward", "exp_array", "sigmoid_array",
            "tanh_array", "log_ge1_array"} <= wrapped
    drivers = numba_fused.ParallelDrivers(-1, -1)
    assert not any(d.targetoptions.get("no_cpython_wrapper") for _, d in drivers.dispatchers())
