"""backend="auto": a measured choice per network, dtype and size of data."""

import time

import numpy as np
import pytest

from _oracle import Tolerance, assert_matches_oracle

import nnfast
from nnfast.backends import _auto, unregister_backend
from nnfast.backends._numpy import NumpyBackend

SIZES = [60, 40, 5]


@pytest.fixture(autouse=True)
def fresh_choices():
    _auto.forget_choices()
    yield
    _auto.forget_choices()


def _data(m, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (m, SIZES[0])), rng.integers(0, SIZES[-1], m)


class _Slow(NumpyBackend):
    """numpy's arithmetic, 20 ms later: a fused backend that loses on this machine."""
    name = "slow_for_test"

    def loss_grad_sum(self, *args):
        time.sleep(0.02)
        return super().loss_grad_sum(*args)


class _AsFast(NumpyBackend):
    """numpy's arithmetic at numpy's speed: a tie, which keeps the order of preference."""
    name = "as_fast_for_test"


@pytest.fixture
def registered(request, register_test_backend):
    cls = request.param
    register_test_backend(cls.name, cls, auto=True)
    return cls.name


def test_auto_resolves_to_a_concrete_backend():
    X, y = _data(3000)
    fun = nnfast.Objective(X, y, SIZES, backend="auto")
    assert fun.backend.name in nnfast.available_backends() and fun.backend.name != "auto"
    theta = nnfast.init_theta(SIZES, random_state=0)
    assert_matches_oracle(fun(theta), nnfast.Objective(X, y, SIZES, backend="numpy")(theta),
                          tolerance=Tolerance(cost_rtol=1e-10, grad_rtol=1e-9, grad_atol=1e-12))


@pytest.mark.parametrize("registered", [_Slow], indirect=True)
def test_a_slower_preferred_backend_is_passed_over(registered, monkeypatch):
    # the two candidates only: a numba kernel an earlier test compiled for this network
    # would be a third, and may rightly beat numpy
    monkeypatch.setattr(_auto, "_compiled_for", lambda *args: (lambda backend: False))
    X, y = _data(3000)      # 3000 x 2645 parameters: above MEASURE_ABOVE
    assert X.shape[0] * nnfast.n_params(SIZES) >= _auto.MEASURE_ABOVE
    fun = nnfast.Objective(X, y, SIZES, backend="auto")
    assert fun.backend.name == "numpy"
    (choice,) = _auto.remembered_choices().values()
    assert choice == "numpy"


@pytest.mark.parametrize("registered", [_AsFast], indirect=True)
@pytest.mark.parametrize("numpy_seconds, chosen", [(0.95, "preferred"), (1.0, "preferred"),
                                                   (0.85, "numpy")])
def test_a_tie_keeps_the_order_of_preference(registered, numpy_seconds, chosen, monkeypatch):
    # the rule, on given timings (a measured tie of two equal kernels is within the
    # machine's noise, which the margin is there to absorb, but not always under load)
    monkeypatch.setattr(_auto, "_time_backends",
                        lambda candidates, *a, **k: {b.name: [numpy_seconds if b.name == "numpy"
                                                              else 1.0] * 2 for b in candidates})
    X, y = _data(3000)
    expected = registered if chosen == "preferred" else "numpy"
    assert nnfast.Objective(X, y, SIZES, backend="auto").backend.name == expected


class _Counted(NumpyBackend):
    """numpy's arithmetic, counting the calls auto's measurement makes."""
    name = "counted_for_test"
    calls = 0

    def loss_grad_sum(self, *args):
        type(self).calls += 1
        return super().loss_grad_sum(*args)


@pytest.fixture
def timings(monkeypatch):
    """What each of auto's measurements returned, in order."""
    seen = []
    real = _auto._time_backends
    monkeypatch.setattr(_auto, "_time_backends",
                        lambda *a, **k: seen.append(real(*a, **k)) or seen[-1])
    return seen


