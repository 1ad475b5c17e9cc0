"""``backend="auto"`` for an objective: the fastest backend for its shape, measured.

Which backend is fastest depends on the machine (AVX-512 or AVX2, cache sizes,
how fast its BLAS is on the layer widths), the network and the dtype, so no
fixed order is right everywhere.  For a data set large enough for the choice
to matter, the candidates (the first available fused backend and ``numpy``)
each run a few evaluations on a sample of its rows, in rounds of turns, and the
fastest is kept; while the rounds disagree (a close call on a noisy machine) more
rounds are taken, within a budget of time.
The choice is remembered per network, dtype, loss, thread count and order of
magnitude of ``m``, so one-shot calls measure once per process.

numba is a candidate when it is the first fused backend available, or when its
kernel for the problem is already compiled in this process; otherwise a first
call would compile for seconds, and measuring it would cost more than it saves.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ._base import Backend, implementing, network_kwargs

__all__ = ["choose_backend", "forget_choices", "remembered_choices", "MEASURE_ABOVE",
           "SAMPLE_ROWS", "PREFERENCE_MARGIN", "MAX_ROUNDS"]

#: below this many multiply-adds per evaluation (m x parameters) the first available
#: backend is taken unmeasured: measuring would take longer than any difference
MEASURE_ABOVE = 5_000_000
#: rows of the sample the candidates are timed on: the whole data up to this many (a
#: sample of 4096 rows of a 10000-row MNIST objective measured numpy ahead of cython
#: with AVX2, against 0.7-0.87x on all the rows: smaller data sit in caches differently)
SAMPLE_ROWS = 16384
#: a later candidate is chosen only if its time is below this fraction of the earlier's
PREFERENCE_MARGIN = 0.9
#: rounds of turns at least, and timed calls per candidate in each (after an untimed one)
ROUNDS = 2
CALLS = 2
#: rounds at most: more are taken while the rounds disagree about a comparison (a
#: noisy machine), until this many or until MEASURE_BUDGET_S has been spent
MAX_ROUNDS = 7
#: seconds of measuring after which no further round is started (ROUNDS always run)
MEASURE_BUDGET_S = 3.0
#: pause before each candidate's block, long enough for other runtimes' idle threads
#: to stop spinning
PAUSE_S = 0.05

_choices: Dict[tuple, str] = {}
_lock = threading.Lock()


def _candidates(order: Sequence[str], load, compiled=lambda backend: False) -> List[Backend]:
    """The first available fused backend, numpy, and any other whose kernel for the
    problem is already compiled in this process (``compiled(backend)``), in order of
    preference."""
    chosen = []
    for name in order:
        backend = load(name)
        if backend is None:
            continue
        if name == "numpy" or not any(b.name != "numpy" for b in chosen) or compiled(backend):
            chosen.append(backend)
    return chosen


def _compiled_for(layer_sizes, dtype, activations, output, loss):
    """``backend -> bool``: whether a backend that compiles on first use (numba) already
    holds this problem's kernel; backends that compile nothing say False."""
    def compiled(backend):
        check = getattr(backend, "is_compiled", None)
        try:
            return bool(check and check(layer_sizes, dtype, activations, output, loss))
        except (AssertionError, KeyError):    # a network it does not know: not compiled
            return False
    return compiled


def _decide(names: Sequence[str], rounds: Dict[str, List[float]]) -> Tuple[str, bool]:
    """The choice among ``names`` (in order of preference) from per-round times.

    A later candidate displaces the one chosen so far when the median over the rounds
    of its time divided by that one's, round by round, is below ``PREFERENCE_MARGIN``.
    Ratios within a round compare calls made seconds apart, so a machine that slows
    down or speeds up between rounds moves both sides of a ratio alike, where the
    fastest call of each over all rounds could come from two different moments.

    Returns
    -------
    name : str
    settled : bool
        True when every round agreed with the median on every comparison made: more
        rounds would not change the choice unless the machine changes.
    """
    chosen, settled = names[0], True
    for name in names[1:]:
        ratios = [t / c for t, c in zip(rounds[name], rounds[chosen])]
        faster = [r < PREFERENCE_MARGIN for r in ratios]
        if float(np.median(ratios)) < PREFERENCE_MARGIN:
            chosen = name
        settled = settled and (all(faster) or not any(faster))
    return chosen, settled


def _time_round(prepared, layer_sizes, offsets, loss, n_threads, theta, grad) -> Dict[str, float]:
    """One round of turns: each candidate's fastest of ``CALLS`` timed calls.

    Each candidate's block follows a pause and one untimed call: the idle threads of
    the previous runtime (OpenBLAS's, OpenMP's) spin for a while after it returns, and
    timing call by call measured mostly that (numpy ahead of cython where alone it is
    1.2x slower).
    """
    best = {}
    for b, data, kw in prepared:
        time.sleep(PAUSE_S)
        b.loss_grad_sum(theta, layer_sizes, offsets, data, loss, n_threads, grad, **kw)
        seconds = math.inf
        for _ in range(CALLS):
            t = time.perf_counter()
            b.loss_grad_sum(theta, layer_sizes, offsets, data, loss, n_threads, grad, **kw)
            seconds = min(seconds, time.perf_counter() - t)
        best[b.name] = seconds
    return best


