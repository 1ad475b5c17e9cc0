"""nnfast.train and nnfast.validation_curve: methods, budgets, bookkeeping, real-data accuracy."""

import re

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

import nnfast
from nnfast.training import IterationInfo, TrainResult, validation_curve

from conftest import BACKENDS_AND_AUTO

SMALL = [64, 12, 10]
FAST = dict(backend="numpy", n_threads=1, progress=False)


@pytest.fixture(scope="module")
def small(digits):
    """600 digits for training, 200 for validation."""
    X, y = digits
    return X[:600], y[:600], X[600:800], y[600:800]


@pytest.mark.parametrize("method,kw", [
    ("L-BFGS-B", {}), ("TNC", {}), ("CG", {}), ("gd", {"max_iter": 60}),
    ("sgd", {"batch_size": 50}), ("adam", {"batch_size": 50}),
])
def test_every_method_learns_and_keeps_one_iteration_meaning(small, method, kw):
    X, y, Xv, yv = small
    kw = dict({"max_iter": 15}, **kw)
    res = nnfast.train(X, y, SMALL, method=method, random_state=0, validation=(Xv, yv),
                       **FAST, **kw)
    assert isinstance(res, TrainResult)
    assert res.n_iter <= kw["max_iter"]
    assert res.cost_history.shape == (res.n_iter + 1,)
    assert res.val_cost_history.shape == res.val_accuracy_history.shape == (res.n_iter + 1,)
    assert res.cost_history[-1] < 0.7 * res.cost_history[0]
    assert res.val_accuracy_history[-1] > 0.6
    assert res.n_evals >= 1 and res.wall_time > 0
    assert res.theta.dtype == np.float64 and res.theta.shape == (nnfast.n_params(SMALL),)
    if method in ("sgd", "adam"):
        assert res.n_iter == 15  # epochs
        assert res.n_batch_evals == 15 * 12  # 600 / 50 batches per epoch
    else:
        assert res.n_batch_evals == 0
    if res.n_iter == kw["max_iter"]:
        assert res.stop_reason == f"max_iter={kw['max_iter']} iterations done"


def test_same_random_state_same_result_and_different_seed_differs(small):
    X, y, _, _ = small
    for method in ("L-BFGS-B", "sgd"):
        a = nnfast.train(X, y, SMALL, method=method, max_iter=5, random_state=3, **FAST)
        b = nnfast.train(X, y, SMALL, method=method, max_iter=5, random_state=3, **FAST)
        c = nnfast.train(X, y, SMALL, method=method, max_iter=5, random_state=4, **FAST)
        np.testing.assert_array_equal(a.theta, b.theta)
        np.testing.assert_array_equal(a.cost_history, b.cost_history)
        assert not np.allclose(a.theta, c.theta)


def test_max_fun_caps_evaluations_and_tnc_reason_is_plain_words(small):
    X, y, _, _ = small
    res = nnfast.train(X, y, SMALL, method="TNC", max_fun=40, random_state=0, **FAST)
    assert res.n_evals == 40
    assert "TNC used up its budget of cost/gradient evaluations" in res.stop_reason
    assert "counts evaluations, not iterations" in res.stop_reason
    assert res.n_iter < 40
    for method in ("L-BFGS-B", "CG", "gd"):
        res = nnfast.train(X, y, SMALL, method=method, max_fun=12, max_iter=400, random_state=0,
                           **FAST)
        assert res.n_evals <= 12, method
        assert "budget" in res.stop_reason and not res.converged


def test_convergence_is_reported(small):
    X, y, _, _ = small
    # a tiny network converges quickly to a loose gradient tolerance
    res = nnfast.train(X[:100], y[:100], [64, 10], method="L-BFGS-B", lam=10.0, max_iter=400,
                       tol=1e-3, random_state=0, **FAST)
    assert res.converged and res.stop_reason.startswith("converged")
    assert res.n_iter < 400
    res = nnfast.train(X[:100], y[:100], [64, 10], method="gd", lam=10.0, max_iter=2000,
                       learning_rate=0.5, tol=1e-2, random_state=0, **FAST)
    assert res.converged and "tol=0.01" in res.stop_reason