@pytest.mark.parametrize("registered", [_Counted], indirect=True)
def test_every_candidate_is_timed_for_real_in_turns(registered, timings):
    # the measurement itself, without asserting which of two equal kernels wins (that is
    # the machine's noise; the rule on given timings is tested above): each candidate gets
    # ROUNDS to MAX_ROUNDS blocks of one untimed and CALLS timed calls, and a real,
    # finite time for each
    _Counted.calls = 0
    X, y = _data(3000)
    chosen = nnfast.Objective(X, y, SIZES, backend="auto").backend.name
    (rounds,) = timings
    assert {registered, "numpy"} <= set(rounds)
    n_rounds = len(rounds[registered])
    assert _auto.ROUNDS <= n_rounds <= _auto.MAX_ROUNDS
    assert all(len(r) == n_rounds and all(0 < t < 10 for t in r) for r in rounds.values())
    assert _Counted.calls == n_rounds * (_auto.CALLS + 1)
    assert chosen in rounds


@pytest.mark.parametrize("rounds, chosen, settled", [
    ({"a": [1.0, 1.0], "b": [0.85, 0.8]}, "b", True),      # clearly faster in every round
    ({"a": [1.0, 1.0], "b": [0.95, 1.3]}, "a", True),      # a tie keeps the preference
    ({"a": [1.0, 1.0], "b": [0.7, 1.0]}, "b", False),      # the rounds disagree
    ({"a": [1.0, 1.0, 1.0], "b": [0.8, 1.0, 0.8]}, "b", False),
    ({"a": [1.0, 1.0, 1.0], "b": [0.8, 1.0, 1.0]}, "a", False),
    # the machine slowed down 3x in the second round: ratios within a round still tell
    ({"a": [1.0, 3.0], "b": [0.7, 2.1]}, "b", True),
    # b displaces a, then c is compared with b
    ({"a": [1.0, 1.0], "b": [0.5, 0.5], "c": [0.6, 0.6]}, "b", True),
    ({"a": [1.0, 1.0], "b": [0.5, 0.5], "c": [0.4, 0.4]}, "c", True),
])
def test_the_rule_compares_round_by_round(rounds, chosen, settled):
    assert _auto._decide(list(rounds), rounds) == (chosen, settled)


def _scripted_rounds(monkeypatch, script):
    """Make each round of measurement return the next of ``script`` (name -> seconds)."""
    script = iter(script)
    monkeypatch.setattr(_auto, "_time_round", lambda prepared, *a: next(script))


@pytest.mark.parametrize("registered", [_AsFast], indirect=True)
@pytest.mark.parametrize("budget, n_rounds, chosen", [
    (1e9, "MAX_ROUNDS", "numpy"),       # odd: 4 rounds at 0.8, 3 at 1.0: the median is 0.8
    (0.0, "ROUNDS", "preferred"),       # the budget spent: 0.8 and 1.0, median 0.9, a tie
])
def test_rounds_that_disagree_are_measured_further(registered, monkeypatch, timings, budget,
                                                   n_rounds, chosen):
    # the fused backend 0.8x numpy's time in one round, 1.0x in the next, and so on: no
    # agreement, so rounds go on until MAX_ROUNDS or the time budget; then the median decides
    monkeypatch.setattr(_auto, "MEASURE_BUDGET_S", budget)
    script = [{registered: 1.0, "numpy": 0.8 if r % 2 == 0 else 1.0} for r in range(100)]
    _scripted_rounds(monkeypatch, script)
    X, y = _data(3000)
    name = nnfast.Objective(X, y, SIZES, backend="auto").backend.name
    assert len(timings[0]["numpy"]) == getattr(_auto, n_rounds)
    assert name == (registered if chosen == "preferred" else chosen)


@pytest.mark.parametrize("registered", [_AsFast], indirect=True)
def test_agreeing_rounds_stop_the_measurement_early(registered, monkeypatch, timings):
    script = [{registered: 1.0, "numpy": 0.5}] * 100
    _scripted_rounds(monkeypatch, script)
    X, y = _data(3000)
    assert nnfast.Objective(X, y, SIZES, backend="auto").backend.name == "numpy"
    assert len(timings[0]["numpy"]) == _auto.ROUNDS


