"""Register-tiled dot products of the numba kernels (see :mod:`nnfast._kernels.numba_fused`).

A tile keeps 4 x 5 dot products in registers while the loop runs over their
common length (vectorised along it); the fused kernel calls it for the first
layer's forward, and for every layer's weight gradient.
"""

import numpy as np
from numba import njit

# Reassociation lets LLVM vectorise the dot-product reductions; no
# nnan/ninf: the sigmoid relies on exp overflowing to inf for very negative
# z.  (The exp itself is compiled without fastmath, in numba_math.)
_FAST_MATH_FLAGS = {"reassoc", "contract", "nsz", "arcp"}
#: options of every kernel of the fused pass (numba_fused uses them too)
JIT_OPTIONS = dict(nogil=True, cache=True, error_model="numpy", fastmath=_FAST_MATH_FLAGS)
#: added to the options of the building blocks, which only numba code calls: numba then
#: compiles no CPython and no C wrapper for them.  Each wrapper is a module of its own to
#: optimise and emit, and dropping them took a cold first call on ex4 from 8.2-8.7 s to
#: 6.0-6.6 s.  Called from Python such a function would crash, so every one of them has
#: a name starting with "_" and only numba code calls it; the drivers, and the
#: ``*_array`` functions of numba_math that the tests call, keep their wrappers.
INNER = dict(no_cpython_wrapper=True, no_cfunc_wrapper=True)
#: the building blocks' options
INNER_OPTIONS = dict(JIT_OPTIONS, **INNER)

# A constant argument reaches a called @njit function as a Literal type, and
# every distinct literal compiles another specialisation of it (the tile
# function took 3 before).  Module-level NumPy scalars are typed plain int64,
# so calls pass these instead of the literals 0 and 1.
_I0 = np.int64(0)
_I1 = np.int64(1)


@njit(**INNER_OPTIONS)
def _tile_dots(P, p_off, p_st, I, Q, q_off, q_st, J, n, out, o_off, o_si, o_sj, accumulate, zero):
    """out[o_off + i*o_si + j*o_sj] (+)= dot(P row i, Q row j) over n, for i < I, j < J.

    Row i of P is P[p_off + i*p_st : ... + n] (contiguous), row j of Q likewise.
    A 4 x 5 tile of dot products is kept in registers while the loop runs over n
    (vectorised along n); edge tiles repeat the last valid row and discard it.
    """
    for i0 in range(0, I, 4):
        i1 = min(i0 + 1, I - 1)
        i2 = min(i0 + 2, I - 1)
        i3 = min(i0 + 3, I - 1)
        s = p_off + i0 * p_st
        p0 = P[s:s + n]
        s = p_off + i1 * p_st
        p1 = P[s:s + n]
        s = p_off + i2 * p_st
        p2 = P[s:s + n]
        s = p_off + i3 * p_st
        p3 = P[s:s + n]
        for j0 in range(0, J, 5):
            j1 = min(j0 + 1, J - 1)
            j2 = min(j0 + 2, J - 1)
            j3 = min(j0 + 3, J - 1)
            j4 = min(j0 + 4, J - 1)
            s = q_off + j0 * q_st
            q0 = Q[s:s + n]
            s = q_off + j1 * q_st
            q1 = Q[s:s + n]
            s = q_off + j2 * q_st
            q2 = Q[s:s + n]
            s = q_off + j3 * q_st
            q3 = Q[s:s + n]
            s = q_off + j4 * q_st
            q4 = Q[s:s + n]
            c00 = c01 = c02 = c03 = c04 = zero
            c10 = c11 = c12 = c13 = c14 = zero
            c20 = c21 = c22 = c23 = c24 = zero
            c30 = c31 = c32 = c33 = c34 = zero
            for k in range(n):
                a0 = p0[k]
                a1 = p1[k]
                a2 = p2[k]
                a3 = p3[k]
                b0 = q0[k]
                b1 = q1[k]
                b2 = q2[k]
                b3 = q3[k]
                b4 = q4[k]
                c00 += a0 * b0
                c01 += a0 * b1
                c02 += a0 * b2
                c03 += a0 * b3
                c04 += a0 * b4
                c10 += a1 * b0
                c11 += a1 * b1
                c12 += a1 * b2
                c13 += a1 * b3
                c14 += a1 * b4
                c20 += a2 * b0
                c21 += a2 * b1
                c22 += a2 * b2
                c23 += a2 * b3
                c24 += a2 * b4
                c30 += a3 * b0
                c31 += a3 * b1
                c32 += a3 * b2
                c33 += a3 * b3
                c34 += a3 * b4
            # the stores in a loop over a tuple, not written out: 40 statements under
            # 32 conditions took numba's front end 1.5 s to type and lower (a fifth of a
            # cold first call); the tile's valid part, the same sums in the same order
            tile = (c00, c01, c02, c03, c04, c10, c11, c12, c13, c14,
                    c20, c21, c22, c23, c24, c30, c31, c32, c33, c34)
            for ii in range(min(4, I - i0)):
                for jj in range(min(5, J - j0)):
                    at = o_off + (i0 + ii) * o_si + (j0 + jj) * o_sj
                    if accumulate:
                        out[at] += tile[ii * 5 + jj]
                    else:
                        out[at] = tile[ii * 5 + jj]


# inlined into its callers in numba's IR: as a function of its own it was one more module
# for every caller to link, optimise and emit again (the same flags as its callers)
@njit(inline="always", **INNER_OPTIONS)
def _dots_acc_best(P, p_off, p_st, I, Q, q_off, q_st, J, n, out, o_off, o_si, o_sj, zero):
    """``out[o_off + i*o_si + j*o_sj] += dot(P row i, Q row j)`` (rows ``p_st`` and
    ``q_st`` apart), with the operands in the order that wastes the fewest tile lanes."""
    waste_ij = ((I + 3) // 4) * 4 * ((J + 4) // 5) * 5
    waste_ji = ((J + 3) // 4) * 4 * ((I + 4) // 5) * 5
    if waste_ij <= waste_ji:
        _tile_dots(P, p_off, p_st, I, Q, q_off, q_st, J, n, out, o_off, o_si, o_sj,
                   np.bool_(True), zero)
    else:
        _tile_dots(Q, q_off, q_st, J, P, p_off, p_st, I, n, out, o_off, o_sj, o_si,
                   np.bool_(True), zero)
