"""Vectorisable ``exp``, sigmoid, tanh, ``log1p(exp(-|z|))`` and ``log`` for the numba kernels.

``np.exp`` inside ``@njit`` is a libm call that LLVM cannot vectorise (no SVML
here), and the sigmoids are a large share of a forward pass.  This module
computes with the algorithms of the C kernel (``vexp``, ``vexpm1_neg``,
``vlog1p01``, ``vlog_ge1``, ``activation_vec`` and ``output_vec`` of
``nnf_simd_impl.h``: the same polynomial degrees, constants and clamps), so
that the two compiled backends saturate alike.  exp:

float64
    clamp x to [-746, 710]; ``n = round(x log2 e)`` by the magic-number trick
    (``t = x log2 e + 0x1.8p52``, ``n = t - 0x1.8p52``);
    ``r = x - n ln2_hi - n ln2_lo`` (Cody-Waite, two-part ln 2); ``p`` = the
    degree-12 Taylor polynomial of ``e**r`` by Horner; the exponent is split,
    ``n1 = n >> 1`` (floor), ``n2 = n - n1``, and the result is
    ``p * 2**n1 * 2**n2`` with each power of two built from its bits,
    ``(k + 1023) << 52``.
float32
    clamp to [-104, 89], magic ``0x1.8p23``, ``ln2_hi = 0.693359375``,
    ``ln2_lo = -2.12194440e-4``, degree-7 polynomial, bias 127, shift 23.

Splitting the exponent keeps both powers of two normal numbers, so the last
multiplication rounds once: exp overflows to ``inf`` above ~709.78 (float32:
~88.72), where ``1 / (1 + exp(-z))`` then gives exactly 0, and underflows
through the subnormals to exactly 0 below ~-745 (float32: ~-103.9), as
libm's exp and so NumPy/SciPy do.  The exp functions use strict IEEE
arithmetic (no ``fastmath``): the magic-number rounding needs the additions
in the order written, and without contraction the result does not depend on
whether the target CPU has FMA.

Every function works on 1-D C-contiguous arrays in place, in loops over the
values that LLVM vectorises: the powers of two are made from their bits by
an LLVM bitcast (:func:`_from_bits`) in the loop, with no scratch memory.  Hidden layers take
:func:`sigmoid_inplace`, ``1 / (1 + exp(-z))``; the output layer takes
:func:`sigmoid_log1p_exp_neg_abs`, which gets its activations and the
cross-entropy's ``log1p(exp(-|z|))`` from one ``exp(-|z|)`` per logit, as the C
kernel's output layer does.  tanh hidden units take :func:`tanh_inplace`
(``expm1(-2|z|)`` by the same reduction as exp, see ``vexpm1_neg``), the
softmax its ``log`` of the sum of exponentials from :func:`log_ge1_inplace`
(``vlog_ge1``).  The public functions dispatch on the dtype at
compile time, so a float64 kernel compiles no float32 code.
"""

import numpy as np
from numba import njit, types
from llvmlite import ir as llvm_ir
from numba.extending import intrinsic, overload

from .numba_tiles import INNER

__all__ = ["sigmoid_inplace", "log1p_exp_neg_abs", "sigmoid_log1p_exp_neg_abs", "exp_inplace",
           "tanh_inplace", "log_ge1_inplace"]

# fastmath=False must be explicit: a callee without a fastmath option inherits
# its caller's flags (numba's ConfigStack), and reassociation folds the
# magic-number rounding away ((x log2e + M) - M -> x log2e).
_STRICT = dict(nogil=True, cache=True, error_model="numpy", fastmath=False)
#: the building blocks' options: no wrappers to call them from Python (see
#: numba_tiles.INNER); the ``*_array`` functions keep theirs
_STRICT_INNER = dict(_STRICT, **INNER)

_LOG2E = 1.4426950408889634
_SHIFT_F64 = 6755399441055744.0  # 0x1.8p52
_LN2_HI_F64 = 6.93147180369123816490e-01
_LN2_LO_F64 = 1.90821492927058770002e-10
_EXP_LO_F64 = -746.0
_EXP_HI_F64 = 710.0
_EXPM1_LO_F64 = -60.0

_LOG2E_F32 = np.float32(_LOG2E)
_SHIFT_F32 = np.float32(12582912.0)  # 0x1.8p23
_LN2_HI_F32 = np.float32(0.693359375)
_LN2_LO_F32 = np.float32(-2.12194440e-4)
_EXP_LO_F32 = np.float32(-104.0)
_EXP_HI_F32 = np.float32(89.0)
_EXPM1_LO_F32 = np.float32(-30.0)

