/* Register-tiled SIMD microkernels of the fused cost/gradient kernel.
 *
 * TEMPLATE: included several times by nnf_simd.h, once per (dtype, SIMD
 * target), with these macros defined by the includer:
 *
 *   NNF_T      element type (double or float)
 *   NNF_I      integer type of the same width (int64_t or int32_t)
 *   NNF_SFX    suffix of every name defined here (e.g. d_avx512)
 *   NNF_VBYTES vector width in bytes (64, 32, 16), or 0 for plain scalar C
 *   NNF_TGT    function attribute selecting the target (may be empty)
 *   NNF_FWD1_VECS  fwd1 (forward from the rows of X): at most this many vectors of
 *              units per tile;  NNF_FWD1_ROWS_<nv>  rows of a tile of nv unit-vectors
 *   NNF_TILE_A_UNITS x NNF_TILE_A_VECS, NNF_TILE_B_UNITS x NNF_TILE_B_VECS  the tiles
 *              of fwdT, grad1 and backprop: units x vectors (of rows or features);
 *              B is used when it divides the units and A does not
 *   NNF_DOUBLE 1 for double, 0 for float (constants of exp)
 *
 * Layouts (all row-major, "ld" = leading dimension in elements):
 *   X   (nb, n_in)      rows of the block, without the bias column
 *   WT  (n_in, hp)      first-layer weights transposed, units padded to hp
 *   Z, A, D  (units, ld) units-major activations of the block: rows in lanes
 *   W   (n_o, n_i + 1)  a weight matrix as in theta, bias in column 0
 *   G   (n_o, n_i + 1)  its gradient slab (accumulated into)
 *
 * No guard: this file is meant to be included repeatedly.
 */

#define NNF_CAT_(a, b) a##_##b
#define NNF_CAT(a, b) NNF_CAT_(a, b)
#define FN(name) NNF_CAT(name, NNF_SFX)
#define VT FN(nnf_vec)
#define VIT FN(nnf_ivec)

#if NNF_VBYTES
typedef NNF_T VT __attribute__((vector_size(NNF_VBYTES)));
typedef NNF_I VIT __attribute__((vector_size(NNF_VBYTES)));
#define VL ((ptrdiff_t)(NNF_VBYTES / sizeof(NNF_T)))
#else
typedef NNF_T VT;
typedef NNF_I VIT;
#define VL ((ptrdiff_t)1)
#endif

static NNF_INLINE NNF_TGT VT FN(vload)(const NNF_T *p)
{
    VT v;
    memcpy(&v, p, sizeof v);
    return v;
}

static NNF_INLINE NNF_TGT void FN(vstore)(NNF_T *p, VT v)
{
    memcpy(p, &v, sizeof v);
}

/* every lane s, as one broadcast (from memory when s is loaded).  s - 0 is s
 * for every s, so compilers drop the subtraction; the tempting 0 + s is not
 * (0 + -0 = +0), and cost a scalar add on an FMA port before every broadcast
 * of the register tiles: the AVX2 tiles lost a fifth of their rate to it. */
static NNF_INLINE NNF_TGT VT FN(vset1)(NNF_T s)
{
    VT zero = {0};
    return s - zero;
}

#if NNF_VBYTES
static NNF_INLINE NNF_TGT VT FN(vmin)(VT a, VT b)
{
    __typeof__(a < b) m = a < b;
    return (VT)((m & (__typeof__(m))a) | (~m & (__typeof__(m))b));
}
static NNF_INLINE NNF_TGT VT FN(vmax)(VT a, VT b)
{
    __typeof__(a > b) m = a > b;
    return (VT)((m & (__typeof__(m))a) | (~m & (__typeof__(m))b));
}
#else
static NNF_INLINE NNF_TGT VT FN(vmin)(VT a, VT b) { return a < b ? a : b; }
static NNF_INLINE NNF_TGT VT FN(vmax)(VT a, VT b) { return a > b ? a : b; }
#endif

/* e^r - 1 for |r| <= ln2/2: r times a Horner polynomial */
static NNF_INLINE NNF_TGT VT FN(vexpm1_reduced)(VT r)
{
    VT p;
#if NNF_DOUBLE
    p = r * (NNF_T)(1.0 / 479001600.0) + (NNF_T)(1.0 / 39916800.0);
    p = p * r + (NNF_T)(1.0 / 3628800.0);
    p = p * r + (NNF_T)(1.0 / 362880.0);
    p = p * r + (NNF_T)(1.0 / 40320.0);
    p = p * r + (NNF_T)(1.0 / 5040.0);
    p = p * r + (NNF_T)(1.0 / 720.0);
    p = p * r + (NNF_T)(1.0 / 120.0);
    p = p * r + (NNF_T)(1.0 / 24.0);
    p = p * r + (NNF_T)(1.0 / 6.0);
    p = p * r + (NNF_T)0.5;
    p = p * r + (NNF_T)1.0;
#else
    p = r * (NNF_T)(1.0 / 5040.0) + (NNF_T)(1.0 / 720.0);
    p = p * r + (NNF_T)(1.0 / 120.0);
    p = p * r + (NNF_T)(1.0 / 24.0);
    p = p * r + (NNF_T)(1.0 / 6.0);
    p = p * r + (NNF_T)0.5;
    p = p * r + (NNF_T)1.0;
#endif
    return p * r;
}

/* x = n ln2 + r, |r| <= ln2/2, for x clamped to the range of vexp: returns r and sets
 * *two_lo, *two_hi to 2^(n>>1) and 2^(n - (n>>1)), both normal numbers.  n comes from
 * the round-to-nearest "magic number" trick, so no float->int conversion is needed. */
static NNF_INLINE NNF_TGT VT FN(vexp_reduce)(VT x, VT *two_lo, VT *two_hi)
{
#if NNF_DOUBLE
    const NNF_T log2e = 1.4426950408889634, magic = 6755399441055744.0; /* 0x1.8p52 */
    const NNF_T ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;
    const int mant = 52;
    const NNF_I bias = 1023;
#else
    const NNF_T log2e = 1.44269504f, magic = 12582912.0f; /* 0x1.8p23 */
    const NNF_T ln2hi = 0.693359375f, ln2lo = -2.12194440e-4f;
    const int mant = 23;
    const NNF_I bias = 127;
#endif
    VT t, n, r;
    VIT ti, mi, hi_i, si;
    NNF_T magic_v = magic;
    NNF_I magic_bits;
    t = x * log2e + magic;
    n = t - magic;
    r = x - n * ln2hi;
    r = r - n * ln2lo;
    memcpy(&magic_bits, &magic_v, sizeof magic_bits);
    memcpy(&ti, &t, sizeof ti);
    mi = ti - magic_bits;                 /* n as an integer */
    hi_i = mi >> 1;                       /* n = hi_i + (n - hi_i), each half in range */
    si = (hi_i + bias) << mant;           /* bits of 2^hi_i */
    memcpy(two_lo, &si, sizeof *two_lo);
    si = (mi - hi_i + bias) << mant;      /* bits of 2^(n - hi_i) */
    memcpy(two_hi, &si, sizeof *two_hi);
    return r;
}

/* exp(x) for every lane: x = n ln2 + r, Taylor polynomial of e^r (degree 12 in double,
 * 7 in float: truncation below 2e-16 resp. 6e-9 relative), times 2^n built from
 * exponent bits.  2^n is applied in two halves, so that exp overflows to +inf where
 * libm's does (above ~709.78 in double, ~88.72 in float: sigmoid(z) = 1/(1 + exp(-z))
 * is then exactly 0, as scipy's expit) and goes through the subnormals to exactly 0
 * below (~-745, ~-103).  x is clamped to [-746, 710] ([-104, 89]) only to keep n in
 * range.  The numba kernels (nnfast/_kernels/numba_math.py) compute the same. */
static NNF_INLINE NNF_TGT VT FN(vexp)(VT x)
{
#if NNF_DOUBLE
    const NNF_T lo = -746.0, hi = 710.0;
#else
    const NNF_T lo = -104.0f, hi = 89.0f;
#endif
    VT two_lo, two_hi, r;
    x = FN(vmax)(FN(vmin)(x, FN(vset1)(hi)), FN(vset1)(lo));
    r = FN(vexp_reduce)(x, &two_lo, &two_hi);
    return (FN(vexpm1_reduced)(r) + (NNF_T)1) * two_lo * two_hi;
}

/* exp(x) - 1 for x <= 0, without the cancellation of exp(x) - 1 near 0:
 * 2^n (e^r - 1) + (2^n - 1), exact in its last term; x is clamped at -60 (-30 in
 * float), where exp(x) - 1 is -1 to the last bit. */
static NNF_INLINE NNF_TGT VT FN(vexpm1_neg)(VT x)
{
    VT two_lo, two_hi, two_n, r;
    x = FN(vmax)(x, FN(vset1)((NNF_T)(NNF_DOUBLE ? -60.0 : -30.0)));
    r = FN(vexp_reduce)(x, &two_lo, &two_hi);
    two_n = two_lo * two_hi;
    return two_n * FN(vexpm1_reduced)(r) + (two_n - (NNF_T)1);
}

