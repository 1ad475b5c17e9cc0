"""nnfast.distributed against a real LocalCluster (2 worker processes, 1 thread each)."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import nnfast

from conftest import random_problem

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
psutil = pytest.importorskip("psutil")
scipy_optimize = pytest.importorskip("scipy.optimize")

from nnfast.distributed import DistributedObjective as _DistributedObjective  # noqa: E402
from nnfast.distributed import ShardLostError  # noqa: E402

try:  # dask.dataframe needs pandas (in the `distributed` extra); only its tests skip without it
    import dask.dataframe as dd
    import pandas as pd
except ImportError as _exc:  # pragma: no cover - pandas is installed with nnfast[distributed]
    dd = pd = None
    _NO_DD = f"dask.dataframe is not importable ({_exc}); pip install nnfast[distributed]"
else:
    _NO_DD = ""
needs_dd = pytest.mark.skipif(dd is None, reason=_NO_DD or "dask.dataframe is importable")

LAYERS = [400, 25, 10]
RTOL = 1e-10
# The comparisons pin one backend on both sides so that they test the distribution,
# not kernels that other work may be changing; test_auto_backend covers "auto".
B = "numpy"


def DistributedObjective(*args, **kwargs):
    kwargs.setdefault("backend", B)
    return _DistributedObjective(*args, **kwargs)


@pytest.fixture(scope="module")
def cluster():
    cl = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0")
    yield cl
    cl.close()


@pytest.fixture(scope="module")
def client(cluster):
    c = distributed.Client(cluster, set_as_default=False)
    c.wait_for_workers(2, timeout=60)
    yield c
    c.close()


@pytest.fixture(scope="module")
def problem():
    return random_problem(LAYERS, 1200, seed=3)


def _assert_same(J, g, J0, g0, rtol=RTOL):
    assert isinstance(J, float)
    assert g.dtype == np.float64 and g.shape == g0.shape
    np.testing.assert_allclose(J, J0, rtol=rtol)
    np.testing.assert_allclose(g, g0, rtol=rtol, atol=rtol * np.abs(g0).max())


def _worker_pids(client):
    return client.run(os.getpid)


# --------------------------------------------------------------------- results
@pytest.mark.parametrize("lam", [0.0, 1.0])
@pytest.mark.parametrize("n_shards", [2, 3])
def test_numpy_inputs_match_local(client, problem, lam, n_shards):
    X, y, theta = problem
    local = nnfast.Objective(X, y, LAYERS, lam=lam, backend=B)
    with DistributedObjective(X, y, LAYERS, lam=lam, client=client, n_shards=n_shards,
                              timeout=60) as fun:
        assert fun.n_shards == n_shards and sum(fun.shard_sizes) == 1200
        assert fun.backend_name == B
        assert (fun.m, fun.n_params, fun.layer_sizes, fun.dtype, fun.lam, fun.loss) == \
            (local.m, local.n_params, local.layer_sizes, local.dtype, local.lam, local.loss)
        J0, g0 = local(theta)
        _assert_same(*fun(theta), J0, g0)
        np.testing.assert_allclose(fun.cost(theta), J0, rtol=RTOL)
        _assert_same(J0, fun.grad(theta), J0, g0)
        assert fun.n_evals == 3
        # each call returns a fresh gradient
        g1, g2 = fun.grad(theta), fun.grad(theta)
        assert g1 is not g2 and not np.shares_memory(g1, g2)


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_dask_array_inputs_match_local(client, problem, lam):
    X, y, theta = problem
    # column chunks too: the rows become the shards, columns are joined
    dX = da.from_array(X, chunks=(300, 150))
    dy = da.from_array(y, chunks=500)
    local = nnfast.Objective(X, y, LAYERS, lam=lam, backend=B)
    with DistributedObjective(dX, dy, LAYERS, lam=lam, client=client, timeout=60) as fun:
        assert fun.n_shards == 4 and fun.shard_sizes == [300] * 4
        assert fun.m == 1200
        _assert_same(*fun(theta), *local(theta))
        theta2 = theta * 0.5
        _assert_same(*fun(theta2), *local(theta2))


def test_dask_array_n_shards_and_one_hot_targets(client, problem):
    X, y, theta = problem
    Y = np.eye(10)[y]
    local = nnfast.Objective(X, Y, LAYERS, lam=1.0, loss="squared_error", backend=B)
    with DistributedObjective(da.from_array(X, chunks=100), da.from_array(Y, chunks=(100, 5)),
                              LAYERS, lam=1.0, loss="squared_error", client=client, n_shards=3,
                              timeout=60) as fun:
        assert fun.n_shards == 3
        _assert_same(*fun(theta), *local(theta))


def test_float32_matches_local_float32(client, problem):
    X, y, theta = problem
    local = nnfast.Objective(X, y, LAYERS, lam=1.0, dtype=np.float32, backend=B)
    with DistributedObjective(X, y, LAYERS, lam=1.0, dtype=np.float32, client=client,
                              timeout=60) as fun:
        assert fun.dtype == np.float32
        J, g = fun(theta)
        J0, g0 = local(theta)
        assert g.dtype == np.float64
        np.testing.assert_allclose(J, J0, rtol=1e-5)
        np.testing.assert_allclose(g, g0, rtol=1e-4, atol=1e-5 * np.abs(g0).max())


def test_theta_scattered_instead_of_inline(client, problem):
    X, y, theta = problem
    local = nnfast.Objective(X, y, LAYERS, lam=1.0, backend=B)
    with DistributedObjective(X, y, LAYERS, lam=1.0, client=client, n_shards=3,
                              theta_transfer="scatter", timeout=60) as fun:
        _assert_same(*fun(theta), *local(theta))
        _assert_same(*fun(-theta), *local(-theta))


def test_single_shard(client, problem):
    X, y, theta = problem
    with DistributedObjective(X[:50], y[:50], LAYERS, lam=1.0, client=client, n_shards=1,
                              timeout=60) as fun:
        local = nnfast.Objective(X[:50], y[:50], LAYERS, lam=1.0, backend=B)
        _assert_same(*fun(theta), *local(theta))


# ------------------------------------------------------------------ validation
def test_numpy_inputs_validated_on_client(client, problem):
    X, y, _ = problem
    bad = X.copy()
    bad[7, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        DistributedObjective(bad, y, LAYERS, client=client)
    with pytest.raises(ValueError, match="class indices"):
        DistributedObjective(X, y + 1, LAYERS, client=client)
    with pytest.raises(ValueError, match="columns"):
        DistributedObjective(X[:, :399], y, LAYERS, client=client)
    with pytest.raises(ValueError, match="labels but X has"):
        DistributedObjective(X, y[:-1], LAYERS, client=client)


def test_dask_inputs_validated_per_shard_on_workers(client, problem):
    X, y, _ = problem
    bad = X.copy()
    bad[905, 11] = np.inf  # in the 4th chunk of 300 rows: rows 900..1199
    with pytest.raises(ValueError, match=r"shard 3 \(rows 900\.\.1199\).*NaN or inf"):
        DistributedObjective(da.from_array(bad, chunks=(300, 400)), da.from_array(y, chunks=300),
                             LAYERS, client=client, timeout=60)
    y_bad = y.copy()
    y_bad[310] = 10
    with pytest.raises(ValueError, match=r"shard 1 \(rows 300\.\.599\).*lie in \[0, 9\]"):
        DistributedObjective(da.from_array(X, chunks=(300, 400)), da.from_array(y_bad, chunks=300),
                             LAYERS, client=client, timeout=60)
    # shape problems are caught on the client, before anything runs
    with pytest.raises(ValueError, match="columns"):
        DistributedObjective(da.from_array(X[:, :399]), da.from_array(y), LAYERS, client=client)
    with pytest.raises(ValueError, match="rows but X has"):
        DistributedObjective(da.from_array(X), da.from_array(y[:-1]), LAYERS, client=client)
    with pytest.raises(TypeError, match="floating-point"):
        DistributedObjective(da.from_array((X * 10).astype(np.int64)), da.from_array(y), LAYERS,
                             client=client)


def test_theta_validated_per_call(client, problem):
    X, y, theta = problem
    with DistributedObjective(X, y, LAYERS, client=client, timeout=60) as fun:
        with pytest.raises(ValueError, match="length"):
            fun(theta[:-1])
        bad = theta.copy()
        bad[5] = np.nan
        with pytest.raises(ValueError, match="NaN or inf"):
            fun(bad)
        with pytest.raises(ValueError, match="flat vector"):
            fun(theta.reshape(1, -1))
        assert fun.n_evals == 0
        fun(theta)  # still usable
        assert fun.n_evals == 1


def test_auto_backend_matches_local_auto(client, problem):
    """backend="auto" picks each worker's fastest backend; the result is the same."""
    X, y, theta = problem
    local = nnfast.Objective(X, y, LAYERS, lam=1.0)
    with DistributedObjective(X, y, LAYERS, lam=1.0, backend="auto", client=client,
                              timeout=60) as fun:
        assert fun.backend_name == local.backend.name
        _assert_same(*fun(theta), *local(theta), rtol=1e-9)


