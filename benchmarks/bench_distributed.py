"""Per-iteration overhead of nnfast.distributed against the local kernel.

Run (takes a few minutes)::

    /work/venv/bin/python benchmarks/bench_distributed.py            # both shapes
    /work/venv/bin/python benchmarks/bench_distributed.py --repeat 40 --shapes ex4

For each shape it starts one LocalCluster (2 worker processes, 1 thread each,
unless --workers/--threads say otherwise) and reports medians (ms) of:

* ``local``          nnfast.Objective on the whole data in this process
                     (same backend, all cores of this process),
* ``local_1thread``  the same on one thread (what one 1-thread worker has),
* ``shard``          one shard's loss_grad_sum measured inside the worker
                     (the largest median over shards),
* ``dist``           DistributedObjective(theta) end to end, for both ways
                     of shipping theta (``scatter``: broadcast once;
                     ``inline``: inside each shard task),
* ``overhead``       dist - shard: the fixed cost of going through Dask,
* ``tiny``           DistributedObjective on 2 shards of 8 rows: the same fixed
                     cost measured directly (scheduling, theta out, gradient back).

and derives where sharding starts to pay: a shard of r rows costs about
``r * per_row`` ms of compute, so spreading the work over k workers beats one
worker once ``(k - 1) * r * per_row > overhead``.

Timings on a shared or busy machine are noisy; medians over --repeat calls,
interleaved, keep the comparison fair.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

import nnfast
from nnfast.bench import time_calls, time_in_turns
from nnfast.distributed import DistributedObjective

SHAPES = {
    "ex4": (5000, [400, 25, 10]),
    "mnist60k": (60000, [784, 25, 10]),
    "mnist60k-100": (60000, [784, 100, 10]),
}


def _median_ms(fn, repeat, warmup=2):
    return 1e3 * float(np.median(time_calls(fn, repeat=repeat, warmup=warmup)))


def _time_on_worker(shard, theta, repeat):
    """Runs in the worker, on the shard that lives there (Dask resolves the argument)."""
    return _median_ms(lambda: shard.loss_grad_sum(theta, True), repeat, warmup=1)


def bench_shape(name, m, layer_sizes, client, repeat, backend, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((m, layer_sizes[0]))  # pixel-like data in [0, 1)
    y = rng.integers(0, layer_sizes[-1], size=m)
    theta = nnfast.init_theta(layer_sizes, random_state=seed)
    n_workers = len(client.scheduler_info()["workers"])
    out = {"shape": name, "m": m, "layer_sizes": layer_sizes, "n_params": int(theta.size),
           "workers": n_workers}

    local = nnfast.Objective(X, y, layer_sizes, lam=1.0, backend=backend)
    local1 = nnfast.Objective(X, y, layer_sizes, lam=1.0, backend=backend, n_threads=1)
    out["backend_local"] = local.backend.name
    from threadpoolctl import threadpool_limits

    def local_1thread():
        with threadpool_limits(1):
            local1(theta)

    out["local"] = _median_ms(lambda: local(theta), repeat)
    out["local_1thread"] = _median_ms(local_1thread, repeat)

    objs = {mode: DistributedObjective(X, y, layer_sizes, lam=1.0, backend=backend, client=client,
                                       theta_transfer=mode)
            for mode in ("scatter", "inline")}
    try:
        d = objs["scatter"]
        J0, g0 = local(theta)
        J1, g1 = d(theta)
        assert abs(J1 - J0) <= 1e-10 * abs(J0) and np.allclose(g1, g0, rtol=1e-10, atol=1e-13)
        out["n_shards"] = d.n_shards
        out["shard_rows"] = max(d.shard_sizes)
        per_shard = client.gather([client.submit(_time_on_worker, s, theta, repeat, pure=False)
                                   for s in d._shards.futures])
        out["shard"] = max(per_shard)
        out["backend_workers"] = client.gather(client.submit(
            lambda s: s.backend.name, d._shards.futures[0], pure=False))
        # interleave the two transfer modes so that machine noise hits both
        for mode in objs:
            objs[mode](theta)
        times = time_in_turns({mode: (lambda o=obj: o(theta)) for mode, obj in objs.items()},
                              turns=repeat, warmup=0, pause=0.0)
        for mode in objs:
            out[f"dist_{mode}"] = 1e3 * float(np.median(times[mode]))
            out[f"overhead_{mode}"] = out[f"dist_{mode}"] - out["shard"]
    finally:
        for obj in objs.values():
            obj.close()

    # the fixed cost measured directly: 2 shards of 8 rows each
    tiny = DistributedObjective(X[:16], y[:16], layer_sizes, lam=1.0, backend=backend,
                                client=client, n_shards=2)
    try:
        out["tiny"] = _median_ms(lambda: tiny(theta), repeat)
    finally:
        tiny.close()
    out["per_row_1thread"] = out["local_1thread"] / m
    return out


def report(res):
    over = min(res["overhead_scatter"], res["overhead_inline"])
    per_row = res["per_row_1thread"]
    lines = [
        f"== {res['shape']}: m={res['m']}, layers={res['layer_sizes']}, "
        f"{res['n_params']} params, {res['workers']} workers x 1 thread, "
        f"{res['n_shards']} shards of {res['shard_rows']} rows, backend local={res['backend_local']} "
        f"workers={res['backend_workers']}",
        f"   local Objective, all cores      {res['local']:8.2f} ms",
        f"   local Objective, 1 thread       {res['local_1thread']:8.2f} ms "
        f"({1e3 * per_row:.2f} us/row)",
        f"   one shard on its worker         {res['shard']:8.2f} ms",
        f"   distributed, theta scattered    {res['dist_scatter']:8.2f} ms "
        f"(overhead {res['overhead_scatter']:.2f} ms)",
        f"   distributed, theta inline       {res['dist_inline']:8.2f} ms "
        f"(overhead {res['overhead_inline']:.2f} ms)",
        f"   distributed, 2 shards x 8 rows  {res['tiny']:8.2f} ms  (fixed cost alone)",
        f"   break-even: with k workers, sharding beats one worker once a shard holds more than "
        f"~{over / per_row:,.0f} / (k - 1) rows (shard compute > {over:.1f} ms overhead / (k - 1)); "
        f"for the overhead to stay under 10% a shard needs ~{10 * over / per_row:,.0f} rows",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=["ex4", "mnist60k"], choices=list(SHAPES))
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="threads per worker")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--scheduler", default=None, help="scheduler address (default: LocalCluster)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    cluster = None
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=args.threads,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
    results = []
    try:
        print(f"nnfast {nnfast.__version__}, python {sys.version.split()[0]}, "
              f"backends {nnfast.available_backends()}", flush=True)
        for name in args.shapes:
            m, layer_sizes = SHAPES[name]
            res = bench_shape(name, m, layer_sizes, client, args.repeat, args.backend)
            results.append(res)
            print(report(res), flush=True)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