static NNF_INLINE NNF_TGT NNF_T FN(hsum)(VT v)
{
    NNF_T tmp[NNF_VBYTES ? NNF_VBYTES / sizeof(NNF_T) : 1], s = 0;
    ptrdiff_t j;
    FN(vstore)(tmp, v);
    for (j = 0; j < VL; j++)
        s += tmp[j];
    return s;
}

/* a > t ? x : y, lane by lane */
#if NNF_VBYTES
static NNF_INLINE NNF_TGT VT FN(vselect_gt)(VT a, VT t, VT x, VT y)
{
    __typeof__(a > t) m = a > t;
    return (VT)((m & (__typeof__(m))x) | (~m & (__typeof__(m))y));
}
#else
static NNF_INLINE NNF_TGT VT FN(vselect_gt)(VT a, VT t, VT x, VT y) { return a > t ? x : y; }
#endif

/* log f for f in [1/sqrt2, sqrt2]: 2 atanh(s), s = (f - 1)/(f + 1), |s| <= 0.172, by
 * its odd series (to s^21 in double, s^11 in float) */
static NNF_INLINE NNF_TGT VT FN(vlog_near1)(VT f)
{
    const VT one = FN(vset1)((NNF_T)1);
    VT s = (f - one) / (f + one);
    VT s2 = s * s, p;
#if NNF_DOUBLE
    p = s2 * (NNF_T)(1.0 / 21) + (NNF_T)(1.0 / 19);
    p = p * s2 + (NNF_T)(1.0 / 17);
    p = p * s2 + (NNF_T)(1.0 / 15);
    p = p * s2 + (NNF_T)(1.0 / 13);
    p = p * s2 + (NNF_T)(1.0 / 11);
    p = p * s2 + (NNF_T)(1.0 / 9);
    p = p * s2 + (NNF_T)(1.0 / 7);
    p = p * s2 + (NNF_T)(1.0 / 5);
    p = p * s2 + (NNF_T)(1.0 / 3);
#else
    p = s2 * (NNF_T)(1.0 / 11) + (NNF_T)(1.0 / 9);
    p = p * s2 + (NNF_T)(1.0 / 7);
    p = p * s2 + (NNF_T)(1.0 / 5);
    p = p * s2 + (NNF_T)(1.0 / 3);
#endif
    p = p * s2 * s + s;
    return (NNF_T)2 * p;
}

/* log1p(e) for 0 <= e <= 1, given u = 1 + e (rounded) and r = 1 / u:
 * u = 2^k f with f in [1/sqrt2, sqrt2], k in {0, 1}, plus the rounding error of u,
 * (e - (u - 1)) / u. */
static NNF_INLINE NNF_TGT VT FN(vlog1p01)(VT e, VT u, VT r)
{
    const VT one = FN(vset1)((NNF_T)1), zero = FN(vset1)((NNF_T)0);
    VT c = (e - (u - one)) * r;
    VT big = FN(vselect_gt)(u, FN(vset1)((NNF_T)1.4142135623730951), one, zero);
    VT f = u * ((NNF_T)1 - (NNF_T)0.5 * big);
    return big * (NNF_T)0.69314718055994530942 + (FN(vlog_near1)(f) + c);
}

/* log x for finite x >= 1 (the sum of a softmax's exponentials): x = 2^k f, k from the
 * exponent bits, f in [1/sqrt2, sqrt2] */
static NNF_INLINE NNF_TGT VT FN(vlog_ge1)(VT x)
{
#if NNF_DOUBLE
    const int mant = 52;
    const NNF_I bias = 1023, mant_mask = ((NNF_I)1 << 52) - 1;
#else
    const int mant = 23;
    const NNF_I bias = 127, mant_mask = ((NNF_I)1 << 23) - 1;
#endif
    const VT one = FN(vset1)((NNF_T)1), zero = FN(vset1)((NNF_T)0);
    VIT bits, kbits;
    VT f, k, big;
    memcpy(&bits, &x, sizeof bits);
    kbits = (bits >> mant) - bias;
    bits = (bits & mant_mask) | (bias << mant);
    memcpy(&f, &bits, sizeof f);                  /* in [1, 2) */
    big = FN(vselect_gt)(f, FN(vset1)((NNF_T)1.4142135623730951), one, zero);
    f = f * ((NNF_T)1 - (NNF_T)0.5 * big);
#if NNF_VBYTES
    k = __builtin_convertvector(kbits, VT);
#else
    k = (NNF_T)kbits;
#endif
    return (k + big) * (NNF_T)0.69314718055994530942 + FN(vlog_near1)(f);
}

/* Activation, loss and output error of VL outputs from the logit z, for the
 * element-wise heads (NNF_HEAD_*, softmax is done over all outputs at once):
 * logistic, from one e = exp(-|z|): h = sigmoid(z) = 1/(1 + e) for z >= 0, e/(1 + e)
 * below; cross-entropy max(z, 0) - y z + log1p(e), error h - y; or squared error
 * 0.5 (h - y)^2, error (h - y) h (1 - h).  identity: h = z, 0.5 (z - y)^2, error z - y. */
static NNF_INLINE NNF_TGT void FN(output_vec)(int head, VT z, VT y, VT *hv, VT *lv, VT *dv)
{
    const VT one = FN(vset1)((NNF_T)1), zero = FN(vset1)((NNF_T)0);
    VT e, u, r, h, d;
    if (head == NNF_HEAD_IDENTITY_SQUARED_ERROR) {
        d = z - y;
        *hv = z;
        *lv = (NNF_T)0.5 * d * d;
        *dv = d;
        return;
    }
    e = FN(vexp)(FN(vmin)(z, -z));
    u = one + e;
    r = one / u;
    h = FN(vselect_gt)(zero, z, e * r, r);
    *hv = h;
    if (head == NNF_HEAD_LOGISTIC_CROSS_ENTROPY) {
        *lv = FN(vmax)(z, zero) - y * z + FN(vlog1p01)(e, u, r);
        *dv = h - y;
    } else {
        d = h - y;
        *lv = (NNF_T)0.5 * d * d;
        *dv = d * h * (one - h);
    }
}

/* Softmax and categorical cross-entropy of VL rows (one per lane) over the n_out
 * outputs z[o * ld], targets y[o * ldy]: with M = max_o z_o and S = sum_o exp(z_o - M)
 * (so no exp overflows), h_o = exp(z_o - M) / S, loss sum_o y_o (M + log S - z_o),
 * error h_o sum_o y_o - y_o (h - y for one-hot targets).  Rows whose targets are all 0
 * (the padding of a partial vector) give 0 loss and 0 error.  Returns the loss vector;
 * writes h to a[o * ld] and the error to d[o * ld]. */
static NNF_INLINE NNF_TGT VT FN(softmax_vec)(
    const NNF_T *z, ptrdiff_t ld, const NNF_T *y, ptrdiff_t ldy, ptrdiff_t n_out,
    NNF_T *a, NNF_T *d)
{
    VT zmax = FN(vload)(z), sum = FN(vset1)((NNF_T)0), ysum = sum, yz = sum, inv;
    ptrdiff_t o;
    for (o = 1; o < n_out; o++)
        zmax = FN(vmax)(zmax, FN(vload)(z + o * ld));
    for (o = 0; o < n_out; o++) {
        VT zo = FN(vload)(z + o * ld), yo = FN(vload)(y + o * ldy);
        VT eo = FN(vexp)(zo - zmax);
        FN(vstore)(a + o * ld, eo);
        sum += eo;
        ysum += yo;
        yz += yo * zo;
    }
    inv = FN(vset1)((NNF_T)1) / sum;
    for (o = 0; o < n_out; o++) {
        VT h = FN(vload)(a + o * ld) * inv;
        FN(vstore)(a + o * ld, h);
        FN(vstore)(d + o * ld, h * ysum - FN(vload)(y + o * ldy));
    }
    return ysum * (zmax + FN(vlog_ge1)(sum)) - yz;
}

/* softmax of VL rows over the n_out outputs z[o * ld], into a[o * ld] */
static NNF_INLINE NNF_TGT void FN(softmax_rows_vec)(const NNF_T *z, ptrdiff_t ld, ptrdiff_t n_out, NNF_T *a)
{
    VT zmax = FN(vload)(z), sum = FN(vset1)((NNF_T)0), inv;
    ptrdiff_t o;
    for (o = 1; o < n_out; o++)
        zmax = FN(vmax)(zmax, FN(vload)(z + o * ld));
    for (o = 0; o < n_out; o++) {
        VT eo = FN(vexp)(FN(vload)(z + o * ld) - zmax);
        FN(vstore)(a + o * ld, eo);
        sum += eo;
    }
    inv = FN(vset1)((NNF_T)1) / sum;
    for (o = 0; o < n_out; o++)
        FN(vstore)(a + o * ld, FN(vload)(a + o * ld) * inv);
}

/* The loss is summed in float64, lane by lane: LACC holds VL float64 partial sums.
 * A float kernel converts its lanes to float64 before adding them (it used to add
 * them one by one to a scalar, a chain of VL dependent adds per vector: the output
 * layer took 5.7% of ex4's float32 evaluation that way, 3.8% now), so it sums as many
 * values in float64 as the double kernel does, in the same order. */
