"""nnfast.bench and `nnfast bench`: quick runs on a tiny shape produce the JSON and the PNGs."""

import json
import time

import numpy as np
import pytest

import nnfast
from nnfast import bench

EXPECTED_KEYS = {"machine", "settings", "gemm_gflops", "gemm_n", "flop_formula", "results",
                 "training", "versions", "memory"}
RESULT_KEYS = {"shape", "layers", "m", "dtype", "runner", "threads", "median_s", "min_s",
               "gflops_best", "speedup_vs_numpy_min", "gflops", "pct_of_gemm", "speedup_vs_numpy", "cost_rel_err", "grad_rel_err", "ok",
               "skipped", "rounds", "simd"}


def _is_png(path):
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_flop_count():
    # ex4: forward + gradient of layer 1 (4 m 400 25), and 6 m 25 10 for layer 2
    assert bench.flop_count((400, 25, 10), 5000) == 207_500_000
    assert bench.flop_count((784, 128, 64, 10), 10) == 10 * (4 * 784 * 128 + 6 * 128 * 64 + 6 * 64 * 10)
    assert bench.flop_count((3, 2), 1) == 4 * 3 * 2


def test_quick_run_writes_json_and_png(tmp_path):
    doc = bench.run_bench(quick=True, output=tmp_path, peers=False, training=True, log=None)
    data = json.loads((tmp_path / "bench.json").read_text())
    assert EXPECTED_KEYS <= set(data)
    assert data["settings"]["quick"] and data["settings"]["shapes"] == ["tiny"]
    assert set(data["gemm_gflops"]) == {"float64", "float32"}
    assert all(v > 0 for v in data["gemm_gflops"].values())
    assert data["machine"]["cpu"] and data["machine"]["usable_cpus"] >= 1
    assert data["versions"]["numpy"] == np.__version__
    runners = {r["runner"] for r in data["results"]}
    assert set(nnfast.available_backends()) <= runners
    assert not runners & {"pytorch", "jax"}               # peers=False
    for r in data["results"]:
        assert RESULT_KEYS <= set(r)
        assert not r["skipped"], r
        assert r["ok"], r                                 # every timed result was checked
        assert r["median_s"] > 0 and r["gflops"] > 0
    numpy_rows = [r for r in data["results"] if r["runner"] == "numpy"]
    assert all(r["speedup_vs_numpy"] == pytest.approx(1.0) for r in numpy_rows)
    assert {t["what"].split()[0] for t in data["training"]} >= {"nnfast"}
    assert any("DIFFERENT MODEL" in t["model"] for t in data["training"])   # sklearn row labelled
    assert _is_png(tmp_path / "bench.png")
    table = bench.format_table(doc)
    assert "numpy" in table and "GFLOP/s" in table and "tiny" in table
    assert {r["m"] for r in data["memory"]["rows"]} == {300, 1200}
    assert "later calls" in bench.format_memory(doc["memory"])
    # the SIMD level next to every figure, as each library reports it
    from nnfast.backends._cython import _fused
    by_runner = {r["runner"]: r for r in data["results"]}
    assert by_runner["cython"]["simd"] == _fused.simd_level()
    assert all(r["simd"] and r["simd"] != "?" for r in data["results"]), data["results"]
    assert _fused.simd_level() in table
    # the goals: the faster fused backend against the fastest peer, per dtype
    goals = bench.goal_summary(doc)
    assert {(g["shape"], g["dtype"]) for g in goals} == {("tiny", "float64"), ("tiny", "float32")}
    for g in goals:
        fused = min((r for r in data["results"] if r["dtype"] == g["dtype"]
                     and r["runner"] in ("cython", "numba")), key=lambda r: r["median_s"])
        assert g["fused"] == fused["runner"]
        assert g["vs_fastest_peer"] == pytest.approx(
            by_dtype_runner(data, g["dtype"], "numpy")["median_s"] / fused["median_s"])
    assert "against the goals" in table