def test_bad_arguments(client, problem):
    X, y, _ = problem
    with pytest.raises(ValueError, match="backend must be one of"):
        DistributedObjective(X, y, LAYERS, backend="nope", client=client)
    with pytest.raises(TypeError, match="client must be"):
        DistributedObjective(X, y, LAYERS, client=42)
    with pytest.raises(ValueError, match="n_shards"):
        DistributedObjective(X, y, LAYERS, client=client, n_shards=0)


# -------------------------------------------------------------- dask.dataframe
UNEVEN = [0, 100, 700, 1199]  # divisions of 3 partitions of 100, 600 and 500 rows


def _fail_if_computed_here(*args, **kwargs):
    raise AssertionError("a dask collection was computed in the client process")


@pytest.fixture
def no_local_compute():
    """Any dask.compute/.compute() that does not go through the cluster fails."""
    import dask

    with dask.config.set(scheduler=_fail_if_computed_here):
        yield


def _frame(X, columns=None):
    return pd.DataFrame(X, columns=columns or [f"px{i}" for i in range(X.shape[1])])


@needs_dd
@pytest.mark.parametrize("lam", [0.0, 1.0])
@pytest.mark.parametrize("y_kind", ["series", "one_column_frame", "one_hot_frame", "numpy"])
def test_dask_dataframe_inputs_match_local(client, problem, lam, y_kind, no_local_compute):
    X, y, theta = problem
    pdf = _frame(X)
    ddf = dd.from_pandas(pdf, npartitions=3).repartition(divisions=UNEVEN)
    assert ddf.npartitions == 3
    if y_kind == "series":  # partitioned differently from X: y must follow X's rows
        dy = dd.from_pandas(pd.Series(y, name="digit"), npartitions=2)
    elif y_kind == "one_column_frame":
        dy = dd.from_pandas(pd.DataFrame({"digit": y}), npartitions=5)
    elif y_kind == "one_hot_frame":
        dy = dd.from_pandas(pd.DataFrame(np.eye(10)[y], columns=list("abcdefghij")),
                            npartitions=4)
    else:
        dy = y.copy()
    local = nnfast.Objective(X, y, LAYERS, lam=lam, backend=B)
    with DistributedObjective(ddf, dy, LAYERS, lam=lam, client=client, timeout=60) as fun:
        assert fun.shard_sizes == [100, 600, 500] and fun.n_shards == 3
        assert fun.m == 1200 and fun.dtype == np.float64 and fun.backend_name == B
        _assert_same(*fun(theta), *local(theta))
        _assert_same(*fun(-0.5 * theta), *local(-0.5 * theta))
        assert fun.n_evals == 2
    # the inputs are as they were
    np.testing.assert_array_equal(pdf.to_numpy(), X)
    assert ddf.npartitions == 3 and tuple(ddf.divisions) == tuple(UNEVEN)
    if y_kind == "numpy":
        np.testing.assert_array_equal(dy, y)


