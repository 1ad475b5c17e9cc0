/* Each microkernel of the fused kernel alone, data in cache, one thread: GFLOP/s per SIMD level.
 *
 *   gcc -O3 -fno-math-errno -I nnfast/_kernels benchmarks/c/microkernels.c -lm -o microkernels
 *   ./microkernels [n_in h block reps]        # default: ex4's first layer, 400 25 64 2000
 *
 * Prints, for every level the CPU runs (avx512f, avx2+fma, sse2, scalar), the median (and best) rate of:
 *   fwdT   Z (h, block) = W (h, n_in + 1) . XP (n_in, block)      first layer forward from a panel
 *   grad1  G (h, n_in + 1) += D (h, block) . X (block, n_in)      first layer gradient
 *   fwd1   Z = X (block, n_in) . WT (n_in, hp)                     forward from the rows of X
 * in double and in float.  Compare with one core's large-gemm rate (benchmarks/bench_kernels_cython.py
 * --gemm prints it; numpy with threadpoolctl at 1 thread).
 */
#include "nnf_simd.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define BENCH(T, sfx)                                                                          \
static void bench_##sfx(int n_in, int h, int B, int reps)                                       \
{                                                                                               \
    int hp = (h + 15) / 16 * 16, r, i;                                                          \
    T *W = aligned_alloc(64, sizeof(T) * ((size_t)h * (n_in + 1) + 64));                        \
    T *G = aligned_alloc(64, sizeof(T) * ((size_t)h * (n_in + 1) + 64));                        \
    T *X = aligned_alloc(64, sizeof(T) * ((size_t)B * n_in + 64));                              \
    T *XP = aligned_alloc(64, sizeof(T) * ((size_t)B * n_in + 64));                             \
    T *WT = aligned_alloc(64, sizeof(T) * ((size_t)n_in * hp + hp + 64));                       \
    T *Z = aligned_alloc(64, sizeof(T) * ((size_t)hp * B + 64));                                \
    double *ts = malloc(sizeof(double) * reps), flops = 2.0 * h * n_in * B, t;                  \
    for (i = 0; i < h * (n_in + 1); i++) W[i] = (T)(0.01 * ((i * 7919) % 101 - 50));            \
    for (i = 0; i < B * n_in; i++) X[i] = XP[i] = (T)(0.01 * ((i * 104729) % 97));              \
    for (i = 0; i < n_in * hp + hp; i++) WT[i] = (T)0.001 * (i % 13);                           \
    for (i = 0; i < hp * B; i++) Z[i] = (T)0.01 * (i % 11);                                     \
    memset(G, 0, sizeof(T) * h * (n_in + 1));                                                   \
    for (r = 0; r < reps; r++) {                                                                \
        t = now(); nnf_fwdT_##sfx(W, n_in, h, XP, B, B, Z, B, NULL, 0); ts[r] = now() - t;     \
    }                                                                                           \
    qsort(ts, reps, sizeof *ts, cmp);                                                           \
    printf("  %-6s %s  %6.1f GFLOP/s (best %6.1f)\n", "fwdT", #T, flops / ts[reps / 2] * 1e-9, flops / ts[0] * 1e-9);            \
    for (r = 0; r < reps; r++) {                                                                \
        t = now(); nnf_grad1_##sfx(Z, B, h, X, B, n_in, G, NULL, 0); ts[r] = now() - t;        \
    }                                                                                           \
    qsort(ts, reps, sizeof *ts, cmp);                                                           \
    printf("  %-6s %s  %6.1f GFLOP/s (best %6.1f)\n", "grad1", #T, flops / ts[reps / 2] * 1e-9, flops / ts[0] * 1e-9);           \
    for (r = 0; r < reps; r++) {                                                                \
        t = now(); nnf_fwd1_##sfx(X, B, n_in, WT, hp, h, WT + n_in * hp, Z, B); ts[r] = now() - t; \
    }                                                                                           \
    qsort(ts, reps, sizeof *ts, cmp);                                                           \
    printf("  %-6s %s  %6.1f GFLOP/s (best %6.1f)\n", "fwd1", #T, flops / ts[reps / 2] * 1e-9, flops / ts[0] * 1e-9);            \
    free(W); free(G); free(X); free(XP); free(WT); free(Z); free(ts);                           \
}
BENCH(double, d)
BENCH(float, f)

int main(int argc, char **argv)
{
    int n_in = argc > 1 ? atoi(argv[1]) : 400, h = argc > 2 ? atoi(argv[2]) : 25;
    int B = argc > 3 ? atoi(argv[3]) : 64, reps = argc > 4 ? atoi(argv[4]) : 2000, level;
    if (n_in < 1 || h < 1 || B < 16 || B % 16 || reps < 1) {
        fprintf(stderr, "usage: %s [n_in h block(multiple of 16) reps]\n", argv[0]);
        return 2;
    }
    printf("n_in=%d h=%d block=%d\n", n_in, h, B);
    for (level = nnf_best_level(); level >= 0; level--) {
        nnf_set_level(level);
        printf("%s\n", nnf_level_name(level));
        bench_d(n_in, h, B, reps);
        bench_f(n_in, h, B, reps);
    }
    return 0;
}