def by_dtype_runner(data, dtype, runner):
    return next(r for r in data["results"] if r["dtype"] == dtype and r["runner"] == runner)


def test_avx2_environment_forces_every_library():
    env = bench.avx2_environment({"XLA_FLAGS": "--xla_foo=1", "PATH": "/bin"})
    assert env["NNFAST_SIMD"] == "avx2+fma" and env["OPENBLAS_CORETYPE"] == "Haswell"
    assert env["NUMBA_CPU_NAME"] == "haswell" and env["ATEN_CPU_CAPABILITY"] == "avx2"
    assert env["MKL_ENABLE_INSTRUCTIONS"] == "AVX2" and env["DNNL_MAX_CPU_ISA"] == "AVX2"
    assert env["XLA_FLAGS"] == "--xla_foo=1 --xla_cpu_max_isa=AVX2" and env["PATH"] == "/bin"
    assert bench.avx2_environment(env)["XLA_FLAGS"] == env["XLA_FLAGS"]   # not added twice


def test_cli_bench_simd_avx2_reruns_in_a_forced_process(monkeypatch, tmp_path):
    """Each library reads its SIMD variable when it loads: `--simd avx2` starts a new
    process with the same options and the AVX2 environment."""
    import subprocess
    from nnfast import cli

    calls = []
    monkeypatch.setattr(subprocess, "call", lambda argv, env: calls.append((argv, env)) or 0)
    for k in bench.AVX2_ENV:
        monkeypatch.delenv(k, raising=False)
    code = cli.main(["bench", "--simd", "avx2", "--quick", "--shapes", "tiny", "--threads", "1",
                     "--output", str(tmp_path), "--no-peers"])
    assert code == 0 and len(calls) == 1
    argv, env = calls[0]
    assert argv[1:5] == ["-m", "nnfast.cli", "bench", "--simd"] and "avx2" in argv
    for opt in ("--quick", "--no-peers"):
        assert opt in argv
    assert argv[argv.index("--threads") + 1] == "1" and argv[argv.index("--output") + 1] == str(tmp_path)
    assert all(env[k] == v for k, v in bench.AVX2_ENV.items())


