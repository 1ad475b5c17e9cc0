"""n_threads=None: the cores other processes leave free, chosen at every call."""

import sys

import numpy as np
import pytest
from conftest import random_problem

import nnfast
from nnfast import _validation
from nnfast._validation import _OtherLoad, free_cores


class FakeClock:
    """Busy seconds of our cores and our own CPU time, as the test sets them."""

    def __init__(self, monkeypatch, load):
        self.busy, self.own = 0.0, 0.0
        monkeypatch.setattr(load, "read_busy", lambda: self.busy)
        monkeypatch.setattr(_validation.time, "process_time", lambda: self.own)


def test_other_load_leaves_out_our_own_cpu_time(monkeypatch):
    load = _OtherLoad()
    clock = FakeClock(monkeypatch, load)
    assert load.update(10.0) == 0.0          # first reading: nothing measured yet
    clock.busy, clock.own = 2 * 1.0, 2 * 1.0  # 1 s on 2 cores, all of it ours
    assert load.update(11.0) == pytest.approx(0.0)
    clock.busy, clock.own = 2.0 + 1.6, 2.0 + 0.6  # then 1 core ours, 1 core someone else's
    assert load.update(12.0) == pytest.approx(1.0)
    clock.busy = 99.0
    assert load.update(12.1) == pytest.approx(1.0)  # within the interval: not read again


@pytest.mark.parametrize("others, cores, expected", [
    (0.0, 2, 2), (0.2, 2, 2), (0.3, 2, 1), (0.6, 2, 1), (1.0, 2, 1), (1.9, 2, 1), (5.0, 2, 1),
    (2.2, 8, 6), (2.3, 8, 5), (0.0, 1, 1)])
def test_a_core_is_free_while_others_use_at_most_a_quarter_of_it(monkeypatch, others, cores, expected):
    monkeypatch.setattr(_validation, "cpu_count", lambda: cores)
    monkeypatch.setattr(_validation._OTHER_LOAD, "update", lambda now: others)
    assert free_cores() == expected
    assert _validation.check_n_threads(None) == expected
    assert _validation.check_n_threads(cores) == cores   # a number given is kept


def test_without_proc_stat_every_core_is_used(monkeypatch):
    load = _OtherLoad()
    load.cpus = set()            # what read_busy leaves where /proc/stat cannot be read
    assert load.read_busy() is None and load.update(1.0) == 0.0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc/stat")
def test_busy_time_of_our_cores_grows_while_we_compute():
    load = _OtherLoad()
    before = load.read_busy()
    x = 0
    import time

    end = time.process_time() + 0.1
    while time.process_time() < end:
        x += 1
    assert load.read_busy() > before


def test_objective_asks_for_the_free_cores_at_every_call(monkeypatch):
    from nnfast.backends._cython import CythonBackend

    X, y, theta = random_problem([30, 8, 3], 400, seed=1)
    seen = []
    real = CythonBackend.loss_grad_sum

    def spy(self, theta, sizes, offsets, data, loss, n_threads, grad_out, **network):
        seen.append(n_threads)
        return real(self, theta, sizes, offsets, data, loss, n_threads, grad_out, **network)

    monkeypatch.setattr(CythonBackend, "loss_grad_sum", spy)
    free = [2]
    monkeypatch.setattr(_validation, "free_cores", lambda: free[0])
    fun = nnfast.Objective(X, y, [30, 8, 3], backend="cython")
    results = []
    for free[0] in (2, 1, 2):      # the load changes between calls
        results.append(fun(theta))
    assert seen == [2, 1, 2]
    # the chunks do not depend on the thread count: the same bits every time
    for J, grad in results[1:]:
        assert J == results[0][0]
        np.testing.assert_array_equal(grad, results[0][1])
    assert nnfast.Objective(X, y, [30, 8, 3], backend="cython", n_threads=1).n_threads == 1


def test_a_forked_child_starts_measuring_afresh(monkeypatch):
    load = _OtherLoad()
    clock = FakeClock(monkeypatch, load)
    load.update(10.0)
    clock.busy, clock.own = 4.0, 0.0   # the child's CPU time restarts near 0
    child = load.pid + 1
    monkeypatch.setattr(_validation.os, "getpid", lambda: child)
    assert load.update(12.0) == 0.0    # a fresh first reading, not (4 - (-parent's time)) / 2
    clock.busy, clock.own = 6.0, 1.0
    assert load.update(13.0) == pytest.approx(1.0)
