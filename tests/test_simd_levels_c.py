"""The SIMD header on its own, in C: every level this CPU runs against the plain-C level.

Complements the Python tests (which compare every level with the ``loop`` oracle)
at the level of single microkernels, including the forward-from-rows kernel
that only ``predict`` uses.  The same program checks the arm64 NEON path under
qemu (see the comment at the top of tests/c/simd_levels.c).
"""

import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _build_and_run(tmp_path, source, name, flags=(), timeout=120):
    """Compile tests/c/<source> with the system C compiler and run it: its stdout
    (skips without a compiler; fails on a build error or a non-zero exit)."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler {cc!r} on PATH")
    exe = tmp_path / name
    built = subprocess.run([cc, "-O2", *flags, "-I", str(ROOT / "nnfast" / "_kernels"),
                            str(ROOT / "tests" / "c" / source), "-o", str(exe), "-lm"],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


# the second build fetches the gradient slab's lines in every AVX2 grad1 tile (the instances
# that slabs larger than L2 take), which the small sizes of the test would not reach
@pytest.mark.parametrize("flags", [[], ["-DNNF_GRAD1_PF_SLAB_AVX2=1"]], ids=["default", "slab-prefetch"])
def test_every_simd_level_agrees_with_plain_c(tmp_path, flags):
    out = _build_and_run(tmp_path, "simd_levels.c", "simd_levels", ["-fno-math-errno", *flags])
    assert "all levels agree" in out
    assert out.count(" ok") >= 2      # at least one vector level per dtype


def test_row_copies_equal_the_element_by_element_copy(tmp_path):
    out = _build_and_run(tmp_path, "rows.c", "rows", timeout=60)
    assert out.startswith("0 of ") and "(vectors: 1)" in out


def test_fwdT_in_chunks_of_inputs_gives_the_same_bits(tmp_path):
    # AVX2's fwdT sums each tile over chunks of inputs, carrying the sums through Z:
    # the chunks must not change the order of any sum
    outputs = {chunk_bytes: _build_and_run(tmp_path, "fwdT_chunks.c", f"fwdT_chunks_{chunk_bytes}",
                                           ["-fno-math-errno", f"-DNNF_FWDT_KC_AVX2={chunk_bytes}"],
                                           timeout=60)
               for chunk_bytes in (0, 64, 512)}   # all at once; 8 or 16 inputs; the default
    if "avx2" not in outputs[0]:
        pytest.skip("this CPU runs no AVX2, the only level that takes chunks")
    level, hashes = outputs[0].splitlines()
    assert len(hashes.split()) == 4 and len(set(hashes.split()[::2])) == 2
    assert outputs[64] == outputs[0]
    assert outputs[512] == outputs[0]
