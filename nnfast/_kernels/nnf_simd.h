/* Run-time SIMD dispatch for the microkernels of nnfast's fused kernel.
 *
 * nnf_simd_impl.h is compiled several times: for AVX-512F and for AVX2+FMA
 * through GCC/clang `target` function attributes (so the default build needs
 * no -march flag and runs on any x86-64), and for the baseline target with
 * 16-byte vectors (SSE2 on x86-64, NEON on arm64).  Compilers without GNU
 * vector extensions (MSVC) get the plain-C scalar instance only.
 * nnf_init() picks the best instance the CPU supports (__builtin_cpu_supports).
 *
 * Translation units.  By default one includer gets every instance (static) and the
 * dispatch.  With NNF_SPLIT defined (the build does this), each instance is compiled in
 * its own file, nnf_simd_<target>.c, which defines NNF_ONLY_<TARGET> before including
 * this header and gets only that instance (its entry points extern, hidden from the
 * shared object's exports); the includer without NNF_ONLY_* (the Cython module) gets
 * the entry points' prototypes and the dispatch.  The instances are most of the
 * compile, and separate files build in parallel.
 */
#ifndef NNF_SIMD_H
#define NNF_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

/* NNF_NO_VECTOR_EXT: build only the plain-C path (what non-GNU compilers get) */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(NNF_NO_VECTOR_EXT)
#define NNF_GNU 1
#define NNF_INLINE inline __attribute__((always_inline))
#else
#define NNF_GNU 0
#define NNF_INLINE __inline
#endif

/* a prefetch hint (never faults, even past the end of an array) */
#if NNF_GNU
#define NNF_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 3)
/* locality 1 (prefetcht2 on x86): measured 1-2% faster than 2 (prefetcht1) on the ex4 shape */
#define NNF_PREFETCH_L2(p) __builtin_prefetch((const void *)(p), 0, 1)
/* with intent to write: prefetchw where the target has it (PRFCHW), prefetcht0 on the
 * "avx2,fma" target the kernels are built for */
#define NNF_PREFETCH_W(p) __builtin_prefetch((const void *)(p), 1, 3)
#else
#define NNF_PREFETCH(p) ((void)0)
#define NNF_PREFETCH_L2(p) ((void)0)
#define NNF_PREFETCH_W(p) ((void)0)
#endif

/* A register tile's loops, written out: NNF_REP16(M, a) is M(a, 0) M(a, 1) ... M(a, 15),
 * NNF_REP8 stops at 7, and NNF_REPB8/NNF_REPB4 are the same for a nested level (a
 * macro cannot expand inside itself).  Each statement is guarded by the tile's size,
 * a constant once the tile is inlined, and indexes the accumulators with literals,
 * so they live in registers whatever the compiler decides about unrolling.  Loops
 * with "#pragma unroll" did this for GCC, but clang left them rolled when their
 * trip count became constant only after several levels of inlining, with the
 * accumulators on the stack: its microkernels ran 3x slower. */
#define NNF_REP8(M, a) M(a, 0) M(a, 1) M(a, 2) M(a, 3) M(a, 4) M(a, 5) M(a, 6) M(a, 7)
#define NNF_REP16(M, a) NNF_REP8(M, a) M(a, 8) M(a, 9) M(a, 10) M(a, 11) M(a, 12) \
    M(a, 13) M(a, 14) M(a, 15)
#define NNF_REPB4(M, a) M(a, 0) M(a, 1) M(a, 2) M(a, 3)
#define NNF_REPB8(M, a) NNF_REPB4(M, a) M(a, 4) M(a, 5) M(a, 6) M(a, 7)

#if NNF_GNU && (defined(__x86_64__) || defined(__i386__))
#define NNF_X86 1
#else
#define NNF_X86 0
#endif

#ifdef _OPENMP
#define NNF_OPENMP 1
#else
#define NNF_OPENMP 0
#endif

enum { NNF_SCALAR = 0, NNF_VEC128 = 1, NNF_AVX2 = 2, NNF_AVX512 = 3 };

/* activations of hidden layers, and heads (output activation and loss) */
enum { NNF_ACT_LOGISTIC = 0, NNF_ACT_TANH = 1, NNF_ACT_RELU = 2, NNF_ACT_IDENTITY = 3 };
enum {
    NNF_HEAD_LOGISTIC_CROSS_ENTROPY = 0,   /* ex4 */
    NNF_HEAD_LOGISTIC_SQUARED_ERROR = 1,
    NNF_HEAD_SOFTMAX_CROSS_ENTROPY = 2,
    NNF_HEAD_IDENTITY_SQUARED_ERROR = 3    /* regression */
};