@needs_dd
def test_dask_dataframe_n_shards_rechunks_rows(client, problem, no_local_compute):
    X, y, theta = problem
    ddf = dd.from_pandas(_frame(X), npartitions=3).repartition(divisions=UNEVEN)
    dy = dd.from_pandas(pd.Series(y), npartitions=3)
    local = nnfast.Objective(X, y, LAYERS, lam=1.0, backend=B)
    with DistributedObjective(ddf, dy, LAYERS, lam=1.0, client=client, n_shards=2,
                              timeout=60) as fun:
        assert fun.shard_sizes == [600, 600]
        _assert_same(*fun(theta), *local(theta))


@needs_dd
def test_dask_dataframe_filtered_rows_and_integer_column(client, problem, no_local_compute):
    """X and y as columns of one filtered DataFrame: partition lengths unknown to Dask
    (counted on the workers), one partition empty (no shard), an integer column in X."""
    X, y, theta = problem
    X = X.copy()
    X[:, 0] = np.round(3 * X[:, 0])  # whole numbers: stored as an int64 column below
    pdf = _frame(X)
    pdf["px0"] = pdf["px0"].astype(np.int64)
    pdf["label"] = y
    pdf["row"] = np.arange(len(pdf))
    df = dd.from_pandas(pdf, npartitions=4)  # 4 x 300 rows
    keep = np.r_[0:250, 700:1200]  # nothing from rows 300..599: partition 1 ends up empty
    sel = df[(df["row"] < 250) | (df["row"] >= 700)].drop(columns="row")
    Xs, ys = sel.drop(columns="label"), sel["label"]
    assert Xs.dtypes["px0"] == np.int64
    assert any(np.isnan(c) for c in Xs.to_dask_array().chunks[0])
    local = nnfast.Objective(X[keep], y[keep], LAYERS, lam=1.0, backend=B)
    with DistributedObjective(Xs, ys, LAYERS, lam=1.0, client=client, timeout=60) as fun:
        assert fun.shard_sizes == [250, 200, 300] and fun.m == 750
        assert fun.dtype == np.float64
        _assert_same(*fun(theta), *local(theta))