# Taylor coefficients 1/k!, highest degree first (Horner order)
_C12 = (1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
        1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5)
_C7_F32 = tuple(np.float32(c) for c in (1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0,
                                        1.0 / 6.0, 0.5))
_LN2 = 0.6931471805599453
_SQRT2 = 1.4142135623730951


def _bitcast(types_by_argument):
    """An intrinsic that reinterprets the bits of a scalar as another type: an LLVM
    bitcast, which vectorises with the loop around it.  ``types_by_argument`` maps the
    argument's numba type to the result's (numba type, LLVM type); any other argument
    type fails at typing."""
    @intrinsic
    def bitcast(typingctx, value):
        if value not in types_by_argument:
            return None
        result_type, llvm_type = types_by_argument[value]

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], llvm_type)
        return result_type(value), codegen
    return bitcast


#: the float whose bits are the argument (int64 -> float64, int32 -> float32).  A
#: ``.view`` of an array did the same through memory, and compiling the view cost a cold
#: first call 0.3 s
_from_bits = _bitcast({types.int64: (types.float64, llvm_ir.DoubleType()),
                       types.int32: (types.float32, llvm_ir.FloatType())})
#: the bits of a float (float64 -> int64, float32 -> int32)
_to_bits = _bitcast({types.float64: (types.int64, llvm_ir.IntType(64)),
                     types.float32: (types.int32, llvm_ir.IntType(32))})


# inlined into its callers in numba's IR (all of them strict): a function of its own was
# one more module to optimise and emit, and again in every caller
@njit(inline="always", **_STRICT_INNER)
def _reduced_expm1_f64(x):
    """(e**r - 1, 2**n1, 2**n2) where x, clamped by the caller, = (n1 + n2) ln 2 + r
    (the algorithm in the module docstring)."""
    t = x * _LOG2E + _SHIFT_F64
    k = t - _SHIFT_F64
    r = x - k * _LN2_HI_F64
    r = r - k * _LN2_LO_F64
    p = _C12[0]
    p = p * r + _C12[1]
    p = p * r + _C12[2]
    p = p * r + _C12[3]
    p = p * r + _C12[4]
    p = p * r + _C12[5]
    p = p * r + _C12[6]
    p = p * r + _C12[7]
    p = p * r + _C12[8]
    p = p * r + _C12[9]
    p = p * r + _C12[10]
    p = p * r + 1.0
    # int32 arithmetic: AVX2 has packed conversions and shifts for it
    k32 = np.int32(k)
    k1 = k32 >> np.int32(1)
    k2 = k32 - k1
    return (p * r, _from_bits(np.int64(k1 + np.int32(1023)) << np.int64(52)),
            _from_bits(np.int64(k2 + np.int32(1023)) << np.int64(52)))


@njit(inline="always", **_STRICT_INNER)
def _reduced_expm1_f32(x):
    """float32 version of :func:`_reduced_expm1_f64`."""
    t = x * _LOG2E_F32 + _SHIFT_F32
    k = t - _SHIFT_F32
    r = x - k * _LN2_HI_F32
    r = r - k * _LN2_LO_F32
    p = _C7_F32[0]
    p = p * r + _C7_F32[1]
    p = p * r + _C7_F32[2]
    p = p * r + _C7_F32[3]
    p = p * r + _C7_F32[4]
    p = p * r + _C7_F32[5]
    p = p * r + np.float32(1.0)
    k32 = np.int32(k)
    k1 = k32 >> np.int32(1)
    k2 = k32 - k1
    # numba types int32 arithmetic as int64: back to int32 for float32's bits
    return (p * r, _from_bits(np.int32((k1 + np.int32(127)) << np.int32(23))),
            _from_bits(np.int32((k2 + np.int32(127)) << np.int32(23))))


@njit(**_STRICT_INNER)
def _exp_f64(z):
    """z[:] = exp(z) in float64: (e**r - 1 + 1) 2**n1 2**n2."""
    for i in range(z.shape[0]):
        em1, pow1, pow2 = _reduced_expm1_f64(min(max(z[i], _EXP_LO_F64), _EXP_HI_F64))
        z[i] = (em1 + 1.0) * pow1 * pow2


@njit(**_STRICT_INNER)
def _exp_f32(z):
    """z[:] = exp(z) in float32."""
    for i in range(z.shape[0]):
        em1, pow1, pow2 = _reduced_expm1_f32(min(max(z[i], _EXP_LO_F32), _EXP_HI_F32))
        z[i] = (em1 + np.float32(1.0)) * pow1 * pow2


