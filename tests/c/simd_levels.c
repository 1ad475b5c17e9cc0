/* Every SIMD level of nnf_simd.h against its plain-C scalar level, in double and float:
 * each microkernel on odd sizes (partial vectors and tiles), for every hidden activation
 * (NNF_ACT_*) and every head (NNF_HEAD_*: output activation and loss), the output error
 * with and without row weights (odd activations: weighted).  Exits 1 on a
 * difference.  Built and run by tests/test_simd_levels_c.py with the system compiler;
 * for arm64 (the 16-byte NEON path), cross-compile and run it under qemu:
 *   aarch64-linux-gnu-gcc -O3 -static -I nnfast/_kernels tests/c/simd_levels.c -lm -o t
 *   qemu-aarch64 ./t
 */
#include "nnf_simd.h"
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#define NI 37
#define H 13
#define NO 5
#define NB 48
static double rnd(void){ return rand()/(double)RAND_MAX - 0.5; }
#define DEFCHECK(T, sfx, TOL) \
static double run_##sfx(int level, int act, int head, T *out) { \
    static T W[H*(NI+1)], W2[NO*(H+1)], WT[NI*16 + H], X[NB*NI], XT[NI*NB], Z[H*NB], Z2[NO*NB], A2[NO*NB], \
      D2[NO*NB], P[H*NB], G[H*(NI+1)], YT[NO*NB], Zr[16*NB], Wr[NB]; \
    int i = 0, k, u; double loss; srand(7); \
    nnf_set_level(level); \
    for (i = 0; i < H*(NI+1); i++) W[i] = (T)rnd(); \
    for (i = 0; i < NO*(H+1); i++) W2[i] = (T)(4*rnd()); \
    for (k = 0; k < NI; k++) for (u = 0; u < 16; u++) WT[k*16+u] = u < H ? W[u*(NI+1)+1+k] : 0; \
    for (u = 0; u < H; u++) WT[NI*16+u] = W[u*(NI+1)]; \
    for (i = 0; i < NB*NI; i++) X[i] = (T)rnd(); \
    for (i = 0; i < NB; i++) for (k = 0; k < NI; k++) XT[k*NB+i] = X[i*NI+k]; \
    for (i = 0; i < NO*NB; i++) YT[i] = (T)((i % 3) == 0); \
    for (i = 0; i < NB; i++) Wr[i] = (T)(0.25 * (i % 5)); \
    for (i = 0; i < H*(NI+1); i++) G[i] = 0; \
    nnf_fwdT_##sfx(W, NI, H, XT, NB, NB, Z, NB, NULL, 0); \
    nnf_fwd1_##sfx(X, NB - 3, NI, WT, 16, H, WT + NI*16, Zr, NB); \
    nnf_activate_##sfx(act, Z, H*NB - 3); \
    nnf_fwdT_##sfx(W2, H, NO, Z, NB, NB, Z2, NB, NULL, 0); \
    nnf_output_activation_##sfx(head, Z2, NB, NO, NB, P); \
    i = 0; \
    for (k = 0; k < NO*NB; k++) out[i++] = P[k]; \
    loss = nnf_output_error_##sfx(Z2, NB, YT, NB, NO, NB - 5, NB, head, A2, D2, act & 1 ? Wr : NULL); \
    for (u = 0; u < NO; u++) for (k = 0; k < NB - 5; k++) out[i++] = A2[u*NB+k]; \
    nnf_backprop_##sfx(W2, NO, H, D2, Z, NB, NB, act, P); \
    nnf_grad1_##sfx(P, NB, H, X, NB - 1, NI, G, NULL, 0); \
    for (k = 0; k < H*NB; k++) out[i++] = Z[k]; \
    for (k = 0; k < NO*NB; k++) out[i++] = Z2[k]; \
    for (k = 0; k < NO*(NB-5); k++) out[i++] = D2[k]; \
    for (k = 0; k < H*NB; k++) out[i++] = P[k]; \
    for (k = 0; k < H*(NI+1); k++) out[i++] = G[k]; \
    for (u = 0; u < H; u++) for (k = 0; k < NB - 3; k++) out[i++] = Zr[u*NB+k]; \
    return loss; \
} \
static int check_##sfx(void) { \
    static T ref[20000], got[20000]; \
    int n = NO*NB + NO*(NB-5) + H*NB + NO*NB + NO*(NB-5) + H*NB + H*(NI+1) + H*(NB-3); \
    int best = nnf_best_level(), lv, bad = 0, i, act, head; \
    for (lv = 1; lv <= best; lv++) { \
        double worst = 0; \
        for (act = 0; act < 4; act++) for (head = 0; head < 4; head++) { \
            double lref = run_##sfx(NNF_SCALAR, act, head, ref); \
            double l = run_##sfx(lv, act, head, got), d = fabs(l - lref) / fabs(lref); \
            if (d > worst) worst = d; \
            for (i = 0; i < n; i++) { d = fabs((double)got[i] - ref[i]) / (1.0 + fabs(ref[i])); if (d > worst) worst = d; } \
        } \
        printf(#T " %-8s vs scalar: max rel diff %.2e %s\n", nnf_level_name(lv), worst, worst < TOL ? "ok" : "FAIL"); \
        bad |= !(worst < TOL); \
    } \
    return bad; \
}
DEFCHECK(double, d, 1e-12)
DEFCHECK(float, f, 2e-5)
int main(void) { int bad = check_d() | check_f(); printf(bad ? "FAILED\n" : "all levels agree\n"); return bad; }