def test_dask_array_with_unknown_chunks_is_counted_on_cluster_and_left_unchanged(
        client, problem, no_local_compute):
    X, y, theta = problem
    rows = np.arange(1200) % 3 != 0
    mask = da.from_array(rows, chunks=300)
    dX = da.from_array(X, chunks=(300, 400))[mask]
    dy = da.from_array(y, chunks=300)[mask]
    assert all(np.isnan(c) for c in dX.chunks[0])
    local = nnfast.Objective(X[rows], y[rows], LAYERS, lam=1.0, backend=B)
    with DistributedObjective(dX, dy, LAYERS, lam=1.0, client=client, timeout=60) as fun:
        assert fun.shard_sizes == [200] * 4
        _assert_same(*fun(theta), *local(theta))
    assert all(np.isnan(c) for c in dX.chunks[0]), "the caller's array was modified"


@needs_dd
def test_dask_dataframe_non_numeric_columns_named(client, problem):
    X, y, _ = problem
    pdf = _frame(X[:, :398])
    pdf["city"] = np.where(y % 2 == 0, "Paris", "Lyon")
    pdf["kind"] = pd.Categorical(np.where(y < 5, "low", "high"))
    bad_X = dd.from_pandas(pdf, npartitions=2)
    dy = dd.from_pandas(pd.Series(y), npartitions=2)
    before = set(client.who_has())
    with pytest.raises(TypeError, match=r"^X is a dask DataFrame with 2 non-numeric columns: "
                                        r"'city' \(.+\), 'kind' \(category\)"):
        DistributedObjective(bad_X, dy, LAYERS, client=client, timeout=60)
    # a nullable (pandas extension) float column, and a bool column
    pdf = _frame(X)
    pdf["px7"] = pdf["px7"].astype("Float64")
    pdf["px9"] = pdf["px9"] > 0
    with pytest.raises(TypeError, match=r"X is a dask DataFrame with 2 non-numeric columns: "
                                        r"'px7' \(Float64\), 'px9' \(bool\)"):
        DistributedObjective(dd.from_pandas(pdf, npartitions=2), dy, LAYERS, client=client)
    ddf = dd.from_pandas(_frame(X), npartitions=2)
    labels = pd.Series(np.array(list("abcdefghij"))[y])
    with pytest.raises(TypeError, match=r"^y is a dask Series of dtype .+ must hold numbers"):
        DistributedObjective(ddf, dd.from_pandas(labels, npartitions=2), LAYERS, client=client)
    with pytest.raises(TypeError, match=r"y is a dask Series of dtype category.*cat\.codes"):
        DistributedObjective(ddf, dd.from_pandas(labels.astype("category"), npartitions=2),
                             LAYERS, client=client)
    y_frame = pd.DataFrame({"digit": y, "name": labels})
    with pytest.raises(TypeError, match=r"^y is a dask DataFrame with 1 non-numeric column: "
                                        r"'name'"):
        DistributedObjective(ddf, dd.from_pandas(y_frame, npartitions=2), LAYERS, client=client)
    # all-integer X: the same message as for NumPy inputs
    ints = dd.from_pandas(_frame(np.round(X).astype(np.int64)), npartitions=2)
    with pytest.raises(TypeError, match=r"X must hold floating-point values, got dtype int64"):
        DistributedObjective(ints, dy, LAYERS, client=client)
    # found from the metadata alone: nothing ran on the cluster
    assert set(client.who_has()) == before