#if NNF_DOUBLE
typedef VT FN(nnf_lacc);
#elif NNF_VBYTES
typedef double FN(nnf_lacc) __attribute__((vector_size(2 * NNF_VBYTES)));
#else
typedef double FN(nnf_lacc);
#endif
#define LACC FN(nnf_lacc)

static NNF_INLINE NNF_TGT void FN(add_loss)(LACC *acc, VT lv)
{
#if NNF_DOUBLE
    *acc += lv;
#elif NNF_VBYTES
    *acc += __builtin_convertvector(lv, LACC);
#else
    *acc += (double)lv;
#endif
}

/* the sum of the partial sums */
static NNF_INLINE NNF_TGT double FN(loss_total)(const LACC *acc)
{
#if NNF_DOUBLE
    return FN(hsum)(*acc);
#elif NNF_VBYTES
    double s = 0.0;
    ptrdiff_t j;
    for (j = 0; j < VL; j++)
        s += (*acc)[j];
    return s;
#else
    return *acc;
#endif
}

/* lv and the VL errors d[o * ld] of a vector of rows times their weights wv */
static NNF_INLINE NNF_TGT VT FN(weigh_rows)(VT lv, VT wv, NNF_T *d, ptrdiff_t ld, ptrdiff_t n_out)
{
    ptrdiff_t o;
    for (o = 0; o < n_out; o++)
        FN(vstore)(d + o * ld, FN(vload)(d + o * ld) * wv);
    return lv * wv;
}

/* output_error for the softmax head.  The last partial vector of rows runs on
 * zero-padded copies made in A (of the logits) and D (of the targets): the
 * padding's all-zero targets give it zero loss and zero error. */
static NNF_TGT double FN(output_error_softmax)(
    const NNF_T *Z, ptrdiff_t ld, const NNF_T *YT, ptrdiff_t ldy,
    ptrdiff_t n_out, ptrdiff_t nb, ptrdiff_t npad, NNF_T *A, NNF_T *D, const NNF_T *W)
{
    LACC acc = {0};
    VT lv;
    NNF_T tw[NNF_VBYTES ? NNF_VBYTES / sizeof(NNF_T) : 1];
    ptrdiff_t o, i, j;
    for (i = 0; i + VL <= nb; i += VL) {
        lv = FN(softmax_vec)(Z + i, ld, YT + i, ldy, n_out, A + i, D + i);
        if (W)
            lv = FN(weigh_rows)(lv, FN(vload)(W + i), D + i, ld, n_out);
        FN(add_loss)(&acc, lv);
    }
    if (i < nb) {
        for (o = 0; o < n_out; o++)
            for (j = 0; j < VL; j++) {
                A[o * ld + i + j] = i + j < nb ? Z[o * ld + i + j] : (NNF_T)0;
                D[o * ld + i + j] = i + j < nb ? YT[o * ldy + i + j] : (NNF_T)0;
            }
        lv = FN(softmax_vec)(A + i, ld, D + i, ld, n_out, A + i, D + i);
        if (W) {
            for (j = 0; j < VL; j++)
                tw[j] = i + j < nb ? W[i + j] : (NNF_T)0;
            lv = FN(weigh_rows)(lv, FN(vload)(tw), D + i, ld, n_out);
        }
        FN(add_loss)(&acc, lv);
        i += VL;
    }
    for (o = 0; o < n_out; o++)
        for (j = i; j < npad; j++)
            D[o * ld + j] = 0;
    return FN(loss_total)(&acc);
}

/* Output layer of a block: returns the summed loss (float64), writes the
 * activations A[o, i] for i < nb and D[o, i] = dloss/dz (zero for nb <= i < npad).
 * head: NNF_HEAD_* (output activation and loss).  W: a weight per row (nb), or NULL:
 * each row's loss and errors are multiplied by its weight. */
NNF_ENTRY NNF_TGT double FN(output_error)(
    const NNF_T *Z, ptrdiff_t ld,                  /* IN: (n_out, ld) logits */
    const NNF_T *YT, ptrdiff_t ldy,                /* IN: (n_out, ldy) targets, transposed */
    ptrdiff_t n_out, ptrdiff_t nb, ptrdiff_t npad, int head,
    NNF_T *A,                                      /* OUT: (n_out, ld) activations */
    NNF_T *D,                                      /* OUT: (n_out, ld) errors */
    const NNF_T *W)                                /* IN: (nb,) row weights, or NULL */
{
    double total = 0.0;
    if (head == NNF_HEAD_SOFTMAX_CROSS_ENTROPY)
        return FN(output_error_softmax)(Z, ld, YT, ldy, n_out, nb, npad, A, D, W);
    NNF_T tz[NNF_VBYTES ? NNF_VBYTES / sizeof(NNF_T) : 1];
    NNF_T th[NNF_VBYTES ? NNF_VBYTES / sizeof(NNF_T) : 1];
    NNF_T ty[NNF_VBYTES ? NNF_VBYTES / sizeof(NNF_T) : 1];
    ptrdiff_t o, i, j;
    for (o = 0; o < n_out; o++) {
        const NNF_T *z = Z + o * ld, *y = YT + o * ldy;
        NNF_T *a = A + o * ld, *d = D + o * ld;
        VT hv, lv, dv;
        LACC acc = {0};
        for (i = 0; i + VL <= nb; i += VL) {
            FN(output_vec)(head, FN(vload)(z + i), FN(vload)(y + i), &hv, &lv, &dv);
            if (W) {
                VT wv = FN(vload)(W + i);
                lv *= wv;
                dv *= wv;
            }
            FN(vstore)(a + i, hv);
            FN(vstore)(d + i, dv);
            FN(add_loss)(&acc, lv);
        }
        total += FN(loss_total)(&acc);
        if (i < nb) {  /* last partial vector, through padded copies */
            for (j = 0; j < VL; j++) {
                tz[j] = i + j < nb ? z[i + j] : 0;
                ty[j] = i + j < nb ? y[i + j] : 0;
            }
            FN(output_vec)(head, FN(vload)(tz), FN(vload)(ty), &hv, &lv, &dv);
            if (W) {
                for (j = 0; j < VL; j++)
                    th[j] = i + j < nb ? W[i + j] : 0;
                lv *= FN(vload)(th);
                dv *= FN(vload)(th);
            }
            FN(vstore)(tz, lv);
            FN(vstore)(ty, dv);
            FN(vstore)(th, hv);
            for (j = 0; i + j < nb; j++) {
                total += (double)tz[j];
                d[i + j] = ty[j];
                a[i + j] = th[j];
            }
        }
        for (i = nb; i < npad; i++)
            d[i] = 0;
    }
    return total;
}

/* a hidden layer's activation g(z) of VL logits (act: NNF_ACT_*).  tanh(z) is
 * -expm1(-2|z|) / (2 + expm1(-2|z|)) with z's sign, accurate near 0 as well. */
static NNF_INLINE NNF_TGT VT FN(activation_vec)(int act, VT z)
{
    const VT one = FN(vset1)((NNF_T)1), zero = FN(vset1)((NNF_T)0);
    VT t, e;
    switch (act) {
    case NNF_ACT_TANH:
        t = FN(vmax)(z, -z);
        e = FN(vexpm1_neg)((NNF_T)-2 * t);
        t = -e / ((NNF_T)2 + e);
        return FN(vselect_gt)(zero, z, -t, t);
    case NNF_ACT_RELU:
        return FN(vmax)(z, zero);
    case NNF_ACT_IDENTITY:
        return z;
    default:
        return one / (one + FN(vexp)(-z));
    }
}

/* g'(z) of VL units from their activations a = g(z): a (1 - a), 1 - a^2,
 * 1 where a > 0 else 0, or 1 */
static NNF_INLINE NNF_TGT VT FN(derivative_vec)(int act, VT a)
{
    const VT one = FN(vset1)((NNF_T)1), zero = FN(vset1)((NNF_T)0);
    switch (act) {
    case NNF_ACT_TANH:
        return (one - a) * (one + a);
    case NNF_ACT_RELU:
        return FN(vselect_gt)(a, zero, one, zero);
    case NNF_ACT_IDENTITY:
        return one;
    default:
        return a * (one - a);
    }
}

/* a[i] = g(a[i]) for i < n, in place; the tail through a padded vector, in the
 * arithmetic of the others */
NNF_ENTRY NNF_TGT void FN(activate)(int act, NNF_T *a, ptrdiff_t n)
{
    NNF_T tail[NNF_VBYTES ? NNF_VBYTES / sizeof(NNF_T) : 1];
    ptrdiff_t i = 0, j;
    if (act == NNF_ACT_IDENTITY)
        return;
    for (; i + VL <= n; i += VL)
        FN(vstore)(a + i, FN(activation_vec)(act, FN(vload)(a + i)));
    if (i < n) {
        for (j = 0; j < VL; j++)
            tail[j] = i + j < n ? a[i + j] : (NNF_T)0;
        FN(vstore)(tail, FN(activation_vec)(act, FN(vload)(tail)));
        for (j = 0; i + j < n; j++)
            a[i + j] = tail[j];
    }
}

