/* Units-major activations to row-major copies: AT[r * n + u] = A[u * ld + r] for
 * u < n, r < nb.  The fused kernel makes one such copy of every hidden layer per block
 * (the next layer's gradient reads rows).  Element by element, the loads are strided
 * and this copy took 4-5% of ex4's float32 evaluation; here 16-byte vectors are
 * transposed in registers (4 x 4 floats, 2 x 2 doubles), which baseline x86-64 (SSE2)
 * and arm64 (NEON) both have.  A copy: the result is the same bits either way. */
#ifndef NNF_ROWS_H
#define NNF_ROWS_H

#include <stddef.h>
#include <string.h>

#if defined(__clang__)
#define NNF_SHUF4(a, b, i, j, k, l) __builtin_shufflevector(a, b, i, j, k, l)
#define NNF_SHUF2(a, b, i, j) __builtin_shufflevector(a, b, i, j)
#elif defined(__GNUC__)
#define NNF_SHUF4(a, b, i, j, k, l) __builtin_shuffle(a, b, (nnf_rows_i4){i, j, k, l})
#define NNF_SHUF2(a, b, i, j) __builtin_shuffle(a, b, (nnf_rows_l2){i, j})
#endif

#if defined(__GNUC__) || defined(__clang__)
typedef float nnf_rows_f4 __attribute__((vector_size(16)));
typedef int nnf_rows_i4 __attribute__((vector_size(16)));
typedef double nnf_rows_d2 __attribute__((vector_size(16)));
typedef long long nnf_rows_l2 __attribute__((vector_size(16)));

/* unaligned 16-byte loads and stores (rows of AT start anywhere: n need not be even) */
static inline nnf_rows_f4 nnf_rows_load_f4(const float *p)
{
    nnf_rows_f4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void nnf_rows_store_f4(float *p, nnf_rows_f4 v) { memcpy(p, &v, sizeof v); }

static inline nnf_rows_d2 nnf_rows_load_d2(const double *p)
{
    nnf_rows_d2 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void nnf_rows_store_d2(double *p, nnf_rows_d2 v) { memcpy(p, &v, sizeof v); }
#define NNF_ROWS_VECTORS 1
#else
#define NNF_ROWS_VECTORS 0
#endif

static inline void nnf_to_rows_f(const float *A, ptrdiff_t n, ptrdiff_t ld, ptrdiff_t nb,
                                 float *AT)
{
    ptrdiff_t u = 0, r;
#if NNF_ROWS_VECTORS
    for (; u + 4 <= n; u += 4) {
        const float *a = A + u * ld;
        for (r = 0; r + 4 <= nb; r += 4) {
            /* a 4 x 4 block: units u .. u + 3 (rows of a), examples r .. r + 3 */
            nnf_rows_f4 a0 = nnf_rows_load_f4(a + r), a1 = nnf_rows_load_f4(a + ld + r);
            nnf_rows_f4 a2 = nnf_rows_load_f4(a + 2 * ld + r), a3 = nnf_rows_load_f4(a + 3 * ld + r);
            nnf_rows_f4 t0 = NNF_SHUF4(a0, a1, 0, 4, 1, 5);
            nnf_rows_f4 t1 = NNF_SHUF4(a0, a1, 2, 6, 3, 7);
            nnf_rows_f4 t2 = NNF_SHUF4(a2, a3, 0, 4, 1, 5);
            nnf_rows_f4 t3 = NNF_SHUF4(a2, a3, 2, 6, 3, 7);
            nnf_rows_store_f4(AT + r * n + u, NNF_SHUF4(t0, t2, 0, 1, 4, 5));
            nnf_rows_store_f4(AT + (r + 1) * n + u, NNF_SHUF4(t0, t2, 2, 3, 6, 7));
            nnf_rows_store_f4(AT + (r + 2) * n + u, NNF_SHUF4(t1, t3, 0, 1, 4, 5));
            nnf_rows_store_f4(AT + (r + 3) * n + u, NNF_SHUF4(t1, t3, 2, 3, 6, 7));
        }
        for (; r < nb; r++) {
            AT[r * n + u] = a[r];
            AT[r * n + u + 1] = a[ld + r];
            AT[r * n + u + 2] = a[2 * ld + r];
            AT[r * n + u + 3] = a[3 * ld + r];
        }
    }
#endif
    for (; u < n; u++)
        for (r = 0; r < nb; r++)
            AT[r * n + u] = A[u * ld + r];
}

static inline void nnf_to_rows_d(const double *A, ptrdiff_t n, ptrdiff_t ld, ptrdiff_t nb,
                                 double *AT)
{
    ptrdiff_t u = 0, r;
#if NNF_ROWS_VECTORS
    for (; u + 2 <= n; u += 2) {
        const double *a = A + u * ld;
        for (r = 0; r + 2 <= nb; r += 2) {
            nnf_rows_d2 a0 = nnf_rows_load_d2(a + r), a1 = nnf_rows_load_d2(a + ld + r);
            nnf_rows_store_d2(AT + r * n + u, NNF_SHUF2(a0, a1, 0, 2));
            nnf_rows_store_d2(AT + (r + 1) * n + u, NNF_SHUF2(a0, a1, 1, 3));
        }
        for (; r < nb; r++) {
            AT[r * n + u] = a[r];
            AT[r * n + u + 1] = a[ld + r];
        }
    }
#endif
    for (; u < n; u++)
        for (r = 0; r < nb; r++)
            AT[r * n + u] = A[u * ld + r];
}

#endif