@needs_dd
def test_dask_dataframe_bad_column_fails_before_a_cluster_is_started(problem):
    X, y, _ = problem
    pdf = _frame(X)
    pdf["px3"] = pdf["px3"].astype(str)
    before = _children()
    t0 = time.perf_counter()
    with pytest.raises(TypeError, match="'px3'"):
        DistributedObjective(dd.from_pandas(pdf, npartitions=2), y, LAYERS)  # client=None
    assert _children() - before == set()
    assert time.perf_counter() - t0 < 5


@needs_dd
def test_dask_dataframe_shape_errors_named(client, problem, no_local_compute):
    X, y, _ = problem
    ddf = dd.from_pandas(_frame(X), npartitions=3).repartition(divisions=UNEVEN)
    short_y = dd.from_pandas(pd.Series(y[:-1]), npartitions=2)
    with pytest.raises(ValueError, match=r"^y has 1199 rows but X has 1200"):
        DistributedObjective(ddf, short_y, LAYERS, client=client, timeout=60)
    with pytest.raises(ValueError, match=r"^y has 1201 rows but X has 1200"):
        DistributedObjective(ddf, np.r_[y, 0], LAYERS, client=client, timeout=60)
    short_X = dd.from_pandas(_frame(X[:1100]), npartitions=2)
    with pytest.raises(ValueError, match=r"^y has 1200 rows but X has 1100"):
        DistributedObjective(short_X, dd.from_pandas(pd.Series(y), npartitions=2), LAYERS,
                             client=client, timeout=60)
    with pytest.raises(ValueError, match=r"^X has 399 columns but layer_sizes\[0\] is 400"):
        DistributedObjective(dd.from_pandas(_frame(X[:, :399]), npartitions=2), y, LAYERS,
                             client=client)
    y3 = dd.from_pandas(pd.DataFrame({"a": y, "b": y, "c": y}), npartitions=2)
    with pytest.raises(ValueError, match=r"^y has 3 columns, expected 1 \(class indices\) "
                                         r"or 10"):
        DistributedObjective(ddf, y3, LAYERS, client=client)
    empty = dd.from_pandas(_frame(X[:0]), npartitions=1)
    with pytest.raises(ValueError, match=r"^X is empty"):
        DistributedObjective(empty, y[:0], LAYERS, client=client, timeout=60)


@needs_dd
def test_dask_dataframe_bad_values_name_the_partition_rows(client, problem):
    X, y, _ = problem
    bad = X.copy()
    bad[450, 17] = np.nan  # in the second partition: rows 100..699
    ddf = dd.from_pandas(_frame(bad), npartitions=3).repartition(divisions=UNEVEN)
    with pytest.raises(ValueError, match=r"shard 1 \(rows 100\.\.699\).*NaN or inf"):
        DistributedObjective(ddf, dd.from_pandas(pd.Series(y), npartitions=2), LAYERS,
                             client=client, timeout=60)
    y_bad = y.copy()
    y_bad[1000] = 10
    ddf = dd.from_pandas(_frame(X), npartitions=3).repartition(divisions=UNEVEN)
    with pytest.raises(ValueError, match=r"shard 2 \(rows 700\.\.1199\).*lie in \[0, 9\]"):
        DistributedObjective(ddf, dd.from_pandas(pd.Series(y_bad), npartitions=2), LAYERS,
                             client=client, timeout=60)