/* The output layer's activations A (n_out, ld) from its logits Z, columns < npad
 * (npad % VL == 0), for a head NNF_HEAD_* (forward passes: no targets, no loss) */
NNF_ENTRY NNF_TGT void FN(output_activation)(
    int head, const NNF_T *Z, ptrdiff_t ld, ptrdiff_t n_out, ptrdiff_t npad, NNF_T *A)
{
    ptrdiff_t o, i;
    if (head == NNF_HEAD_SOFTMAX_CROSS_ENTROPY) {
        for (i = 0; i < npad; i += VL)
            FN(softmax_rows_vec)(Z + i, ld, n_out, A + i);
        return;
    }
    for (o = 0; o < n_out; o++)
        for (i = 0; i < npad; i += VL) {
            VT z = FN(vload)(Z + o * ld + i);
            FN(vstore)(A + o * ld + i, head == NNF_HEAD_IDENTITY_SQUARED_ERROR
                                           ? z : FN(activation_vec)(NNF_ACT_LOGISTIC, z));
        }
}

/* The units left after the full tiles of U, as one tile of their own count (a
 * constant in each case, so its accumulators stay in registers): one-unit tiles
 * there ran with too few independent FMA chains to fill the pipelines.
 * CALL(R) is the tile call for R units; left <= max.  max is a constant in every
 * inlined instance (U - 1 after the full tiles), so the cases above it fold away
 * before optimisation.  Tiles wider than any call takes used to be compiled for
 * nothing: the four SIMD files took 48-52 s of CPU to compile, 29-32 s without them
 * (Zen 3, before grad1's second AVX2 instance), and gcc warned (-Warray-bounds)
 * about their stores. */
#define NNF_LEFTOVER_UNITS(left, max, CALL)            \
    switch (left) {                                    \
    case 7: if (7 <= (max)) CALL(7); break;            \
    case 6: if (6 <= (max)) CALL(6); break;            \
    case 5: if (5 <= (max)) CALL(5); break;            \
    case 4: if (4 <= (max)) CALL(4); break;            \
    case 3: if (3 <= (max)) CALL(3); break;            \
    case 2: if (2 <= (max)) CALL(2); break;            \
    case 1: CALL(1); break;                            \
    default: break;                                    \
    }

/* 1 if any Z[r * ld + i], r < rows, i < n, is NaN or infinite: z - z is 0 for a
 * finite z and NaN otherwise, and a NaN stays in the sum */
NNF_ENTRY NNF_TGT int FN(nonfinite)(const NNF_T *Z, ptrdiff_t rows, ptrdiff_t ld, ptrdiff_t n)
{
    VT acc = FN(vset1)((NNF_T)0);
    NNF_T s = 0;
    ptrdiff_t r, i;
    for (r = 0; r < rows; r++) {
        const NNF_T *z = Z + r * ld;
        for (i = 0; i + VL <= n; i += VL) {
            VT v = FN(vload)(z + i);
            acc += v - v;
        }
        for (; i < n; i++)
            s += z[i] - z[i];
    }
    s += FN(hsum)(acc);
    return s != s;
}

/* ---- the register tile of every product ------------------------------------------
 * acc[u][v] += s(u, k) * x(k, v) for k < n, with s(u, k) = S[u * su + k * sk] broadcast
 * to every lane and x(k, v) the vector at X + k * ldx + v * VL.  The U x V accumulators
 * stay in registers over the whole k loop (one broadcast, V loads and V FMAs per u and
 * k).  Every kernel below is this tile with its own start and end:
 *
 *   kernel    tile               s          x                 accumulators start / end
 *   fwd1      rows x unit-vecs   X's rows   W^T               zero / + bias, stored transposed
 *   fwdT      units x row-vecs   W          inputs^T          bias / stored
 *   grad1     units x feat-vecs  deltas     X's rows          zero / added to the slab
 *   backprop  units x row-vecs   W^T        later deltas      zero / times a'(z), stored
 *
 * Prefetch: with next_rows, at every cache line of k, the same line of each of the
 * next U rows of S (the next tile's, when S is read from memory); otherwise npf
 * lines from pf, one per k (memory the caller reads next, fetched into L2). */
#define NNF_TILE_MAX_U 16
typedef char FN(nnf_tile_params_fit)[(NNF_TILE_A_VECS <= 4 && NNF_TILE_B_VECS <= 4
                                      && NNF_FWD1_VECS <= 4 && NNF_TILE_A_UNITS <= 8
                                      && NNF_TILE_B_UNITS <= 8) ? 1 : -1];
#define NNF_TILE_MAX_V 4   /* the widest tile: 4 vectors (AVX-512: 6 x 4 accumulators) */

static NNF_INLINE NNF_TGT void FN(tile)(
    const int U, const int V,
    const NNF_T *S, ptrdiff_t su, ptrdiff_t sk,     /* IN: broadcast values */
    const NNF_T *X, ptrdiff_t ldx, ptrdiff_t n,     /* IN: vectors, n steps of k */
    const int next_rows, const char *pf, ptrdiff_t npf,
    VT acc[NNF_TILE_MAX_U][NNF_TILE_MAX_V])         /* IN/OUT */
{
    ptrdiff_t k;
    for (k = 0; k < n; k++) {
        VT x[NNF_TILE_MAX_V];
        const NNF_T *xk = X + k * ldx;
        if (next_rows) {
            if ((k & (64 / (ptrdiff_t)sizeof(NNF_T) - 1)) == 0) {
#define NNF_S(_, u) if ((u) < U) NNF_PREFETCH(S + (U + (u)) * su + k * sk);
                NNF_REP16(NNF_S, _)
#undef NNF_S
            }
        } else if (k < npf) {
            NNF_PREFETCH_L2(pf + 64 * k);
        }
#define NNF_S(_, v) if ((v) < V) x[v] = FN(vload)(xk + (v) * VL);
        NNF_REPB4(NNF_S, _)
#undef NNF_S
#define NNF_S_V(u, v) if ((v) < V) acc[u][v] += s##u * x[v];
#define NNF_S_U(_, u) if ((u) < U) { VT s##u = FN(vset1)(S[(u) * su + k * sk]); NNF_REPB4(NNF_S_V, u) }
        NNF_REP16(NNF_S_U, _)
#undef NNF_S_V
#undef NNF_S_U
    }
}

/* the tile's start: acc[u][v] = start[u * stride] for u < U, v < V, or 0 when start
 * is NULL (a constant once inlined, as U and V are) */
static NNF_INLINE NNF_TGT void FN(tile_start)(
    const int U, const int V, const NNF_T *start, ptrdiff_t stride,
    VT acc[NNF_TILE_MAX_U][NNF_TILE_MAX_V])         /* OUT */
{
#define NNF_S_V(u, v) if ((u) < U && (v) < V) \
    acc[u][v] = start ? FN(vset1)(start[(u) * stride]) : FN(vset1)((NNF_T)0);
#define NNF_S_U(_, u) NNF_REPB4(NNF_S_V, u)
    NNF_REP16(NNF_S_U, _)
#undef NNF_S_V
#undef NNF_S_U
}

/* the tile's start from sums stored before: acc[u][v] = in[u * ldi + v * VL ...] */
static NNF_INLINE NNF_TGT void FN(tile_load)(
    const int U, const int V, const NNF_T *in, ptrdiff_t ldi,
    VT acc[NNF_TILE_MAX_U][NNF_TILE_MAX_V])         /* OUT */
{
#define NNF_S_V(u, v) if ((u) < U && (v) < V) acc[u][v] = FN(vload)(in + (u) * ldi + (v) * VL);
#define NNF_S_U(_, u) NNF_REPB4(NNF_S_V, u)
    NNF_REP16(NNF_S_U, _)
#undef NNF_S_V
#undef NNF_S_U
}

/* the tile's end: out[u * ldo + v * VL ...] = acc[u][v] (+ what is there when add) */
static NNF_INLINE NNF_TGT void FN(tile_store)(
    const int U, const int V, VT acc[NNF_TILE_MAX_U][NNF_TILE_MAX_V], const int add,
    NNF_T *out, ptrdiff_t ldo)                      /* OUT */
{
#define NNF_S_V(u, v) if ((u) < U && (v) < V) { \
        NNF_T *o_ = out + (u) * ldo + (v) * VL; \
        FN(vstore)(o_, add ? FN(vload)(o_) + acc[u][v] : acc[u][v]); }
#define NNF_S_U(_, u) NNF_REPB4(NNF_S_V, u)
    NNF_REP16(NNF_S_U, _)
#undef NNF_S_V
#undef NNF_S_U
}

/* ---- first layer forward:  Z[u, i] = b[u] + sum_k X[i, k] WT[k, u] ----------
 * Tile: R rows x NV vectors of units (units in the lanes), accumulated over the
 * whole feature dimension; the next tile's rows come from L3 or memory and are
 * fetched a line at a time.  Written transposed into the units-major Z. */