def test_plain_gradient_descent_is_theta_minus_lr_grad(small):
    X, y, _, _ = small
    theta0 = nnfast.init_theta(SMALL, random_state=1)
    res = nnfast.train(X, y, SMALL, method="gd", learning_rate=0.5, max_iter=2, theta0=theta0,
                       **FAST)
    obj = nnfast.Objective(X, y, SMALL, lam=1.0, backend="numpy")
    theta = theta0.copy()
    for _ in range(2):
        theta = theta - 0.5 * obj(theta)[1]
    np.testing.assert_allclose(res.theta, theta, rtol=1e-12, atol=1e-14)
    assert res.cost_history.shape == (3,)
    assert res.cost_history[0] == pytest.approx(obj.cost(theta0), rel=1e-12)
    assert res.cost_history[-1] == pytest.approx(obj.cost(theta), rel=1e-12)


def test_callback_sees_each_iteration_and_can_stop(small):
    X, y, _, _ = small
    seen = []

    def callback(info):
        assert isinstance(info, IterationInfo)
        assert not info.theta.flags.writeable
        seen.append((info.iteration, info.cost))
        return info.iteration == 4

    res = nnfast.train(X, y, SMALL, max_iter=50, callback=callback, random_state=0, **FAST)
    assert [i for i, _ in seen] == [1, 2, 3, 4]
    assert res.n_iter == 4
    assert res.stop_reason == "the callback asked to stop after iteration 4"
    np.testing.assert_allclose([c for _, c in seen], res.cost_history[1:])


def test_early_stopping_keeps_the_best_parameters(small):
    X, y, Xv, yv = small
    # λ = 0 and a small training set over-fit: the validation cost turns up
    res = nnfast.train(X[:150], y[:150], [64, 40, 10], lam=0.0, max_iter=400, random_state=0,
                       validation=(Xv, yv), early_stopping=True, patience=5, **FAST)
    assert res.stop_reason.startswith("early stopping")
    assert res.n_iter < 400
    best = int(np.argmin(res.val_cost_history))
    assert res.best_iteration == best
    assert res.n_iter == best + 5
    val = nnfast.Objective(Xv, yv, [64, 40, 10], lam=0.0, backend="numpy")
    assert val.cost(res.best_theta) == pytest.approx(res.val_cost_history[best], rel=1e-12)
    assert res.accuracy(Xv, yv, best=True) == pytest.approx(res.val_accuracy_history[best])


def test_progress_bar_only_when_asked(small, capsys):
    X, y, _, _ = small
    nnfast.train(X, y, SMALL, max_iter=3, random_state=0, backend="numpy", progress=False)
    assert capsys.readouterr().err == ""
    nnfast.train(X, y, SMALL, max_iter=3, random_state=0, backend="numpy", progress=True)
    err = capsys.readouterr().err
    assert "nnfast L-BFGS-B" in err and "3/3" in err
    # default (None): silent when stderr is not a terminal, as under pytest
    nnfast.train(X, y, SMALL, max_iter=3, random_state=0, backend="numpy")
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("backend", BACKENDS_AND_AUTO, indirect=True)
def test_any_backend_name_is_passed_through(small, backend):
    X, y, _, _ = small
    ref = nnfast.train(X[:200], y[:200], SMALL, max_iter=5, random_state=0, **FAST)
    res = nnfast.train(X[:200], y[:200], SMALL, max_iter=5, random_state=0, backend=backend,
                       progress=False)
    assert res.backend == nnfast.get_backend(backend).name
    np.testing.assert_allclose(res.cost_history, ref.cost_history, rtol=1e-7)


def test_float32_working_dtype(small):
    X, y, Xv, yv = small
    res = nnfast.train(X, y, SMALL, max_iter=20, random_state=0, dtype=np.float32,
                       validation=(Xv, yv), **FAST)
    assert res.dtype == "float32"
    assert res.theta.dtype == np.float64  # the optimiser works in float64
    assert res.val_accuracy_history[-1] > 0.8


def test_bad_arguments_give_clear_errors(small):
    X, y, _, _ = small
    with pytest.raises(ValueError, match="method must be one of"):
        nnfast.train(X, y, SMALL, method="BFGS", **FAST)
    with pytest.raises(ValueError, match="max_iter must be at least 1"):
        nnfast.train(X, y, SMALL, max_iter=0, **FAST)
    with pytest.raises(ValueError, match="needs a validation set"):
        nnfast.train(X, y, SMALL, early_stopping=True, **FAST)
    with pytest.raises(ValueError, match="theta0 has length 5"):
        nnfast.train(X, y, SMALL, theta0=np.zeros(5), **FAST)
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        nnfast.train(X, y, SMALL, method="gd", learning_rate=-1, **FAST)
    with pytest.raises(ValueError, match="X_val has 3 columns"):
        nnfast.train(X, y, SMALL, validation=(X[:5, :3], y[:5]), **FAST)


