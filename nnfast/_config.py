"""``nnfast.show_config()``: what this installation can do and why."""

from __future__ import annotations

import platform
import sys


def _version(module_name):
    try:
        module = __import__(module_name)
        return getattr(module, "__version__", "installed")
    except Exception as exc:
        return f"not available ({type(exc).__name__})"


def config_info() -> dict:
    """Versions, backends (with the reason for each unavailable one) and threads, as a dict."""
    from . import __version__
    from ._validation import cpu_count
    from .backends import backend_status

    info = {
        "nnfast": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": cpu_count(),
        "versions": {name: _version(name) for name in
                     ("numpy", "scipy", "numba", "sklearn", "matplotlib", "threadpoolctl")},
        "backends": {name: {"available": ok, "detail": detail}
                     for name, (ok, detail) in backend_status().items()},
    }
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: pool.get(k) for k in ("user_api", "internal_api", "num_threads", "version", "architecture")}
            for pool in threadpool_info()
        ]
    except Exception as exc:  # threadpoolctl is optional here
        info["threadpools"] = f"unknown ({exc})"
    for name, (ok, _) in backend_status().items():
        if ok:
            from .backends import get_backend

            extra = getattr(get_backend(name), "build_info", None)
            if extra:
                info["backends"][name]["build"] = extra() if callable(extra) else extra
    return info


def show_config(file=None) -> None:
    """Print versions, the backends that are available (and why others are not), and thread settings."""
    info = config_info()
    out = file or sys.stdout
    print(f"nnfast {info['nnfast']} on Python {info['python']} ({info['platform']})", file=out)
    print(f"cores usable: {info['cpu_count']}", file=out)
    print("versions:", file=out)
    for name, version in info["versions"].items():
        print(f"  {name:<14}{version}", file=out)
    print("backends:", file=out)
    for name, entry in info["backends"].items():
        mark = "yes" if entry["available"] else "no "
        print(f"  {name:<8}{mark}  {entry['detail']}", file=out)
        for key, value in (entry.get("build") or {}).items():
            print(f"            {key}: {value}", file=out)
    print("thread pools:", file=out)
    pools = info["threadpools"]
    if isinstance(pools, str):
        print(f"  {pools}", file=out)
    else:
        for pool in pools:
            print(f"  {pool['user_api']:<8}{pool['internal_api']:<10}threads={pool['num_threads']}  "
                  f"{pool.get('version') or ''} {pool.get('architecture') or ''}".rstrip(), file=out)
