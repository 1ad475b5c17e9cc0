"""The results as plain-text tables: the timings with the goals, and the memory use."""

from __future__ import annotations

from .goals import goal_summary


def format_table(doc) -> str:
    """The results as a plain-text table, one block per shape."""
    lines = []
    gemm = doc.get("gemm_gflops", {})
    blas = doc["machine"].get("blas")
    blas_text = ", ".join(sorted({f"{b.get('internal_api')} {b.get('version') or ''}".strip()
                                  for b in blas if b.get("user_api") == "blas"})) \
        if isinstance(blas, list) else str(blas)
    forced = doc["machine"].get("simd_forced")
    if forced:
        lines.append("SIMD forced by: " + " ".join(f"{k}={v}" for k, v in forced.items()))
    lines.append(f"{doc['machine']['cpu']} ({doc['machine']['usable_cpus']} cores usable) | threads "
                 f"{doc['settings']['threads']} | BLAS: {blas_text} | large gemm (best of 7, n = "
                 f"{doc.get('gemm_n')}): " + ", ".join(f"{d} {v:.1f} GFLOP/s" for d, v in gemm.items()))
    header = (f"{'shape':<13} {'dtype':<8} {'runner':<8} {'simd':<18} {'median ms':>10} {'min ms':>9} "
              f"{'x numpy':>8} {'(min)':>6} {'GFLOP/s':>8} {'(min)':>6} {'% gemm':>7} "
              f"{'grad err':>9}  check")
    lines.append(header)
    lines.append("-" * len(header))
    last = None
    for r in doc["results"]:
        key = (r["shape"], r["dtype"])
        if last is not None and key != last:
            lines.append("")
        last = key
        if r["skipped"]:
            lines.append(f"{r['shape']:<13} {r['dtype']:<8} {r['runner']:<8} skipped: {r['skipped']}")
            continue
        lines.append(
            f"{r['shape']:<13} {r['dtype']:<8} {r['runner']:<8} {r.get('simd', ''):<18} {1e3 * r['median_s']:10.2f} "
            f"{1e3 * r['min_s']:9.2f} {r['speedup_vs_numpy']:8.2f} {r['speedup_vs_numpy_min']:6.2f} "
            f"{r['gflops']:8.1f} {r['gflops_best']:6.1f} {r['pct_of_gemm']:7.1f} "
            f"{r['grad_rel_err']:9.1e}  {'ok' if r['ok'] else 'MISMATCH'}")
    goals = goal_summary(doc)
    if goals:
        lines.append("")
        lines.append("against the goals (medians of this run): best fused backend vs the fastest of "
                     "numpy, PyTorch and JAX, and vs the large-gemm rate")
        for g in goals:
            auto = (f"; auto {g['auto_ms']:.2f} ms = {g['auto_vs_best_backend']:.2f}x the fastest "
                    f"backend ({g['fastest_backend']})" if g.get("auto_ms") else "")
            lines.append(f"  {g['shape']:<13} {g['dtype']:<8} {g['fused']:<7} {g['fused_ms']:8.2f} ms "
                         f"= {g['vs_fastest_peer']:5.2f}x {g['fastest_peer']:<8} "
                         f"{g['pct_of_gemm']:5.1f}% of gemm{auto}")
    if doc.get("training"):
        lines.append("")
        lines.append("training, ex4 shape" + (" (quick: tiny shape)" if doc["settings"]["quick"] else "")
                     + ":")
        for t in doc["training"]:
            per = f", {t['ms_per_evaluation']:.2f} ms/evaluation" if t.get("ms_per_evaluation") else ""
            lines.append(f"  {t['what']:<40} {t['seconds']:8.2f} s  {t['iterations']} iterations"
                         f"{per}; train accuracy {100 * t['train_accuracy']:.1f}%  [{t['model']}]")
    lines.append("")
    lines.append("x numpy: NumPy backend time / this time, same dtype (median; (min): fastest calls); "
                 "GFLOP/s: " + doc["flop_formula"] + " over the median ((min): over the fastest call); "
                 "% gemm: median GFLOP/s over the best large-gemm rate")
    return "\n".join(lines)


def format_memory(memory) -> str:
    """The result of :func:`memory_use` as a plain-text table."""
    ms = sorted({r["m"] for r in memory["rows"]})
    lines = [f"memory, {'-'.join(map(str, memory['layers']))}, float64, threads "
             f"{memory['threads']} (MiB kept by the objective beyond X; KiB allocated per call)"]
    header = f"{'backend':<8}" + "".join(
        f" {'m=' + str(m) + ' prepared':>18} {'first call':>11} {'later calls':>12}" for m in ms)
    lines.append(header)
    lines.append("-" * len(header))
    for name in dict.fromkeys(r["backend"] for r in memory["rows"]):
        cells = []
        for m in ms:
            r = next((r for r in memory["rows"] if r["backend"] == name and r["m"] == m), None)
            if r is None:
                cells.append(f" {'-':>18} {'-':>11} {'-':>12}")
            else:
                cells.append(f" {r['prepared_bytes'] / 2**20:18.2f} {r['first_call_bytes'] / 2**10:11.1f}"
                             f" {r['call_bytes'] / 2**10:12.1f}")
        lines.append(f"{name:<8}" + "".join(cells))
    lines.append(memory["note"])
    return "\n".join(lines)