# tanh as the C kernel's activation_vec: e = expm1(-2|z|) as its vexpm1_neg computes it,
# 2**n (e**r - 1) + (2**n - 1), exact in its last term, so no cancellation near 0 (the
# argument clamped at -60, float32 -30, where e is -1 to the last bit); then
# tanh|z| = -e / (2 + e) (accurate near 0, where 1 - 2 / (1 + e**2z) would cancel), with
# z's sign
@njit(**_STRICT_INNER)
def _tanh_f64(z):
    """z[:] = tanh(z) in float64."""
    for i in range(z.shape[0]):
        em1, pow1, pow2 = _reduced_expm1_f64(min(max(-2.0 * abs(z[i]), _EXPM1_LO_F64), 0.0))
        two_n = pow1 * pow2
        e = two_n * em1 + (two_n - 1.0)
        t = -e / (2.0 + e)
        z[i] = -t if z[i] < 0.0 else t


@njit(**_STRICT_INNER)
def _tanh_f32(z):
    """float32 version of :func:`_tanh_f64`."""
    for i in range(z.shape[0]):
        x = min(max(np.float32(-2.0) * abs(z[i]), _EXPM1_LO_F32), np.float32(0.0))
        em1, pow1, pow2 = _reduced_expm1_f32(x)
        two_n = pow1 * pow2
        e = two_n * em1 + (two_n - np.float32(1.0))
        t = -e / (np.float32(2.0) + e)
        z[i] = -t if z[i] < np.float32(0.0) else t


def _sigmoid_f64(z):
    """z[:] = 1 / (1 + exp(-z)) in float64."""
    for i in range(z.shape[0]):
        z[i] = -z[i]
    _exp_f64(z)
    for i in range(z.shape[0]):
        z[i] = 1.0 / (1.0 + z[i])


def _sigmoid_f32(z):
    """z[:] = 1 / (1 + exp(-z)) in float32."""
    one = np.float32(1.0)
    for i in range(z.shape[0]):
        z[i] = -z[i]
    _exp_f32(z)
    for i in range(z.shape[0]):
        z[i] = one / (one + z[i])


# log1p(e) for 0 <= e <= 1 as the C kernel's vlog1p01 computes it, from u = 1 + e
# (rounded) and r = 1 / u: u = 2**k f with f in [1/sqrt2, sqrt2], k in {0, 1};
# log f = 2 atanh(s), s = (f - 1) / (f + 1), |s| <= 0.172, by its odd series (to
# s**21 in float64, s**11 in float32); plus the rounding error of u, (e - (u - 1)) / u.
# Contraction only, as the C kernel is compiled (GCC contracts by default).
_LOG1P_OPTS = dict(nogil=True, cache=True, error_model="numpy", fastmath={"contract"})
_LOG1P_INNER = dict(_LOG1P_OPTS, **INNER)


@njit(**_LOG1P_INNER)
def _log_near1_f64(f):
    """log f for f in [1/sqrt2, sqrt2], in float64 (the C kernel's vlog_near1)."""
    s = (f - 1.0) / (f + 1.0)
    s2 = s * s
    p = s2 * (1.0 / 21.0) + 1.0 / 19.0
    p = p * s2 + 1.0 / 17.0
    p = p * s2 + 1.0 / 15.0
    p = p * s2 + 1.0 / 13.0
    p = p * s2 + 1.0 / 11.0
    p = p * s2 + 1.0 / 9.0
    p = p * s2 + 1.0 / 7.0
    p = p * s2 + 1.0 / 5.0
    p = p * s2 + 1.0 / 3.0
    p = p * s2 * s + s
    return 2.0 * p


@njit(**_LOG1P_INNER)
def _log_near1_f32(f):
    """log f for f in [1/sqrt2, sqrt2], in float32."""
    one = np.float32(1.0)
    s = (f - one) / (f + one)
    s2 = s * s
    p = s2 * np.float32(1.0 / 11.0) + np.float32(1.0 / 9.0)
    p = p * s2 + np.float32(1.0 / 7.0)
    p = p * s2 + np.float32(1.0 / 5.0)
    p = p * s2 + np.float32(1.0 / 3.0)
    p = p * s2 * s + s
    return np.float32(2.0) * p


@njit(**_LOG1P_INNER)
def _log1p_small_f64(e, u, r):
    """log1p(e) for 0 <= e <= 1, given u = 1 + e and r = 1 / u, in float64."""
    rounding = (e - (u - 1.0)) * r
    big = u > _SQRT2
    f = u * 0.5 if big else u
    return (_LN2 if big else 0.0) + (_log_near1_f64(f) + rounding)