def test_fused_kernel_memory_per_call_does_not_grow_with_m():
    """The issue's memory bound: a fused evaluation allocates O(threads x parameters +
    block), whatever m; the NumPy backend's m x hidden temporaries grow with m."""
    from nnfast.backends import _chunking, _cython

    sizes, ms = (40, 8, 3), (600, 6000)
    mem = bench.memory_use(sizes=sizes, ms=ms, threads=2, backends=["cython", "numpy"])
    rows = {(r["backend"], r["m"]): r for r in mem["rows"]}
    n_par = nnfast.n_params(sizes)
    small, large = rows["cython", ms[0]], rows["cython", ms[1]]
    # later calls: the float64 gradient it returns plus a few small arrays
    assert abs(large["call_bytes"] - small["call_bytes"]) <= 4096
    assert large["call_bytes"] < 4 * n_par * 8 + 16 * 1024
    # the first call also allocates the reused work buffers and one slab per chunk
    workspace = _cython._layout(sizes).workspace
    n_chunks = _chunking.chunk_count(-(-ms[1] // _cython.BLOCK_ROWS), n_par, 8)
    bound = (n_chunks + 4) * n_par * 8 + 2 * workspace * 8 + 32 * 1024
    assert small["first_call_bytes"] <= bound and large["first_call_bytes"] <= bound
    # what the objective keeps: the packed panels of X (a second copy) and the targets
    assert large["prepared_bytes"] < 1.1 * large["x_bytes"] + ms[1] * sizes[-1] * 8 + 64 * 1024
    # the measurement does see memory that grows with m: numpy's activations and deltas
    grown = rows["numpy", ms[1]]["call_bytes"] - rows["numpy", ms[0]]["call_bytes"]
    assert grown >= (ms[1] - ms[0]) * (sizes[1] + sizes[2]) * 8


def test_scaling_plot(tmp_path):
    sc = bench.run_scaling(quick=True, peers=False, threads_list=(1,), backends=["numpy"])
    assert {(r["m"], r["threads"]) for r in sc["rows"]} == {(200, 1), (500, 1)}
    bench.plot_scaling(sc, tmp_path / "scaling.png")
    assert _is_png(tmp_path / "scaling.png")


def test_cli_bench_quick(tmp_path, capsys):
    from nnfast.cli import main

    out = tmp_path / "out"
    assert main(["bench", "--quick", "--no-peers", "--no-train", "--dtype", "float64",
                 "--backends", "numpy", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "median ms" in printed and "numpy" in printed
    data = json.loads((out / "bench.json").read_text())
    assert [r["runner"] for r in data["results"]] == ["numpy"]
    assert _is_png(out / "bench.png")
    assert main(["bench", "--quick", "--shapes", "nope", "--output", str(out)]) == 2
    assert main(["bench", "--quick", "--backends", "nope", "--output", str(out)]) == 2


def test_ex4_shaped_mnist_is_ex4_oriented(ex4_weights):
    try:
        X, y = bench.ex4_shaped_mnist(2000)
    except nnfast.datasets.DataNotFoundError as exc:
        pytest.skip(str(exc))
    assert X.shape == (2000, 400) and X.min() >= 0 and X.max() <= 1
    assert set(np.unique(y)) == set(range(10))
    # column-major 20x20 images and ex4's labels (class 9 = digit 0): the pretrained ex4
    # network recognises them well above chance (it sees different preprocessing than ex4's)
    acc = np.mean(nnfast.predict(nnfast.pack(ex4_weights), X, (400, 25, 10)) == y)
    assert acc > 0.4


def test_pytorch_peer_matches_numpy():
    pytest.importorskip("torch")
    m, sizes = bench.SHAPES["tiny"]
    X, y, _ = bench._data_for(m, sizes)
    from nnfast._validation import check_targets

    Y = check_targets(y, m, sizes[-1], np.float64)
    theta = nnfast.init_theta(sizes, "auto", random_state=0)
    J, g = bench._torch_build(X, Y, list(sizes), np.float64, 1, 1.0)(theta)
    J_ref, g_ref = nnfast.Objective(X, y, sizes, lam=1.0, backend="numpy")(theta)
    assert J == pytest.approx(J_ref, rel=1e-12)
    assert np.allclose(g, g_ref, rtol=1e-10, atol=1e-14)


def test_plot_results_draws_a_shape_whose_runners_were_all_skipped(tmp_path):
    """A shape where no runner could run (all skipped) still gets its titled panel."""
    from dataclasses import asdict

    timed = bench.BenchResult(shape="tiny", layers=[20, 8, 3], m=300, dtype="float64",
                              runner="numpy", threads=1, median_s=1e-4, speedup_vs_numpy=1.0,
                              rounds=3)
    skipped = bench.BenchResult(shape="ex4", layers=[400, 25, 10], m=5000, dtype="float64",
                                runner="jax", threads=1, skipped="JAX not installed")
    doc = {"results": [asdict(timed), asdict(skipped)], "settings": {"threads": 1},
           "machine": {"cpu": "test cpu"}}
    bench.plot_results(doc, tmp_path / "bench.png")
    assert _is_png(tmp_path / "bench.png")


def test_time_calls_counts_repeat_warmup_and_caps():
    calls = []
    times = bench.time_calls(calls.append, "x", repeat=4, warmup=2)
    assert len(times) == 4 and len(calls) == 6 and calls == ["x"] * 6
    assert all(t >= 0 for t in times)
    # min_time asks for more calls than repeat; max_calls stops them
    times = bench.time_calls(lambda: time.sleep(0.002), repeat=1, min_time=0.02, max_calls=100)
    assert 5 <= len(times) < 100 and sum(times) >= 0.01
    assert len(bench.time_calls(lambda: None, repeat=1, min_time=60.0, max_calls=7)) == 7
    assert len(bench.time_calls(lambda: None, repeat=2, min_time=60.0)) == 20   # 10 x repeat


def test_time_in_turns_takes_turns_block_by_block():
    order, contexts, results = [], [], []

    class Context:
        def __enter__(self):
            contexts.append("enter")

        def __exit__(self, *exc):
            contexts.append("exit")

    def runner(name):
        def call():
            order.append(name)
            return f"{name}{len(order)}"
        return call

    times = bench.time_in_turns({"a": runner("a"), "b": runner("b")}, turns=2,
                                calls_per_turn={"a": 2}, warmup={"b": 0},
                                max_calls={"b": 1}, pause=0.0, turn_context=Context,
                                on_result=lambda name, result: results.append((name, result)))
    # a: one untimed warm-up call and two timed ones per turn; b: no warm-up, and it sits
    # out the second turn once it has its one call
    assert order == ["a", "a", "a", "b", "a", "a", "a"]
    assert {name: len(ts) for name, ts in times.items()} == {"a": 4, "b": 1}
    assert contexts == ["enter", "exit"] * 3
    assert results == [("a", "a3"), ("b", "b4"), ("a", "a7")]


def test_time_in_turns_warms_up_for_warmup_time():
    calls = {"a": 0, "b": 0}

    def runner(name):
        def call():
            calls[name] += 1
            time.sleep(0.002)
        return call

    times = bench.time_in_turns({"a": runner("a"), "b": runner("b")}, turns=1,
                                warmup={"b": 0}, warmup_time=0.1, pause=0.0)
    # a: one warm-up call, then more until 0.1 s has passed (at least 2 ms each: at most
    # 50), then its one timed call; without warmup_time it would be called twice in all
    # (and with it, three times at least unless one 2 ms sleep took over 50 ms).
    # b (warmup 0) gets no warm-up at all
    assert 3 <= calls["a"] <= 50 + 1 and len(times["a"]) == 1
    assert calls["b"] == 1 and len(times["b"]) == 1


def test_time_in_turns_min_and_max_time():
    def sleepy():
        time.sleep(0.002)

    # min_time keeps turns going past `turns`, up to max_turns
    times = bench.time_in_turns({"a": sleepy}, turns=1, min_time=0.03, max_turns=1000,
                                warmup=0, pause=0.0)
    assert 5 <= len(times["a"]) < 1000
    assert len(bench.time_in_turns({"a": sleepy}, turns=1, min_time=60.0, max_turns=3,
                                   warmup=0, pause=0.0)["a"]) == 3
    # max_time stops before `turns` (never before the first turn)
    times = bench.time_in_turns({"a": sleepy}, turns=1000, max_time=0.02, warmup=0, pause=0.0)
    assert 1 <= len(times["a"]) < 1000
    assert len(bench.time_in_turns({"a": sleepy}, turns=5, max_time=0.0, warmup=0,
                                   pause=0.0)["a"]) == 1


def test_bench_times_the_network_asked_for(tmp_path):
    # tanh hidden units and a regression output: the backends that implement them are timed
    # and checked against numpy on that network; the others are skipped with the reason
    doc = bench.run_bench(quick=True, output=tmp_path, peers=False, training=False, log=None,
                          activation="tanh", output_layer="identity", backends=["numpy", "cython", "numba"])
    assert doc["settings"]["activation"] == "tanh" and doc["settings"]["output"] == "identity"
    assert doc["settings"]["loss"] == "squared_error"
    rows = {(r["runner"], r["dtype"]): r for r in doc["results"]}
    assert rows[("cython", "float64")]["ok"] and rows[("cython", "float64")]["grad_rel_err"] < 1e-12
    numba = rows[("numba", "float64")]
    assert numba["ok"] or "implements only logistic" in numba["skipped"]