static NNF_INLINE NNF_TGT void FN(fwd1_tile)(
    const int R, const int NV,
    const NNF_T *X, ptrdiff_t n_in,          /* IN: first row of the tile */
    const NNF_T *WT, ptrdiff_t hp,           /* IN: first unit of the tile */
    const NNF_T *b, ptrdiff_t nu,            /* IN: bias of the tile's units; valid units */
    NNF_T *Z, ptrdiff_t ldz)                 /* OUT: Z[u0, i0] */
{
    VT acc[NNF_TILE_MAX_U][NNF_TILE_MAX_V];
    NNF_T tmp[NNF_TILE_MAX_V * (NNF_VBYTES ? NNF_VBYTES / sizeof(NNF_T) : 1)];
    ptrdiff_t j;
    int i, v;
    FN(tile_start)(R, NV, NULL, 0, acc);
    FN(tile)(R, NV, X, n_in, 1, WT, hp, n_in, 1, NULL, 0, acc);
    for (i = 0; i < R; i++) {
        for (v = 0; v < NV; v++)
            FN(vstore)(tmp + v * VL, acc[i][v]);
        for (j = 0; j < NV * VL && j < nu; j++)
            Z[j * ldz + i] = tmp[j] + b[j];
    }
}

/* all rows of the block for one column of unit vectors */
static NNF_INLINE NNF_TGT void FN(fwd1_rows)(
    const int R, const int NV, const NNF_T *X, ptrdiff_t nb, ptrdiff_t n_in,
    const NNF_T *WT, ptrdiff_t hp, const NNF_T *b, ptrdiff_t nu, NNF_T *Z, ptrdiff_t ldz)
{
    ptrdiff_t i = 0;
    for (; i + R <= nb; i += R)
        FN(fwd1_tile)(R, NV, X + i * n_in, n_in, WT, hp, b, nu, Z + i, ldz);
    if (R > 4)
        for (; i + 4 <= nb; i += 4)
            FN(fwd1_tile)(R > 4 ? 4 : 1, NV, X + i * n_in, n_in, WT, hp, b, nu, Z + i, ldz);
    for (; i < nb; i++)
        FN(fwd1_tile)(1, NV, X + i * n_in, n_in, WT, hp, b, nu, Z + i, ldz);
}

NNF_ENTRY NNF_TGT void FN(fwd1)(
    const NNF_T *X, ptrdiff_t nb, ptrdiff_t n_in,   /* IN: (nb, n_in) */
    const NNF_T *WT, ptrdiff_t hp, ptrdiff_t h,     /* IN: (n_in, hp), h valid units, hp % VL == 0 */
    const NNF_T *b,                                 /* IN: (h,) */
    NNF_T *Z, ptrdiff_t ldz)                        /* OUT: (h, ldz), columns < nb */
{
    ptrdiff_t u;
    const ptrdiff_t nvec = (h + VL - 1) / VL;
    for (u = 0; u < h; u += NNF_FWD1_VECS * VL) {
        ptrdiff_t nv = nvec - u / VL;
        if (nv > NNF_FWD1_VECS) nv = NNF_FWD1_VECS;
        if (nv >= 4 && NNF_FWD1_VECS >= 4)
            FN(fwd1_rows)(NNF_FWD1_ROWS_4, 4, X, nb, n_in, WT + u, hp, b + u, h - u, Z + u * ldz, ldz);
        else if (nv == 3 && NNF_FWD1_VECS >= 3)
            FN(fwd1_rows)(NNF_FWD1_ROWS_3, 3, X, nb, n_in, WT + u, hp, b + u, h - u, Z + u * ldz, ldz);
        else if (nv == 2 && NNF_FWD1_VECS >= 2)
            FN(fwd1_rows)(NNF_FWD1_ROWS_2, 2, X, nb, n_in, WT + u, hp, b + u, h - u, Z + u * ldz, ldz);
        else
            FN(fwd1_rows)(NNF_FWD1_ROWS_1, 1, X, nb, n_in, WT + u, hp, b + u, h - u, Z + u * ldz, ldz);
    }
}

/* ---- forward of a layer from units-major inputs -----------------------------------
 * Z[u, i] = W[u, 0] + sum_k W[u, 1 + k] XT[k, i]  (XT: the previous layer's
 * activations, or a packed panel of X, one row per input unit).
 * Tile: U units x RV vectors of rows, accumulated in registers over the inputs
 * (broadcast one weight, FMA with RV vectors of inputs): the rows fill the
 * lanes, so no lane is wasted whatever the layer's width. */
static NNF_INLINE NNF_TGT void FN(fwdT_tile)(
    const int U, const int RV,
    const NNF_T *W, ptrdiff_t ldw,           /* IN: W[u0, 0], row stride ldw */
    const NNF_T *XT, ptrdiff_t ldx,          /* IN: XT[0, i0] */
    ptrdiff_t k0, ptrdiff_t kn,              /* inputs k0 .. k0 + kn - 1 */
    NNF_T *Z, ptrdiff_t ldz,                 /* IN/OUT: Z[u0, i0], the sums so far when k0 > 0 */
    const char *pf, ptrdiff_t npf)           /* prefetch npf cache lines from pf (<= kn) */
{
    VT acc[NNF_TILE_MAX_U][NNF_TILE_MAX_V];
    if (k0 == 0)
        FN(tile_start)(U, RV, W, ldw, acc);
    else
        FN(tile_load)(U, RV, Z, ldz, acc);
    FN(tile)(U, RV, W + 1 + k0, ldw, 1, XT + k0 * ldx, ldx, kn, 0, pf, npf, acc);
    FN(tile_store)(U, RV, acc, 0, Z, ldz);
}

/* the prefetch stream of a whole call (cache lines from p), handed out to its tiles in order */
typedef struct { const char *p; ptrdiff_t left, per_tile; } FN(nnf_pf);

static NNF_INLINE NNF_TGT FN(nnf_pf) FN(pf_start)(const void *p, ptrdiff_t bytes)
{
    FN(nnf_pf) st;
    st.p = (const char *)p;
    st.left = p ? (bytes + 63) / 64 : 0;
    st.per_tile = 0;
    return st;
}

/* spread what is left evenly over the call's tiles, at most cap lines per tile */
static NNF_INLINE NNF_TGT void FN(pf_spread)(FN(nnf_pf) *pf, ptrdiff_t tiles, ptrdiff_t cap)
{
    pf->per_tile = tiles > 0 ? (pf->left + tiles - 1) / tiles : 0;
    if (pf->per_tile > cap) pf->per_tile = cap;
}

/* the next tile's share: returns its line count, *p its first line */
static NNF_INLINE NNF_TGT ptrdiff_t FN(pf_take)(FN(nnf_pf) *pf, const char **p)
{
    ptrdiff_t n = pf->left < pf->per_tile ? pf->left : pf->per_tile;
    *p = pf->p;
    pf->p += 64 * n;
    pf->left -= n;
    return n;
}

static NNF_INLINE NNF_TGT void FN(fwdT_call)(
    const int U, const int RV, const NNF_T *W, ptrdiff_t ldw, const NNF_T *XT, ptrdiff_t ldx,
    ptrdiff_t k0, ptrdiff_t kn, NNF_T *Z, ptrdiff_t ldz, FN(nnf_pf) *pf)
{
    const char *p;
    ptrdiff_t n = FN(pf_take)(pf, &p);
    FN(fwdT_tile)(U, RV, W, ldw, XT, ldx, k0, kn, Z, ldz, p, n);
}

static NNF_INLINE NNF_TGT void FN(fwdT_units)(
    const int U, const int RV, const NNF_T *W, ptrdiff_t n_k, ptrdiff_t k0, ptrdiff_t kn,
    ptrdiff_t h, const NNF_T *XT, ptrdiff_t ldx, NNF_T *Z, ptrdiff_t ldz, FN(nnf_pf) *pf)
{
    ptrdiff_t u = 0;
    for (; u + U <= h; u += U)
        FN(fwdT_call)(U, RV, W + u * (n_k + 1), n_k + 1, XT, ldx, k0, kn, Z + u * ldz, ldz, pf);
#define NNF_CALL(R) FN(fwdT_call)(R, RV, W + u * (n_k + 1), n_k + 1, XT, ldx, k0, kn, Z + u * ldz, ldz, pf)
    NNF_LEFTOVER_UNITS(h - u, U - 1, NNF_CALL)
#undef NNF_CALL
}

/* tiles of one call of fwdT_rows, to spread the prefetches evenly */
static NNF_INLINE ptrdiff_t FN(fwdT_tiles)(const int U, const int RV, ptrdiff_t h, ptrdiff_t nvec)
{
    return (nvec / RV + (nvec % RV) / 2 + (nvec % RV) % 2) * (h / U + (h % U != 0));
}

static NNF_INLINE NNF_TGT void FN(fwdT_rows)(
    const int U, const int RV, const NNF_T *W, ptrdiff_t n_k, ptrdiff_t k0, ptrdiff_t kn,
    ptrdiff_t h, const NNF_T *XT, ptrdiff_t ldx, ptrdiff_t nvec, NNF_T *Z, ptrdiff_t ldz,
    FN(nnf_pf) *pf)
{
    ptrdiff_t i = 0;
    for (; i + RV <= nvec; i += RV)
        FN(fwdT_units)(U, RV, W, n_k, k0, kn, h, XT + i * VL, ldx, Z + i * VL, ldz, pf);
    for (; i + 2 <= nvec; i += 2)
        FN(fwdT_units)(U, 2, W, n_k, k0, kn, h, XT + i * VL, ldx, Z + i * VL, ldz, pf);
    for (; i < nvec; i++)
        FN(fwdT_units)(U, 1, W, n_k, k0, kn, h, XT + i * VL, ldx, Z + i * VL, ldz, pf);
}

