"""The one timing harness of nnfast's benchmarks.

Three entry points, all measuring with :func:`time.perf_counter`:

* :func:`time_once`: one call, its seconds and its result (a first call, a whole fit);
* :func:`time_calls`: back-to-back calls of one function (the steady state of an optimiser);
* :func:`time_in_turns`: several functions taking turns, block by block.

Why turns
---------
On a shared machine the load of other processes should fall on every runner
alike, so runners take turns block by block rather than each being timed in
one stretch.  Each block sees only its own runtime's threads, as an
optimiser's consecutive calls do: before a block, a pause lets the previous
runtime's idle threads (OpenMP, OpenBLAS, Eigen) stop spinning, and untimed
warm-up calls wake this runner's threads and caches.  Timing runners call by
call instead measures mostly that cross-runtime spinning.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

#: pause before each block of timed calls, long enough for idle OpenMP/OpenBLAS
#: threads of the previous runner to stop spinning
BLOCK_PAUSE_S = 0.25

PerName = Union[int, Mapping[str, int]]


def time_once(call: Callable, *args, **kwargs) -> Tuple[float, Any]:
    """Seconds of one call ``call(*args, **kwargs)``, and what it returned.

    Returns
    -------
    seconds : float
    result : object
        The call's return value.
    """
    start = time.perf_counter()
    result = call(*args, **kwargs)
    return time.perf_counter() - start, result


def _timed_block(call, args, repeat, min_time, max_calls):
    """``(seconds of each call, last result)`` of :func:`time_calls`."""
    times: List[float] = []
    result = None
    t_end = time.perf_counter() + min_time
    while len(times) < repeat or time.perf_counter() < t_end:
        seconds, result = time_once(call, *args)
        times.append(seconds)
        if len(times) >= max_calls:
            break
    return times, result


def time_calls(call: Callable, *args, repeat: int = 1, min_time: float = 0.0,
               max_calls: Optional[int] = None, warmup: int = 0) -> List[float]:
    """Seconds of each of back-to-back calls ``call(*args)``.

    Parameters
    ----------
    call : callable
    *args
        Passed to every call.
    repeat : int, default 1
        Timed calls at least.
    min_time : float, default 0.0
        Seconds: more calls are timed until this much time has passed since the first.
    max_calls : int, optional
        Timed calls at most, whatever ``min_time`` asks (default ``10 * repeat``).
    warmup : int, default 0
        Untimed calls before the timed ones (compilation, caches, thread pools).

    Returns
    -------
    list of float
        Seconds of each timed call, in order.
    """
    for _ in range(warmup):
        call(*args)
    times, _ = _timed_block(call, args, repeat, min_time,
                            10 * repeat if max_calls is None else max_calls)
    return times


def _for(value: PerName, name: str, default: int) -> int:
    if isinstance(value, Mapping):
        return value.get(name, default)
    return value


def time_in_turns(calls: Mapping[str, Callable[[], Any]], *, turns: int = 1,
                  min_time: float = 0.0, max_turns: Optional[int] = None,
                  max_time: Optional[float] = None, calls_per_turn: PerName = 1,
                  turn_min_time: float = 0.0, warmup: PerName = 1,
                  warmup_time: float = 0.0,
                  max_calls: Optional[Mapping[str, int]] = None,
                  pause: float = BLOCK_PAUSE_S,
                  turn_context: Optional[Callable[[], Any]] = None,
                  on_result: Optional[Callable[[str, Any], None]] = None,
                  ) -> Dict[str, List[float]]:
    """Seconds of each call of several functions, which take turns block by block.

    A turn gives every function one block: a pause, ``warmup`` untimed calls, then
    back-to-back timed calls (:func:`time_calls` with ``calls_per_turn`` and
    ``turn_min_time``).  See the module docstring for why.

    Parameters
    ----------
    calls : mapping of str to callable
        Name -> function of no arguments, timed in this order within a turn.
    turns : int, default 1
        Turns at least.
    min_time : float, default 0.0
        Seconds per function: turns go on beyond ``turns`` until
        ``min_time * len(calls)`` seconds have passed, up to ``max_turns``.
    max_turns : int, optional
        Turns at most (default ``turns``).
    max_time : float, optional
        Seconds: no new turn starts once this much time has passed, even short of ``turns``.
    calls_per_turn : int or mapping of str to int, default 1
        Timed calls per block (a mapping gives some names their own; others get 1).
    turn_min_time : float, default 0.0
        Seconds: a block times more than ``calls_per_turn`` calls until this much has
        passed (at most ten times as many).
    warmup : int or mapping of str to int, default 1
        Untimed calls at the start of each block (a mapping: others get 1).
    warmup_time : float, default 0.0
        Seconds: a block's untimed calls go on until this much has passed (for the
        names whose ``warmup`` is not 0).  After the pause a core needs some
        milliseconds of work to reach its steady speed: on a 2-vCPU Xeon VM the
        ex4 kernel's calls after a 0.25 s pause took 3.7, 2.8, 2.4, 2.2, 2.1 ms,
        then 2.0 (PyTorch's 7.2, 4.9, 4.6, 4.7, 4.4, then 4.3), and one warm-up call
        left the fastest runners' medians the most inflated.
    max_calls : mapping of str to int, optional
        Timed calls at most for these names: a function that has them sits out the
        turns that follow (no pause either).
    pause : float, default :data:`BLOCK_PAUSE_S`
        Seconds of sleep before each block.
    turn_context : callable, optional
        Returns a context manager entered around each block's calls (not its
        pause), e.g. ``lambda: threadpool_limits(1)``.
    on_result : callable, optional
        ``on_result(name, result)`` with the last result of each block (to check
        what was timed).

    Returns
    -------
    dict of str to list of float
        Name -> seconds of each of its timed calls, in order.
    """
    max_turns = turns if max_turns is None else max(turns, max_turns)
    limits = {} if max_calls is None else dict(max_calls)
    context = turn_context or contextlib.nullcontext
    times: Dict[str, List[float]] = {name: [] for name in calls}
    start = time.perf_counter()
    t_end = start + min_time * len(calls)
    done = 0
    while done < turns or (time.perf_counter() < t_end and done < max_turns):
        if max_time is not None and done and time.perf_counter() - start > max_time:
            break
        for name, call in calls.items():
            if name in limits and len(times[name]) >= limits[name]:
                continue
            n_calls = _for(calls_per_turn, name, 1)
            time.sleep(pause)
            with context():
                n_warm = _for(warmup, name, 1)
                warm_end = time.perf_counter() + (warmup_time if n_warm else 0.0)
                for _ in range(n_warm):
                    call()
                while time.perf_counter() < warm_end:
                    call()
                block, result = _timed_block(call, (), n_calls, turn_min_time, 10 * n_calls)
            times[name] += block
            if on_result is not None:
                on_result(name, result)
        done += 1
    return times


def turns_for(calls: int, calls_per_turn: int) -> int:
    """Turns of ``calls_per_turn`` calls each that make at least ``calls`` calls."""
    return max(1, math.ceil(calls / calls_per_turn))
