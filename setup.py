"""Build script: declares the compiled extension of the ``cython`` backend.

Everything else about the package lives in ``pyproject.toml``.

The extension ``nnfast._kernels._fused`` is built with OpenMP when the
compiler supports it (checked by compiling and linking a test program, as
scikit-learn's ``_build_utils/openmp_helpers.py`` does: ``-fopenmp`` for
GCC/clang, ``/openmp`` for MSVC, ``-Xpreprocessor -fopenmp -lomp`` for Apple
clang) and single-threaded otherwise; ``nnfast.show_config()`` reports which.
SIMD code paths are chosen at run time from the CPU's features, so the
default build has no ``-march`` flag and runs on any CPU of its architecture.

Environment variables (source builds only):

- ``NNFAST_NATIVE=1``: add ``-march=native`` (the build then runs only on
  CPUs like the build machine).
- ``NNFAST_NO_OPENMP=1``: do not try OpenMP (a single-threaded build).
- ``NNFAST_PLAIN_C=1``: compile only the plain-C scalar microkernels, the code that
  compilers without GNU vector extensions (MSVC) get; for testing that path.

The SIMD instances of the microkernels are compiled in files of their own
(``nnf_simd_<target>.c``, see ``NNF_SPLIT`` in ``nnf_simd.h``), in parallel with
the Cython module on every core (``build_ext -j N`` sets how many).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = os.path.join("nnfast", "_kernels")

OPENMP_TEST = textwrap.dedent("""\
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d %d\\n", n, omp_get_max_threads());
        return n < 1;
    }
""")


def _openmp_candidates(compiler):
    """(compile args, link args) to try, most likely first."""
    if compiler.compiler_type == "msvc":
        return [(["/openmp"], [])]
    if sys.platform == "darwin":
        return [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    return [(["-fopenmp"], ["-fopenmp"])]


def check_openmp(compiler, extra_compile_args=()):
    """Flags with which a test OpenMP program compiles, links and runs, or None."""
    if os.environ.get("NNFAST_NO_OPENMP", "0") not in ("", "0"):
        return None
    for cflags, ldflags in _openmp_candidates(compiler):
        tmp = tempfile.mkdtemp(prefix="nnfast-openmp-")
        cwd = os.getcwd()
        try:
            os.chdir(tmp)
            with open("test_openmp.c", "w") as f:
                f.write(OPENMP_TEST)
            objects = compiler.compile(["test_openmp.c"], output_dir="objects",
                                       extra_postargs=list(extra_compile_args) + cflags)
            exe = "test_openmp"
            compiler.link_executable(objects, exe, output_dir=".",
                                     extra_postargs=ldflags)
            exe_path = os.path.join(".", exe + (".exe" if sys.platform == "win32" else ""))
            out = subprocess.run([exe_path], capture_output=True, timeout=60)
            if out.returncode == 0:
                return cflags, ldflags
        except Exception:  # compile, link or run failed: try the next flags
            pass
        finally:
            os.chdir(cwd)
            shutil.rmtree(tmp, ignore_errors=True)
    return None


def parallel_compile(compiler, jobs):
    """Make ``compiler.compile`` build its sources on ``jobs`` threads, largest first.

    distutils compiles an extension's sources one after the other (``build_ext
    -j`` runs separate extensions in parallel, not the files of one); this is its
    ``CCompiler.compile`` with the loop over objects on a thread pool (each object is
    a compiler process).  Only for the unix compiler class (gcc, clang), whose
    ``_compile`` compiles one file: others (MSVC) override ``compile`` itself and
    keep it.
    """
    if (jobs <= 1 or compiler.compiler_type != "unix"
            or not hasattr(compiler, "_setup_compile") or not hasattr(compiler, "_get_cc_args")):
        return

    def compile(sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                extra_preargs=None, extra_postargs=None, depends=None):
        macros, objects, extra_postargs, pp_opts, build = compiler._setup_compile(
            output_dir, macros, include_dirs, sources, depends, extra_postargs)
        cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)

        def one(obj):
            src, ext = build[obj]
            compiler._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

        # the generated Cython module is the longest: start it first
        order = sorted(build, key=lambda obj: -os.path.getsize(build[obj][0]))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for future in [pool.submit(one, obj) for obj in order]:
                future.result()  # re-raises a failed compile
        return objects

    compiler.compile = compile


class BuildExt(build_ext):
    """build_ext that adds optimisation and, if available, OpenMP flags, and compiles the
    sources of the extension in parallel."""

    def build_extensions(self):
        compiler = self.compiler
        parallel_compile(compiler, int(self.parallel) if self.parallel else (os.cpu_count() or 1))
        if compiler.compiler_type == "msvc":
            base = ["/O2"]
        else:
            # no -ffast-math: the kernels rely on IEEE rounding (exp's range reduction).
            # -g0 overrides the -g of Python's own CFLAGS: debug information took 40-50%
            # of every file's compile (76 s -> 47 s of CPU for the five, on a Zen 4 VM)
            base = ["-O3", "-fno-math-errno", "-g0"]
            if os.environ.get("NNFAST_NATIVE", "0") not in ("", "0"):
                base.append("-march=native")
        openmp = check_openmp(compiler, base)
        if os.environ.get("NNFAST_PLAIN_C", "0") not in ("", "0"):
            base.append("/DNNF_NO_VECTOR_EXT" if compiler.compiler_type == "msvc"
                        else "-DNNF_NO_VECTOR_EXT")
        cflags = base + (openmp[0] if openmp else [])
        ldflags = openmp[1] if openmp else []
        print(f"nnfast: building the cython backend with {'OpenMP' if openmp else 'NO OpenMP'}"
              f"; flags {' '.join(cflags)}")

        # a generated header tells the extension how it was built
        config_dir = os.path.join(self.build_temp, "nnfast_config")
        os.makedirs(config_dir, exist_ok=True)
        flags_text = " ".join(cflags).replace("\\", "\\\\").replace('"', '\\"')
        with open(os.path.join(config_dir, "nnf_build_config.h"), "w") as f:
            f.write(f'#define NNF_BUILD_FLAGS "{flags_text}"\n'
                    f'#define NNF_BUILD_COMPILER "{compiler.compiler_type}"\n')
        for ext in self.extensions:
            ext.include_dirs.append(config_dir)
            ext.extra_compile_args = list(ext.extra_compile_args or []) + cflags
            ext.extra_link_args = list(ext.extra_link_args or []) + ldflags
        super().build_extensions()


def extensions():
    from Cython.Build import cythonize

    levels = ("scalar", "vec128", "avx2", "avx512")
    ext = Extension(
        "nnfast._kernels._fused",
        sources=[os.path.join(KERNELS, "_fused.pyx")]
        + [os.path.join(KERNELS, f"nnf_simd_{level}.c") for level in levels],
        depends=[os.path.join(KERNELS, name) for name in (
            "nnf_simd.h", "nnf_simd_impl.h", "nnf_simd_both.h", "nnf_simd_undef.h",
            "nnf_simd_entries.h", "nnf_rows.h")],
        include_dirs=[KERNELS],
        define_macros=[("NNF_SPLIT", "1")],
    )
    return cythonize([ext], language_level=3, quiet=True)


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