# -------------------------------------------------------------------- training
def _accuracy(theta, X, y, layers):
    return float(np.mean(nnfast.predict(theta, X, layers, backend=B) == y))


def test_training_reaches_local_accuracy(client, digits):
    X, y = digits
    layers = [64, 25, 10]
    theta0 = nnfast.init_theta(layers, random_state=0)
    opts = dict(jac=True, method="L-BFGS-B", options={"maxiter": 60})
    local = nnfast.Objective(X, y, layers, lam=1.0, backend=B)
    res_local = scipy_optimize.minimize(local, theta0, **opts)
    with DistributedObjective(X, y, layers, lam=1.0, client=client, timeout=60) as fun:
        res_dist = scipy_optimize.minimize(fun, theta0, **opts)
        assert fun.n_evals == res_dist.nfev
    acc_local = _accuracy(res_local.x, X, y, layers)
    acc_dist = _accuracy(res_dist.x, X, y, layers)
    assert acc_local > 0.9
    assert abs(acc_dist - acc_local) <= 0.01
    np.testing.assert_allclose(res_dist.fun, res_local.fun, rtol=1e-3)


def test_train_with_client(client, digits):
    X, y = digits
    layers = [64, 25, 10]
    res = nnfast.train(X, y, layers, lam=1.0, max_iter=60, random_state=0, backend=B,
                       client=client, progress=False)
    assert res.backend == B and res.train_accuracy is None  # the data stay on the cluster
    assert _accuracy(res.theta, X, y, layers) > 0.9
    assert client.status == "running"  # a borrowed client is left open


@needs_dd
def test_train_with_client_and_dask_dataframe(client, digits, no_local_compute):
    """nnfast.train hands a dask DataFrame/Series straight to DistributedObjective:
    the run follows the local one evaluation for evaluation."""
    from nnfast.training import train

    X, y = digits
    layers = [64, 25, 10]
    m = X.shape[0]
    ddf = dd.from_pandas(_frame(X), npartitions=3).repartition(divisions=[0, 200, 1300, m - 1])
    dy = dd.from_pandas(pd.Series(y), npartitions=2)
    kw = dict(lam=1.0, max_iter=30, random_state=0, backend=B, progress=False)
    res_local = train(X, y, layers, **kw)
    res = train(ddf, dy, layers, client=client, **kw)
    assert res.n_iter == res_local.n_iter and res.n_evals == res_local.n_evals
    np.testing.assert_allclose(res.cost_history, res_local.cost_history, rtol=1e-7)
    np.testing.assert_allclose(res.theta, res_local.theta, rtol=1e-5, atol=1e-7)
    assert res.accuracy(X, y) > 0.9
    assert client.status == "running"


# ---------------------------------------------------------------- worker death
def _kill_one_worker_during(client, evaluate, n_calls, kill_after_s):
    """Evaluate n_calls times while one worker process is SIGKILLed mid-sequence."""
    pid = next(iter(_worker_pids(client).values()))
    killer = threading.Timer(kill_after_s, os.kill, (pid, signal.SIGKILL))
    outcomes = []
    killer.start()
    try:
        for _ in range(n_calls):
            try:
                outcomes.append(evaluate())
            except ShardLostError as exc:  # acceptable: a clear error, never a wrong gradient
                outcomes.append(exc)
    finally:
        killer.join()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it for the next tests
    return outcomes


