"""Compare two builds of nnfast on one shape: alternating processes, B/A of their medians.

On a shared, noisy machine the same call can take 1.5x as long one minute as the next, so
two versions of the kernels are compared in turns: each round runs one process per build
(their order alternating), each process times ``--calls`` prepared calls after two
warm-up calls and reports its median; the script prints both builds' medians over the
rounds and every round's ratio.  A build is a source tree with its extension built in
place, e.g. the previous commit in a worktree::

    git worktree add --detach /tmp/old HEAD~1
    (cd /tmp/old && python setup.py -q build_ext --inplace)
    python benchmarks/ab_builds.py /tmp/old . --sizes 784,300,10 --dtype float64

The processes run from a temporary directory with only the build on ``PYTHONPATH``, so
the current directory's ``nnfast`` is never imported by mistake.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import sys, time
import numpy as np
import nnfast
sizes = [int(s) for s in sys.argv[1].split(",")]
dtype, m, backend = np.dtype(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
threads, calls, activation, output = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7], sys.argv[8]
rng = np.random.default_rng(0)
X = rng.random((m, sizes[0])).astype(dtype)
y = rng.normal(size=(m, sizes[-1])) if output == "identity" else rng.integers(0, sizes[-1], m)
theta = nnfast.init_theta(sizes, random_state=0, dtype=dtype)
objective = nnfast.Objective(X, y, sizes, lam=1.0, backend=backend, n_threads=threads,
                             activation=activation, output=output)
objective(theta)
objective(theta)
times = []
for _ in range(calls):
    t = time.perf_counter()
    objective(theta)
    times.append(time.perf_counter() - t)
print(nnfast.__file__, sorted(times)[len(times) // 2])
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_a", help="source tree of build A (its extension built in place)")
    parser.add_argument("build_b", help="source tree of build B")
    parser.add_argument("--sizes", default="400,25,10", help="layer sizes (default ex4's)")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--m", type=int, default=5000, help="rows of random X (default 5000)")
    parser.add_argument("--backend", default="cython")
    parser.add_argument("--activation", default="logistic", help="hidden units (default ex4's)")
    parser.add_argument("--output", default="logistic", help="output layer (default ex4's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calls", type=int, default=30, help="timed calls per process")
    parser.add_argument("--rounds", type=int, default=8, help="processes per build")
    args = parser.parse_args(argv)
    builds = [os.path.abspath(args.build_a), os.path.abspath(args.build_b)]
    for build in builds:
        if not os.path.isfile(os.path.join(build, "nnfast", "__init__.py")):
            parser.error(f"{build} holds no nnfast/ source tree")
    medians = [[], []]   # by position: A and B may be the same tree (an A/A calibration)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory() as cwd:
        for r in range(args.rounds):
            for which in (0, 1) if r % 2 == 0 else (1, 0):
                build = builds[which]
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, args.sizes, args.dtype, str(args.m),
                     args.backend, str(args.threads), str(args.calls), args.activation, args.output],
                    capture_output=True, text=True, cwd=cwd, env=dict(env, PYTHONPATH=build))
                if out.returncode != 0:
                    sys.exit(f"build {build} failed:\n{out.stderr[-2000:]}")
                imported, median = out.stdout.split()[-2:]
                if not imported.startswith(build):
                    sys.exit(f"build {build}: the process imported {imported}")
                medians[which].append(float(median))
    a, b = medians
    ratios = [y / x for x, y in zip(a, b)]
    print(f"{args.sizes} {args.activation}/{args.output} {args.dtype} m={args.m} {args.backend} "
          f"{args.threads} threads, "
          f"{args.rounds} rounds: A {statistics.median(a) * 1e3:.2f} ms, "
          f"B {statistics.median(b) * 1e3:.2f} ms, B/A {statistics.median(b) / statistics.median(a):.3f}"
          f" (rounds: {' '.join(f'{q:.2f}' for q in ratios)})")


if __name__ == "__main__":
    main()
