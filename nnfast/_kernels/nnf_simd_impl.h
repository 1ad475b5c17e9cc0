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
 *   NNF_R, NNF_NV   first-layer forward tile: rows x unit-vectors
 *   NNF_U, NNF_KV   first-layer gradient tile: units x feature-vectors
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

static NNF_INLINE NNF_TGT VT FN(vset1)(NNF_T s)
{
    VT v = {0};
    return v + s;
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

/* exp(x) for every lane: clamp, x = n ln2 + r with |r| <= ln2/2, Taylor
 * polynomial of e^r (degree 12 in double, 7 in float: truncation below
 * 2e-16 resp. 6e-9 relative), times 2^n built from the exponent bits.
 * n comes from the round-to-nearest "magic number" trick, so no float->int
 * conversion instruction is needed.  Inputs are clamped to a range where
 * 2^n is a normal number: exp(-708) ~ 3e-308 in double, exp(-87) ~ 2e-38. */
static NNF_INLINE NNF_TGT VT FN(vexp)(VT x)
{
#if NNF_DOUBLE
    const NNF_T lo = -708.0, hi = 708.0;
    const NNF_T log2e = 1.4426950408889634, magic = 6755399441055744.0; /* 0x1.8p52 */
    const NNF_T ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;
    const int mant = 52;
    const NNF_I bias = 1023;
#else
    const NNF_T lo = -87.0f, hi = 88.0f;
    const NNF_T log2e = 1.44269504f, magic = 12582912.0f; /* 0x1.8p23 */
    const NNF_T ln2hi = 0.693359375f, ln2lo = -2.12194440e-4f;
    const int mant = 23;
    const NNF_I bias = 127;
#endif
    VT t, n, r, p;
    VIT ti, mi, si;
    NNF_T magic_v = magic;
    NNF_I magic_bits;
    x = FN(vmax)(FN(vmin)(x, FN(vset1)(hi)), FN(vset1)(lo));
    t = x * log2e + magic;
    n = t - magic;
    r = x - n * ln2hi;
    r = r - n * ln2lo;
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
    p = p * r + (NNF_T)1.0;
#else
    p = r * (NNF_T)(1.0 / 5040.0) + (NNF_T)(1.0 / 720.0);
    p = p * r + (NNF_T)(1.0 / 120.0);
    p = p * r + (NNF_T)(1.0 / 24.0);
    p = p * r + (NNF_T)(1.0 / 6.0);
    p = p * r + (NNF_T)0.5;
    p = p * r + (NNF_T)1.0;
    p = p * r + (NNF_T)1.0;
#endif
    memcpy(&magic_bits, &magic_v, sizeof magic_bits);
    memcpy(&ti, &t, sizeof ti);
    mi = ti - magic_bits;                 /* n as an integer */
    si = (mi + bias) << mant;             /* bits of 2^n */
    memcpy(&t, &si, sizeof t);
    return p * t;
}

/* a[i] = 1 / (1 + exp(-a[i])) for i < n, in place. */
static NNF_TGT void FN(sigmoid)(NNF_T *a, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    const VT one = FN(vset1)((NNF_T)1);
    for (; i + VL <= n; i += VL) {
        VT z = FN(vload)(a + i);
        FN(vstore)(a + i, one / (one + FN(vexp)(-z)));
    }
    for (; i < n; i++) {
        NNF_T z = a[i];
        a[i] = (NNF_T)1 / ((NNF_T)1 + NNF_SEXP(-z));
    }
}

/* ---- first layer forward:  Z[u, i] = b[u] + sum_k X[i, k] WT[k, u] ----------
 * Tile: R rows x NV vectors of units; the accumulators stay in registers
 * over the whole feature dimension (broadcast one x, FMA with NV weight
 * vectors).  The tile is written transposed into the units-major Z. */
static NNF_INLINE NNF_TGT void FN(fwd1_tile)(
    const int R, const int NV,
    const NNF_T *X, ptrdiff_t n_in,          /* IN: first row of the tile */
    const NNF_T *WT, ptrdiff_t hp,           /* IN: first unit of the tile */
    const NNF_T *b, ptrdiff_t nu,            /* IN: bias of the tile's units; valid units */
    NNF_T *Z, ptrdiff_t ldz)                 /* OUT: Z[u0, i0] */
{
    VT acc[NNF_R][NNF_NV];
    NNF_T tmp[NNF_NV * (NNF_VBYTES ? NNF_VBYTES / sizeof(NNF_T) : 1)];
    ptrdiff_t k, j;
    int i, v;
    for (i = 0; i < R; i++)
        for (v = 0; v < NV; v++)
            acc[i][v] = FN(vset1)((NNF_T)0);
    for (k = 0; k < n_in; k++) {
        VT w[NNF_NV];
        const NNF_T *wk = WT + k * hp;
        for (v = 0; v < NV; v++)
            w[v] = FN(vload)(wk + v * VL);
        for (i = 0; i < R; i++) {
            VT xb = FN(vset1)(X[i * n_in + k]);
            for (v = 0; v < NV; v++)
                acc[i][v] += xb * w[v];
        }
    }
    for (i = 0; i < R; i++) {
        for (v = 0; v < NV; v++)
            FN(vstore)(tmp + v * VL, acc[i][v]);
        for (j = 0; j < NV * VL && j < nu; j++)
            Z[j * ldz + i] = tmp[j] + b[j];
    }
}

#define NNF_FWD1_CASES(R_)                                                        \
    switch (nv) {                                                                 \
    case 1: FN(fwd1_tile)(R_, 1, Xi, n_in, WT + u, hp, b + u, h - u, Z + u * ldz + i, ldz); break; \
    case 2: if (NNF_NV >= 2) FN(fwd1_tile)(R_, NNF_NV >= 2 ? 2 : 1, Xi, n_in, WT + u, hp, b + u, h - u, Z + u * ldz + i, ldz); break; \
    case 3: if (NNF_NV >= 3) FN(fwd1_tile)(R_, NNF_NV >= 3 ? 3 : 1, Xi, n_in, WT + u, hp, b + u, h - u, Z + u * ldz + i, ldz); break; \
    default: FN(fwd1_tile)(R_, NNF_NV, Xi, n_in, WT + u, hp, b + u, h - u, Z + u * ldz + i, ldz); break; \
    }

static NNF_TGT void FN(fwd1)(
    const NNF_T *X, ptrdiff_t nb, ptrdiff_t n_in,   /* IN: (nb, n_in) */
    const NNF_T *WT, ptrdiff_t hp, ptrdiff_t h,     /* IN: (n_in, hp), h valid units, hp % VL == 0 */
    const NNF_T *b,                                 /* IN: (h,) */
    NNF_T *Z, ptrdiff_t ldz)                        /* OUT: (h, ldz), columns < nb */
{
    ptrdiff_t u, i;
    const ptrdiff_t nvec = (h + VL - 1) / VL;
    for (u = 0; u < h; u += NNF_NV * VL) {
        ptrdiff_t nv = nvec - u / VL;
        if (nv > NNF_NV) nv = NNF_NV;
        for (i = 0; i + NNF_R <= nb; i += NNF_R) {
            const NNF_T *Xi = X + i * n_in;
            NNF_FWD1_CASES(NNF_R)
        }
        for (; i < nb; i++) {
            const NNF_T *Xi = X + i * n_in;
            NNF_FWD1_CASES(1)
        }
    }
}
#undef NNF_FWD1_CASES

/* ---- first layer gradient:  G[u, 1 + k] += sum_i D[u, i] X[i, k];  G[u, 0] += sum_i D[u, i]
 * Tile: U units x KV vectors of features, accumulated in registers over the
 * block's rows and added to the slab once per block. */
static NNF_INLINE NNF_TGT void FN(grad1_tile)(
    const int U, const int KV,
    const NNF_T *D, ptrdiff_t ldd,           /* IN: D[u0, 0] */
    const NNF_T *X, ptrdiff_t n_in, ptrdiff_t nb,  /* IN: X[0, k0] */
    NNF_T *G, ptrdiff_t ldg)                 /* OUT: G[u0, 1 + k0] (accumulated) */
{
    VT acc[NNF_U][NNF_KV];
    ptrdiff_t i;
    int u, v;
    for (u = 0; u < U; u++)
        for (v = 0; v < KV; v++)
            acc[u][v] = FN(vset1)((NNF_T)0);
    for (i = 0; i < nb; i++) {
        VT x[NNF_KV];
        const NNF_T *xi = X + i * n_in;
        for (v = 0; v < KV; v++)
            x[v] = FN(vload)(xi + v * VL);
        for (u = 0; u < U; u++) {
            VT d = FN(vset1)(D[u * ldd + i]);
            for (v = 0; v < KV; v++)
                acc[u][v] += d * x[v];
        }
    }
    for (u = 0; u < U; u++)
        for (v = 0; v < KV; v++)
            FN(vstore)(G + u * ldg + v * VL, FN(vload)(G + u * ldg + v * VL) + acc[u][v]);
}

#define NNF_GRAD1_CASES(U_)                                                              \
    switch (kv) {                                                                        \
    case 1: FN(grad1_tile)(U_, 1, D + u * ldd, ldd, X + k, n_in, nb, Gk, ldg); break;     \
    case 2: if (NNF_KV >= 2) FN(grad1_tile)(U_, NNF_KV >= 2 ? 2 : 1, D + u * ldd, ldd, X + k, n_in, nb, Gk, ldg); break; \
    case 3: if (NNF_KV >= 3) FN(grad1_tile)(U_, NNF_KV >= 3 ? 3 : 1, D + u * ldd, ldd, X + k, n_in, nb, Gk, ldg); break; \
    case 4: if (NNF_KV >= 4) FN(grad1_tile)(U_, NNF_KV >= 4 ? 4 : 1, D + u * ldd, ldd, X + k, n_in, nb, Gk, ldg); break; \
    case 5: if (NNF_KV >= 5) FN(grad1_tile)(U_, NNF_KV >= 5 ? 5 : 1, D + u * ldd, ldd, X + k, n_in, nb, Gk, ldg); break; \
    default: FN(grad1_tile)(U_, NNF_KV, D + u * ldd, ldd, X + k, n_in, nb, Gk, ldg); break; \
    }

static NNF_TGT void FN(grad1)(
    const NNF_T *D, ptrdiff_t ldd, ptrdiff_t h,     /* IN: (h, ldd), columns < nb */
    const NNF_T *X, ptrdiff_t nb, ptrdiff_t n_in,   /* IN: (nb, n_in) */
    NNF_T *G)                                       /* OUT: (h, n_in + 1), accumulated */
{
    const ptrdiff_t ldg = n_in + 1;
    const ptrdiff_t kvec = n_in / VL;               /* whole vectors of features */
    ptrdiff_t u, k, i;
    for (k = 0; k < kvec * VL; k += NNF_KV * VL) {
        ptrdiff_t kv = kvec - k / VL;
        if (kv > NNF_KV) kv = NNF_KV;
        for (u = 0; u + NNF_U <= h; u += NNF_U) {
            NNF_T *Gk = G + u * ldg + 1 + k;
            NNF_GRAD1_CASES(NNF_U)
        }
        for (; u < h; u++) {
            NNF_T *Gk = G + u * ldg + 1 + k;
            NNF_GRAD1_CASES(1)
        }
    }
    /* leftover features (n_in % VL) and the bias column */
    for (u = 0; u < h; u++) {
        const NNF_T *du = D + u * ldd;
        NNF_T *gu = G + u * ldg;
        NNF_T s = 0;
        for (k = kvec * VL; k < n_in; k++) {
            NNF_T acc = 0;
            for (i = 0; i < nb; i++)
                acc += du[i] * X[i * n_in + k];
            gu[1 + k] += acc;
        }
        for (i = 0; i < nb; i++)
            s += du[i];
        gu[0] += s;
    }
}
#undef NNF_GRAD1_CASES

/* ---- later layers, units-major (rows in lanes); npad % VL == 0 ----------------- */

/* Z[o, i] = W[o, 0] + sum_u W[o, 1 + u] A[u, i], i < npad */
static NNF_TGT void FN(dense)(
    const NNF_T *W, ptrdiff_t n_o, ptrdiff_t n_i,  /* IN: (n_o, n_i + 1) */
    const NNF_T *A, ptrdiff_t ld, ptrdiff_t npad,  /* IN: (n_i, ld) */
    NNF_T *Z)                                      /* OUT: (n_o, ld) */
{
    ptrdiff_t o, u, i;
    for (o = 0; o < n_o; o++) {
        const NNF_T *w = W + o * (n_i + 1);
        for (i = 0; i + 4 * VL <= npad; i += 4 * VL) {
            VT a0 = FN(vset1)(w[0]), a1 = a0, a2 = a0, a3 = a0;
            for (u = 0; u < n_i; u++) {
                const NNF_T *au = A + u * ld + i;
                NNF_T wu = w[1 + u];
                a0 += wu * FN(vload)(au);
                a1 += wu * FN(vload)(au + VL);
                a2 += wu * FN(vload)(au + 2 * VL);
                a3 += wu * FN(vload)(au + 3 * VL);
            }
            FN(vstore)(Z + o * ld + i, a0);
            FN(vstore)(Z + o * ld + i + VL, a1);
            FN(vstore)(Z + o * ld + i + 2 * VL, a2);
            FN(vstore)(Z + o * ld + i + 3 * VL, a3);
        }
        for (; i < npad; i += VL) {
            VT a0 = FN(vset1)(w[0]);
            for (u = 0; u < n_i; u++)
                a0 += w[1 + u] * FN(vload)(A + u * ld + i);
            FN(vstore)(Z + o * ld + i, a0);
        }
    }
}

/* P[u, i] = (sum_o W[o, 1 + u] D[o, i]) * A[u, i] (1 - A[u, i]), i < npad */
static NNF_TGT void FN(backprop)(
    const NNF_T *W, ptrdiff_t n_o, ptrdiff_t n_i,  /* IN: (n_o, n_i + 1) */
    const NNF_T *D, const NNF_T *A,                /* IN: (n_o, ld), (n_i, ld) */
    ptrdiff_t ld, ptrdiff_t npad,
    NNF_T *P)                                      /* OUT: (n_i, ld) */
{
    ptrdiff_t o, u, i;
    const VT one = FN(vset1)((NNF_T)1);
    for (u = 0; u < n_i; u++) {
        for (i = 0; i + 2 * VL <= npad; i += 2 * VL) {
            VT s0 = FN(vset1)((NNF_T)0), s1 = s0, a0, a1;
            for (o = 0; o < n_o; o++) {
                NNF_T w = W[o * (n_i + 1) + 1 + u];
                s0 += w * FN(vload)(D + o * ld + i);
                s1 += w * FN(vload)(D + o * ld + i + VL);
            }
            a0 = FN(vload)(A + u * ld + i);
            a1 = FN(vload)(A + u * ld + i + VL);
            FN(vstore)(P + u * ld + i, s0 * (a0 * (one - a0)));
            FN(vstore)(P + u * ld + i + VL, s1 * (a1 * (one - a1)));
        }
        for (; i < npad; i += VL) {
            VT s0 = FN(vset1)((NNF_T)0), a0;
            for (o = 0; o < n_o; o++)
                s0 += W[o * (n_i + 1) + 1 + u] * FN(vload)(D + o * ld + i);
            a0 = FN(vload)(A + u * ld + i);
            FN(vstore)(P + u * ld + i, s0 * (a0 * (one - a0)));
        }
    }
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

/* G[o, 0] += sum_i D[o, i];  G[o, 1 + u] += sum_i D[o, i] A[u, i], i < nb */
static NNF_TGT void FN(grad_small)(
    const NNF_T *D, ptrdiff_t n_o,               /* IN: (n_o, ld) */
    const NNF_T *A, ptrdiff_t n_i,               /* IN: (n_i, ld) */
    ptrdiff_t ld, ptrdiff_t nb,
    NNF_T *G)                                    /* OUT: (n_o, n_i + 1), accumulated */
{
    const ptrdiff_t nv = nb / VL * VL;
    ptrdiff_t o, u, i;
    for (o = 0; o < n_o; o++) {
        const NNF_T *d = D + o * ld;
        NNF_T *g = G + o * (n_i + 1);
        VT s = FN(vset1)((NNF_T)0);
        NNF_T t;
        for (i = 0; i < nv; i += VL)
            s += FN(vload)(d + i);
        t = FN(hsum)(s);
        for (; i < nb; i++)
            t += d[i];
        g[0] += t;
        for (u = 0; u < n_i; u++) {
            const NNF_T *a = A + u * ld;
            VT s0 = FN(vset1)((NNF_T)0);
            for (i = 0; i < nv; i += VL)
                s0 += FN(vload)(d + i) * FN(vload)(a + i);
            t = FN(hsum)(s0);
            for (; i < nb; i++)
                t += d[i] * a[i];
            g[1 + u] += t;
        }
    }
}

#undef FN
#undef VT
#undef VIT
#undef VL