/* most rows a block may have (the gradient's partial vectors use a buffer this long) */
#define NNF_MAX_BLOCK 256

/* which instances this translation unit defines (see the top of the file) */
#if defined(NNF_ONLY_SCALAR) || defined(NNF_ONLY_VEC128) || defined(NNF_ONLY_AVX2) \
    || defined(NNF_ONLY_AVX512)
#define NNF_INSTANCE_TU 1
#else
#define NNF_INSTANCE_TU 0
#endif
#ifndef NNF_SPLIT
#define NNF_ENTRY static
#else
#if NNF_GNU
#define NNF_ENTRY __attribute__((visibility("hidden")))
#else
#define NNF_ENTRY
#endif
#endif

/* ---------------- instances ---------------- */
/* NNF_FWDT_KC_BYTES: fwdT takes its inputs in chunks of this many bytes of k (0: all
 * at once; see fwdT_chunks).  AVX2 CPUs have small caches (AMD Zen 3: 32 KB L1, 512 KB
 * L2 per core), and a whole first layer of 784 -> 100 in double (628 KB) came from L3
 * for every group of rows; chunks of 64 inputs (128 in float): 784 -> 100 double
 * 4-8% faster, ex4 2-4%, on a Zen 3 VM, in the same bits.  AVX-512 CPUs (2 MB L2 on
 * the Xeons measured) keep the whole rows; not measured chunked.  The C harnesses
 * override it with -DNNF_FWDT_KC_AVX2=0 to compare. */
#ifndef NNF_FWDT_KC_AVX2
#define NNF_FWDT_KC_AVX2 512
#endif
/* NNF_GRAD1_PF_SLAB_BYTES: grad1 fetches each tile's lines of the gradient slab ahead
 * when the slab is larger than this many bytes (0: never; see grad1_tile).  On AVX2,
 * half of a 512 KB L2 (AMD Zen 3): slabs of the 784-wide networks live in L3 there.
 * The other levels keep the plain tiles (not measured with it, and every instance
 * with it is compiled twice: the AVX-512 file took 1.6x as long).  The C test of the
 * levels sets -DNNF_GRAD1_PF_SLAB_AVX2=1 to run it on small slabs. */
#ifndef NNF_GRAD1_PF_SLAB_AVX2
#define NNF_GRAD1_PF_SLAB_AVX2 (256 * 1024)
#endif
/* scalar: portable C (every compiler) */
#define NNF_VBYTES 0
#define NNF_TGT
#define NNF_FWD1_VECS 1
#define NNF_FWD1_ROWS_1 4
#define NNF_FWD1_ROWS_2 4
#define NNF_FWD1_ROWS_3 4
#define NNF_FWD1_ROWS_4 4
#define NNF_TILE_A_UNITS 4
#define NNF_TILE_A_VECS 2
#define NNF_TILE_B_UNITS 4
#define NNF_TILE_B_VECS 2
#define NNF_FWDT_KC_BYTES 0
#define NNF_GRAD1_PF_SLAB_BYTES 0
#define NNF_TARGET scalar
#if !defined(NNF_SPLIT) || defined(NNF_ONLY_SCALAR)
#define NNF_DEFINE 1
#else
#define NNF_DEFINE 0
#endif
#include "nnf_simd_both.h"

#if NNF_GNU
/* 16-byte vectors on the baseline target (SSE2 / NEON): 16 registers */
#define NNF_VBYTES 16
#define NNF_TGT
#define NNF_FWD1_VECS 3
#define NNF_FWD1_ROWS_1 8
#define NNF_FWD1_ROWS_2 6
#define NNF_FWD1_ROWS_3 4
#define NNF_FWD1_ROWS_4 4
#define NNF_TILE_A_UNITS 3
#define NNF_TILE_A_VECS 3
#define NNF_TILE_B_UNITS 4
#define NNF_TILE_B_VECS 2
#define NNF_FWDT_KC_BYTES 0
#define NNF_GRAD1_PF_SLAB_BYTES 0
#define NNF_TARGET vec128
#if !defined(NNF_SPLIT) || defined(NNF_ONLY_VEC128)
#define NNF_DEFINE 1
#else
#define NNF_DEFINE 0
#endif
#include "nnf_simd_both.h"
#endif

