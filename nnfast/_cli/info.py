"""``nnfast info``: versions, backends, and the thread pools loaded, each with its owner.

A process often holds two OpenBLAS and two OpenMP runtimes: numpy and scipy
wheels each bundle their own OpenBLAS, and scikit-learn's wheel bundles a
libgomp next to the system's GCC libgomp that nnfast's compiled kernel links.
threadpoolctl gives each pool's file; the owner is read from its path.
"""

import io
from pathlib import Path

#: what each runtime is, by threadpoolctl's internal_api
RUNTIMES = {"openblas": "OpenBLAS", "mkl": "Intel MKL", "blis": "BLIS", "openmp": "OpenMP"}
#: where a system runtime comes from, by threadpoolctl's prefix
SYSTEM_RUNTIMES = {"libgomp": "GCC's OpenMP runtime", "libomp": "LLVM's OpenMP runtime",
                   "libiomp": "Intel's OpenMP runtime"}


def configure(parser):
    parser.add_argument("--json", action="store_true", help="print the information as JSON")


def pool_owner(pool) -> str:
    """Who brought a thread pool into the process, from threadpoolctl's ``filepath``.

    Wheels keep their bundled libraries in ``site-packages/<dist>.libs/`` (auditwheel)
    or inside the package (``torch/lib``); anything else is a system library.
    """
    path = Path(pool.get("filepath") or "")
    parts = path.parts
    bundles = [part for part in parts if part.endswith(".libs")]
    if bundles:
        return f"bundled with {bundles[-1][:-len('.libs')]} ({path.name})"
    for i, part in enumerate(parts[:-2]):
        if part in ("site-packages", "dist-packages"):
            return f"bundled with {parts[i + 1]} ({path.name})"
    what = SYSTEM_RUNTIMES.get(pool.get("prefix"), "system library")
    if pool.get("prefix") == "libgomp":
        # setup.py builds the extension with the system compiler's -fopenmp
        what += " (the one nnfast's compiled kernel links)"
    return f"{what}: {path}"


def thread_pools():
    """threadpoolctl's pools, each with ``owner`` and ``filepath``; a string when unknown."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError as exc:  # threadpoolctl is optional
        return f"unknown ({exc})"
    return [{"user_api": pool.get("user_api"), "internal_api": pool.get("internal_api"),
             "num_threads": pool.get("num_threads"), "version": pool.get("version"),
             "architecture": pool.get("architecture"), "filepath": pool.get("filepath"),
             "owner": pool_owner(pool)} for pool in threadpool_info()]


def format_pools(pools) -> str:
    """The "thread pools" section of ``nnfast info``."""
    if isinstance(pools, str):
        return f"thread pools:\n  {pools}"
    lines = ["thread pools (one per runtime library loaded; each library has its own):"]
    for pool in pools:
        runtime = RUNTIMES.get(pool["internal_api"], pool["internal_api"])
        detail = " ".join(str(v) for v in (pool.get("version"), pool.get("architecture")) if v)
        lines.append(f"  {pool['user_api']:<7}{runtime:<9}threads={pool['num_threads']:<3}"
                     f"{detail + '  ' if detail else ''}{pool['owner']}")
    return "\n".join(lines)


def run(args):
    import json

    from .. import config_info, show_config

    if args.json:
        info = config_info()  # loads every backend, and with them their runtimes
        info["threadpools"] = thread_pools()
        print(json.dumps(info, indent=2, default=str))
        return 0
    text = io.StringIO()
    show_config(file=text)
    # show_config's pool lines do not say whose each pool is: replace that section
    head = text.getvalue().split("thread pools:")[0]
    print(head + format_pools(thread_pools()))
    return 0