@njit(**_LOG1P_INNER)
def _log1p_small_f32(e, u, r):
    """log1p(e) for 0 <= e <= 1, given u = 1 + e and r = 1 / u, in float32."""
    rounding = (e - (u - np.float32(1.0))) * r
    big = u > np.float32(_SQRT2)
    f = u * np.float32(0.5) if big else u
    return (np.float32(_LN2) if big else np.float32(0.0)) + (_log_near1_f32(f) + rounding)


# log x for finite x >= 1 (the sum of a softmax's exponentials) as the C kernel's
# vlog_ge1: x = 2**k f with k from the exponent bits and f in [1, 2) from the mantissa,
# halved above sqrt2, so that log x = (k + [f > sqrt2]) ln 2 + log f.
@njit(**_LOG1P_INNER)
def _log_ge1_f64(x):
    """x[:] = log(x) for finite x >= 1, in float64."""
    for i in range(x.shape[0]):
        bits = _to_bits(x[i])
        f = _from_bits((bits & np.int64(0xFFFFFFFFFFFFF)) | (np.int64(1023) << np.int64(52)))
        k = np.float64((bits >> np.int64(52)) - np.int64(1023))
        big = f > _SQRT2
        fi = f * 0.5 if big else f
        x[i] = (k + (1.0 if big else 0.0)) * _LN2 + _log_near1_f64(fi)


@njit(**_LOG1P_INNER)
def _log_ge1_f32(x):
    """float32 version of :func:`_log_ge1_f64`."""
    for i in range(x.shape[0]):
        bits = _to_bits(x[i])
        f = _from_bits(np.int32((bits & np.int32(0x7FFFFF)) | (np.int32(127) << np.int32(23))))
        k = np.float32((bits >> np.int32(23)) - np.int32(127))
        big = f > np.float32(_SQRT2)
        fi = f * np.float32(0.5) if big else f
        x[i] = (k + (np.float32(1.0) if big else np.float32(0.0))) * np.float32(_LN2) \
            + _log_near1_f32(fi)


@njit(**_LOG1P_INNER)
def _log1p_exp_neg_abs_f64(z, out):
    """out[:] = log1p(exp(-|z|)) in float64 (z unchanged)."""
    n = z.shape[0]
    for i in range(n):
        out[i] = -abs(z[i])
    _exp_f64(out)
    for i in range(n):
        e = out[i]
        u = 1.0 + e
        out[i] = _log1p_small_f64(e, u, 1.0 / u)


@njit(**_LOG1P_INNER)
def _log1p_exp_neg_abs_f32(z, out):
    """float32 version of :func:`_log1p_exp_neg_abs_f64`."""
    n = z.shape[0]
    for i in range(n):
        out[i] = -abs(z[i])
    _exp_f32(out)
    for i in range(n):
        e = out[i]
        u = np.float32(1.0) + e
        out[i] = _log1p_small_f32(e, u, np.float32(1.0) / u)


# The output layer as the C kernel's output_vec computes it, from one
# e = exp(-|z|) per logit: h = 1 / (1 + e) for z >= 0 and e / (1 + e) below
# (so h goes through the subnormals to 0 as z falls below ~-709.78, where C's
# is also e / (1 + e)), and log1p(e) for the cross-entropy.
def _sigmoid_log1p_f64(z, h, log1p_e):
    """h[:] = sigmoid(z), log1p_e[:] = log1p(exp(-|z|)) in float64 (z unchanged)."""
    n = z.shape[0]
    for i in range(n):
        h[i] = -abs(z[i])
    _exp_f64(h)
    for i in range(n):
        e = h[i]
        u = 1.0 + e
        r = 1.0 / u
        log1p_e[i] = _log1p_small_f64(e, u, r)
        h[i] = e * r if z[i] < 0.0 else r


def _sigmoid_log1p_f32(z, h, log1p_e):
    """float32 version of :func:`_sigmoid_log1p_f64`."""
    n = z.shape[0]
    for i in range(n):
        h[i] = -abs(z[i])
    _exp_f32(h)
    for i in range(n):
        e = h[i]
        u = np.float32(1.0) + e
        r = np.float32(1.0) / u
        log1p_e[i] = _log1p_small_f32(e, u, r)
        h[i] = e * r if z[i] < np.float32(0.0) else r