def test_diverging_learning_rate_is_explained(small):
    X, y, _, _ = small
    res = nnfast.train(X, y, SMALL, method="gd", learning_rate=1e200, max_iter=50,
                       random_state=0, **FAST)
    assert "NaN or infinite" in res.stop_reason and "learning rate" in res.stop_reason
    assert np.all(np.isfinite(res.theta))


def test_client_builds_a_distributed_objective(small):
    pytest.importorskip("nnfast.distributed")
    distributed = pytest.importorskip("distributed")
    X, y, _, _ = small
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        res = nnfast.train(X, y, SMALL, max_iter=5, random_state=0, client=client, **FAST)
    local = nnfast.train(X, y, SMALL, max_iter=5, random_state=0, **FAST)
    np.testing.assert_allclose(res.cost_history, local.cost_history, rtol=1e-8)
    with pytest.raises(ValueError, match="full-batch methods"):
        nnfast.train(X, y, SMALL, method="sgd", client=object(), **FAST)


def test_validation_curve_warm_starts_and_reports(small):
    X, y, Xv, yv = small
    curve = validation_curve(X, y, SMALL, lams=(0.0, 1.0, 50.0), validation=(Xv, yv),
                             max_iter=40, random_state=0, **FAST)
    assert curve.lams.tolist() == [0.0, 1.0, 50.0]
    for arr in (curve.train_accuracy, curve.val_accuracy, curve.train_cost, curve.val_cost,
                curve.objective):
        assert arr.shape == (3,) and np.all(np.isfinite(arr))
    # warm start: the λ = 1 fit starts where the λ = 0 fit ended
    obj1 = nnfast.Objective(X, y, SMALL, lam=1.0, backend="numpy")
    assert curve.results[1].cost_history[0] == pytest.approx(obj1.cost(curve.results[0].theta))
    # strong regularisation fits the training data worse
    assert curve.train_accuracy[2] < curve.train_accuracy[0]
    assert curve.train_cost[2] > curve.train_cost[0]
    assert curve.best_lam in (0.0, 1.0, 50.0)
    assert "train acc" in curve.table()


# --------------------------------------------------------------------------------------
# outcomes on real data


def test_sklearn_digits_held_out_accuracy_at_least_96_percent(digits):
    X, y = digits
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    res = nnfast.train(X_tr, y_tr, [64, 25, 10], lam=1.0, max_iter=400, random_state=0, **FAST)
    acc = res.accuracy(X_te, y_te)
    print(f"sklearn digits held-out accuracy: {acc:.4f}")
    assert acc >= 0.96


def test_mnist_t10k_held_out_accuracy_at_least_94_percent(mnist_t10k):
    X, y = mnist_t10k
    X_tr, y_tr, X_te, y_te = X[:8000], y[:8000], X[8000:], y[8000:]
    # 100 of the allowed 400 iterations (~95% already; keeps the suite short)
    res = nnfast.train(X_tr, y_tr, [784, 25, 10], lam=1.0, max_iter=100, random_state=0, **FAST)
    acc = res.accuracy(X_te, y_te)
    print(f"MNIST held-out accuracy after {res.n_iter} iterations: {acc:.4f}")
    assert res.n_iter <= 100
    # the budget ended it, or L-BFGS-B's own convergence test did before it
    assert res.stop_reason == "max_iter=100 iterations done" or res.converged, res.stop_reason
    assert acc >= 0.94


def test_ex4_training_accuracy_at_least_95_percent(ex4_data):
    X, y = ex4_data
    res = nnfast.train(X, y, [400, 25, 10], lam=1.0, max_iter=400, random_state=0, **FAST)
    acc = res.accuracy(X, y)
    print(f"ex4 training accuracy: {acc:.4f}")
    assert acc >= 0.95


