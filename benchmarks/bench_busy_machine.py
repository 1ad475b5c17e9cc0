"""The default thread count on an idle machine and on one busy with another process.

Usage::

    python benchmarks/bench_busy_machine.py                      # cython, numba, numpy
    python benchmarks/bench_busy_machine.py --backends cython --calls 200

Times one ex4-shape cost+gradient (5000 x 400 -> 25 -> 10, float64, random X in
[0, 1]) through a prepared ``Objective`` with the default ``n_threads=None``, with
``n_threads=1`` and with every core, first on the machine as it is, then while
one more Python process spins on a core.  The three cases of a backend take turns in
blocks of 10 calls (as the other benchmarks time their runners), so that a burst of
the machine's own noise falls on all three alike rather than on whichever ran then.
Prints median, fastest and 90th percentile per case and the two ratios the defaults
are judged by:

- busy: p90 of the default / p90 of ``n_threads=1`` (goal <= 1.3);
- idle: median of ``n_threads=1`` / median of the default (goal >= 1.6 on 2 cores).

"idle" means "without the extra process": other users of the machine show in the
``others`` column (cores busy with other processes, from /proc/stat).  The
README's "Threads" paragraph quotes this benchmark.
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np

import nnfast
from nnfast._validation import _OTHER_LOAD, cpu_count
from nnfast.bench import time_in_turns

SIZES, M = [400, 25, 10], 5000


#: timed calls per block of a case
BLOCK = 10


def _times(funs, theta, n):
    """label -> (median, fastest, p90) in ms of ``n`` calls each, the cases in turns."""
    seconds = time_in_turns({label: (lambda fun=fun: fun(theta)) for label, fun in funs.items()},
                            turns=-(-n // BLOCK), calls_per_turn=BLOCK, warmup=2, pause=0.05)
    out = {}
    for label, ts in seconds.items():
        ts = 1e3 * np.asarray(ts)
        out[label] = (np.median(ts), ts.min(), np.percentile(ts, 90))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="cython,numba,numpy")
    parser.add_argument("--calls", type=int, default=100, help="timed calls per case")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b in nnfast.available_backends()]
    rng = np.random.default_rng(0)
    X = rng.random((M, SIZES[0]))
    y = rng.integers(0, SIZES[-1], M)
    theta = nnfast.init_theta(SIZES, random_state=0)
    cores = cpu_count()
    print(f"{cores} cores, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, "
          f"ex4 shape, {args.calls} calls per case; times in ms")
    summary = {}
    busy = None
    try:
        for state in ("idle", "busy"):
            if state == "busy":
                busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                time.sleep(0.5)
            for backend in backends:
                funs = {label: nnfast.Objective(X, y, SIZES, lam=1.0, backend=backend,
                                                n_threads=n_threads)
                        for label, n_threads in (("default", None), ("1 thread", 1),
                                                 (f"{cores} threads", cores))}
                times = _times(funs, theta, args.calls)
                cases = {}
                for label, (med, best, p90) in times.items():
                    cases[label] = (med, p90)
                    default_now = funs[label].n_threads if label == "default" else "-"
                    print(f"{state}  {backend:<7} {label:<10} median {med:7.2f}  fastest "
                          f"{best:6.2f}  p90 {p90:7.2f}  (others {_OTHER_LOAD.others:.1f} cores, "
                          f"default now {default_now})")
                summary[state, backend] = cases
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    print()
    for backend in backends:
        idle, loaded = summary["idle", backend], summary["busy", backend]
        print(f"{backend:<7} busy: default p90 / 1-thread p90 = "
              f"{loaded['default'][1] / loaded['1 thread'][1]:.2f} (goal <= 1.3); "
              f"idle: 1-thread median / default median = "
              f"{idle['1 thread'][0] / idle['default'][0]:.2f}, / {cores}-thread median = "
              f"{idle['1 thread'][0] / idle[f'{cores} threads'][0]:.2f}")


if __name__ == "__main__":
    main()
