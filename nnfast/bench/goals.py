"""The ratios the kernel issue states its targets in, from a benchmark's results."""

from __future__ import annotations

from typing import Dict, List


def goal_summary(doc) -> List[dict]:
    """Per shape and dtype: the faster fused backend (cython, numba) against the fastest
    peer (numpy, PyTorch, JAX) and the gemm rate, and ``auto`` against the fastest backend
    (the ratios the kernel issue states its targets in)."""
    by_key: Dict[tuple, Dict[str, dict]] = {}
    for r in doc.get("results", []):
        if r.get("rounds") and not r.get("skipped"):
            by_key.setdefault((r["shape"], r["dtype"]), {})[r["runner"]] = r
    out = []
    for (shape, dtype), rows in by_key.items():
        fused = [rows[n] for n in ("cython", "numba") if n in rows]
        peers = [rows[n] for n in ("numpy", "pytorch", "jax") if n in rows]
        if not fused or not peers:
            continue
        best = min(fused, key=lambda r: r["median_s"])
        peer = min(peers, key=lambda r: r["median_s"])
        g = dict(shape=shape, dtype=dtype, fused=best["runner"], fused_ms=1e3 * best["median_s"],
                 fastest_peer=peer["runner"], peer_ms=1e3 * peer["median_s"],
                 vs_fastest_peer=peer["median_s"] / best["median_s"],
                 pct_of_gemm=best["pct_of_gemm"], simd=best.get("simd", ""))
        backends = [r for n, r in rows.items() if n in ("cython", "numba", "numpy")]
        if "auto" in rows and backends:
            fastest = min(backends, key=lambda r: r["median_s"])
            g.update(auto_ms=1e3 * rows["auto"]["median_s"], fastest_backend=fastest["runner"],
                     auto_vs_best_backend=rows["auto"]["median_s"] / fastest["median_s"])
        out.append(g)
    return out
