"""Prototype, not part of nnfast: the first layer of 8000 x 784 -> 25 on real MNIST, dense
against sparse (rows of X in CSR), forward and weight gradient, one thread each.

MNIST's pixels are 81% zeros (t10k: 19.3% nonzero, 44-311 per row), so a first layer
that skips them does a fifth of the multiply-adds; adding an exact zero changes no sum,
and with the nonzeros taken in the dense order the results here are the same bits.
Measures how much the fused kernels could gain from it (see BENCHMARKS.md, session 12):

    NNFAST_DATA=../shared/data OPENBLAS_NUM_THREADS=1 python benchmarks/proto_sparse_first_layer.py
"""
import numpy as np, time, statistics as st
from numba import njit
from nnfast import datasets
X, y = datasets.load_mnist("t10k"); X = np.ascontiguousarray(X[:8000])
m, n, h = X.shape[0], X.shape[1], 25
rng = np.random.default_rng(0)
W = rng.uniform(-0.1, 0.1, (h, n)); WT = np.ascontiguousarray(W.T)  # (n, h)
D = rng.standard_normal((m, h))
# CSR of X
nz = X != 0
indptr = np.concatenate([[0], np.cumsum(nz.sum(1))]).astype(np.int64)
cols = np.nonzero(nz)[1].astype(np.int64); vals = X[nz]

@njit(fastmath={"reassoc","contract","nsz","arcp"}, cache=False)
def sparse_fwd_grad(indptr, cols, vals, WT, D, Z, GT):
    m = indptr.shape[0] - 1; h = WT.shape[1]
    for r in range(m):
        z = Z[r]
        for u in range(h): z[u] = 0.0
        for p in range(indptr[r], indptr[r+1]):
            x = vals[p]; w = WT[cols[p]]
            for u in range(h): z[u] += x * w[u]
    for r in range(m):
        d = D[r]
        for p in range(indptr[r], indptr[r+1]):
            x = vals[p]; g = GT[cols[p]]
            for u in range(h): g[u] += x * d[u]

@njit(fastmath={"reassoc","contract","nsz","arcp"}, cache=False)
def dense_fwd_grad(X, WT, D, Z, GT):
    m, n = X.shape; h = WT.shape[1]
    for r in range(m):
        z = Z[r]
        for u in range(h): z[u] = 0.0
        for k in range(n):
            x = X[r, k]; w = WT[k]
            for u in range(h): z[u] += x * w[u]
    for r in range(m):
        d = D[r]
        for k in range(n):
            x = X[r, k]; g = GT[k]
            for u in range(h): g[u] += x * d[u]

Z = np.zeros((m, h)); GT = np.zeros((n, h)); Z2 = np.zeros((m, h)); GT2 = np.zeros((n, h))
sparse_fwd_grad(indptr, cols, vals, WT, D, Z, GT); dense_fwd_grad(X, WT, D, Z2, GT2)
print("largest difference, Z", np.abs(Z - Z2).max(), "GT (relative)", np.abs(GT - GT2).max() / np.abs(GT2).max())
ts = {"sparse": [], "dense": [], "blas": []}
for i in range(7):
    GT[:] = 0; t = time.perf_counter(); sparse_fwd_grad(indptr, cols, vals, WT, D, Z, GT); ts["sparse"].append(time.perf_counter() - t)
    GT2[:] = 0; t = time.perf_counter(); dense_fwd_grad(X, WT, D, Z2, GT2); ts["dense"].append(time.perf_counter() - t)
    t = time.perf_counter(); Z3 = X @ WT; G3 = D.T @ X; ts["blas"].append(time.perf_counter() - t)
for k, v in ts.items(): print(k, f"{st.median(v)*1e3:.2f} ms (numba one thread; blas: numpy, OpenBLAS's threads as set)")
print("dense first-layer FLOPs", 4*m*n*h/1e6, "MFLOP; sparse", 4*len(vals)*h/1e6)