def _time_backends(candidates, X, Y, layer_sizes, offsets, loss, n_threads, theta,
                   net=None) -> Dict[str, List[float]]:
    """Seconds of one cost+gradient evaluation on (X, Y), per candidate and round.

    ``ROUNDS`` rounds of turns (:func:`_time_round`); then more, up to ``MAX_ROUNDS``
    and while less than ``MEASURE_BUDGET_S`` has been spent, as long as the rounds
    disagree about the choice (:func:`_decide`): a close call on a noisy machine gets
    more evidence, a clear one costs no more than it did.
    """
    from ._base import blas_threads, layout_kwargs

    net = net or {}
    prepared = [(b, b.prepare(X, Y, **layout_kwargs(b, layer_sizes)),
                 network_kwargs(b, **net) if net else {}) for b in candidates]
    names = [b.name for b in candidates]
    grad = np.empty(theta.shape[0], dtype=theta.dtype)
    rounds: Dict[str, List[float]] = {name: [] for name in names}
    start = time.perf_counter()
    with blas_threads(n_threads):
        for n in range(MAX_ROUNDS):
            if n >= ROUNDS and (_decide(names, rounds)[1]
                                or time.perf_counter() - start > MEASURE_BUDGET_S):
                break
            for name, seconds in _time_round(prepared, layer_sizes, offsets, loss, n_threads,
                                             theta, grad).items():
                rounds[name].append(seconds)
    return rounds


def choose_backend(X: np.ndarray, Y: np.ndarray, layer_sizes: Tuple[int, ...], offsets, loss: str,
                   n_threads: int, order: Sequence[str], load, activations=None,
                   output: str = "logistic") -> Backend:
    """The backend ``"auto"`` resolves to for this data and network.

    Parameters
    ----------
    X : ndarray of shape (m, n_in), checked, in the working dtype
    Y : ndarray of shape (m, n_out), checked targets
    layer_sizes, offsets : the network and its ``layer_offsets``
    loss : str
    n_threads : int
    order : sequence of str
        Backend names in order of preference.
    load : callable
        ``name -> Backend or None`` (None when it is not available here).
    activations, output : the hidden activations and output of the network
        (``Backend.loss_grad_sum``); a network other than ex4's leaves out the
        backends without ``supports_activations``.

    Returns
    -------
    Backend
        Measured fastest of the candidates; the first available one when the
        problem is small or only one candidate exists.
    """
    candidates = _candidates(order, lambda name: implementing(load(name), activations, output),
                             _compiled_for(layer_sizes, X.dtype, activations, output, loss))
    if not candidates:
        from ._base import BackendUnavailable
        raise BackendUnavailable("no backend is available")
    m = X.shape[0]
    n_par = sum(end - start for start, end, _ in offsets)
    if len(candidates) == 1 or m * n_par < MEASURE_ABOVE:
        return candidates[0]
    key = (tuple(layer_sizes), X.dtype.name, loss, int(n_threads), round(math.log2(m)),
           tuple(b.name for b in candidates), tuple(activations or ()), output)
    with _lock:
        name = _choices.get(key)
    if name is None:
        if m <= SAMPLE_ROWS:
            Xs, Ys = X, Y                 # all of it: no copy
        else:
            sample = np.linspace(0, m - 1, SAMPLE_ROWS).astype(np.intp)   # spread over the data
            Xs, Ys = np.ascontiguousarray(X[sample]), np.ascontiguousarray(Y[sample])
        rng = np.random.default_rng(0)
        theta = rng.uniform(-0.12, 0.12, n_par).astype(X.dtype)
        timed = _time_backends(candidates, Xs, Ys, layer_sizes, offsets, loss, n_threads, theta,
                               net=dict(activations=activations, output=output))
        # a later candidate must be clearly faster to displace an earlier one: a close
        # call on a noisy machine is not worth leaving the order of preference for
        name, _ = _decide([b.name for b in candidates], timed)
        with _lock:
            _choices[key] = name
    return next(b for b in candidates if b.name == name)


def forget_choices() -> None:
    """Drop the remembered choices (the next objective of each kind measures again)."""
    with _lock:
        _choices.clear()


def remembered_choices() -> Dict[tuple, str]:
    """A copy of the choices made so far:
    ``{(sizes, dtype, loss, threads, log2 m, candidates, activations, output): name}``."""
    with _lock:
        return dict(_choices)
