"""The results as PNGs: time per runner and shape, and time against m and threads."""

from __future__ import annotations


def plot_results(doc, path) -> None:
    """One panel per shape: median milliseconds per runner and dtype, speed-up vs NumPy marked."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    shapes = list(dict.fromkeys(r["shape"] for r in doc["results"]))
    dtypes = list(dict.fromkeys(r["dtype"] for r in doc["results"]))
    fig, axes = plt.subplots(len(shapes), 1, figsize=(9, 2.2 + 1.6 * len(shapes) * max(1, len(dtypes)) / 2),
                             squeeze=False)
    colours = {"float64": "#1f77b4", "float32": "#ff7f0e"}
    for ax, shape in zip(axes[:, 0], shapes):
        shape_rows = [r for r in doc["results"] if r["shape"] == shape]
        rows = [r for r in shape_rows if not r["skipped"]]
        names = list(dict.fromkeys(r["runner"] for r in rows))
        height = 0.8 / max(1, len(dtypes))
        for k, dt in enumerate(dtypes):
            for i, name in enumerate(names):
                r = next((r for r in rows if r["runner"] == name and r["dtype"] == dt), None)
                if r is None:
                    continue
                y = i + k * height
                ms = 1e3 * r["median_s"]
                ax.barh(y, ms, height=height, color=colours.get(dt, "grey"),
                        label=dt if i == 0 else None)
                ax.text(ms, y, f" {ms:.3g} ms (x{r['speedup_vs_numpy']:.3g})", va="center", fontsize=7)
        ax.set_yticks([i + 0.4 - height / 2 for i in range(len(names))])
        simd = {r["runner"]: r.get("simd", "") for r in rows if r.get("simd")}
        ax.set_yticklabels([f"{n}\n({simd[n]})" if n in simd else n for n in names], fontsize=7)
        ax.invert_yaxis()
        # from every row of the shape: a shape whose runners were all skipped has a panel too
        m, layers = shape_rows[0]["m"], shape_rows[0]["layers"]
        ax.set_title(f"{shape}: m = {m}, layers {'-'.join(map(str, layers))}", fontsize=9)
        values = [1e3 * r["median_s"] for r in rows]
        if values and max(values) / min(values) > 20:   # the per-example loop: log scale
            ax.set_xscale("log")
            ax.set_xlim(right=ax.get_xlim()[1] * 6)
        else:
            ax.set_xlim(0, 1.45 * max(values or [1]))
        if rows:
            ax.legend(fontsize=7, loc="lower right")
    axes[-1, 0].set_xlabel(f"median time of one cost+gradient evaluation (ms); "
                           f"{doc['settings']['threads']} threads; (xN) = speed-up over NumPy")
    forced = doc["machine"].get("simd_forced")
    fig.suptitle(doc["machine"]["cpu"] + (" - every library forced to AVX2" if forced
                                          else " - each library's native SIMD"), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scaling(scaling, path) -> None:
    """Time per evaluation against m (log-log) for each thread count, and threads speed-up."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = scaling["rows"]
    runners_ = list(dict.fromkeys(r["runner"] for r in rows))
    threads_list = sorted({r["threads"] for r in rows})
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    colour = {name: f"C{i}" for i, name in enumerate(runners_)}
    for name in runners_:
        for t in threads_list:
            pts = sorted((r["m"], r["median_s"]) for r in rows if r["runner"] == name and r["threads"] == t)
            if pts:
                ax1.plot(*zip(*[(m, 1e3 * s) for m, s in pts]), marker="o", color=colour[name],
                         linestyle="-" if t == threads_list[-1] else "--", label=f"{name}, {t} thr")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("examples m")
    ax1.set_ylabel("ms per cost+gradient evaluation")
    ax1.set_title(f"time against m, layers {'-'.join(map(str, scaling['layers']))}, float64", fontsize=9)
    ax1.legend(fontsize=7)
    ax1.grid(True, which="both", alpha=0.3)
    if len(threads_list) > 1:
        t0, t1 = threads_list[0], threads_list[-1]
        for name in runners_:
            pts = []
            for m in sorted({r["m"] for r in rows}):
                a = [r["median_s"] for r in rows if r["runner"] == name and r["m"] == m and r["threads"] == t0]
                b = [r["median_s"] for r in rows if r["runner"] == name and r["m"] == m and r["threads"] == t1]
                if a and b:
                    pts.append((m, a[0] / b[0]))
            if pts:
                ax2.plot(*zip(*pts), marker="o", color=colour[name], label=name)
        ax2.axhline(t1 / t0, color="grey", linestyle=":", label="ideal")
        ax2.set_xscale("log")
        ax2.set_xlabel("examples m")
        ax2.set_ylabel(f"speed-up {t0} -> {t1} threads")
        ax2.set_title("thread scaling", fontsize=9)
        ax2.legend(fontsize=7)
        ax2.grid(True, alpha=0.3)
    else:
        ax2.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