/* All rows, the inputs in chunks of about NNF_FWDT_KC_BYTES / sizeof(T) (all at once
 * when it is 0): a chunk's weights of every unit then stay in L1 (ex4: 13 KB) or at
 * least in L2 (784 -> 100: 51 KB) while every row tile sweeps them, where a whole first
 * layer larger than L2 (784 -> 100 in double: 628 KB) came from L3 for every group of
 * rows.  Each tile carries its sums from chunk to chunk through Z in the same order of
 * k: the same result bit for bit. */
static NNF_INLINE NNF_TGT void FN(fwdT_chunks)(
    const int U, const int RV, const NNF_T *W, ptrdiff_t n_k, ptrdiff_t h,
    const NNF_T *XT, ptrdiff_t ldx, ptrdiff_t nvec, NNF_T *Z, ptrdiff_t ldz, FN(nnf_pf) *pf)
{
    const ptrdiff_t kc = NNF_FWDT_KC_BYTES / (ptrdiff_t)sizeof(NNF_T);
    ptrdiff_t n_chunks = kc > 0 ? (n_k + kc - 1) / kc : 1, c;
    if (n_chunks < 1)
        n_chunks = 1;
    FN(pf_spread)(pf, FN(fwdT_tiles)(U, RV, h, nvec) * n_chunks, n_k / n_chunks);
    for (c = 0; c < n_chunks; c++) {
        ptrdiff_t k0 = c * n_k / n_chunks, k1 = (c + 1) * n_k / n_chunks;
        FN(fwdT_rows)(U, RV, W, n_k, k0, k1 - k0, h, XT, ldx, nvec, Z, ldz, pf);
    }
}

/* pf, pf_bytes: memory the caller will read next (the block's rows of X, for
 * the first layer's gradient), fetched into L2 meanwhile; NULL, 0 for none */
NNF_ENTRY NNF_TGT void FN(fwdT)(
    const NNF_T *W, ptrdiff_t n_k, ptrdiff_t h,     /* IN: (h, n_k + 1) as in theta */
    const NNF_T *XT, ptrdiff_t ldx,                 /* IN: (n_k, ldx) units-major inputs */
    ptrdiff_t npad,                                 /* rows, a multiple of VL */
    NNF_T *Z, ptrdiff_t ldz,                        /* OUT: (h, ldz), columns < npad */
    const void *pf, ptrdiff_t pf_bytes)
{
    const ptrdiff_t nvec = npad / VL;
    FN(nnf_pf) st = FN(pf_start)(pf, pf_bytes);
    if (h % NNF_TILE_B_UNITS == 0 && h % NNF_TILE_A_UNITS != 0)
        FN(fwdT_chunks)(NNF_TILE_B_UNITS, NNF_TILE_B_VECS, W, n_k, h, XT, ldx, nvec, Z, ldz, &st);
    else
        FN(fwdT_chunks)(NNF_TILE_A_UNITS, NNF_TILE_A_VECS, W, n_k, h, XT, ldx, nvec, Z, ldz, &st);
}

/* ---- first layer gradient:  G[u, 1 + k] += sum_i D[u, i] X[i, k];  G[u, 0] += sum_i D[u, i]
 * Tile: U units x KV vectors of features, accumulated in registers over the
 * block's rows and added to the slab once per block. */
static NNF_INLINE NNF_TGT void FN(grad1_tile)(
    const int U, const int KV,
    const NNF_T *D, ptrdiff_t ldd,           /* IN: D[u0, 0] */
    const NNF_T *X, ptrdiff_t n_in, ptrdiff_t nb,  /* IN: X[0, k0] */
    NNF_T *G, ptrdiff_t ldg,                 /* OUT: G[u0, 1 + k0] (accumulated) */
    const char *pf, ptrdiff_t npf,           /* prefetch npf cache lines from pf (<= nb) */
    const int pf_slab)                       /* and the tile's lines of G first */
{
    VT acc[NNF_TILE_MAX_U][NNF_TILE_MAX_V];
    /* The slab's lines that the tile adds to at its end, fetched while it runs: a slab
     * larger than L2 (784 -> 300 in double: 1.9 MB) is in L3, and the loads of G
     * stalled at the end of every tile.  On a Zen 3: 0.79x the time of 784 -> 300,
     * 0.92x 784 -> 100, 0.86x 784 -> 128 -> 64 in double; a slab in L2 (ex4: 80 KB) ran
     * 1.07-1.09x slower with it, hence the size threshold. */
    if (pf_slab) {
        const ptrdiff_t last = KV * VL * (ptrdiff_t)sizeof(NNF_T) - 1;
        ptrdiff_t off;
#define NNF_S(_, u) if ((u) < U) { const char *g_ = (const char *)(G + (u) * ldg); \
            for (off = 0; off < last; off += 64) NNF_PREFETCH_W(g_ + off); \
            NNF_PREFETCH_W(g_ + last); }
        NNF_REP16(NNF_S, _)
#undef NNF_S
    }
    FN(tile_start)(U, KV, NULL, 0, acc);
    FN(tile)(U, KV, D, ldd, 1, X, n_in, nb, 0, pf, npf, acc);
    FN(tile_store)(U, KV, acc, 1, G, ldg);
}

static NNF_INLINE NNF_TGT void FN(grad1_call)(
    const int U, const int KV, const NNF_T *D, ptrdiff_t ldd, const NNF_T *X, ptrdiff_t n_in,
    ptrdiff_t nb, NNF_T *G, ptrdiff_t ldg, FN(nnf_pf) *pf, const int pf_slab)
{
    const char *p;
    ptrdiff_t n = FN(pf_take)(pf, &p);
    FN(grad1_tile)(U, KV, D, ldd, X, n_in, nb, G, ldg, p, n, pf_slab);
}

/* one column of feature vectors (KV of them) for all units */
static NNF_INLINE NNF_TGT void FN(grad1_units)(
    const int U, const int KV, const NNF_T *D, ptrdiff_t ldd, ptrdiff_t h,
    const NNF_T *X, ptrdiff_t n_in, ptrdiff_t nb, NNF_T *G, ptrdiff_t ldg, FN(nnf_pf) *pf,
    const int pf_slab)
{
    ptrdiff_t u = 0;
    for (; u + U <= h; u += U)
        FN(grad1_call)(U, KV, D + u * ldd, ldd, X, n_in, nb, G + u * ldg, ldg, pf, pf_slab);
#define NNF_CALL(R) \
    FN(grad1_call)(R, KV, D + u * ldd, ldd, X, n_in, nb, G + u * ldg, ldg, pf, pf_slab)
    NNF_LEFTOVER_UNITS(h - u, U - 1, NNF_CALL)
#undef NNF_CALL
}

/* all features for a unit tile of U units and a feature tile of KV vectors */
static NNF_INLINE NNF_TGT void FN(grad1_cols)(
    const int U, const int KV, const NNF_T *D, ptrdiff_t ldd, ptrdiff_t h,
    const NNF_T *X, ptrdiff_t n_in, ptrdiff_t nb, NNF_T *G, ptrdiff_t ldg, ptrdiff_t kvec,
    FN(nnf_pf) *pf, const int pf_slab)
{
    ptrdiff_t k = 0;
    /* tiles in this call, to spread the prefetches evenly */
    ptrdiff_t col_tiles = kvec / KV + (kvec % KV) / 2 + (kvec % KV) % 2;
    ptrdiff_t tiles = col_tiles * (h / U + (h % U != 0));
    FN(pf_spread)(pf, tiles, nb);
    for (; k + KV <= kvec; k += KV)
        FN(grad1_units)(U, KV, D, ldd, h, X + k * VL, n_in, nb, G + 1 + k * VL, ldg, pf, pf_slab);
    for (; k + 2 <= kvec; k += 2)
        FN(grad1_units)(U, 2, D, ldd, h, X + k * VL, n_in, nb, G + 1 + k * VL, ldg, pf, pf_slab);
    for (; k < kvec; k++)
        FN(grad1_units)(U, 1, D, ldd, h, X + k * VL, n_in, nb, G + 1 + k * VL, ldg, pf, pf_slab);
}

/* The features before the first aligned one and after the last whole vector, as
 * KV partial vectors of the same tiles: partial vector v holds features f0[v] ..
 * f0[v] + cnt[v] - 1 (cnt[v] <= VL).  The block's columns are copied into a
 * zero-padded buffer of KV whole vectors per row and the tiles run on it, so every
 * feature is summed over the rows in exactly the arithmetic of the whole vectors
 * whichever lane or tile it falls in (results do not depend on where X starts), and
 * only the cnt[v] lanes reach G.  All of them in one tile of KV vectors: one vector
 * per tile left too few independent FMA chains (one per unit), and X misaligned by
 * 16 bytes cost ex4 5% more than aligned X. */
