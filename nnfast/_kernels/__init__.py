"""Every compiled kernel: the Cython extension ``_fused`` and its SIMD headers
(for nnfast.backends._cython) and the numba kernels ``numba_*`` (for
nnfast.backends._numba and nnfast.gradcheck)."""
