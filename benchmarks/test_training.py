"""End-to-end training on the ex4 shape: 400 L-BFGS-B iterations through scipy.

See ``benchmarks/conftest.py`` for how to run.
"""

import numpy as np
import pytest
from scipy.optimize import minimize

import nnfast

from conftest import LAM, THREADS

ITERS = 400
BACKENDS = [b for b in nnfast.available_backends() if b != "loop"]
_final = {}


def _train(obj, theta0):
    return minimize(obj, theta0, jac=True, method="L-BFGS-B",
                    options={"maxiter": ITERS, "gtol": 1e-12, "ftol": 1e-15})


@pytest.mark.parametrize("backend", ["numpy"] + [b for b in BACKENDS if b != "numpy"])
def test_train_lbfgsb_ex4(benchmark, problem, backend):
    p = problem("ex4")
    obj = nnfast.Objective(p.X, p.y, p.sizes, lam=LAM, backend=backend, n_threads=THREADS)
    theta0 = nnfast.init_theta(p.sizes, "auto", random_state=1)
    obj(theta0)  # warm-up
    benchmark.group = "train ex4 L-BFGS-B 400 iterations"
    res = benchmark.pedantic(_train, args=(obj, theta0), rounds=1, iterations=1)
    benchmark.extra_info.update(nit=int(res.nit), nfev=int(res.nfev), final_cost=float(res.fun))

    # the result against the reference: the NumPy backend's cost at the returned weights,
    # and the end point of the same run with the NumPy backend
    ref = nnfast.Objective(p.X, p.y, p.sizes, lam=LAM, backend="numpy")
    assert res.fun == pytest.approx(ref.cost(res.x), rel=1e-9)
    J0 = ref.cost(theta0)
    assert res.fun < 0.5 * J0
    acc = np.mean(nnfast.predict(res.x, p.X, p.sizes, backend="numpy") == p.y)
    assert acc > 0.9
    _final[backend] = res.fun
    if backend != "numpy" and "numpy" in _final:
        # 400 iterations amplify round-off differences; the minima reached agree closely
        assert res.fun == pytest.approx(_final["numpy"], rel=0.05)
