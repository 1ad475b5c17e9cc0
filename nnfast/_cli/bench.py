"""``nnfast bench``: time cost+gradient of every backend (and PyTorch/JAX if installed).

Examples::

    nnfast bench                                   # every shape, float64 and float32
    nnfast bench --shapes ex4 --dtype float64 --threads 1
    nnfast bench --quick --output /tmp/b           # tiny shape, seconds
    nnfast bench --scaling                         # also time against m and threads
"""

from __future__ import annotations

from ..cli import UserError, positive_int


def configure(parser):
    from ..bench import DEFAULT_SHAPES, SHAPES

    parser.add_argument("--shapes", default=",".join(DEFAULT_SHAPES),
                        help="comma-separated shapes: " + ", ".join(
                            f"{k} (m={m}, {'-'.join(map(str, s))})" for k, (m, s) in SHAPES.items())
                        + f" (default {','.join(DEFAULT_SHAPES)})")
    parser.add_argument("--dtype", default="both", choices=("float64", "float32", "both"))
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="threads for every runner (default all cores)")
    parser.add_argument("--repeat", type=positive_int, default=15,
                        help="timed calls per runner (at least; default 15)")
    parser.add_argument("--output", default="bench-results", help="folder for bench.json and the PNGs")
    parser.add_argument("--quick", action="store_true", help="tiny shape, few repeats: a smoke run")
    parser.add_argument("--scaling", action="store_true",
                        help="also time against m (1000..60000, MNIST width) and threads (1, all)")
    parser.add_argument("--backends", default=None, help="comma-separated nnfast backends (default all available)")
    parser.add_argument("--no-peers", action="store_true", help="leave out PyTorch and JAX")
    parser.add_argument("--no-train", action="store_true", help="leave out the training comparison")
    parser.add_argument("--train-iters", type=positive_int, default=400,
                        help="L-BFGS-B iterations (default 400)")
    parser.add_argument("--activation", choices=("logistic", "tanh", "relu", "identity"),
                        default="logistic", help="hidden units of every runner's network")
    parser.add_argument("--output-layer", choices=("logistic", "softmax", "identity"),
                        default="logistic", dest="output_layer",
                        help="output layer of every runner's network (with its own loss)")
    parser.add_argument("--simd", choices=("native", "avx2"), default="native",
                        help="avx2: every runner (nnfast, numba, OpenBLAS, PyTorch, JAX) uses its "
                             "AVX2 code, to stand in for an AVX2-only CPU on one with AVX-512; "
                             "runs the benchmark in a new process with the libraries' variables "
                             "set (default native: each library's best)")


def _rerun_with_avx2(args):
    """Run the same benchmark in a new process whose environment forces AVX2 everywhere
    (each library reads its variable when it loads, so this process cannot switch)."""
    import subprocess
    import sys

    from ..bench import avx2_environment

    argv = [sys.executable, "-m", "nnfast.cli", "bench", "--simd", "avx2",
            "--shapes", args.shapes, "--dtype", args.dtype, "--repeat", str(args.repeat),
            "--output", args.output, "--train-iters", str(args.train_iters),
            "--activation", args.activation, "--output-layer", args.output_layer]
    if args.threads is not None:
        argv += ["--threads", str(args.threads)]
    if args.backends:
        argv += ["--backends", args.backends]
    for flag in ("quick", "scaling", "no_peers", "no_train"):
        if getattr(args, flag):
            argv.append("--" + flag.replace("_", "-"))
    return subprocess.call(argv, env=avx2_environment())


def run(args):
    import os

    from ..bench import AVX2_ENV, SHAPES, run_bench

    if args.simd == "avx2" and any(os.environ.get(k) != v for k, v in AVX2_ENV.items()):
        return _rerun_with_avx2(args)

    dtypes = ("float64", "float32") if args.dtype == "both" else (args.dtype,)
    shapes = tuple(s.strip() for s in args.shapes.split(",") if s.strip())
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown or not shapes:
        raise UserError(f"--shapes takes comma-separated names from {', '.join(SHAPES)}; "
                        f"got {args.shapes!r}")
    backends = [b.strip() for b in args.backends.split(",")] if args.backends else None
    if backends:
        from ..backends import get_backend

        for b in backends:
            get_backend(b)  # a clear error for an unknown or unavailable name
    doc = run_bench(shapes=shapes, dtypes=dtypes, threads=args.threads, repeat=args.repeat,
                    output=args.output, quick=args.quick, peers=not args.no_peers,
                    training=not args.no_train, backends=backends, train_iters=args.train_iters,
                    scaling=args.scaling, activation=args.activation,
                    output_layer=args.output_layer)
    return 0 if all(r["ok"] or r["skipped"] for r in doc["results"]) else 1