#if NNF_X86
/* AVX2 + FMA: 16 ymm registers.  Tiles of 12 accumulators (4 x 3), plus the
 * vectors loaded and one broadcast: with two FMA ports and a latency of 4-5 cycles,
 * 12 independent chains keep both ports busy (the 9 of a 3 x 3 tile did not quite:
 * 80% of OpenBLAS's Haswell dgemm in cache, against 95-105% now).  Widths that 5
 * divides and 4 does not (ex4's 25 hidden units and 10 outputs) take 5 x 2 tiles
 * rather than 4 x 3 and a leftover unit: ex4 float64 4-6% faster than with the
 * 6 x 2 tile this used to be (which only 6-multiples such as 18 or 42 needed). */
#define NNF_VBYTES 32
#define NNF_TGT __attribute__((target("avx2,fma")))
#define NNF_FWD1_VECS 3
#define NNF_FWD1_ROWS_1 8
#define NNF_FWD1_ROWS_2 6
#define NNF_FWD1_ROWS_3 4
#define NNF_FWD1_ROWS_4 4
#define NNF_TILE_A_UNITS 4
#define NNF_TILE_A_VECS 3
#define NNF_TILE_B_UNITS 5
#define NNF_TILE_B_VECS 2
#define NNF_FWDT_KC_BYTES NNF_FWDT_KC_AVX2
#define NNF_GRAD1_PF_SLAB_BYTES NNF_GRAD1_PF_SLAB_AVX2
#define NNF_TARGET avx2
#if !defined(NNF_SPLIT) || defined(NNF_ONLY_AVX2)
#define NNF_DEFINE 1
#else
#define NNF_DEFINE 0
#endif
#include "nnf_simd_both.h"

/* AVX-512F: 32 zmm registers; tiles of 20-24 accumulators.  4 vectors of rows
 * divide a block of 64 rows in both dtypes (6 left a tile of 2 in double). */
#define NNF_VBYTES 64
#define NNF_TGT __attribute__((target("avx512f,avx2,fma")))
#define NNF_FWD1_VECS 4
#define NNF_FWD1_ROWS_1 12
#define NNF_FWD1_ROWS_2 12
#define NNF_FWD1_ROWS_3 8
#define NNF_FWD1_ROWS_4 6
#define NNF_TILE_A_UNITS 6
#define NNF_TILE_A_VECS 4
#define NNF_TILE_B_UNITS 5
#define NNF_TILE_B_VECS 4
#define NNF_FWDT_KC_BYTES 0
#define NNF_GRAD1_PF_SLAB_BYTES 0
#define NNF_TARGET avx512
#if !defined(NNF_SPLIT) || defined(NNF_ONLY_AVX512)
#define NNF_DEFINE 1
#else
#define NNF_DEFINE 0
#endif
#include "nnf_simd_both.h"
#endif

/* ---------------- dispatch ---------------- */
#if !NNF_INSTANCE_TU
static int nnf_level = NNF_SCALAR;

/* Best level this CPU supports. */
static int nnf_best_level(void)
{
#if NNF_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return NNF_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return NNF_AVX2;
    return NNF_VEC128;
#elif NNF_GNU
    return NNF_VEC128;
#else
    return NNF_SCALAR;
#endif
}

/* Select a level (clipped to what the CPU supports); returns the level in use. */
static int nnf_set_level(int level)
{
    int best = nnf_best_level();
    if (level < 0 || level > best)
        level = best;
    nnf_level = level;
    return nnf_level;
}

static const char *nnf_level_name(int level)
{
    switch (level) {
    case NNF_AVX512: return "avx512f";
    case NNF_AVX2: return "avx2+fma";
#if NNF_X86
    case NNF_VEC128: return "sse2";
#else
    case NNF_VEC128: return "vec128";
#endif
    default: return "scalar";
    }
}

/* NNF_PICK(name, sfx): the instance of name##_##sfx for the level in use (a call
 * through it is one indirect call per block) */