@pytest.mark.parametrize("registered", [_Slow], indirect=True)
def test_small_problems_take_the_first_backend_unmeasured(registered):
    X, y = _data(20)
    assert X.shape[0] * nnfast.n_params(SIZES) < _auto.MEASURE_ABOVE
    assert nnfast.Objective(X, y, SIZES, backend="auto").backend.name == registered
    assert _auto.remembered_choices() == {}


@pytest.fixture
def measured_shapes(monkeypatch):
    """The shapes of X that auto's measurements ran on, in order."""
    calls = []
    real = _auto._time_backends

    def counting(*args, **kwargs):
        calls.append(args[1].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(_auto, "_time_backends", counting)
    return calls


def test_the_choice_is_measured_once_per_kind_of_problem(measured_shapes):
    calls = measured_shapes
    X, y = _data(3000)
    first = nnfast.Objective(X, y, SIZES, backend="auto").backend.name
    again = nnfast.Objective(X[:2900], y[:2900], SIZES, backend="auto").backend.name   # same log2(m)
    assert first == again and len(calls) == 1
    assert calls[0] == (3000, SIZES[0])                       # the sample: all rows up to SAMPLE_ROWS
    nnfast.Objective(X.astype(np.float32), y, SIZES, backend="auto")   # another dtype: measured
    assert len(calls) == 2
    nnfast.cost_grad(nnfast.init_theta(SIZES, random_state=0), X, y, SIZES)   # one-shot: remembered
    assert len(calls) == 2


def test_measuring_leaves_the_data_unchanged():
    X, y = _data(3000)
    X0, y0 = X.copy(), y.copy()
    nnfast.Objective(X, y, SIZES, backend="auto")
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_builtin_backends_cannot_be_unregistered():
    with pytest.raises(ValueError, match="built-in"):
        unregister_backend("numpy")
    with pytest.raises(ValueError, match="no backend called"):
        unregister_backend("never_registered")


def test_large_data_are_measured_on_a_sample_of_rows(monkeypatch, measured_shapes):
    calls = measured_shapes
    monkeypatch.setattr(_auto, "SAMPLE_ROWS", 2500)
    X, y = _data(3000)
    fun = nnfast.Objective(X, y, SIZES, backend="auto")
    assert calls == [(2500, SIZES[0])]
    assert fun.backend.name in nnfast.available_backends() and fun.m == 3000


def test_numba_is_measured_once_its_kernel_is_compiled_here(monkeypatch):
    """numba, not the first fused backend, is a candidate only when this process
    already holds its kernel for the problem (measuring it then compiles nothing)."""
    from nnfast._kernels import numba_fused
    from nnfast.backends import _numba, get_backend
    from nnfast.backends._base import implementing

    if not {"numba", "cython"} <= set(nnfast.available_backends()):
        pytest.skip("needs both fused backends")
    if _numba.parallel_layer() is None:
        pytest.skip("no thread-safe numba threading layer here: the serial drivers run")
    # as in a new process: no parallel drivers made yet (other tests made them)
    monkeypatch.setattr(numba_fused, "PARALLEL_DRIVERS", {})
    order = ["cython", "numba", "numpy"]

    def load(name):
        return implementing(get_backend(name), None, "logistic")

    sizes = (17, 9, 4)
    compiled = _auto._compiled_for(sizes, np.dtype(np.float64), None, "logistic", "cross_entropy")
    assert [b.name for b in _auto._candidates(order, load, compiled)] == ["cython", "numpy"]
    X, y = _data(200)
    nnfast.Objective(X[:, :17], y % 4, sizes, backend="numba")(
        nnfast.init_theta(sizes, random_state=0))
    assert [b.name for b in _auto._candidates(order, load, compiled)] == [
        "cython", "numba", "numpy"]
    # float32 is another kernel, not loaded by the float64 call
    compiled32 = _auto._compiled_for(sizes, np.dtype(np.float32), None, "logistic",
                                     "cross_entropy")
    assert [b.name for b in _auto._candidates(order, load, compiled32)] == ["cython", "numpy"]
