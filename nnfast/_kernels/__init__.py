"""Compiled kernels (Cython extension); see nnfast.backends._cython."""