#if NNF_X86
#define NNF_PICK(name, sfx)                                        \
    (nnf_level == NNF_AVX512 ? name##_##sfx##_avx512 :             \
     nnf_level == NNF_AVX2 ? name##_##sfx##_avx2 :                 \
     nnf_level == NNF_VEC128 ? name##_##sfx##_vec128 : name##_##sfx##_scalar)
#elif NNF_GNU
#define NNF_PICK(name, sfx) \
    (nnf_level >= NNF_VEC128 ? name##_##sfx##_vec128 : name##_##sfx##_scalar)
#else
#define NNF_PICK(name, sfx) name##_##sfx##_scalar
#endif

/* The kernels' entry points, nnf_<kernel>_d and nnf_<kernel>_f: each calls the instance
 * of the level in use.  Their arguments are documented at the kernels in nnf_simd_impl.h. */
#define NNF_DEFINE_API(T, sfx)                                                              \
static void nnf_activate_##sfx(int act, T *a, ptrdiff_t n)                                  \
{ NNF_PICK(activate, sfx)(act, a, n); }                                                     \
static void nnf_output_activation_##sfx(int head, const T *Z, ptrdiff_t ld, ptrdiff_t n_out,\
                                        ptrdiff_t npad, T *A)                               \
{ NNF_PICK(output_activation, sfx)(head, Z, ld, n_out, npad, A); }                          \
static void nnf_fwd1_##sfx(const T *X, ptrdiff_t nb, ptrdiff_t n_in, const T *WT,           \
                           ptrdiff_t hp, ptrdiff_t h, const T *b, T *Z, ptrdiff_t ldz)      \
{ NNF_PICK(fwd1, sfx)(X, nb, n_in, WT, hp, h, b, Z, ldz); }                                 \
static void nnf_fwdT_##sfx(const T *W, ptrdiff_t n_k, ptrdiff_t h, const T *XT,            \
                           ptrdiff_t ldx, ptrdiff_t npad, T *Z, ptrdiff_t ldz,              \
                           const void *pf, ptrdiff_t pf_bytes)                              \
{ NNF_PICK(fwdT, sfx)(W, n_k, h, XT, ldx, npad, Z, ldz, pf, pf_bytes); }                    \
static void nnf_grad1_##sfx(const T *D, ptrdiff_t ldd, ptrdiff_t h, const T *X,             \
                            ptrdiff_t nb, ptrdiff_t n_in, T *G,                             \
                            const void *pf, ptrdiff_t pf_bytes)                             \
{ NNF_PICK(grad1, sfx)(D, ldd, h, X, nb, n_in, G, pf, pf_bytes); }                          \
static void nnf_spfwd_##sfx(const ptrdiff_t *indptr, const int *cols, const T *vals,       \
                            ptrdiff_t nb, const T *WT, ptrdiff_t hp, ptrdiff_t h,           \
                            const T *b, T *Z, ptrdiff_t ldz)                                \
{ NNF_PICK(spfwd, sfx)(indptr, cols, vals, nb, WT, hp, h, b, Z, ldz); }                     \
static void nnf_spgrad_##sfx(const int *ccols, const ptrdiff_t *cptr, ptrdiff_t n_cols,   \
                             const int *crow, const T *cval, const T *Dt, ptrdiff_t hp,     \
                             ptrdiff_t h, T *GT)                                            \
{ NNF_PICK(spgrad, sfx)(ccols, cptr, n_cols, crow, cval, Dt, hp, h, GT); }                  \
static void nnf_backprop_##sfx(const T *W, ptrdiff_t n_o, ptrdiff_t n_i, const T *D,        \
                               const T *A, ptrdiff_t ld, ptrdiff_t npad, int act, T *P)     \
{ NNF_PICK(backprop, sfx)(W, n_o, n_i, D, A, ld, npad, act, P); }                           \
static double nnf_output_error_##sfx(const T *Z, ptrdiff_t ld, const T *YT, ptrdiff_t ldy,  \
                                     ptrdiff_t n_out, ptrdiff_t nb, ptrdiff_t npad,         \
                                     int head, T *A, T *D, const T *W)                      \
{ return NNF_PICK(output_error, sfx)(Z, ld, YT, ldy, n_out, nb, npad, head, A, D, W); }     \
static int nnf_nonfinite_##sfx(const T *Z, ptrdiff_t rows, ptrdiff_t ld, ptrdiff_t n)       \
{ return NNF_PICK(nonfinite, sfx)(Z, rows, ld, n); }

NNF_DEFINE_API(double, d)
NNF_DEFINE_API(float, f)

#endif /* !NNF_INSTANCE_TU */
#endif /* NNF_SIMD_H */