def test_validation_cost_is_the_unregularised_objective_cost(digits):
    X, y = digits
    sizes = [64, 10, 10]
    result = nnfast.train(X[:1200], y[:1200], sizes, lam=1.0, max_iter=15, backend="numpy",
                          validation=(X[1200:], y[1200:]), random_state=0, progress=False)
    val_obj = nnfast.Objective(X[1200:], y[1200:], sizes, lam=0.0, backend="numpy")
    assert result.val_cost_history[-1] == pytest.approx(val_obj.cost(result.theta), rel=1e-12)
    acc = np.mean(nnfast.predict(result.theta, X[1200:], sizes, backend="numpy") == y[1200:])
    assert result.val_accuracy_history[-1] == pytest.approx(acc)


def test_print_result_is_a_short_summary_not_arrays(small):
    # README: print(result) shows the stop reason, evaluations, wall time and accuracy
    X, y, Xv, yv = small
    res = nnfast.train(X, y, SMALL, max_iter=5, random_state=0, validation=(Xv, yv), **FAST)
    text = str(res)
    assert len(text.splitlines()) <= 8
    assert res.stop_reason in text and f"{res.n_evals} cost/gradient evaluations" in text
    assert f"{res.wall_time:.2f} s" in text
    assert f"training accuracy {100 * res.accuracy(X, y):.2f}%" in text
    assert f"accuracy {100 * res.val_accuracy_history[-1]:.2f}%" in text
    assert res.train_accuracy == pytest.approx(res.accuracy(X, y))
    short = repr(res)
    assert "\n" not in short and len(short) < 250 and "array" not in short
    assert short.startswith("TrainResult(method='L-BFGS-B'")
    info = IterationInfo(1, res.theta, 1.0, None, None, 2, 0.1)
    assert "array" not in repr(info) and len(repr(info)) < 200


def test_print_validation_curve_is_its_table(small):
    X, y, Xv, yv = small
    curve = validation_curve(X, y, SMALL, lams=(0, 1), max_iter=3, random_state=0,
                             validation=(Xv, yv), **FAST)
    assert str(curve) == curve.table() and len(str(curve).splitlines()) == 3
    assert repr(curve) == f"ValidationCurve(lams=[0.0, 1.0], best_lam={curve.best_lam:g}, fits=2)"


@pytest.mark.parametrize("lam", [1e300, 1e200])
def test_huge_lam_is_named_as_the_reason_training_cannot_start(small, lam):
    X, y, _, _ = small
    for method in ("L-BFGS-B", "gd", "adam"):
        with pytest.raises(ValueError, match=rf"lam={re.escape(f'{lam:g}')} is too large: .*L2 penalty"):
            nnfast.train(X, y, SMALL, lam=lam, method=method, random_state=0, **FAST)


def test_non_finite_start_is_a_clear_error_not_a_private_exception(small):
    X, y, _, _ = small
    theta0 = np.full(nnfast.n_params(SMALL), 1e200)
    for method in ("L-BFGS-B", "TNC", "gd", "sgd"):
        with pytest.raises(ValueError, match="cost at the starting point theta0 is not finite"):
            nnfast.train(X, y, SMALL, lam=1.0, theta0=theta0, method=method, **FAST)


@pytest.mark.parametrize("lam, exc, match", [
    (np.nan, ValueError, r"lam must be finite and >= 0 \(the L2 strength λ\), got nan"),
    (np.inf, ValueError, "lam must be finite"),
    (-0.5, ValueError, "lam must be finite and >= 0"),
    ("1", TypeError, r"lam must be a real number >= 0 .*got '1' \(str\)"),
    (True, TypeError, r"lam must be a real number .*\(bool\)"),
    (None, TypeError, "lam must be a real number"),
])
def test_lam_is_validated_by_train_and_validation_curve(small, lam, exc, match):
    X, y, _, _ = small
    with pytest.raises(exc, match=match):
        nnfast.train(X, y, SMALL, lam=lam, **FAST)
    with pytest.raises(exc, match=match.replace("lam", r"lams\[1\]", 1)):
        validation_curve(X, y, SMALL, lams=[0.0, lam], max_iter=2, **FAST)


def test_optimiser_stepping_to_inf_stops_with_a_reason(small):
    # lam = 1e150 starts finite, but the scaled steps overflow for gd: a stop reason in
    # words (the last finite parameters are kept), not "theta contains NaN or inf"
    X, y, _, _ = small
    res = nnfast.train(X, y, SMALL, lam=1e150, method="gd", random_state=0, **FAST)
    assert "NaN or infinite" in res.stop_reason and not res.converged
    assert np.all(np.isfinite(res.theta)) and np.all(np.isfinite(res.cost_history))