# ---- dtype dispatch at compile time ---------------------------------------
# The sigmoids (what ex4's network runs) are not functions of their own that an overload
# calls: their overloads compile them as their implementations, with the options of their
# kind (a module less for every caller to optimise and emit again, part of a second of a
# cold first call); the others' overloads call functions compiled once for several callers.
def exp_inplace(z):
    """z[:] = exp(z) (z float32 or float64, 1-D)."""
    raise NotImplementedError("only callable from numba-compiled code")


def sigmoid_inplace(z):
    """z[:] = 1 / (1 + exp(-z)) (z float32 or float64, 1-D)."""
    raise NotImplementedError("only callable from numba-compiled code")


def log1p_exp_neg_abs(z, out):
    """out[:] = log1p(exp(-|z|)) (z, out of one dtype, 1-D)."""
    raise NotImplementedError("only callable from numba-compiled code")


def sigmoid_log1p_exp_neg_abs(z, h, log1p_e):
    """h[:] = sigmoid(z) and log1p_e[:] = log1p(exp(-|z|)), one exp per value (z, h,
    log1p_e of one dtype, 1-D)."""
    raise NotImplementedError("only callable from numba-compiled code")


def tanh_inplace(z):
    """z[:] = tanh(z) (z float32 or float64, 1-D)."""
    raise NotImplementedError("only callable from numba-compiled code")


def log_ge1_inplace(x):
    """x[:] = log(x) for finite x >= 1 (1-D float32 or float64)."""
    raise NotImplementedError("only callable from numba-compiled code")


def _by_dtype(dtype, f64, f32):
    if dtype == types.float64:
        return f64
    if dtype == types.float32:
        return f32
    return None


@overload(exp_inplace, jit_options=_STRICT_INNER)
def _exp_inplace_ov(z):
    impl = _by_dtype(z.dtype, _exp_f64, _exp_f32)
    if impl is not None:
        return lambda z: impl(z)


@overload(sigmoid_inplace, jit_options=_STRICT_INNER)
def _sigmoid_inplace_ov(z):
    return _by_dtype(z.dtype, _sigmoid_f64, _sigmoid_f32)


@overload(log1p_exp_neg_abs, jit_options=_STRICT_INNER)
def _log1p_exp_neg_abs_ov(z, out):
    impl = _by_dtype(z.dtype, _log1p_exp_neg_abs_f64, _log1p_exp_neg_abs_f32)
    if impl is not None:
        return lambda z, out: impl(z, out)


@overload(sigmoid_log1p_exp_neg_abs, jit_options=_LOG1P_INNER)
def _sigmoid_log1p_exp_neg_abs_ov(z, h, log1p_e):
    return _by_dtype(z.dtype, _sigmoid_log1p_f64, _sigmoid_log1p_f32)


@overload(tanh_inplace, jit_options=_STRICT_INNER)
def _tanh_inplace_ov(z):
    impl = _by_dtype(z.dtype, _tanh_f64, _tanh_f32)
    if impl is not None:
        return lambda z: impl(z)


@overload(log_ge1_inplace, jit_options=_LOG1P_INNER)
def _log_ge1_inplace_ov(x):
    impl = _by_dtype(x.dtype, _log_ge1_f64, _log_ge1_f32)
    if impl is not None:
        return lambda x: impl(x)


@njit(**_STRICT)
def exp_array(x):
    """exp of a 1-D array by this module's algorithm (for tests and comparisons)."""
    z = x.copy()
    exp_inplace(z)
    return z


@njit(**_STRICT)
def sigmoid_array(x):
    """sigmoid of a 1-D array by this module's algorithm (for tests)."""
    z = x.copy()
    sigmoid_inplace(z)
    return z


@njit(**_STRICT)
def log1p_exp_neg_abs_array(x):
    """log1p(exp(-|x|)) of a 1-D array by this module's algorithm (for tests)."""
    out = np.empty_like(x)
    log1p_exp_neg_abs(x, out)
    return out


@njit(**_STRICT)
def output_sigmoid_array(x):
    """The output layer's sigmoid (:func:`sigmoid_log1p_exp_neg_abs`) of a 1-D array (for tests)."""
    h = np.empty_like(x)
    sigmoid_log1p_exp_neg_abs(x, h, np.empty_like(x))
    return h


@njit(**_STRICT)
def tanh_array(x):
    """tanh of a 1-D array by this module's algorithm (for tests)."""
    z = x.copy()
    tanh_inplace(z)
    return z


@njit(**_STRICT)
def log_ge1_array(x):
    """log of a 1-D array of finite values >= 1 by this module's algorithm (for tests)."""
    z = x.copy()
    log_ge1_inplace(z)
    return z
