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


def run(args):
    from ..bench import SHAPES, run_bench

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
                    scaling=args.scaling)
    return 0 if all(r["ok"] or r["skipped"] for r in doc["results"]) else 1