#ifndef NNF_PARTIAL_MAX
#define NNF_PARTIAL_MAX 6      /* partial vectors at most (16-byte vectors: 4 + 1) */
#endif
static NNF_INLINE NNF_TGT void FN(grad1_partials)(
    const int KV,
    const NNF_T *D, ptrdiff_t ldd, ptrdiff_t h,
    const NNF_T *X, ptrdiff_t n_in, ptrdiff_t nb,
    const ptrdiff_t *f0, const ptrdiff_t *cnt,
    NNF_T *G, ptrdiff_t ldg,
    NNF_T *buf)                          /* work: (nb, KV * VL) */
{
    NNF_T part[NNF_TILE_A_UNITS * NNF_TILE_MAX_V * (NNF_VBYTES ? NNF_VBYTES / sizeof(NNF_T) : 1)];
    const ptrdiff_t w = KV * VL;
    ptrdiff_t i, j, u = 0, r;
    int v;
    for (i = 0; i < nb; i++)
        for (v = 0; v < KV; v++)
            for (j = 0; j < VL; j++)
                buf[i * w + v * VL + j] = j < cnt[v] ? X[i * n_in + f0[v] + j] : (NNF_T)0;
    while (u < h) {
        const int U = h - u >= NNF_TILE_A_UNITS ? NNF_TILE_A_UNITS : (int)(h - u);
        memset(part, 0, sizeof part);
#define NNF_CALL(R) FN(grad1_tile)(R, KV, D + u * ldd, ldd, buf, w, nb, part, w, NULL, 0, 0)
        NNF_LEFTOVER_UNITS(U, NNF_TILE_A_UNITS, NNF_CALL)
#undef NNF_CALL
        for (r = 0; r < U; r++)
            for (v = 0; v < KV; v++)
                for (j = 0; j < cnt[v]; j++)
                    G[(u + r) * ldg + 1 + f0[v] + j] += part[r * w + v * VL + j];
        u += U;
    }
}

/* pf, pf_bytes: memory the caller will read next (the next block's panel of X,
 * for the first layer's forward), fetched into L2 meanwhile; NULL, 0 for none.
 * nb <= NNF_MAX_BLOCK. */
NNF_ENTRY NNF_TGT void FN(grad1)(
    const NNF_T *D, ptrdiff_t ldd, ptrdiff_t h,     /* IN: (h, ldd), columns < nb */
    const NNF_T *X, ptrdiff_t nb, ptrdiff_t n_in,   /* IN: (nb, n_in) */
    NNF_T *G,                                       /* OUT: (h, n_in + 1), accumulated */
    const void *pf, ptrdiff_t pf_bytes)
{
    const ptrdiff_t ldg = n_in + 1;
    ptrdiff_t k_lo = 0, k_hi, kvec, u, f, i;
    FN(nnf_pf) st = FN(pf_start)(pf, pf_bytes);
    NNF_T buf[NNF_MAX_BLOCK * 3 * (NNF_VBYTES ? NNF_VBYTES / sizeof(NNF_T) : 1)];
    ptrdiff_t f0[NNF_PARTIAL_MAX], cnt[NNF_PARTIAL_MAX], n_part = 0, p, kv;
#if NNF_VBYTES
    /* The tiles' loads of X are aligned to cache lines when they start at the first
     * feature of each row that is: rows of X come from the caller, aligned to 16 bytes
     * at best, and a 64-byte load across two lines costs two (15% of an ex4
     * evaluation).  Possible when every row starts at the same offset in its line;
     * the features before it become partial vectors. */
    if ((n_in * (ptrdiff_t)sizeof(NNF_T)) % 64 == 0 && (uintptr_t)X % sizeof(NNF_T) == 0) {
        k_lo = (ptrdiff_t)(((64 - (uintptr_t)X % 64) % 64) / sizeof(NNF_T));
        if (k_lo >= n_in)
            k_lo = 0;
    }
#endif
    /* a slab larger than NNF_GRAD1_PF_SLAB_BYTES is likely out of L2: see grad1_tile */
    const int pf_slab = NNF_GRAD1_PF_SLAB_BYTES > 0
                        && h * ldg * (ptrdiff_t)sizeof(NNF_T) > NNF_GRAD1_PF_SLAB_BYTES;
    kvec = (n_in - k_lo) / VL;                      /* whole vectors of features */
    k_hi = k_lo + kvec * VL;
    /* the second tile shape when it divides the units and the first does not */
    /* the prefetch's flag a constant of each instance, so that the tiles of slabs in L2
     * (ex4) run the same code as without it */
#define NNF_COLS(UNITS, VECS, PFS) \
    FN(grad1_cols)(UNITS, VECS, D, ldd, h, X + k_lo, n_in, nb, G + k_lo, ldg, kvec, &st, PFS)
    if (h % NNF_TILE_B_UNITS == 0 && h % NNF_TILE_A_UNITS != 0) {
        if (pf_slab)
            NNF_COLS(NNF_TILE_B_UNITS, NNF_TILE_B_VECS, 1);
        else
            NNF_COLS(NNF_TILE_B_UNITS, NNF_TILE_B_VECS, 0);
    } else if (pf_slab) {
        NNF_COLS(NNF_TILE_A_UNITS, NNF_TILE_A_VECS, 1);
    } else {
        NNF_COLS(NNF_TILE_A_UNITS, NNF_TILE_A_VECS, 0);
    }
#undef NNF_COLS
    /* the features before k_lo and after the whole vectors, up to 3 partial vectors
     * at a time (k_lo < 64 bytes of features: at most 64 / NNF_VBYTES vectors before,
     * one after) */
    for (f = 0; f < k_lo; f += VL) {
        f0[n_part] = f;
        cnt[n_part++] = k_lo - f < VL ? k_lo - f : VL;
    }
    for (f = k_hi; f < n_in; f += VL) {
        f0[n_part] = f;
        cnt[n_part++] = n_in - f < VL ? n_in - f : VL;
    }
    for (p = 0; p < n_part; p += kv) {
        kv = n_part - p < 3 ? n_part - p : 3;
        if (kv == 3)
            FN(grad1_partials)(3, D, ldd, h, X, n_in, nb, f0 + p, cnt + p, G, ldg, buf);
        else if (kv == 2)
            FN(grad1_partials)(2, D, ldd, h, X, n_in, nb, f0 + p, cnt + p, G, ldg, buf);
        else
            FN(grad1_partials)(1, D, ldd, h, X, n_in, nb, f0 + p, cnt + p, G, ldg, buf);
    }
    /* the bias column: each unit's deltas summed over the rows in order (the same bits as
     * one unit at a time), four units at a time so that the four sums' adds do not wait on
     * one another as a single sum's do */
    for (u = 0; u + 4 <= h; u += 4) {
        const NNF_T *d0 = D + u * ldd, *d1 = d0 + ldd, *d2 = d1 + ldd, *d3 = d2 + ldd;
        NNF_T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (i = 0; i < nb; i++) {
            s0 += d0[i];
            s1 += d1[i];
            s2 += d2[i];
            s3 += d3[i];
        }
        G[u * ldg] += s0;
        G[(u + 1) * ldg] += s1;
        G[(u + 2) * ldg] += s2;
        G[(u + 3) * ldg] += s3;
    }
    for (; u < h; u++) {
        const NNF_T *du = D + u * ldd;
        NNF_T s = 0;
        for (i = 0; i < nb; i++)
            s += du[i];
        G[u * ldg] += s;
    }
}

/* ---- back-propagation of the deltas through a later layer ----------------------
 * P[u, i] = (sum_o W[o, 1 + u] D[o, i]) g'(z[u, i]), all units-major, with g' from the
 * activations A = g(z) (act: NNF_ACT_*).
 * Tile: U units x KV vectors of rows, accumulated in registers over the outputs. */
static NNF_INLINE NNF_TGT void FN(backprop_tile)(
    const int U, const int KV, int act,
    const NNF_T *W, ptrdiff_t ldw, ptrdiff_t n_o,  /* IN: W[0, 1 + u0], row stride ldw */
    const NNF_T *D, const NNF_T *A, ptrdiff_t ld,  /* IN: D[0, i0], A[u0, i0] */
    NNF_T *P)                                      /* OUT: P[u0, i0] */
{
    VT acc[NNF_TILE_MAX_U][NNF_TILE_MAX_V];
    FN(tile_start)(U, KV, NULL, 0, acc);
    FN(tile)(U, KV, W, 1, ldw, D, ld, n_o, 0, NULL, 0, acc);
#define NNF_S_V(u, v) if ((u) < U && (v) < KV) { \
        VT a = FN(vload)(A + (u) * ld + (v) * VL); \
        FN(vstore)(P + (u) * ld + (v) * VL, acc[u][v] * FN(derivative_vec)(act, a)); }
#define NNF_S_U(_, u) NNF_REPB4(NNF_S_V, u)
    NNF_REP8(NNF_S_U, _)
#undef NNF_S_V
#undef NNF_S_U
}