@pytest.mark.parametrize("kind", ["numpy", "dask"])
def test_worker_killed_during_training(client, problem, kind):
    X, y, theta = problem
    local = nnfast.Objective(X, y, LAYERS, lam=1.0, backend=B)
    J0, g0 = local(theta)
    if kind == "dask":
        X, y = da.from_array(X, chunks=(300, 400)), da.from_array(y, chunks=300)
    with DistributedObjective(X, y, LAYERS, lam=1.0, client=client, timeout=60) as fun:
        _assert_same(*fun(theta), J0, g0)
        outcomes = _kill_one_worker_during(client, lambda: fun(theta), n_calls=25,
                                           kill_after_s=0.3)
        # and afterwards, once the worker is back
        outcomes.append(fun(theta))
        for out in outcomes:
            if isinstance(out, Exception):
                continue
            _assert_same(*out, J0, g0)
        assert not isinstance(outcomes[-1], Exception)
        assert sum(not isinstance(o, Exception) for o in outcomes) >= len(outcomes) - 2
        if kind == "numpy":  # the scattered shard on the dead worker had to be re-sent
            assert fun.n_recoveries >= 1


# ---------------------------------------------------------------- lifetimes
def _children():
    """Child processes of this process, except multiprocessing's resource tracker
    (started with the first spawned process, it lives as long as the interpreter)."""
    pids = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" in " ".join(p.cmdline()):
                continue
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        pids.add(p.pid)
    return pids


def test_own_local_cluster_is_closed_without_leftovers(problem):
    X, y, theta = problem
    before = _children()
    fun = DistributedObjective(X, y, LAYERS, lam=1.0, n_workers=2, timeout=60)
    try:
        workers = set(_worker_pids(fun.client).values())
        assert len(workers) == 2 and workers <= _children() - before
        _assert_same(*fun(theta), *nnfast.Objective(X, y, LAYERS, lam=1.0, backend=B)(theta))
    finally:
        fun.close()
    deadline = time.time() + 20
    while (_children() - before) and time.time() < deadline:
        time.sleep(0.1)
    assert _children() - before == set()
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                   for p in workers)
    with pytest.raises(RuntimeError, match="closed"):
        fun(theta)
    fun.close()  # idempotent


def test_scheduler_address_and_borrowed_client(cluster, client, problem):
    X, y, theta = problem
    J0, g0 = nnfast.Objective(X, y, LAYERS, backend=B)(theta)
    with DistributedObjective(X, y, LAYERS, client=cluster.scheduler_address, timeout=60) as fun:
        _assert_same(*fun(theta), J0, g0)
        own = fun.client
    assert own.status == "closed"
    fun2 = DistributedObjective(X, y, LAYERS, client=client, timeout=60)
    mine = set(f.key for f in fun2._shards.futures + fun2._shards.scattered)
    assert mine <= set(client.who_has())
    fun2.close()
    assert client.status == "running"  # a Client passed in stays open
    # and the shards it held are released on the cluster
    deadline = time.time() + 10
    while mine & set(client.who_has()) and time.time() < deadline:
        time.sleep(0.1)
    assert not mine & set(client.who_has()), mine & set(client.who_has())


def test_nnfast_imports_without_dask():
    code = (
        "import sys\n"
        "sys.modules['dask'] = None\n"
        "sys.modules['distributed'] = None\n"
        "import numpy as np, nnfast\n"
        "X = np.random.default_rng(0).random((20, 4)); y = np.arange(20) % 3\n"
        "nnfast.Objective(X, y, [4, 3, 3], backend='numpy')(nnfast.init_theta([4, 3, 3], random_state=0))\n"
        "try:\n"
        "    import nnfast.distributed\n"
        "except ImportError as exc:\n"
        "    assert 'nnfast[distributed]' in str(exc), exc\n"
        "else:\n"
        "    raise SystemExit('imported without dask')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_prepared_shard_pickles_for_any_backend(problem, backend):
    """A shard moved between workers is re-prepared there (compiled backends'
    prepared data need not pickle)."""
    import pickle

    from nnfast.distributed._worker import prepare_shard

    X, y, theta = problem
    shard = prepare_shard(X[:100], y[:100], 0, 0, 400, 10, "<f8", backend, tuple(LAYERS),
                          "cross_entropy", 1, {}, True)
    moved = pickle.loads(pickle.dumps(shard))
    assert moved.backend.name == backend and moved.m == 100
    a, b = shard.loss_grad_sum(theta, True), moved.loss_grad_sum(theta, True)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