static NNF_INLINE NNF_TGT void FN(backprop_units)(
    const int U, const int KV, int act, const NNF_T *W, ptrdiff_t n_o, ptrdiff_t n_i,
    const NNF_T *D, const NNF_T *A, ptrdiff_t ld, NNF_T *P)
{
    ptrdiff_t u = 0;
    for (; u + U <= n_i; u += U)
        FN(backprop_tile)(U, KV, act, W + 1 + u, n_i + 1, n_o, D, A + u * ld, ld, P + u * ld);
#define NNF_CALL(R) \
    FN(backprop_tile)(R, KV, act, W + 1 + u, n_i + 1, n_o, D, A + u * ld, ld, P + u * ld)
    NNF_LEFTOVER_UNITS(n_i - u, U - 1, NNF_CALL)
#undef NNF_CALL
}

/* act: the activation of the n_i units (NNF_ACT_*); its derivative is chosen at the
 * end of each tile, outside the tile's loop, so one instance serves every activation */
NNF_ENTRY NNF_TGT void FN(backprop)(
    const NNF_T *W, ptrdiff_t n_o, ptrdiff_t n_i,  /* IN: (n_o, n_i + 1) */
    const NNF_T *D, const NNF_T *A,                /* IN: (n_o, ld), (n_i, ld) */
    ptrdiff_t ld, ptrdiff_t npad,                  /* npad % VL == 0 */
    int act,
    NNF_T *P)                                      /* OUT: (n_i, ld), columns < npad */
{
    const ptrdiff_t nvec = npad / VL;
    const int U = NNF_TILE_A_UNITS, KV = NNF_TILE_A_VECS;
    ptrdiff_t k = 0;
    for (; k + KV <= nvec; k += KV)
        FN(backprop_units)(U, KV, act, W, n_o, n_i, D + k * VL, A + k * VL, ld, P + k * VL);
    for (; k + 2 <= nvec; k += 2)
        FN(backprop_units)(U, 2, act, W, n_o, n_i, D + k * VL, A + k * VL, ld, P + k * VL);
    for (; k < nvec; k++)
        FN(backprop_units)(U, 1, act, W, n_o, n_i, D + k * VL, A + k * VL, ld, P + k * VL);
}

/* ---- first layer from sparse rows of X (CSR): the zeros of X are skipped -------------
 * Row i's nonzeros are vals[p] at features cols[p], for p = indptr[i] .. indptr[i + 1] - 1
 * (indptr of the block's rows: indptr[0] need not be 0).  Adding an exact zero changes
 * no sum, so a first layer of mostly-zero inputs (MNIST: 81% zeros) does a fraction of
 * the dense multiply-adds.  Units lie in the lanes, NV vectors of them in registers
 * while a row's nonzeros go by; a layer wider than NNF_SPARSE_VECS vectors takes several
 * passes over the rows. */
#define NNF_SPARSE_VECS 8
/* CALL(NV) with NV the constant nv (1 .. NNF_SPARSE_VECS), so that the pass's vectors
 * stay in registers */
#ifndef NNF_SPARSE_PASS
#define NNF_SPARSE_PASS(nv, CALL)                      \
    if ((nv) == 8) { CALL(8); } else { NNF_LEFTOVER_UNITS(nv, 7, CALL) }
#endif

/* Z[u, i] = b[u] + sum_p vals[p] WT[cols[p], u] for the NV unit vectors from u0 */
static NNF_INLINE NNF_TGT void FN(spfwd_pass)(
    const int NV, const ptrdiff_t *indptr, const int *cols, const NNF_T *vals, ptrdiff_t nb,
    const NNF_T *WT, ptrdiff_t hp, ptrdiff_t u0, ptrdiff_t h, const NNF_T *b,
    NNF_T *Z, ptrdiff_t ldz)
{
    NNF_T tmp[NNF_SPARSE_VECS * (NNF_VBYTES ? NNF_VBYTES / sizeof(NNF_T) : 1)];
    ptrdiff_t i, p, j;
    int v;
    for (i = 0; i < nb; i++) {
        VT acc[NNF_SPARSE_VECS];
        for (v = 0; v < NV; v++)
            acc[v] = FN(vset1)((NNF_T)0);
        for (p = indptr[i]; p < indptr[i + 1]; p++) {
            const VT s = FN(vset1)(vals[p]);
            const NNF_T *w = WT + (ptrdiff_t)cols[p] * hp + u0;
            for (v = 0; v < NV; v++)
                acc[v] += s * FN(vload)(w + v * VL);
        }
        for (v = 0; v < NV; v++)
            FN(vstore)(tmp + v * VL, acc[v]);
        for (j = 0; j < NV * VL && u0 + j < h; j++)
            Z[(u0 + j) * ldz + i] = tmp[j] + b[u0 + j];
    }
}

NNF_ENTRY NNF_TGT void FN(spfwd)(
    const ptrdiff_t *indptr, const int *cols, const NNF_T *vals,  /* IN: the block's rows */
    ptrdiff_t nb,
    const NNF_T *WT, ptrdiff_t hp, ptrdiff_t h,     /* IN: (n_in, hp), h valid units, hp % VL == 0 */
    const NNF_T *b,                                 /* IN: (h,) */
    NNF_T *Z, ptrdiff_t ldz)                        /* OUT: (h, ldz), columns < nb */
{
    const ptrdiff_t nvec = (h + VL - 1) / VL;
    ptrdiff_t v0;
    for (v0 = 0; v0 < nvec; v0 += NNF_SPARSE_VECS) {
        const ptrdiff_t nv = nvec - v0 < NNF_SPARSE_VECS ? nvec - v0 : NNF_SPARSE_VECS;
#define NNF_CALL(NV) FN(spfwd_pass)(NV, indptr, cols, vals, nb, WT, hp, v0 * VL, h, b, Z, ldz)
        NNF_SPARSE_PASS(nv, NNF_CALL)
#undef NNF_CALL
    }
}

/* GT[k, u] += sum_p cval[p] Dt[crow[p], u] for the NV unit vectors from u0, over the
 * block's features k = ccols[q] and their nonzeros p = cptr[q] .. cptr[q + 1] - 1 */
static NNF_INLINE NNF_TGT void FN(spgrad_pass)(
    const int NV, const int *ccols, const ptrdiff_t *cptr, ptrdiff_t n_cols, const int *crow,
    const NNF_T *cval, const NNF_T *Dt, ptrdiff_t hp, ptrdiff_t u0, NNF_T *GT)
{
    ptrdiff_t q, p;
    int v;
    for (q = 0; q < n_cols; q++) {
        VT g[NNF_SPARSE_VECS];
        NNF_T *gk = GT + (ptrdiff_t)ccols[q] * hp + u0;
        for (v = 0; v < NV; v++)
            g[v] = FN(vload)(gk + v * VL);
        for (p = cptr[q]; p < cptr[q + 1]; p++) {
            const VT s = FN(vset1)(cval[p]);
            const NNF_T *d = Dt + (ptrdiff_t)crow[p] * hp + u0;
            for (v = 0; v < NV; v++)
                g[v] = g[v] + s * FN(vload)(d + v * VL);
        }
        for (v = 0; v < NV; v++)
            FN(vstore)(gk + v * VL, g[v]);
    }
}

/* The first layer's weight gradient of a block from its nonzeros by feature, into a
 * transposed buffer: GT[k, u] += sum_i X[i, k] Dt[i, u] over the nonzeros X[i, k].
 * Feature ccols[q]'s nonzeros are cval[p] in the block's rows crow[p], p = cptr[q] ..
 * cptr[q + 1] - 1, rows ascending: each GT[k, u] then sums in the order of the rows, the
 * order of the row-by-row loop, with the same bits, but a feature's gradient stays in
 * registers while its nonzeros go by and only the block's deltas (in L1) are read for
 * each (by rows, every nonzero read and wrote a row of GT, which is too large for L1:
 * 1.4-2.1x the time).  Dt (nb, hp): the block's deltas, one row per example, lanes h ..
 * hp - 1 zero.  The caller adds GT to the slab (transposed) and the bias gradient itself. */
NNF_ENTRY NNF_TGT void FN(spgrad)(
    const int *ccols, const ptrdiff_t *cptr, ptrdiff_t n_cols,  /* IN: the block's features */
    const int *crow, const NNF_T *cval,             /* IN: their nonzeros, rows < nb */
    const NNF_T *Dt, ptrdiff_t hp, ptrdiff_t h,     /* IN: (nb, hp), hp % VL == 0 */
    NNF_T *GT)                                      /* OUT: (n_in, hp), accumulated */
{
    const ptrdiff_t nvec = (h + VL - 1) / VL;
    ptrdiff_t v0;
    for (v0 = 0; v0 < nvec; v0 += NNF_SPARSE_VECS) {
        const ptrdiff_t nv = nvec - v0 < NNF_SPARSE_VECS ? nvec - v0 : NNF_SPARSE_VECS;
#define NNF_CALL(NV) FN(spgrad_pass)(NV, ccols, cptr, n_cols, crow, cval, Dt, hp, v0 * VL, GT)
        NNF_SPARSE_PASS(nv, NNF_CALL)
#undef NNF_CALL
    }
}

#undef FN
#undef VT
#undef VIT
#undef LACC
#undef VL
